package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

func holdTests() []test {
	return []test{
		{"CrossingTheLimitHolds", testHoldCrossing},
		{"HeldDeleteChangesNothing", testHoldDelete},
		{"ShareAboveMinimum", testHoldShare},
		{"ReleaseLetsTheNextOnesThrough", testHoldRelease},
		{"SmallOrgNeverHolds", testHoldSmallOrg},
		{"ReactivationDoesNotCount", testHoldReactivation},
		{"WindowSlides", testHoldWindow},
		{"OtherTokensAndWritesGoOn", testHoldOtherTokens},
		{"ConcurrentAtTheLimit", testHoldConcurrent},
		{"DisabledLimitNeverHolds", testHoldDisabled},
		{"PurgeEventsBefore", testPurgeEvents},
	}
}

// holdFixture is an organization with n active users, a connection and a
// SCIM token of it.
type holdFixture struct {
	org   store.Org
	conn  store.Connection
	token store.TokenID
	users []store.User
}

func newHoldFixture(t *testing.T, s store.Store, slug string, n int, active bool) holdFixture {
	t.Helper()
	f := holdFixture{org: newOrg(t, s, slug)}
	f.conn = newConn(t, s, f.org.ID, "okta")
	f.token = store.TokenID("tok-" + slug)
	must(s.CreateToken(ctx(t), store.Token{ID: f.token, OrgID: f.org.ID, ConnectionID: f.conn.ID, Kind: store.TokenSCIM,
		Hash: []byte{1}}, store.AuditEvent{Actor: "operator"}))(t)
	for i := range n {
		f.users = append(f.users, newUser(t, s, f.org.ID, fmt.Sprintf("user%03d", i), func(u *store.User) { u.Active = active }))
	}
	return f
}

// defaultLimit is onramp's default: 10% of the active users, at least 20,
// within an hour.
func defaultLimit() store.DeprovisionLimit {
	return store.DeprovisionLimit{Share: 0.1, Minimum: 20, Window: time.Hour}
}

// holdT0 is when the tests' de-provisionings start.
func holdT0() time.Time { return time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC) }

func (f holdFixture) guard(at time.Time) store.DeprovisionGuard {
	return store.DeprovisionGuard{Token: f.token, ConnectionID: f.conn.ID, Limit: defaultLimit(), At: at}
}

func (f holdFixture) ev() store.AuditEvent {
	return store.AuditEvent{Actor: "token:" + string(f.token), Detail: map[string]string{"request_id": "r1"}}
}

func setActive(active bool) func(*store.User) error {
	return func(u *store.User) error { u.Active = active; return nil }
}

// deactivate de-provisions user i of f by its token at at.
func (f holdFixture) deactivate(t *testing.T, s store.Store, i int, at time.Time) error {
	t.Helper()
	_, err := s.UpdateUserGuarded(ctx(t), f.org.ID, f.users[i].ID, setActive(false), f.ev(), f.guard(at))
	return err
}

func wantHeld(t *testing.T, err error, isNew bool) store.Hold {
	t.Helper()
	var he *store.HeldError
	if !errors.As(err, &he) || !errors.Is(err, store.ErrHeld) {
		t.Fatalf("err = %v, want a *HeldError wrapping ErrHeld", err)
	}
	if he.New != isNew {
		t.Fatalf("HeldError.New = %v, want %v", he.New, isNew)
	}
	return he.Hold
}

func activeCount(t *testing.T, s store.Store, org store.OrgID) int {
	t.Helper()
	p := must(s.ListUsers(ctx(t), org, store.UserQuery{Filter: store.Compare{Field: store.FieldActive, Op: store.OpEq, Value: true}}))(t)
	return p.Total
}

