package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// Tests of sign-ins held for their verdict (store.SignIn.Verdict;
// groupWriter.doHeld and hold) and of onramp_cacheflush() (cacheflush.go).
//
// The writer holds a sign-in for at most maxHold of real time, too short
// for a test on a busy machine to act within. So the tests that depend on
// where a hold stands run in a synctest bubble, the store's goroutines
// included: its clock moves only when every goroutine in it is blocked, so
// maxHold runs out only when nothing else can happen, and synctest.Wait
// returns once the writer waits in hold (nothing else is written, so the
// held job is the only thing it can be blocked on).

// heldFixture is a store with an organization and a connection, for
// sign-ins that create an account. It remembers the identities and
// sessions of the sign-ins it built, for state.
type heldFixture struct {
	s        *Store
	path     string // the SQLite file; empty on PostgreSQL
	org      store.Org
	conn     store.Connection
	nameIDs  []string
	sessions []string
}

// newHeldFixture opens a SQLite store in a new directory, closed when the
// test ends.
func newHeldFixture(t *testing.T) *heldFixture {
	t.Helper()
	path := filepath.Join(t.TempDir(), "onramp.db")
	f := &heldFixture{path: path}
	f.setUp(t, openAt(t, path))
	return f
}

// setUp creates the organization and the connection on s.
func (f *heldFixture) setUp(t *testing.T, s *Store) {
	t.Helper()
	ev := store.AuditEvent{Actor: "test", Action: "test"}
	o, err := s.CreateOrg(t.Context(), store.Org{Slug: "acme", Name: "Acme"}, ev)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateConnection(t.Context(), store.Connection{OrgID: o.ID, Slug: "okta", Name: "Okta"}, ev)
	if err != nil {
		t.Fatal(err)
	}
	f.s, f.org, f.conn = s, o, c
}

// in is the sign-in, with assertion ID id, that creates the account
// userName (email userName@acme.com) linked to the identity "00u-"+userName,
// with the session "session-"+userName; held for verdict unless it is nil.
func (f *heldFixture) in(id, userName string, verdict <-chan bool) store.SignIn {
	nameID, session := "00u-"+userName, "session-"+userName
	if !slices.Contains(f.nameIDs, nameID) {
		f.nameIDs = append(f.nameIDs, nameID)
		f.sessions = append(f.sessions, session)
	}
	return store.SignIn{
		OrgID:     f.org.ID,
		Assertion: store.UsedAssertion{ConnectionID: f.conn.ID, ID: id, NotOnOrAfter: time.Now().Add(time.Hour)},
		NameID:    nameID,
		Account: store.SignInAccount{Create: &store.User{OrgID: f.org.ID, UserName: userName, Active: true,
			Source: store.SourceJIT, ConnectionID: f.conn.ID, Emails: []store.Email{{Value: userName + "@acme.com", Primary: true}}}},
		Session: &store.Session{IDHash: []byte(session), ExpiresAt: time.Now().Add(time.Hour)},
		Events: []store.AuditEvent{
			{Actor: "idp:okta", Action: "jit.created"},
			{Actor: "idp:okta", Action: "jit.signed_in"},
		},
		Verdict: verdict,
	}
}

// signIn starts SignIn(in) in a goroutine and returns where its error will be.
func (f *heldFixture) signIn(t *testing.T, in store.SignIn) <-chan error {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		_, err := f.s.SignIn(t.Context(), in)
		errc <- err
	}()
	return errc
}

