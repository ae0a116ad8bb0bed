package emaillogin_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/emaillogin"
	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/store"
)

// invite invites an address through the API and returns the answer and the
// delivered message's accept link.
func (v *env) invite(tok, org, email, role string) (map[string]any, string) {
	v.t.Helper()
	before := len(v.smtp.To(email))
	st, body := v.api(http.MethodPost, "/api/v1/orgs/"+org+"/invitations", tok, map[string]string{"email": email, "role": role})
	if st != http.StatusCreated {
		v.t.Fatalf("invite %s: %d %v", email, st, body)
	}
	msgs := v.smtp.To(email)
	if len(msgs) != before+1 {
		v.t.Fatalf("%d invitation emails", len(msgs)-before)
	}
	return body, link(v.t, msgs[len(msgs)-1])
}

func TestInvitationAcceptedCreatesAccountVisibleOverSCIM(t *testing.T) {
	v := newEnv(t)
	acme := v.org("acme", "Acme & Co", false, "acme-corp.com") // no JIT: only the invitation lets Bob in
	okta, err := v.st.CreateConnection(t.Context(), store.Connection{OrgID: acme.ID, Slug: "okta", Name: "Okta",
		IdPMetadataXML: "<EntityDescriptor/>", MappingPreset: "okta"}, store.AuditEvent{})
	if err != nil {
		t.Fatal(err)
	}
	tok := v.token(acme.ID, "")
	inv, accept := v.invite(tok, "acme", "Bob@acme-corp.com", "admin")
	if inv["status"] != "pending" || inv["role"] != "Admin" || inv["email"] != "Bob@acme-corp.com" || inv["sends"] != 1.0 ||
		!strings.HasPrefix(inv["invitedBy"].(string), "token:") {
		t.Errorf("invitation %v", inv)
	}
	msg := v.smtp.Last(t)
	if msg.Subject != "You are invited to join Acme & Co" || !strings.Contains(msg.Text, "join Acme & Co as Admin") ||
		!strings.Contains(msg.HTML, "Acme &amp; Co") || !msg.TLS {
		t.Errorf("message %q\n%s\n%s", msg.Subject, msg.Text, msg.HTML)
	}

	b := v.browser()
	page := b.get(accept)
	if page.status != http.StatusOK || !strings.Contains(page.body, "Acme &amp; Co") || !strings.Contains(page.body, "Admin") {
		t.Fatalf("accept page: %d %s", page.status, page.body)
	}
	if n := len(v.accounts(acme.ID, "bob@acme-corp.com")); n != 0 {
		t.Fatalf("opening the link made %d accounts", n)
	}
	done := b.submit(page, nil)
	if done.status != http.StatusSeeOther || done.header.Get("Location") != "/" {
		t.Fatalf("accept: %d %s", done.status, done.body)
	}
	accts := v.accounts(acme.ID, "bob@acme-corp.com")
	if len(accts) != 1 || accts[0].Source != store.SourceInvitation || accts[0].Role != "Admin" || !accts[0].Active || accts[0].ConnectionID != "" {
		t.Fatalf("accounts %+v", accts)
	}
	bob := accts[0]
	if me, _ := b.me(); me["id"] != string(bob.ID) || me["role"] != "Admin" {
		t.Errorf("me %v", me)
	}
	evs := v.events(acme.ID, "invitation.accepted")
	if len(evs) != 1 || evs[0].UserID != bob.ID || evs[0].Detail["invitation_id"] != inv["id"] {
		t.Errorf("invitation.accepted %+v", evs)
	}
	if evs := v.events(acme.ID, "invitation.created"); len(evs) != 1 || evs[0].Actor != inv["invitedBy"] {
		t.Errorf("invitation.created %+v", evs)
	}
	if evs := v.events(acme.ID, jit.AuditSignedIn); len(evs) != 1 || evs[0].Detail["method"] != "invitation" {
		t.Errorf("signed in %+v", evs)
	}
	if st, got := v.api(http.MethodGet, "/api/v1/orgs/acme/invitations/"+inv["id"].(string), tok, nil); st != http.StatusOK ||
		got["status"] != "accepted" || got["userId"] != string(bob.ID) {
		t.Errorf("after accepting: %d %v", st, got)
	}

	// Visible over SCIM, as an IdP looking the person up before creating finds it.
	scimTok := v.token(acme.ID, okta.ID)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet,
		v.base+"/scim/v2/Users?filter="+url.QueryEscape(`userName eq "bob@ACME-corp.com"`), nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+scimTok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var list struct {
		TotalResults int              `json:"totalResults"`
		Resources    []map[string]any `json:"Resources"`
	}
	if err := json.Unmarshal(raw, &list); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("SCIM: %d %s", resp.StatusCode, raw)
	}
	if list.TotalResults != 1 || list.Resources[0]["id"] != string(bob.ID) || list.Resources[0]["active"] != true {
		t.Errorf("SCIM list %s", raw)
	}

	// The accept link worked once.
	if r := b.follow(accept); r.status != http.StatusGone || r.reason() != emaillogin.ReasonInvitationUsed {
		t.Errorf("reuse: %d %q", r.status, r.reason())
	}
	if r := b.submit(page, nil); r.status != http.StatusGone {
		t.Errorf("reposting: %d", r.status)
	}
}

