package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"maps"
	"math"
	"strconv"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// The mass de-provisioning safety rail (store.Holds).
//
// A token's de-provisionings are rows of deprovisions, one per user taken out
// of use, so the window slides: guard deletes the rows that fell out of it,
// counts the rest and, only when that count could exceed the limit's minimum,
// counts the organization's active users, up to the number at which the
// limit allows one more (enoughActive: about ten times the window's
// de-provisionings at a 10% share, not a million users' scan; an occasional
// deactivation costs one count of a token's recent rows). All of it runs
// inside the de-provisioning's own write transaction, after the token's row
// is locked (PostgreSQL; SQLite's one writer serialises everything anyway),
// so that two de-provisionings of one token at the limit are judged one after
// the other, on any number of replicas.

const holdCols = `id, org_id, token_id, connection_id, created_at, deprovisioned, active_users, allowed,
	window_micros, released_at, released_by`

// UpdateUserGuarded is UpdateUser with the de-provisioning guard g.
func (s *Store) UpdateUserGuarded(ctx context.Context, org store.OrgID, id store.UserID, fn func(*store.User) error,
	ev store.AuditEvent, g store.DeprovisionGuard) (store.User, error) {
	if !g.Limit.Enabled() {
		return s.updateUser(ctx, org, id, fn, ev, nil)
	}
	return s.updateUser(ctx, org, id, fn, ev, &g)
}

// DeleteUserGuarded is DeleteUser with the de-provisioning guard g.
func (s *Store) DeleteUserGuarded(ctx context.Context, org store.OrgID, id store.UserID, ev store.AuditEvent,
	g store.DeprovisionGuard, pre store.VersionCheck) error {
	if !g.Limit.Enabled() {
		return s.deleteUser(ctx, org, id, ev, nil, pre)
	}
	return s.deleteUser(ctx, org, id, ev, &g, pre)
}

// guard judges one de-provisioning of user by g.Token inside the write
// transaction tx. It returns (nil, nil) when the de-provisioning may go ahead
// (and has been counted); (held, nil) when it crossed the limit: the hold
// and its audit event have been written, the caller must write nothing else
// and commit; and (nil, err) otherwise, a *store.HeldError among them when a
// hold was already open, so that the caller's transaction writes nothing.
func (s *Store) guard(ctx context.Context, tx *sql.Tx, org store.OrgID, user store.UserID, g store.DeprovisionGuard,
	ev store.AuditEvent, now time.Time) (*store.HeldError, error) {
	if g.Token == "" {
		return nil, errors.New("sqlstore: de-provisioning guard without a token")
	}
	var tokenID string
	err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT id FROM tokens WHERE id = ?`+s.d.forUpdate), string(g.Token)).Scan(&tokenID)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, fmt.Errorf("sqlstore: lock token %s: %w", g.Token, err)
	}
	open, err := scanHold(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+holdCols+` FROM deprovisioning_holds
		WHERE token_id = ? AND released_at IS NULL`), string(g.Token)))
	switch {
	case err == nil:
		return nil, &store.HeldError{Hold: open}
	case !errors.Is(err, sql.ErrNoRows):
		return nil, fmt.Errorf("sqlstore: read hold of token %s: %w", g.Token, err)
	}

	at := stamp(g.At)
	if at.IsZero() {
		at = now
	}
	since := micros(at.Add(-g.Limit.Window))
	if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM deprovisions WHERE token_id = ? AND counted_at <= ?`),
		string(g.Token), since); err != nil {
		return nil, fmt.Errorf("sqlstore: expire de-provisionings of token %s: %w", g.Token, err)
	}
	var n int
	if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM deprovisions WHERE token_id = ?`),
		string(g.Token)).Scan(&n); err != nil {
		return nil, fmt.Errorf("sqlstore: count de-provisionings of token %s: %w", g.Token, err)
	}
	if n+1 > g.Limit.Minimum {
		// Counting stops at enough: past it, the limit allows this
		// de-provisioning whatever the exact count, and a count below it is
		// exact. So a de-provisioning in a big organization reads a few
		// index entries per de-provisioning of the window, not every active
		// user (a million of them: a quarter of a second of the one SQLite
		// writer, every write waiting).
		enough := enoughActive(g.Limit, n)
		var active int
		if err := tx.QueryRowContext(ctx, s.d.rebind(`SELECT COUNT(*) FROM (SELECT 1 FROM users
			WHERE org_id = ? AND active = ? AND deleted_at IS NULL LIMIT ?) AS a`), string(org), true, enough).Scan(&active); err != nil {
			return nil, fmt.Errorf("sqlstore: count active users: %w", err)
		}
		// The organization's active users at the start of the window: those
		// active now (the user at hand among them) and those the token has
		// de-provisioned since.
		base := active + n
		if allowed := g.Limit.Allowed(base); n+1 > allowed {
			h, err := s.insertHold(ctx, tx, org, user, g, store.Hold{Deprovisioned: n, ActiveUsers: base, Allowed: allowed}, ev, now)
			if err != nil {
				return nil, err
			}
			return &store.HeldError{Hold: h, New: true}, nil
		}
	}
	if _, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO deprovisions (token_id, counted_at, org_id, user_id)
		VALUES (?, ?, ?, ?)`), string(g.Token), micros(at), string(org), string(user)); err != nil {
		return nil, fmt.Errorf("sqlstore: count de-provisioning by token %s: %w", g.Token, err)
	}
	return nil, nil
}

