package sqlstore

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
)

// walSyncer makes deferred commits durable right after they return (doc.go,
// "Deferred durability"). The writer counts its commits; a commit with
// synchronous=FULL is durable itself, one with synchronous=NORMAL (a batch
// of sign-ins only) is not, and kicks the syncer, whose goroutine
// fsyncs the WAL file through a descriptor of its own: on Linux an fsync
// flushes the file's every dirty page whoever wrote it, so it covers every
// commit that returned before it started. Commits that land while one fsync
// runs share the next. wait is Store.Durable.
type walSyncer struct {
	log *slog.Logger
	// sync makes the WAL file durable; tests replace it to hold a sync back.
	sync func() error

	// begun counts the COMMITs the writer has started, ended those that
	// returned. A reader may see a commit's rows as soon as it begins, so
	// wait waits for every begun commit; a sync covers the ended ones.
	begun, ended atomic.Uint64

	mu      sync.Mutex
	synced  uint64        // every commit up to this one is durable
	err     error         // the first fsync failure; sticky (see advance)
	changed chan struct{} // closed and replaced whenever synced or err changes

	kick chan struct{} // capacity 1: a sync is wanted
	done chan struct{} // closed when the goroutine has exited
}

// newWALSyncer starts the goroutine that fsyncs walPath (the database's
// "-wal" file, by absolute path) when kicked.
func newWALSyncer(walPath string, log *slog.Logger) *walSyncer {
	s := &walSyncer{
		log:     log,
		changed: make(chan struct{}),
		kick:    make(chan struct{}, 1),
		done:    make(chan struct{}),
	}
	f := &walFile{path: walPath}
	s.sync = f.sync
	go s.loop(f)
	return s
}

// beginCommit is called by the writer just before a COMMIT.
func (s *walSyncer) beginCommit() { s.begun.Add(1) }

// endCommit is called by the writer once the COMMIT begun last has returned.
// full says that it returned nil with synchronous=FULL: then it is durable
// itself (SQLite fsynced the WAL if the transaction wrote anything, and an
// empty one has nothing to keep). It covers the commits before it too if it
// wrote something, since its fsync flushed the whole WAL: wrote says the
// writer saw it change rows. An empty one (a Ping, a batch whose every job
// failed or changed nothing) fsyncs nothing, so without wrote it counts as
// the sync point only if every commit before it was durable already.
// Otherwise (synchronous=NORMAL, a failed COMMIT, which may have written part
// of the WAL, or deferred commits still waiting) the goroutine is to fsync
// the WAL.
func (s *walSyncer) endCommit(full, wrote bool) {
	n := s.ended.Add(1)
	if full {
		s.mu.Lock()
		covered := wrote || s.synced == n-1
		s.mu.Unlock()
		if covered {
			s.advance(n, nil)
			return
		}
	}
	select {
	case s.kick <- struct{}{}:
	default: // a sync is already wanted; it will cover this commit
	}
}

// deferredPending reports whether a commit that ended is not known durable:
// the writer then counts whether its next FULL commit writes.
func (s *walSyncer) deferredPending() bool {
	n := s.ended.Load()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.synced < n
}

// advance records that every commit up to n is durable (if err is nil) or
// that the fsync meant to make them so failed, and wakes the waiters. A
// failure is sticky: after a failed fsync Linux may mark the pages it could
// not write clean, so a later fsync that succeeds proves nothing about them
// (PostgreSQL stops the server for the same reason). Every wait fails from
// then on, so that nothing is shown as durable, until the process restarts
// and SQLite recovers the database from what the disk holds.
func (s *walSyncer) advance(n uint64, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err != nil && s.err == nil:
		s.err = err
	case err == nil && n > s.synced:
		s.synced = n
	default:
		return
	}
	close(s.changed)
	s.changed = make(chan struct{})
}

// wait returns once every commit made before the call is durable, or the
// error of an fsync that should have made it so, or ctx's error.
func (s *walSyncer) wait(ctx context.Context) error {
	target := s.begun.Load()
	for {
		s.mu.Lock()
		synced, err, changed := s.synced, s.err, s.changed
		s.mu.Unlock()
		switch {
		case err != nil:
			return fmt.Errorf("sqlstore: make recent writes durable: %w", err)
		case synced >= target:
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return fmt.Errorf("sqlstore: wait for recent writes to be durable: %w", ctx.Err())
		}
	}
}

func (s *walSyncer) loop(f *walFile) {
	defer close(s.done)
	defer f.close()
	for range s.kick {
		s.syncNow()
	}
	// Closed: the writer has made its last commit.
	s.syncNow()
}

// syncNow fsyncs the WAL if a commit since the last sync needs it.
func (s *walSyncer) syncNow() {
	// Read before the fsync: it covers every commit ended by then.
	n := s.ended.Load()
	s.mu.Lock()
	pending := s.synced < n
	s.mu.Unlock()
	if !pending {
		return
	}
	err := s.sync()
	if err != nil {
		s.log.Error("sqlstore: fsync of the WAL failed: recent sign-ins are not durable", "err", err)
	}
	s.advance(n, err)
}

// close makes the last deferred commits durable and stops the goroutine. The
// writer calls it after its last commit.
func (s *walSyncer) close() error {
	close(s.kick)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return fmt.Errorf("sqlstore: last fsync of the WAL: %w", s.err)
	}
	return nil
}

// walFile is the WAL file, opened read-only on first use and kept open: the
// writer's connection keeps the WAL in place (SQLite removes it only when
// the last connection to the database closes), and a checkpoint that
// restarts or truncates it keeps the file.
type walFile struct {
	path string
	f    *os.File
}

func (w *walFile) sync() error {
	if w.f == nil {
		f, err := os.Open(w.path)
		if err != nil {
			return fmt.Errorf("open WAL: %w", err)
		}
		w.f = f
	}
	if err := w.f.Sync(); err != nil {
		// Open it anew next time, in case the file was replaced.
		_ = w.f.Close()
		w.f = nil
		return fmt.Errorf("fsync WAL: %w", err)
	}
	return nil
}

func (w *walFile) close() {
	if w.f != nil {
		_ = w.f.Close()
		w.f = nil
	}
}