// state is what s holds of the fixture's organization, as its readers see
// it: the accounts, the identities linked and the sessions among those the
// fixture's sign-ins would create, the assertion IDs recorded and the
// sign-ins' audit events.
func (f *heldFixture) state(t *testing.T, s *Store) string {
	t.Helper()
	ctx := t.Context()
	page, err := s.ListUsers(ctx, f.org.ID, store.UserQuery{Count: 100})
	if err != nil {
		t.Fatal(err)
	}
	var users, linked, sessions, assertions, events []string
	for _, u := range page.Items {
		users = append(users, u.UserName)
	}
	for _, nameID := range f.nameIDs {
		_, u, err := s.GetLinkedUser(ctx, f.conn.ID, nameID)
		switch {
		case err == nil:
			linked = append(linked, nameID+"="+u.UserName)
		case !errors.Is(err, store.ErrNotFound):
			t.Fatal(err)
		}
	}
	for _, hash := range f.sessions {
		_, err := s.GetSession(ctx, []byte(hash))
		switch {
		case err == nil:
			sessions = append(sessions, hash)
		case !errors.Is(err, store.ErrNotFound):
			t.Fatal(err)
		}
	}
	rs, err := s.read.QueryContext(ctx, s.d.rebind("SELECT assertion_id FROM assertions WHERE connection_id = ? ORDER BY assertion_id"), string(f.conn.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	for rs.Next() {
		var id string
		if err := rs.Scan(&id); err != nil {
			t.Fatal(err)
		}
		assertions = append(assertions, id)
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	evs, err := s.ListEvents(ctx, f.org.ID, store.AuditQuery{Actor: "idp:okta", Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		events = append(events, ev.Action)
	}
	slices.Sort(users)
	slices.Sort(events)
	return fmt.Sprintf("users %v, linked %v, sessions %v, assertions %v, events %v", users, linked, sessions, assertions, events)
}

// wantState fails the test unless s holds want (see state).
func (f *heldFixture) wantState(t *testing.T, s *Store, what, want string) {
	t.Helper()
	if got := f.state(t, s); got != want {
		t.Errorf("%s:\n got  %s\n want %s", what, got, want)
	}
}

// The states of the fixture's organization the tests expect.
const (
	heldNothing = "users [], linked [], sessions [], assertions [], events []"
	heldDee     = "users [dee], linked [00u-dee=dee], sessions [session-dee], assertions [_a1], events [jit.created jit.signed_in]"
)

// wantNotHeld fails the test unless err is store.ErrNotHeld and, if reason
// is set, says it: the writer's message tells which of hold's ways out was
// taken.
func wantNotHeld(t *testing.T, err error, reason string) {
	t.Helper()
	if !errors.Is(err, store.ErrNotHeld) {
		t.Fatalf("err = %v, want ErrNotHeld", err)
	}
	if reason != "" && !strings.Contains(err.Error(), reason) {
		t.Errorf("err = %v, want ErrNotHeld for %q", err, reason)
	}
}

// walSize is the size of the WAL file of the database at path (0 if there
// is none).
func walSize(t *testing.T, path string) int64 {
	t.Helper()
	n, err := walBytes(path)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// walBytes is walSize for a write's fn, which runs on the writer's
// goroutine and must not stop it with t.Fatal.
func walBytes(path string) (int64, error) {
	fi, err := os.Stat(path + "-wal")
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}

// truncateWAL checkpoints every committed frame into the database file and
// empties the WAL, on the checkpointer's connection, so that any frame
// written afterwards makes it grow (a WAL that a checkpoint has caught up
// with is otherwise written over from its start, at the same size).
func truncateWAL(t *testing.T, s *Store, path string) {
	t.Helper()
	var busy, frames, copied int
	if err := groupOf(t, s).ckpt.db.QueryRowContext(t.Context(), "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &frames, &copied); err != nil {
		t.Fatal(err)
	}
	if n := walSize(t, path); busy != 0 || n != 0 {
		t.Fatalf("wal_checkpoint(TRUNCATE): busy %d, WAL of %d bytes; want an empty WAL", busy, n)
	}
}

// integrityOK fails the test unless PRAGMA integrity_check on q says ok.
func integrityOK(t *testing.T, q querier) {
	t.Helper()
	var got string
	if err := q.QueryRowContext(t.Context(), "PRAGMA integrity_check").Scan(&got); err != nil {
		t.Fatal(err)
	}
	if got != "ok" {
		t.Errorf("integrity_check = %q, want ok", got)
	}
}

// crashCopy copies the database at path and its WAL, as a crash of the
// process (or of the machine, once the WAL was fsynced) would leave them,
// into a new directory, and returns the copy's path. The store must be
// still: nothing writes to either file while they are copied.
func crashCopy(t *testing.T, path string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "crashed.db")
	for _, suffix := range []string{"", "-wal"} {
		in, err := os.Open(path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(dst + suffix)
		if err != nil {
			t.Fatal(err)
		}
		_, err = io.Copy(out, in)
		if cerr := errors.Join(in.Close(), out.Close()); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return dst
}

// TestHeldSignInCommitsOnTrue: a held sign-in whose verdict is true commits
// everything it wrote (account, identity, session, assertion ID, events),
// whether the verdict was there before the hold or came during it; the
// assertion ID then stops a replay, held or not; and the commit becomes
// durable like any sign-in's.
func TestHeldSignInCommitsOnTrue(t *testing.T) {
	for _, later := range []bool{false, true} {
		t.Run(map[bool]string{false: "buffered", true: "sent later"}[later], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newHeldFixture(t)
				if !f.s.HoldsSignIns() {
					t.Fatal("HoldsSignIns() = false on SQLite")
				}
				verdict, sent := make(chan bool, 1), make(chan struct{})
				if later {
					// Sent once everything else is blocked: the writer waits
					// in hold, and 5 ms is well within maxHold.
					go func() {
						defer close(sent)
						time.Sleep(5 * time.Millisecond)
						verdict <- true
					}()
				} else {
					verdict <- true
					close(sent)
				}
				res, err := f.s.SignIn(t.Context(), f.in("_a1", "dee", verdict))
				<-sent
				if err != nil {
					t.Fatalf("held SignIn with a true verdict: %v", err)
				}
				if len(verdict) != 0 {
					t.Error("SignIn returned without reading its verdict")
				}
				f.wantState(t, f.s, "after the commit", heldDee)
				if se, err := f.s.GetSession(t.Context(), []byte("session-dee")); err != nil || res.User.ID == "" || se.UserID != res.User.ID {
					t.Errorf("session %+v, %v; want one of the account created, %q", se, err, res.User.ID)
				}
				if us, err := f.s.MatchUsers(t.Context(), f.org.ID, "dee", "", 5); err != nil || len(us) != 1 || us[0].ID != res.User.ID {
					t.Errorf("MatchUsers(dee) = %+v, %v; want the account created", us, err)
				}

				if _, err := f.s.SignIn(t.Context(), f.in("_a1", "eve", nil)); !errors.Is(err, store.ErrAssertionUsed) {
					t.Errorf("replay of the committed assertion ID: %v, want ErrAssertionUsed", err)
				}
				again := make(chan bool, 1)
				again <- true
				if _, err := f.s.SignIn(t.Context(), f.in("_a1", "eve", again)); !errors.Is(err, store.ErrAssertionUsed) || errors.Is(err, store.ErrNotHeld) {
					t.Errorf("held replay of the committed assertion ID: %v, want ErrAssertionUsed (SignIn's own error, not ErrNotHeld)", err)
				}
				f.wantState(t, f.s, "after the replays", heldDee)
				if err := f.s.Durable(t.Context()); err != nil {
					t.Errorf("Durable after a held sign-in: %v", err)
				}
			})
		})
	}
}

// TestHeldSignInFalseWritesNothing: a held sign-in whose verdict is false
// (there before the hold, or sent during it, once its pages are in the
// WAL) returns ErrNotHeld and leaves no trace: the assertion ID is free for
// the unheld sign-in that follows, later writes work, the database is
// sound, and a reopen, or a recovery from a copy of the files as a crash
// would leave them, finds exactly what was committed.
func TestHeldSignInFalseWritesNothing(t *testing.T) {
	for _, late := range []bool{false, true} {
		t.Run(map[bool]string{false: "buffered", true: "sent while held"}[late], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				f := newHeldFixture(t)
				verdict := make(chan bool, 1)
				if late {
					synctest.Wait()
					truncateWAL(t, f.s, f.path)
					errc := f.signIn(t, f.in("_a1", "dee", verdict))
					synctest.Wait()
					if n := walSize(t, f.path); n == 0 {
						t.Fatal("the WAL is empty while the sign-in is held: its pages were not written ahead")
					}
					verdict <- false
					wantNotHeld(t, <-errc, "verdict false")
				} else {
					verdict <- false
					_, err := f.s.SignIn(t.Context(), f.in("_a1", "dee", verdict))
					wantNotHeld(t, err, "verdict false")
				}
				f.wantState(t, f.s, "after a false verdict", heldNothing)
				if us, err := f.s.MatchUsers(t.Context(), f.org.ID, "dee", "dee@acme.com", 5); err != nil || len(us) != 0 {
					t.Errorf("MatchUsers(dee) = %+v, %v; want none", us, err)
				}

				if _, err := f.s.SignIn(t.Context(), f.in("_a1", "eve", nil)); err != nil {
					t.Fatalf("unheld sign-in with the rolled-back assertion ID: %v", err)
				}
				if _, err := f.s.CreateUser(t.Context(), store.User{OrgID: f.org.ID, UserName: "fred", Active: true}, store.AuditEvent{}); err != nil {
					t.Fatalf("write after the rollback: %v", err)
				}
				const want = "users [eve fred], linked [00u-eve=eve], sessions [session-eve], assertions [_a1], events [jit.created jit.signed_in]"
				f.wantState(t, f.s, "after the writes that followed", want)
				integrityOK(t, f.s.read)

				synctest.Wait() // the checkpointer and the syncer are still
				crashed := openAt(t, crashCopy(t, f.path))
				f.wantState(t, crashed, "recovered from a crash copy", want)
				integrityOK(t, crashed.read)

				if err := f.s.Close(); err != nil {
					t.Fatal(err)
				}
				reopened := openAt(t, f.path)
				f.wantState(t, reopened, "reopened", want)
				integrityOK(t, reopened.read)
			})
		})
	}
}

