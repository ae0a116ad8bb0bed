package admin_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/admin"
	"github.com/onramp-dev/onramp/store"
)

// holdToken makes a SCIM token of okta and has it de-provision users of acme
// until it is held; it returns the hold.
func holdToken(t *testing.T, h *harness) store.Hold {
	t.Helper()
	ctx := context.Background()
	tok := store.Token{ID: "tok-held", OrgID: h.acme.ID, ConnectionID: h.okta.ID, Kind: store.TokenSCIM, Hash: []byte{1}}
	if _, err := h.st.CreateToken(ctx, tok, store.AuditEvent{Actor: "test"}); err != nil {
		t.Fatal(err)
	}
	g := store.DeprovisionGuard{Token: tok.ID, ConnectionID: h.okta.ID, At: time.Now(),
		Limit: store.DeprovisionLimit{Share: 0.1, Minimum: 2, Window: time.Hour}}
	for i := range 10 {
		u := h.user(t, h.acme, fmt.Sprint("staff", i), "Member")
		_, err := h.st.UpdateUserGuarded(ctx, h.acme.ID, u.ID, func(u *store.User) error { u.Active = false; return nil },
			store.AuditEvent{Actor: "token:tok-held"}, g)
		var he *store.HeldError
		if errors.As(err, &he) {
			return he.Hold
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("the token was never held")
	return store.Hold{}
}

func TestSCIMHolds(t *testing.T) {
	h := newHarness(t)
	var list admin.SCIMHoldList
	h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/scim-holds", nil).want(t, http.StatusOK).decode(t, &list)
	if len(list.Holds) != 0 {
		t.Fatalf("holds before any = %+v", list)
	}
	hold := holdToken(t, h)

	h.do(t, h.adminSession, http.MethodGet, "/orgs/acme/scim-holds?state=open", nil).want(t, http.StatusOK).decode(t, &list)
	if len(list.Holds) != 1 {
		t.Fatalf("open holds = %+v", list)
	}
	got := list.Holds[0]
	if got.ID != string(hold.ID) || got.Token != "tok-held" || got.Connection != "okta" || !got.Open || got.Deprovisioned != 2 ||
		got.Allowed != 2 || got.Window != "1h0m0s" || got.ReleasedAt != nil {
		t.Errorf("listed hold = %+v", got)
	}
	h.do(t, h.adminSession, http.MethodGet, "/orgs/acme/scim-holds?state=closed", nil).want(t, http.StatusBadRequest)

	release := "/orgs/acme/scim-holds/" + string(hold.ID) + "/release"
	// Only an Admin of the organization releases.
	h.do(t, h.memberSession, http.MethodPost, release, nil).want(t, http.StatusForbidden)
	h.do(t, h.scimToken, http.MethodPost, release, nil).want(t, http.StatusForbidden)
	h.do(t, h.otherAdminToken, http.MethodPost, "/orgs/other/scim-holds/"+string(hold.ID)+"/release", nil).want(t, http.StatusNotFound)
	h.do(t, h.adminSession, http.MethodPost, "/orgs/acme/scim-holds/nope/release", nil).want(t, http.StatusNotFound)

	var released admin.SCIMHold
	h.do(t, h.adminSession, http.MethodPost, release, nil).want(t, http.StatusOK).decode(t, &released)
	if released.Open || released.ReleasedAt == nil || released.ReleasedBy != "user:"+string(h.adminUser.ID) {
		t.Errorf("released = %+v", released)
	}
	h.do(t, h.adminSession, http.MethodPost, release, nil).want(t, http.StatusConflict)
	evs := h.events(t, h.acme, admin.AuditHoldReleased)
	if len(evs) != 1 || evs[0].Actor != "user:"+string(h.adminUser.ID) || evs[0].Detail["hold_id"] != string(hold.ID) {
		t.Errorf("release events = %+v", evs)
	}
	h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/scim-holds?state=open", nil).want(t, http.StatusOK).decode(t, &list)
	if len(list.Holds) != 0 {
		t.Errorf("open holds after release = %+v", list)
	}
	h.do(t, h.adminToken, http.MethodGet, "/orgs/acme/scim-holds", nil).want(t, http.StatusOK).decode(t, &list)
	if len(list.Holds) != 1 || list.Holds[0].Open {
		t.Errorf("all holds after release = %+v", list)
	}
}
