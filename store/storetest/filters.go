package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

func cmp(f store.Field, op store.Op, v any) store.Compare {
	return store.Compare{Field: f, Op: op, Value: v}
}

func and(l, r store.Filter) store.Filter { return store.And{Left: l, Right: r} }
func or(l, r store.Filter) store.Filter  { return store.Or{Left: l, Right: r} }
func not(f store.Filter) store.Filter    { return store.Not{F: f} }

// filterFixture makes three live users (ann, bob, cy), a tombstone (dan) and a
// user of another organization, whose data every filter must ignore.
func filterFixture(t *testing.T, s store.Store) (store.OrgID, map[string]store.User) {
	t.Helper()
	o := newOrg(t, s, "acme")
	other := newOrg(t, s, "other")
	us := map[string]store.User{
		"ann": newUser(t, s, o.ID, "Ann.Smith", func(u *store.User) {
			u.ExternalID, u.DisplayName = "ext-1", "Ann Smith"
			u.Emails = []store.Email{
				{Value: "ann@Acme.com", Type: "work", Primary: true},
				{Value: "ann@home.example", Type: "home"},
			}
		}),
		"bob": newUser(t, s, o.ID, "bob", func(u *store.User) {
			u.ExternalID, u.DisplayName, u.Active = "EXT-2", "Bob Jones", false
			u.Emails = []store.Email{{Value: "bob@acme.com", Type: "work"}}
		}),
		"cy": newUser(t, s, o.ID, "cy_100%"),
	}
	dan := newUser(t, s, o.ID, "dan", func(u *store.User) {
		u.ExternalID, u.DisplayName = "ext-3", "Dan"
		u.Emails = []store.Email{{Value: "dan@acme.com", Type: "work", Primary: true}}
	})
	check(t, s.DeleteUser(ctx(t), o.ID, dan.ID, store.AuditEvent{}))
	newUser(t, s, other.ID, "Ann.Smith", func(u *store.User) {
		u.ExternalID, u.DisplayName = "ext-1", "Ann Smith"
		u.Emails = []store.Email{{Value: "ann@acme.com", Type: "work", Primary: true}}
	})
	return o.ID, us
}

