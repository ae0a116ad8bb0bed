package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// emailLoginTests cover the email sign-in side of the contract (store/links.go):
// domain routes, login links and codes, invitations and rate limits.
func emailLoginTests() []test {
	return []test{
		{"RouteSetGetListDelete", testRouteLifecycle},
		{"RouteDomainBelongsToOneOrg", testRouteOneOrg},
		{"RouteConnectionMustBeTheOrgs", testRouteForeignConnection},
		{"RouteGoesWithItsConnection", testRouteDeletedWithConnection},
		{"LinkUsedOnce", testLinkUsedOnce},
		{"LinkExpires", testLinkExpires},
		{"LinkBoundToOrgAndUserAudited", testLinkBound},
		{"LinkConcurrentUsesOneWins", testLinkRace},
		{"CodeMatchRotatesLinkID", testCodeMatch},
		{"CodeWrongAttemptsSpendCode", testCodeAttempts},
		{"CodeIgnoresUsedAndExpiredLinks", testCodeDeadLinks},
		{"LinkPurge", testLinkPurge},
		{"UsersByEmailAcrossOrgs", testUsersByEmail},
		{"RecordUserSignIn", testRecordUserSignIn},
		{"InvitationLifecycle", testInvitationLifecycle},
		{"InvitationOnePendingPerAddress", testInvitationPendingUnique},
		{"InvitationAcceptCreatesAccount", testInvitationAccept},
		{"InvitationAcceptOnce", testInvitationAcceptOnce},
		{"InvitationAcceptExpiredRevokedResent", testInvitationAcceptStates},
		{"InvitationAcceptExistingAccount", testInvitationAcceptExisting},
		{"InvitationAcceptUserNameTakenChangesNothing", testInvitationAcceptConflict},
		{"InvitationWrongOrg", testInvitationWrongOrg},
		{"RateCountsAndResets", testRateWindow},
		{"RateConcurrentCountsAreExact", testRateRace},
		{"RatePurge", testRatePurge},
	}
}

// t0 is the time the email sign-in tests start at.
const t0Unix = 1778051289 // 2026-05-06T07:08:09Z

func testRouteLifecycle(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	okta, entra := newConn(t, s, o.ID, "okta"), newConn(t, s, o.ID, "entra")
	r := must(s.SetDomainRoute(ctx(t), store.DomainRoute{Domain: " Acme-Corp.COM. ", OrgID: o.ID, ConnectionID: okta.ID}, store.AuditEvent{Actor: "operator"}))(t)
	if r.Domain != "acme-corp.com" || r.OrgID != o.ID || r.ConnectionID != okta.ID || r.CreatedAt.IsZero() {
		t.Fatalf("route = %+v", r)
	}
	got := must(s.GetDomainRoute(ctx(t), "ACME-corp.com"))(t)
	if got.ConnectionID != okta.ID || !got.CreatedAt.Equal(r.CreatedAt) {
		t.Errorf("get = %+v, want %+v", got, r)
	}
	// Setting the same route again changes nothing; another connection moves it.
	must(s.SetDomainRoute(ctx(t), store.DomainRoute{Domain: "acme-corp.com", OrgID: o.ID, ConnectionID: okta.ID}, store.AuditEvent{}))(t)
	must(s.SetDomainRoute(ctx(t), store.DomainRoute{Domain: "acme-corp.com", OrgID: o.ID, ConnectionID: entra.ID}, store.AuditEvent{}))(t)
	must(s.SetDomainRoute(ctx(t), store.DomainRoute{Domain: "acme.io", OrgID: o.ID, ConnectionID: okta.ID}, store.AuditEvent{}))(t)
	list := must(s.ListDomainRoutes(ctx(t), o.ID))(t)
	if len(list) != 2 || list[0].Domain != "acme-corp.com" || list[0].ConnectionID != entra.ID || list[1].Domain != "acme.io" {
		t.Errorf("list = %+v", list)
	}
	if evs := events(t, s, o.ID, "domain_route.set"); len(evs) != 3 || evs[0].Detail["domain"] != "acme.io" {
		t.Errorf("domain_route.set events = %+v, want 3 (an unchanged set is not one)", evs)
	}
	check(t, s.DeleteDomainRoute(ctx(t), o.ID, "ACME.io", store.AuditEvent{}))
	_, err := s.GetDomainRoute(ctx(t), "acme.io")
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.DeleteDomainRoute(ctx(t), o.ID, "acme.io", store.AuditEvent{}), store.ErrNotFound)
	if evs := events(t, s, o.ID, "domain_route.deleted"); len(evs) != 1 || evs[0].ConnectionID != okta.ID {
		t.Errorf("domain_route.deleted events = %+v", evs)
	}
}