func testHoldCrossing(t *testing.T, s store.Store) {
	f := newHoldFixture(t, s, "acme", 30, true) // allowed: max(20, 10% of 30) = 20
	for i := range 20 {
		check(t, f.deactivate(t, s, i, holdT0().Add(time.Duration(i)*time.Second)))
	}
	before := must(s.GetUser(ctx(t), f.org.ID, f.users[20].ID))(t)
	h := wantHeld(t, f.deactivate(t, s, 20, holdT0().Add(time.Minute)), true)
	if h.ID == "" || h.OrgID != f.org.ID || h.TokenID != f.token || h.ConnectionID != f.conn.ID || !h.Open() ||
		h.Deprovisioned != 20 || h.ActiveUsers != 30 || h.Allowed != 20 || h.Window != time.Hour {
		t.Errorf("hold = %+v", h)
	}
	after := must(s.GetUser(ctx(t), f.org.ID, f.users[20].ID))(t)
	if !after.Active || after.Version != before.Version {
		t.Errorf("held user = active %v version %d, want unchanged (active, %d)", after.Active, after.Version, before.Version)
	}
	if n := activeCount(t, s, f.org.ID); n != 10 {
		t.Errorf("active users = %d, want 10", n)
	}
	// Further de-provisioning is held by the same hold, with no new event.
	again := wantHeld(t, f.deactivate(t, s, 21, holdT0().Add(2*time.Minute)), false)
	if again.ID != h.ID {
		t.Errorf("second refusal names hold %s, want %s", again.ID, h.ID)
	}
	evs := events(t, s, f.org.ID, store.ActionDeprovisioningHeld)
	if len(evs) != 1 {
		t.Fatalf("%d %s events, want 1", len(evs), store.ActionDeprovisioningHeld)
	}
	ev := evs[0]
	if ev.Actor != "token:"+string(f.token) || ev.ConnectionID != f.conn.ID || ev.UserID != f.users[20].ID ||
		ev.Detail["hold_id"] != string(h.ID) || ev.Detail["token"] != string(f.token) || ev.Detail["deprovisioned"] != "20" ||
		ev.Detail["active_users"] != "30" || ev.Detail["allowed"] != "20" || ev.Detail["request_id"] != "r1" {
		t.Errorf("held event = %+v", ev)
	}
	if n := len(events(t, s, f.org.ID, "user.deactivated")); n != 20 {
		t.Errorf("%d user.deactivated events, want 20", n)
	}
	open := must(s.ListHolds(ctx(t), f.org.ID, true))(t)
	if len(open) != 1 || open[0].ID != h.ID {
		t.Errorf("open holds = %+v", open)
	}
	got := must(s.GetHold(ctx(t), f.org.ID, h.ID))(t)
	if got.Deprovisioned != 20 || !got.CreatedAt.Equal(h.CreatedAt) || !got.Open() {
		t.Errorf("GetHold = %+v, want %+v", got, h)
	}
	_, err := s.GetHold(ctx(t), f.org.ID, "nope")
	wantErr(t, err, store.ErrNotFound)
}

func testHoldDelete(t *testing.T, s store.Store) {
	f := newHoldFixture(t, s, "acme", 22, true)
	for i := range 20 {
		check(t, s.DeleteUserGuarded(ctx(t), f.org.ID, f.users[i].ID, f.ev(), f.guard(holdT0()), nil))
	}
	wantHeld(t, s.DeleteUserGuarded(ctx(t), f.org.ID, f.users[20].ID, f.ev(), f.guard(holdT0()), nil), true)
	u := must(s.GetUser(ctx(t), f.org.ID, f.users[20].ID))(t)
	if u.DeletedAt != nil || !u.Active {
		t.Errorf("held deletion changed the user: %+v", u)
	}
	wantHeld(t, s.DeleteUserGuarded(ctx(t), f.org.ID, f.users[21].ID, f.ev(), f.guard(holdT0()), nil), false)
	if n := len(events(t, s, f.org.ID, "user.deleted")); n != 20 {
		t.Errorf("%d user.deleted events, want 20", n)
	}
	// A version check that refuses writes nothing, not even a count or a hold.
	wantErr(t, s.DeleteUserGuarded(ctx(t), f.org.ID, f.users[21].ID, f.ev(), store.DeprovisionGuard{}, func(current int64) error {
		return fmt.Errorf("current %d: %w", current, store.ErrVersionMismatch)
	}), store.ErrVersionMismatch)
	if u := must(s.GetUser(ctx(t), f.org.ID, f.users[21].ID))(t); u.DeletedAt != nil {
		t.Errorf("a refused version check deleted the user")
	}
}