func TestInvitationRefusedOutsideAllowedDomains(t *testing.T) {
	v := newEnv(t)
	acme := v.org("acme", "Acme Corp", true, "acme-corp.com")
	tok := v.token(acme.ID, "")
	st, body := v.api(http.MethodPost, "/api/v1/orgs/acme/invitations", tok, map[string]string{"email": "eve@gmail.com"})
	if st != http.StatusUnprocessableEntity || !strings.Contains(body["error"].(string), "gmail.com is not in the organization's allowed email domains") {
		t.Errorf("%d %v", st, body)
	}
	if st, body := v.api(http.MethodPost, "/api/v1/orgs/acme/invitations", tok, map[string]string{"email": "not an address"}); st != http.StatusBadRequest || body["fields"] == nil {
		t.Errorf("bad address: %d %v", st, body)
	}
	if st, body := v.api(http.MethodPost, "/api/v1/orgs/acme/invitations", tok, map[string]string{"email": "x@acme-corp.com", "rol": "Admin"}); st != http.StatusBadRequest {
		t.Errorf("unknown field: %d %v", st, body)
	}
	if n := len(v.smtp.Messages()); n != 0 {
		t.Errorf("%d emails", n)
	}
	if list, _ := v.st.ListInvitations(t.Context(), acme.ID); len(list) != 0 {
		t.Errorf("invitations %+v", list)
	}
	// An address that already has an account, and one already invited.
	v.user(acme.ID, "ann@acme-corp.com")
	if st, body := v.api(http.MethodPost, "/api/v1/orgs/acme/invitations", tok, map[string]string{"email": "ANN@acme-corp.com"}); st != http.StatusConflict {
		t.Errorf("existing account: %d %v", st, body)
	}
	v.invite(tok, "acme", "bob@acme-corp.com", "")
	if st, body := v.api(http.MethodPost, "/api/v1/orgs/acme/invitations", tok, map[string]string{"email": "bob@acme-corp.com"}); st != http.StatusConflict || !strings.Contains(body["error"].(string), "resend") {
		t.Errorf("invited twice: %d %v", st, body)
	}
}

