package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/onramp-dev/onramp/store"
)

// The sign-in's statements. The reads' column lists are qualified (see
// qualify): organizations and connections share column names.
const (
	// insertAssertionOnce records an assertion ID unless it is there: a replay
	// inserts nothing (no error, which on PostgreSQL would abort the
	// transaction), and concurrent inserts of one ID wait on the primary key
	// for the first to commit or roll back.
	insertAssertionOnce = `INSERT INTO assertions (connection_id, assertion_id, not_on_or_after) VALUES (?, ?, ?)
		ON CONFLICT (connection_id, assertion_id) DO NOTHING`
	// signInUnchanged sets a user's LastSignInAt if the user is still as the
	// caller read it (the version) and may sign in; on PostgreSQL it waits
	// for a concurrent writer of the row and judges the row it committed.
	signInUnchanged = `UPDATE users SET last_sign_in_at = ?
		WHERE id = ? AND org_id = ? AND version = ? AND active = ? AND deleted_at IS NULL`
	// signInLinkedIdentity sets an identity's LastSignInAt if it still links
	// to the user.
	signInLinkedIdentity = `UPDATE identities SET last_sign_in_at = ?
		WHERE connection_id = ? AND name_id = ? AND user_id = ?`
	profileSavepoint = "signin_profile"
)

// qualify prefixes every column of a comma-separated list with alias.
func qualify(alias, cols string) string {
	parts := strings.Split(cols, ",")
	for i, p := range parts {
		parts[i] = alias + "." + strings.TrimSpace(p)
	}
	return strings.Join(parts, ", ")
}

// connectionByPathQuery selects an organization and one of its connections
// by their slugs.
func connectionByPathQuery() string {
	return `SELECT ` + qualify("o", orgCols) + `, ` + qualify("c", connCols) +
		` FROM orgs o JOIN connections c ON c.org_id = o.id WHERE o.slug = ? AND c.slug = ?`
}

// linkedUserQuery selects an identity and the user it links to.
func linkedUserQuery() string {
	return `SELECT ` + qualify("i", identityCols) + `, ` + userCols +
		` FROM identities i JOIN users u ON u.id = i.user_id WHERE i.connection_id = ? AND i.name_id = ?`
}

// GetConnectionByPath returns an organization's connection by the two slugs,
// and the organization, in one query.
func (s *Store) GetConnectionByPath(ctx context.Context, orgSlug, connSlug string) (store.Org, store.Connection, error) {
	q := s.d.rebind(connectionByPathQuery())
	o, c, err := scanPair(s.read.QueryRowContext(ctx, q, orgSlug, connSlug), scanOrg, scanConn)
	if err != nil {
		return store.Org{}, store.Connection{}, s.d.classify(err, fmt.Sprintf("sqlstore: get connection %q of organization %q", connSlug, orgSlug))
	}
	return o, c, nil
}

// GetLinkedUser returns the identity (conn, nameID) and the user it links to,
// in one query.
func (s *Store) GetLinkedUser(ctx context.Context, conn store.ConnectionID, nameID string) (store.Identity, store.User, error) {
	q := s.d.rebind(linkedUserQuery())
	id, u, err := scanPair(s.read.QueryRowContext(ctx, q, string(conn), nameID), scanIdentity, scanUser)
	if err != nil {
		return store.Identity{}, store.User{}, s.d.classify(err, fmt.Sprintf("sqlstore: get linked user on connection %s", conn))
	}
	return id, u, nil
}

// MatchUsers returns the live users of org with the userName or an email
// address equal to the given ones (case-insensitively): two index lookups
// in one query, the userName's row first.
func (s *Store) MatchUsers(ctx context.Context, org store.OrgID, userName, email string, limit int) ([]store.User, error) {
	if limit <= 0 || (userName == "" && email == "") {
		return nil, nil
	}
	q, args := matchUsersQuery(org, userName, email, limit)
	rows, err := s.read.QueryContext(ctx, s.d.rebind(q), args...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: match users: %w", err)
	}
	all, err := collect(rows, func(sc scanner) (store.User, error) {
		var k, seq int64
		return scanUser(scanFunc(func(dest ...any) error { return sc.Scan(append(dest, &k, &seq)...) }))
	}, "sqlstore: match users")
	if err != nil {
		return nil, err
	}
	var out []store.User
	for _, u := range all {
		if len(out) < limit && !slices.ContainsFunc(out, func(o store.User) bool { return o.ID == u.ID }) {
			out = append(out, u)
		}
	}
	return out, nil
}