func testRouteOneOrg(t *testing.T, s store.Store) {
	a, b := newOrg(t, s, "acme"), newOrg(t, s, "beta")
	ca, cb := newConn(t, s, a.ID, "okta"), newConn(t, s, b.ID, "okta")
	must(s.SetDomainRoute(ctx(t), store.DomainRoute{Domain: "acme.com", OrgID: a.ID, ConnectionID: ca.ID}, store.AuditEvent{}))(t)
	_, err := s.SetDomainRoute(ctx(t), store.DomainRoute{Domain: "ACME.com", OrgID: b.ID, ConnectionID: cb.ID}, store.AuditEvent{})
	wantErr(t, err, store.ErrConflict)
	wantErr(t, s.DeleteDomainRoute(ctx(t), b.ID, "acme.com", store.AuditEvent{}), store.ErrNotFound)
	if r := must(s.GetDomainRoute(ctx(t), "acme.com"))(t); r.OrgID != a.ID {
		t.Errorf("route = %+v, want still acme's", r)
	}
}

func testRouteForeignConnection(t *testing.T, s store.Store) {
	a, b := newOrg(t, s, "acme"), newOrg(t, s, "beta")
	cb := newConn(t, s, b.ID, "okta")
	_, err := s.SetDomainRoute(ctx(t), store.DomainRoute{Domain: "acme.com", OrgID: a.ID, ConnectionID: cb.ID}, store.AuditEvent{})
	wantErr(t, err, store.ErrInvalidReference)
	_, err = s.SetDomainRoute(ctx(t), store.DomainRoute{Domain: "acme.com", OrgID: a.ID, ConnectionID: "missing"}, store.AuditEvent{})
	wantErr(t, err, store.ErrInvalidReference)
}

func testRouteDeletedWithConnection(t *testing.T, s store.Store) {
	o := newOrg(t, s, "acme")
	okta, entra := newConn(t, s, o.ID, "okta"), newConn(t, s, o.ID, "entra")
	must(s.SetDomainRoute(ctx(t), store.DomainRoute{Domain: "acme.com", OrgID: o.ID, ConnectionID: okta.ID}, store.AuditEvent{}))(t)
	must(s.SetDomainRoute(ctx(t), store.DomainRoute{Domain: "acme.io", OrgID: o.ID, ConnectionID: entra.ID}, store.AuditEvent{}))(t)
	check(t, s.DeleteConnection(ctx(t), okta.ID, store.AuditEvent{}))
	_, err := s.GetDomainRoute(ctx(t), "acme.com")
	wantErr(t, err, store.ErrNotFound)
	if list := must(s.ListDomainRoutes(ctx(t), o.ID))(t); len(list) != 1 || list[0].Domain != "acme.io" {
		t.Errorf("routes after deleting okta = %+v", list)
	}
}

func newLink(t *testing.T, s store.Store, id, email string, code []byte, expires time.Time) store.LoginLink {
	t0 := time.Unix(t0Unix, 0).UTC()
	t.Helper()
	l := store.LoginLink{IDHash: []byte(id), Email: email, CodeHash: code, ReturnTo: "/app", CreatedAt: t0, ExpiresAt: expires}
	check(t, s.CreateLoginLink(ctx(t), l, store.AuditEvent{}))
	return l
}