func testUserFilters(t *testing.T, s store.Store) {
	org, us := filterFixture(t, s)
	ann, bob, cy := us["ann"], us["bob"], us["cy"]
	all := []string{"ann", "bob", "cy"}
	var (
		F = store.FieldUserName
		X = store.FieldExternalID
		D = store.FieldDisplayName
		A = store.FieldActive
		E = store.FieldEmailValue
		T = store.FieldEmailType
		P = store.FieldEmailPrimary
	)
	emails := func(f store.Filter) store.Filter { return store.Element{Attr: "emails", F: f} }
	for _, tc := range []struct {
		name string
		f    store.Filter
		want []string
	}{
		{"userName eq folds case", cmp(F, store.OpEq, "ANN.smith"), []string{"ann"}},
		{"userName ne", cmp(F, store.OpNe, "BOB"), []string{"ann", "cy"}},
		{"userName co", cmp(F, store.OpCo, "SMI"), []string{"ann"}},
		{"userName sw", cmp(F, store.OpSw, "B"), []string{"bob"}},
		{"userName ew with literal percent", cmp(F, store.OpEw, "100%"), []string{"cy"}},
		{"userName co percent is literal", cmp(F, store.OpCo, "%"), []string{"cy"}},
		{"userName co underscore is literal", cmp(F, store.OpCo, "_"), []string{"cy"}},
		{"userName sw with underscore", cmp(F, store.OpSw, "cy_"), []string{"cy"}},
		{"userName sw underscore is not a wildcard", cmp(F, store.OpSw, "c_"), nil},
		{"userName pr", cmp(F, store.OpPresent, nil), all},
		{"userName gt", cmp(F, store.OpGt, "B"), []string{"bob", "cy"}},
		{"userName ge", cmp(F, store.OpGe, "bob"), []string{"bob", "cy"}},
		{"userName lt", cmp(F, store.OpLt, "b"), []string{"ann"}},
		{"userName le", cmp(F, store.OpLe, "BOB"), []string{"ann", "bob"}},
		{"externalId eq is exact", cmp(X, store.OpEq, "ext-1"), []string{"ann"}},
		{"externalId eq other case", cmp(X, store.OpEq, "EXT-1"), nil},
		{"externalId sw is exact", cmp(X, store.OpSw, "EXT"), []string{"bob"}},
		{"externalId co is exact", cmp(X, store.OpCo, "xt"), []string{"ann"}},
		{"externalId ew", cmp(X, store.OpEw, "-2"), []string{"bob"}},
		{"externalId pr", cmp(X, store.OpPresent, nil), []string{"ann", "bob"}},
		{"not externalId pr", not(cmp(X, store.OpPresent, nil)), []string{"cy"}},
		{"externalId ne includes absent", cmp(X, store.OpNe, "ext-1"), []string{"bob", "cy"}},
		{"not externalId eq includes absent", not(cmp(X, store.OpEq, "ext-1")), []string{"bob", "cy"}},
		{"externalId gt", cmp(X, store.OpGt, "ext-0"), []string{"ann"}},
		{"id eq", cmp(store.FieldID, store.OpEq, string(bob.ID)), []string{"bob"}},
		{"id eq is exact", cmp(store.FieldID, store.OpEq, strings.ToUpper(string(bob.ID))), nil},
		{"displayName eq folds case", cmp(D, store.OpEq, "ann SMITH"), []string{"ann"}},
		{"displayName pr", cmp(D, store.OpPresent, nil), []string{"ann", "bob"}},
		{"displayName co", cmp(D, store.OpCo, "JONES"), []string{"bob"}},
		{"active eq true", cmp(A, store.OpEq, true), []string{"ann", "cy"}},
		{"active eq false", cmp(A, store.OpEq, false), []string{"bob"}},
		{"active ne true", cmp(A, store.OpNe, true), []string{"bob"}},
		{"active pr", cmp(A, store.OpPresent, nil), all},
		{"emails.value eq folds case", cmp(E, store.OpEq, "ANN@acme.COM"), []string{"ann"}},
		{"emails.value eq second address", cmp(E, store.OpEq, "ann@home.example"), []string{"ann"}},
		{"emails.value co", cmp(E, store.OpCo, "@ACME.com"), []string{"ann", "bob"}},
		{"emails.value sw", cmp(E, store.OpSw, "bob@"), []string{"bob"}},
		{"emails.value ew", cmp(E, store.OpEw, ".example"), []string{"ann"}},
		{"emails.value pr", cmp(E, store.OpPresent, nil), []string{"ann", "bob"}},
		{"emails.value ne means no address equals", cmp(E, store.OpNe, "ann@home.example"), []string{"bob", "cy"}},
		{"emails.type eq folds case", cmp(T, store.OpEq, "WORK"), []string{"ann", "bob"}},
		{"emails.primary eq true", cmp(P, store.OpEq, true), []string{"ann"}},
		{"emails.primary eq false", cmp(P, store.OpEq, false), []string{"ann", "bob"}},
		{"two emails conditions may hold on different addresses",
			and(cmp(T, store.OpEq, "work"), cmp(E, store.OpCo, "home")), []string{"ann"}},
		{"element conditions hold on one address",
			emails(and(cmp(T, store.OpEq, "work"), cmp(E, store.OpCo, "home"))), nil},
		{"element home address", emails(and(cmp(T, store.OpEq, "home"), cmp(E, store.OpCo, "home"))), []string{"ann"}},
		{"element primary work", emails(and(cmp(T, store.OpEq, "work"), cmp(P, store.OpEq, true))), []string{"ann"}},
		{"element with not", emails(not(cmp(T, store.OpEq, "work"))), []string{"ann"}},
		{"element with or", emails(or(cmp(T, store.OpEq, "home"), cmp(E, store.OpSw, "bob"))), []string{"ann", "bob"}},
		{"not element", not(emails(cmp(T, store.OpEq, "work"))), []string{"cy"}},
		{"or", or(cmp(F, store.OpEq, "bob"), cmp(X, store.OpEq, "ext-1")), []string{"ann", "bob"}},
		{"and", and(cmp(A, store.OpEq, true), cmp(E, store.OpPresent, nil)), []string{"ann"}},
		{"not or", not(or(cmp(F, store.OpEq, "bob"), cmp(F, store.OpEq, "cy_100%"))), []string{"ann"}},
		{"nested and or not", and(or(cmp(A, store.OpEq, false), cmp(D, store.OpPresent, nil)), not(cmp(F, store.OpSw, "a"))), []string{"bob"}},
		{"pointer nodes", &store.And{Left: &store.Compare{Field: F, Op: store.OpSw, Value: "a"}, Right: &store.Not{F: &store.Compare{Field: A, Op: store.OpEq, Value: false}}}, []string{"ann"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.ListUsers(ctx(t), org, store.UserQuery{Filter: tc.f, Count: 100})
			if err != nil {
				t.Fatalf("%v: %v", tc.f, err)
			}
			got := namesOf(p.Items, us)
			if !slices.Equal(got, tc.want) || p.Total != len(tc.want) {
				t.Errorf("%v: got %v (total %d), want %v", tc.f, got, p.Total, tc.want)
			}
		})
	}

	// Times: created and lastModified, in any zone, to the microsecond.
	must(s.UpdateUser(ctx(t), org, bob.ID, func(x *store.User) error { x.DisplayName = "Bob J."; return nil }, store.AuditEvent{}))(t)
	bob = must(s.GetUser(ctx(t), org, bob.ID))(t)
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	half := 500 * time.Nanosecond
	for _, tc := range []struct {
		name string
		f    store.Filter
		want func(u store.User) bool
	}{
		{"created ge first", cmp(store.FieldCreated, store.OpGe, ann.CreatedAt.In(zone)), func(store.User) bool { return true }},
		{"created gt first", cmp(store.FieldCreated, store.OpGt, ann.CreatedAt), func(u store.User) bool { return u.CreatedAt.After(ann.CreatedAt) }},
		{"created lt last", cmp(store.FieldCreated, store.OpLt, cy.CreatedAt), func(u store.User) bool { return u.CreatedAt.Before(cy.CreatedAt) }},
		{"created le last", cmp(store.FieldCreated, store.OpLe, cy.CreatedAt.In(zone)), func(store.User) bool { return true }},
		{"created eq", cmp(store.FieldCreated, store.OpEq, bob.CreatedAt), func(u store.User) bool { return u.CreatedAt.Equal(bob.CreatedAt) }},
		{"created ne", cmp(store.FieldCreated, store.OpNe, bob.CreatedAt), func(u store.User) bool { return !u.CreatedAt.Equal(bob.CreatedAt) }},
		{"created ge half a microsecond later", cmp(store.FieldCreated, store.OpGe, ann.CreatedAt.Add(half)), func(u store.User) bool { return u.CreatedAt.After(ann.CreatedAt) }},
		{"created lt half a microsecond later", cmp(store.FieldCreated, store.OpLt, ann.CreatedAt.Add(half)), func(u store.User) bool { return !u.CreatedAt.After(ann.CreatedAt) }},
		{"created eq half a microsecond later", cmp(store.FieldCreated, store.OpEq, ann.CreatedAt.Add(half)), func(store.User) bool { return false }},
		{"lastModified ge bob's update", cmp(store.FieldLastModified, store.OpGe, bob.UpdatedAt.In(zone)), func(u store.User) bool { return !u.UpdatedAt.Before(bob.UpdatedAt) }},
		{"lastModified gt bob's update", cmp(store.FieldLastModified, store.OpGt, bob.UpdatedAt), func(u store.User) bool { return u.UpdatedAt.After(bob.UpdatedAt) }},
		{"lastModified pr", cmp(store.FieldLastModified, store.OpPresent, nil), func(store.User) bool { return true }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := s.ListUsers(ctx(t), org, store.UserQuery{Filter: tc.f, Count: 100})
			if err != nil {
				t.Fatalf("%v: %v", tc.f, err)
			}
			var want []string
			for _, name := range []string{"ann", "bob", "cy"} {
				u := must(s.GetUser(ctx(t), org, us[name].ID))(t)
				if tc.want(u) {
					want = append(want, name)
				}
			}
			if got := namesOf(p.Items, us); !slices.Equal(got, want) {
				t.Errorf("%v: got %v, want %v", tc.f, got, want)
			}
		})
	}
	if !slices.Contains(namesOf(must(s.ListUsers(ctx(t), org, store.UserQuery{Count: 10,
		Filter: cmp(store.FieldLastModified, store.OpGe, bob.UpdatedAt)}))(t).Items, us), "bob") {
		t.Error("lastModified ge bob's UpdatedAt misses bob")
	}
}