// matchUsersQuery is MatchUsers' query and its arguments: a branch per
// non-empty value, each an index lookup.
func matchUsersQuery(org store.OrgID, userName, email string, limit int) (string, []any) {
	var (
		branches []string
		args     []any
	)
	if userName != "" {
		branches = append(branches, `SELECT `+userCols+`, 0 AS k, u.seq AS s FROM users u
			WHERE u.org_id = ? AND u.user_name_lower = ? AND u.deleted_at IS NULL`)
		args = append(args, string(org), strings.ToLower(userName))
	}
	if email != "" {
		branches = append(branches, `SELECT `+userCols+`, 1 AS k, u.seq AS s
			FROM user_emails e JOIN users u ON u.id = e.user_id
			WHERE e.org_id = ? AND e.value_lower = ? AND u.deleted_at IS NULL`)
		args = append(args, string(org), strings.ToLower(email))
	}
	// One user can match both ways, or by two of its addresses, so a few
	// rows more than asked for are read, and MatchUsers drops the repeats.
	return strings.Join(branches, " UNION ALL ") + ` ORDER BY k, s LIMIT ?`, append(args, limit+8)
}

// SignIn performs a sign-in in one write transaction, in this order: the
// assertion ID (a replay stops here: store.ErrAssertionUsed), the account
// (checked unchanged by conditional updates of LastSignInAt, which read
// nothing; then linked, or created), the profile (in a savepoint of its own,
// so that a userName taken by another account drops only the profile), the
// session and the events. An assertion issued before the replay fence
// (fence.go) is refused first, with nothing written. On SQLite the commit is
// deferred: fsynced just after SignIn returns (doc.go, "Deferred
// durability"). With in.Verdict, the transaction is held for the verdict
// before its commit (store.SignIn.Verdict; writer.doHeld).
func (s *Store) SignIn(ctx context.Context, in store.SignIn) (store.SignInResult, error) {
	if err := checkSignIn(in); err != nil {
		return store.SignInResult{}, err
	}
	if issued := in.Assertion.IssuedAt; !issued.IsZero() && issued.Before(s.fence) {
		return store.SignInResult{}, fmt.Errorf("sqlstore: sign in on connection %s: assertion issued at %s, the fence is %s: %w",
			in.Assertion.ConnectionID, issued.UTC().Format(time.RFC3339), s.fence.Format(time.RFC3339), store.ErrIssuedBeforeRecovery)
	}
	var create store.User
	if in.Account.Create != nil {
		var err error
		if create, err = newUser(*in.Account.Create); err != nil {
			return store.SignInResult{}, err
		}
	}
	var res store.SignInResult
	write := s.writeDeferred
	if in.Verdict != nil {
		write = func(ctx context.Context, _ string, fn func(ctx context.Context, tx *sql.Tx, now time.Time) error) error {
			return s.w.doHeld(ctx, "sqlstore: held sign in", in.Verdict, func(ctx context.Context, tx *sql.Tx) error {
				return fn(ctx, tx, stamp(s.now()))
			})
		}
	}
	err := write(ctx, "sqlstore: sign in", func(ctx context.Context, tx *sql.Tx, now time.Time) error {
		res = store.SignInResult{} // fn may run more than once
		if in.Config != nil {
			if err := s.checkConfig(ctx, tx, in); err != nil {
				return err
			}
		}
		ins, err := tx.ExecContext(ctx, s.d.rebind(insertAssertionOnce), string(in.Assertion.ConnectionID), in.Assertion.ID,
			micros(stamp(in.Assertion.NotOnOrAfter)))
		if err != nil {
			return fmt.Errorf("sqlstore: sign in: record assertion: %w", err)
		}
		n, err := affected(ins)
		if err != nil {
			return fmt.Errorf("sqlstore: sign in: record assertion: %w", err)
		}
		if n == 0 {
			return fmt.Errorf("sqlstore: sign in on connection %s: %w", in.Assertion.ConnectionID, store.ErrAssertionUsed)
		}
		at := now
		if !in.At.IsZero() {
			at = stamp(in.At)
		}
		var u store.User
		switch a := in.Account; {
		case a.Linked != nil:
			u, err = s.signInExisting(ctx, tx, in, *a.Linked, at)
		case a.Link != nil:
			if u, err = s.signInExisting(ctx, tx, in, *a.Link, at); err == nil {
				err = s.insertIdentity(ctx, tx, store.Identity{ConnectionID: in.Assertion.ConnectionID, NameID: in.NameID,
					OrgID: in.OrgID, UserID: u.ID, CreatedAt: now, LastSignInAt: &at})
			}
		case a.Create != nil:
			u, err = s.signInCreate(ctx, tx, in, create, now, at)
		default: // a refusal: the assertion and the events only
			return s.signInEvents(ctx, tx, in, "", now)
		}
		if err != nil {
			return err
		}
		if in.Profile != nil {
			if u, res.ProfileConflict, err = s.signInProfile(ctx, tx, in, u, now); err != nil {
				return err
			}
		}
		if in.Session != nil {
			if err := s.signInSession(ctx, tx, *in.Session, u, now); err != nil {
				return err
			}
		}
		if err := s.signInEvents(ctx, tx, in, u.ID, now); err != nil {
			return err
		}
		res.User = u
		return nil
	})
	if err != nil {
		return store.SignInResult{}, err
	}
	return res, nil
}