func testLinkUsedOnce(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	newLink(t, s, "l1", "Ann@Acme.com", []byte("c1"), t0.Add(15*time.Minute))
	wantErr(t, s.CreateLoginLink(ctx(t), store.LoginLink{IDHash: []byte("l1"), Email: "x@y.z", ExpiresAt: t0.Add(time.Hour)}, store.AuditEvent{}), store.ErrConflict)
	got := must(s.GetLoginLink(ctx(t), []byte("l1")))(t)
	if got.Email != "Ann@Acme.com" || !bytes.Equal(got.CodeHash, []byte("c1")) || got.ReturnTo != "/app" || got.UsedAt != nil ||
		!got.CreatedAt.Equal(t0) || !got.ExpiresAt.Equal(t0.Add(15*time.Minute)) || got.OrgID != "" || got.UserID != "" {
		t.Fatalf("link = %+v", got)
	}
	used := must(s.UseLoginLink(ctx(t), []byte("l1"), t0.Add(time.Minute)))(t)
	if used.UsedAt == nil || !used.UsedAt.Equal(t0.Add(time.Minute)) || used.Email != "Ann@Acme.com" {
		t.Errorf("used link = %+v", used)
	}
	_, err := s.UseLoginLink(ctx(t), []byte("l1"), t0.Add(2*time.Minute))
	wantErr(t, err, store.ErrConflict)
	_, err = s.UseLoginLink(ctx(t), []byte("nope"), t0)
	wantErr(t, err, store.ErrNotFound)
	if got := must(s.GetLoginLink(ctx(t), []byte("l1")))(t); got.UsedAt == nil {
		t.Error("GetLoginLink does not show the link used")
	}
}

func testLinkExpires(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	newLink(t, s, "l1", "ann@acme.com", nil, t0.Add(15*time.Minute))
	_, err := s.UseLoginLink(ctx(t), []byte("l1"), t0.Add(15*time.Minute)) // expiry is exclusive
	wantErr(t, err, store.ErrExpired)
	if got := must(s.GetLoginLink(ctx(t), []byte("l1")))(t); got.UsedAt != nil {
		t.Error("an expired link was marked used")
	}
	must(s.UseLoginLink(ctx(t), []byte("l1"), t0.Add(15*time.Minute-time.Microsecond)))(t)
}

func testLinkBound(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	o := newOrg(t, s, "acme")
	ann := newUser(t, s, o.ID, "ann")
	l := store.LoginLink{IDHash: []byte("admin"), Email: "ann@acme.com", OrgID: o.ID, UserID: ann.ID, ExpiresAt: t0.Add(time.Hour)}
	check(t, s.CreateLoginLink(ctx(t), l, store.AuditEvent{Actor: "operator", Action: "login_link.issued"}))
	got := must(s.GetLoginLink(ctx(t), []byte("admin")))(t)
	if got.OrgID != o.ID || got.UserID != ann.ID || got.CodeHash != nil {
		t.Errorf("link = %+v", got)
	}
	if evs := events(t, s, o.ID, "login_link.issued"); len(evs) != 1 || evs[0].UserID != ann.ID || evs[0].Actor != "operator" {
		t.Errorf("events = %+v", evs)
	}
	// A link bound to an account needs its organization.
	if err := s.CreateLoginLink(ctx(t), store.LoginLink{IDHash: []byte("x"), Email: "a@b.c", UserID: ann.ID, ExpiresAt: t0}, store.AuditEvent{}); err == nil {
		t.Error("a link bound to an account without an organization was stored")
	}
}

func testLinkRace(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	newLink(t, s, "l1", "ann@acme.com", nil, t0.Add(time.Hour))
	fns := make([]func() error, 8)
	for i := range fns {
		fns[i] = func() error {
			_, err := s.UseLoginLink(ctx(t), []byte("l1"), t0)
			return err
		}
	}
	oneWins(t, together(fns...))
}

func testCodeMatch(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	newLink(t, s, "old", "Ann@acme.com", []byte("code-1"), t0.Add(15*time.Minute))
	newLink(t, s, "other", "bob@acme.com", []byte("code-1"), t0.Add(15*time.Minute))
	l := must(s.VerifyLoginCode(ctx(t), "ANN@acme.com", []byte("code-1"), []byte("new"), 5, t0.Add(time.Minute)))(t)
	if !bytes.Equal(l.IDHash, []byte("new")) || l.Email != "Ann@acme.com" || l.UsedAt != nil {
		t.Fatalf("verified link = %+v", l)
	}
	_, err := s.GetLoginLink(ctx(t), []byte("old"))
	wantErr(t, err, store.ErrNotFound)
	must(s.UseLoginLink(ctx(t), []byte("new"), t0.Add(2*time.Minute)))(t)
	// The used link's code does not verify again.
	_, err = s.VerifyLoginCode(ctx(t), "ann@acme.com", []byte("code-1"), []byte("newer"), 5, t0.Add(3*time.Minute))
	wantErr(t, err, store.ErrNotFound)
	// Bob's link is untouched.
	if got := must(s.GetLoginLink(ctx(t), []byte("other")))(t); got.Attempts != 0 || got.UsedAt != nil {
		t.Errorf("bob's link = %+v", got)
	}
}

