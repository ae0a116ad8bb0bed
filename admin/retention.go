package admin

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// DefaultAuditRetention is how long audit events are kept by default: a
// year, long enough for an annual access review, bounded so that the log does
// not grow without end.
const DefaultAuditRetention = 365 * 24 * time.Hour

// DefaultRetentionInterval is how often the audit log is swept by default.
const DefaultRetentionInterval = time.Hour

// AuditPurger is the part of the store the retention sweeper uses.
type AuditPurger interface {
	PurgeEvents(ctx context.Context, before time.Time) (int, error)
}

// RetentionConfig configures a RetentionSweeper.
type RetentionConfig struct {
	Store AuditPurger
	// Keep is how long events are kept; required (positive).
	Keep time.Duration
	// Interval between sweeps; 0 means DefaultRetentionInterval.
	Interval time.Duration
	Now      func() time.Time
	Logger   *slog.Logger
	// Purged, if set, is told how many events each sweep deleted (metrics).
	Purged func(n int)
}

// RetentionSweeper deletes audit events older than the retention, in the
// background. Every replica may run one: the deletes are idempotent, and the
// store deletes in small batches, so a first sweep over a large backlog does
// not hold up other writes.
type RetentionSweeper struct {
	cfg RetentionConfig
}

// NewRetentionSweeper returns a RetentionSweeper.
func NewRetentionSweeper(cfg RetentionConfig) (*RetentionSweeper, error) {
	var problems []error
	if cfg.Store == nil {
		problems = append(problems, errors.New("admin: retention: no store"))
	}
	if cfg.Keep <= 0 {
		problems = append(problems, errors.New("admin: retention: Keep must be positive"))
	}
	if cfg.Interval < 0 {
		problems = append(problems, errors.New("admin: retention: negative interval"))
	}
	if err := errors.Join(problems...); err != nil {
		return nil, err
	}
	if cfg.Interval == 0 {
		cfg.Interval = DefaultRetentionInterval
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &RetentionSweeper{cfg: cfg}, nil
}

// Sweep deletes the events older than the retention once and returns how
// many.
func (r *RetentionSweeper) Sweep(ctx context.Context) (int, error) {
	n, err := r.cfg.Store.PurgeEvents(ctx, r.cfg.Now().Add(-r.cfg.Keep))
	if n > 0 && r.cfg.Purged != nil {
		r.cfg.Purged(n)
	}
	if err != nil {
		return n, fmt.Errorf("admin: retention: %w", err)
	}
	return n, nil
}

// Run sweeps at once and then every interval until ctx ends. A failed sweep
// is logged and tried again at the next interval.
func (r *RetentionSweeper) Run(ctx context.Context) {
	t := time.NewTicker(r.cfg.Interval)
	defer t.Stop()
	for {
		n, err := r.Sweep(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			r.cfg.Logger.WarnContext(ctx, "admin: audit retention sweep failed", "err", err)
		case n > 0:
			r.cfg.Logger.InfoContext(ctx, "admin: purged audit events past their retention", "events", n, "retention", r.cfg.Keep)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