// HoldsSignIns is true on SQLite, whose one writer makes a sign-in's
// statements a cost every sign-in waits for in turn: a sign-in held for its
// verdict (store.SignIn.Verdict) has them run beside the signature check.
// On PostgreSQL, whose writes run in parallel, it is false.
func (s *Store) HoldsSignIns() bool { return !s.d.concurrentWrites }

// configStampsQuery reads the UpdatedAt stamps of an organization and one
// of its connections, by primary key.
const configStampsQuery = `SELECT o.updated_at, c.updated_at FROM orgs o JOIN connections c ON c.org_id = o.id WHERE o.id = ? AND c.id = ?`

// checkConfig fails with store.ErrConfigChanged unless the organization and
// connection of in still carry in.Config's stamps. It runs inside the
// sign-in's transaction, before anything is written: on SQLite the one
// writer serialises it with every change to them; on PostgreSQL a change
// that commits after this read and before the sign-in's commit is one the
// sign-in could not have seen whatever it read, as with any read-committed
// decision.
func (s *Store) checkConfig(ctx context.Context, tx *sql.Tx, in store.SignIn) error {
	var orgAt, connAt int64
	err := tx.QueryRowContext(ctx, s.d.rebind(configStampsQuery), string(in.OrgID), string(in.Assertion.ConnectionID)).Scan(&orgAt, &connAt)
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("sqlstore: sign in: connection %s of organization %s is gone: %w", in.Assertion.ConnectionID, in.OrgID, store.ErrConfigChanged)
	}
	if err != nil {
		return fmt.Errorf("sqlstore: sign in: read configuration stamps: %w", err)
	}
	if orgAt != micros(in.Config.OrgUpdatedAt) || connAt != micros(in.Config.ConnectionUpdatedAt) {
		return fmt.Errorf("sqlstore: sign in: organization %s or connection %s changed since it was read: %w", in.OrgID, in.Assertion.ConnectionID, store.ErrConfigChanged)
	}
	return nil
}

