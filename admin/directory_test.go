package admin_test

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/apitoken"
	"github.com/onramp-dev/onramp/store"
)

func TestSCIMTokens(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	path := "/orgs/acme/connections/okta/scim-tokens"
	r := h.do(t, h.adminSession, http.MethodPost, path, map[string]string{"description": "Okta provisioning"}).want(t, http.StatusCreated)
	var nt admin.NewSCIMToken
	r.decode(t, &nt)
	if !strings.HasPrefix(nt.Token, apitoken.Prefix) || nt.SCIMBaseURL != baseURL+"/scim/v2" || !nt.Active || r.header.Get("Cache-Control") != "no-store" {
		t.Fatalf("created %+v (Cache-Control %q)", nt, r.header.Get("Cache-Control"))
	}
	tok, err := apitoken.Verify(ctx, h.st, store.TokenSCIM, nt.Token)
	if err != nil || tok.ConnectionID != h.okta.ID || tok.Description != "Okta provisioning" {
		t.Fatalf("the new token does not verify as okta's SCIM token: %+v %v", tok, err)
	}
	evs := h.events(t, h.acme, admin.AuditTokenCreated)
	if len(evs) == 0 || evs[0].Actor != "user:"+string(h.adminUser.ID) || evs[0].Detail["token"] != nt.ID {
		t.Errorf("created events %+v", evs)
	}
	_, secret, _ := apitoken.Parse(nt.Token)

	// Listed without secrets; the harness's own SCIM token is listed too.
	r = h.do(t, h.adminSession, http.MethodGet, path, nil).want(t, http.StatusOK)
	if strings.Contains(string(r.body), secret) {
		t.Fatal("the list shows a token's secret")
	}
	var list struct{ Tokens []admin.SCIMToken }
	r.decode(t, &list)
	if len(list.Tokens) != 2 || list.Tokens[1].ID != nt.ID {
		t.Errorf("list %+v", list)
	}

	// Revoke: it stops working; revoking again is fine.
	h.do(t, h.adminSession, http.MethodDelete, path+"/"+nt.ID, nil).want(t, http.StatusNoContent)
	if _, err := apitoken.Verify(ctx, h.st, store.TokenSCIM, nt.Token); err == nil {
		t.Error("a revoked token still verifies")
	}
	h.do(t, h.adminSession, http.MethodDelete, path+"/"+nt.ID, nil).want(t, http.StatusNoContent)
	h.do(t, h.adminSession, http.MethodGet, path, nil).want(t, http.StatusOK).decode(t, &list)
	if list.Tokens[1].Active || list.Tokens[1].RevokedAt == nil {
		t.Errorf("revoked token listed as %+v", list.Tokens[1])
	}
	if evs := h.events(t, h.acme, admin.AuditTokenRevoked); len(evs) != 2 || evs[1].Actor != "test" { // and the harness's revoked token
		t.Errorf("revoked events %+v, want 1 (the second revoke changed nothing)", evs)
	}

	// Tokens that are not this connection's SCIM tokens are not found here.
	adminID, _, _ := apitoken.Parse(h.adminToken.bearer)
	h.do(t, h.adminSession, http.MethodDelete, path+"/"+string(adminID), nil).want(t, http.StatusNotFound)
	h.conn(t, h.acme, "entra")
	h.do(t, h.adminSession, http.MethodDelete, "/orgs/acme/connections/entra/scim-tokens/"+list.Tokens[0].ID, nil).want(t, http.StatusNotFound)
	h.do(t, h.adminSession, http.MethodDelete, path+"/unknown", nil).want(t, http.StatusNotFound)
	if _, err := apitoken.Verify(ctx, h.st, store.TokenAdmin, h.adminToken.bearer); err != nil {
		t.Errorf("the admin token was revoked through the SCIM token route: %v", err)
	}
}

