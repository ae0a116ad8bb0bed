package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/store"
)

const invitationCols = `id, org_id, email, role, token_hash, invited_by, sends, created_at, updated_at,
	expires_at, accepted_at, user_id, revoked_at`

// CreateInvitation stores a pending invitation. ErrConflict if the address
// has a pending invitation in the organization (or the token hash is taken);
// ErrInvalidReference if the organization does not exist.
func (s *Store) CreateInvitation(ctx context.Context, inv store.Invitation, ev store.AuditEvent) (store.Invitation, error) {
	inv.Email = strings.TrimSpace(inv.Email)
	if inv.OrgID == "" || inv.Email == "" || len(inv.TokenHash) == 0 || inv.ExpiresAt.IsZero() {
		return store.Invitation{}, errors.New("sqlstore: create invitation: empty organization, email, token hash or expiry")
	}
	id, err := newID()
	if err != nil {
		return store.Invitation{}, err
	}
	inv.ID = store.InvitationID(id)
	inv.TokenHash = bytes.Clone(inv.TokenHash)
	inv.ExpiresAt = stamp(inv.ExpiresAt)
	inv.Sends = 1
	inv.AcceptedAt, inv.RevokedAt, inv.UserID = nil, nil, ""
	err = s.write(ctx, "sqlstore: create invitation", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		inv.CreatedAt, inv.UpdatedAt = now, now
		_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO invitations (`+invitationCols+`, email_lower)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			string(inv.ID), string(inv.OrgID), inv.Email, inv.Role, inv.TokenHash, inv.InvitedBy, inv.Sends,
			micros(now), micros(now), micros(inv.ExpiresAt), nil, "", nil, strings.ToLower(inv.Email))
		if err != nil {
			return s.d.classify(err, "sqlstore: create invitation")
		}
		return s.insertEvent(ctx, tx, invitationEvent(ev, inv), now, "invitation.created")
	})
	if err != nil {
		return store.Invitation{}, err
	}
	return inv, nil
}

// GetInvitation returns an organization's invitation, whatever its state.
func (s *Store) GetInvitation(ctx context.Context, org store.OrgID, id store.InvitationID) (store.Invitation, error) {
	inv, err := scanInvitation(s.read.QueryRowContext(ctx, s.d.rebind(`SELECT `+invitationCols+
		` FROM invitations WHERE org_id = ? AND id = ?`), string(org), string(id)))
	if err != nil {
		return store.Invitation{}, s.d.classify(err, fmt.Sprintf("sqlstore: get invitation %s", id))
	}
	return inv, nil
}

// GetInvitationByToken returns the invitation whose accept link has the hash.
func (s *Store) GetInvitationByToken(ctx context.Context, tokenHash []byte) (store.Invitation, error) {
	inv, err := scanInvitation(s.read.QueryRowContext(ctx, s.d.rebind(`SELECT `+invitationCols+
		` FROM invitations WHERE token_hash = ?`), tokenHash))
	if err != nil {
		return store.Invitation{}, s.d.classify(err, "sqlstore: get invitation by token")
	}
	return inv, nil
}

// ListInvitations returns an organization's invitations, newest first.
func (s *Store) ListInvitations(ctx context.Context, org store.OrgID) ([]store.Invitation, error) {
	rows, err := s.read.QueryContext(ctx, s.d.rebind(`SELECT `+invitationCols+
		` FROM invitations WHERE org_id = ? ORDER BY created_at DESC, id`), string(org))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list invitations: %w", err)
	}
	return collect(rows, scanInvitation, "sqlstore: list invitations")
}

// lockInvitation reads an organization's invitation for a write.
func (s *Store) lockInvitation(ctx context.Context, tx *sql.Tx, org store.OrgID, id store.InvitationID, what string) (store.Invitation, error) {
	inv, err := scanInvitation(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+invitationCols+
		` FROM invitations WHERE org_id = ? AND id = ?`+s.d.forUpdate), string(org), string(id)))
	if err != nil {
		return store.Invitation{}, s.d.classify(err, fmt.Sprintf("%s %s", what, id))
	}
	return inv, nil
}