func testHoldShare(t *testing.T, s store.Store) {
	f := newHoldFixture(t, s, "acme", 250, true) // allowed: max(20, 25) = 25
	for i := range 25 {
		check(t, f.deactivate(t, s, i, holdT0()))
	}
	h := wantHeld(t, f.deactivate(t, s, 25, holdT0()), true)
	if h.Allowed != 25 || h.ActiveUsers != 250 || h.Deprovisioned != 25 {
		t.Errorf("hold = %+v, want 25 of 250 allowed 25", h)
	}
}

func testHoldRelease(t *testing.T, s store.Store) {
	f := newHoldFixture(t, s, "acme", 60, true)
	for i := range 20 {
		check(t, f.deactivate(t, s, i, holdT0()))
	}
	h := wantHeld(t, f.deactivate(t, s, 20, holdT0()), true)

	other := newOrg(t, s, "other")
	_, err := s.ReleaseHold(ctx(t), other.ID, h.ID, store.AuditEvent{Actor: "user:mallory"})
	wantErr(t, err, store.ErrNotFound)

	rel := must(s.ReleaseHold(ctx(t), f.org.ID, h.ID, store.AuditEvent{Actor: "user:admin"}))(t)
	if rel.Open() || rel.ReleasedBy != "user:admin" {
		t.Errorf("released hold = %+v", rel)
	}
	got := must(s.GetHold(ctx(t), f.org.ID, h.ID))(t)
	if got.Open() || got.ReleasedBy != "user:admin" || !got.ReleasedAt.Equal(*rel.ReleasedAt) {
		t.Errorf("GetHold after release = %+v", got)
	}
	_, err = s.ReleaseHold(ctx(t), f.org.ID, h.ID, store.AuditEvent{Actor: "user:admin"})
	wantErr(t, err, store.ErrConflict)
	evs := events(t, s, f.org.ID, store.ActionDeprovisioningReleased)
	if len(evs) != 1 || evs[0].Actor != "user:admin" || evs[0].Detail["hold_id"] != string(h.ID) ||
		evs[0].Detail["token"] != string(f.token) || evs[0].ConnectionID != f.conn.ID {
		t.Errorf("released events = %+v", evs)
	}
	if open := must(s.ListHolds(ctx(t), f.org.ID, true))(t); len(open) != 0 {
		t.Errorf("open holds after release = %+v", open)
	}
	if all := must(s.ListHolds(ctx(t), f.org.ID, false))(t); len(all) != 1 {
		t.Errorf("all holds = %+v, want the released one", all)
	}
	// The count starts afresh: the held user and the next ones go through,
	// up to the limit again (20 of the 40 now active, at least 20).
	for i := 20; i < 40; i++ {
		check(t, f.deactivate(t, s, i, holdT0().Add(time.Minute)))
	}
	h2 := wantHeld(t, f.deactivate(t, s, 40, holdT0().Add(time.Minute)), true)
	if h2.ID == h.ID || h2.Deprovisioned != 20 || h2.ActiveUsers != 40 {
		t.Errorf("second hold = %+v", h2)
	}
}

