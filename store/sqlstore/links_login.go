package sqlstore

import (
	"bytes"
	"context"
	"crypto/subtle"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/store"
)

const loginLinkCols = `id_hash, email, org_id, user_id, code_hash, return_to, attempts, created_at, expires_at, used_at`

// CreateLoginLink stores a one-time sign-in link; ErrConflict if its ID hash
// exists. CreatedAt defaults to now. An audit event is written only if the
// link is bound to an organization and ev.Action is set (an operator's admin
// link); links asked for on the sign-in page belong to no organization yet.
func (s *Store) CreateLoginLink(ctx context.Context, l store.LoginLink, ev store.AuditEvent) error {
	if len(l.IDHash) == 0 || strings.TrimSpace(l.Email) == "" || l.ExpiresAt.IsZero() {
		return errors.New("sqlstore: create login link: empty ID hash, email or expiry")
	}
	if l.UserID != "" && l.OrgID == "" {
		return errors.New("sqlstore: create login link: a link bound to an account needs its organization")
	}
	return s.write(ctx, "sqlstore: create login link", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		created := now
		if !l.CreatedAt.IsZero() {
			created = stamp(l.CreatedAt)
		}
		var code any
		if len(l.CodeHash) > 0 {
			code = l.CodeHash
		}
		_, err := tx.ExecContext(ctx, s.d.rebind(`INSERT INTO login_links (`+loginLinkCols+`, email_lower)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`),
			l.IDHash, l.Email, string(l.OrgID), string(l.UserID), code, l.ReturnTo, 0,
			micros(created), micros(stamp(l.ExpiresAt)), nil, strings.ToLower(strings.TrimSpace(l.Email)))
		if err != nil {
			return s.d.classify(err, "sqlstore: create login link")
		}
		if l.OrgID == "" || ev.Action == "" {
			return nil
		}
		ev.OrgID = l.OrgID
		if ev.UserID == "" {
			ev.UserID = l.UserID
		}
		return s.insertEvent(ctx, tx, ev, now, "")
	})
}

// GetLoginLink returns a link by ID hash, used and expired ones included.
func (s *Store) GetLoginLink(ctx context.Context, idHash []byte) (store.LoginLink, error) {
	l, err := scanLoginLink(s.read.QueryRowContext(ctx, s.d.rebind(`SELECT `+loginLinkCols+
		` FROM login_links WHERE id_hash = ?`), idHash))
	if err != nil {
		return store.LoginLink{}, s.d.classify(err, "sqlstore: get login link")
	}
	return l, nil
}

// UseLoginLink marks a link used. ErrNotFound if absent, ErrConflict if used,
// ErrExpired if expired at now.
func (s *Store) UseLoginLink(ctx context.Context, idHash []byte, now time.Time) (store.LoginLink, error) {
	var out store.LoginLink
	err := s.write(ctx, "sqlstore: use login link", func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
		l, err := scanLoginLink(tx.QueryRowContext(ctx, s.d.rebind(`SELECT `+loginLinkCols+
			` FROM login_links WHERE id_hash = ?`+s.d.forUpdate), idHash))
		if err != nil {
			return s.d.classify(err, "sqlstore: use login link")
		}
		at := stamp(now)
		switch {
		case l.UsedAt != nil:
			return fmt.Errorf("sqlstore: use login link: already used: %w", store.ErrConflict)
		case !at.Before(l.ExpiresAt):
			return fmt.Errorf("sqlstore: use login link: %w", store.ErrExpired)
		}
		if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE login_links SET used_at = ? WHERE id_hash = ?`), micros(at), idHash); err != nil {
			return fmt.Errorf("sqlstore: use login link: %w", err)
		}
		l.UsedAt = &at
		out = l
		return nil
	})
	if err != nil {
		return store.LoginLink{}, err
	}
	return out, nil
}

// VerifyLoginCode checks a code against the address's live links; see
// store.LoginLinks. The wrong-attempt counts are committed even though the
// method then reports ErrNotFound.
func (s *Store) VerifyLoginCode(ctx context.Context, email string, codeHash, newIDHash []byte, maxAttempts int, now time.Time) (store.LoginLink, error) {
	if len(codeHash) == 0 || len(newIDHash) == 0 || maxAttempts < 1 {
		return store.LoginLink{}, errors.New("sqlstore: verify login code: empty code or new ID hash, or no attempts allowed")
	}
	lower := strings.ToLower(strings.TrimSpace(email))
	at := micros(stamp(now))
	var (
		out     store.LoginLink
		matched bool
	)
	err := s.write(ctx, "sqlstore: verify login code", func(ctx context.Context, tx *sql.Tx, _ time.Time) error {
		matched = false
		rows, err := tx.QueryContext(ctx, s.d.rebind(`SELECT `+loginLinkCols+` FROM login_links
			WHERE email_lower = ? AND expires_at > ? AND used_at IS NULL AND code_hash IS NOT NULL AND attempts < ?
			ORDER BY created_at DESC`+s.d.forUpdate), lower, at, maxAttempts)
		if err != nil {
			return fmt.Errorf("sqlstore: verify login code: %w", err)
		}
		live, err := collect(rows, scanLoginLink, "sqlstore: verify login code")
		if err != nil {
			return err
		}
		for _, l := range live {
			if subtle.ConstantTimeCompare(l.CodeHash, codeHash) != 1 {
				continue
			}
			if _, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE login_links SET id_hash = ? WHERE id_hash = ?`), newIDHash, l.IDHash); err != nil {
				return s.d.classify(err, "sqlstore: verify login code")
			}
			l.IDHash = bytes.Clone(newIDHash)
			out, matched = l, true
			return nil
		}
		if len(live) == 0 {
			return nil
		}
		_, err = tx.ExecContext(ctx, s.d.rebind(`UPDATE login_links SET attempts = attempts + 1
			WHERE email_lower = ? AND expires_at > ? AND used_at IS NULL AND code_hash IS NOT NULL AND attempts < ?`),
			lower, at, maxAttempts)
		if err != nil {
			return fmt.Errorf("sqlstore: verify login code: count attempt: %w", err)
		}
		return nil
	})
	if err != nil {
		return store.LoginLink{}, err
	}
	if !matched {
		return store.LoginLink{}, fmt.Errorf("sqlstore: verify login code: no live link with this code: %w", store.ErrNotFound)
	}
	return out, nil
}

