package jit

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/onramp-dev/onramp/apitoken"
	"github.com/onramp-dev/onramp/jit/samltest"
	"github.com/onramp-dev/onramp/scim"
	"github.com/onramp-dev/onramp/store"
)

// scimFront is the real SCIM endpoint (package scim) over the site's store,
// with a SCIM token of the site's connection, as Okta or Entra would use it.
type scimFront struct {
	base  string // SCIM base URL
	token string
}

func newSCIMFront(t *testing.T, s *site) *scimFront {
	t.Helper()
	srv := httptest.NewUnstartedServer(nil)
	base := "http://" + srv.Listener.Addr().String() + "/scim/v2"
	h, err := scim.New(scim.Config{Store: s.st, BaseURL: base, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	e := echo.New()
	h.Mount(e)
	srv.Config.Handler = e
	srv.Start()
	t.Cleanup(srv.Close)

	plain, tok, err := apitoken.New()
	if err != nil {
		t.Fatal(err)
	}
	tok.OrgID, tok.ConnectionID, tok.Kind, tok.Description = s.org.ID, s.conn.ID, store.TokenSCIM, "okta provisioning"
	if _, err := s.st.CreateToken(context.Background(), tok, store.AuditEvent{Actor: "operator", Action: "token.created"}); err != nil {
		t.Fatal(err)
	}
	return &scimFront{base: base, token: plain}
}

func (f *scimFront) do(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		raw, err := json.Marshal(body)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, f.base+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+f.token)
	if rd != nil {
		req.Header.Set("Content-Type", "application/scim+json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	raw, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &doc); err != nil {
			t.Fatalf("%s %s: %d, body is not JSON: %s", method, path, res.StatusCode, raw)
		}
	}
	return res.StatusCode, doc
}

// TestSCIM_JITAccountIsVisibleAndAdoptable follows what Okta and Entra do
// when they start provisioning a person who already signed in by JIT: look
// the userName up, find the account, and update it instead of creating a
// second one (a blind create gets 409 uniqueness, which is also what tells
// them to look up and adopt).
func TestSCIM_JITAccountIsVisibleAndAdoptable(t *testing.T) {
	s := newSite(t, jitBySSO())
	b := s.newBrowser(t)
	if res, body := s.signIn(t, b, "", samltest.Login{User: alice()}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("JIT sign-in: %s %s", res.Status, body)
	}
	_, me := s.me(t, b)
	f := newSCIMFront(t, s)

	// GET shows a sensible resource.
	code, doc := f.do(t, http.MethodGet, "/Users/"+string(me.ID), nil)
	if code != http.StatusOK {
		t.Fatalf("GET user: %d %v", code, doc)
	}
	name, _ := doc["name"].(map[string]any)
	emails, _ := doc["emails"].([]any)
	if doc["id"] != string(me.ID) || doc["userName"] != "00u1alice" || doc["active"] != true || doc["displayName"] != "Alice Liddell" ||
		name["givenName"] != "Alice" || name["familyName"] != "Liddell" || len(emails) != 1 {
		t.Fatalf("GET user: %v", doc)
	}
	if e := emails[0].(map[string]any); e["value"] != "alice@acme-corp.com" || e["type"] != "work" || e["primary"] != true {
		t.Fatalf("GET user emails: %v", emails)
	}
	if meta, _ := doc["meta"].(map[string]any); meta["resourceType"] != "User" || meta["version"] == nil {
		t.Fatalf("GET user meta: %v", doc["meta"])
	}

	// The IdP's pre-create lookup finds it.
	code, list := f.do(t, http.MethodGet, "/Users?filter="+url.QueryEscape(`userName eq "00u1alice"`), nil)
	resources, _ := list["Resources"].([]any)
	if code != http.StatusOK || list["totalResults"] != float64(1) || len(resources) != 1 || resources[0].(map[string]any)["id"] != string(me.ID) {
		t.Fatalf("lookup by userName: %d %v", code, list)
	}

	// A blind create is refused as a duplicate.
	okta := map[string]any{
		"schemas":    []string{scim.UserSchemaURI},
		"userName":   "00u1alice",
		"externalId": "00u1alice-okta",
		"name":       map[string]any{"givenName": "Alicia", "familyName": "Liddell"},
		"emails":     []any{map[string]any{"value": "alice@acme-corp.com", "type": "work", "primary": true}},
		"active":     true,
	}
	code, doc = f.do(t, http.MethodPost, "/Users", okta)
	if code != http.StatusConflict || doc["scimType"] != "uniqueness" {
		t.Fatalf("POST of the same userName: %d %v, want 409 uniqueness", code, doc)
	}

	// Adoption: the IdP replaces the resource it found.
	code, doc = f.do(t, http.MethodPut, "/Users/"+string(me.ID), okta)
	if code != http.StatusOK || doc["externalId"] != "00u1alice-okta" {
		t.Fatalf("PUT: %d %v", code, doc)
	}
	if n := len(s.users(t)); n != 1 {
		t.Fatalf("%d accounts after adoption, want 1", n)
	}

	// The person signs in again: same account, and with the connection's SCIM
	// token SCIM now owns the profile, so the assertion's "Alice" does not
	// overwrite the pushed "Alicia".
	b2 := s.newBrowser(t)
	if res, body := s.signIn(t, b2, "", samltest.Login{User: alice()}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in after adoption: %s %s", res.Status, body)
	}
	if _, me2 := s.me(t, b2); me2.ID != me.ID || me2.GivenName != "Alicia" {
		t.Fatalf("sign-in after adoption: %+v, want account %s with SCIM's given name", me2, me.ID)
	}
	code, doc = f.do(t, http.MethodGet, "/Users/"+string(me.ID), nil)
	if name, _ := doc["name"].(map[string]any); code != http.StatusOK || name["givenName"] != "Alicia" || doc["externalId"] != "00u1alice-okta" {
		t.Fatalf("GET after sign-in: %d %v", code, doc)
	}
}
