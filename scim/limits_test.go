package scim

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// smallRail holds past max(3, 10%) de-provisionings an hour, so that tests
// need few users.
func smallRail() Limits {
	return Limits{Deprovision: store.DeprovisionLimit{Share: 0.1, Minimum: 3, Window: time.Hour}}
}

func deactivateBody() map[string]any {
	return map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": false}},
	}
}

func reactivateBody() map[string]any {
	return map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "active", "value": true}},
	}
}

// wantSCIMError checks a SCIM error answer's status and that its detail
// contains each of details.
func wantSCIMError(t *testing.T, r response, status int, details ...string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status = %d, want %d: %s", r.status, status, r.body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/scim+json" {
		t.Errorf("Content-Type = %q", ct)
	}
	doc := r.json(t)
	if s, _ := doc["schemas"].([]any); len(s) != 1 || s[0] != "urn:ietf:params:scim:api:messages:2.0:Error" {
		t.Errorf("schemas = %v", doc["schemas"])
	}
	if doc["status"] != itoa(status) {
		t.Errorf("status field = %v, want %q", doc["status"], itoa(status))
	}
	detail, _ := doc["detail"].(string)
	for _, d := range details {
		if !strings.Contains(detail, d) {
			t.Errorf("detail %q lacks %q", detail, d)
		}
	}
	return doc
}

func itoa(n int) string {
	b := []byte{}
	for n > 0 {
		b = append([]byte{byte('0' + n%10)}, b...)
		n /= 10
	}
	return string(b)
}

func TestMassDeprovisioningIsHeld(t *testing.T) {
	h := newHarness(t, harnessOptions{limits: smallRail()})
	var ids []string
	for i := range 10 {
		ids = append(ids, h.createUser(h.acme, "user"+itoa(i+1)+"@acme.test"))
	}
	// Three of ten may go (the minimum is larger than 10%).
	for _, id := range ids[:3] {
		if r := h.do(h.acme.token, http.MethodPatch, "/Users/"+id, deactivateBody()); r.status != http.StatusOK {
			t.Fatalf("deactivate %s: %d %s", id, r.status, r.body)
		}
	}
	before := h.storedUser(h.acme, ids[3])
	r := h.do(h.acme.token, http.MethodPatch, "/Users/"+ids[3], deactivateBody())
	wantSCIMError(t, r, http.StatusTooManyRequests, "held", "3 of the organization's 10 active users", "Admin", "release")
	if ra := r.header.Get("Retry-After"); ra != "300" {
		t.Errorf("Retry-After = %q, want 300", ra)
	}
	after := h.storedUser(h.acme, ids[3])
	if !after.Active || after.Version != before.Version {
		t.Errorf("held PATCH changed the user: active %v version %d (was %d)", after.Active, after.Version, before.Version)
	}

	// Every other way of de-provisioning is held too, and changes nothing.
	put := map[string]any{"schemas": []string{UserSchemaURI}, "userName": "user5@acme.test", "active": false}
	wantSCIMError(t, h.do(h.acme.token, http.MethodPut, "/Users/"+ids[4], put), http.StatusTooManyRequests, "held")
	wantSCIMError(t, h.do(h.acme.token, http.MethodDelete, "/Users/"+ids[5], nil), http.StatusTooManyRequests, "held")
	if u := h.storedUser(h.acme, ids[5]); u.DeletedAt != nil || !u.Active {
		t.Errorf("held DELETE changed the user: %+v", u)
	}
	if u := h.storedUser(h.acme, ids[4]); !u.Active {
		t.Errorf("held PUT deactivated the user")
	}

	// Other writes of the token go on: an update, a reactivation, a create.
	rename := map[string]any{
		"schemas":    []string{"urn:ietf:params:scim:api:messages:2.0:PatchOp"},
		"Operations": []any{map[string]any{"op": "replace", "path": "displayName", "value": "Renamed"}},
	}
	if r := h.do(h.acme.token, http.MethodPatch, "/Users/"+ids[6], rename); r.status != http.StatusOK {
		t.Errorf("rename while held: %d %s", r.status, r.body)
	}
	if r := h.do(h.acme.token, http.MethodPatch, "/Users/"+ids[0], reactivateBody()); r.status != http.StatusOK {
		t.Errorf("reactivate while held: %d %s", r.status, r.body)
	}
	h.createUser(h.acme, "newcomer@acme.test")

	// Admins are told, once.
	ctx := context.Background()
	evs, err := h.st.ListEvents(ctx, h.acme.org, store.AuditQuery{Action: store.ActionDeprovisioningHeld})
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 1 || evs[0].Actor != "token:"+string(h.acme.tokenID) || evs[0].Detail["deprovisioned"] != "3" ||
		evs[0].Detail["active_users"] != "10" || evs[0].Detail["request_id"] == "" {
		t.Fatalf("held events = %+v", evs)
	}
	holds, err := h.st.ListHolds(ctx, h.acme.org, true)
	if err != nil || len(holds) != 1 {
		t.Fatalf("open holds = %+v, %v", holds, err)
	}

	// Another organization's token is not held.
	other := h.newTenant("globex")
	gid := h.createUser(other, "ann@globex.test")
	if r := h.do(other.token, http.MethodPatch, "/Users/"+gid, deactivateBody()); r.status != http.StatusOK {
		t.Errorf("other token: %d %s", r.status, r.body)
	}

	// Once an Admin releases the hold, the held changes go through when the
	// IdP retries them.
	if _, err := h.st.ReleaseHold(ctx, h.acme.org, holds[0].ID, store.AuditEvent{Actor: "user:admin"}); err != nil {
		t.Fatal(err)
	}
	if r := h.do(h.acme.token, http.MethodPatch, "/Users/"+ids[3], deactivateBody()); r.status != http.StatusOK {
		t.Errorf("retry after release: %d %s", r.status, r.body)
	}
	if r := h.do(h.acme.token, http.MethodDelete, "/Users/"+ids[5], nil); r.status != http.StatusNoContent {
		t.Errorf("DELETE after release: %d %s", r.status, r.body)
	}
}

