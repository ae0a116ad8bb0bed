package sqlstore

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"

	_ "github.com/mattn/go-sqlite3" // registers the "sqlite3" database/sql driver
	"github.com/pressly/goose/v3"

	"github.com/onramp-dev/onramp/store"
)

//go:embed migrations
var migrationFiles embed.FS

// Store is the SQL implementation of store.Store. Writes go through one writer
// goroutine that commits them in groups (see writer.go); reads use a separate
// pool of connections.
type Store struct {
	d    *dialect
	q    queries
	log  *slog.Logger
	now  func() time.Time
	read *sql.DB
	w    *writer
}

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	now      func() time.Time
	readers  int
	maxBatch int
}

// WithNow sets the clock the store stamps CreatedAt, UpdatedAt, DeletedAt and
// audit times with (default time.Now). For tests.
func WithNow(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithReaders sets the size of the reader connection pool (default: the larger
// of 4 and GOMAXPROCS).
func WithReaders(n int) Option {
	return func(o *options) { o.readers = n }
}

// WithMaxBatch caps how many write jobs share one transaction (default 128;
// 1 turns group commit off, which the benchmarks use for comparison).
func WithMaxBatch(n int) Option {
	return func(o *options) { o.maxBatch = n }
}

// Open opens the store named by dsn, creating and migrating it to the latest
// schema. A DSN starting with postgres:// or postgresql:// selects PostgreSQL
// (not supported yet); anything else is the path of a SQLite database file,
// created if missing. logger may be nil.
func Open(ctx context.Context, dsn string, logger *slog.Logger, opts ...Option) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o := options{now: time.Now, readers: max(4, runtime.GOMAXPROCS(0)), maxBatch: 128}
	for _, opt := range opts {
		opt(&o)
	}
	if o.readers < 1 || o.maxBatch < 1 {
		return nil, errors.New("sqlstore: readers and max batch must be at least 1")
	}
	d, wdb, rdb, err := openDBs(dsn, o.readers)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, d, wdb, logger); err != nil {
		_ = wdb.Close()
		_ = rdb.Close()
		return nil, err
	}
	s := &Store{
		d:    d,
		q:    newQueries(d.rebind),
		log:  logger,
		now:  o.now,
		read: rdb,
	}
	s.w = startWriter(wdb, d, logger, o.maxBatch)
	return s, nil
}

// Migrate brings the database named by dsn to the latest schema and closes it.
// It is what `onramp migrate` runs; Open migrates too.
func Migrate(ctx context.Context, dsn string, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	d, wdb, rdb, err := openDBs(dsn, 1)
	if err != nil {
		return err
	}
	defer func() {
		_ = wdb.Close()
		_ = rdb.Close()
	}()
	return migrate(ctx, d, wdb, logger)
}

// openDBs picks the dialect from the DSN and opens the writer (one connection) and
// reader pools.
func openDBs(dsn string, readers int) (*dialect, *sql.DB, *sql.DB, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return nil, nil, nil, errors.New("sqlstore: postgres not supported yet")
	}
	d, err := sqliteDialect()
	if err != nil {
		return nil, nil, nil, err
	}
	wdb, rdb, err := openSQLite(dsn, readers)
	if err != nil {
		return nil, nil, nil, err
	}
	return d, wdb, rdb, nil
}

// SQLite connection settings; doc.go explains each choice.
const (
	sqliteCommon = "_foreign_keys=on&_busy_timeout=10000&_cslike=on&_stmt_cache_size=64"
	sqliteWriter = "?_journal_mode=WAL&_synchronous=FULL&_txlock=immediate&" + sqliteCommon
	sqliteReader = "?_query_only=on&_txlock=deferred&" + sqliteCommon
)

func openSQLite(path string, readers int) (wdb, rdb *sql.DB, err error) {
	switch {
	case path == "":
		return nil, nil, errors.New("sqlstore: empty database path")
	case strings.ContainsRune(path, '?'):
		return nil, nil, fmt.Errorf("sqlstore: database path %q: options in the path are not supported", path)
	case path == ":memory:" || strings.Contains(path, "mode=memory"):
		return nil, nil, errors.New("sqlstore: in-memory SQLite is not supported: readers and the writer must share a file")
	}
	wdb, err = sql.Open("sqlite3", path+sqliteWriter)
	if err != nil {
		return nil, nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	// One writer connection, never closed while the store is open: SQLite allows
	// one writer at a time, and owning it means no write of ours waits on a lock
	// held by another of ours.
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	// Open the writer first: it switches the file to WAL before any reader exists.
	if err := wdb.Ping(); err != nil {
		_ = wdb.Close()
		return nil, nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	rdb, err = sql.Open("sqlite3", path+sqliteReader)
	if err != nil {
		_ = wdb.Close()
		return nil, nil, fmt.Errorf("sqlstore: open %s: %w", path, err)
	}
	rdb.SetMaxOpenConns(readers)
	rdb.SetMaxIdleConns(readers)
	return wdb, rdb, nil
}

func migrate(ctx context.Context, d *dialect, db *sql.DB, logger *slog.Logger) error {
	p, err := newMigrator(d, db, logger)
	if err != nil {
		return err
	}
	res, err := p.Up(ctx)
	if err != nil {
		return fmt.Errorf("sqlstore: migrate: %w", err)
	}
	for _, r := range res {
		logger.InfoContext(ctx, "sqlstore: migration applied", "version", r.Source.Version, "duration", r.Duration)
	}
	return nil
}

// newMigrator returns a goose provider over the dialect's embedded migrations,
// with goose's global registry of Go migrations turned off.
func newMigrator(d *dialect, db *sql.DB, logger *slog.Logger) (*goose.Provider, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p, err := goose.NewProvider(d.goose, db, d.migrations,
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(logger),
	)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	return p, nil
}

// Ping reports whether both the reader pool and the writer are usable.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", err)
	}
	return s.w.do(ctx, "ping", func(ctx context.Context, tx *sql.Tx) error { return nil })
}

// Close stops accepting writes, commits the queued ones, and closes the database.
func (s *Store) Close() error {
	werr := s.w.close()
	rerr := s.read.Close()
	return errors.Join(werr, rerr)
}