func TestInvitationResendRevokeExpire(t *testing.T) {
	v := newEnv(t)
	acme := v.org("acme", "Acme Corp", false, "acme-corp.com")
	tok := v.token(acme.ID, "")
	inv, first := v.invite(tok, "acme", "bob@acme-corp.com", "Member")
	id := inv["id"].(string)

	// Resend: a new link; the first one is dead.
	v.clock.Advance(time.Hour)
	st, re := v.api(http.MethodPost, "/api/v1/orgs/acme/invitations/"+id+"/resend", tok, nil)
	if st != http.StatusOK || re["sends"] != 2.0 {
		t.Fatalf("resend: %d %v", st, re)
	}
	second := link(t, v.smtp.Last(t))
	if second == first {
		t.Fatal("resending sent the same link")
	}
	b := v.browser()
	if r := b.get(first); r.status != http.StatusNotFound || r.reason() != emaillogin.ReasonInvitationInvalid {
		t.Errorf("first link after resend: %d %q", r.status, r.reason())
	}

	// Expiry: the resent link lives InvitationTTL from the resend.
	page := b.get(second)
	v.clock.Advance(emaillogin.DefaultInvitationTTL)
	if r := b.submit(page, nil); r.status != http.StatusGone || r.reason() != emaillogin.ReasonInvitationExpired {
		t.Errorf("expired: %d %q", r.status, r.reason())
	}
	if _, got := v.api(http.MethodGet, "/api/v1/orgs/acme/invitations/"+id, tok, nil); got["status"] != "expired" {
		t.Errorf("status %v", got["status"])
	}
	// An expired invitation can be resent.
	if st, _ := v.api(http.MethodPost, "/api/v1/orgs/acme/invitations/"+id+"/resend", tok, nil); st != http.StatusOK {
		t.Errorf("resend after expiry: %d", st)
	}
	third := link(t, v.smtp.Last(t))

	// Revoke: the link stops working; revoking again is no change; resending is refused.
	page = b.get(third)
	if st, _ := v.api(http.MethodDelete, "/api/v1/orgs/acme/invitations/"+id, tok, nil); st != http.StatusNoContent {
		t.Errorf("revoke: %d", st)
	}
	if st, _ := v.api(http.MethodDelete, "/api/v1/orgs/acme/invitations/"+id, tok, nil); st != http.StatusNoContent {
		t.Errorf("revoke again: %d", st)
	}
	if r := b.submit(page, nil); r.status != http.StatusGone || r.reason() != emaillogin.ReasonInvitationRevoked {
		t.Errorf("revoked: %d %q", r.status, r.reason())
	}
	if st, body := v.api(http.MethodPost, "/api/v1/orgs/acme/invitations/"+id+"/resend", tok, nil); st != http.StatusConflict {
		t.Errorf("resend revoked: %d %v", st, body)
	}
	if n := len(v.accounts(acme.ID, "bob@acme-corp.com")); n != 0 {
		t.Errorf("%d accounts", n)
	}
	st, list := v.api(http.MethodGet, "/api/v1/orgs/acme/invitations", tok, nil)
	if st != http.StatusOK || len(list["invitations"].([]any)) != 1 || list["invitations"].([]any)[0].(map[string]any)["status"] != "revoked" {
		t.Errorf("list: %d %v", st, list)
	}
	for action, n := range map[string]int{"invitation.created": 1, "invitation.resent": 2, "invitation.revoked": 1} {
		if got := len(v.events(acme.ID, action)); got != n {
			t.Errorf("%d %s events, want %d", got, action, n)
		}
	}
}