func TestSmallOrgIsNeverHeld(t *testing.T) {
	h := newHarness(t, harnessOptions{limits: DefaultLimits()})
	var ids []string
	for i := range 12 {
		ids = append(ids, h.createUser(h.acme, "user"+itoa(i+1)+"@acme.test"))
	}
	for _, id := range ids[:6] {
		if r := h.do(h.acme.token, http.MethodPatch, "/Users/"+id, deactivateBody()); r.status != http.StatusOK {
			t.Fatalf("deactivate: %d %s", r.status, r.body)
		}
	}
	for _, id := range ids {
		if r := h.do(h.acme.token, http.MethodDelete, "/Users/"+id, nil); r.status != http.StatusNoContent {
			t.Fatalf("delete: %d %s", r.status, r.body)
		}
	}
	if n := h.liveUsers(h.acme); n != 0 {
		t.Errorf("%d live users left, want 0", n)
	}
}

func TestReactivationIsNotCounted(t *testing.T) {
	h := newHarness(t, harnessOptions{limits: smallRail()})
	var ids []string
	for i := range 10 {
		ids = append(ids, h.createUser(h.acme, "user"+itoa(i+1)+"@acme.test"))
	}
	// PUT active:false of users who are already inactive, and reactivations,
	// count for nothing.
	for _, id := range ids[:3] {
		if r := h.do(h.acme.token, http.MethodPatch, "/Users/"+id, deactivateBody()); r.status != http.StatusOK {
			t.Fatalf("deactivate: %d %s", r.status, r.body)
		}
	}
	for range 3 {
		for _, id := range ids[:3] {
			if r := h.do(h.acme.token, http.MethodPatch, "/Users/"+id, reactivateBody()); r.status != http.StatusOK {
				t.Fatalf("reactivate: %d %s", r.status, r.body)
			}
		}
	}
	wantSCIMError(t, h.do(h.acme.token, http.MethodPatch, "/Users/"+ids[3], deactivateBody()), http.StatusTooManyRequests, "held")
}

