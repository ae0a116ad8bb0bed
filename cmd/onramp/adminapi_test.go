package main

import (
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestAdminAPIServed drives the operator contract for the admin API: an admin
// token from `onramp token create --admin` reads and changes its
// organization through BASE/api/v1 on a running `onramp serve`, and the
// OpenAPI document is served.
func TestAdminAPIServed(t *testing.T) {
	dir := copyExamples(t)
	db := filepath.Join(dir, "onramp.db")
	if out, errOut, code := onramp(t, dir, nil, "apply", "--db", db, "-f", "onramp.yaml"); code != 0 {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	out, errOut, code := onramp(t, dir, nil, "token", "create", "--db", db, "--org", "acme", "--admin")
	if code != 0 {
		t.Fatalf("token create --admin: exit %d: %s", code, errOut)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	token := lines[len(lines)-1]

	s := startServer(t, dir, []string{"ONRAMP_DB=" + db})
	base := "http://" + s.addr
	waitReady(t, base)

	call := func(method, path, bearer, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, base+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		if bearer != "" {
			req.Header.Set("Authorization", "Bearer "+bearer)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		data, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		_ = json.Unmarshal(data, &v)
		return resp.StatusCode, v
	}

	if status, _ := call(http.MethodGet, "/api/v1/orgs/acme/onboarding", "", ""); status != http.StatusUnauthorized {
		t.Errorf("onboarding without a token = %d, want 401", status)
	}
	status, ob := call(http.MethodGet, "/api/v1/orgs/acme/onboarding", token, "")
	if status != http.StatusOK {
		t.Fatalf("onboarding = %d %v", status, ob)
	}
	status, ob = call(http.MethodPut, "/api/v1/orgs/acme/access-control", token, `{"emailDomains":["Example.COM"],"ssoConnections":["okta"]}`)
	if status != http.StatusOK || ob["emailDomains"].([]any)[0] != "example.com" {
		t.Errorf("PUT access-control = %d %v", status, ob)
	}
	status, doc := call(http.MethodGet, "/api/v1/openapi.json", "", "")
	if status != http.StatusOK || doc["openapi"] != "3.0.3" {
		t.Errorf("openapi.json = %d %.80v", status, doc)
	}
	if _, err := os.Stat(db); err != nil {
		t.Fatal(err)
	}
}