// enoughActive returns the number of active users from which l allows n+1
// de-provisionings within a window in which n were counted: the smallest a
// with l.Allowed(a+n) > n (Allowed grows with its argument), found by
// doubling and bisection so that rounding in the estimate costs nothing.
func enoughActive(l store.DeprovisionLimit, n int) int {
	allows := func(a int) bool { return l.Allowed(a+n) > n }
	hi := max(1, int(math.Ceil(float64(n+1)/l.Share))-n)
	for !allows(hi) {
		hi *= 2
	}
	lo := 0 // allows(lo) is false or lo is the answer
	for lo < hi {
		mid := lo + (hi-lo)/2
		if allows(mid) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo
}

// insertHold writes a new hold of g.Token and its audit event. ev is the
// event of the refused write; the hold's event keeps its actor and detail.
func (s *Store) insertHold(ctx context.Context, tx *sql.Tx, org store.OrgID, user store.UserID, g store.DeprovisionGuard,
	h store.Hold, ev store.AuditEvent, now time.Time) (store.Hold, error) {
	id, err := newID()
	if err != nil {
		return store.Hold{}, err
	}
	h.ID, h.OrgID, h.TokenID, h.ConnectionID = store.HoldID(id), org, g.Token, g.ConnectionID
	h.CreatedAt, h.Window = now, g.Limit.Window
	_, err = tx.ExecContext(ctx, s.d.rebind(`INSERT INTO deprovisioning_holds (`+holdCols+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, '')`), id, string(org), string(g.Token), string(g.ConnectionID),
		micros(now), h.Deprovisioned, h.ActiveUsers, h.Allowed, g.Limit.Window.Microseconds())
	if err != nil {
		return store.Hold{}, s.d.classify(err, fmt.Sprintf("sqlstore: hold de-provisioning by token %s", g.Token))
	}
	held := store.AuditEvent{
		OrgID:        org,
		Time:         ev.Time,
		Actor:        ev.Actor,
		Action:       store.ActionDeprovisioningHeld,
		UserID:       user,
		ConnectionID: g.ConnectionID,
		Detail:       maps.Clone(ev.Detail),
	}
	if held.Detail == nil {
		held.Detail = map[string]string{}
	}
	held.Detail["hold_id"] = id
	held.Detail["token"] = string(g.Token)
	held.Detail["deprovisioned"] = strconv.Itoa(h.Deprovisioned)
	held.Detail["active_users"] = strconv.Itoa(h.ActiveUsers)
	held.Detail["allowed"] = strconv.Itoa(h.Allowed)
	held.Detail["window"] = h.Window.String()
	if err := s.insertEvent(ctx, tx, held, now, ""); err != nil {
		return store.Hold{}, err
	}
	return h, nil
}

// ListHolds returns the organization's holds, newest first.
func (s *Store) ListHolds(ctx context.Context, org store.OrgID, openOnly bool) ([]store.Hold, error) {
	q := `SELECT ` + holdCols + ` FROM deprovisioning_holds WHERE org_id = ?`
	if openOnly {
		q += ` AND released_at IS NULL`
	}
	rows, err := s.read.QueryContext(ctx, s.d.rebind(q+` ORDER BY created_at DESC, id`), string(org))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list holds: %w", err)
	}
	return collect(rows, scanHold, "sqlstore: list holds")
}

// GetHold returns one of the organization's holds.
func (s *Store) GetHold(ctx context.Context, org store.OrgID, id store.HoldID) (store.Hold, error) {
	h, err := scanHold(s.read.QueryRowContext(ctx, s.d.rebind(`SELECT `+holdCols+` FROM deprovisioning_holds
		WHERE org_id = ? AND id = ?`), string(org), string(id)))
	if err != nil {
		return store.Hold{}, s.d.classify(err, fmt.Sprintf("sqlstore: get hold %s", id))
	}
	return h, nil
}

// ReleaseHold releases an open hold and forgets its token's counted
// de-provisionings.
func (s *Store) ReleaseHold(ctx context.Context, org store.OrgID, id store.HoldID, ev store.AuditEvent) (store.Hold, error) {
	var out store.Hold
	err := s.write(ctx, "sqlstore: release hold", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		h, err := scanHold(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+holdCols+` FROM deprovisioning_holds
			WHERE org_id = ? AND id = ?`+s.d.forUpdate), string(org), string(id)))
		if err != nil {
			return s.d.classify(err, fmt.Sprintf("sqlstore: release hold %s", id))
		}
		if !h.Open() {
			return fmt.Errorf("sqlstore: release hold %s: already released: %w", id, store.ErrConflict)
		}
		// The token's de-provisionings queue behind this release (guard locks
		// the same row), so none is judged on the count being forgotten.
		var tokenID string
		err = tx.QueryRowContext(ctx, s.d.rebind(`SELECT id FROM tokens WHERE id = ?`+s.d.forUpdate), string(h.TokenID)).Scan(&tokenID)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlstore: release hold %s: lock token: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE deprovisioning_holds SET released_at = ?, released_by = ?
			WHERE id = ?`), micros(now), ev.Actor, string(id)); err != nil {
			return fmt.Errorf("sqlstore: release hold %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`DELETE FROM deprovisions WHERE token_id = ?`), string(h.TokenID)); err != nil {
			return fmt.Errorf("sqlstore: release hold %s: reset count: %w", id, err)
		}
		released := now
		h.ReleasedAt, h.ReleasedBy = &released, ev.Actor
		ev.OrgID = org
		if ev.ConnectionID == "" {
			ev.ConnectionID = h.ConnectionID
		}
		ev.Detail = maps.Clone(ev.Detail)
		if ev.Detail == nil {
			ev.Detail = map[string]string{}
		}
		ev.Detail["hold_id"] = string(h.ID)
		ev.Detail["token"] = string(h.TokenID)
		out = h
		return s.insertEvent(ctx, tx, ev, now, store.ActionDeprovisioningReleased)
	})
	if err != nil {
		return store.Hold{}, err
	}
	return out, nil
}

