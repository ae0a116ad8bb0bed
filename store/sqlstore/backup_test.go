package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// directory reads every user of the organization in the store at path,
// tombstones included, by userName.
func directory(t *testing.T, s *Store, slug string) map[string]store.User {
	t.Helper()
	org, err := s.GetOrgBySlug(t.Context(), slug)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]store.User{}
	for start := 1; ; start += store.MaxPageSize {
		p, err := s.ListUsers(t.Context(), org.ID, store.UserQuery{StartIndex: start, Count: store.MaxPageSize, IncludeDeleted: true})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range p.Items {
			out[u.UserName] = u
		}
		if start+store.MaxPageSize > p.Total {
			return out
		}
	}
}

// rawQuery reads one value from the SQLite file at path, outside the store.
func rawQuery(t *testing.T, path, query string, dest any) {
	t.Helper()
	db, err := sql.Open("sqlite3", path+"?_query_only=on")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.QueryRowContext(t.Context(), query).Scan(dest); err != nil {
		t.Fatalf("%s on %s: %v", query, path, err)
	}
}

// userWriter creates users in org, one after another, until stopped, and
// keeps the userNames acknowledged (committed), in order.
type userWriter struct {
	mu    sync.Mutex
	acked []string
	err   error
	stop  chan struct{}
	done  chan struct{}
	// reached is closed once n users are acknowledged, n set by waitFor.
	wait chan struct{}
	want int
}

func startUserWriter(s *Store, org store.OrgID, prefix string) *userWriter {
	w := &userWriter{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		for i := 0; ; i++ {
			select {
			case <-w.stop:
				return
			default:
			}
			name := fmt.Sprintf("%s%06d@acme.example", prefix, i)
			_, err := s.CreateUser(context.Background(), store.User{OrgID: org, UserName: name, Active: true, Source: store.SourceSCIM},
				store.AuditEvent{Actor: "test"})
			w.mu.Lock()
			if err != nil {
				w.err = err
				w.mu.Unlock()
				return
			}
			w.acked = append(w.acked, name)
			if w.wait != nil && len(w.acked) >= w.want {
				close(w.wait)
				w.wait = nil
			}
			w.mu.Unlock()
		}
	}()
	return w
}

// waitFor returns once at least n users are acknowledged.
func (w *userWriter) waitFor(t *testing.T, n int) {
	t.Helper()
	w.mu.Lock()
	if len(w.acked) >= n || w.err != nil {
		w.mu.Unlock()
		return
	}
	ch := make(chan struct{})
	w.wait, w.want = ch, n
	w.mu.Unlock()
	select {
	case <-ch:
	case <-w.done:
	}
}

func (w *userWriter) snapshot() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.acked)
}

func (w *userWriter) finish(t *testing.T) []string {
	t.Helper()
	close(w.stop)
	<-w.done
	if w.err != nil {
		t.Fatalf("background writer: %v", w.err)
	}
	return w.snapshot()
}

func TestBackupWhileWriting(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "onramp.db")
	s, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	org, err := s.CreateOrg(t.Context(), store.Org{Slug: "acme", Name: "Acme"}, store.AuditEvent{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}

	// Several writers, so that the writer's batches are full while the
	// backup runs.
	var ws []*userWriter
	for i := range 4 {
		ws = append(ws, startUserWriter(s, org.ID, fmt.Sprintf("w%d-", i)))
	}
	var before []string // acknowledged before the backup started
	for _, w := range ws {
		w.waitFor(t, 50)
	}
	for _, w := range ws {
		before = append(before, w.snapshot()...)
	}
	backup := filepath.Join(dir, "backups", "onramp-backup.db")
	if err := os.Mkdir(filepath.Dir(backup), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := Backup(t.Context(), path, backup); err != nil {
		t.Fatalf("Backup: %v", err)
	}
	// The writes go on after the backup, which did not stop them.
	var all []string
	var each [][]string
	for _, w := range ws {
		w.waitFor(t, len(w.snapshot())+50)
	}
	for _, w := range ws {
		acked := w.finish(t)
		each = append(each, acked)
		all = append(all, acked...)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	fi, err := os.Stat(backup)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("backup mode %v, want 0600: it holds secrets", fi.Mode().Perm())
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(backup), ".*partial*")); len(left) > 0 {
		t.Errorf("partial files left behind: %q", left)
	}
	var check string
	rawQuery(t, backup, "PRAGMA integrity_check", &check)
	if check != "ok" {
		t.Fatalf("integrity_check of the backup: %s", check)
	}
	// One write is one transaction: a user and its audit event are both in
	// the copy or neither is.
	var users, events int
	rawQuery(t, backup, "SELECT COUNT(*) FROM users", &users)
	rawQuery(t, backup, "SELECT COUNT(*) FROM audit_events WHERE action = 'user.created'", &events)
	if users != events {
		t.Errorf("backup has %d users and %d user.created events", users, events)
	}

	// The migrations see the backup as up to date: Open applies nothing.
	var logs bytes.Buffer
	b, err := Open(t.Context(), backup, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatalf("Open backup: %v", err)
	}
	defer b.Close()
	if strings.Contains(logs.String(), "migration applied") {
		t.Errorf("opening the backup migrated it:\n%s", logs.String())
	}
	got := directory(t, b, "acme")
	for _, name := range before {
		if _, ok := got[name]; !ok {
			t.Errorf("%s was acknowledged before the backup started but is not in it", name)
		}
	}
	for name := range got {
		if !slices.Contains(all, name) {
			t.Errorf("backup holds %s, which was never acknowledged", name)
		}
	}
	// A snapshot: of each writer's users, the backup holds the first n.
	for i, acked := range each {
		n := 0
		for n < len(acked) {
			if _, ok := got[acked[n]]; !ok {
				break
			}
			n++
		}
		for _, name := range acked[n:] {
			if _, ok := got[name]; ok {
				t.Errorf("writer %d: the backup holds %s but not %s, created before it", i, name, acked[n])
			}
		}
	}
	if len(got) >= len(all) {
		t.Errorf("backup holds %d users, the store %d: the backup should be a point in the middle", len(got), len(all))
	}
	t.Logf("acknowledged before the backup: %d; in the backup: %d; in the end: %d", len(before), len(got), len(all))
}