// checkSignIn rejects a SignIn that is not well formed: a programming error,
// never a race.
func checkSignIn(in store.SignIn) error {
	a := in.Account
	modes := 0
	for _, set := range []bool{a.Linked != nil, a.Link != nil, a.Create != nil} {
		if set {
			modes++
		}
	}
	var problems []string
	if in.OrgID == "" || in.Assertion.ConnectionID == "" || in.Assertion.ID == "" {
		problems = append(problems, "empty organization, connection or assertion ID")
	}
	if modes > 1 {
		problems = append(problems, "more than one of Linked, Link and Create")
	}
	if modes == 1 && in.NameID == "" {
		problems = append(problems, "empty NameID")
	}
	if modes == 0 && (in.Session != nil || in.Profile != nil) {
		problems = append(problems, "a refusal with a session or a profile")
	}
	if (a.Linked != nil && a.Linked.ID == "") || (a.Link != nil && a.Link.ID == "") {
		problems = append(problems, "an account without an ID")
	}
	if a.Create != nil && (in.Profile != nil || a.Create.OrgID != in.OrgID) {
		problems = append(problems, "a created account with a profile update or of another organization")
	}
	for _, ev := range in.Events {
		if ev.Action == "" {
			problems = append(problems, "an event without an action")
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("sqlstore: sign in: %s", strings.Join(problems, "; "))
	}
	return nil
}

// signInExisting signs in the existing account read, u, if it is unchanged,
// live and active, and (Linked) the identity still links to it: two
// conditional updates of LastSignInAt, each of which must change one row. As
// every change to an account increments its Version, u (with the new
// LastSignInAt) is then the account as stored, and nothing is read.
func (s *Store) signInExisting(ctx context.Context, tx *sql.Tx, in store.SignIn, u store.User, at time.Time) (store.User, error) {
	res, err := tx.ExecContext(ctx, s.d.rebind(signInUnchanged), micros(at), string(u.ID), string(in.OrgID), u.Version, true)
	if err := s.mustAffect(res, err, "sqlstore: sign in"); err != nil {
		return store.User{}, changed(err, fmt.Sprintf("user %s is no longer at version %d, live and active", u.ID, u.Version))
	}
	if in.Account.Linked != nil {
		res, err := tx.ExecContext(ctx, s.d.rebind(signInLinkedIdentity), micros(at), string(in.Assertion.ConnectionID), in.NameID, string(u.ID))
		if err := s.mustAffect(res, err, "sqlstore: sign in"); err != nil {
			return store.User{}, changed(err, fmt.Sprintf("the identity is no longer linked to user %s", u.ID))
		}
	}
	u = cloneUser(u)
	u.LastSignInAt = &at
	return u, nil
}

// changed turns mustAffect's ErrNotFound into store.ErrVersionMismatch: the
// row is not as the decision saw it.
func changed(err error, what string) error {
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("sqlstore: sign in: %s: %w", what, store.ErrVersionMismatch)
	}
	return err
}

// signInCreate creates the account, signed in at at, with the identity linked.
func (s *Store) signInCreate(ctx context.Context, tx *sql.Tx, in store.SignIn, u store.User, now, at time.Time) (store.User, error) {
	u.CreatedAt, u.UpdatedAt, u.LastSignInAt = now, now, &at
	if err := s.insertUser(ctx, tx, u); err != nil {
		return store.User{}, err
	}
	err := s.insertIdentity(ctx, tx, store.Identity{ConnectionID: in.Assertion.ConnectionID, NameID: in.NameID,
		OrgID: u.OrgID, UserID: u.ID, CreatedAt: now, LastSignInAt: &at})
	return u, err
}

