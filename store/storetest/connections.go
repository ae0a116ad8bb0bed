package storetest

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

func connectionTests() []test {
	return []test{
		{"CreateGetRoundTrip", testConnRoundTrip},
		{"DuplicateSlugInOrgIsConflict", testConnDuplicateSlug},
		{"UnknownOrgIsInvalidReference", testConnUnknownOrg},
		{"UpdateSlugRenamesAccessListEntry", testConnRename},
		{"DeleteTakesTokensIdentitiesAndAccessEntry", testConnDelete},
	}
}

func testConnRoundTrip(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	in := store.Connection{
		OrgID: o.ID, Slug: "okta", Name: "Okta", IdPMetadataXML: "<md:EntityDescriptor/>",
		JITProvisioning: true, AllowIdPInitiated: true, MappingPreset: "okta",
		Mapping: json.RawMessage(`{"role":"groups"}`), SPCertPEM: "CERT", SPKeyPEM: "KEY",
		SPNextCertPEM: "NEXT CERT", SPNextKeyPEM: "NEXT KEY",
	}
	c := must(s.CreateConnection(ctx(t), in, store.AuditEvent{Actor: "operator"}))(t)
	for _, got := range []store.Connection{
		c,
		must(s.GetConnection(ctx(t), c.ID))(t),
		must(s.GetConnectionBySlug(ctx(t), o.ID, "okta"))(t),
	} {
		if got.ID != c.ID || got.OrgID != o.ID || got.Slug != in.Slug || got.Name != in.Name ||
			got.IdPMetadataXML != in.IdPMetadataXML || !got.JITProvisioning || !got.AllowIdPInitiated ||
			got.MappingPreset != "okta" || string(got.Mapping) != string(in.Mapping) ||
			got.SPCertPEM != "CERT" || got.SPKeyPEM != "KEY" || got.SPNextCertPEM != "NEXT CERT" || got.SPNextKeyPEM != "NEXT KEY" ||
			!got.CreatedAt.Equal(c.CreatedAt) {
			t.Errorf("connection = %+v, want %+v", got, in)
		}
	}
	// A rollover's second pair is swapped in and dropped by updates.
	up := must(s.UpdateConnection(ctx(t), c.ID, func(x *store.Connection) error {
		x.SPCertPEM, x.SPKeyPEM, x.SPNextCertPEM, x.SPNextKeyPEM = x.SPNextCertPEM, x.SPNextKeyPEM, "", ""
		return nil
	}, store.AuditEvent{Actor: "operator"}))(t)
	if got := must(s.GetConnection(ctx(t), c.ID))(t); got.SPCertPEM != "NEXT CERT" || got.SPKeyPEM != "NEXT KEY" ||
		got.SPNextCertPEM != "" || got.SPNextKeyPEM != "" || !got.UpdatedAt.Equal(up.UpdatedAt) {
		t.Errorf("connection after the swap = %+v", got)
	}
	_, err := s.GetConnection(ctx(t), "nope")
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetConnectionBySlug(ctx(t), "other-org", "okta")
	wantErr(t, err, store.ErrNotFound)
	list := must(s.ListConnections(ctx(t), o.ID))(t)
	if len(list) != 1 || list[0].ID != c.ID {
		t.Errorf("ListConnections = %+v", list)
	}
}

func testConnDuplicateSlug(t *testing.T, s store.Store) {
	a, b := newOrg(t, s, "a"), newOrg(t, s, "b")
	newConn(t, s, a.ID, "okta")
	_, err := s.CreateConnection(ctx(t), store.Connection{OrgID: a.ID, Slug: "okta"}, store.AuditEvent{})
	wantErr(t, err, store.ErrConflict)
	newConn(t, s, b.ID, "okta") // another organization may use the slug
}

func testConnUnknownOrg(t *testing.T, s store.Store) {
	_, err := s.CreateConnection(ctx(t), store.Connection{OrgID: "no-such-org", Slug: "okta"}, store.AuditEvent{})
	wantErr(t, err, store.ErrInvalidReference)
}

func testConnRename(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	c := newConn(t, s, o.ID, "okta")
	must(s.UpdateOrg(ctx(t), o.ID, func(x *store.Org) error {
		x.Access.SSOConnections = []string{"entra", "okta"}
		return nil
	}, store.AuditEvent{}))(t)
	up := must(s.UpdateConnection(ctx(t), c.ID, func(x *store.Connection) error {
		x.Slug = "okta-prod"
		x.OrgID = "hijack"
		return nil
	}, store.AuditEvent{}))(t)
	if up.Slug != "okta-prod" || up.OrgID != o.ID {
		t.Errorf("updated connection = %+v", up)
	}
	if got := must(s.GetOrg(ctx(t), o.ID))(t).Access.SSOConnections; !slices.Equal(got, []string{"entra", "okta-prod"}) {
		t.Errorf("access list after rename = %v", got)
	}
}

func testConnDelete(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	c := newConn(t, s, o.ID, "okta")
	keep := newConn(t, s, o.ID, "entra")
	must(s.UpdateOrg(ctx(t), o.ID, func(x *store.Org) error {
		x.Access.SSOConnections = []string{"entra", "okta"}
		return nil
	}, store.AuditEvent{}))(t)
	u := newUser(t, s, o.ID, "ann", func(u *store.User) { u.ConnectionID = c.ID })
	check(t, s.LinkIdentity(ctx(t), store.Identity{ConnectionID: c.ID, NameID: "ann", OrgID: o.ID, UserID: u.ID}, store.AuditEvent{}))
	tok := must(s.CreateToken(ctx(t), store.Token{ID: "tok1", OrgID: o.ID, ConnectionID: c.ID, Kind: store.TokenSCIM, Hash: []byte{1}}, store.AuditEvent{}))(t)

	check(t, s.DeleteConnection(ctx(t), c.ID, store.AuditEvent{Actor: "operator"}))

	_, err := s.GetConnection(ctx(t), c.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetToken(ctx(t), tok.ID)
	wantErr(t, err, store.ErrNotFound)
	_, err = s.GetIdentity(ctx(t), c.ID, "ann")
	wantErr(t, err, store.ErrNotFound)
	if got := must(s.GetOrg(ctx(t), o.ID))(t).Access.SSOConnections; !slices.Equal(got, []string{"entra"}) {
		t.Errorf("access list after delete = %v, want [entra]", got)
	}
	if _, err := s.GetUser(ctx(t), o.ID, u.ID); err != nil {
		t.Errorf("the connection's user went with it: %v", err)
	}
	must(s.GetConnection(ctx(t), keep.ID))(t)
	if evs := events(t, s, o.ID, "connection.deleted"); len(evs) != 1 || evs[0].ConnectionID != c.ID {
		t.Errorf("connection.deleted events = %+v", evs)
	}
	wantErr(t, s.DeleteConnection(ctx(t), c.ID, store.AuditEvent{}), store.ErrNotFound)
}