// TestHeldSignInPagesReachTheWALBeforeCommit: while a sign-in is held, its
// pages are in the WAL already (it grew from empty), yet no reader sees
// them, nor does a recovery from the files as they are then (a crash
// during the hold); once the verdict is true, readers see the sign-in.
func TestHeldSignInPagesReachTheWALBeforeCommit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newHeldFixture(t)
		synctest.Wait()
		truncateWAL(t, f.s, f.path)
		verdict := make(chan bool, 1)
		errc := f.signIn(t, f.in("_a1", "dee", verdict))
		synctest.Wait()

		if n := walSize(t, f.path); n == 0 {
			t.Error("the WAL is empty while the sign-in is held: its pages were not written ahead of the commit")
		}
		f.wantState(t, f.s, "a reader during the hold", heldNothing)
		if us, err := f.s.MatchUsers(t.Context(), f.org.ID, "dee", "dee@acme.com", 5); err != nil || len(us) != 0 {
			t.Errorf("MatchUsers(dee) during the hold = %+v, %v; want none", us, err)
		}
		crashed := crashCopy(t, f.path)

		verdict <- true
		if err := <-errc; err != nil {
			t.Fatalf("held SignIn with a true verdict: %v", err)
		}
		f.wantState(t, f.s, "after the commit", heldDee)
		if us, err := f.s.MatchUsers(t.Context(), f.org.ID, "dee", "", 5); err != nil || len(us) != 1 {
			t.Errorf("MatchUsers(dee) after the commit = %+v, %v; want the account", us, err)
		}

		c := openAt(t, crashed)
		f.wantState(t, c, "recovered from the files as they were during the hold", heldNothing)
		integrityOK(t, c.read)
	})
}

