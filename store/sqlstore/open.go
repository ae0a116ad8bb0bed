package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/mattn/go-sqlite3" // also registers the "sqlite3" database/sql driver
	"github.com/pressly/goose/v3"

	"github.com/onramp-dev/onramp/store"
)

//go:embed migrations
var migrationFiles embed.FS

// Store is the SQL implementation of store.Store. Writes go through its writer:
// on SQLite one goroutine that commits them in groups (writer.go), on PostgreSQL
// a transaction per write on the shared pool (txwriter.go). Reads use the read
// pool: a separate one on SQLite, the same one on PostgreSQL.
type Store struct {
	d    *dialect
	q    queries
	log  *slog.Logger
	now  func() time.Time
	read *sql.DB
	w    writer
	// fence: SignIn refuses assertions issued before it (fence.go); zero on
	// PostgreSQL, and on SQLite until the machine first restarts.
	fence time.Time
	// purgeBatch is the rows one purge transaction deletes (purge.go).
	purgeBatch int
}

var _ store.Store = (*Store)(nil)

// Option configures Open.
type Option func(*options)

type options struct {
	now      func() time.Time
	readers  int
	maxBatch int
	maxConns int
	observe  func(op string, d time.Duration, err error) // WithObserver (observe.go)
	bootID   func() string                               // the machine's boot ID (fence.go)
}

// WithNow sets the clock the store stamps CreatedAt, UpdatedAt, DeletedAt and
// audit times with (default time.Now). For tests.
func WithNow(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithReaders sets the size of SQLite's reader connection pool (default: the
// larger of 4 and GOMAXPROCS).
func WithReaders(n int) Option {
	return func(o *options) { o.readers = n }
}

// WithMaxBatch caps how many SQLite write jobs share one transaction (default
// 128; 1 turns group commit off, which the benchmarks use for comparison).
func WithMaxBatch(n int) Option {
	return func(o *options) { o.maxBatch = n }
}

// WithMaxConns caps the PostgreSQL connections the store opens, shared by reads
// and writes (default 16; see doc.go on sizing it for several replicas).
func WithMaxConns(n int) Option {
	return func(o *options) { o.maxConns = n }
}

// Open opens the store named by dsn, creating and migrating it to the latest
// schema. A DSN starting with postgres:// or postgresql:// selects PostgreSQL
// (through pgx; the schema is the first of the connection's search_path, which
// the DSN may set with search_path=…); anything else is the path of a SQLite
// database file, created if missing. logger may be nil.
func Open(ctx context.Context, dsn string, logger *slog.Logger, opts ...Option) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	o := options{now: time.Now, readers: max(4, runtime.GOMAXPROCS(0)), maxBatch: 128, maxConns: 16, bootID: readBootID}
	for _, opt := range opts {
		opt(&o)
	}
	if o.readers < 1 || o.maxBatch < 1 || o.maxConns < 1 {
		return nil, errors.New("sqlstore: readers, max batch and max connections must be at least 1")
	}
	db, err := openDBs(ctx, dsn, o)
	if err != nil {
		return nil, err
	}
	if err := migrate(ctx, db.d, db.write, logger); err != nil {
		_ = db.close()
		return nil, err
	}
	s := &Store{
		d:    db.d,
		q:    newQueries(db.d),
		log:  logger,
		now:  o.now,
		read: db.read,

		purgeBatch: purgeBatch,
	}
	if db.d.concurrentWrites {
		s.w = newTxWriter(db.write, db.d, logger)
	} else {
		wal, err := filepath.Abs(dsn + "-wal")
		if err != nil {
			_ = db.close()
			return nil, fmt.Errorf("sqlstore: WAL path: %w", err)
		}
		s.w = startGroupWriter(db.write, db.d, logger, o.maxBatch,
			startCheckpointer(db.ckpt, logger, checkpointPause), newWALSyncer(wal, logger))
		if s.fence, err = s.openFence(ctx, o.bootID()); err != nil {
			_ = s.w.close()
			_ = db.read.Close()
			return nil, err
		}
	}
	s.w = observe(s.w, o.observe)
	return s, nil
}

