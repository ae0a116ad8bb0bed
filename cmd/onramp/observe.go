package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/onramp-dev/onramp/emaillogin"
	"github.com/onramp-dev/onramp/jit"
	"github.com/onramp-dev/onramp/metrics"
	"github.com/onramp-dev/onramp/scim"
)

// scimLogAttrs adds the organization and connection of a SCIM request's
// bearer token to the records logged while it is served (server.LogHandler).
func scimLogAttrs(ctx context.Context) []slog.Attr {
	t, ok := scim.TenantFrom(ctx)
	if !ok {
		return nil
	}
	return []slog.Attr{slog.String("org", string(t.Org)), slog.String("connection", string(t.Connection))}
}

// janitorPurges counts what the jit janitor purges. Purges added to
// jit.JanitorStore later pass through uncounted until they are listed here.
type janitorPurges struct {
	jit.JanitorStore
	m *metrics.Metrics
}

func (s janitorPurges) PurgeAssertions(ctx context.Context, now time.Time) (int, error) {
	n, err := s.JanitorStore.PurgeAssertions(ctx, now)
	if err == nil && s.m != nil {
		s.m.Purged("assertions", n)
	}
	return n, err
}

func (s janitorPurges) DeleteExpiredSessions(ctx context.Context, now time.Time, idle time.Duration) (int, error) {
	n, err := s.JanitorStore.DeleteExpiredSessions(ctx, now, idle)
	if err == nil && s.m != nil {
		s.m.Purged("sessions", n)
	}
	return n, err
}

// linkPurges counts what the email sign-in's sweeper purges.
type linkPurges struct {
	emaillogin.Store
	m *metrics.Metrics
}

func (s linkPurges) PurgeLoginLinks(ctx context.Context, now time.Time) (int, error) {
	n, err := s.Store.PurgeLoginLinks(ctx, now)
	if err == nil && s.m != nil {
		s.m.Purged("login_links", n)
	}
	return n, err
}

func (s linkPurges) PurgeRateLimits(ctx context.Context, now time.Time) (int, error) {
	n, err := s.Store.PurgeRateLimits(ctx, now)
	if err == nil && s.m != nil {
		s.m.Purged("rate_limits", n)
	}
	return n, err
}