// TestHeldSignInYieldsToAnotherWrite: a write queued while a sign-in is
// held ends the hold: the write succeeds, the sign-in returns ErrNotHeld
// with nothing of it written, and its assertion ID is free.
func TestHeldSignInYieldsToAnotherWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newHeldFixture(t)
		verdict := make(chan bool, 1) // never sent
		errc := f.signIn(t, f.in("_a1", "dee", verdict))
		synctest.Wait()

		if _, err := f.s.CreateUser(t.Context(), store.User{OrgID: f.org.ID, UserName: "fred", Active: true}, store.AuditEvent{}); err != nil {
			t.Fatalf("write queued during the hold: %v", err)
		}
		wantNotHeld(t, <-errc, "another write queued")
		f.wantState(t, f.s, "after the hold gave way", "users [fred], linked [], sessions [], assertions [], events []")
		if _, err := f.s.SignIn(t.Context(), f.in("_a1", "dee", nil)); err != nil {
			t.Errorf("unheld sign-in with the rolled-back assertion ID: %v", err)
		}
		integrityOK(t, f.s.read)
	})
}

// TestHeldSignInWithoutVerdictRollsBack: a held sign-in whose verdict does
// not come within maxHold returns ErrNotHeld, with nothing written; a
// verdict sent after that changes nothing.
func TestHeldSignInWithoutVerdictRollsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := newHeldFixture(t)
		verdict := make(chan bool, 1)
		// The bubble's clock moves on to maxHold once the writer waits.
		_, err := f.s.SignIn(t.Context(), f.in("_a1", "dee", verdict))
		wantNotHeld(t, err, "no verdict within")
		f.wantState(t, f.s, "after the hold ran out", heldNothing)

		verdict <- true // too late: nobody reads it
		synctest.Wait()
		f.wantState(t, f.s, "after a late verdict", heldNothing)
		if _, err := f.s.SignIn(t.Context(), f.in("_a1", "dee", nil)); err != nil {
			t.Errorf("unheld sign-in with the rolled-back assertion ID: %v", err)
		}
		f.wantState(t, f.s, "after the unheld sign-in", heldDee)
		integrityOK(t, f.s.read)
	})
}

