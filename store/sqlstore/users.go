package sqlstore

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// emailJSON is how users.emails stores an address (a stable, lower-case format).
type emailJSON struct {
	Value   string `json:"value"`
	Type    string `json:"type,omitempty"`
	Primary bool   `json:"primary,omitempty"`
}

// CreateUser creates a user; ErrConflict when its userName (case-insensitively) or
// externalId is taken by a live user of the organization.
func (s *Store) CreateUser(ctx context.Context, u store.User, ev store.AuditEvent) (store.User, error) {
	u, err := newUser(u)
	if err != nil {
		return store.User{}, err
	}
	err = s.write(ctx, "sqlstore: create user", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		u.CreatedAt, u.UpdatedAt = now, now
		if err := s.insertUser(ctx, tx, u); err != nil {
			return err
		}
		return s.insertEvent(ctx, tx, userEvent(ev, u), now, "user.created")
	})
	if err != nil {
		return store.User{}, err
	}
	return u, nil
}

// CreateLinkedUser creates a user and links an SSO identity to it in one
// transaction (JIT). ErrConflict when the userName, externalId or identity is
// taken; ErrInvalidReference when the identity's connection is not the
// organization's.
func (s *Store) CreateLinkedUser(ctx context.Context, u store.User, id store.Identity, ev store.AuditEvent) (store.User, error) {
	u, err := newUser(u)
	if err != nil {
		return store.User{}, err
	}
	if id.ConnectionID == "" || id.NameID == "" {
		return store.User{}, errors.New("sqlstore: create linked user: empty connection or NameID")
	}
	err = s.write(ctx, "sqlstore: create linked user", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		u.CreatedAt, u.UpdatedAt = now, now
		if err := s.insertUser(ctx, tx, u); err != nil {
			return err
		}
		id.OrgID, id.UserID, id.CreatedAt = u.OrgID, u.ID, now
		id.LastSignInAt = stampPtr(id.LastSignInAt)
		if err := s.insertIdentity(ctx, tx, id); err != nil {
			return err
		}
		return s.insertEvent(ctx, tx, userEvent(ev, u), now, "user.created")
	})
	if err != nil {
		return store.User{}, err
	}
	return u, nil
}

// newUser checks a user to be created and fills what the store owns.
func newUser(u store.User) (store.User, error) {
	if u.OrgID == "" || u.UserName == "" {
		return store.User{}, errors.New("sqlstore: create user: empty organization or userName")
	}
	id, err := newID()
	if err != nil {
		return store.User{}, err
	}
	u.ID = store.UserID(id)
	u.Version = 1
	u.DeletedAt = nil
	u.LastSignInAt = stampPtr(u.LastSignInAt)
	u.Emails = slices.Clone(u.Emails)
	u.Custom = maps.Clone(u.Custom)
	u.Resource = slices.Clone(u.Resource)
	return u, nil
}

// userEvent fills the target IDs of a user change's audit event.
func userEvent(ev store.AuditEvent, u store.User) store.AuditEvent {
	ev.OrgID, ev.UserID = u.OrgID, u.ID
	if ev.ConnectionID == "" {
		ev.ConnectionID = u.ConnectionID
	}
	return ev
}

func (s *Store) insertUser(ctx context.Context, tx *sql.Tx, u store.User) error {
	emails, custom, err := encodeUser(u)
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, s.q.insertUser, string(u.ID), string(u.OrgID), u.UserName,
		strings.ToLower(u.UserName), nullString(u.ExternalID), u.DisplayName, strings.ToLower(u.DisplayName),
		u.GivenName, u.FamilyName, emails, u.Active, u.Role, custom, string(u.Source), string(u.ConnectionID),
		nullRaw(u.Resource), u.Version, micros(u.CreatedAt), micros(u.UpdatedAt), nullMicros(u.LastSignInAt),
		nullMicros(u.DeletedAt))
	if err != nil {
		return s.d.classify(err, fmt.Sprintf("sqlstore: create user %q", u.UserName))
	}
	return s.insertEmails(ctx, tx, u)
}

func (s *Store) insertEmails(ctx context.Context, tx *sql.Tx, u store.User) error {
	for i, e := range u.Emails {
		_, err := tx.ExecContext(ctx, s.q.insertEmail, string(u.ID), string(u.OrgID), i,
			strings.ToLower(e.Value), strings.ToLower(e.Type), e.Primary)
		if err != nil {
			return fmt.Errorf("sqlstore: user %s: insert email: %w", u.ID, err)
		}
	}
	return nil
}

