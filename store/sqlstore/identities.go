package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// GetIdentity returns the identity linked to (connection, NameID).
func (s *Store) GetIdentity(ctx context.Context, conn store.ConnectionID, nameID string) (store.Identity, error) {
	id, err := scanIdentity(s.read.QueryRowContext(ctx, s.q.getIdentity, string(conn), nameID))
	if err != nil {
		return store.Identity{}, s.d.classify(err, fmt.Sprintf("sqlstore: get identity on connection %s", conn))
	}
	return id, nil
}

// ListIdentities returns the identities linked to a user, oldest first.
func (s *Store) ListIdentities(ctx context.Context, org store.OrgID, user store.UserID) ([]store.Identity, error) {
	rows, err := s.read.QueryContext(ctx, s.q.listIdentities, string(org), string(user))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list identities: %w", err)
	}
	return collect(rows, scanIdentity, "sqlstore: list identities")
}

// LinkIdentity links an SSO identity to a live user of the organization.
// ErrConflict if (connection, NameID) is already linked; ErrInvalidReference if the
// user is not a live user of id.OrgID or the connection is not the organization's.
func (s *Store) LinkIdentity(ctx context.Context, id store.Identity, ev store.AuditEvent) error {
	if id.ConnectionID == "" || id.NameID == "" || id.OrgID == "" || id.UserID == "" {
		return errors.New("sqlstore: link identity: empty connection, NameID, organization or user")
	}
	return s.write(ctx, "sqlstore: link identity", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		var one int
		err := tx.QueryRowContext(ctx, s.q.isLiveUser, string(id.OrgID), string(id.UserID)).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("sqlstore: link identity: user %s: %w", id.UserID, store.ErrInvalidReference)
		}
		if err != nil {
			return fmt.Errorf("sqlstore: link identity: %w", err)
		}
		id.CreatedAt = now
		id.LastSignInAt = stampPtr(id.LastSignInAt)
		if err := s.insertIdentity(ctx, tx, id); err != nil {
			return err
		}
		ev.OrgID, ev.UserID, ev.ConnectionID = id.OrgID, id.UserID, id.ConnectionID
		return s.insertEvent(ctx, tx, ev, now, "identity.linked")
	})
}

// insertIdentity checks that the connection belongs to the identity's
// organization and inserts the link.
func (s *Store) insertIdentity(ctx context.Context, tx *sql.Tx, id store.Identity) error {
	var org store.OrgID
	err := tx.QueryRowContext(ctx, s.q.connOrg, string(id.ConnectionID)).Scan(&org)
	if errors.Is(err, sql.ErrNoRows) || (err == nil && org != id.OrgID) {
		return fmt.Errorf("sqlstore: link identity: connection %s is not the organization's: %w", id.ConnectionID, store.ErrInvalidReference)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: link identity: %w", err)
	}
	_, err = tx.ExecContext(ctx, s.q.insertIdentity, string(id.ConnectionID), id.NameID, string(id.OrgID),
		string(id.UserID), micros(id.CreatedAt), nullMicros(id.LastSignInAt))
	if err != nil {
		return s.d.classify(err, fmt.Sprintf("sqlstore: link identity on connection %s", id.ConnectionID))
	}
	return nil
}

// RecordSignIn sets LastSignInAt on the identity and its user. It does not change
// the user's Version or UpdatedAt: a sign-in is not a change to the account.
func (s *Store) RecordSignIn(ctx context.Context, conn store.ConnectionID, nameID string, at time.Time, ev store.AuditEvent) error {
	return s.write(ctx, "sqlstore: record sign-in", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		id, err := scanIdentity(tx.QueryRowContext(ctx, s.q.getIdentityLocked, string(conn), nameID))
		if err != nil {
			return s.d.classify(err, fmt.Sprintf("sqlstore: record sign-in on connection %s", conn))
		}
		t := micros(stamp(at))
		if _, err := tx.ExecContext(ctx, s.q.signInIdentity, t, string(conn), nameID); err != nil {
			return fmt.Errorf("sqlstore: record sign-in: %w", err)
		}
		if _, err := tx.ExecContext(ctx, s.q.signInUser, t, string(id.UserID)); err != nil {
			return fmt.Errorf("sqlstore: record sign-in: %w", err)
		}
		ev.OrgID, ev.UserID, ev.ConnectionID = id.OrgID, id.UserID, conn
		return s.insertEvent(ctx, tx, ev, now, "user.signed_in")
	})
}

func scanIdentity(sc scanner) (store.Identity, error) {
	var (
		id         store.Identity
		created    int64
		lastSignIn sql.NullInt64
	)
	if err := sc.Scan(&id.ConnectionID, &id.NameID, &id.OrgID, &id.UserID, &created, &lastSignIn); err != nil {
		return store.Identity{}, err
	}
	id.CreatedAt, id.LastSignInAt = fromMicros(created), timePtr(lastSignIn)
	return id, nil
}
