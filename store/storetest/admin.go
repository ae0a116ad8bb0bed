package storetest

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

// adminTests check store.Admin, the admin API's queries. A backend under test
// must implement store.AdminStore.
func adminTests() []test {
	return []test{
		{"SearchUsersByStatusSourceAndText", testAdminSearch},
		{"SearchUsersPaginates", testAdminSearchPages},
		{"SearchUsersTextIsLiteral", testAdminSearchLiteral},
		{"SearchUsersUnknownStatusIsError", testAdminSearchBadStatus},
		{"UpdateOrgCheckedRefusesUnknownConnection", testAdminUpdateOrgChecked},
		{"UpdateOrgCheckedAfterConnectionDeleted", testAdminUpdateOrgCheckedDeleted},
	}
}

func adminStore(t *testing.T, s store.Store) store.AdminStore {
	t.Helper()
	as, ok := s.(store.AdminStore)
	if !ok {
		t.Fatalf("%T does not implement store.AdminStore", s)
	}
	return as
}

func search(t *testing.T, s store.AdminStore, org store.OrgID, q store.UserSearch) []string {
	t.Helper()
	if q.Count == 0 {
		q.Count = store.MaxPageSize
	}
	p := must(s.SearchUsers(ctx(t), org, q))(t)
	if p.Total != len(p.Items) {
		t.Errorf("SearchUsers(%+v): Total %d, %d items on one page", q, p.Total, len(p.Items))
	}
	names := userNames(p.Items)
	slices.Sort(names)
	return names
}

func testAdminSearch(t *testing.T, s store.Store) {
	as := adminStore(t, s)
	o := newOrg(t, s, "acme")
	other := newOrg(t, s, "other")
	newUser(t, s, other.ID, "ann@other.example") // never in acme's results
	ann := newUser(t, s, o.ID, "ann", func(u *store.User) {
		u.DisplayName = "Ann Smith"
		u.Emails = []store.Email{{Value: "Ann.Smith@Acme-Corp.com", Primary: true}}
	})
	newUser(t, s, o.ID, "bob", func(u *store.User) {
		u.Source = store.SourceJIT
		u.Emails = []store.Email{{Value: "bob@acme-corp.com"}}
	})
	newUser(t, s, o.ID, "cat", func(u *store.User) { u.Source = store.SourceInvitation; u.Active = false })
	dan := newUser(t, s, o.ID, "dan", func(u *store.User) { u.Source = store.SourceJIT })
	check(t, s.DeleteUser(ctx(t), o.ID, dan.ID, store.AuditEvent{Actor: "test"}))

	tests := []struct {
		name string
		q    store.UserSearch
		want []string
	}{
		{"live by default", store.UserSearch{}, []string{"ann", "bob", "cat"}},
		{"active", store.UserSearch{Status: store.StatusActive}, []string{"ann", "bob"}},
		{"inactive", store.UserSearch{Status: store.StatusInactive}, []string{"cat"}},
		{"deleted only", store.UserSearch{Status: store.StatusDeleted}, []string{"dan"}},
		{"source scim", store.UserSearch{Source: store.SourceSCIM}, []string{"ann"}},
		{"source jit", store.UserSearch{Source: store.SourceJIT}, []string{"bob"}},
		{"source jit deleted", store.UserSearch{Source: store.SourceJIT, Status: store.StatusDeleted}, []string{"dan"}},
		{"source invitation", store.UserSearch{Source: store.SourceInvitation}, []string{"cat"}},
		{"text in userName", store.UserSearch{Text: "BO"}, []string{"bob"}},
		{"text in displayName", store.UserSearch{Text: "smith"}, []string{"ann"}},
		{"text in any email", store.UserSearch{Text: "acme-corp.com"}, []string{"ann", "bob"}},
		{"text is an ID", store.UserSearch{Text: string(ann.ID)}, []string{"ann"}},
		{"text and status", store.UserSearch{Text: "a", Status: store.StatusInactive}, []string{"cat"}},
		{"text and source", store.UserSearch{Text: "acme", Source: store.SourceJIT}, []string{"bob"}},
		{"no match", store.UserSearch{Text: "zzz"}, []string{}},
	}
	for _, tt := range tests {
		if got := search(t, as, o.ID, tt.q); !slices.Equal(got, tt.want) {
			t.Errorf("%s: got %v, want %v", tt.name, got, tt.want)
		}
	}
}

func testAdminSearchPages(t *testing.T, s store.Store) {
	as := adminStore(t, s)
	o := newOrg(t, s, "acme")
	var want []string
	for _, n := range []string{"u1", "u2", "u3", "u4", "u5"} {
		newUser(t, s, o.ID, n)
		want = append(want, n)
	}
	var got []string
	for start := 1; ; start += 2 {
		p := must(as.SearchUsers(ctx(t), o.ID, store.UserSearch{Text: "u", StartIndex: start, Count: 2}))(t)
		if p.Total != 5 {
			t.Fatalf("Total = %d, want 5", p.Total)
		}
		if len(p.Items) == 0 {
			break
		}
		got = append(got, userNames(p.Items)...)
	}
	if !slices.Equal(got, want) {
		t.Errorf("pages = %v, want creation order %v", got, want)
	}
	if p := must(as.SearchUsers(ctx(t), o.ID, store.UserSearch{}))(t); p.Total != 5 || len(p.Items) != 0 {
		t.Errorf("Count 0: %d items, Total %d; want only Total 5", len(p.Items), p.Total)
	}
}

