package console_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/onramp-dev/onramp/store"
)

// allowDomains sets the organization's accessControl.emailDomains.
func (h *harness) allowDomains(t *testing.T, o store.Org, domains ...string) {
	t.Helper()
	_, err := h.st.UpdateOrg(context.Background(), o.ID, func(org *store.Org) error {
		org.Access.EmailDomains = domains
		return nil
	}, store.AuditEvent{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
}

func (h *harness) invitations(t *testing.T, o store.Org) []store.Invitation {
	t.Helper()
	list, err := h.st.ListInvitations(context.Background(), o.ID)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// acceptLink is the accept link in an invitation email's text.
var acceptLink = regexp.MustCompile(regexp.QuoteMeta(baseURL+"/invitations/accept?token=") + `[A-Za-z0-9_%-]+`)

func TestInviteSendsAndResends(t *testing.T) {
	h := newHarness(t)
	h.allowDomains(t, h.acme, "acme.example")
	p := h.get(t, h.adminC, "/admin/acme/users/invitations").want(t, http.StatusOK)
	checkLabels(t, "/admin/acme/users/invitations", p)
	if !strings.Contains(text(p.byID("pending-invitations")), "No pending invitations.") {
		t.Errorf("pending list before any invitation: %s", text(p.byID("pending-invitations")))
	}
	// The menu has Users → Invitations, and the Users page links to it.
	nav := find(p.doc, func(n *html.Node) bool { return n.Data == "a" && attr(n, "aria-current") == "page" })
	if text(nav) != "Invitations" || attr(nav, "href") != "/admin/acme/users/invitations" {
		t.Errorf("current menu item %q → %q", text(nav), attr(nav, "href"))
	}
	users := h.get(t, h.adminC, "/admin/acme/users").want(t, http.StatusOK)
	if find(users.doc, func(n *html.Node) bool { return n.Data == "a" && text(n) == "Invite people" }) == nil {
		t.Error("the Users page has no Invite people link")
	}

	h.post(t, h.adminC, "/admin/acme/users/invitations", url.Values{"email": {" New.Person@Acme.example "}, "role": {"Admin"}}).
		redirect(t, "/admin/acme/users/invitations?done=invited#pending")
	msgs := h.smtp.To("new.person@acme.example")
	if len(msgs) != 1 {
		t.Fatalf("%d messages to the invited address, want 1", len(msgs))
	}
	first := acceptLink.FindString(msgs[0].Text)
	if first == "" {
		t.Fatalf("no accept link in the invitation email:\n%s", msgs[0].Text)
	}
	invs := h.invitations(t, h.acme)
	if len(invs) != 1 || !strings.EqualFold(invs[0].Email, "new.person@acme.example") || invs[0].Role != "Admin" ||
		invs[0].InvitedBy != "user:"+string(h.ada.ID) || invs[0].Sends != 1 {
		t.Fatalf("invitations %+v", invs)
	}
	if len(h.events(t, h.acme, "invitation.created")) != 1 {
		t.Error("no invitation.created audit event")
	}

	p = h.get(t, h.adminC, "/admin/acme/users/invitations?done=invited").want(t, http.StatusOK)
	if !strings.Contains(p.body, "Invitation sent.") {
		t.Error("no confirmation after inviting")
	}
	row := p.byID("invitation-" + string(invs[0].ID))
	if got := text(row); !strings.Contains(strings.ToLower(got), "new.person@acme.example") || !strings.Contains(got, "Admin") {
		t.Errorf("pending row %q", got)
	}

	// Resend: a second email with a new link; the first stops working.
	h.post(t, h.adminC, "/admin/acme/users/invitations/"+string(invs[0].ID)+"/resend", url.Values{}).
		redirect(t, "/admin/acme/users/invitations?done=resent#pending")
	msgs = h.smtp.To("new.person@acme.example")
	if len(msgs) != 2 {
		t.Fatalf("%d messages after resending, want 2", len(msgs))
	}
	second := acceptLink.FindString(msgs[1].Text)
	if second == "" || second == first {
		t.Fatalf("resent link %q, first %q", second, first)
	}
	if got := h.invitations(t, h.acme)[0].Sends; got != 2 {
		t.Errorf("sends %d after a resend, want 2", got)
	}
	if strings.Contains(h.logs.String(), strings.TrimPrefix(second, baseURL+"/invitations/accept?token=")) {
		t.Error("the accept link's token is in the log")
	}
}

func TestInviteRefusalsShownNextToTheField(t *testing.T) {
	h := newHarness(t)
	// No allowed domains yet: the page says where to add them.
	p := h.get(t, h.adminC, "/admin/acme/users/invitations").want(t, http.StatusOK)
	if find(p.doc, func(n *html.Node) bool {
		return n.Data == "a" && attr(n, "href") == "/admin/acme/organization?edit=onboarding"
	}) == nil {
		t.Error("without allowed domains, the page does not link to User onboarding")
	}

	h.allowDomains(t, h.acme, "acme.example")
	p = h.post(t, h.adminC, "/admin/acme/users/invitations", url.Values{"email": {"eve@elsewhere.example"}, "role": {"Member"}}).
		want(t, http.StatusUnprocessableEntity)
	p.fieldError(t, "email", "elsewhere.example is not one of Acme Corp's allowed email domains")
	if v := attr(p.byID("email"), "value"); v != "eve@elsewhere.example" {
		t.Errorf("the typed address is not kept: %q", v)
	}
	if n := len(h.invitations(t, h.acme)); n != 0 {
		t.Fatalf("%d invitations saved for a disallowed domain", n)
	}
	if n := len(h.smtp.Messages()); n != 0 {
		t.Fatalf("%d messages sent for a disallowed domain", n)
	}

	p = h.post(t, h.adminC, "/admin/acme/users/invitations", url.Values{"email": {"not an address"}, "role": {"Member"}}).
		want(t, http.StatusBadRequest)
	if msg := p.byID("email-error"); msg == nil {
		t.Errorf("no error next to the email field for a malformed address\n%.2000s", p.body)
	}

	// An address with an account, and one invited twice.
	p = h.post(t, h.adminC, "/admin/acme/users/invitations", url.Values{"email": {"max@acme.example"}, "role": {"Member"}}).
		want(t, http.StatusConflict)
	p.fieldError(t, "email", "already has an account")
	h.post(t, h.adminC, "/admin/acme/users/invitations", url.Values{"email": {"kim@acme.example"}, "role": {"Member"}}).
		redirect(t, "/admin/acme/users/invitations?done=invited#pending")
	p = h.post(t, h.adminC, "/admin/acme/users/invitations", url.Values{"email": {"KIM@acme.example"}, "role": {"Admin"}}).
		want(t, http.StatusConflict)
	p.fieldError(t, "email", "already has a pending invitation")
	if invs := h.invitations(t, h.acme); len(invs) != 1 || invs[0].Role != "Member" {
		t.Fatalf("invitations %+v", invs)
	}
}

func TestRevokeInvitation(t *testing.T) {
	h := newHarness(t)
	h.allowDomains(t, h.acme, "acme.example")
	h.post(t, h.adminC, "/admin/acme/users/invitations", url.Values{"email": {"kim@acme.example"}, "role": {"Member"}}).
		redirect(t, "/admin/acme/users/invitations?done=invited#pending")
	id := string(h.invitations(t, h.acme)[0].ID)

	// Another organization's Admin can neither see nor revoke it.
	h.post(t, h.otherAdminC, "/admin/acme/users/invitations/"+id+"/revoke", url.Values{}).want(t, http.StatusNotFound)
	h.post(t, h.otherAdminC, "/admin/other/users/invitations/"+id+"/revoke", url.Values{}).want(t, http.StatusNotFound)
	if inv := h.invitations(t, h.acme)[0]; !inv.Pending() {
		t.Fatalf("another organization's Admin revoked it: %+v", inv)
	}

	h.post(t, h.adminC, "/admin/acme/users/invitations/"+id+"/revoke", url.Values{}).
		redirect(t, "/admin/acme/users/invitations?done=invitation-revoked#pending")
	if inv := h.invitations(t, h.acme)[0]; inv.RevokedAt == nil {
		t.Fatalf("not revoked: %+v", inv)
	}
	p := h.get(t, h.adminC, "/admin/acme/users/invitations").want(t, http.StatusOK)
	if got := text(p.byID("pending-invitations")); !strings.Contains(got, "No pending invitations.") {
		t.Errorf("pending list after revoking: %q", got)
	}
	if got := text(p.byID("past-invitations")); !strings.Contains(got, "kim@acme.example") || !strings.Contains(got, "Revoked") {
		t.Errorf("past list after revoking: %q", got)
	}
	// A revoked invitation cannot be resent.
	before := len(h.smtp.Messages())
	p = h.post(t, h.adminC, "/admin/acme/users/invitations/"+id+"/resend", url.Values{}).want(t, http.StatusConflict)
	if !strings.Contains(text(p.doc), "already accepted or revoked") {
		t.Errorf("resending a revoked invitation: %s", text(p.doc))
	}
	if len(h.smtp.Messages()) != before {
		t.Error("a revoked invitation was emailed again")
	}
	h.post(t, h.adminC, "/admin/acme/users/invitations/nope/revoke", url.Values{}).want(t, http.StatusNotFound)
}

func TestMemberCannotInvite(t *testing.T) {
	h := newHarness(t)
	h.allowDomains(t, h.acme, "acme.example")
	h.get(t, h.memberC, "/admin/acme/users/invitations").want(t, http.StatusForbidden)
	h.post(t, h.memberC, "/admin/acme/users/invitations", url.Values{"email": {"friend@acme.example"}, "role": {"Admin"}}).
		want(t, http.StatusForbidden)
	if n := len(h.invitations(t, h.acme)); n != 0 {
		t.Fatalf("a Member invited: %d invitations", n)
	}
	if n := len(h.smtp.Messages()); n != 0 {
		t.Fatalf("a Member's invitation sent %d messages", n)
	}
}