func TestInvitationWrongOrganization(t *testing.T) {
	v := newEnv(t)
	acme := v.org("acme", "Acme Corp", false, "acme-corp.com")
	beta := v.org("beta", "Beta Labs", false, "acme-corp.com")
	acmeTok, betaTok := v.token(acme.ID, ""), v.token(beta.ID, "")
	inv, accept := v.invite(acmeTok, "acme", "bob@acme-corp.com", "")
	id := inv["id"].(string)
	for _, c := range []struct{ method, path string }{
		{http.MethodGet, "/api/v1/orgs/acme/invitations"},
		{http.MethodGet, "/api/v1/orgs/beta/invitations/" + id},
		{http.MethodPost, "/api/v1/orgs/beta/invitations/" + id + "/resend"},
		{http.MethodDelete, "/api/v1/orgs/beta/invitations/" + id},
	} {
		if st, body := v.api(c.method, c.path, betaTok, nil); st != http.StatusNotFound {
			t.Errorf("%s %s with beta's token: %d %v", c.method, c.path, st, body)
		}
	}
	if st, _ := v.api(http.MethodGet, "/api/v1/orgs/acme/invitations", "", nil); st != http.StatusUnauthorized {
		t.Errorf("no token: %d", st)
	}
	// A SCIM token is not an admin token.
	conn, err := v.st.CreateConnection(t.Context(), store.Connection{OrgID: acme.ID, Slug: "okta", Name: "Okta", IdPMetadataXML: "<x/>", MappingPreset: "okta"}, store.AuditEvent{})
	if err != nil {
		t.Fatal(err)
	}
	if st, _ := v.api(http.MethodGet, "/api/v1/orgs/acme/invitations", v.token(acme.ID, conn.ID), nil); st != http.StatusForbidden {
		t.Errorf("SCIM token: %d", st)
	}
	// The accept link makes the account in the inviting organization only.
	b := v.browser()
	if r := b.follow(accept); r.status != http.StatusSeeOther {
		t.Fatalf("accept: %d %s", r.status, r.body)
	}
	if n := len(v.accounts(beta.ID, "bob@acme-corp.com")); n != 0 {
		t.Errorf("%d accounts in beta", n)
	}
	if me, _ := b.me(); me["orgId"] != string(acme.ID) {
		t.Errorf("me %v", me)
	}
}

