package sqlstore

import (
	"errors"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

// fixtureVersion is the schema version the data-survival fixture is written
// against. Keep it (and the SQL below) when adding migrations: the test then proves
// that every later migration keeps this data readable through the Store API.
const fixtureVersion = 1

// TestMigrationsKeepData runs the data-survival test on a SQLite file.
func TestMigrationsKeepData(t *testing.T) {
	testMigrationsKeepData(t, filepath.Join(t.TempDir(), "onramp.db"))
}

// testMigrationsKeepData migrates a new database to fixtureVersion, inserts rows
// with plain SQL as that schema had them, migrates to the latest version (as Open
// does) and reads the rows back through the Store API. The fixture SQL is
// portable: '?' placeholders rebound for the dialect, booleans as arguments.
func testMigrationsKeepData(t *testing.T, dsn string) {
	db, err := openDBs(t.Context(), dsn, options{readers: 1, maxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	p, err := newMigrator(t.Context(), db.d, db.write, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(t.Context(), fixtureVersion); err != nil {
		t.Fatalf("migrate to %d: %v", fixtureVersion, err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.write.ExecContext(t.Context(), db.d.rebind(q), args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	const created = int64(1767225600000000) // 2026-01-01T00:00:00Z in microseconds
	exec(`INSERT INTO orgs (id, slug, name, jit_email_domains, jit_sso_connections, access_email_domains,
		access_sso_connections, created_at, updated_at) VALUES ('o1', 'acme', 'Acme', ?, ?, '["acme.com"]', '[]', ?, ?)`,
		true, false, created, created)
	exec(`INSERT INTO users (id, org_id, user_name, user_name_lower, external_id, display_name, display_name_lower,
		given_name, family_name, emails, active, role, custom, source, connection_id, resource, version, created_at,
		updated_at) VALUES ('u1', 'o1', 'Ann', 'ann', 'x1', 'Ann S', 'ann s', 'Ann', 'S',
		'[{"value":"Ann@Acme.com","type":"work","primary":true}]', ?, 'Member', '{"team":"blue"}', 'scim', '',
		'{"userName":"Ann"}', 3, ?, ?)`, true, created, created)
	exec(`INSERT INTO user_emails (user_id, org_id, pos, value_lower, type_lower, "primary")
		VALUES ('u1', 'o1', 0, 'ann@acme.com', 'work', ?)`, true)
	exec(`INSERT INTO audit_events (org_id, time, actor, action, user_id, group_id, connection_id, rule, detail)
		VALUES ('o1', ?, 'operator', 'user.created', 'u1', '', '', '', NULL)`, created)
	exec(`INSERT INTO sessions (id_hash, org_id, user_id, created_at, expires_at, last_seen_at)
		VALUES (?, 'o1', 'u1', ?, ?, ?)`, []byte("session-hash"), created, created+3600e6, created)
	exec(`INSERT INTO assertions (connection_id, assertion_id, not_on_or_after) VALUES ('c1', '_a1', ?)`, created+300e6)
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(db.close())

	s := openDSN(t, dsn) // migrates to the latest version
	latest, err := schemaVersion(t, s)
	check(err)
	if want := int64(len(mustMigrations(t, s.d))); latest != want {
		t.Errorf("schema version %d after Open, want %d", latest, want)
	}
	o, err := s.GetOrgBySlug(t.Context(), "acme")
	check(err)
	if o.ID != "o1" || !o.Onboarding.JITEmailDomains || len(o.Access.EmailDomains) != 1 || o.CreatedAt.UnixMicro() != created {
		t.Errorf("org = %+v", o)
	}
	p2, err := s.ListUsers(t.Context(), "o1", store.UserQuery{Count: 10,
		Filter: store.Compare{Field: store.FieldEmailValue, Op: store.OpEq, Value: "ann@acme.com"}})
	check(err)
	if p2.Total != 1 {
		t.Fatalf("emails.value filter found %d users, want 1", p2.Total)
	}
	u := p2.Items[0]
	if u.ID != "u1" || u.UserName != "Ann" || u.ExternalID != "x1" || u.Version != 3 || u.Custom["team"] != "blue" ||
		len(u.Emails) != 1 || !u.Emails[0].Primary || string(u.Resource) != `{"userName":"Ann"}` {
		t.Errorf("user = %+v", u)
	}
	evs, err := s.ListEvents(t.Context(), "o1", store.AuditQuery{Action: "user.created"})
	check(err)
	if len(evs) != 1 || evs[0].UserID != "u1" || evs[0].Time.UnixMicro() != created {
		t.Errorf("events = %+v", evs)
	}
	var migrated int64
	if len(evs) == 1 {
		migrated = evs[0].ID
	}
	se, err := s.GetSession(t.Context(), []byte("session-hash"))
	check(err)
	if se.UserID != "u1" || se.ExpiresAt.UnixMicro() != created+3600e6 {
		t.Errorf("session = %+v", se)
	}
	// IDs keep growing past the migrated ones.
	check(s.RecordEvent(t.Context(), store.AuditEvent{OrgID: "o1", Actor: "operator", Action: "test.after"}))
	evs, err = s.ListEvents(t.Context(), "o1", store.AuditQuery{Action: "test.after"})
	check(err)
	if len(evs) != 1 || evs[0].ID <= migrated {
		t.Errorf("event recorded after the migrations = %+v, want an ID above the migrated one's, %d", evs, migrated)
	}
	// The migrated data keeps working for writes.
	if _, err := s.CreateUser(t.Context(), store.User{OrgID: "o1", UserName: "ANN"}, store.AuditEvent{}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("a duplicate of the migrated user: err = %v, want ErrConflict", err)
	}
	if _, err := s.UpdateUser(t.Context(), "o1", "u1", func(u *store.User) error { u.Active = false; return nil }, store.AuditEvent{}); err != nil {
		t.Error(err)
	}
}

// TestMigrate: the operator's migrate command brings a new file to the latest
// version and is idempotent.
func TestMigrate(t *testing.T) {
	testMigrateTwice(t, filepath.Join(t.TempDir(), "onramp.db"))
}

func testMigrateTwice(t *testing.T, dsn string) {
	for range 2 {
		if err := Migrate(t.Context(), dsn, nil); err != nil {
			t.Fatal(err)
		}
	}
	s := openDSN(t, dsn)
	v, err := schemaVersion(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len(mustMigrations(t, s.d))); v != want {
		t.Errorf("version %d, want %d", v, want)
	}
}

func schemaVersion(t *testing.T, s *Store) (int64, error) {
	t.Helper()
	p, err := newMigrator(t.Context(), s.d, writeDB(t, s), nil)
	if err != nil {
		return 0, err
	}
	return p.GetDBVersion(t.Context())
}

// mustMigrations lists the dialect's embedded migration files.
func mustMigrations(t *testing.T, d *dialect) []string {
	t.Helper()
	files, err := fs.Glob(d.migrations, "*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s migrations found: %v", d.name, err)
	}
	return files
}

// TestFewerPagesMigrationRoundTrip: SQLite's 00006 rebuilds sessions,
// assertions and audit_events both ways without losing a row, and leaves
// the tables in the layout it promises (WITHOUT ROWID; no AUTOINCREMENT).
func TestFewerPagesMigrationRoundTrip(t *testing.T) {
	db, err := openDBs(t.Context(), filepath.Join(t.TempDir(), "onramp.db"), options{readers: 1, maxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.close() }()
	p, err := newMigrator(t.Context(), db.d, db.write, nil)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.write.ExecContext(t.Context(), q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	count := func(table string) (n int) {
		t.Helper()
		if err := db.write.QueryRowContext(t.Context(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	ddl := func(table string) (sql string) {
		t.Helper()
		if err := db.write.QueryRowContext(t.Context(), "SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?", table).Scan(&sql); err != nil {
			t.Fatal(err)
		}
		return sql
	}
	if _, err := p.UpTo(t.Context(), 5); err != nil {
		t.Fatal(err)
	}
	exec(`INSERT INTO orgs (id, slug, name, jit_email_domains, jit_sso_connections, access_email_domains,
		access_sso_connections, created_at, updated_at) VALUES ('o1', 'acme', 'Acme', 0, 0, '[]', '[]', 1, 1)`)
	exec(`INSERT INTO users (id, org_id, user_name, user_name_lower, display_name, display_name_lower, given_name,
		family_name, emails, active, role, custom, source, connection_id, resource, version, created_at, updated_at)
		VALUES ('u1', 'o1', 'ann', 'ann', '', '', '', '', '[]', 1, 'Member', '{}', 'scim', '', '{}', 1, 1, 1)`)
	exec(`INSERT INTO sessions (id_hash, org_id, user_id, created_at, expires_at, last_seen_at) VALUES (x'01', 'o1', 'u1', 1, 2, 1)`)
	exec(`INSERT INTO assertions (connection_id, assertion_id, not_on_or_after) VALUES ('c1', '_a1', 5)`)
	exec(`INSERT INTO audit_events (org_id, time, actor, action, user_id, group_id, connection_id, rule)
		VALUES ('o1', 1, 'a', 'b', '', '', '', ''), ('o1', 2, 'a', 'b', '', '', '', '')`)

	steps := []struct {
		name string
		run  func() error
		// layout: whether sessions and assertions are WITHOUT ROWID and
		// audit_events has no AUTOINCREMENT.
		compact bool
	}{
		{"up to 6", func() error { _, err := p.UpTo(t.Context(), 6); return err }, true},
		{"down to 5", func() error { _, err := p.DownTo(t.Context(), 5); return err }, false},
		{"up again", func() error { _, err := p.UpTo(t.Context(), 6); return err }, true},
	}
	for _, st := range steps {
		if err := st.run(); err != nil {
			t.Fatalf("%s: %v", st.name, err)
		}
		for table, want := range map[string]int{"sessions": 1, "assertions": 1, "audit_events": 2} {
			if got := count(table); got != want {
				t.Errorf("%s: %d rows in %s, want %d", st.name, got, table, want)
			}
		}
		for _, table := range []string{"sessions", "assertions"} {
			if got := strings.Contains(ddl(table), "WITHOUT ROWID"); got != st.compact {
				t.Errorf("%s: %s WITHOUT ROWID = %v, want %v", st.name, table, got, st.compact)
			}
		}
		if got := strings.Contains(ddl("audit_events"), "AUTOINCREMENT"); got == st.compact {
			t.Errorf("%s: audit_events AUTOINCREMENT = %v, want %v", st.name, got, !st.compact)
		}
	}
	// A new event after the round trip takes an ID past the migrated ones.
	exec(`INSERT INTO audit_events (org_id, time, actor, action, user_id, group_id, connection_id, rule) VALUES ('o1', 3, 'a', 'b', '', '', '', '')`)
	var maxID int
	if err := db.write.QueryRowContext(t.Context(), "SELECT max(id) FROM audit_events").Scan(&maxID); err != nil || maxID != 3 {
		t.Errorf("max event ID = %d (%v), want 3", maxID, err)
	}
}