func testAdminSearchLiteral(t *testing.T, s store.Store) {
	as := adminStore(t, s)
	o := newOrg(t, s, "acme")
	newUser(t, s, o.ID, "a_b")
	newUser(t, s, o.ID, "axb")
	newUser(t, s, o.ID, "100%")
	for text, want := range map[string][]string{"_": {"a_b"}, "%": {"100%"}, "a%b": {}} {
		if got := search(t, as, o.ID, store.UserSearch{Text: text}); !slices.Equal(got, want) {
			t.Errorf("Text %q: got %v, want %v (wildcards must match literally)", text, got, want)
		}
	}
}

func testAdminSearchBadStatus(t *testing.T, s store.Store) {
	as := adminStore(t, s)
	o := newOrg(t, s, "acme")
	if _, err := as.SearchUsers(ctx(t), o.ID, store.UserSearch{Status: "gone"}); err == nil {
		t.Error("unknown status: no error")
	}
}

func testAdminUpdateOrgChecked(t *testing.T, s store.Store) {
	as := adminStore(t, s)
	o := newOrg(t, s, "acme")
	newConn(t, s, o.ID, "okta")
	other := newOrg(t, s, "other")
	newConn(t, s, other.ID, "entra") // another organization's connection does not count

	_, err := as.UpdateOrgChecked(ctx(t), o.ID, func(x *store.Org) error {
		x.Onboarding.JITSSOConnections = true
		x.Access.SSOConnections = []string{"okta", "entra"}
		return nil
	}, store.AuditEvent{Actor: "user:u1", Action: "org.onboarding_updated"})
	wantErr(t, err, store.ErrInvalidReference)
	if !strings.Contains(err.Error(), `"entra"`) {
		t.Errorf("error %q does not name the unknown connection", err)
	}
	if got := must(s.GetOrg(ctx(t), o.ID))(t); got.Onboarding.JITSSOConnections || len(got.Access.SSOConnections) != 0 {
		t.Errorf("refused update wrote %+v", got)
	}
	if evs := events(t, s, o.ID, "org.onboarding_updated"); len(evs) != 0 {
		t.Errorf("refused update left events %+v", evs)
	}

	got := must(as.UpdateOrgChecked(ctx(t), o.ID, func(x *store.Org) error {
		x.Onboarding.JITSSOConnections = true
		x.Access.SSOConnections = []string{"okta", "okta"}
		x.Access.EmailDomains = []string{"Acme-Corp.com"}
		return nil
	}, store.AuditEvent{Actor: "user:u1", Action: "org.onboarding_updated"}))(t)
	if !got.Onboarding.JITSSOConnections || !slices.Equal(got.Access.SSOConnections, []string{"okta"}) ||
		!slices.Equal(got.Access.EmailDomains, []string{"acme-corp.com"}) {
		t.Errorf("updated org = %+v", got)
	}
	if reread := must(s.GetOrg(ctx(t), o.ID))(t); !slices.Equal(reread.Access.SSOConnections, []string{"okta"}) {
		t.Errorf("re-read org = %+v", reread)
	}
	evs := events(t, s, o.ID, "org.onboarding_updated")
	if len(evs) != 1 || evs[0].Actor != "user:u1" {
		t.Errorf("events = %+v, want one by user:u1", evs)
	}

	// fn's error aborts, wrapped.
	errNo := errors.New("no")
	_, err = as.UpdateOrgChecked(ctx(t), o.ID, func(*store.Org) error { return errNo }, store.AuditEvent{})
	wantErr(t, err, errNo)
	_, err = as.UpdateOrgChecked(ctx(t), "nope", func(*store.Org) error { return nil }, store.AuditEvent{})
	wantErr(t, err, store.ErrNotFound)
}

func testAdminUpdateOrgCheckedDeleted(t *testing.T, s store.Store) {
	as := adminStore(t, s)
	o := newOrg(t, s, "acme")
	c := newConn(t, s, o.ID, "okta")
	check(t, s.DeleteConnection(ctx(t), c.ID, store.AuditEvent{Actor: "test"}))
	_, err := as.UpdateOrgChecked(ctx(t), o.ID, func(x *store.Org) error {
		x.Access.SSOConnections = []string{"okta"}
		return nil
	}, store.AuditEvent{Actor: "test"})
	wantErr(t, err, store.ErrInvalidReference)
	// Clearing the list needs no connection.
	got := must(as.UpdateOrgChecked(ctx(t), o.ID, func(x *store.Org) error {
		x.Access.SSOConnections = nil
		x.Access.EmailDomains = []string{"acme.com"}
		return nil
	}, store.AuditEvent{Actor: "test"}))(t)
	if len(got.Access.SSOConnections) != 0 || !slices.Equal(got.Access.EmailDomains, []string{"acme.com"}) {
		t.Errorf("org = %+v", got)
	}
}
