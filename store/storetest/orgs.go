package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

func orgTests() []test {
	return []test{
		{"CreateGetRoundTrip", testOrgRoundTrip},
		{"DuplicateSlugIsConflict", testOrgDuplicateSlug},
		{"GetUnknownIsNotFound", testOrgUnknown},
		{"ListOrderedBySlug", testOrgList},
		{"UpdateAppliesFnKeepsIdentity", testOrgUpdate},
		{"UpdateFnErrorWritesNothing", testOrgUpdateFnError},
	}
}

func testOrgRoundTrip(t *testing.T, s store.Store) {
	in := store.Org{
		Slug: "acme", Name: "Acme Corp",
		Onboarding: store.Onboarding{JITEmailDomains: true, JITSSOConnections: true},
		Access: store.AccessControl{
			EmailDomains:   []string{"Acme-Corp.com", "acme.example", "acme-corp.com"},
			SSOConnections: []string{"okta", "entra", "okta"},
		},
	}
	o := must(s.CreateOrg(ctx(t), in, store.AuditEvent{Actor: "operator"}))(t)
	if o.ID == "" || o.CreatedAt.IsZero() || !o.UpdatedAt.Equal(o.CreatedAt) {
		t.Fatalf("created org %+v: want an ID and CreatedAt = UpdatedAt", o)
	}
	wantAccess := store.AccessControl{
		EmailDomains:   []string{"acme-corp.com", "acme.example"},
		SSOConnections: []string{"entra", "okta"},
	}
	for _, got := range []store.Org{
		o,
		must(s.GetOrg(ctx(t), o.ID))(t),
		must(s.GetOrgBySlug(ctx(t), "acme"))(t),
	} {
		if got.ID != o.ID || got.Slug != "acme" || got.Name != "Acme Corp" || got.Onboarding != in.Onboarding {
			t.Errorf("org = %+v, want %+v", got, in)
		}
		if !slices.Equal(got.Access.EmailDomains, wantAccess.EmailDomains) ||
			!slices.Equal(got.Access.SSOConnections, wantAccess.SSOConnections) {
			t.Errorf("access = %+v, want normalised %+v", got.Access, wantAccess)
		}
		if !got.CreatedAt.Equal(o.CreatedAt) || got.CreatedAt.Location() != time.UTC {
			t.Errorf("CreatedAt = %v, want %v in UTC", got.CreatedAt, o.CreatedAt)
		}
	}
}

func testOrgDuplicateSlug(t *testing.T, s store.Store) {
	newOrg(t, s, "acme")
	_, err := s.CreateOrg(ctx(t), store.Org{Slug: "acme", Name: "Other"}, store.AuditEvent{})
	wantErr(t, err, store.ErrConflict)
	other := newOrg(t, s, "other")
	_, err = s.UpdateOrg(ctx(t), other.ID, func(o *store.Org) error { o.Slug = "acme"; return nil }, store.AuditEvent{})
	wantErr(t, err, store.ErrConflict)
}

func testOrgUnknown(t *testing.T, s store.Store) {
	_, err := s.GetOrg(ctx(t), "no-such-org")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetOrgBySlug(ctx(t), "nope")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.UpdateOrg(ctx(t), "no-such-org", func(*store.Org) error { return nil }, store.AuditEvent{})
	wantErr(t, err, store.ErrNotFound)
}

func testOrgList(t *testing.T, s store.Store) {
	for _, slug := range []string{"charlie", "alpha", "bravo"} {
		newOrg(t, s, slug)
	}
	var got []string
	for _, o := range must(s.ListOrgs(ctx(t)))(t) {
		got = append(got, o.Slug)
	}
	if want := []string{"alpha", "bravo", "charlie"}; !slices.Equal(got, want) {
		t.Errorf("ListOrgs = %v, want %v", got, want)
	}
}

func testOrgUpdate(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	up := must(s.UpdateOrg(ctx(t), o.ID, func(x *store.Org) error {
		x.ID = "hijack"
		x.Name = "Acme 2"
		x.Onboarding.JITEmailDomains = true
		x.Access.EmailDomains = []string{"ACME.com"}
		return nil
	}, store.AuditEvent{Actor: "operator", Action: "org.updated"}))(t)
	if up.ID != o.ID || up.Name != "Acme 2" || !up.Onboarding.JITEmailDomains || !up.CreatedAt.Equal(o.CreatedAt) {
		t.Errorf("updated org = %+v", up)
	}
	if up.UpdatedAt.Before(o.UpdatedAt) {
		t.Errorf("UpdatedAt went back: %v < %v", up.UpdatedAt, o.UpdatedAt)
	}
	got := must(s.GetOrg(ctx(t), o.ID))(t)
	if got.Name != "Acme 2" || !slices.Equal(got.Access.EmailDomains, []string{"acme.com"}) {
		t.Errorf("stored org = %+v", got)
	}
	if evs := events(t, s, o.ID, "org.updated"); len(evs) != 1 || evs[0].OrgID != o.ID {
		t.Errorf("org.updated events = %+v, want one for the org", evs)
	}
}

func testOrgUpdateFnError(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	boom := errors.New("boom")
	_, err := s.UpdateOrg(ctx(t), o.ID, func(x *store.Org) error { x.Name = "changed"; return boom }, store.AuditEvent{Action: "org.renamed"})
	wantErr(t, err, boom)
	if got := must(s.GetOrg(ctx(t), o.ID))(t); got.Name != o.Name || !got.UpdatedAt.Equal(o.UpdatedAt) {
		t.Errorf("org changed by a failed update: %+v", got)
	}
	if evs := events(t, s, o.ID, "org.renamed"); len(evs) != 0 {
		t.Errorf("failed update left audit events: %+v", evs)
	}
}
