package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// signInFixture is an organization, a connection and a linked account to
// sign in with.
type signInFixture struct {
	org  store.Org
	conn store.Connection
	user store.User
	n    int
}

func newSignInFixture(t *testing.T, s *Store) *signInFixture {
	t.Helper()
	ctx := t.Context()
	ev := store.AuditEvent{Actor: "test", Action: "test"}
	o, err := s.CreateOrg(ctx, store.Org{Slug: "acme", Name: "Acme"}, ev)
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.CreateConnection(ctx, store.Connection{OrgID: o.ID, Slug: "okta", Name: "Okta"}, ev)
	if err != nil {
		t.Fatal(err)
	}
	u, err := s.CreateLinkedUser(ctx, store.User{OrgID: o.ID, UserName: "ann@acme.com", Active: true, Source: store.SourceJIT},
		store.Identity{ConnectionID: c.ID, NameID: "00u1"}, ev)
	if err != nil {
		t.Fatal(err)
	}
	return &signInFixture{org: o, conn: c, user: u}
}

// signIn signs the linked account in with a new assertion ID issued at
// issued (zero: not given) and returns the ID and SignIn's error.
func (f *signInFixture) signIn(t *testing.T, s *Store, issued time.Time) (string, error) {
	t.Helper()
	f.n++
	id := fmt.Sprintf("_a%d", f.n)
	return id, f.signInWith(t, s, id, issued)
}

func (f *signInFixture) signInWith(t *testing.T, s *Store, id string, issued time.Time) error {
	t.Helper()
	// The account as it is now (LastSignInAt does not change its version).
	_, u, err := s.GetLinkedUser(t.Context(), f.conn.ID, "00u1")
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.SignIn(t.Context(), store.SignIn{
		OrgID:     f.org.ID,
		Assertion: store.UsedAssertion{ConnectionID: f.conn.ID, ID: id, NotOnOrAfter: time.Now().Add(time.Hour), IssuedAt: issued},
		NameID:    "00u1",
		Account:   store.SignInAccount{Linked: &u},
		Session:   &store.Session{IDHash: []byte("session " + id), ExpiresAt: time.Now().Add(time.Hour)},
		Events:    []store.AuditEvent{{Actor: "idp:okta", Action: "user.signed_in"}},
	})
	return err
}

// heldSync replaces the store's WAL fsync with one that waits for release
// and then does the real fsync; calls counts the fsyncs started.
type heldSync struct {
	release chan struct{}
	calls   atomic.Int64
	fail    atomic.Pointer[error]
}

func holdSync(t *testing.T, s *Store) *heldSync {
	t.Helper()
	w := groupOf(t, s)
	h := &heldSync{release: make(chan struct{})}
	real := w.syncer.sync
	// No kick has reached the syncer's goroutine since Open (every write so
	// far committed with FULL), so the goroutine has not read sync yet.
	w.syncer.sync = func() error {
		h.calls.Add(1)
		<-h.release
		if err := h.fail.Load(); err != nil {
			return *err
		}
		return real()
	}
	t.Cleanup(func() {
		select {
		case <-h.release:
		default:
			close(h.release)
		}
	})
	return h
}

// synchronousMode reads the writer connection's synchronous setting: 1
// NORMAL, 2 FULL.
func synchronousMode(t *testing.T, s *Store) int {
	t.Helper()
	var mode int
	if err := writeDB(t, s).QueryRowContext(t.Context(), "PRAGMA synchronous").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	return mode
}

// notDurableYet asserts that Durable does not return within a short wait:
// it is held on the fsync, which the test holds back.
func notDurableYet(t *testing.T, s *Store) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := s.Durable(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Durable with the fsync held back = %v, want it still waiting (deadline exceeded)", err)
	}
}

