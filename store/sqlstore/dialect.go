package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"hash/fnv"
	"io/fs"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/mattn/go-sqlite3"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"github.com/onramp-dev/onramp/store"
)

// dialect is what differs between the SQL engines, as data: the rest of the package
// writes portable SQL with '?' placeholders and goes through these fields.
type dialect struct {
	name  string
	goose goose.Dialect
	// migrations holds this dialect's numbered .sql files at its root.
	migrations fs.FS
	// rebind turns a query written with '?' placeholders into the engine's form.
	// It is applied once per query string: the static queries when the store is
	// opened (see newQueries), a filter query once when it is built.
	rebind func(query string) string
	// cause reports which store sentinel a driver error means (ErrConflict for a
	// unique violation, ErrInvalidReference for a foreign key violation), or nil.
	cause func(err error) error
	// busy reports whether err says another process holds the write lock
	// (SQLite; the group-commit writer waits it out).
	busy func(err error) bool
	// retry reports whether a write transaction that failed with err was rolled
	// back by the engine for a reason that makes running it again the right
	// answer: a serialization failure or a deadlock (PostgreSQL). The per-
	// transaction writer retries those; the SQLite writer never sees them.
	retry func(err error) bool
	// forUpdate and forShare end a SELECT inside a write transaction that reads
	// rows the write depends on, so that concurrent writers on other connections
	// queue on them instead of deciding on stale values. forUpdate goes before a
	// read-modify-write; on PostgreSQL it is FOR NO KEY UPDATE, which does not
	// block the key-share locks that foreign key checks take, so updating an
	// organization does not stall inserts that reference it. forShare is for a
	// row that must stay as read until the write commits (a user being added to a
	// group or linked to an identity must stay live: FOR SHARE waits for a
	// concurrent delete and then sees the tombstone). SQLite has one writer and
	// no row locks, so both are empty there and its SQL is unchanged.
	forUpdate, forShare string
	// concurrentWrites says that the engine takes write transactions from many
	// connections and processes at once and arbitrates them itself (PostgreSQL):
	// each write then runs in a transaction of its own (txWriter). Without it,
	// one connection owned by the store does every write (groupWriter).
	concurrentWrites bool
	// migrationLock returns the lock that keeps concurrent migrators (replicas
	// starting together, `onramp migrate` beside `serve`) from applying the same
	// migration twice, or nil where the engine needs none.
	migrationLock func(ctx context.Context, db *sql.DB) (lock.SessionLocker, error)
}