func TestRestoreFromBackup(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "onramp.db")
	s, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	org, err := s.CreateOrg(t.Context(), store.Org{Slug: "acme", Name: "Acme"}, store.AuditEvent{Actor: "test"})
	if err != nil {
		t.Fatal(err)
	}
	create := func(s *Store, name string) {
		t.Helper()
		if _, err := s.CreateUser(t.Context(), store.User{OrgID: org.ID, UserName: name, Active: true}, store.AuditEvent{Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	create(s, "ann@acme.example")
	backup := filepath.Join(dir, "backup.db")
	if err := Backup(t.Context(), path, backup); err != nil {
		t.Fatal(err)
	}
	create(s, "bob@acme.example") // after the backup: lost by the restore
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// The documented restore: the server is stopped; replace the file with
	// the backup and delete the old file's -wal and -shm.
	b, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path + "-wal", path + "-shm"} {
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}

	opened := time.Now()
	r, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatalf("Open restored: %v", err)
	}
	defer r.Close()
	// The replay records written after the backup are gone: the restored
	// store refuses assertions issued before it opened (fence.go).
	if r.fence.Before(opened.Truncate(time.Microsecond)) {
		t.Errorf("restored store's replay fence %s, want its opening time (at least %s)", r.fence, opened)
	}
	got := directory(t, r, "acme")
	if _, ok := got["ann@acme.example"]; !ok || len(got) != 1 {
		t.Errorf("restored users %v, want only ann", slices.Collect(mapsKeys(got)))
	}
	create(r, "cy@acme.example") // the restored store takes writes
	if got := directory(t, r, "acme"); len(got) != 2 {
		t.Errorf("after a write: %d users, want 2", len(got))
	}
}

func mapsKeys(m map[string]store.User) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func TestBackupRefuses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "onramp.db")
	s, err := Open(t.Context(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	existing := filepath.Join(dir, "existing.db")
	if err := os.WriteFile(existing, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	// A SQLite file that is not onramp's.
	other := filepath.Join(dir, "other.db")
	db, err := sql.Open("sqlite3", other)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec("CREATE TABLE t (x)"); err != nil {
		t.Fatal(err)
	}
	db.Close()

	tests := []struct {
		name, from, to, want string
	}{
		{"postgres", "postgres://u:p@localhost/onramp", filepath.Join(dir, "b1.db"), "pg_dump"},
		{"missing source", filepath.Join(dir, "nope.db"), filepath.Join(dir, "b2.db"), "no such file"},
		{"existing destination", path, existing, "exists"},
		{"onto itself", path, path, "exists"},
		{"onto its WAL", path, path + "-wal", "own files"},
		{"not onramp's", other, filepath.Join(dir, "b3.db"), "not an onramp database"},
		{"destination directory missing", path, filepath.Join(dir, "nodir", "b4.db"), "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Backup(t.Context(), tt.from, tt.to)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Backup(%s, %s) = %v, want an error with %q", tt.from, tt.to, err, tt.want)
			}
		})
	}
	if err := Backup(t.Context(), "postgresql://x/y", filepath.Join(dir, "b.db")); !errors.Is(err, ErrBackupPostgres) {
		t.Errorf("postgresql:// DSN: %v, want ErrBackupPostgres", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "nope.db")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("backing up a missing database created it: %v", err)
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Errorf("an existing destination was overwritten: %q", b)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if strings.Contains(e.Name(), "partial") || strings.HasPrefix(e.Name(), "b") {
			t.Errorf("left behind: %s", e.Name())
		}
	}
}
