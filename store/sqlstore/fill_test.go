package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/onramp-dev/onramp/store"
	"github.com/onramp-dev/onramp/store/storetest"
)

// fillDir is where the filled benchmarks keep their template databases:
// ONRAMP_BENCH_FILL_DIR if set, so that a template outlives the run and later
// runs skip the fill (delete it after a schema change), else dir.
func fillDir(dir string) string {
	if d := os.Getenv("ONRAMP_BENCH_FILL_DIR"); d != "" {
		return d
	}
	return dir
}

// benchFilled reads the size of the filled benchmarks' organization from
// ONRAMP_BENCH_FILLED (default 100000; the performance target is set at
// 1000000).
func benchFilled(b *testing.B) int {
	v := os.Getenv("ONRAMP_BENCH_FILLED")
	if v == "" {
		return 100000
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		b.Fatalf("ONRAMP_BENCH_FILLED=%q: want a positive integer", v)
	}
	return n
}

// filledSQLite makes storetest.BenchConfig.OpenFilled for SQLite: the first
// call for a size builds a template database in fillDir(dir) with bulk
// INSERT … SELECT statements (a minute or two for a million users, where the
// store's CreateUser would take far longer), and every call opens a store on a
// fresh copy of it.
func filledSQLite(dir string, opts ...Option) func(b *testing.B, n int) store.Store {
	return func(b *testing.B, n int) store.Store {
		b.Helper()
		tpl := filepath.Join(fillDir(dir), fmt.Sprintf("filled-%d.db", n))
		if _, err := os.Stat(tpl); err != nil {
			start := time.Now()
			// Filled under another name and renamed, so that a template is
			// never half-made.
			tmp := filepath.Join(b.TempDir(), "template.db")
			if err := fillSQLite(context.Background(), tmp, n); err != nil {
				b.Fatalf("fill %d users: %v", n, err)
			}
			if err := copyFile(tmp, tpl+".tmp"); err != nil {
				b.Fatal(err)
			}
			if err := os.Rename(tpl+".tmp", tpl); err != nil {
				b.Fatal(err)
			}
			b.Logf("filled a template database with %d users in %v", n, time.Since(start).Round(time.Second))
		}
		path := filepath.Join(b.TempDir(), "onramp.db")
		if err := copyFile(tpl, path); err != nil {
			b.Fatal(err)
		}
		s, err := Open(context.Background(), path, nil, opts...)
		if err != nil {
			b.Fatalf("Open: %v", err)
		}
		return s
	}
}

// fillSQLite creates the database at path with an organization (slug
// storetest.FilledOrg) holding n users as SCIM would have created them: a users
// row with a random version 4 ID (what the store made before its IDs were
// time-ordered, so the worst case for the ID index), one user_emails row and
// one audit event each. userNames and externalIds start with random hex, so
// they are spread over their indexes as people's names are.
func fillSQLite(ctx context.Context, path string, n int) error {
	s, err := Open(ctx, path, nil)
	if err != nil {
		return err
	}
	o, err := s.CreateOrg(ctx, store.Org{Slug: storetest.FilledOrg, Name: "Bench"}, store.AuditEvent{Actor: "bench"})
	if cerr := s.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	return fillOrg(ctx, path, o.ID, n)
}

// fillOrg adds n users to the organization org of the database at path, as
// fillSQLite describes, with bulk INSERT … SELECT statements on a connection
// of its own (no store may have the file open).
func fillOrg(ctx context.Context, path string, org store.OrgID, n int) error {
	// Bulk-load settings: this is a benchmark's set-up, not the store.
	db, err := sql.Open("sqlite3", path+"?_journal_mode=WAL&_synchronous=OFF&_foreign_keys=off&_cache_size=-262144")
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	db.SetMaxOpenConns(1)
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer func() { _ = tx.Rollback() }()
	t0 := time.Now().Add(-24 * time.Hour).UnixMicro()
	for _, q := range []string{
		`CREATE TEMP TABLE fill AS WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?1 - 1)
		SELECT i,
			lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' || substr(hex(randomblob(2)), 2) || '-' ||
				substr('89ab', 1 + abs(random()) % 4, 1) || substr(hex(randomblob(2)), 2) || '-' ||
				hex(randomblob(6))) AS id,
			lower(hex(randomblob(8))) || '.fill' || i || '@example.com' AS name
		FROM n`,
		`INSERT INTO users (id, org_id, user_name, user_name_lower, external_id, display_name, display_name_lower,
			given_name, family_name, emails, active, role, custom, source, connection_id, resource, version,
			created_at, updated_at, last_sign_in_at, deleted_at)
		SELECT id, ?2, name, name, '00u' || lower(hex(randomblob(8))), 'Fill User', 'fill user', 'Fill', 'User',
			'[{"value":"' || name || '","type":"work","primary":true}]', 1, 'Member', NULL, 'scim', '',
			'{"userName":"' || name || '","name":{"givenName":"Fill","familyName":"User"},"active":true}', 1,
			?3 + i, ?3 + i, NULL, NULL
		FROM fill ORDER BY i`,
		`INSERT INTO user_emails (user_id, org_id, pos, value_lower, type_lower, "primary")
		SELECT id, ?2, 0, name, 'work', 1 FROM fill ORDER BY i`,
		`INSERT INTO audit_events (org_id, time, actor, action, user_id, group_id, connection_id, rule, detail)
		SELECT ?2, ?3 + i, 'bench', 'user.created', id, '', '', '', NULL FROM fill ORDER BY i`,
		`DROP TABLE fill`,
	} {
		if _, err := tx.ExecContext(ctx, q, n, string(org), t0); err != nil {
			return fmt.Errorf("%.40s…: %w", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	_, err = db.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	return err
}

func copyFile(from, to string) (err error) {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer func() { _ = in.Close() }()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := out.Close(); err == nil {
			err = cerr
		}
	}()
	_, err = io.Copy(out, in)
	return err
}
