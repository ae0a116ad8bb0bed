package jit

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// DefaultJanitorInterval is how often a Janitor sweeps by default.
const DefaultJanitorInterval = 10 * time.Minute

// JanitorStore is the part of the store a Janitor cleans.
type JanitorStore interface {
	PurgeAssertions(ctx context.Context, now time.Time) (int, error)
	DeleteExpiredSessions(ctx context.Context, now time.Time, idle time.Duration) (int, error)
}

// JanitorConfig configures a Janitor.
type JanitorConfig struct {
	Store JanitorStore
	// Interval between sweeps; default DefaultJanitorInterval.
	Interval time.Duration
	// SessionIdle is the sessions' idle timeout, the same as
	// HandlerConfig.SessionIdle; default DefaultSessionIdle.
	SessionIdle time.Duration
	Now         func() time.Time
	Logger      *slog.Logger
}

// Janitor removes what the SAML path leaves behind once it can no longer
// matter: assertion IDs past their NotOnOrAfter (plus the clock skew the
// verifier recorded them with, so a replay is still caught for as long as any
// replica could accept the assertion) and sessions past their absolute
// expiry or idle timeout. Neither is needed for correctness (expired
// sessions are refused when presented, expired assertions fail verification
// before the replay cache is consulted); the janitor keeps the tables small.
// Every replica may run one: the deletes are idempotent.
type Janitor struct {
	st       JanitorStore
	interval time.Duration
	idle     time.Duration
	now      func() time.Time
	logger   *slog.Logger
}

// NewJanitor returns a Janitor.
func NewJanitor(cfg JanitorConfig) (*Janitor, error) {
	if cfg.Store == nil {
		return nil, errors.New("jit: janitor: no store")
	}
	if cfg.Interval < 0 || cfg.SessionIdle < 0 {
		return nil, errors.New("jit: janitor: negative interval or idle timeout")
	}
	j := &Janitor{st: cfg.Store, interval: cfg.Interval, idle: cfg.SessionIdle, now: cfg.Now, logger: cfg.Logger}
	if j.interval == 0 {
		j.interval = DefaultJanitorInterval
	}
	if j.idle == 0 {
		j.idle = DefaultSessionIdle
	}
	if j.now == nil {
		j.now = time.Now
	}
	if j.logger == nil {
		j.logger = slog.New(slog.DiscardHandler)
	}
	return j, nil
}

// Sweep purges once and returns how many assertion IDs and sessions it
// removed.
func (j *Janitor) Sweep(ctx context.Context) (assertions, sessions int, err error) {
	now := j.now()
	assertions, err1 := j.st.PurgeAssertions(ctx, now)
	if err1 != nil {
		err1 = fmt.Errorf("jit: janitor: %w", err1)
	}
	sessions, err2 := j.st.DeleteExpiredSessions(ctx, now, j.idle)
	if err2 != nil {
		err2 = fmt.Errorf("jit: janitor: %w", err2)
	}
	return assertions, sessions, errors.Join(err1, err2)
}

// Run sweeps at once and then every interval until ctx ends, and returns
// nil then. A failed sweep is logged and retried at the next interval (the
// store may be down for a while; nothing here is urgent).
func (j *Janitor) Run(ctx context.Context) error {
	t := time.NewTicker(j.interval)
	defer t.Stop()
	for {
		a, s, err := j.Sweep(ctx)
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			j.logger.WarnContext(ctx, "jit: janitor sweep failed", "err", err)
		case a > 0 || s > 0:
			j.logger.InfoContext(ctx, "jit: janitor swept", "assertions", a, "sessions", s)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}