func testHoldSmallOrg(t *testing.T, s store.Store) {
	f := newHoldFixture(t, s, "tiny", 20, true) // at most Minimum users: never held
	for i := range 15 {
		check(t, f.deactivate(t, s, i, holdT0()))
	}
	for i := 15; i < 20; i++ {
		check(t, s.DeleteUserGuarded(ctx(t), f.org.ID, f.users[i].ID, f.ev(), f.guard(holdT0()), nil))
	}
	if n := activeCount(t, s, f.org.ID); n != 0 {
		t.Errorf("active users = %d, want 0", n)
	}
	if hs := must(s.ListHolds(ctx(t), f.org.ID, false))(t); len(hs) != 0 {
		t.Errorf("holds = %+v, want none", hs)
	}
}

func testHoldReactivation(t *testing.T, s store.Store) {
	f := newHoldFixture(t, s, "acme", 30, false) // all inactive
	for i := range 30 {
		_, err := s.UpdateUserGuarded(ctx(t), f.org.ID, f.users[i].ID, setActive(true), f.ev(), f.guard(holdT0()))
		check(t, err)
	}
	// Deleting inactive users takes no one's access: neither counted nor held.
	extra := newUser(t, s, f.org.ID, "gone", func(u *store.User) { u.Active = false })
	check(t, s.DeleteUserGuarded(ctx(t), f.org.ID, extra.ID, f.ev(), f.guard(holdT0()), nil))
	// Only de-provisionings count: 20 go through, the 21st is held.
	for i := range 20 {
		check(t, f.deactivate(t, s, i, holdT0()))
	}
	wantHeld(t, f.deactivate(t, s, 20, holdT0()), true)
}

func testHoldWindow(t *testing.T, s store.Store) {
	f := newHoldFixture(t, s, "acme", 100, true)
	for i := range 20 {
		check(t, f.deactivate(t, s, i, holdT0()))
	}
	// Past the window the earlier ones no longer count.
	later := holdT0().Add(time.Hour + time.Second)
	for i := 20; i < 40; i++ {
		check(t, f.deactivate(t, s, i, later))
	}
	wantHeld(t, f.deactivate(t, s, 40, later), true)
}

func testHoldOtherTokens(t *testing.T, s store.Store) {
	f := newHoldFixture(t, s, "acme", 50, true)
	for i := range 20 {
		check(t, f.deactivate(t, s, i, holdT0()))
	}
	wantHeld(t, f.deactivate(t, s, 20, holdT0()), true)
	// Writes by the held token that de-provision no one go on.
	renamed := must(s.UpdateUserGuarded(ctx(t), f.org.ID, f.users[21].ID, func(u *store.User) error {
		u.DisplayName = "Renamed"
		return nil
	}, f.ev(), f.guard(holdT0())))(t)
	if renamed.DisplayName != "Renamed" || !renamed.Active {
		t.Errorf("renamed = %+v", renamed)
	}
	if u := must(s.UpdateUserGuarded(ctx(t), f.org.ID, f.users[0].ID, setActive(true), f.ev(), f.guard(holdT0())))(t); !u.Active {
		t.Errorf("reactivation by the held token: %+v", u)
	}
	// Another token of the organization is not held.
	must(s.CreateToken(ctx(t), store.Token{ID: "tok-second", OrgID: f.org.ID, ConnectionID: f.conn.ID, Kind: store.TokenSCIM,
		Hash: []byte{2}}, store.AuditEvent{}))(t)
	g := f.guard(holdT0())
	g.Token = "tok-second"
	_, err := s.UpdateUserGuarded(ctx(t), f.org.ID, f.users[22].ID, setActive(false), f.ev(), g)
	check(t, err)
	// Unguarded writes (an Admin's) are not held.
	_, err = s.UpdateUser(ctx(t), f.org.ID, f.users[23].ID, setActive(false), store.AuditEvent{Actor: "user:admin"})
	check(t, err)
}

