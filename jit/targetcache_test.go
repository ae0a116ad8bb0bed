package jit

import (
	"context"
	"net/http"
	"testing"

	"github.com/onramp-dev/onramp/jit/samltest"
	"github.com/onramp-dev/onramp/store"
)

// The ACS keeps the organization and connection it read per path (see
// targetCache). These tests warm that cache with a sign-in, change the
// connection or organization in the store behind the handler's back (as an
// Admin on another replica would), and check that the very next sign-in
// follows the change.

func bob() samltest.User {
	return samltest.User{NameID: "00u2bob", Attributes: map[string][]string{
		"email": {"bob@acme-corp.com"}, "firstName": {"Bob"}, "lastName": {"Builder"}, "groups": {"Sales"}}}
}

// warm signs alice in once, so that the ACS has the connection cached.
func (s *site) warm(t *testing.T) {
	t.Helper()
	if res, body := s.signIn(t, s.newBrowser(t), "", samltest.Login{User: alice()}); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("warming sign-in: %s %s", res.Status, body)
	}
}

func (s *site) editConnection(t *testing.T, fn func(c *store.Connection)) {
	t.Helper()
	_, err := s.st.UpdateConnection(context.Background(), s.conn.ID, func(c *store.Connection) error { fn(c); return nil },
		store.AuditEvent{Actor: "admin", Action: "test.edit"})
	if err != nil {
		t.Fatal(err)
	}
}

// rotateIdP replaces the connection's IdP metadata with that of a new IdP
// key under the same entity ID (an IdP certificate rollover, the old
// certificate removed) and returns the new IdP, which knows our SP.
func (s *site) rotateIdP(t *testing.T) *samltest.IdP {
	t.Helper()
	idp2 := samltest.New(t, samltest.Options{EntityID: s.idp.EntityID()})
	s.editConnection(t, func(c *store.Connection) { c.IdPMetadataXML = string(idp2.MetadataXML(t)) })
	res, md := s.get(t, s.newBrowser(t), "/saml/acme/okta/metadata")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("metadata: %s", res.Status)
	}
	idp2.RegisterSP(t, []byte(md), false)
	return idp2
}

// signInWith runs an SP-initiated sign-in through idp.
func (s *site) signInWith(t *testing.T, idp *samltest.IdP, l samltest.Login) (answer, string) {
	t.Helper()
	b := s.newBrowser(t)
	res, body := s.get(t, b, "/saml/acme/okta/login")
	if res.StatusCode != http.StatusFound {
		t.Fatalf("login: %s %s", res.Status, body)
	}
	resp, relay := idp.SPInitiated(t, res.Header.Get("Location"), l)
	return s.post(t, b, resp, relay)
}

func TestHandler_CachedConnection_RemovedCertificateStopsSigningIn(t *testing.T) {
	s := newSite(t, jitBySSO())
	s.warm(t)
	// A response signed with the old key is on its way when the Admin
	// replaces the certificate.
	b := s.newBrowser(t)
	old, relay := s.startLogin(t, b, "", samltest.Login{User: alice()})
	s.rotateIdP(t)

	res, body := s.post(t, b, old, relay)

	wantPage(t, res, body, http.StatusForbidden, ReasonSignatureInvalid)
	if code, _ := s.me(t, b); code != http.StatusUnauthorized {
		t.Errorf("me after the rejected response: %d, want 401", code)
	}
	if n := len(s.events(t, AuditSignedIn)); n != 1 {
		t.Errorf("%d jit.signed_in events, want the warming one only", n)
	}
}

func TestHandler_CachedConnection_NewCertificateSignsInAtOnce(t *testing.T) {
	s := newSite(t, jitBySSO())
	s.warm(t)
	idp2 := s.rotateIdP(t)

	res, body := s.signInWith(t, idp2, samltest.Login{User: alice()})

	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in through the new IdP certificate: %s %s", res.Status, body)
	}
	if n := len(s.events(t, AuditSignedIn)); n != 2 {
		t.Errorf("%d jit.signed_in events, want 2", n)
	}
}

func TestHandler_CachedConnection_JITSwitchFollowsTheAdmin(t *testing.T) {
	s := newSite(t, jitBySSO())
	s.warm(t)
	s.editConnection(t, func(c *store.Connection) { c.JITProvisioning = false })

	res, body := s.signIn(t, s.newBrowser(t), "", samltest.Login{User: bob()})

	wantPage(t, res, body, http.StatusForbidden, RuleJITNotAllowed)
	if n := len(s.users(t)); n != 1 {
		t.Fatalf("%d users after JIT was turned off, want alice only", n)
	}

	// Turned on again: the cached connection (JIT off, from the refusal's
	// fresh read) is stale once more, and bob's next sign-in creates him.
	s.editConnection(t, func(c *store.Connection) { c.JITProvisioning = true })
	res, body = s.signIn(t, s.newBrowser(t), "", samltest.Login{User: bob()})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in after JIT was turned on again: %s %s", res.Status, body)
	}
	if n := len(s.users(t)); n != 2 {
		t.Errorf("%d users, want alice and bob", n)
	}
	if evs := s.events(t, AuditRefused); len(evs) != 1 {
		t.Errorf("jit.refused events: %+v, want bob's one", evs)
	}
}

func TestHandler_CachedConnection_OrgOnboardingFollowsTheAdmin(t *testing.T) {
	s := newSite(t, jitBySSO())
	s.warm(t)
	_, err := s.st.UpdateOrg(context.Background(), s.org.ID, func(o *store.Org) error {
		o.Onboarding.JITSSOConnections = false
		return nil
	}, store.AuditEvent{Actor: "admin", Action: "test.edit"})
	if err != nil {
		t.Fatal(err)
	}

	res, body := s.signIn(t, s.newBrowser(t), "", samltest.Login{User: bob()})

	wantPage(t, res, body, http.StatusForbidden, RuleJITNotAllowed)
	if n := len(s.users(t)); n != 1 {
		t.Errorf("%d users after the organization turned JIT off, want alice only", n)
	}
}

func TestHandler_CachedConnection_DeletedConnectionIsUnknown(t *testing.T) {
	s := newSite(t, jitBySSO())
	s.warm(t)
	b := s.newBrowser(t)
	resp, relay := s.startLogin(t, b, "", samltest.Login{User: alice()})
	if err := s.st.DeleteConnection(context.Background(), s.conn.ID, store.AuditEvent{Actor: "admin"}); err != nil {
		t.Fatal(err)
	}

	res, body := s.post(t, b, resp, relay)

	wantPage(t, res, body, http.StatusNotFound, "unknown_connection")
	if code, _ := s.me(t, b); code != http.StatusUnauthorized {
		t.Errorf("me after posting to a deleted connection: %d, want 401", code)
	}
	if _, ok := s.h.targets.get("acme", "okta"); ok {
		t.Error("the deleted connection is still cached")
	}
}
