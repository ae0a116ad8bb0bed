package scim

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	elimfilter "github.com/elimity-com/scim/filter"
	"github.com/elimity-com/scim/schema"
	filter "github.com/scim2/filter-parser/v2"

	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/sqlstore"
)

// FuzzFilter drives the path a SCIM list filter takes, from the query
// parameter to the rows the store returns, and checks it against a model:
//
//   - the vendor rewrite (quirks.filter) is idempotent and never turns a
//     filter that parses into one that does not;
//   - a filter that parses either translates (toStoreFilter) into a store
//     filter that uses only the kind's fields, with operators and value types
//     that fit them, or is refused with an invalidFilter error that has a
//     detail for the client;
//   - the fast path for IdP lookups (simpleEqFilter) accepts only what the
//     general path (elimity's validation, then toStoreFilter) accepts, and
//     translates it the same way;
//   - on a real SQLite store holding users and groups chosen for the edge
//     cases (case, Unicode, LIKE wildcards, absent externalId, several
//     emails, a deleted user), the store answers every translated filter
//     without an error, with exactly the resources an in-memory evaluation
//     of the store filter (evalUser, evalGroup: the semantics that
//     store/filter.go documents) selects, and the filter and its negation
//     split the directory in two.
//
// Seeds are in testdata/fuzz/FuzzFilter. Run it with
//
//	go test ./scim -run '^$' -fuzz '^FuzzFilter$' -fuzztime 2m
func FuzzFilter(f *testing.F) {
	ctx := context.Background()
	st, err := sqlstore.Open(ctx, filepath.Join(f.TempDir(), "onramp.db"), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = st.Close() })
	dir := seedFilterDirectory(f, st)
	q := newQuirks(newResourceSchemas())
	userSchema := withCommonAttributes(UserSchema())
	groupSchema := withCommonAttributes(GroupSchema())

	f.Fuzz(func(t *testing.T, raw string, groups bool) {
		kind := userResource
		if groups {
			kind = groupResource
		}
		fs := raw
		if nf, changed := q.filter(raw); changed {
			again, changedAgain := q.filter(nf)
			if changedAgain || again != nf {
				t.Fatalf("quirks.filter is not idempotent: %q → %q → %q", raw, nf, again)
			}
			if _, err := filter.ParseFilter([]byte(raw)); err == nil {
				if _, err := filter.ParseFilter([]byte(nf)); err != nil {
					t.Fatalf("quirks.filter broke a filter that parsed: %q → %q: %v", raw, nf, err)
				}
			}
			fs = nf
		}
		fs = strings.TrimSpace(fs) // as elimity and the fast path read it

		// The general path: elimity validates against the resource's schema
		// (with the common attributes), then toStoreFilter translates.
		var general store.Filter
		generalOK := false
		s, exts := userSchema, []schema.Schema{EnterpriseUserSchema()}
		if groups {
			s, exts = groupSchema, nil
		}
		if v, err := elimfilter.NewValidator(fs, s, exts...); err == nil && v.Validate() == nil {
			sf, err := toStoreFilter(v.GetFilter(), kind)
			if err != nil {
				var bad *badRequest
				if !errors.As(err, &bad) || bad.scimType != "invalidFilter" || bad.detail == "" {
					t.Fatalf("toStoreFilter(%q) = %v; want an invalidFilter error with a detail", fs, err)
				}
			} else {
				checkStoreFilter(t, fs, sf, kind, "")
				general, generalOK = sf, true
			}
		}

		if fast, ok := simpleEqFilter(fs, kind); ok {
			if !generalOK {
				t.Fatalf("the fast path accepts %q, which the general path refuses", fs)
			}
			if !reflect.DeepEqual(fast, general) {
				t.Fatalf("filter %q: fast path %#v, general path %#v", fs, fast, general)
			}
		}
		if !generalOK {
			return
		}
		dir.check(ctx, t, st, fs, general, kind)
	})
}