func TestUsersAndGroups(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	mk := func(name string, src store.Source, mods ...func(*store.User)) store.User {
		u := store.User{OrgID: h.acme.ID, UserName: name, DisplayName: strings.ToUpper(name), Active: true, Source: src, ConnectionID: h.okta.ID,
			Emails: []store.Email{{Value: name + "@acme-corp.com", Primary: true}}}
		for _, m := range mods {
			m(&u)
		}
		u, err := h.st.CreateUser(ctx, u, store.AuditEvent{Actor: "idp:okta"})
		if err != nil {
			t.Fatal(err)
		}
		return u
	}
	jitUser := mk("jill", store.SourceJIT)
	mk("ivan", store.SourceInvitation, func(u *store.User) { u.ConnectionID = "" })
	mk("ina", store.SourceSCIM, func(u *store.User) { u.Active = false })
	gone := mk("gus", store.SourceSCIM)
	if err := h.st.DeleteUser(ctx, h.acme.ID, gone.ID, store.AuditEvent{Actor: "token:x"}); err != nil {
		t.Fatal(err)
	}
	signIn := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	if err := h.st.LinkIdentity(ctx, store.Identity{ConnectionID: h.okta.ID, NameID: "jill@acme-corp.com", OrgID: h.acme.ID, UserID: jitUser.ID}, store.AuditEvent{Actor: "idp:okta", Action: "jit.linked"}); err != nil {
		t.Fatal(err)
	}
	if err := h.st.RecordSignIn(ctx, h.okta.ID, "jill@acme-corp.com", signIn, store.AuditEvent{Actor: "idp:okta", Action: "jit.signed_in"}); err != nil {
		t.Fatal(err)
	}
	g, err := h.st.CreateGroup(ctx, store.Group{OrgID: h.acme.ID, DisplayName: "Engineering"}, []store.UserID{jitUser.ID, h.adminUser.ID}, store.AuditEvent{Actor: "token:x"})
	if err != nil {
		t.Fatal(err)
	}
	h.user(t, h.other, "stranger", "Member")

	list := func(q url.Values) []string {
		t.Helper()
		var l admin.UserList
		h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/users?"+q.Encode(), nil).want(t, http.StatusOK).decode(t, &l)
		var names []string
		for _, u := range l.Users {
			names = append(names, u.UserName)
		}
		slices.Sort(names)
		if l.TotalResults != len(names) {
			t.Errorf("totalResults %d, %d users", l.TotalResults, len(names))
		}
		return names
	}
	for _, tt := range []struct {
		q    url.Values
		want []string
	}{
		{url.Values{}, []string{"ada", "ina", "ivan", "jill", "max"}},
		{url.Values{"status": {"active"}}, []string{"ada", "ivan", "jill", "max"}},
		{url.Values{"status": {"inactive"}}, []string{"ina"}},
		{url.Values{"status": {"deleted"}}, []string{"gus"}},
		{url.Values{"source": {"jit"}}, []string{"jill"}},
		{url.Values{"source": {"invitation"}}, []string{"ivan"}},
		{url.Values{"q": {"ACME-CORP"}}, []string{"ina", "ivan", "jill"}},
		{url.Values{"q": {"jil"}, "source": {"jit"}, "status": {"active"}}, []string{"jill"}},
	} {
		if got := list(tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("users?%s = %v, want %v", tt.q.Encode(), got, tt.want)
		}
	}
	var page admin.UserList
	h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/users?count=2&startIndex=2", nil).want(t, http.StatusOK).decode(t, &page)
	if page.TotalResults != 5 || page.ItemsPerPage != 2 || page.StartIndex != 2 || page.Users[0].UserName != "max" {
		t.Errorf("page %+v", page)
	}
	for _, q := range []string{"status=gone", "source=ldap", "count=1000", "count=x", "startIndex=-1"} {
		r := h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/users?"+q, nil).want(t, http.StatusBadRequest)
		if len(r.errorBody(t).Fields) != 1 {
			t.Errorf("%s: fields %v", q, r.errorBody(t).Fields)
		}
	}

	// A user's page.
	var u admin.User
	h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/users/"+string(jitUser.ID), nil).want(t, http.StatusOK).decode(t, &u)
	if u.Source != "jit" || u.Connection != "okta" || u.Status != "active" || u.LastSignInAt == nil || !u.LastSignInAt.Equal(signIn) ||
		len(u.Identities) != 1 || u.Identities[0].Connection != "okta" || u.Identities[0].NameID != "jill@acme-corp.com" ||
		len(u.Groups) != 1 || u.Groups[0].DisplayName != "Engineering" || len(u.Emails) != 1 {
		t.Errorf("user page %+v", u)
	}
	var actions []string
	for _, ev := range u.History {
		actions = append(actions, ev.Action)
	}
	if !slices.Equal(actions, []string{"jit.signed_in", "jit.linked", "user.created"}) {
		t.Errorf("history %v", actions)
	}
	var tomb admin.User
	h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/users/"+string(gone.ID), nil).want(t, http.StatusOK).decode(t, &tomb)
	if tomb.Status != "deleted" || tomb.DeletedAt == nil {
		t.Errorf("deleted user %+v", tomb)
	}
	h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/users/nope", nil).want(t, http.StatusNotFound)
	h.do(t, h.otherAdminToken, http.MethodGet, "/orgs/other/users/"+string(jitUser.ID), nil).want(t, http.StatusNotFound)

	// Groups.
	var gl admin.GroupList
	h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/groups?q=engin", nil).want(t, http.StatusOK).decode(t, &gl)
	if gl.TotalResults != 1 || gl.Groups[0].ID != string(g.ID) {
		t.Errorf("groups %+v", gl)
	}
	var gd admin.Group
	h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/groups/"+string(g.ID), nil).want(t, http.StatusOK).decode(t, &gd)
	if len(gd.Members) != 2 || gd.Members[0].ID != string(jitUser.ID) || gd.Members[1].ID != string(h.adminUser.ID) {
		t.Errorf("group %+v", gd)
	}
	h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/groups/nope", nil).want(t, http.StatusNotFound)
}

