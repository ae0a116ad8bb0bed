package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// CreateToken stores a token (its ID and hash, set by the caller). ErrConflict if
// the ID exists; ErrInvalidReference if the organization or connection does not
// exist or the connection is another organization's.
func (s *Store) CreateToken(ctx context.Context, t store.Token, ev store.AuditEvent) (store.Token, error) {
	if t.ID == "" || t.OrgID == "" || len(t.Hash) == 0 {
		return store.Token{}, errors.New("sqlstore: create token: empty ID, organization or hash")
	}
	if t.Kind == store.TokenSCIM && t.ConnectionID == "" {
		return store.Token{}, errors.New("sqlstore: create token: a SCIM token needs a connection")
	}
	t.Hash = bytes.Clone(t.Hash)
	t.RevokedAt = nil
	err := s.write(ctx, "sqlstore: create token", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		if t.ConnectionID != "" {
			var org store.OrgID
			err := tx.QueryRowContext(ctx, s.q.connOrg, string(t.ConnectionID)).Scan(&org)
			if errors.Is(err, sql.ErrNoRows) || (err == nil && org != t.OrgID) {
				return fmt.Errorf("sqlstore: create token: connection %s is not the organization's: %w", t.ConnectionID, store.ErrInvalidReference)
			}
			if err != nil {
				return fmt.Errorf("sqlstore: create token: %w", err)
			}
		}
		t.CreatedAt = now
		_, err := tx.ExecContext(ctx, s.q.insertToken, string(t.ID), string(t.OrgID), nullString(t.ConnectionID),
			string(t.Kind), t.Hash, t.Description, micros(now), nil)
		if err != nil {
			return s.d.classify(err, fmt.Sprintf("sqlstore: create token %s", t.ID))
		}
		ev.OrgID, ev.ConnectionID = t.OrgID, t.ConnectionID
		return s.insertEvent(ctx, tx, ev, now, "token.created")
	})
	if err != nil {
		return store.Token{}, err
	}
	return t, nil
}

// GetToken returns a token by ID, revoked ones included (check RevokedAt).
func (s *Store) GetToken(ctx context.Context, id store.TokenID) (store.Token, error) {
	t, err := scanToken(s.read.QueryRowContext(ctx, s.q.getToken, string(id)))
	if err != nil {
		return store.Token{}, s.d.classify(err, fmt.Sprintf("sqlstore: get token %s", id))
	}
	return t, nil
}

// ListTokens returns an organization's tokens, oldest first.
func (s *Store) ListTokens(ctx context.Context, org store.OrgID) ([]store.Token, error) {
	rows, err := s.read.QueryContext(ctx, s.q.listTokens, string(org))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list tokens: %w", err)
	}
	return collect(rows, scanToken, "sqlstore: list tokens")
}

// RevokeToken marks a token revoked. Revoking a revoked token changes nothing and
// is not an error; ErrNotFound if the organization has no such token.
func (s *Store) RevokeToken(ctx context.Context, org store.OrgID, id store.TokenID, ev store.AuditEvent) error {
	return s.write(ctx, "sqlstore: revoke token", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		t, err := scanToken(tx.QueryRowContext(ctx, s.q.getTokenLocked, string(id)))
		if err == nil && t.OrgID != org {
			err = sql.ErrNoRows
		}
		if err != nil {
			return s.d.classify(err, fmt.Sprintf("sqlstore: revoke token %s", id))
		}
		if t.RevokedAt != nil {
			return nil
		}
		if _, err := tx.ExecContext(ctx, s.q.revokeToken, micros(now), string(org), string(id)); err != nil {
			return fmt.Errorf("sqlstore: revoke token %s: %w", id, err)
		}
		ev.OrgID, ev.ConnectionID = t.OrgID, t.ConnectionID
		return s.insertEvent(ctx, tx, ev, now, "token.revoked")
	})
}

func scanToken(sc scanner) (store.Token, error) {
	var (
		t       store.Token
		conn    sql.NullString
		created int64
		revoked sql.NullInt64
	)
	if err := sc.Scan(&t.ID, &t.OrgID, &conn, &t.Kind, &t.Hash, &t.Description, &created, &revoked); err != nil {
		return store.Token{}, err
	}
	t.ConnectionID = store.ConnectionID(conn.String)
	t.CreatedAt, t.RevokedAt = fromMicros(created), timePtr(revoked)
	return t, nil
}
