package bench

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" database/sql driver

	"github.com/onramp-dev/onramp/store/sqlstore"
)

// rawDSN opens a SQLite file as onramp's store opens its writer connection
// (store/sqlstore/doc.go, "SQLite settings"): WAL, synchronous=FULL (every
// COMMIT fsyncs the WAL, so an acknowledged write survives a crash of the
// process and of the machine), BEGIN IMMEDIATE, a 10 s busy timeout.
const rawDSN = "?_journal_mode=WAL&_synchronous=FULL&_txlock=immediate&_foreign_keys=on&_busy_timeout=10000&_cslike=on&_stmt_cache_size=64"

// rawInsert is a users row as the store writes one for a SCIM create: the same
// table and indexes (the schema comes from the store's migrations), the columns
// filled as a bench POST fills them.
const rawInsert = `INSERT INTO users (id, org_id, user_name, user_name_lower, external_id, display_name,
	display_name_lower, given_name, family_name, emails, active, role, custom, source, connection_id,
	resource, version, created_at, updated_at, last_sign_in_at, deleted_at)
	VALUES (?, 'o1', ?, ?, ?, ?, ?, 'Bench', ?, ?, 1, 'Member', NULL, 'scim', 'c1', ?, 1, ?, ?, NULL, NULL)`

// rawRates measures single-row insert transactions on a scratch SQLite file in
// dir with the store's settings, one transaction per insert, at each level of
// concurrency. Every level shares one connection (SQLite has one writer at a
// time; more connections would only add lock waits), so this is the best SQLite
// does without grouping commits: the baseline SCIM creates are compared with.
func (r *runner) rawRates(ctx context.Context, rep *Report) error {
	dir, err := os.MkdirTemp(r.cfg.RawDB, "onramp-bench-raw-")
	if err != nil {
		return fmt.Errorf("bench: raw SQLite: %w", err)
	}
	defer func() { _ = os.RemoveAll(dir) }()
	path := filepath.Join(dir, "raw.db")
	if err := sqlstore.Migrate(ctx, path, nil); err != nil {
		return fmt.Errorf("bench: raw SQLite: %w", err)
	}
	db, err := sql.Open("sqlite3", path+rawDSN)
	if err != nil {
		return fmt.Errorf("bench: raw SQLite: %w", err)
	}
	defer func() { _ = db.Close() }()
	db.SetMaxOpenConns(1)
	settings, err := rawSettings(ctx, db)
	if err != nil {
		return err
	}
	if _, err := db.ExecContext(ctx, `INSERT INTO orgs (id, slug, name, jit_email_domains, jit_sso_connections,
		access_email_domains, access_sso_connections, created_at, updated_at) VALUES ('o1', 'o1', 'o1', 0, 0, '[]', '[]', 0, 0)`); err != nil {
		return fmt.Errorf("bench: raw SQLite: %w", err)
	}
	var seq atomic.Int64
	insert := func(ctx context.Context, _ int) error {
		n := strconv.FormatInt(seq.Add(1), 10)
		name := "bench-raw-" + n + "@example.com"
		now := r.cfg.Now().UnixMicro()
		tx, err := db.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, rawInsert, "raw-"+n, name, name, "bench-raw-"+n, "Bench User "+n,
			"bench user "+n, "User "+n, `[{"value":"`+name+`","type":"work","primary":true}]`,
			`{"active":true,"displayName":"Bench User `+n+`","emails":[{"primary":true,"type":"work","value":"`+name+
				`"}],"externalId":"bench-raw-`+n+`","name":{"familyName":"User `+n+`","givenName":"Bench"},"userName":"`+name+`"}`,
			now, now)
		if err != nil {
			return errors.Join(err, tx.Rollback())
		}
		return tx.Commit()
	}
	for _, c := range r.cfg.Clients {
		res := r.parallel(ctx, c, r.cfg.Ops, insert)
		rep.Rows = append(rep.Rows, Row{Name: fmt.Sprintf("raw SQLite insert tx, %s", plural(c, "goroutine")), N: res.n,
			Errors: res.errors, Rate: res.rate(), P50: res.pct(0.5), P99: res.pct(0.99), Wall: res.wall,
			Note: joinNotes(settings, note(ctx, res, r.cfg.Ops))})
		if res.rate() > r.rawBest {
			r.rawBest = res.rate()
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
	return nil
}

// rawSettings reads back what the connection runs with, for the table.
func rawSettings(ctx context.Context, db *sql.DB) (string, error) {
	var mode string
	var sync, busy int
	for _, q := range []struct {
		pragma string
		into   any
	}{{"journal_mode", &mode}, {"synchronous", &sync}, {"busy_timeout", &busy}} {
		if err := db.QueryRowContext(ctx, "PRAGMA "+q.pragma).Scan(q.into); err != nil {
			return "", fmt.Errorf("bench: raw SQLite: PRAGMA %s: %w", q.pragma, err)
		}
	}
	if mode != "wal" || sync != 2 {
		return "", fmt.Errorf("bench: raw SQLite runs with journal_mode=%s synchronous=%d, want wal and 2 (FULL)", mode, sync)
	}
	return fmt.Sprintf("journal_mode=wal synchronous=FULL busy_timeout=%dms BEGIN IMMEDIATE, 1 connection", busy), nil
}

// ratioRow compares SCIM creates at the highest concurrency with the best raw
// insert rate.
func (r *runner) ratioRow(rep *Report) {
	if r.rawBest <= 0 || r.createsTop <= 0 {
		return
	}
	rep.Rows = append(rep.Rows, Row{
		Name: fmt.Sprintf("ratio POST/s (%s) ÷ raw insert tx/s", plural(r.createsTopClients, "client")),
		Note: fmt.Sprintf("%.2f× (%.1f ÷ %.1f, the best raw rate)", r.createsTop/r.rawBest, r.createsTop, r.rawBest),
	})
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return strconv.Itoa(n) + " " + what + "s"
}

func joinNotes(a, b string) string {
	switch {
	case a == "":
		return b
	case b == "":
		return a
	}
	return a + "; " + b
}
