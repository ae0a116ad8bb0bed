package console_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// holdOkta has a SCIM token of okta de-provision acme's users until it is
// held, and returns the hold.
func holdOkta(t *testing.T, h *harness) store.Hold {
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

func TestHeldDeprovisioningBannerAndRelease(t *testing.T) {
	h := newHarness(t)
	if p := h.get(t, h.adminC, "/admin/acme/sso").want(t, http.StatusOK); strings.Contains(string(p.body), "de-provisioning held") {
		t.Fatal("a banner without a hold")
	}
	hold := holdOkta(t, h)
	banner := "hold-" + string(hold.ID)
	for _, path := range []string{"/admin/acme/sso", "/admin/acme/sso/okta/scim"} {
		p := h.get(t, h.adminC, path).want(t, http.StatusOK)
		n := p.byID(banner)
		if n == nil {
			t.Fatalf("%s shows no banner for the hold", path)
		}
		txt := text(n)
		for _, want := range []string{"SCIM de-provisioning held for okta", "tok-held", "2 of", "Release"} {
			if !strings.Contains(txt, want) {
				t.Errorf("%s banner %q lacks %q", path, txt, want)
			}
		}
	}
	release := "/admin/acme/scim-holds/" + string(hold.ID) + "/release"
	h.post(t, h.memberC, release, url.Values{}).want(t, http.StatusForbidden)
	h.post(t, h.otherAdminC, "/admin/other/scim-holds/"+string(hold.ID)+"/release", url.Values{}).want(t, http.StatusNotFound)
	if got, err := h.st.GetHold(context.Background(), h.acme.ID, hold.ID); err != nil || !got.Open() {
		t.Fatalf("hold after refused releases: %+v %v", got, err)
	}

	h.post(t, h.adminC, release, url.Values{}).redirect(t, "/admin/acme/sso?done=released")
	got, err := h.st.GetHold(context.Background(), h.acme.ID, hold.ID)
	if err != nil || got.Open() || got.ReleasedBy != "user:"+string(h.ada.ID) {
		t.Fatalf("hold after release: %+v %v", got, err)
	}
	p := h.get(t, h.adminC, "/admin/acme/sso?done=released").want(t, http.StatusOK)
	if p.byID(banner) != nil {
		t.Error("the banner is still shown after the release")
	}
	if !strings.Contains(string(p.body), "Hold released") {
		t.Error("no confirmation of the release")
	}
	if evs := h.events(t, h.acme, store.ActionDeprovisioningReleased); len(evs) != 1 {
		t.Errorf("release events = %+v", evs)
	}
	// Releasing again (a second click, another Admin) changes nothing.
	h.post(t, h.adminC, release, url.Values{}).redirect(t, "/admin/acme/sso?done=released")
	if evs := h.events(t, h.acme, store.ActionDeprovisioningReleased); len(evs) != 1 {
		t.Errorf("release events after a second release = %d, want 1", len(evs))
	}
}