// TestHeldJobInABatchIsDeclined: a held job batched with other writes
// returns ErrNotHeld without its fn running, and the others commit; alone
// in its batch, the same job commits.
func TestHeldJobInABatchIsDeclined(t *testing.T) {
	s := writerFixture(t)
	w := groupOf(t, s)
	var ran atomic.Bool
	heldFn := func(ctx context.Context, tx *sql.Tx) error {
		ran.Store(true)
		return insert(100)(ctx, tx)
	}
	yes := func() <-chan bool {
		v := make(chan bool, 1)
		v <- true
		return v
	}

	release := hold(t, w)
	errs := make([]chan error, 3)
	for i := range errs {
		errs[i] = make(chan error, 1)
		go func() {
			if i == 1 {
				errs[i] <- w.doHeld(context.Background(), "held", yes(), heldFn)
			} else {
				errs[i] <- w.do(context.Background(), fmt.Sprint("job ", i), insert(i))
			}
		}()
		for len(w.jobs) < i+1 { // queued in order, one at a time
			time.Sleep(time.Millisecond)
		}
	}
	release()
	for i, errc := range errs {
		err := <-errc
		if i == 1 {
			wantNotHeld(t, err, "other writes waiting")
		} else if err != nil {
			t.Errorf("job %d, batched with a held one: %v", i, err)
		}
	}
	if ran.Load() {
		t.Error("the declined held job's fn ran")
	}
	if got := rows(t, s); !slices.Equal(got, []int{0, 2}) {
		t.Errorf("rows = %v, want [0 2]", got)
	}

	if err := w.doHeld(t.Context(), "held", yes(), heldFn); err != nil {
		t.Fatalf("held job alone in its batch: %v", err)
	}
	if got := rows(t, s); !slices.Equal(got, []int{0, 2, 100}) {
		t.Errorf("rows = %v, want [0 2 100]", got)
	}
}