func testCodeAttempts(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	newLink(t, s, "l1", "ann@acme.com", []byte("right"), t0.Add(15*time.Minute))
	newLink(t, s, "l2", "ann@acme.com", []byte("right-2"), t0.Add(15*time.Minute))
	for i := range 3 {
		_, err := s.VerifyLoginCode(ctx(t), "ann@acme.com", []byte("wrong"), fmt.Appendf(nil, "n%d", i), 3, t0)
		wantErr(t, err, store.ErrNotFound)
	}
	for _, id := range []string{"l1", "l2"} {
		if got := must(s.GetLoginLink(ctx(t), []byte(id)))(t); got.Attempts != 3 {
			t.Errorf("%s: attempts = %d, want 3", id, got.Attempts)
		}
	}
	// The codes are spent: even the right one fails now.
	_, err := s.VerifyLoginCode(ctx(t), "ann@acme.com", []byte("right"), []byte("n9"), 3, t0)
	wantErr(t, err, store.ErrNotFound)
	// The links themselves still work.
	must(s.UseLoginLink(ctx(t), []byte("l1"), t0))(t)
}

func testCodeDeadLinks(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	newLink(t, s, "expired", "ann@acme.com", []byte("c"), t0)
	newLink(t, s, "nocode", "ann@acme.com", nil, t0.Add(time.Hour))
	_, err := s.VerifyLoginCode(ctx(t), "ann@acme.com", []byte("c"), []byte("n"), 5, t0)
	wantErr(t, err, store.ErrNotFound)
	newLink(t, s, "used", "ann@acme.com", []byte("c"), t0.Add(time.Hour))
	must(s.UseLoginLink(ctx(t), []byte("used"), t0))(t)
	_, err = s.VerifyLoginCode(ctx(t), "ann@acme.com", []byte("c"), []byte("n"), 5, t0)
	wantErr(t, err, store.ErrNotFound)
	if got := must(s.GetLoginLink(ctx(t), []byte("expired")))(t); got.Attempts != 0 {
		t.Errorf("an expired link counted an attempt: %+v", got)
	}
}

func testLinkPurge(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	newLink(t, s, "expired", "a@x.com", nil, t0)
	newLink(t, s, "used", "b@x.com", nil, t0.Add(time.Hour))
	newLink(t, s, "live", "c@x.com", nil, t0.Add(time.Hour))
	must(s.UseLoginLink(ctx(t), []byte("used"), t0.Add(-time.Minute)))(t)
	if n := must(s.PurgeLoginLinks(ctx(t), t0))(t); n != 2 {
		t.Errorf("purged %d, want 2", n)
	}
	must(s.GetLoginLink(ctx(t), []byte("live")))(t)
	_, err := s.GetLoginLink(ctx(t), []byte("used"))
	wantErr(t, err, store.ErrNotFound)
}

func testUsersByEmail(t *testing.T, s store.Store) {
	a, b := newOrg(t, s, "acme"), newOrg(t, s, "beta")
	withEmail := func(addrs ...string) func(*store.User) {
		return func(u *store.User) {
			for i, e := range addrs {
				u.Emails = append(u.Emails, store.Email{Value: e, Primary: i == 0})
			}
		}
	}
	ann := newUser(t, s, a.ID, "ann", withEmail("Ann@Example.com"))
	annB := newUser(t, s, b.ID, "ann.b", withEmail("other@example.com", "ann@example.COM"))
	gone := newUser(t, s, b.ID, "ann.old", withEmail("ann@example.com"))
	check(t, s.DeleteUser(ctx(t), b.ID, gone.ID, store.AuditEvent{}))
	newUser(t, s, a.ID, "bob", withEmail("bob@example.com"))
	got := must(s.ListUsersByEmail(ctx(t), " ANN@example.com "))(t)
	ids := make([]store.UserID, len(got))
	for i, u := range got {
		ids[i] = u.ID
	}
	if !slices.Equal(ids, []store.UserID{ann.ID, annB.ID, gone.ID}) {
		t.Fatalf("users = %v, want ann, ann.b and the tombstone in creation order", userNames(got))
	}
	if got[2].DeletedAt == nil {
		t.Error("the tombstone is not marked deleted")
	}
	if got := must(s.ListUsersByEmail(ctx(t), "nobody@example.com"))(t); len(got) != 0 {
		t.Errorf("unknown address: %v", userNames(got))
	}
}

