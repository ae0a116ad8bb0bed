package admin

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// Audit log page sizes.
const (
	defaultAuditLimit = 100
	maxAuditLimit     = 1000
)

// Event is an audit event.
type Event struct {
	ID           string            `json:"id"`
	Time         time.Time         `json:"time"`
	Actor        string            `json:"actor"`
	Action       string            `json:"action"`
	UserID       string            `json:"userId,omitempty"`
	GroupID      string            `json:"groupId,omitempty"`
	ConnectionID string            `json:"connectionId,omitempty"`
	Rule         string            `json:"rule,omitempty"`
	Detail       map[string]string `json:"detail,omitempty"`
}

// AuditQuery filters the audit log. Every set field must match.
type AuditQuery struct {
	Actor  string    // "token:<id>", "user:<id>", "operator", "system", "idp:<connection>"
	Action string    // e.g. "jit.refused"
	User   string    // events about this user ID
	Since  time.Time // inclusive
	Until  time.Time // exclusive
	// Cursor is NextCursor of the previous page; "" for the newest events.
	Cursor string
	Limit  int // page size; 0 for the default (100), at most 1000
}

// AuditLog is a page of events, newest first.
type AuditLog struct {
	Events []Event `json:"events"`
	// NextCursor fetches the next (older) page; absent on the last page.
	NextCursor string `json:"nextCursor,omitempty"`
}

// AuditLog returns a page of the organization's audit log, newest first.
// Pages are cut by event ID, so events written while an Admin pages through
// neither repeat nor shift the pages.
func (s *Service) AuditLog(ctx context.Context, a Actor, q AuditQuery) (AuditLog, error) {
	fe := fieldErrors{}
	var before int64
	if q.Cursor != "" {
		n, err := strconv.ParseInt(q.Cursor, 10, 64)
		if err != nil || n <= 0 {
			fe.add("cursor", "not a cursor from this API")
		}
		before = n
	}
	if q.Limit < 0 || q.Limit > maxAuditLimit {
		fe.add("limit", "must be from 1 to %d", maxAuditLimit)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Until.After(q.Since) {
		fe.add("until", "must be after since")
	}
	if err := fe.err(); err != nil {
		return AuditLog{}, err
	}
	limit := q.Limit
	if limit == 0 {
		limit = defaultAuditLimit
	}
	evs, err := s.st.ListEvents(ctx, a.org.ID, store.AuditQuery{
		Actor: q.Actor, Action: q.Action, UserID: store.UserID(q.User), Since: q.Since, Until: q.Until, Before: before, Limit: limit,
	})
	if err != nil {
		return AuditLog{}, fmt.Errorf("admin: audit log: %w", err)
	}
	out := AuditLog{Events: make([]Event, 0, len(evs))}
	for _, ev := range evs {
		out.Events = append(out.Events, Event{
			ID: strconv.FormatInt(ev.ID, 10), Time: ev.Time, Actor: ev.Actor, Action: ev.Action, UserID: string(ev.UserID),
			GroupID: string(ev.GroupID), ConnectionID: string(ev.ConnectionID), Rule: ev.Rule, Detail: ev.Detail,
		})
	}
	if len(evs) == limit {
		out.NextCursor = strconv.FormatInt(evs[len(evs)-1].ID, 10)
	}
	return out, nil
}
