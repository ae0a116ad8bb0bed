package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// CreateSession stores a session. CreatedAt defaults to now and LastSeenAt to
// CreatedAt. ErrConflict if the ID hash exists; ErrInvalidReference if the user
// does not exist.
func (s *Store) CreateSession(ctx context.Context, se store.Session) error {
	if len(se.IDHash) == 0 || se.UserID == "" {
		return errors.New("sqlstore: create session: empty ID hash or user")
	}
	return s.write(ctx, "sqlstore: create session", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		created := now
		if !se.CreatedAt.IsZero() {
			created = stamp(se.CreatedAt)
		}
		seen := created
		if !se.LastSeenAt.IsZero() {
			seen = stamp(se.LastSeenAt)
		}
		_, err := tx.ExecContext(ctx, s.q.insertSession, se.IDHash, string(se.OrgID), string(se.UserID),
			micros(created), micros(stamp(se.ExpiresAt)), micros(seen))
		return s.d.classify(err, "sqlstore: create session")
	})
}

// GetSession returns a session by ID hash, expired or not: the caller judges
// expiry.
func (s *Store) GetSession(ctx context.Context, idHash []byte) (store.Session, error) {
	var (
		se                     store.Session
		created, expires, seen int64
	)
	err := s.read.QueryRowContext(ctx, s.q.getSession, idHash).Scan(&se.IDHash, &se.OrgID, &se.UserID,
		&created, &expires, &seen)
	if err != nil {
		return store.Session{}, s.d.classify(err, "sqlstore: get session")
	}
	se.IDHash = bytes.Clone(se.IDHash)
	se.CreatedAt, se.ExpiresAt, se.LastSeenAt = fromMicros(created), fromMicros(expires), fromMicros(seen)
	return se, nil
}

// TouchSession sets a session's LastSeenAt; ErrNotFound if it does not exist.
func (s *Store) TouchSession(ctx context.Context, idHash []byte, at time.Time) error {
	return s.write(ctx, "sqlstore: touch session", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		res, err := tx.ExecContext(ctx, s.q.touchSession, micros(stamp(at)), idHash)
		return s.mustAffect(res, err, "sqlstore: touch session")
	})
}

// DeleteSession deletes a session; ErrNotFound if it does not exist.
func (s *Store) DeleteSession(ctx context.Context, idHash []byte) error {
	return s.write(ctx, "sqlstore: delete session", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		res, err := tx.ExecContext(ctx, s.q.deleteSession, idHash)
		return s.mustAffect(res, err, "sqlstore: delete session")
	})
}

// DeleteExpiredSessions deletes the sessions past their absolute expiry at now,
// and, if idle > 0, those not seen for idle or longer, purgeBatch per
// transaction. It returns how many.
func (s *Store) DeleteExpiredSessions(ctx context.Context, now time.Time, idle time.Duration) (int, error) {
	idleCut := int64(math.MinInt64)
	if idle > 0 {
		idleCut = micros(stamp(now.Add(-idle)))
	}
	return s.deleteInBatches(ctx, "sqlstore: delete expired sessions", s.q.deleteExpiredSessions, micros(stamp(now)), idleCut)
}

// mustAffect turns "no row changed" into ErrNotFound.
func (s *Store) mustAffect(res sql.Result, err error, what string) error {
	if err != nil {
		return s.d.classify(err, what)
	}
	n, err := affected(res)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n == 0 {
		return fmt.Errorf("%s: %w", what, store.ErrNotFound)
	}
	return nil
}