func testRecordUserSignIn(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	a, b := newOrg(t, s, "acme"), newOrg(t, s, "beta")
	ann := newUser(t, s, a.ID, "ann")
	at := t0.Add(123456789 * time.Nanosecond)
	check(t, s.RecordUserSignIn(ctx(t), a.ID, ann.ID, at, store.AuditEvent{Actor: "email", Action: "jit.signed_in"}))
	u := must(s.GetUser(ctx(t), a.ID, ann.ID))(t)
	if u.LastSignInAt == nil || !u.LastSignInAt.Equal(at.Truncate(time.Microsecond)) || u.Version != ann.Version {
		t.Errorf("after sign-in: LastSignInAt %v, Version %d (was %d)", u.LastSignInAt, u.Version, ann.Version)
	}
	if evs := events(t, s, a.ID, "jit.signed_in"); len(evs) != 1 || evs[0].UserID != ann.ID {
		t.Errorf("events = %+v", evs)
	}
	wantErr(t, s.RecordUserSignIn(ctx(t), b.ID, ann.ID, at, store.AuditEvent{}), store.ErrNotFound)
	check(t, s.DeleteUser(ctx(t), a.ID, ann.ID, store.AuditEvent{}))
	wantErr(t, s.RecordUserSignIn(ctx(t), a.ID, ann.ID, at, store.AuditEvent{}), store.ErrNotFound)
}

func newInvitation(t *testing.T, s store.Store, org store.OrgID, email, token string) store.Invitation {
	t0 := time.Unix(t0Unix, 0).UTC()
	t.Helper()
	return must(s.CreateInvitation(ctx(t), store.Invitation{OrgID: org, Email: email, Role: "Member", TokenHash: []byte(token),
		InvitedBy: "token:t1", ExpiresAt: t0.Add(7 * 24 * time.Hour)}, store.AuditEvent{Actor: "token:t1"}))(t)
}

func testInvitationLifecycle(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	o := newOrg(t, s, "acme")
	inv := newInvitation(t, s, o.ID, "Ann@Acme.com", "tok1")
	if inv.ID == "" || inv.Sends != 1 || !inv.Pending() || inv.CreatedAt.IsZero() || inv.Role != "Member" {
		t.Fatalf("created = %+v", inv)
	}
	got := must(s.GetInvitation(ctx(t), o.ID, inv.ID))(t)
	if got.Email != "Ann@Acme.com" || got.InvitedBy != "token:t1" || !got.ExpiresAt.Equal(inv.ExpiresAt) || !bytes.Equal(got.TokenHash, []byte("tok1")) {
		t.Errorf("get = %+v", got)
	}
	if got := must(s.GetInvitationByToken(ctx(t), []byte("tok1")))(t); got.ID != inv.ID {
		t.Errorf("by token = %+v", got)
	}
	re := must(s.ReissueInvitation(ctx(t), o.ID, inv.ID, []byte("tok2"), t0.Add(48*time.Hour), store.AuditEvent{Actor: "token:t1"}))(t)
	if re.Sends != 2 || !re.ExpiresAt.Equal(t0.Add(48*time.Hour)) {
		t.Errorf("reissued = %+v", re)
	}
	_, err := s.GetInvitationByToken(ctx(t), []byte("tok1"))
	wantErr(t, err, store.ErrNotFound)
	must(s.GetInvitationByToken(ctx(t), []byte("tok2")))(t)
	check(t, s.RevokeInvitation(ctx(t), o.ID, inv.ID, store.AuditEvent{Actor: "token:t1"}))
	check(t, s.RevokeInvitation(ctx(t), o.ID, inv.ID, store.AuditEvent{})) // again: no change
	if got := must(s.GetInvitation(ctx(t), o.ID, inv.ID))(t); got.RevokedAt == nil || got.Pending() {
		t.Errorf("revoked = %+v", got)
	}
	_, err = s.ReissueInvitation(ctx(t), o.ID, inv.ID, []byte("tok3"), t0.Add(time.Hour), store.AuditEvent{})
	wantErr(t, err, store.ErrConflict)
	for action, want := range map[string]int{"invitation.created": 1, "invitation.resent": 1, "invitation.revoked": 1} {
		evs := events(t, s, o.ID, action)
		if len(evs) != want || evs[0].Detail["invitation_id"] != string(inv.ID) {
			t.Errorf("%s events = %+v", action, evs)
		}
	}
	// A new invitation of the same address is allowed once the old one is revoked.
	inv2 := newInvitation(t, s, o.ID, "ann@acme.com", "tok4")
	list := must(s.ListInvitations(ctx(t), o.ID))(t)
	if len(list) != 2 || list[0].ID != inv2.ID || list[1].ID != inv.ID {
		t.Errorf("list = %+v, want newest first", list)
	}
}