// Migrate brings the database named by dsn to the latest schema and closes it.
// It is what `onramp migrate` runs; Open migrates too. Concurrent migrators of
// one database (or PostgreSQL schema) are safe: one applies the migrations, the
// others wait for it and find nothing left to do.
func Migrate(ctx context.Context, dsn string, logger *slog.Logger) error {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	db, err := openDBs(ctx, dsn, options{readers: 1, maxConns: 2})
	if err != nil {
		return err
	}
	defer func() { _ = db.close() }()
	return migrate(ctx, db.d, db.write, logger)
}

// dbs is an opened database: its dialect, the pool writes and migrations use,
// the pool reads use (the same one on PostgreSQL) and, on SQLite, the
// checkpointer's connection (checkpoint.go).
type dbs struct {
	d           *dialect
	write, read *sql.DB
	ckpt        *sql.DB
}

func (db dbs) close() error {
	err := db.write.Close()
	if db.read != db.write {
		err = errors.Join(err, db.read.Close())
	}
	if db.ckpt != nil {
		err = errors.Join(err, db.ckpt.Close())
	}
	return err
}

// isPostgres reports whether dsn names a PostgreSQL database.
func isPostgres(dsn string) bool {
	return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
}

// openDBs picks the dialect from the DSN and opens its pools.
func openDBs(ctx context.Context, dsn string, o options) (dbs, error) {
	if isPostgres(dsn) {
		d, err := postgresDialect()
		if err != nil {
			return dbs{}, err
		}
		db, err := openPostgres(dsn, o.maxConns)
		if err != nil {
			return dbs{}, err
		}
		return dbs{d: d, write: db, read: db}, nil
	}
	d, err := sqliteDialect()
	if err != nil {
		return dbs{}, err
	}
	wdb, rdb, err := openSQLite(ctx, dsn, o.readers)
	if err != nil {
		return dbs{}, err
	}
	ckpt := sql.OpenDB(sqliteConnector{dsn: dsn + sqliteCheckpointer})
	ckpt.SetMaxOpenConns(1)
	ckpt.SetMaxIdleConns(1)
	ckpt.SetConnMaxLifetime(0)
	ckpt.SetConnMaxIdleTime(0)
	return dbs{d: d, write: wdb, read: rdb, ckpt: ckpt}, nil
}

// openPostgres opens a pgx connection pool through database/sql. The DSN is
// never part of an error or log line: it may hold a password.
func openPostgres(dsn string, maxConns int) (*sql.DB, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		// pgx redacts the password from its parse errors.
		return nil, fmt.Errorf("sqlstore: postgres DSN: %w", err)
	}
	db := stdlib.OpenDB(*cfg)
	// Reads and writes share the pool; a write holds a connection for its
	// transaction only. Connections are recycled now and then so that a pool
	// rebalances after a failover or a pooler restart.
	db.SetMaxOpenConns(maxConns)
	db.SetMaxIdleConns(maxConns)
	db.SetConnMaxLifetime(30 * time.Minute)
	db.SetConnMaxIdleTime(5 * time.Minute)
	return db, nil
}

// SQLite connection settings; doc.go explains each choice.
const (
	sqliteCommon = "_foreign_keys=on&_busy_timeout=10000&_cslike=on&_stmt_cache_size=64"
	sqliteWriter = "?_journal_mode=WAL&_synchronous=FULL&_txlock=immediate&_cache_size=-32768&" + sqliteCommon
	sqliteReader = "?_query_only=on&_txlock=deferred&" + sqliteCommon

	sqliteCheckpointer = "?_synchronous=FULL&_busy_timeout=10000"

	sqliteWriterPragmas = "PRAGMA temp_store = MEMORY; PRAGMA wal_autocheckpoint = 4000; PRAGMA journal_size_limit = 67108864;"

	// checkpointPause is how long the checkpointer rests after a checkpoint.
	checkpointPause = 100 * time.Millisecond
)