func TestInvitationOfDeactivatedAccountIsRefused(t *testing.T) {
	v := newEnv(t)
	acme := v.org("acme", "Acme Corp", false, "acme-corp.com")
	tok := v.token(acme.ID, "")
	_, accept := v.invite(tok, "acme", "bob@acme-corp.com", "")
	// A SCIM push creates Bob, then deactivates him, before he accepts.
	bob := v.user(acme.ID, "bob@acme-corp.com")
	if _, err := v.st.UpdateUser(t.Context(), acme.ID, bob.ID, func(u *store.User) error { u.Active = false; return nil }, store.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	b := v.browser()
	r := b.follow(accept)
	if r.status != http.StatusForbidden || r.reason() != jit.RuleDeprovisioned {
		t.Fatalf("%d %q", r.status, r.reason())
	}
	if _, st := b.me(); st != http.StatusUnauthorized {
		t.Errorf("me %d", st)
	}
	if evs := v.events(acme.ID, jit.AuditRefused); len(evs) != 1 || evs[0].UserID != bob.ID || evs[0].Detail["method"] != "invitation" {
		t.Errorf("events %+v", evs)
	}
	// Reactivated: accepting joins the existing account instead of making a second.
	if _, err := v.st.UpdateUser(t.Context(), acme.ID, bob.ID, func(u *store.User) error { u.Active = true; return nil }, store.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	if r := b.follow(accept); r.status != http.StatusSeeOther {
		t.Fatalf("after reactivation: %d %s", r.status, r.body)
	}
	if me, _ := b.me(); me["id"] != string(bob.ID) {
		t.Errorf("me %v", me)
	}
	if n := len(v.accounts(acme.ID, "bob@acme-corp.com")); n != 1 {
		t.Errorf("%d accounts", n)
	}
}

func TestInvitationDomainRemovedBeforeAccepting(t *testing.T) {
	v := newEnv(t)
	acme := v.org("acme", "Acme Corp", false, "acme-corp.com")
	_, accept := v.invite(v.token(acme.ID, ""), "acme", "bob@acme-corp.com", "")
	if _, err := v.st.UpdateOrg(t.Context(), acme.ID, func(o *store.Org) error { o.Access.EmailDomains = nil; return nil }, store.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	r := v.browser().follow(accept)
	if r.status != http.StatusForbidden || r.reason() != emaillogin.ReasonDomainNotAllowed {
		t.Errorf("%d %q", r.status, r.reason())
	}
	if n := len(v.accounts(acme.ID, "bob@acme-corp.com")); n != 0 {
		t.Errorf("%d accounts", n)
	}
}

func TestAdminLoginLink(t *testing.T) {
	v := newEnv(t)
	acme := v.org("acme", "Acme Corp", false) // no SSO, no domains, no JIT
	req := emaillogin.AdminLinkRequest{BaseURL: v.base, OrgSlug: "acme", Email: "root@acme-corp.com", Now: v.clock.Now}
	l, err := emaillogin.NewAdminLink(t.Context(), v.st, req)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Created || l.User.Role != "Admin" || l.User.Source != store.SourceInvitation || !strings.HasPrefix(l.URL, v.base+"/login/link?token=") {
		t.Fatalf("link %+v", l)
	}
	if evs := v.events(acme.ID, "user.created"); len(evs) != 1 || evs[0].Actor != "operator" || evs[0].UserID != l.User.ID {
		t.Errorf("user.created %+v", evs)
	}
	if evs := v.events(acme.ID, "login_link.issued"); len(evs) != 1 || evs[0].UserID != l.User.ID {
		t.Errorf("login_link.issued %+v", evs)
	}
	b := v.browser()
	if r := b.follow(l.URL); r.status != http.StatusSeeOther {
		t.Fatalf("follow: %d %s", r.status, r.body)
	}
	me, _ := b.me()
	if me["id"] != string(l.User.ID) || me["role"] != "Admin" {
		t.Errorf("me %v", me)
	}
	if evs := v.events(acme.ID, jit.AuditSignedIn); len(evs) != 1 || evs[0].Rule != emaillogin.RuleAdminLink {
		t.Errorf("signed in %+v", evs)
	}
	// The Admin session may use the admin API (package admin's authorization).
	if r := b.get("/api/v1/orgs/acme/invitations"); r.status != http.StatusOK {
		t.Errorf("admin API with the session: %d %s", r.status, r.body)
	}
	if r := b.follow(l.URL); r.status != http.StatusGone || r.reason() != emaillogin.ReasonLinkUsed {
		t.Errorf("reuse: %d %q", r.status, r.reason())
	}

	// Again for the same address: the same account, no second one.
	l2, err := emaillogin.NewAdminLink(t.Context(), v.st, req)
	if err != nil || l2.Created || l2.User.ID != l.User.ID {
		t.Errorf("second link: %+v, %v", l2, err)
	}
	// A Member is made an Admin.
	mem := v.user(acme.ID, "member@acme-corp.com")
	l3, err := emaillogin.NewAdminLink(t.Context(), v.st, emaillogin.AdminLinkRequest{BaseURL: v.base, OrgSlug: "acme", Email: "member@acme-corp.com"})
	if err != nil || !l3.Promoted || l3.User.ID != mem.ID || l3.User.Role != "Admin" {
		t.Errorf("promotion: %+v, %v", l3, err)
	}
	// Deactivated: refused, not reactivated.
	if _, err := v.st.UpdateUser(t.Context(), acme.ID, mem.ID, func(u *store.User) error { u.Active = false; return nil }, store.AuditEvent{}); err != nil {
		t.Fatal(err)
	}
	if _, err := emaillogin.NewAdminLink(t.Context(), v.st, emaillogin.AdminLinkRequest{BaseURL: v.base, OrgSlug: "acme", Email: "member@acme-corp.com"}); !errors.Is(err, emaillogin.ErrDeprovisioned) {
		t.Errorf("deactivated: %v", err)
	}
	// A link whose account was deactivated after it was issued does not sign in.
	if r := b.follow(l3.URL); r.status != http.StatusForbidden || r.reason() != jit.RuleDeprovisioned {
		t.Errorf("link of a deactivated account: %d %q", r.status, r.reason())
	}
	// Expiry.
	l4, err := emaillogin.NewAdminLink(t.Context(), v.st, req)
	if err != nil {
		t.Fatal(err)
	}
	v.clock.Advance(emaillogin.DefaultLinkTTL)
	if r := b.follow(l4.URL); r.status != http.StatusGone || r.reason() != emaillogin.ReasonLinkExpired {
		t.Errorf("expired: %d %q", r.status, r.reason())
	}
	if _, err := emaillogin.NewAdminLink(t.Context(), v.st, emaillogin.AdminLinkRequest{BaseURL: v.base, OrgSlug: "nope", Email: "a@b.c"}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown org: %v", err)
	}
}