// withCommonAttributes is s with id, externalId and meta, as elimity
// validates list filters (getFilterValidator).
func withCommonAttributes(s schema.Schema) schema.Schema {
	attrs := slices.Clone(s.Attributes)
	s.Attributes = append(attrs, schema.CommonAttributes()...)
	return s
}

// checkStoreFilter checks that sf uses only fields of kind (of the
// multi-valued attribute elem inside an Element), with fitting operators
// and values.
func checkStoreFilter(t *testing.T, src string, sf store.Filter, kind resourceKind, elem string) {
	t.Helper()
	fields := filterFields(kind)
	switch n := sf.(type) {
	case store.Compare:
		known := false
		for key, fld := range fields {
			if fld == n.Field && (elem == "" || strings.HasPrefix(key, elem+".")) {
				known = true
			}
		}
		if !known {
			t.Fatalf("filter %q: field %q is not a %v field (element %q)", src, n.Field, kind, elem)
		}
		if err := checkOp(n.Op, typeOf(n.Field), string(n.Field)); err != nil {
			t.Fatalf("filter %q: %v", src, err)
		}
		var typeOK bool
		switch typeOf(n.Field) {
		case textField:
			_, typeOK = n.Value.(string)
		case boolField:
			_, typeOK = n.Value.(bool)
		case timeField:
			_, typeOK = n.Value.(time.Time)
		}
		if n.Op == store.OpPresent {
			typeOK = n.Value == nil
		}
		if !typeOK {
			t.Fatalf("filter %q: %s %s has a value of type %T", src, n.Field, n.Op, n.Value)
		}
	case store.And:
		checkStoreFilter(t, src, n.Left, kind, elem)
		checkStoreFilter(t, src, n.Right, kind, elem)
	case store.Or:
		checkStoreFilter(t, src, n.Left, kind, elem)
		checkStoreFilter(t, src, n.Right, kind, elem)
	case store.Not:
		checkStoreFilter(t, src, n.F, kind, elem)
	case store.Element:
		if elem != "" || !valuePathAttr(kind, n.Attr) {
			t.Fatalf("filter %q: element %q inside %q", src, n.Attr, elem)
		}
		checkStoreFilter(t, src, n.F, kind, n.Attr)
	default:
		t.Fatalf("filter %q: node %T", src, sf)
	}
}

// filterDirectory is what seedFilterDirectory stored: the organization and
// its live users and groups as the store reads them back.
type filterDirectory struct {
	org     store.OrgID
	users   []store.User
	groups  []store.Group
	members map[store.GroupID][]store.UserID
}