// sqliteConnector opens connections to a SQLite file with the settings of its
// DSN, then runs pragmas, the settings the driver's DSN cannot carry, on each
// connection before database/sql uses it.
type sqliteConnector struct {
	dsn     string
	pragmas string
}

func (c sqliteConnector) Connect(context.Context) (driver.Conn, error) {
	return c.Driver().Open(c.dsn)
}

func (c sqliteConnector) Driver() driver.Driver {
	return &sqlite3.SQLiteDriver{ConnectHook: func(conn *sqlite3.SQLiteConn) error {
		if c.pragmas == "" {
			return nil
		}
		if _, err := conn.Exec(c.pragmas, nil); err != nil {
			return fmt.Errorf("sqlstore: connection settings: %w", err)
		}
		return nil
	}}
}

func openSQLite(ctx context.Context, path string, readers int) (wdb, rdb *sql.DB, err error) {
	switch {
	case path == "":
		return nil, nil, errors.New("sqlstore: empty database path")
	case strings.ContainsRune(path, '?'):
		return nil, nil, fmt.Errorf("sqlstore: database path %q: options in the path are not supported", path)
	case path == ":memory:" || strings.Contains(path, "mode=memory"):
		return nil, nil, errors.New("sqlstore: in-memory SQLite is not supported: readers and the writer must share a file")
	}
	if err := registerStablePlans(); err != nil {
		return nil, nil, err
	}
	if err := registerCacheFlush(); err != nil {
		return nil, nil, err
	}
	wdb = sql.OpenDB(sqliteConnector{dsn: path + sqliteWriter, pragmas: sqliteWriterPragmas})
	// One writer connection, never closed while the store is open: SQLite allows
	// one writer at a time, and owning it means no write of ours waits on a lock
	// held by another of ours.
	wdb.SetMaxOpenConns(1)
	wdb.SetMaxIdleConns(1)
	wdb.SetConnMaxLifetime(0)
	wdb.SetConnMaxIdleTime(0)
	// Open the writer first: it switches the file to WAL before any reader exists.
	if err := wdb.PingContext(ctx); err != nil {
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
	p, err := newMigrator(ctx, d, db, logger)
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
// with goose's global registry of Go migrations turned off and the dialect's
// migration lock, if it has one.
func newMigrator(ctx context.Context, d *dialect, db *sql.DB, logger *slog.Logger) (*goose.Provider, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	popts := []goose.ProviderOption{
		goose.WithDisableGlobalRegistry(true),
		goose.WithSlog(logger),
	}
	l, err := d.migrationLock(ctx, db)
	if err != nil {
		return nil, err
	}
	if l != nil {
		popts = append(popts, goose.WithSessionLocker(l))
	}
	p, err := goose.NewProvider(d.goose, db, d.migrations, popts...)
	if err != nil {
		return nil, fmt.Errorf("sqlstore: migrations: %w", err)
	}
	return p, nil
}

// Ping reports whether both the reader pool and the writer are usable (on
// PostgreSQL, that a transaction can begin and commit).
func (s *Store) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlstore: ping: %w", err)
	}
	return s.w.do(ctx, "ping", func(ctx context.Context, tx *sql.Tx) error { return nil })
}

// Durable returns once every write committed before the call is durable
// (store.Store.Durable). On SQLite it waits, if need be, for the fsync that
// follows a batch of sign-ins (doc.go, "Deferred durability"); on
// PostgreSQL every write is durable when it returns.
func (s *Store) Durable(ctx context.Context) error {
	return s.w.durable(ctx)
}

// Close stops accepting writes, finishes the ones already submitted (SQLite:
// commits the queued jobs; PostgreSQL: waits for the transactions under way), and
// closes the database.
func (s *Store) Close() error {
	werr := s.w.close()
	rerr := s.read.Close()
	return errors.Join(werr, rerr)
}