func TestFilterLengthIsBounded(t *testing.T) {
	h := newHarness(t)
	long := `userName eq "` + strings.Repeat("a", MaxFilterLength) + `"`
	r := h.do(h.acme.token, http.MethodGet, "/Users?filter="+url.QueryEscape(long), nil)
	doc := wantSCIMError(t, r, http.StatusBadRequest, "longer than 4096 bytes")
	if doc["scimType"] != "invalidFilter" {
		t.Errorf("scimType = %v", doc["scimType"])
	}
	search := map[string]any{"schemas": []string{"urn:ietf:params:scim:api:messages:2.0:SearchRequest"}, "filter": long}
	wantSCIMError(t, h.do(h.acme.token, http.MethodPost, "/Groups/.search", search), http.StatusBadRequest, "longer than")
	// At the bound a filter is still served.
	ok := `userName eq "` + strings.Repeat("a", MaxFilterLength-len(`userName eq ""`)) + `"`
	if r := h.do(h.acme.token, http.MethodGet, "/Users?filter="+url.QueryEscape(ok), nil); r.status != http.StatusOK {
		t.Errorf("filter of %d bytes: %d %s", len(ok), r.status, r.body)
	}
}

func TestTokenInFlightLimit(t *testing.T) {
	h := newHarness(t, harnessOptions{limits: Limits{TokenInFlight: 2}})
	other := h.newTenant("globex")
	// Two requests of the token are being served.
	r1, _, _, ok1 := h.handler.tokens.Acquire(string(h.acme.tokenID))
	r2, _, _, ok2 := h.handler.tokens.Acquire(string(h.acme.tokenID))
	if !ok1 || !ok2 {
		t.Fatal("could not take the two slots")
	}
	r := h.do(h.acme.token, http.MethodGet, "/Users", nil)
	wantSCIMError(t, r, http.StatusTooManyRequests, "concurrent")
	if ra := r.header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1", ra)
	}
	if r := h.do(other.token, http.MethodGet, "/Users", nil); r.status != http.StatusOK {
		t.Errorf("another token: %d", r.status)
	}
	// A bad token is refused as such, not counted.
	if r := h.do("onramp_bad", http.MethodGet, "/Users", nil); r.status != http.StatusUnauthorized {
		t.Errorf("bad token: %d", r.status)
	}
	r1()
	if r := h.do(h.acme.token, http.MethodGet, "/Users", nil); r.status != http.StatusOK {
		t.Errorf("after a slot came free: %d %s", r.status, r.body)
	}
	r2()
	// Served requests give their slot back: many in a row go through.
	for range 5 {
		if r := h.do(h.acme.token, http.MethodGet, "/Users", nil); r.status != http.StatusOK {
			t.Fatalf("sequential request: %d %s", r.status, r.body)
		}
	}
}

func TestTokenRateLimit(t *testing.T) {
	at := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	h := newHarness(t, harnessOptions{now: func() time.Time { return at }, limits: Limits{TokenRate: 1, TokenBurst: 3}})
	for i := range 3 {
		if r := h.do(h.acme.token, http.MethodGet, "/Users", nil); r.status != http.StatusOK {
			t.Fatalf("request %d: %d %s", i, r.status, r.body)
		}
	}
	r := h.do(h.acme.token, http.MethodGet, "/ServiceProviderConfig", nil)
	wantSCIMError(t, r, http.StatusTooManyRequests, "Too many requests")
	if ra := r.header.Get("Retry-After"); ra != "1" {
		t.Errorf("Retry-After = %q, want 1", ra)
	}
	other := h.newTenant("globex")
	if r := h.do(other.token, http.MethodGet, "/Users", nil); r.status != http.StatusOK {
		t.Errorf("another token: %d", r.status)
	}
}

func TestLimitsAreChecked(t *testing.T) {
	h := newHarness(t)
	cfg := Config{Store: h.st, BaseURL: h.base, Logger: slog.New(slog.DiscardHandler)}
	for _, l := range []Limits{{}, DefaultLimits()} {
		cfg.Limits = l
		if _, err := New(cfg); err != nil {
			t.Errorf("New refused %+v: %v", l, err)
		}
	}
	for _, l := range []Limits{
		{TokenRate: -1},
		{TokenInFlight: -1},
		{Deprovision: store.DeprovisionLimit{Share: 1.5, Window: time.Hour}},
		{Deprovision: store.DeprovisionLimit{Share: 0.1, Minimum: -1, Window: time.Hour}},
	} {
		cfg.Limits = l
		if _, err := New(cfg); err == nil {
			t.Errorf("New accepted %+v", l)
		}
	}
}
