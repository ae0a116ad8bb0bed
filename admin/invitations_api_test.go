package admin_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestInvitationAndDomainRouteAnswersMatchDocument drives the invitation and
// domain-route endpoints (package emaillogin registers them under /api/v1;
// openapi.json documents them with the rest of the admin API) through their
// successes and refusals. Every answer is checked against the document by
// the harness.
func TestInvitationAndDomainRouteAnswersMatchDocument(t *testing.T) {
	h := newHarness(t)
	a := h.adminToken
	h.do(t, a, http.MethodPut, "/orgs/acme/access-control", map[string]any{"emailDomains": []string{"acme.example"}, "ssoConnections": []string{}}).
		want(t, http.StatusOK)

	var list struct {
		Invitations []struct{ ID, Email, Status string } `json:"invitations"`
	}
	h.do(t, a, http.MethodGet, "/orgs/acme/invitations", nil).want(t, http.StatusOK).decode(t, &list)
	if len(list.Invitations) != 0 {
		t.Fatalf("invitations before any: %+v", list.Invitations)
	}
	r := h.do(t, a, http.MethodPost, "/orgs/acme/invitations", map[string]string{"email": "kim@acme.example", "role": "Admin"}).
		want(t, http.StatusCreated)
	var inv struct{ ID, Status, Role string }
	r.decode(t, &inv)
	if inv.Status != "pending" || inv.Role != "Admin" || !strings.HasSuffix(r.header.Get("Location"), "/invitations/"+inv.ID) {
		t.Fatalf("created %+v at %q", inv, r.header.Get("Location"))
	}
	if n := len(h.smtp.To("kim@acme.example")); n != 1 {
		t.Fatalf("%d emails to the invited address, want 1", n)
	}
	h.do(t, a, http.MethodPost, "/orgs/acme/invitations", map[string]string{"email": "kim@acme.example"}).want(t, http.StatusConflict)
	h.do(t, a, http.MethodPost, "/orgs/acme/invitations", map[string]string{"email": "eve@elsewhere.example"}).want(t, http.StatusUnprocessableEntity)
	if e := h.do(t, a, http.MethodPost, "/orgs/acme/invitations", map[string]string{"email": "nope"}).want(t, http.StatusBadRequest).errorBody(t); e.Fields["email"] == "" {
		t.Errorf("a malformed address is not named in fields: %+v", e)
	}
	h.doRaw(t, a, http.MethodPost, "/orgs/acme/invitations", "text/plain", []byte("kim@acme.example")).want(t, http.StatusUnsupportedMediaType)
	h.do(t, a, http.MethodGet, "/orgs/acme/invitations/"+inv.ID, nil).want(t, http.StatusOK)
	h.do(t, a, http.MethodGet, "/orgs/acme/invitations/nope", nil).want(t, http.StatusNotFound)
	h.do(t, a, http.MethodPost, "/orgs/acme/invitations/"+inv.ID+"/resend", nil).want(t, http.StatusOK)
	h.do(t, a, http.MethodDelete, "/orgs/acme/invitations/"+inv.ID, nil).want(t, http.StatusNoContent)
	h.do(t, a, http.MethodPost, "/orgs/acme/invitations/"+inv.ID+"/resend", nil).want(t, http.StatusConflict)
	h.do(t, a, http.MethodGet, "/orgs/acme/invitations", nil).want(t, http.StatusOK).decode(t, &list)
	if len(list.Invitations) != 1 || list.Invitations[0].Status != "revoked" {
		t.Fatalf("invitations after revoking: %+v", list.Invitations)
	}

	var route struct{ Domain, Connection string }
	h.do(t, a, http.MethodPut, "/orgs/acme/domain-routes/Acme.Example", map[string]string{"connection": "okta"}).want(t, http.StatusOK).decode(t, &route)
	if route.Domain != "acme.example" || route.Connection != "okta" {
		t.Fatalf("route %+v", route)
	}
	h.do(t, a, http.MethodPut, "/orgs/acme/domain-routes/elsewhere.example", map[string]string{"connection": "okta"}).want(t, http.StatusUnprocessableEntity)
	h.do(t, a, http.MethodPut, "/orgs/acme/domain-routes/acme.example", map[string]string{"connection": "nope"}).want(t, http.StatusBadRequest)
	h.do(t, a, http.MethodPut, "/orgs/acme/domain-routes/acme.example", map[string]string{"conn": "okta"}).want(t, http.StatusBadRequest)
	var routes struct {
		DomainRoutes []struct{ Domain string } `json:"domainRoutes"`
	}
	h.do(t, a, http.MethodGet, "/orgs/acme/domain-routes", nil).want(t, http.StatusOK).decode(t, &routes)
	if len(routes.DomainRoutes) != 1 {
		t.Fatalf("routes %+v", routes)
	}
	h.do(t, a, http.MethodDelete, "/orgs/acme/domain-routes/acme.example", nil).want(t, http.StatusNoContent)
	h.do(t, a, http.MethodDelete, "/orgs/acme/domain-routes/acme.example", nil).want(t, http.StatusNotFound)

	// Another organization routing the domain: 409.
	o := h.otherAdminToken
	h.do(t, a, http.MethodPut, "/orgs/acme/domain-routes/acme.example", map[string]string{"connection": "okta"}).want(t, http.StatusOK)
	h.do(t, o, http.MethodPut, "/orgs/other/access-control", map[string]any{"emailDomains": []string{"acme.example"}, "ssoConnections": []string{}}).
		want(t, http.StatusOK)
	h.conn(t, h.other, "entra")
	h.do(t, o, http.MethodPut, "/orgs/other/domain-routes/acme.example", map[string]string{"connection": "entra"}).want(t, http.StatusConflict)
}
