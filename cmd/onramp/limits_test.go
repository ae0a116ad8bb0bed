package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
)

func TestServeLimitFlagsAreChecked(t *testing.T) {
	_, errOut, code := onramp(t, t.TempDir(), []string{"ONRAMP_SCIM_HOLD_PERCENT=150"},
		"serve", "--audit-retention=-1h", "--scim-hold-minimum=-1", "--saml-rate=-1", "--db-max-conns=0", "--trusted-proxy=10.0.0.0/8", "--trusted-proxy=proxy.example")
	if code != 2 {
		t.Errorf("exit code %d, want 2", code)
	}
	for _, want := range []string{"--audit-retention", "--scim-hold-percent (ONRAMP_SCIM_HOLD_PERCENT) must be from 0 to 100",
		"--scim-hold-minimum", "--saml-rate", "--db-max-conns (ONRAMP_DB_MAX_CONNS) must be at least 1",
		`--trusted-proxy (ONRAMP_TRUSTED_PROXIES) "proxy.example" is neither an IP address nor a CIDR network`} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q:\n%s", want, errOut)
		}
	}
}

// TestServeHoldsMassDeprovisioning runs the safety rail end to end on the
// binary: a SCIM token that de-provisions past the limit is held (429,
// nothing changed), an Admin releases the hold over the admin API, and the
// IdP's retry goes through. It also checks the header limit.
func TestServeHoldsMassDeprovisioning(t *testing.T) {
	dir := copyExamples(t)
	db := filepath.Join(dir, "onramp.db")
	if out, errOut, code := onramp(t, dir, nil, "apply", "--db", db, "-f", "onramp.yaml"); code != 0 {
		t.Fatalf("apply: %d\n%s\n%s", code, out, errOut)
	}
	token := func(args ...string) string {
		out, errOut, code := onramp(t, dir, nil, append([]string{"token", "create", "--db", db, "--org", "acme"}, args...)...)
		if code != 0 {
			t.Fatalf("token create: %d: %s", code, errOut)
		}
		return lastLine(out)
	}
	scimToken, adminToken := token("--scim", "okta"), token("--admin")
	s := startServer(t, dir, nil, "--db", db, "--scim-hold-minimum", "2")
	base := "http://" + s.addr
	waitReady(t, base)

	// Headers are bounded (64 KiB): 431.
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/healthz", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("X-Padding", strings.Repeat("a", 100<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("100 KiB of headers: %d, want 431", resp.StatusCode)
	}

	var ids []string
	for i := range 5 {
		email := fmt.Sprintf("user%d@acme-corp.com", i)
		code, doc := scimRequest(t, http.MethodPost, base+"/scim/v2/Users", scimToken, fmt.Sprintf(adaJSON, email, email))
		if code != http.StatusCreated {
			t.Fatalf("create: %d %v", code, doc)
		}
		ids = append(ids, doc["id"].(string))
	}
	deactivate := `{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":[{"op":"replace","path":"active","value":false}]}`
	for _, id := range ids[:2] {
		if code, doc := scimRequest(t, http.MethodPatch, base+"/scim/v2/Users/"+id, scimToken, deactivate); code != http.StatusOK {
			t.Fatalf("deactivate: %d %v", code, doc)
		}
	}
	code, doc := scimRequest(t, http.MethodPatch, base+"/scim/v2/Users/"+ids[2], scimToken, deactivate)
	if code != http.StatusTooManyRequests || !strings.Contains(fmt.Sprint(doc["detail"]), "must release the hold") {
		t.Fatalf("third deactivation: %d %v, want 429 held", code, doc)
	}
	if code, doc := scimRequest(t, http.MethodGet, base+"/scim/v2/Users/"+ids[2], scimToken, ""); code != http.StatusOK || doc["active"] != true {
		t.Fatalf("held user: %d %v, want still active", code, doc)
	}

	code, list := adminRequest(t, http.MethodGet, base+"/api/v1/orgs/acme/scim-holds?state=open", adminToken)
	holds, _ := list["holds"].([]any)
	if code != http.StatusOK || len(holds) != 1 {
		t.Fatalf("open holds: %d %v", code, list)
	}
	id := holds[0].(map[string]any)["id"].(string)
	if code, doc := adminRequest(t, http.MethodPost, base+"/api/v1/orgs/acme/scim-holds/"+id+"/release", adminToken); code != http.StatusOK || doc["open"] != false {
		t.Fatalf("release: %d %v", code, doc)
	}
	if code, doc := scimRequest(t, http.MethodPatch, base+"/scim/v2/Users/"+ids[2], scimToken, deactivate); code != http.StatusOK || doc["active"] != false {
		t.Fatalf("retried deactivation after the release: %d %v", code, doc)
	}
}

func adminRequest(t *testing.T, method, url, token string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.Unmarshal(raw, &doc)
	return resp.StatusCode, doc
}

// TestServeTrustedProxy: `serve --trusted-proxy` makes the SAML limit count
// each address in X-Forwarded-For from that proxy on its own; from any other
// peer the header counts for nothing.
func TestServeTrustedProxy(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		name    string
		flags   []string
		another int // the status of a second client's first request
	}{
		{"trusted", []string{"--trusted-proxy", "127.0.0.1"}, http.StatusNotFound},
		{"not trusted", []string{"--trusted-proxy", "10.0.0.0/8"}, http.StatusTooManyRequests},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, dir, []string{"ONRAMP_DB=" + filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".db")},
				append([]string{"--saml-rate", "0.001"}, tc.flags...)...)
			login := func(xff string) int {
				t.Helper()
				req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+s.addr+"/saml/acme/okta/login", nil)
				if err != nil {
					t.Fatal(err)
				}
				req.Header.Set("X-Forwarded-For", xff)
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				return res.StatusCode
			}
			// A rate of 0.001/s allows a burst of one request. No such
			// organization: 404, once the limit let the request by.
			if got := login("203.0.113.7"); got != http.StatusNotFound {
				t.Fatalf("203.0.113.7 within its burst: %d", got)
			}
			if got := login("203.0.113.7"); got != http.StatusTooManyRequests {
				t.Fatalf("203.0.113.7 past its burst: %d, want 429", got)
			}
			if got := login("203.0.113.8"); got != tc.another {
				t.Errorf("203.0.113.8: %d, want %d", got, tc.another)
			}
		})
	}
}