// signInProfile writes the new profile inside a savepoint. A userName or
// externalId taken by another account rolls back only the savepoint and is
// returned as conflict: the sign-in goes on with cur.
func (s *Store) signInProfile(ctx context.Context, tx *sql.Tx, in store.SignIn, cur store.User, now time.Time) (u store.User, conflict, err error) {
	next := cloneUser(in.Profile.User)
	if next.UserName == "" {
		return store.User{}, nil, fmt.Errorf("sqlstore: sign in: user %s: profile with an empty userName", cur.ID)
	}
	next.ID, next.OrgID, next.Active, next.CreatedAt = cur.ID, cur.OrgID, cur.Active, cur.CreatedAt
	next.LastSignInAt, next.DeletedAt = cur.LastSignInAt, cur.DeletedAt
	next.Version, next.UpdatedAt = cur.Version+1, now
	if _, err := tx.ExecContext(ctx, "SAVEPOINT "+profileSavepoint); err != nil {
		return store.User{}, nil, fmt.Errorf("sqlstore: sign in: savepoint: %w", err)
	}
	werr := s.writeProfile(ctx, tx, cur, next, in.Profile.Event, now)
	if errors.Is(werr, store.ErrConflict) {
		if _, err := tx.ExecContext(ctx, "ROLLBACK TO SAVEPOINT "+profileSavepoint); err != nil {
			return store.User{}, nil, fmt.Errorf("sqlstore: sign in: rollback to savepoint: %w", err)
		}
		conflict, next = werr, cur
	} else if werr != nil {
		return store.User{}, nil, werr
	}
	if _, err := tx.ExecContext(ctx, "RELEASE SAVEPOINT "+profileSavepoint); err != nil {
		return store.User{}, nil, fmt.Errorf("sqlstore: sign in: release savepoint: %w", err)
	}
	return next, conflict, nil
}

// writeProfile writes next over cur, as UpdateUser does, with its event.
func (s *Store) writeProfile(ctx context.Context, tx *sql.Tx, cur, next store.User, ev store.AuditEvent, now time.Time) error {
	if err := s.writeUser(ctx, tx, cur, next, fmt.Sprintf("sqlstore: sign in: update profile of user %s", next.ID)); err != nil {
		return err
	}
	return s.insertEvent(ctx, tx, userEvent(ev, next), now, "user.updated")
}

// signInSession creates the session for u.
func (s *Store) signInSession(ctx context.Context, tx *sql.Tx, se store.Session, u store.User, now time.Time) error {
	if len(se.IDHash) == 0 {
		return errors.New("sqlstore: sign in: session with an empty ID hash")
	}
	created := now
	if !se.CreatedAt.IsZero() {
		created = stamp(se.CreatedAt)
	}
	seen := created
	if !se.LastSeenAt.IsZero() {
		seen = stamp(se.LastSeenAt)
	}
	_, err := tx.ExecContext(ctx, s.q.insertSession, se.IDHash, string(u.OrgID), string(u.ID),
		micros(created), micros(stamp(se.ExpiresAt)), micros(seen))
	return s.d.classify(err, "sqlstore: sign in: create session")
}

// signInEvents writes the sign-in's events for user (empty for a refusal).
func (s *Store) signInEvents(ctx context.Context, tx *sql.Tx, in store.SignIn, user store.UserID, now time.Time) error {
	if len(in.Events) == 0 {
		return nil
	}
	evs := make([]store.AuditEvent, len(in.Events))
	for i, ev := range in.Events {
		ev.OrgID = in.OrgID
		if ev.ConnectionID == "" {
			ev.ConnectionID = in.Assertion.ConnectionID
		}
		if ev.UserID == "" {
			ev.UserID = user
		}
		evs[i] = ev
	}
	if err := s.insertEvents(ctx, tx, evs, now); err != nil {
		return fmt.Errorf("sqlstore: sign in: %w", err)
	}
	return nil
}

// scanFunc is a scanner made of a function, for scanning one row through
// several scan functions.
type scanFunc func(dest ...any) error

func (f scanFunc) Scan(dest ...any) error { return f(dest...) }

// scanPair scans one row whose columns are first's followed by second's:
// first asks for its destinations, second for its own, the row is scanned
// into both at once, then each decodes its part.
func scanPair[A, B any](sc scanner, first func(scanner) (A, error), second func(scanner) (B, error)) (A, B, error) {
	var b B
	a, err := first(scanFunc(func(destA ...any) error {
		var errB error
		b, errB = second(scanFunc(func(destB ...any) error {
			return sc.Scan(append(slices.Clip(destA), destB...)...)
		}))
		return errB
	}))
	if err != nil {
		var zeroA A
		var zeroB B
		return zeroA, zeroB, err
	}
	return a, b, nil
}
