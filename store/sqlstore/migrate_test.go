package sqlstore

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/onramp-dev/onramp/store"
)

// fixtureVersion is the schema version the data-survival fixture is written
// against. Keep it (and the SQL below) when adding migrations: the test then proves
// that every later migration keeps this data readable through the Store API.
const fixtureVersion = 1

// TestMigrationsKeepData migrates a new database to fixtureVersion, inserts rows
// with plain SQL as that schema had them, migrates to the latest version (as Open
// does) and reads the rows back through the Store API.
func TestMigrationsKeepData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "onramp.db")
	d, wdb, rdb, err := openDBs(path, 1)
	if err != nil {
		t.Fatal(err)
	}
	p, err := newMigrator(d, wdb, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.UpTo(t.Context(), fixtureVersion); err != nil {
		t.Fatalf("migrate to %d: %v", fixtureVersion, err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := wdb.ExecContext(t.Context(), q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	const created = int64(1767225600000000) // 2026-01-01T00:00:00Z in microseconds
	exec(`INSERT INTO orgs (id, slug, name, jit_email_domains, jit_sso_connections, access_email_domains,
		access_sso_connections, created_at, updated_at) VALUES ('o1', 'acme', 'Acme', 1, 0, '["acme.com"]', '[]', ?, ?)`, created, created)
	exec(`INSERT INTO users (id, org_id, user_name, user_name_lower, external_id, display_name, display_name_lower,
		given_name, family_name, emails, active, role, custom, source, connection_id, resource, version, created_at,
		updated_at) VALUES ('u1', 'o1', 'Ann', 'ann', 'x1', 'Ann S', 'ann s', 'Ann', 'S',
		'[{"value":"Ann@Acme.com","type":"work","primary":true}]', 1, 'Member', '{"team":"blue"}', 'scim', '',
		'{"userName":"Ann"}', 3, ?, ?)`, created, created)
	exec(`INSERT INTO user_emails (user_id, org_id, pos, value_lower, type_lower, "primary")
		VALUES ('u1', 'o1', 0, 'ann@acme.com', 'work', 1)`)
	exec(`INSERT INTO audit_events (org_id, time, actor, action, user_id, group_id, connection_id, rule, detail)
		VALUES ('o1', ?, 'operator', 'user.created', 'u1', '', '', '', NULL)`, created)
	check := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	check(wdb.Close())
	check(rdb.Close())

	s := openAt(t, path) // migrates to the latest version
	latest, err := schemaVersion(t, s.w.db)
	check(err)
	if want := int64(len(mustMigrations(t))); latest != want {
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
	// The migrated data keeps working for writes.
	if _, err := s.CreateUser(t.Context(), store.User{OrgID: "o1", UserName: "ANN"}, store.AuditEvent{}); err == nil {
		t.Error("a duplicate of the migrated user was accepted")
	}
	if _, err := s.UpdateUser(t.Context(), "o1", "u1", func(u *store.User) error { u.Active = false; return nil }, store.AuditEvent{}); err != nil {
		t.Error(err)
	}
}

// TestMigrate: the operator's migrate command brings a new file to the latest
// version and is idempotent.
func TestMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "onramp.db")
	for range 2 {
		if err := Migrate(t.Context(), path, nil); err != nil {
			t.Fatal(err)
		}
	}
	s := openAt(t, path)
	v, err := schemaVersion(t, s.w.db)
	if err != nil {
		t.Fatal(err)
	}
	if want := int64(len(mustMigrations(t))); v != want {
		t.Errorf("version %d, want %d", v, want)
	}
}

func schemaVersion(t *testing.T, db *sql.DB) (int64, error) {
	t.Helper()
	d, err := sqliteDialect()
	if err != nil {
		return 0, err
	}
	p, err := newMigrator(d, db, nil)
	if err != nil {
		return 0, err
	}
	return p.GetDBVersion(t.Context())
}

func mustMigrations(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob("migrations/sqlite/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("no migrations found: %v", err)
	}
	return files
}