func testInvitationPendingUnique(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	a, b := newOrg(t, s, "acme"), newOrg(t, s, "beta")
	newInvitation(t, s, a.ID, "ann@acme.com", "t1")
	_, err := s.CreateInvitation(ctx(t), store.Invitation{OrgID: a.ID, Email: "ANN@acme.com", TokenHash: []byte("t2"), ExpiresAt: t0}, store.AuditEvent{})
	wantErr(t, err, store.ErrConflict)
	newInvitation(t, s, b.ID, "ann@acme.com", "t3") // another organization may invite the same address
	_, err = s.CreateInvitation(ctx(t), store.Invitation{OrgID: "missing", Email: "x@acme.com", TokenHash: []byte("t4"), ExpiresAt: t0}, store.AuditEvent{})
	wantErr(t, err, store.ErrInvalidReference)
}

func invitedUser(email string) store.User {
	return store.User{UserName: email, Emails: []store.Email{{Value: email, Type: "work", Primary: true}},
		Active: true, Role: "Member", Source: store.SourceInvitation}
}

func testInvitationAccept(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	o := newOrg(t, s, "acme")
	inv := newInvitation(t, s, o.ID, "ann@acme.com", "tok")
	acc, u, err := s.AcceptInvitation(ctx(t), []byte("tok"), store.Acceptance{NewUser: invitedUser("ann@acme.com")}, t0, store.AuditEvent{Actor: "email"})
	check(t, err)
	if acc.AcceptedAt == nil || acc.UserID != u.ID || acc.Pending() {
		t.Errorf("accepted invitation = %+v", acc)
	}
	if u.ID == "" || u.OrgID != o.ID || u.Source != store.SourceInvitation || u.Version != 1 || !u.Active {
		t.Errorf("user = %+v", u)
	}
	got := must(s.GetUser(ctx(t), o.ID, u.ID))(t)
	if got.UserName != "ann@acme.com" || got.PrimaryEmail() != "ann@acme.com" || got.Source != store.SourceInvitation {
		t.Errorf("stored user = %+v", got)
	}
	if p := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{Count: 10, Filter: store.Compare{Field: store.FieldEmailValue, Op: store.OpEq, Value: "ANN@acme.com"}}))(t); p.Total != 1 {
		t.Errorf("the account's email is not filterable: %d matches", p.Total)
	}
	if got := must(s.GetInvitation(ctx(t), o.ID, inv.ID))(t); got.UserID != u.ID || got.AcceptedAt == nil {
		t.Errorf("stored invitation = %+v", got)
	}
	if evs := events(t, s, o.ID, "invitation.accepted"); len(evs) != 1 || evs[0].UserID != u.ID || evs[0].Actor != "email" {
		t.Errorf("events = %+v", evs)
	}
	wantErr(t, s.RevokeInvitation(ctx(t), o.ID, inv.ID, store.AuditEvent{}), store.ErrConflict)
}