// classify wraps err with the store sentinel it stands for, keeping the driver
// error as a second cause so that errors.Is sees the sentinel and logs keep the
// detail: "create user \"ann\": store: conflict: UNIQUE constraint failed: …".
// what names the operation. A nil err stays nil.
func (d *dialect) classify(err error, what string) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%s: %w: %w", what, store.ErrNotFound, err)
	}
	if s := d.cause(err); s != nil {
		return fmt.Errorf("%s: %w: %w", what, s, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

func sqliteDialect() (*dialect, error) {
	sub, err := fs.Sub(migrationFiles, "migrations/sqlite")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: sqlite migrations: %w", err)
	}
	return &dialect{
		name:       "sqlite",
		goose:      goose.DialectSQLite3,
		migrations: sub,
		rebind:     func(q string) string { return q },
		cause:      sqliteCause,
		busy:       sqliteBusy,
		retry:      func(error) bool { return false },
		// SQLite's write lock already serialises migrators: goose applies each
		// migration in a BEGIN IMMEDIATE transaction and records it there.
		migrationLock: func(context.Context, *sql.DB) (lock.SessionLocker, error) { return nil, nil },
	}, nil
}

func postgresDialect() (*dialect, error) {
	sub, err := fs.Sub(migrationFiles, "migrations/postgres")
	if err != nil {
		return nil, fmt.Errorf("sqlstore: postgres migrations: %w", err)
	}
	return &dialect{
		name:       "postgres",
		goose:      goose.DialectPostgres,
		migrations: sub,
		rebind:     dollarRebind,
		cause:      postgresCause,
		busy:       func(error) bool { return false },
		retry:      postgresRetry,
		forUpdate:  " FOR NO KEY UPDATE",
		forShare:   " FOR SHARE",

		concurrentWrites: true,
		migrationLock:    postgresMigrationLock,
	}, nil
}

// postgresMigrationLock returns a session-level advisory lock for migrating the
// schema that db's connections create tables in (the first schema of their
// search_path). The lock ID is a hash of the database and schema names, so that
// the stores of one schema exclude each other and those of different schemas (one
// per test, or several deployments in one database) do not wait on each other.
// goose polls for the lock every second, for up to five minutes.
func postgresMigrationLock(ctx context.Context, db *sql.DB) (lock.SessionLocker, error) {
	var database, schema sql.NullString
	if err := db.QueryRowContext(ctx, "SELECT current_database(), current_schema()").Scan(&database, &schema); err != nil {
		return nil, fmt.Errorf("sqlstore: migration lock: %w", err)
	}
	if !schema.Valid {
		return nil, errors.New("sqlstore: migration lock: no schema of the search_path exists to create the tables in")
	}
	h := fnv.New64a()
	h.Write([]byte("onramp migrate\x00" + database.String + "\x00" + schema.String))
	id := int64(h.Sum64()) //nolint:gosec // G115: a hash; wrapping into negative IDs is fine
	l, err := lock.NewPostgresSessionLocker(lock.WithLockID(id), lock.WithLockTimeout(1, 300))
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migration lock: %w", err)
	}
	return l, nil
}

// PostgreSQL error codes (SQLSTATE) the store acts on.
const (
	pgUniqueViolation      = "23505"
	pgForeignKeyViolation  = "23503"
	pgSerializationFailure = "40001"
	pgDeadlockDetected     = "40P01"
)

func postgresCause(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return nil
	}
	switch pe.Code {
	case pgUniqueViolation:
		return store.ErrConflict
	case pgForeignKeyViolation:
		return store.ErrInvalidReference
	}
	return nil
}

func postgresRetry(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == pgSerializationFailure || pe.Code == pgDeadlockDetected)
}

func sqliteCause(err error) error {
	var se sqlite3.Error
	if !errors.As(err, &se) {
		return nil
	}
	switch se.ExtendedCode {
	case sqlite3.ErrConstraintUnique, sqlite3.ErrConstraintPrimaryKey:
		return store.ErrConflict
	case sqlite3.ErrConstraintForeignKey:
		return store.ErrInvalidReference
	}
	return nil
}

func sqliteBusy(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && (se.Code == sqlite3.ErrBusy || se.Code == sqlite3.ErrLocked)
}

// dollarRebind rewrites '?' placeholders as $1, $2, … (PostgreSQL), leaving '?'
// inside string literals, quoted identifiers and comments alone. It is a single
// left-to-right scan, not a regular expression.
func dollarRebind(q string) string {
	var b strings.Builder
	b.Grow(len(q) + 8)
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case c == '\'' || c == '"':
			j := i + 1
			for j < len(q) {
				if q[j] == c {
					if j+1 < len(q) && q[j+1] == c { // doubled quote: escaped
						j += 2
						continue
					}
					break
				}
				j++
			}
			if j >= len(q) {
				j = len(q) - 1
			}
			b.WriteString(q[i : j+1])
			i = j
		case c == '-' && i+1 < len(q) && q[i+1] == '-':
			j := strings.IndexByte(q[i:], '\n')
			if j < 0 {
				j = len(q) - i - 1
			}
			b.WriteString(q[i : i+j+1])
			i += j
		case c == '?':
			n++
			b.WriteByte('$')
			b.WriteString(strconv.Itoa(n))
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