// PurgeEvents deletes the audit events older than before, purgeBatch per
// transaction, oldest first. It keeps the newest event whatever its age: on
// SQLite a new event's ID is the largest plus one (audit_events has no
// AUTOINCREMENT, see "Pages per write"), so IDs keep growing only while the
// largest stays.
func (s *Store) PurgeEvents(ctx context.Context, before time.Time) (int, error) {
	return s.deleteInBatches(ctx, "sqlstore: purge audit events", s.d.rebind(`DELETE FROM audit_events WHERE id IN
		(SELECT id FROM audit_events WHERE time < ? AND id < (SELECT max(id) FROM audit_events) ORDER BY time LIMIT ?)`),
		micros(stamp(before)))
}

func scanHold(sc scanner) (store.Hold, error) {
	var (
		h                     store.Hold
		created, windowMicros int64
		released              sql.NullInt64
	)
	err := sc.Scan(&h.ID, &h.OrgID, &h.TokenID, &h.ConnectionID, &created, &h.Deprovisioned, &h.ActiveUsers,
		&h.Allowed, &windowMicros, &released, &h.ReleasedBy)
	if err != nil {
		return store.Hold{}, err
	}
	h.CreatedAt = fromMicros(created)
	h.Window = time.Duration(windowMicros) * time.Microsecond
	h.ReleasedAt = timePtr(released)
	return h, nil
}
