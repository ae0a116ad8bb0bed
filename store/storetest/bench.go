package storetest

import (
	"context"
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// BenchOpen returns a new, empty, migrated store for a benchmark. Bench closes it.
type BenchOpen func(b *testing.B) store.Store

// BenchConfig sizes the benchmarks.
type BenchConfig struct {
	// Prefill is how many users GetByUserName's organization holds (default 10000).
	Prefill int
	// Clients is the number of concurrent callers of the parallel benchmarks
	// (default 64, like a busy IdP pushing with many connections).
	Clients int
	// Settle, if set, runs after a benchmark's bulk load and before its timer
	// starts, to bring the engine to the state it reaches on its own soon after
	// such a load (PostgreSQL: the planner statistics autovacuum gathers within
	// a minute), so that the benchmarks measure the steady state.
	Settle func(b *testing.B, s store.Store)
}

// Bench measures the store operations behind onramp's performance targets:
//
//	CreateUser/serial        one caller: one transaction per create
//	CreateUser/parallel      Clients callers at once (group commit's case)
//	GetByUserName/prefill=N  the SCIM "userName eq" lookup IdPs do before a create
//	Deactivate/parallel      active=false with a session to end, Clients callers
//
// Each reports ops/s besides ns/op.
func Bench(b *testing.B, open BenchOpen, cfg BenchConfig) {
	if cfg.Prefill <= 0 {
		cfg.Prefill = 10000
	}
	if cfg.Clients <= 0 {
		cfg.Clients = 64
	}
	b.Run("CreateUser/serial", func(b *testing.B) {
		s, org := benchStore(b, open)
		var i int
		for b.Loop() {
			i++
			if _, err := s.CreateUser(context.Background(), benchUser(org, "serial", i), store.AuditEvent{Actor: "bench"}); err != nil {
				b.Fatal(err)
			}
		}
		opsPerSec(b)
	})
	b.Run(fmt.Sprintf("CreateUser/parallel%d", cfg.Clients), func(b *testing.B) {
		s, org := benchStore(b, open)
		var n atomic.Int64
		parallel(b, cfg.Clients, func() {
			if _, err := s.CreateUser(context.Background(), benchUser(org, "par", int(n.Add(1))), store.AuditEvent{Actor: "bench"}); err != nil {
				b.Error(err)
			}
		})
		opsPerSec(b)
	})

	// One prefilled store serves every run of GetByUserName.
	s, org := benchStore(b, open)
	prefill(b, s, org, "get", cfg.Prefill, cfg.Clients)
	settle(b, cfg, s)
	b.Run(fmt.Sprintf("GetByUserName/prefill=%d", cfg.Prefill), func(b *testing.B) {
		r := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // G404: a repeatable benchmark sequence, not a secret
		for b.Loop() {
			name := fmt.Sprintf("GET.USER%07d@EXAMPLE.COM", r.IntN(cfg.Prefill))
			p, err := s.ListUsers(context.Background(), org, store.UserQuery{Count: 1,
				Filter: store.Compare{Field: store.FieldUserName, Op: store.OpEq, Value: name}})
			if err != nil || p.Total != 1 {
				b.Fatalf("lookup %s: %d found, err %v", name, p.Total, err)
			}
		}
		opsPerSec(b)
	})

	b.Run(fmt.Sprintf("Deactivate/parallel%d", cfg.Clients), func(b *testing.B) {
		s, org := benchStore(b, open)
		ids := prefill(b, s, org, "deact", b.N, cfg.Clients)
		for i, id := range ids {
			now := time.Now()
			if err := s.CreateSession(context.Background(), store.Session{IDHash: fmt.Appendf(nil, "session-%d", i), OrgID: org,
				UserID: id, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				b.Fatal(err)
			}
		}
		settle(b, cfg, s)
		var n atomic.Int64
		b.ResetTimer()
		parallel(b, cfg.Clients, func() {
			id := ids[n.Add(1)-1]
			_, err := s.UpdateUser(context.Background(), org, id, func(u *store.User) error { u.Active = false; return nil },
				store.AuditEvent{Actor: "bench"})
			if err != nil {
				b.Error(err)
			}
		})
		opsPerSec(b)
	})
}

func settle(b *testing.B, cfg BenchConfig, s store.Store) {
	b.Helper()
	if cfg.Settle != nil {
		b.StopTimer()
		cfg.Settle(b, s)
		b.StartTimer()
	}
}

func benchStore(b *testing.B, open BenchOpen) (store.Store, store.OrgID) {
	b.Helper()
	s := open(b)
	b.Cleanup(func() {
		if err := s.Close(); err != nil {
			b.Errorf("Close: %v", err)
		}
	})
	o, err := s.CreateOrg(context.Background(), store.Org{Slug: "bench", Name: "Bench"}, store.AuditEvent{Actor: "bench"})
	if err != nil {
		b.Fatal(err)
	}
	return s, o.ID
}

// benchUser is a user as an IdP pushes it: a few emails, a resource body.
func benchUser(org store.OrgID, prefix string, i int) store.User {
	name := fmt.Sprintf("%s.user%07d@example.com", prefix, i)
	return store.User{
		OrgID: org, UserName: name, ExternalID: fmt.Sprintf("00u%s%07d", prefix, i), DisplayName: "Bench User",
		GivenName: "Bench", FamilyName: "User", Active: true, Role: "Member", Source: store.SourceSCIM,
		Emails:   []store.Email{{Value: name, Type: "work", Primary: true}},
		Resource: fmt.Appendf(nil, `{"userName":%q,"name":{"givenName":"Bench","familyName":"User"},"active":true}`, name),
	}
}

// prefill creates n users with clients concurrent callers, outside the timer.
func prefill(b *testing.B, s store.Store, org store.OrgID, prefix string, n, clients int) []store.UserID {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	ids := make([]store.UserID, n)
	next := make(chan int)
	var wg sync.WaitGroup
	for range clients {
		wg.Go(func() {
			for i := range next {
				u, err := s.CreateUser(context.Background(), benchUser(org, prefix, i), store.AuditEvent{Actor: "bench"})
				if err != nil {
					b.Error(err)
					continue
				}
				ids[i] = u.ID
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	if b.Failed() {
		b.FailNow()
	}
	return ids
}

// parallel runs op b.N times from clients goroutines in total.
func parallel(b *testing.B, clients int, op func()) {
	b.SetParallelism(max(1, (clients+runtime.GOMAXPROCS(0)-1)/runtime.GOMAXPROCS(0)))
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			op()
		}
	})
}

func opsPerSec(b *testing.B) {
	if s := b.Elapsed().Seconds(); s > 0 {
		b.ReportMetric(float64(b.N)/s, "ops/s")
	}
}