// seedFilterDirectory fills an organization with users and groups picked for
// the filter semantics' edge cases.
func seedFilterDirectory(tb testing.TB, st *sqlstore.Store) *filterDirectory {
	tb.Helper()
	ctx := context.Background()
	ev := store.AuditEvent{Actor: "operator", Action: "test.setup"}
	org, err := st.CreateOrg(ctx, store.Org{Slug: "acme", Name: "Acme"}, ev)
	if err != nil {
		tb.Fatal(err)
	}
	// Another organization's look-alike must never be returned.
	other, err := st.CreateOrg(ctx, store.Org{Slug: "other", Name: "Other"}, ev)
	if err != nil {
		tb.Fatal(err)
	}
	users := []store.User{
		{UserName: "barbara.jensen@example.com", ExternalID: "bjensen", DisplayName: "Babs Jensen", Active: true,
			Emails: []store.Email{{Value: "bjensen@example.com", Type: "work", Primary: true}, {Value: "babs@jensen.org", Type: "home"}}},
		{UserName: "Test.User@okta.local", ExternalID: "00u1ABC", DisplayName: "Test User", Active: true,
			Emails: []store.Email{{Value: "Test.User@OKTA.local", Type: "Work", Primary: true}}},
		{UserName: "jyoung", DisplayName: "", Active: false,
			Emails: []store.Email{{Value: "jyoung@contoso.com", Type: "work"}, {Value: "jy@contoso.com", Type: ""}}},
		{UserName: "Jürgen.Ärger@beispiel.de", ExternalID: "ÄRGER-1", DisplayName: "Jürgen Ärger", Active: true},
		{UserName: "100%_off\\sale@example.com", ExternalID: "a_b%c\\d", DisplayName: "Per%cent_Under\\score", Active: true,
			Emails: []store.Email{{Value: "100%_off\\sale@example.com", Type: "work", Primary: true}}},
		{UserName: "STRASSE@example.com", ExternalID: "abc", DisplayName: "Straße ẞ", Active: true,
			Emails: []store.Email{{Value: "strasse@example.com", Type: "other", Primary: false}}},
	}
	d := &filterDirectory{org: org.ID, members: map[store.GroupID][]store.UserID{}}
	for _, u := range users {
		u.OrgID = org.ID
		created, err := st.CreateUser(ctx, u, ev)
		if err != nil {
			tb.Fatalf("create user %q: %v", u.UserName, err)
		}
		d.users = append(d.users, created)
		u.OrgID = other.ID
		if _, err := st.CreateUser(ctx, u, ev); err != nil {
			tb.Fatalf("create user %q in the other organization: %v", u.UserName, err)
		}
	}
	deleted, err := st.CreateUser(ctx, store.User{OrgID: org.ID, UserName: "deleted@example.com", ExternalID: "gone", Active: true,
		Emails: []store.Email{{Value: "deleted@example.com", Type: "work", Primary: true}}}, ev)
	if err != nil {
		tb.Fatal(err)
	}
	if err := st.DeleteUser(ctx, org.ID, deleted.ID, ev); err != nil {
		tb.Fatal(err)
	}
	groups := []struct {
		g       store.Group
		members []int
	}{
		{store.Group{DisplayName: "Engineering", ExternalID: "eng-1"}, []int{0, 1, 3}},
		{store.Group{DisplayName: "Test SCIMv2"}, []int{2}},
		{store.Group{DisplayName: "Ärger_100%"}, nil},
	}
	for _, g := range groups {
		g.g.OrgID = org.ID
		var ids []store.UserID
		for _, i := range g.members {
			ids = append(ids, d.users[i].ID)
		}
		created, err := st.CreateGroup(ctx, g.g, ids, ev)
		if err != nil {
			tb.Fatalf("create group %q: %v", g.g.DisplayName, err)
		}
		d.groups = append(d.groups, created)
		d.members[created.ID] = ids
	}
	// Read everything back: the model evaluates what the store holds (times
	// in whole microseconds).
	page, err := st.ListUsers(ctx, org.ID, store.UserQuery{Count: store.MaxPageSize})
	if err != nil || len(page.Items) != len(users) {
		tb.Fatalf("list users: %d, %v", len(page.Items), err)
	}
	d.users = page.Items
	gpage, err := st.ListGroups(ctx, org.ID, store.GroupQuery{Count: store.MaxPageSize})
	if err != nil || len(gpage.Items) != len(groups) {
		tb.Fatalf("list groups: %d, %v", len(gpage.Items), err)
	}
	d.groups = gpage.Items
	return d
}

