package scim

import (
	"bytes"
	"net/http"
	"net/url"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

func TestSimpleEqFilter(t *testing.T) {
	tests := []struct {
		in   string
		want store.Filter // nil: not recognised
	}{
		{`userName eq "bjensen@example.com"`, store.Compare{Field: store.FieldUserName, Op: store.OpEq, Value: "bjensen@example.com"}},
		{`USERNAME EQ "B"`, store.Compare{Field: store.FieldUserName, Op: store.OpEq, Value: "B"}},
		{`externalId eq "00u1"`, store.Compare{Field: store.FieldExternalID, Op: store.OpEq, Value: "00u1"}},
		{`id eq "abc"`, store.Compare{Field: store.FieldID, Op: store.OpEq, Value: "abc"}},
		{`userName eq "Zoë"`, store.Compare{Field: store.FieldUserName, Op: store.OpEq, Value: "Zoë"}},
		{`userName eq ""`, store.Compare{Field: store.FieldUserName, Op: store.OpEq, Value: ""}},
		// The general path's business.
		{`userName ne "x"`, nil},
		{`userName  eq "x"`, nil},
		{`userName eq "a\"b"`, nil},
		{`userName eq "a\\b"`, nil},
		{`userName eq x`, nil},
		{`userName eq "x" and active eq true`, nil},
		{`displayName eq "x"`, nil},
		{`emails.value eq "x"`, nil},
		{`urn:ietf:params:scim:schemas:core:2.0:User:userName eq "x"`, nil},
		{`userName eq "x`, nil},
		{`userName eq "`, nil},
		{``, nil},
	}
	for _, tt := range tests {
		got, ok := simpleEqFilter(tt.in, userResource)
		if ok != (tt.want != nil) || (ok && got != tt.want) {
			t.Errorf("simpleEqFilter(%q) = %v, %v; want %v", tt.in, got, ok, tt.want)
		}
	}
	if _, ok := simpleEqFilter(`id eq "x"`, groupResource); ok {
		t.Error("simpleEqFilter recognised a group filter")
	}
}

// TestFastUserListMatchesElimity sends each lookup twice, through the fast path
// and through elimity, and wants the same answer byte for byte.
func TestFastUserListMatchesElimity(t *testing.T) {
	h := newHarness(t)
	tf := h.acme
	id := h.createUser(tf, "bjensen@example.com")
	h.createUser(tf, "zoë@example.com")
	r := h.do(tf.token, http.MethodPost, "/Users", map[string]any{
		"schemas":    []string{UserSchemaURI, EnterpriseUserSchemaURI},
		"userName":   "ext@example.com",
		"externalId": "00u-ext",
		"emails":     []any{map[string]any{"value": "ext@example.com", "type": "work"}},
		EnterpriseUserSchemaURI: map[string]any{
			"department": "Sales",
			"manager":    map[string]any{"value": id},
		},
	})
	if r.status != http.StatusCreated {
		t.Fatalf("create: %d %s", r.status, r.body)
	}
	r = h.do(tf.token, http.MethodPost, "/Groups", map[string]any{
		"schemas": []string{GroupSchemaURI}, "displayName": "Admins",
		"members": []any{map[string]any{"value": id}},
	})
	if r.status != http.StatusCreated {
		t.Fatalf("create group: %d %s", r.status, r.body)
	}

	queries := []url.Values{
		{"filter": {`userName eq "bjensen@example.com"`}},
		{"filter": {`userName eq "BJENSEN@example.com"`}, "count": {"1"}},
		{"filter": {`USERNAME Eq "zoë@example.com"`}},
		{"filter": {`userName eq "nobody@example.com"`}},
		{"filter": {`externalId eq "00u-ext"`}},
		{"filter": {`id eq "` + id + `"`}},
		{"filter": {`userName eq "bjensen@example.com"`}, "startIndex": {"2"}},
		{"filter": {`userName eq "bjensen@example.com"`}, "startIndex": {"-3"}, "count": {"5000"}},
		{"filter": {`userName eq "bjensen@example.com"`}, "count": {"0"}},
		{"filter": {`userName eq "bjensen@example.com"`}, "attributes": {"userName,emails"}},
		{"filter": {`userName eq "bjensen@example.com"`}, "excludedAttributes": {"groups"}},
		{"filter": {`externalId eq "00u-ext"`}, "attributes": {EnterpriseUserSchemaURI + ":department"}},
		{"filter": {`userName eq "bjensen@example.com"`}, "count": {"x"}},
	}
	for _, q := range queries {
		path := "/Users?" + q.Encode()
		if _, ok := simpleEqFilter(q.Get("filter"), userResource); !ok {
			t.Fatalf("%s: not a fast-path filter; fix the test", path)
		}
		h.handler.noFastList.Store(false)
		fast := h.do(tf.token, http.MethodGet, path, nil)
		h.handler.noFastList.Store(true)
		slow := h.do(tf.token, http.MethodGet, path, nil)
		if fast.status != slow.status || !bytes.Equal(fast.body, slow.body) {
			t.Errorf("%s:\nfast %d %s\nslow %d %s", path, fast.status, fast.body, slow.status, slow.body)
		}
		if a, b := fast.header.Get("Content-Type"), slow.header.Get("Content-Type"); a != b {
			t.Errorf("%s: Content-Type %q, elimity %q", path, a, b)
		}
	}
}