// namesOf maps users back to the fixture's short names, in list order.
func namesOf(items []store.User, us map[string]store.User) []string {
	var out []string
	for _, it := range items {
		name := "?" + it.UserName
		for n, u := range us {
			if u.ID == it.ID {
				name = n
			}
		}
		out = append(out, name)
	}
	return out
}

func testUserFilterErrors(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	newUser(t, s, o.ID, "ann")
	for _, f := range []store.Filter{
		cmp(store.FieldMemberValue, store.OpEq, "x"), // a group field
		cmp(store.FieldActive, store.OpCo, true),     // no such operator for a bool
		cmp(store.FieldActive, store.OpEq, "true"),   // wrong value type
		cmp(store.FieldUserName, store.OpEq, 5),      // wrong value type
		cmp(store.FieldCreated, store.OpGt, "2026"),  // wrong value type
		cmp(store.FieldCreated, store.OpCo, time.Now()),
		cmp("nickName", store.OpEq, "x"),    // unknown field
		cmp(store.FieldUserName, "xx", "x"), // unknown operator
		store.Element{Attr: "members", F: cmp(store.FieldMemberValue, store.OpEq, "x")},
		store.Element{Attr: "emails", F: cmp(store.FieldUserName, store.OpEq, "x")},
		and(cmp(store.FieldUserName, store.OpEq, "ann"), nil),
	} {
		p, err := s.ListUsers(ctx(t), o.ID, store.UserQuery{Filter: f, Count: 10})
		if err == nil {
			t.Errorf("filter %#v: no error, got %d users", f, p.Total)
		}
	}
}
