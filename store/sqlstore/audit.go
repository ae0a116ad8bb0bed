package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// defaultAuditLimit is ListEvents' page size when AuditQuery.Limit is not set.
const defaultAuditLimit = 100

// RecordEvent writes an audit event that goes with no change (a decision such as
// a refusal).
func (s *Store) RecordEvent(ctx context.Context, ev store.AuditEvent) error {
	if ev.Action == "" {
		return fmt.Errorf("sqlstore: record event: empty action")
	}
	return s.write(ctx, "sqlstore: record event", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		return s.insertEvent(ctx, tx, ev, now, "")
	})
}

// ListEvents returns an organization's audit events, newest first. Since is
// inclusive, Until exclusive; Before is the ID of the last event of the previous
// page. Limit defaults to 100 and is capped at store.MaxPageSize.
func (s *Store) ListEvents(ctx context.Context, org store.OrgID, q store.AuditQuery) ([]store.AuditEvent, error) {
	var (
		where strings.Builder
		args  = []any{string(org)}
	)
	where.WriteString("org_id = ?")
	add := func(cond string, v any) {
		where.WriteString(" AND " + cond)
		args = append(args, v)
	}
	if q.Actor != "" {
		add("actor = ?", q.Actor)
	}
	if q.Action != "" {
		add("action = ?", q.Action)
	}
	if q.UserID != "" {
		add("user_id = ?", string(q.UserID))
	}
	if !q.Since.IsZero() {
		add("time >= ?", micros(stamp(q.Since)))
	}
	if !q.Until.IsZero() {
		add("time < ?", micros(stamp(q.Until)))
	}
	if q.Before > 0 {
		add("id < ?", q.Before)
	}
	limit := q.Limit
	if limit <= 0 {
		limit = defaultAuditLimit
	}
	args = append(args, min(limit, store.MaxPageSize))
	query := s.d.rebind("SELECT " + eventCols + " FROM audit_events WHERE " + where.String() + " ORDER BY id DESC LIMIT ?")
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list events: %w", err)
	}
	return collect(rows, scanEvent, "sqlstore: list events")
}

func scanEvent(sc scanner) (store.AuditEvent, error) {
	var (
		ev     store.AuditEvent
		t      int64
		detail []byte
	)
	err := sc.Scan(&ev.ID, &ev.OrgID, &t, &ev.Actor, &ev.Action, &ev.UserID, &ev.GroupID, &ev.ConnectionID,
		&ev.Rule, &detail)
	if err != nil {
		return store.AuditEvent{}, err
	}
	ev.Time = fromMicros(t)
	if ev.Detail, err = decodeMap(detail); err != nil {
		return store.AuditEvent{}, fmt.Errorf("audit event %d: detail: %w", ev.ID, err)
	}
	return ev, nil
}
