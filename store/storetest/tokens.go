package storetest

import (
	"bytes"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

func tokenTests() []test {
	return []test{
		{"CreateGetList", testTokenRoundTrip},
		{"DuplicateIDIsConflict", testTokenDuplicate},
		{"RevokeSetsRevokedAtOnce", testTokenRevoke},
		{"ConnectionOfAnotherOrgIsInvalidReference", testTokenCrossOrg},
	}
}

func testTokenRoundTrip(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	c := newConn(t, s, o.ID, "okta")
	hash := []byte{0xde, 0xad, 0xbe, 0xef}
	in := store.Token{ID: "tok-scim", OrgID: o.ID, ConnectionID: c.ID, Kind: store.TokenSCIM, Hash: hash, Description: "Okta push"}
	tok := must(s.CreateToken(ctx(t), in, store.AuditEvent{Actor: "operator"}))(t)
	hash[0] = 0 // the store keeps its own copy
	admin := must(s.CreateToken(ctx(t), store.Token{ID: "tok-admin", OrgID: o.ID, Kind: store.TokenAdmin, Hash: []byte{1}}, store.AuditEvent{}))(t)
	got := must(s.GetToken(ctx(t), "tok-scim"))(t)
	if got.ID != "tok-scim" || got.OrgID != o.ID || got.ConnectionID != c.ID || got.Kind != store.TokenSCIM ||
		!bytes.Equal(got.Hash, []byte{0xde, 0xad, 0xbe, 0xef}) || got.Description != "Okta push" ||
		!got.CreatedAt.Equal(tok.CreatedAt) || got.RevokedAt != nil {
		t.Errorf("token = %+v", got)
	}
	if a := must(s.GetToken(ctx(t), admin.ID))(t); a.ConnectionID != "" || a.Kind != store.TokenAdmin {
		t.Errorf("admin token = %+v", a)
	}
	list := must(s.ListTokens(ctx(t), o.ID))(t)
	if len(list) != 2 {
		t.Errorf("ListTokens = %+v, want 2", list)
	}
	_, err := s.GetToken(ctx(t), "nope")
	wantErr(t, err, store.ErrNotFound)
	if evs := events(t, s, o.ID, "token.created"); len(evs) != 2 {
		t.Errorf("token.created events = %+v", evs)
	}
}

func testTokenDuplicate(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	must(s.CreateToken(ctx(t), store.Token{ID: "t1", OrgID: o.ID, Kind: store.TokenAdmin, Hash: []byte{1}}, store.AuditEvent{}))(t)
	_, err := s.CreateToken(ctx(t), store.Token{ID: "t1", OrgID: o.ID, Kind: store.TokenAdmin, Hash: []byte{2}}, store.AuditEvent{})
	wantErr(t, err, store.ErrConflict)
}

func testTokenRevoke(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	must(s.CreateToken(ctx(t), store.Token{ID: "t1", OrgID: o.ID, Kind: store.TokenAdmin, Hash: []byte{1}}, store.AuditEvent{}))(t)
	wantErr(t, s.RevokeToken(ctx(t), "other-org", "t1", store.AuditEvent{}), store.ErrNotFound)
	wantErr(t, s.RevokeToken(ctx(t), o.ID, "nope", store.AuditEvent{}), store.ErrNotFound)
	check(t, s.RevokeToken(ctx(t), o.ID, "t1", store.AuditEvent{Actor: "operator"}))
	first := must(s.GetToken(ctx(t), "t1"))(t).RevokedAt
	if first == nil {
		t.Fatal("RevokedAt not set")
	}
	check(t, s.RevokeToken(ctx(t), o.ID, "t1", store.AuditEvent{}))
	if again := must(s.GetToken(ctx(t), "t1"))(t).RevokedAt; again == nil || !again.Equal(*first) {
		t.Errorf("second revoke moved RevokedAt from %v to %v", first, again)
	}
	if evs := events(t, s, o.ID, "token.revoked"); len(evs) != 1 {
		t.Errorf("token.revoked events = %+v, want 1", evs)
	}
}

func testTokenCrossOrg(t *testing.T, s store.Store) {
	a, b := newOrg(t, s, "a"), newOrg(t, s, "b")
	cb := newConn(t, s, b.ID, "okta")
	_, err := s.CreateToken(ctx(t), store.Token{ID: "t1", OrgID: a.ID, ConnectionID: cb.ID, Kind: store.TokenSCIM, Hash: []byte{1}}, store.AuditEvent{})
	wantErr(t, err, store.ErrInvalidReference)
	_, err = s.CreateToken(ctx(t), store.Token{ID: "t2", OrgID: a.ID, ConnectionID: "no-such-conn", Kind: store.TokenSCIM, Hash: []byte{1}}, store.AuditEvent{})
	wantErr(t, err, store.ErrInvalidReference)
}