func encodeUser(u store.User) (emails, custom any, err error) {
	es := make([]emailJSON, len(u.Emails))
	for i, e := range u.Emails {
		es[i] = emailJSON(e)
	}
	if emails, err = jsonOrNull(es); err != nil {
		return nil, nil, fmt.Errorf("sqlstore: user %s: encode emails: %w", u.ID, err)
	}
	if custom, err = mapOrNull(u.Custom); err != nil {
		return nil, nil, fmt.Errorf("sqlstore: user %s: encode custom fields: %w", u.ID, err)
	}
	return emails, custom, nil
}

// GetUser returns a user of the organization, tombstones included.
func (s *Store) GetUser(ctx context.Context, org store.OrgID, id store.UserID) (store.User, error) {
	return s.getUser(ctx, s.read, s.q.getUser, org, id)
}

func (s *Store) getUser(ctx context.Context, q querier, query string, org store.OrgID, id store.UserID) (store.User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, query, string(org), string(id)))
	if err != nil {
		return store.User{}, s.d.classify(err, fmt.Sprintf("sqlstore: get user %s", id))
	}
	return u, nil
}

// ListUsers returns a page of the organization's users that match q.Filter, in
// creation order, and the number of all matches.
func (s *Store) ListUsers(ctx context.Context, org store.OrgID, q store.UserQuery) (store.Page[store.User], error) {
	lq, err := userWhere(org, q)
	if err != nil {
		return store.Page[store.User]{}, fmt.Errorf("sqlstore: list users: %w", err)
	}
	offset, limit := page(q.StartIndex, q.Count)
	count := s.d.rebind("SELECT COUNT(*) FROM users u WHERE " + lq.where)
	list := s.d.rebind("SELECT " + userCols + " FROM users u WHERE " + lq.where + " ORDER BY u.seq LIMIT ? OFFSET ?")
	return listPage(ctx, s.read, count, list, lq.args, limit, offset, scanUser, "sqlstore: list users")
}

// snapshot is the read transaction of reads that make several queries that must
// agree: REPEATABLE READ, so that on PostgreSQL every statement sees one snapshot
// (under READ COMMITTED each would take its own). A SQLite read transaction is
// one snapshot anyway; its driver ignores the level.
func snapshot() *sql.TxOptions {
	return &sql.TxOptions{Isolation: sql.LevelRepeatableRead, ReadOnly: true}
}

// listPage counts the matches and reads one page of them in one read
// transaction, so that both see the same snapshot.
func listPage[T any](ctx context.Context, db *sql.DB, count, list string, args []any, limit, offset int,
	scan func(scanner) (T, error), what string) (store.Page[T], error) {
	tx, err := db.BeginTx(ctx, snapshot())
	if err != nil {
		return store.Page[T]{}, fmt.Errorf("%s: %w", what, err)
	}
	defer func() { _ = tx.Rollback() }()
	var p store.Page[T]
	if err := tx.QueryRowContext(ctx, count, args...).Scan(&p.Total); err != nil {
		return store.Page[T]{}, fmt.Errorf("%s: count: %w", what, err)
	}
	if limit == 0 || p.Total <= offset {
		return p, nil
	}
	rows, err := tx.QueryContext(ctx, list, append(slices.Clip(args), limit, offset)...)
	if err != nil {
		return store.Page[T]{}, fmt.Errorf("%s: %w", what, err)
	}
	if p.Items, err = collect(rows, scan, what); err != nil {
		return store.Page[T]{}, err
	}
	return p, nil
}

// UpdateUser applies fn to the live user and writes it, incrementing Version. fn
// runs inside the write transaction and may run more than once; if it returns an
// error nothing is written and the error is returned wrapped. ID, OrgID, Version,
// CreatedAt, LastSignInAt and DeletedAt are the store's. An Active true→false
// change ends the user's sessions in the same transaction.
func (s *Store) UpdateUser(ctx context.Context, org store.OrgID, id store.UserID, fn func(*store.User) error, ev store.AuditEvent) (store.User, error) {
	return s.updateUser(ctx, org, id, fn, ev, nil)
}

