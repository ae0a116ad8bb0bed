package sqlstore

import (
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"

	"github.com/mattn/go-sqlite3"
	"github.com/pressly/goose/v3"

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
	// busy reports whether err says another process holds the write lock.
	busy func(err error) bool
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
	}, nil
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