// check runs sf and its negation on the store and compares both with the
// model.
func (d *filterDirectory) check(ctx context.Context, t *testing.T, st *sqlstore.Store, src string, sf store.Filter, kind resourceKind) {
	t.Helper()
	var all, want []string
	got := func(f store.Filter) []string {
		var ids []string
		if kind == groupResource {
			page, err := st.ListGroups(ctx, d.org, store.GroupQuery{Filter: f, Count: store.MaxPageSize})
			if err != nil {
				t.Fatalf("filter %q (%v): store error %v", src, f, err)
			}
			for _, g := range page.Items {
				ids = append(ids, string(g.ID))
			}
			if page.Total != len(ids) {
				t.Fatalf("filter %q: total %d for %d groups", src, page.Total, len(ids))
			}
			return ids
		}
		page, err := st.ListUsers(ctx, d.org, store.UserQuery{Filter: f, Count: store.MaxPageSize})
		if err != nil {
			t.Fatalf("filter %q (%v): store error %v", src, f, err)
		}
		for _, u := range page.Items {
			ids = append(ids, string(u.ID))
		}
		if page.Total != len(ids) {
			t.Fatalf("filter %q: total %d for %d users", src, page.Total, len(ids))
		}
		return ids
	}
	if kind == groupResource {
		for _, g := range d.groups {
			all = append(all, string(g.ID))
			if d.evalGroup(sf, g) {
				want = append(want, string(g.ID))
			}
		}
	} else {
		for _, u := range d.users {
			all = append(all, string(u.ID))
			if evalUser(sf, u, nil) {
				want = append(want, string(u.ID))
			}
		}
	}
	yes, no := got(sf), got(store.Not{F: sf})
	slices.Sort(yes)
	slices.Sort(want)
	if !slices.Equal(yes, want) {
		t.Fatalf("filter %q (%#v): store returned %q, the model selects %q", src, sf, yes, want)
	}
	split := append(slices.Clone(yes), no...)
	slices.Sort(split)
	slices.Sort(all)
	if !slices.Equal(split, all) {
		t.Fatalf("filter %q: it selects %q and its negation %q; together they should be every resource once (%q)", src, yes, no, all)
	}
}

// evalUser is the model of the store's filter semantics on a user; inside
// an Element, email is the element under test.
func evalUser(f store.Filter, u store.User, email *store.Email) bool {
	switch n := f.(type) {
	case store.And:
		return evalUser(n.Left, u, email) && evalUser(n.Right, u, email)
	case store.Or:
		return evalUser(n.Left, u, email) || evalUser(n.Right, u, email)
	case store.Not:
		return !evalUser(n.F, u, email)
	case store.Element:
		for _, e := range u.Emails {
			if evalUser(n.F, u, &e) {
				return true
			}
		}
		return false
	case store.Compare:
		switch n.Field {
		case store.FieldID:
			return compareText(n, string(u.ID), true, false)
		case store.FieldExternalID:
			return compareText(n, u.ExternalID, u.ExternalID != "", false)
		case store.FieldUserName:
			return compareText(n, u.UserName, true, true)
		case store.FieldDisplayName:
			return compareText(n, u.DisplayName, true, true)
		case store.FieldActive:
			return compareBool(n, u.Active)
		case store.FieldCreated:
			return compareTime(n, u.CreatedAt)
		case store.FieldLastModified:
			return compareTime(n, u.UpdatedAt)
		}
		elem := func(e store.Email, c store.Compare) bool {
			switch c.Field {
			case store.FieldEmailValue:
				return compareText(c, e.Value, true, true)
			case store.FieldEmailType:
				return compareText(c, e.Type, true, true)
			case store.FieldEmailPrimary:
				return compareBool(c, e.Primary)
			}
			panic(fmt.Sprintf("evalUser: field %q", c.Field))
		}
		if email != nil {
			return elem(*email, n)
		}
		// A multi-valued attribute holds when some element does; ne holds
		// when no element equals the value.
		c := n
		if n.Op == store.OpNe {
			c.Op = store.OpEq
		}
		some := slices.ContainsFunc(u.Emails, func(e store.Email) bool { return elem(e, c) })
		if n.Op == store.OpNe {
			return !some
		}
		return some
	}
	panic(fmt.Sprintf("evalUser: node %T", f))
}