// PurgeLoginLinks deletes the links that expired, or were used, at or before
// now, purgeBatch per transaction.
func (s *Store) PurgeLoginLinks(ctx context.Context, now time.Time) (int, error) {
	at := micros(stamp(now))
	return s.deleteInBatches(ctx, "sqlstore: purge login links", s.d.rebind(`DELETE FROM login_links WHERE id_hash IN
		(SELECT id_hash FROM login_links WHERE expires_at <= ? OR used_at <= ? LIMIT ?)`), at, at)
}

// ListUsersByEmail returns every organization's accounts with the address,
// tombstones included, in creation order. It looks the address up once per
// organization, on the (org_id, value_lower) index the filters use, rather
// than keep a second index of every address for a lookup that happens once
// per emailed sign-in: organizations are far fewer than addresses.
func (s *Store) ListUsersByEmail(ctx context.Context, email string) ([]store.User, error) {
	rows, err := s.read.QueryContext(ctx, s.d.rebind(`SELECT `+userCols+` FROM users u
		WHERE u.id IN (SELECT e.user_id FROM orgs o JOIN user_emails e ON e.org_id = o.id AND e.value_lower = ?)
		ORDER BY u.seq LIMIT ?`), strings.ToLower(strings.TrimSpace(email)), store.MaxPageSize)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: list users by email: %w", err)
	}
	return collect(rows, scanUser, "sqlstore: list users by email")
}

// RecordUserSignIn sets a live user's LastSignInAt (without changing its
// Version or UpdatedAt, as RecordSignIn) and writes ev.
func (s *Store) RecordUserSignIn(ctx context.Context, org store.OrgID, user store.UserID, at time.Time, ev store.AuditEvent) error {
	return s.write(ctx, "sqlstore: record user sign-in", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		res, err := tx.ExecContext(ctx, s.d.rebind(`UPDATE users SET last_sign_in_at = ?
			WHERE org_id = ? AND id = ? AND deleted_at IS NULL`), micros(stamp(at)), string(org), string(user))
		if err := s.mustAffect(res, err, fmt.Sprintf("sqlstore: record sign-in of user %s", user)); err != nil {
			return err
		}
		ev.OrgID, ev.UserID = org, user
		return s.insertEvent(ctx, tx, ev, now, "user.signed_in")
	})
}

func scanLoginLink(sc scanner) (store.LoginLink, error) {
	var (
		l                store.LoginLink
		code             []byte
		created, expires int64
		used             sql.NullInt64
	)
	if err := sc.Scan(&l.IDHash, &l.Email, &l.OrgID, &l.UserID, &code, &l.ReturnTo, &l.Attempts,
		&created, &expires, &used); err != nil {
		return store.LoginLink{}, err
	}
	l.IDHash = bytes.Clone(l.IDHash)
	if len(code) > 0 {
		l.CodeHash = bytes.Clone(code)
	}
	l.CreatedAt, l.ExpiresAt, l.UsedAt = fromMicros(created), fromMicros(expires), timePtr(used)
	return l, nil
}