// ReissueInvitation gives a pending invitation a new accept link; ErrConflict
// if it was accepted or revoked.
func (s *Store) ReissueInvitation(ctx context.Context, org store.OrgID, id store.InvitationID, tokenHash []byte, expiresAt time.Time, ev store.AuditEvent) (store.Invitation, error) {
	if len(tokenHash) == 0 || expiresAt.IsZero() {
		return store.Invitation{}, errors.New("sqlstore: reissue invitation: empty token hash or expiry")
	}
	var out store.Invitation
	err := s.write(ctx, "sqlstore: reissue invitation", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		inv, err := s.lockInvitation(ctx, tx, org, id, "sqlstore: reissue invitation")
		if err != nil {
			return err
		}
		if !inv.Pending() {
			return fmt.Errorf("sqlstore: reissue invitation %s: no longer pending: %w", id, store.ErrConflict)
		}
		inv.TokenHash = bytes.Clone(tokenHash)
		inv.ExpiresAt, inv.UpdatedAt = stamp(expiresAt), now
		inv.Sends++
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE invitations SET token_hash = ?, expires_at = ?, sends = ?, updated_at = ?
			WHERE id = ?`), inv.TokenHash, micros(inv.ExpiresAt), inv.Sends, micros(now), string(id))
		if err != nil {
			return s.d.classify(err, fmt.Sprintf("sqlstore: reissue invitation %s", id))
		}
		out = inv
		return s.insertEvent(ctx, tx, invitationEvent(ev, inv), now, "invitation.resent")
	})
	if err != nil {
		return store.Invitation{}, err
	}
	return out, nil
}

// RevokeInvitation ends a pending invitation; revoking a revoked one changes
// nothing; ErrConflict if it was accepted.
func (s *Store) RevokeInvitation(ctx context.Context, org store.OrgID, id store.InvitationID, ev store.AuditEvent) error {
	return s.write(ctx, "sqlstore: revoke invitation", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		inv, err := s.lockInvitation(ctx, tx, org, id, "sqlstore: revoke invitation")
		if err != nil {
			return err
		}
		switch {
		case inv.RevokedAt != nil:
			return nil
		case inv.AcceptedAt != nil:
			return fmt.Errorf("sqlstore: revoke invitation %s: already accepted: %w", id, store.ErrConflict)
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE invitations SET revoked_at = ?, updated_at = ? WHERE id = ?`),
			micros(now), micros(now), string(id))
		if err != nil {
			return fmt.Errorf("sqlstore: revoke invitation %s: %w", id, err)
		}
		return s.insertEvent(ctx, tx, invitationEvent(ev, inv), now, "invitation.revoked")
	})
}

// AcceptInvitation accepts the pending invitation with the accept link's hash,
// creating a.NewUser or joining a.Existing in the same transaction; see
// store.Invitations.
func (s *Store) AcceptInvitation(ctx context.Context, tokenHash []byte, a store.Acceptance, now time.Time, ev store.AuditEvent) (store.Invitation, store.User, error) {
	if a.Existing == "" && a.NewUser.UserName == "" {
		return store.Invitation{}, store.User{}, errors.New("sqlstore: accept invitation: empty userName")
	}
	var (
		outInv  store.Invitation
		outUser store.User
	)
	err := s.write(ctx, "sqlstore: accept invitation", func(ctx context.Context, tx *sql.Tx, stampNow time.Time) error {
		inv, err := scanInvitation(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+invitationCols+
			` FROM invitations WHERE token_hash = ?`+s.d.forUpdate), tokenHash))
		if err != nil {
			return s.d.classify(err, "sqlstore: accept invitation")
		}
		switch {
		case !inv.Pending():
			return fmt.Errorf("sqlstore: accept invitation %s: no longer pending: %w", inv.ID, store.ErrConflict)
		case !stamp(now).Before(inv.ExpiresAt):
			return fmt.Errorf("sqlstore: accept invitation %s: %w", inv.ID, store.ErrExpired)
		}
		var u store.User
		if a.Existing != "" {
			u, err = s.getUser(ctx, tx, s.q.getLiveUser, inv.OrgID, a.Existing)
			if errors.Is(err, store.ErrNotFound) || (err == nil && !u.Active) {
				return fmt.Errorf("sqlstore: accept invitation %s: user %s is not a live, active account of the organization: %w",
					inv.ID, a.Existing, store.ErrInvalidReference)
			}
			if err != nil {
				return err
			}
		} else {
			nu := a.NewUser
			nu.OrgID = inv.OrgID // the invitation's organization, whatever the caller set
			if u, err = newUser(nu); err != nil {
				return err
			}
			u.CreatedAt, u.UpdatedAt = stampNow, stampNow
			if err := s.insertUser(ctx, tx, u); err != nil {
				return err
			}
		}
		at := stampNow
		inv.AcceptedAt, inv.UserID, inv.UpdatedAt = &at, u.ID, stampNow
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE invitations SET accepted_at = ?, user_id = ?, updated_at = ? WHERE id = ?`),
			micros(at), string(u.ID), micros(stampNow), string(inv.ID))
		if err != nil {
			return fmt.Errorf("sqlstore: accept invitation %s: %w", inv.ID, err)
		}
		e := invitationEvent(ev, inv)
		e.UserID = u.ID
		outInv, outUser = inv, u
		return s.insertEvent(ctx, tx, e, stampNow, "invitation.accepted")
	})
	if err != nil {
		return store.Invitation{}, store.User{}, err
	}
	return outInv, outUser, nil
}

// invitationEvent fills the target of an invitation's audit event.
func invitationEvent(ev store.AuditEvent, inv store.Invitation) store.AuditEvent {
	ev.OrgID = inv.OrgID
	ev.Detail = withDetail(ev.Detail, "invitation_id", string(inv.ID))
	return ev
}

func scanInvitation(sc scanner) (store.Invitation, error) {
	var (
		inv                       store.Invitation
		created, updated, expires int64
		accepted, revoked         sql.NullInt64
	)
	if err := sc.Scan(&inv.ID, &inv.OrgID, &inv.Email, &inv.Role, &inv.TokenHash, &inv.InvitedBy, &inv.Sends,
		&created, &updated, &expires, &accepted, &inv.UserID, &revoked); err != nil {
		return store.Invitation{}, err
	}
	inv.TokenHash = bytes.Clone(inv.TokenHash)
	inv.CreatedAt, inv.UpdatedAt, inv.ExpiresAt = fromMicros(created), fromMicros(updated), fromMicros(expires)
	inv.AcceptedAt, inv.RevokedAt = timePtr(accepted), timePtr(revoked)
	return inv, nil
}