// updateUser is UpdateUser; g, if set, guards a de-provisioning (holds.go).
func (s *Store) updateUser(ctx context.Context, org store.OrgID, id store.UserID, fn func(*store.User) error, ev store.AuditEvent,
	g *store.DeprovisionGuard) (store.User, error) {
	var (
		out  store.User
		held *store.HeldError
	)
	err := s.write(ctx, "sqlstore: update user", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		held = nil
		cur, err := s.getUser(ctx, tx, s.q.getLiveUser, org, id)
		if err != nil {
			return err
		}
		next := cloneUser(cur)
		if err := fn(&next); err != nil {
			return fmt.Errorf("sqlstore: update user %s: %w", id, err)
		}
		if next.UserName == "" {
			return fmt.Errorf("sqlstore: update user %s: empty userName", id)
		}
		next.ID, next.OrgID, next.CreatedAt = cur.ID, cur.OrgID, cur.CreatedAt
		next.LastSignInAt, next.DeletedAt = cur.LastSignInAt, cur.DeletedAt
		next.Version, next.UpdatedAt = cur.Version+1, now
		if g != nil && cur.Active && !next.Active {
			if held, err = s.guard(ctx, tx, org, id, *g, ev, now); err != nil || held != nil {
				return err // held: the hold commits, the update is not written
			}
		}
		if err := s.writeUser(ctx, tx, cur, next, fmt.Sprintf("sqlstore: update user %q", next.UserName)); err != nil {
			return err
		}
		action := "user.updated"
		if cur.Active && !next.Active {
			action = "user.deactivated"
			if _, err := tx.ExecContext(ctx, s.q.deleteUserSessions, string(id)); err != nil {
				return fmt.Errorf("sqlstore: update user %s: end sessions: %w", id, err)
			}
		}
		out = next
		return s.insertEvent(ctx, tx, userEvent(ev, next), now, action)
	})
	if err != nil {
		return store.User{}, err
	}
	if held != nil {
		return store.User{}, held
	}
	return out, nil
}

// writeUser writes next, an update of the live user cur with Version and
// UpdatedAt set, over cur's row: the UPDATE assigns version, updated_at and
// only the columns whose stored value changes, and the user_emails rows are
// rewritten only if the addresses change. An UPDATE makes SQLite delete and
// re-insert the entry of every index that covers a column it assigns, and
// check every unique one, whether or not the value changed; so a SCIM PATCH
// of active, or a sign-in that refreshes a name, leaves the userName and
// externalId indexes alone (in a big directory, a random page of each that
// COMMIT would write). A unique violation is reported as store.ErrConflict,
// with what naming the write.
func (s *Store) writeUser(ctx context.Context, tx *sql.Tx, cur, next store.User, what string) error {
	emails, custom, err := encodeUser(next)
	if err != nil {
		return err
	}
	var set strings.Builder
	args := make([]any, 0, 17)
	assign := func(col string, v any) {
		set.WriteString(col)
		set.WriteString(" = ?, ")
		args = append(args, v)
	}
	if next.UserName != cur.UserName {
		assign("user_name", next.UserName)
	}
	if lower := strings.ToLower(next.UserName); lower != strings.ToLower(cur.UserName) {
		assign("user_name_lower", lower)
	}
	if next.ExternalID != cur.ExternalID {
		assign("external_id", nullString(next.ExternalID))
	}
	if next.DisplayName != cur.DisplayName {
		assign("display_name", next.DisplayName)
	}
	if lower := strings.ToLower(next.DisplayName); lower != strings.ToLower(cur.DisplayName) {
		assign("display_name_lower", lower)
	}
	if next.GivenName != cur.GivenName {
		assign("given_name", next.GivenName)
	}
	if next.FamilyName != cur.FamilyName {
		assign("family_name", next.FamilyName)
	}
	emailsChanged := !slices.Equal(cur.Emails, next.Emails)
	if emailsChanged {
		assign("emails", emails)
	}
	if next.Active != cur.Active {
		assign("active", next.Active)
	}
	if next.Role != cur.Role {
		assign("role", next.Role)
	}
	if !maps.Equal(cur.Custom, next.Custom) {
		assign("custom", custom)
	}
	if next.Source != cur.Source {
		assign("source", string(next.Source))
	}
	if next.ConnectionID != cur.ConnectionID {
		assign("connection_id", string(next.ConnectionID))
	}
	if !bytes.Equal(cur.Resource, next.Resource) {
		assign("resource", nullRaw(next.Resource))
	}
	set.WriteString("version = ?, updated_at = ?")
	args = append(args, next.Version, micros(next.UpdatedAt), string(next.ID))
	// At most 2^14 distinct statements, in practice a handful (a PATCH of
	// active, a PUT that changes names), each prepared once per connection
	// and then served from the statement caches.
	if _, err := tx.ExecContext(ctx, s.d.rebind("UPDATE users SET "+set.String()+" WHERE id = ?"), args...); err != nil {
		return s.d.classify(err, what)
	}
	if emailsChanged {
		if _, err := tx.ExecContext(ctx, s.q.deleteEmails, string(next.ID)); err != nil {
			return fmt.Errorf("%s: delete emails: %w", what, err)
		}
		if err := s.insertEmails(ctx, tx, next); err != nil {
			return err
		}
	}
	return nil
}

