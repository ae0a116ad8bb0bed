package sqlstore

import (
	"errors"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

func TestObserverSeesEveryWrite(t *testing.T) {
	type call struct {
		op  string
		d   time.Duration
		err error
	}
	var (
		mu    sync.Mutex
		calls []call
	)
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "onramp.db"), nil, WithObserver(func(op string, d time.Duration, err error) {
		mu.Lock()
		defer mu.Unlock()
		calls = append(calls, call{op, d, err})
	}))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ev := store.AuditEvent{Actor: "test"}
	org, err := s.CreateOrg(t.Context(), store.Org{Slug: "acme", Name: "Acme"}, ev)
	if err != nil {
		t.Fatal(err)
	}
	u := store.User{OrgID: org.ID, UserName: "ann@acme.example", Active: true}
	if _, err := s.CreateUser(t.Context(), u, ev); err != nil {
		t.Fatal(err)
	}
	_, dupErr := s.CreateUser(t.Context(), u, ev)
	if !errors.Is(dupErr, store.ErrConflict) {
		t.Fatalf("duplicate CreateUser = %v, want ErrConflict", dupErr)
	}
	// A read is not a write: not observed.
	if _, err := s.GetOrgBySlug(t.Context(), "acme"); err != nil {
		t.Fatal(err)
	}

	mu.Lock()
	defer mu.Unlock()
	var ops []string
	for _, c := range calls {
		ops = append(ops, c.op)
		if c.d <= 0 {
			t.Errorf("%s: duration %v", c.op, c.d)
		}
	}
	want := []string{"sqlstore: create org", "sqlstore: create user", "sqlstore: create user"}
	if !slices.Equal(ops, want) {
		t.Fatalf("observed %q, want %q", ops, want)
	}
	if calls[0].err != nil || calls[1].err != nil || !errors.Is(calls[2].err, store.ErrConflict) {
		t.Errorf("errors %v, %v, %v: want nil, nil, the conflict", calls[0].err, calls[1].err, calls[2].err)
	}
}