// evalGroup is the model on a group.
func (d *filterDirectory) evalGroup(f store.Filter, g store.Group) bool {
	members := d.members[g.ID]
	memberIs := func(c store.Compare) bool {
		// members.value compares exactly; ne holds when no member equals.
		eq := c
		if c.Op == store.OpNe {
			eq.Op = store.OpEq
		}
		some := slices.ContainsFunc(members, func(id store.UserID) bool { return compareText(eq, string(id), true, false) })
		if c.Op == store.OpNe {
			return !some
		}
		return some
	}
	switch n := f.(type) {
	case store.And:
		return d.evalGroup(n.Left, g) && d.evalGroup(n.Right, g)
	case store.Or:
		return d.evalGroup(n.Left, g) || d.evalGroup(n.Right, g)
	case store.Not:
		return !d.evalGroup(n.F, g)
	case store.Element:
		return slices.ContainsFunc(members, func(id store.UserID) bool { return evalMember(n.F, id) })
	case store.Compare:
		switch n.Field {
		case store.FieldID:
			return compareText(n, string(g.ID), true, false)
		case store.FieldExternalID:
			return compareText(n, g.ExternalID, g.ExternalID != "", false)
		case store.FieldDisplayName:
			return compareText(n, g.DisplayName, true, true)
		case store.FieldCreated:
			return compareTime(n, g.CreatedAt)
		case store.FieldLastModified:
			return compareTime(n, g.UpdatedAt)
		case store.FieldMemberValue:
			return memberIs(n)
		}
	}
	panic(fmt.Sprintf("evalGroup: node %T %v", f, f))
}

// evalMember is the model inside members[…]: one member, by user ID.
func evalMember(f store.Filter, id store.UserID) bool {
	switch n := f.(type) {
	case store.And:
		return evalMember(n.Left, id) && evalMember(n.Right, id)
	case store.Or:
		return evalMember(n.Left, id) || evalMember(n.Right, id)
	case store.Not:
		return !evalMember(n.F, id)
	case store.Compare:
		return compareText(n, string(id), true, false)
	}
	panic(fmt.Sprintf("evalMember: node %T", f))
}

// compareText compares a text field: present says whether it has a value
// (externalId may be absent: then only ne holds), fold whether it compares
// case-insensitively (strings.ToLower on both sides, as the store does).
func compareText(c store.Compare, field string, present, fold bool) bool {
	if c.Op == store.OpPresent {
		return present && field != ""
	}
	if !present {
		return c.Op == store.OpNe
	}
	v, _ := c.Value.(string)
	if fold {
		field, v = strings.ToLower(field), strings.ToLower(v)
	}
	switch c.Op {
	case store.OpEq:
		return field == v
	case store.OpNe:
		return field != v
	case store.OpCo:
		return strings.Contains(field, v)
	case store.OpSw:
		return strings.HasPrefix(field, v)
	case store.OpEw:
		return strings.HasSuffix(field, v)
	case store.OpGt:
		return field > v
	case store.OpGe:
		return field >= v
	case store.OpLt:
		return field < v
	case store.OpLe:
		return field <= v
	}
	panic(fmt.Sprintf("compareText: op %q", c.Op))
}

func compareBool(c store.Compare, field bool) bool {
	switch c.Op {
	case store.OpPresent:
		return true
	case store.OpEq:
		return field == c.Value.(bool)
	case store.OpNe:
		return field != c.Value.(bool)
	}
	panic(fmt.Sprintf("compareBool: op %q", c.Op))
}

// compareTime compares a stored time (whole microseconds) with the filter's
// instant, exactly.
func compareTime(c store.Compare, field time.Time) bool {
	if c.Op == store.OpPresent {
		return true
	}
	v := c.Value.(time.Time)
	switch c.Op {
	case store.OpEq:
		return field.Equal(v)
	case store.OpNe:
		return !field.Equal(v)
	case store.OpGt:
		return field.After(v)
	case store.OpGe:
		return !field.Before(v)
	case store.OpLt:
		return field.Before(v)
	case store.OpLe:
		return !field.After(v)
	}
	panic(fmt.Sprintf("compareTime: op %q", c.Op))
}