func TestAuditLog(t *testing.T) {
	h := newHarness(t)
	ctx := context.Background()
	// Some history: three changes by the admin token, one by the session.
	for _, d := range []string{"a.com", "b.com", "c.com"} {
		h.do(t, h.adminToken, http.MethodPut, "/orgs/acme/access-control", map[string]any{"emailDomains": []string{d}}).want(t, http.StatusOK)
	}
	h.do(t, h.adminSession, http.MethodPut, "/orgs/acme/connections/okta/authentication", map[string]bool{"jitProvisioning": true}).want(t, http.StatusOK)
	if err := h.st.RecordEvent(ctx, store.AuditEvent{OrgID: h.acme.ID, Actor: "idp:okta", Action: "jit.refused", UserID: h.memberUser.ID, Rule: "jit_not_allowed"}); err != nil {
		t.Fatal(err)
	}

	get := func(q url.Values) admin.AuditLog {
		t.Helper()
		var l admin.AuditLog
		h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/audit-events?"+q.Encode(), nil).want(t, http.StatusOK).decode(t, &l)
		return l
	}
	byToken := get(url.Values{"actor": {h.actorOf(t, h.adminToken)}})
	if len(byToken.Events) != 3 || byToken.Events[0].Detail["emailDomains"] != "c.com" || byToken.Events[2].Detail["emailDomains"] != "a.com" {
		t.Errorf("by actor: %+v", byToken.Events)
	}
	if l := get(url.Values{"action": {admin.AuditAuthenticationSet}}); len(l.Events) != 1 || l.Events[0].Actor != "user:"+string(h.adminUser.ID) {
		t.Errorf("by action: %+v", l.Events)
	}
	if l := get(url.Values{"user": {string(h.memberUser.ID)}, "action": {"jit.refused"}}); len(l.Events) != 1 || l.Events[0].Rule != "jit_not_allowed" {
		t.Errorf("by user: %+v", l.Events)
	}
	future := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	if l := get(url.Values{"since": {future}}); len(l.Events) != 0 {
		t.Errorf("since the future: %+v", l.Events)
	}
	if l := get(url.Values{"until": {future}, "actor": {h.actorOf(t, h.adminToken)}}); len(l.Events) != 3 {
		t.Errorf("until the future: %d events", len(l.Events))
	}

	// Cursor pagination walks the whole log once, newest first.
	all := get(url.Values{"limit": {"1000"}})
	var walked []string
	q := url.Values{"limit": {"2"}}
	for range 100 {
		l := get(q)
		for _, ev := range l.Events {
			walked = append(walked, ev.ID)
		}
		if l.NextCursor == "" {
			break
		}
		q.Set("cursor", l.NextCursor)
	}
	var want []string
	for _, ev := range all.Events {
		want = append(want, ev.ID)
	}
	if len(want) < 5 || !slices.Equal(walked, want) {
		t.Errorf("paged %v, want %v", walked, want)
	}
	for _, bad := range []string{"cursor=abc", "limit=0x", "limit=5000", "since=yesterday", "since=2026-01-02T00:00:00Z&until=2026-01-01T00:00:00Z"} {
		h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/audit-events?"+bad, nil).want(t, http.StatusBadRequest)
	}
	// Another organization's log is not reachable.
	h.do(t, h.otherAdminToken, http.MethodGet, "/orgs/acme/audit-events", nil).want(t, http.StatusNotFound)
	if l := get(url.Values{}); slices.ContainsFunc(l.Events, func(e admin.Event) bool { return strings.Contains(e.Actor, "oscar") }) {
		t.Error("another organization's events leaked")
	}
}