func testHoldConcurrent(t *testing.T, s store.Store) {
	f := newHoldFixture(t, s, "acme", 40, true) // allowed 20
	for i := range 15 {
		check(t, f.deactivate(t, s, i, holdT0()))
	}
	const racers = 10
	var (
		wg         sync.WaitGroup
		mu         sync.Mutex
		done, held int
		unexpected []error
		start      = make(chan struct{})
	)
	for i := 15; i < 15+racers; i++ {
		wg.Go(func() {
			<-start
			err := f.deactivate(t, s, i, holdT0())
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				done++
			case errors.Is(err, store.ErrHeld):
				held++
			default:
				unexpected = append(unexpected, err)
			}
		})
	}
	close(start)
	wg.Wait()
	if len(unexpected) > 0 {
		t.Fatalf("unexpected errors: %v", unexpected)
	}
	if done != 5 || held != 5 {
		t.Errorf("%d de-provisioned and %d held, want exactly 5 and 5", done, held)
	}
	if n := activeCount(t, s, f.org.ID); n != 20 {
		t.Errorf("active users = %d, want 20", n)
	}
	if hs := must(s.ListHolds(ctx(t), f.org.ID, false))(t); len(hs) != 1 {
		t.Errorf("holds = %+v, want exactly one", hs)
	}
}

func testHoldDisabled(t *testing.T, s store.Store) {
	f := newHoldFixture(t, s, "acme", 30, true)
	g := f.guard(holdT0())
	g.Limit = store.DeprovisionLimit{}
	for i := range 30 {
		_, err := s.UpdateUserGuarded(ctx(t), f.org.ID, f.users[i].ID, setActive(false), f.ev(), g)
		check(t, err)
	}
	if n := activeCount(t, s, f.org.ID); n != 0 {
		t.Errorf("active users = %d, want 0", n)
	}
}

func testPurgeEvents(t *testing.T, s store.Store) {
	a := newOrg(t, s, "acme")
	b := newOrg(t, s, "globex")
	cut := time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)
	for i, org := range []store.OrgID{a.ID, b.ID} {
		for d := -3; d < 3; d++ {
			check(t, s.RecordEvent(ctx(t), store.AuditEvent{OrgID: org, Time: cut.Add(time.Duration(d) * 24 * time.Hour),
				Actor: "test", Action: "test.event", Detail: map[string]string{"n": fmt.Sprint(i, d)}}))
		}
	}
	n := must(s.PurgeEvents(ctx(t), cut))(t)
	if n != 6 {
		t.Errorf("PurgeEvents = %d, want 6", n)
	}
	for _, org := range []store.OrgID{a.ID, b.ID} {
		evs := events(t, s, org, "test.event")
		if len(evs) != 3 {
			t.Fatalf("%d events left, want 3", len(evs))
		}
		for _, ev := range evs {
			if ev.Time.Before(cut) {
				t.Errorf("event at %s survived the purge before %s", ev.Time, cut)
			}
		}
	}
	if n := must(s.PurgeEvents(ctx(t), cut))(t); n != 0 {
		t.Errorf("second PurgeEvents = %d, want 0", n)
	}

	// When every event is old enough, the newest stays, and IDs keep growing
	// past it.
	var last int64
	for _, org := range []store.OrgID{a.ID, b.ID} {
		for _, ev := range events(t, s, org, "test.event") {
			last = max(last, ev.ID)
		}
	}
	if n := must(s.PurgeEvents(ctx(t), cut.Add(365*24*time.Hour)))(t); n < 5 {
		t.Errorf("PurgeEvents of everything = %d, want at least the 5 older test events", n)
	}
	left := append(events(t, s, a.ID, "test.event"), events(t, s, b.ID, "test.event")...)
	if len(left) != 1 || left[0].ID != last {
		t.Errorf("after purging everything, events left = %+v, want the newest, %d", left, last)
	}
	check(t, s.RecordEvent(ctx(t), store.AuditEvent{OrgID: a.ID, Actor: "test", Action: "test.after"}))
	if after := events(t, s, a.ID, "test.after"); len(after) != 1 || after[0].ID <= last {
		t.Errorf("event recorded after the purge = %+v, want an ID above %d", after, last)
	}
}
