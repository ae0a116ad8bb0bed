package jit

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/jit/samltest"
)

func (s *site) logout(t *testing.T, b *http.Client, form url.Values) answer {
	t.Helper()
	res, err := b.PostForm(s.srv.URL+"/logout", form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	a, _ := finish(t, res)
	return a
}

func TestHandler_LogoutEndsTheSession(t *testing.T) {
	s := newSite(t, jitBySSO())
	b := s.newBrowser(t)
	if res, body := s.signIn(t, b, "", samltest.Login{User: alice()}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %s %s", res.Status, body)
	}
	_, me := s.me(t, b)
	u, err := url.Parse(s.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	stolen := b.Jar.Cookies(u) // what a copy of the cookie would hold

	res := s.logout(t, b, url.Values{"return_to": {"/goodbye"}})

	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/goodbye" {
		t.Fatalf("logout: %s to %q", res.Status, res.Header.Get("Location"))
	}
	cleared := false
	for _, c := range res.Cookies() {
		if c.Name == SessionCookieName && c.MaxAge < 0 && c.Value == "" {
			cleared = true
		}
	}
	if !cleared {
		t.Fatalf("logout did not clear the cookie: %v", res.Header.Values("Set-Cookie"))
	}
	if code, _ := s.me(t, b); code != http.StatusUnauthorized {
		t.Fatalf("me after logout: %d, want 401", code)
	}
	// The session is gone from the store, not only from this browser.
	other := s.newBrowser(t)
	other.Jar.SetCookies(u, stolen)
	if code, _ := s.me(t, other); code != http.StatusUnauthorized {
		t.Fatalf("me with the old cookie after logout: %d, want 401", code)
	}
	if evs := s.events(t, AuditSignedOut); len(evs) != 1 || evs[0].UserID != me.ID || evs[0].Actor != "user:"+string(me.ID) {
		t.Fatalf("user.signed_out events: %+v", evs)
	}
}

func TestHandler_LogoutWithoutSessionAndBadReturnTo(t *testing.T) {
	s := newSite(t, jitBySSO())
	b := s.newBrowser(t)

	res := s.logout(t, b, url.Values{"return_to": {"https://evil.example/"}})

	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("logout without a session: %s to %q, want 303 to /", res.Status, res.Header.Get("Location"))
	}
	if evs := s.events(t, AuditSignedOut); len(evs) != 0 {
		t.Fatalf("user.signed_out events without a session: %+v", evs)
	}
	// Signing out takes a POST: a GET (a link, an image, a prefetch) must not.
	get, _ := s.get(t, b, "/logout")
	if get.StatusCode == http.StatusSeeOther || get.StatusCode == http.StatusOK {
		t.Fatalf("GET /logout: %s", get.Status)
	}
}

func TestHandler_MeShowsRoleAndGroupsFromTheAssertion(t *testing.T) {
	s := newSite(t, jitBySSO())
	b := s.newBrowser(t)
	u := alice()
	u.Attributes["groups"] = []string{"Engineering", "Everyone"}
	if res, body := s.signIn(t, b, "", samltest.Login{User: u}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %s %s", res.Status, body)
	}

	res, body := s.get(t, b, "/api/v1/me")

	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil || res.StatusCode != http.StatusOK {
		t.Fatalf("me: %s %s", res.Status, body)
	}
	groups, _ := doc["groups"].([]any)
	if doc["role"] != "Member" || len(groups) != 2 || groups[0] != "Engineering" || strings.Contains(body, GroupsField) {
		t.Fatalf("me: %s", body)
	}
}