// TestHeldJobDeclinedWhenAWriteIsAlreadyQueued: a held job alone in its
// batch, with a write queued while its fn ran (so before the hold began,
// its arrival signal already given), is not held even though its verdict
// is true: it returns ErrNotHeld with nothing written, and the queued
// write commits.
func TestHeldJobDeclinedWhenAWriteIsAlreadyQueued(t *testing.T) {
	s := writerFixture(t)
	w := groupOf(t, s)
	verdict := make(chan bool, 1)
	verdict <- true
	other := make(chan error, 1)
	err := w.doHeld(t.Context(), "held", verdict, func(ctx context.Context, tx *sql.Tx) error {
		if err := insert(100)(ctx, tx); err != nil {
			return err
		}
		go func() { other <- w.do(context.Background(), "other", insert(7)) }()
		for len(w.jobs) == 0 {
			time.Sleep(time.Millisecond)
		}
		return nil
	})
	wantNotHeld(t, err, "other writes waiting")
	if err := <-other; err != nil {
		t.Fatalf("the write queued during the held job: %v", err)
	}
	if got := rows(t, s); !slices.Equal(got, []int{7}) {
		t.Errorf("rows = %v, want [7]", got)
	}
}

// TestCacheFlushOutsideWriteTransactions: onramp_cacheflush() is defined on
// every connection the store opens, and outside a write transaction (the
// writer between writes, a reader, a reader's read transaction, the
// checkpointer) returns 1 and writes nothing: the WAL keeps its size, the
// data and the database are intact, and writes go on.
func TestCacheFlushOutsideWriteTransactions(t *testing.T) {
	path := filepath.Join(t.TempDir(), "onramp.db")
	s := openAt(t, path)
	o, err := s.CreateOrg(t.Context(), store.Org{Slug: "acme"}, store.AuditEvent{})
	if err != nil {
		t.Fatal(err)
	}
	rtx, err := s.read.BeginTx(t.Context(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = rtx.Rollback() }()
	var orgs int
	if err := rtx.QueryRowContext(t.Context(), "SELECT count(*) FROM orgs").Scan(&orgs); err != nil || orgs != 1 {
		t.Fatalf("orgs in the read transaction: %d, %v", orgs, err)
	}

	before := walSize(t, path)
	for _, c := range []struct {
		name string
		q    querier
	}{
		{"writer", writeDB(t, s)},
		{"reader", s.read},
		{"read transaction", rtx},
		{"checkpointer", groupOf(t, s).ckpt.db},
	} {
		var got int
		if err := c.q.QueryRowContext(t.Context(), "SELECT onramp_cacheflush()").Scan(&got); err != nil || got != 1 {
			t.Errorf("%s: SELECT onramp_cacheflush() = %d, %v; want 1", c.name, got, err)
		}
	}
	if err := rtx.Rollback(); err != nil {
		t.Fatal(err)
	}
	if n := walSize(t, path); n != before {
		t.Errorf("the WAL went from %d to %d bytes with no write", before, n)
	}
	integrityOK(t, s.read)
	if got, err := s.GetOrg(t.Context(), o.ID); err != nil || got.Slug != "acme" {
		t.Errorf("GetOrg = %+v, %v", got, err)
	}
	if _, err := s.CreateOrg(t.Context(), store.Org{Slug: "globex"}, store.AuditEvent{}); err != nil {
		t.Errorf("write after onramp_cacheflush(): %v", err)
	}
}

// TestCacheFlushWritesAheadOfCommit: inside a write transaction,
// onramp_cacheflush() writes the changed pages to the WAL; a rollback then
// discards them, and a commit keeps them, for readers, after a recovery
// from the files and after a reopen.
func TestCacheFlushWritesAheadOfCommit(t *testing.T) {
	path := filepath.Join(t.TempDir(), "onramp.db")
	s := openAt(t, path)
	if err := s.w.do(t.Context(), "fixture", func(ctx context.Context, tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, "CREATE TABLE t (x INTEGER PRIMARY KEY)")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	// flushed inserts x, has the page written to the WAL, checks that it
	// was and that no reader sees x, and returns fail.
	flushed := func(x int, fail error) func(context.Context, *sql.Tx) error {
		return func(ctx context.Context, tx *sql.Tx) error {
			if err := insert(x)(ctx, tx); err != nil {
				return err
			}
			before, err := walBytes(path)
			if err != nil {
				return err
			}
			var got int
			if err := tx.QueryRowContext(ctx, "SELECT onramp_cacheflush()").Scan(&got); err != nil || got != 1 {
				return fmt.Errorf("onramp_cacheflush() = %d, %v", got, err)
			}
			after, err := walBytes(path)
			if err != nil {
				return err
			}
			if after <= before {
				return fmt.Errorf("the WAL went from %d to %d bytes: no page written ahead of the commit", before, after)
			}
			var seen int
			if err := s.read.QueryRowContext(ctx, "SELECT count(*) FROM t WHERE x = ?", x).Scan(&seen); err != nil || seen != 0 {
				return fmt.Errorf("a reader sees %d rows x = %d before the commit (%v)", seen, x, err)
			}
			return fail
		}
	}
	errRollBack := errors.New("roll back")
	// Each write starts on an empty WAL, so that a flushed page grows it:
	// the rolled-back frames stay in the file, to be written over.
	truncateWAL(t, s, path)
	if err := s.w.do(t.Context(), "flushed, rolled back", flushed(1, errRollBack)); !errors.Is(err, errRollBack) {
		t.Fatalf("flushed write that fails: %v, want its own error", err)
	}
	if got := rows(t, s); len(got) != 0 {
		t.Errorf("rows = %v after the rollback, want none", got)
	}
	truncateWAL(t, s, path)
	if err := s.w.do(t.Context(), "flushed, committed", flushed(2, nil)); err != nil {
		t.Fatal(err)
	}
	if got := rows(t, s); !slices.Equal(got, []int{2}) {
		t.Errorf("rows = %v, want [2]", got)
	}
	integrityOK(t, s.read)

	c := openAt(t, crashCopy(t, path)) // the store is still: nothing is queued
	if got := rows(t, c); !slices.Equal(got, []int{2}) {
		t.Errorf("recovered from the files: rows = %v, want [2]", got)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	if got := rows(t, s); !slices.Equal(got, []int{2}) {
		t.Errorf("reopened: rows = %v, want [2]", got)
	}
	integrityOK(t, s.read)
}

// TestPostgresNeverHeld: PostgreSQL does not hold sign-ins: HoldsSignIns
// is false, and a sign-in with a Verdict, even a true one, returns
// ErrNotHeld at once with nothing written, its assertion ID free.
func TestPostgresNeverHeld(t *testing.T) {
	s := openPostgresTest(t)
	t.Cleanup(func() { _ = s.Close() })
	if s.HoldsSignIns() {
		t.Fatal("HoldsSignIns() = true on PostgreSQL")
	}
	f := &heldFixture{}
	f.setUp(t, s)
	verdict := make(chan bool, 1)
	verdict <- true
	_, err := s.SignIn(t.Context(), f.in("_a1", "dee", verdict))
	wantNotHeld(t, err, "")
	f.wantState(t, s, "after a sign-in with a verdict", heldNothing)
	if _, err := s.SignIn(t.Context(), f.in("_a1", "dee", nil)); err != nil {
		t.Fatalf("the same sign-in without a verdict: %v", err)
	}
	f.wantState(t, s, "after the sign-in without a verdict", heldDee)
}

// TestHeldJobNotEndedByALateArrivalSignal: enqueue queues a job, then
// signals arrived: two steps, between which the writer may take the job,
// run its fn and start holding it. The job's own signal then comes during
// its hold, though no other write waits, and must not end it.
func TestHeldJobNotEndedByALateArrivalSignal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := writerFixture(t)
		w := groupOf(t, s)
		verdict := make(chan bool, 1)
		j := &job{ctx: context.Background(), name: "held", fn: insert(1), done: make(chan result, 1), deferred: true, verdict: verdict}
		w.jobs <- j             // enqueue's first step
		synctest.Wait()         // the writer holds j
		w.arrived <- struct{}{} // enqueue's second step, late
		synctest.Wait()
		verdict <- true
		if r := <-j.done; r.err != nil {
			t.Fatalf("held job with a true verdict, no other write queued: %v", r.err)
		}
		if got := rows(t, s); !slices.Equal(got, []int{1}) {
			t.Errorf("rows = %v, want [1]", got)
		}
	})
}