// DeleteUser turns a live user into a tombstone, ends its sessions and removes it
// from its groups (whose Version and UpdatedAt change).
func (s *Store) DeleteUser(ctx context.Context, org store.OrgID, id store.UserID, ev store.AuditEvent) error {
	return s.deleteUser(ctx, org, id, ev, nil, nil)
}

// deleteUser is DeleteUser; g, if set, guards the deletion of an active user
// (holds.go), and pre, if set, judges its current version first.
func (s *Store) deleteUser(ctx context.Context, org store.OrgID, id store.UserID, ev store.AuditEvent, g *store.DeprovisionGuard, pre store.VersionCheck) error {
	var held *store.HeldError
	err := s.write(ctx, "sqlstore: delete user", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		held = nil
		cur, err := s.getUser(ctx, tx, s.q.getLiveUser, org, id)
		if err != nil {
			return err
		}
		if pre != nil {
			if err := pre(cur.Version); err != nil {
				return err
			}
		}
		if g != nil && cur.Active {
			if held, err = s.guard(ctx, tx, org, id, *g, ev, now); err != nil || held != nil {
				return err // held: the hold commits, the deletion is not written
			}
		}
		if _, err := tx.ExecContext(ctx, s.q.tombstoneUser, micros(now), micros(now), string(org), string(id)); err != nil {
			return fmt.Errorf("sqlstore: delete user %s: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, s.q.deleteUserSessions, string(id)); err != nil {
			return fmt.Errorf("sqlstore: delete user %s: end sessions: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, s.q.touchUserGroups, micros(now), string(id)); err != nil {
			return fmt.Errorf("sqlstore: delete user %s: touch groups: %w", id, err)
		}
		if _, err := tx.ExecContext(ctx, s.q.deleteUserMembers, string(id)); err != nil {
			return fmt.Errorf("sqlstore: delete user %s: remove from groups: %w", id, err)
		}
		return s.insertEvent(ctx, tx, userEvent(ev, cur), now, "user.deleted")
	})
	if err == nil && held != nil {
		return held
	}
	return err
}

func cloneUser(u store.User) store.User {
	u.Emails = slices.Clone(u.Emails)
	u.Custom = maps.Clone(u.Custom)
	u.Resource = slices.Clone(u.Resource)
	return u
}

func scanUser(sc scanner) (store.User, error) {
	var (
		u                        store.User
		externalID               sql.NullString
		emails, custom, resource []byte
		created, updated         int64
		lastSignIn, deleted      sql.NullInt64
	)
	err := sc.Scan(&u.ID, &u.OrgID, &u.UserName, &externalID, &u.DisplayName, &u.GivenName, &u.FamilyName,
		&emails, &u.Active, &u.Role, &custom, &u.Source, &u.ConnectionID, &resource, &u.Version,
		&created, &updated, &lastSignIn, &deleted)
	if err != nil {
		return store.User{}, err
	}
	u.ExternalID = externalID.String
	if len(emails) > 0 {
		var es []emailJSON
		if err := json.Unmarshal(emails, &es); err != nil {
			return store.User{}, fmt.Errorf("user %s: emails: %w", u.ID, err)
		}
		u.Emails = make([]store.Email, len(es))
		for i, e := range es {
			u.Emails[i] = store.Email(e)
		}
	}
	if u.Custom, err = decodeMap(custom); err != nil {
		return store.User{}, fmt.Errorf("user %s: custom fields: %w", u.ID, err)
	}
	u.Resource = rawOrNil(resource)
	u.CreatedAt, u.UpdatedAt = fromMicros(created), fromMicros(updated)
	u.LastSignInAt, u.DeletedAt = timePtr(lastSignIn), timePtr(deleted)
	return u, nil
}