// TestSignInAnsweredBeforeItsFsync: a sign-in returns once committed, with
// synchronous=NORMAL, while the fsync that makes it durable is still to
// come; Durable waits for that fsync; and the sign-in is there for a reader
// (and after a reopen) all along.
func TestSignInAnsweredBeforeItsFsync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "onramp.db")
	s, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newSignInFixture(t, s)
	if got := synchronousMode(t, s); got != 2 {
		t.Fatalf("synchronous after FULL writes = %d, want 2 (FULL)", got)
	}
	if err := s.Durable(t.Context()); err != nil {
		t.Fatalf("Durable after FULL writes only: %v", err)
	}
	h := holdSync(t, s)

	id, err := f.signIn(t, s, time.Time{})
	if err != nil {
		t.Fatalf("SignIn with the fsync held back: %v", err)
	}
	if got := synchronousMode(t, s); got != 1 {
		t.Errorf("synchronous after a batch of sign-ins = %d, want 1 (NORMAL)", got)
	}
	if err := f.signInWith(t, s, id, time.Time{}); !errors.Is(err, store.ErrAssertionUsed) {
		t.Errorf("replay before the fsync = %v, want ErrAssertionUsed", err)
	}
	notDurableYet(t, s)
	for h.calls.Load() == 0 {
		time.Sleep(time.Millisecond)
	}

	close(h.release)
	if err := s.Durable(t.Context()); err != nil {
		t.Fatalf("Durable after the fsync: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = openAt(t, path)
	if err := f.signInWith(t, s, id, time.Time{}); !errors.Is(err, store.ErrAssertionUsed) {
		t.Errorf("replay after a reopen = %v, want ErrAssertionUsed", err)
	}
}

// TestEmptyCommitIsNoFsync: a FULL commit that wrote nothing (a Ping)
// fsyncs nothing, so it must not count as making the sign-ins before it
// durable; the syncer's fsync still does.
func TestEmptyCommitIsNoFsync(t *testing.T) {
	s := openTest(t)
	f := newSignInFixture(t, s)
	h := holdSync(t, s)
	if _, err := f.signIn(t, s, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if got := synchronousMode(t, s); got != 2 {
		t.Fatalf("synchronous after a Ping = %d, want 2 (FULL)", got)
	}
	notDurableYet(t, s)
	close(h.release)
	if err := s.Durable(t.Context()); err != nil {
		t.Fatalf("Durable after the fsync: %v", err)
	}
}

// TestFullCommitCoversEarlierSignIns: a write that is not a sign-in commits
// with synchronous=FULL, and its fsync flushes the whole WAL, the sign-ins
// before it included: Durable returns without the syncer's fsync, so a SCIM
// write under a stream of sign-ins waits for one fsync, not two.
func TestFullCommitCoversEarlierSignIns(t *testing.T) {
	s := openTest(t)
	f := newSignInFixture(t, s)
	holdSync(t, s)
	if _, err := f.signIn(t, s, time.Time{}); err != nil {
		t.Fatal(err)
	}
	notDurableYet(t, s)
	if _, err := s.CreateOrg(t.Context(), store.Org{Slug: "globex"}, store.AuditEvent{Action: "org.created"}); err != nil {
		t.Fatal(err)
	}
	if got := synchronousMode(t, s); got != 2 {
		t.Errorf("synchronous after a write that is not a sign-in = %d, want 2 (FULL)", got)
	}
	if err := s.Durable(t.Context()); err != nil {
		t.Errorf("Durable after a FULL commit that wrote, the syncer held back: %v", err)
	}
}

// TestFullCommitsAloneNeedNoFsync: while no sign-in waits for its fsync,
// FULL commits are durable by themselves, and Durable returns without the
// syncer.
func TestFullCommitsAloneNeedNoFsync(t *testing.T) {
	s := openTest(t)
	h := holdSync(t, s)
	newSignInFixture(t, s)
	if err := s.Ping(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := s.Durable(t.Context()); err != nil {
		t.Errorf("Durable after FULL commits only, the syncer held back: %v", err)
	}
	if n := h.calls.Load(); n != 0 {
		t.Errorf("the syncer fsynced %d times after FULL commits only", n)
	}
}

// TestMixedBatchCommitsFull: a batch that holds a sign-in and another write
// commits with FULL: the other write was promised durable when answered.
func TestMixedBatchCommitsFull(t *testing.T) {
	s := openTest(t)
	f := newSignInFixture(t, s)
	w := groupOf(t, s)
	h := holdSync(t, s)
	release := hold(t, w)
	done := make(chan error, 2)
	go func() { _, err := f.signIn(t, s, time.Time{}); done <- err }()
	for len(w.jobs) < 1 {
		time.Sleep(time.Millisecond)
	}
	go func() {
		_, err := s.CreateOrg(context.Background(), store.Org{Slug: "globex"}, store.AuditEvent{Action: "org.created"})
		done <- err
	}()
	for len(w.jobs) < 2 {
		time.Sleep(time.Millisecond)
	}
	release()
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if got := synchronousMode(t, s); got != 2 {
		t.Errorf("synchronous after a mixed batch = %d, want 2 (FULL)", got)
	}
	if err := s.Durable(t.Context()); err != nil {
		t.Errorf("Durable after a mixed batch, the syncer held back: %v", err)
	}
	if n := h.calls.Load(); n != 0 {
		t.Errorf("the syncer fsynced %d times after FULL commits only", n)
	}
}

// TestFsyncFailureIsSticky: once the WAL's fsync fails, Durable fails, and
// keeps failing after later commits (even FULL ones), so that no answer
// shows a write the disk may not hold.
func TestFsyncFailureIsSticky(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "onramp.db"), nil)
	if err != nil {
		t.Fatal(err)
	}
	f := newSignInFixture(t, s)
	h := holdSync(t, s)
	errDisk := errors.New("input/output error")
	h.fail.Store(&errDisk)
	close(h.release)
	if _, err := f.signIn(t, s, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := s.Durable(t.Context()); !errors.Is(err, errDisk) {
		t.Fatalf("Durable after a failed fsync = %v, want the fsync's error", err)
	}
	if _, err := s.CreateOrg(t.Context(), store.Org{Slug: "globex"}, store.AuditEvent{Action: "org.created"}); err != nil {
		t.Fatal(err)
	}
	if err := s.Durable(t.Context()); !errors.Is(err, errDisk) {
		t.Errorf("Durable after a later FULL commit = %v, want the fsync's error still", err)
	}
	if err := s.Close(); !errors.Is(err, errDisk) {
		t.Errorf("Close = %v, want the fsync's error", err)
	}
}

// TestReplayFence: the fence moves when the database is opened on another
// boot of the machine (or where the boot is unknown), never on the same
// boot, and SignIn refuses assertions issued before it, writing nothing.
func TestReplayFence(t *testing.T) {
	path := filepath.Join(t.TempDir(), "onramp.db")
	clock := time.Date(2030, 1, 1, 12, 0, 0, 0, time.UTC)
	open := func(boot string) *Store {
		t.Helper()
		s, err := Open(t.Context(), path, nil, WithBootID(boot), WithNow(func() time.Time { return clock }))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	reopen := func(s *Store, boot string) *Store {
		t.Helper()
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
		return open(boot)
	}

	s := open("boot-a")
	if !s.fence.IsZero() {
		t.Fatalf("a new database has fence %s, want none", s.fence)
	}
	f := newSignInFixture(t, s)
	if _, err := f.signIn(t, s, clock.Add(-time.Minute)); err != nil {
		t.Fatalf("sign-in without a fence: %v", err)
	}
	clock = clock.Add(time.Hour)
	s = reopen(s, "boot-a")
	if !s.fence.IsZero() {
		t.Fatalf("reopened on the same boot: fence %s, want none (a crash of the process loses no commit)", s.fence)
	}

	clock = clock.Add(time.Hour)
	restart := clock
	s = reopen(s, "boot-b")
	t.Cleanup(func() { _ = s.Close() })
	if !s.fence.Equal(restart) {
		t.Fatalf("reopened on another boot: fence %s, want %s", s.fence, restart)
	}
	id := "_issued_before"
	if err := f.signInWith(t, s, id, restart.Add(-time.Second)); !errors.Is(err, store.ErrIssuedBeforeRecovery) {
		t.Fatalf("assertion issued before the fence: %v, want ErrIssuedBeforeRecovery", err)
	}
	// Nothing was written: not even the assertion ID.
	if err := f.signInWith(t, s, id, time.Time{}); err != nil {
		t.Errorf("the refused assertion's ID was recorded: %v", err)
	}
	if _, err := f.signIn(t, s, restart); err != nil {
		t.Errorf("assertion issued at the fence: %v", err)
	}

	clock = clock.Add(time.Hour)
	s = reopen(s, "boot-b")
	if !s.fence.Equal(restart) {
		t.Errorf("reopened on the same boot: fence %s, want it kept at %s", s.fence, restart)
	}
	clock = clock.Add(time.Hour)
	s = reopen(s, "")
	if !s.fence.Equal(clock) {
		t.Errorf("reopened where the boot is unknown: fence %s, want %s", s.fence, clock)
	}
}