func testInvitationAcceptOnce(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	o := newOrg(t, s, "acme")
	newInvitation(t, s, o.ID, "ann@acme.com", "tok")
	fns := make([]func() error, 6)
	for i := range fns {
		fns[i] = func() error {
			_, _, err := s.AcceptInvitation(ctx(t), []byte("tok"), store.Acceptance{NewUser: invitedUser(fmt.Sprintf("ann%d@acme.com", i))}, t0, store.AuditEvent{})
			return err
		}
	}
	oneWins(t, together(fns...))
	if p := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{Count: 10}))(t); p.Total != 1 {
		t.Errorf("%d accounts, want 1", p.Total)
	}
}

func testInvitationAcceptStates(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	o := newOrg(t, s, "acme")
	inv := newInvitation(t, s, o.ID, "ann@acme.com", "tok")
	_, _, err := s.AcceptInvitation(ctx(t), []byte("tok"), store.Acceptance{NewUser: invitedUser("ann@acme.com")}, inv.ExpiresAt, store.AuditEvent{})
	wantErr(t, err, store.ErrExpired)
	_, _, err = s.AcceptInvitation(ctx(t), []byte("nope"), store.Acceptance{NewUser: invitedUser("ann@acme.com")}, t0, store.AuditEvent{})
	wantErr(t, err, store.ErrNotFound)
	// Resending gives a new link and a new expiry; the old link is dead.
	must(s.ReissueInvitation(ctx(t), o.ID, inv.ID, []byte("tok2"), inv.ExpiresAt.Add(time.Hour), store.AuditEvent{}))(t)
	_, _, err = s.AcceptInvitation(ctx(t), []byte("tok"), store.Acceptance{NewUser: invitedUser("ann@acme.com")}, inv.ExpiresAt, store.AuditEvent{})
	wantErr(t, err, store.ErrNotFound)
	// Revoked: conflict, and no account.
	check(t, s.RevokeInvitation(ctx(t), o.ID, inv.ID, store.AuditEvent{}))
	_, _, err = s.AcceptInvitation(ctx(t), []byte("tok2"), store.Acceptance{NewUser: invitedUser("ann@acme.com")}, inv.ExpiresAt, store.AuditEvent{})
	wantErr(t, err, store.ErrConflict)
	if p := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{}))(t); p.Total != 0 {
		t.Errorf("%d accounts, want none", p.Total)
	}
}

func testInvitationAcceptExisting(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	o, other := newOrg(t, s, "acme"), newOrg(t, s, "beta")
	ann := newUser(t, s, o.ID, "ann")
	inv := newInvitation(t, s, o.ID, "ann@acme.com", "tok")
	// Not an account of the invitation's organization: refused, still pending.
	stranger := newUser(t, s, other.ID, "stranger")
	_, _, err := s.AcceptInvitation(ctx(t), []byte("tok"), store.Acceptance{Existing: stranger.ID}, t0, store.AuditEvent{})
	wantErr(t, err, store.ErrInvalidReference)
	// Deactivated: refused.
	must(s.UpdateUser(ctx(t), o.ID, ann.ID, func(u *store.User) error { u.Active = false; return nil }, store.AuditEvent{}))(t)
	_, _, err = s.AcceptInvitation(ctx(t), []byte("tok"), store.Acceptance{Existing: ann.ID}, t0, store.AuditEvent{})
	wantErr(t, err, store.ErrInvalidReference)
	must(s.UpdateUser(ctx(t), o.ID, ann.ID, func(u *store.User) error { u.Active = true; return nil }, store.AuditEvent{}))(t)
	acc, u, err := s.AcceptInvitation(ctx(t), []byte("tok"), store.Acceptance{Existing: ann.ID}, t0, store.AuditEvent{})
	check(t, err)
	if u.ID != ann.ID || acc.UserID != ann.ID || acc.ID != inv.ID {
		t.Errorf("accepted onto %+v / %+v, want ann", u, acc)
	}
	if p := must(s.ListUsers(ctx(t), o.ID, store.UserQuery{}))(t); p.Total != 1 {
		t.Errorf("%d accounts, want 1", p.Total)
	}
}

func testInvitationAcceptConflict(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	o := newOrg(t, s, "acme")
	newUser(t, s, o.ID, "ann@acme.com")
	inv := newInvitation(t, s, o.ID, "ann@acme.com", "tok")
	_, _, err := s.AcceptInvitation(ctx(t), []byte("tok"), store.Acceptance{NewUser: invitedUser("ANN@acme.com")}, t0, store.AuditEvent{})
	wantErr(t, err, store.ErrConflict)
	if got := must(s.GetInvitation(ctx(t), o.ID, inv.ID))(t); !got.Pending() {
		t.Errorf("a failed accept changed the invitation: %+v", got)
	}
	if evs := events(t, s, o.ID, "invitation.accepted"); len(evs) != 0 {
		t.Errorf("events = %+v", evs)
	}
}

func testInvitationWrongOrg(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	a, b := newOrg(t, s, "acme"), newOrg(t, s, "beta")
	inv := newInvitation(t, s, a.ID, "ann@acme.com", "tok")
	_, err := s.GetInvitation(ctx(t), b.ID, inv.ID)
	wantErr(t, err, store.ErrNotFound)
	wantErr(t, s.RevokeInvitation(ctx(t), b.ID, inv.ID, store.AuditEvent{}), store.ErrNotFound)
	_, err = s.ReissueInvitation(ctx(t), b.ID, inv.ID, []byte("x"), t0, store.AuditEvent{})
	wantErr(t, err, store.ErrNotFound)
	if list := must(s.ListInvitations(ctx(t), b.ID))(t); len(list) != 0 {
		t.Errorf("beta lists acme's invitations: %+v", list)
	}
	// The account an accepted invitation makes is the invitation's organization's.
	_, u, err := s.AcceptInvitation(ctx(t), []byte("tok"), store.Acceptance{NewUser: func() store.User {
		nu := invitedUser("ann@acme.com")
		nu.OrgID = b.ID // ignored: the invitation decides
		return nu
	}()}, t0, store.AuditEvent{})
	check(t, err)
	if u.OrgID != a.ID {
		t.Errorf("account made in %s, want %s", u.OrgID, a.ID)
	}
}

func testRateWindow(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	w := 15 * time.Minute
	for i := 1; i <= 3; i++ {
		rc := must(s.CountRate(ctx(t), "email:ann", w, t0.Add(time.Duration(i)*time.Minute)))(t)
		if rc.Count != i || !rc.ResetAt.Equal(t0.Add(time.Minute+w)) {
			t.Fatalf("count %d: %+v, want window ending %v", i, rc, t0.Add(time.Minute+w))
		}
	}
	if rc := must(s.CountRate(ctx(t), "ip:1.2.3.4", w, t0))(t); rc.Count != 1 {
		t.Errorf("another bucket: %+v", rc)
	}
	// At the window's end a new window starts.
	end := t0.Add(time.Minute + w)
	if rc := must(s.CountRate(ctx(t), "email:ann", w, end))(t); rc.Count != 1 || !rc.ResetAt.Equal(end.Add(w)) {
		t.Errorf("after the window: %+v", rc)
	}
}

func testRateRace(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	const n = 12
	counts := make([]int, n)
	fns := make([]func() error, n)
	for i := range fns {
		fns[i] = func() error {
			rc, err := s.CountRate(ctx(t), "ip:9.9.9.9", time.Hour, t0)
			counts[i] = rc.Count
			return err
		}
	}
	for i, err := range together(fns...) {
		if err != nil {
			t.Fatalf("counter %d: %v", i, err)
		}
	}
	slices.Sort(counts)
	for i, c := range counts {
		if c != i+1 {
			t.Fatalf("counts = %v, want 1..%d each once", counts, n)
		}
	}
}

func testRatePurge(t *testing.T, s store.Store) {
	t0 := time.Unix(t0Unix, 0).UTC()
	must(s.CountRate(ctx(t), "old", time.Minute, t0))(t)
	must(s.CountRate(ctx(t), "new", time.Hour, t0))(t)
	if n := must(s.PurgeRateLimits(ctx(t), t0.Add(time.Minute)))(t); n != 1 {
		t.Errorf("purged %d, want 1", n)
	}
	if rc := must(s.CountRate(ctx(t), "new", time.Hour, t0.Add(time.Minute)))(t); rc.Count != 2 {
		t.Errorf("the live bucket was purged: %+v", rc)
	}
}
