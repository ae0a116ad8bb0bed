// Package sqlstore implements store.Store on SQL databases: SQLite today, through
// github.com/mattn/go-sqlite3 (cgo), and PostgreSQL next.
//
// # Opening
//
// Open(ctx, dsn, logger) picks the engine from the DSN: postgres:// and
// postgresql:// select PostgreSQL (not supported yet: Open says so), anything else
// is the path of a SQLite file, created if missing. Open migrates the schema to the
// latest version; Migrate does only that, for `onramp migrate`. In-memory SQLite
// is refused: the writer and the readers must share one file.
//
// # SQLite settings
//
// The writer connection is opened with
//
//	_journal_mode=WAL      readers run beside the writer and never block it
//	_synchronous=FULL      see below
//	_txlock=immediate      BEGIN IMMEDIATE: a write transaction takes the write
//	                       lock up front instead of failing on lock upgrade
//	_foreign_keys=on       references are checked by the engine
//	_busy_timeout=10000    wait up to 10 s for another process's write lock
//	_cslike=on             LIKE is case-sensitive, as in PostgreSQL; the store
//	                       folds case itself (below), so the same SQL means the
//	                       same thing on both engines
//	_stmt_cache_size=64    prepared statements are reused per connection
//
// and the readers with _query_only=on and the same foreign key, busy and LIKE
// settings.
//
// synchronous=FULL: store/doc.go promises that an acknowledged write survives a
// crash of the process, and onramp's callers (IdPs pushing SCIM, people signing
// in) never replay a write they were told succeeded, so a lost acknowledged write
// is a lost account or a resurrected one. In WAL mode NORMAL would fsync only at
// checkpoints: it survives a process crash but can lose the last transactions on
// power loss or an OS crash. FULL fsyncs the WAL at every COMMIT, which makes
// every acknowledged write survive both. Its cost, one fsync per transaction, is
// what group commit pays back.
//
// # Group commit
//
// There is one writer connection, owned by one goroutine (writer.go). Every write
// method queues a job and waits. The writer takes the first queued job and every
// job queued behind it (up to 128, see WithMaxBatch), opens one transaction, runs
// each job inside its own SAVEPOINT (a job that fails rolls back to its savepoint
// and gets its own error; the others are unaffected), then COMMITs once and answers
// every caller. A caller hears success only after that COMMIT returned; if the
// COMMIT fails, every job of the batch gets the error. So 64 concurrent SCIM
// clients share fsyncs instead of queueing for one each, and since the store holds
// the only writer, no caller ever sees SQLITE_BUSY (BEGIN retries if another
// process holds the lock past the busy timeout). A job whose context ends while
// queued is dropped unrun; once started, it runs to its outcome (statements run
// without the caller's cancellation, because interrupting SQLite would roll back
// the whole batch). A panic in a job (say, in an update closure) is rolled back
// and re-raised in its caller. Close stops accepting jobs, runs the queued ones
// and closes the database.
//
// Reads use a separate pool of reader connections. List queries count and read
// their page in one read transaction, so Total and Items agree.
//
// Update methods (UpdateUser, UpdateGroup, UpdateOrg, UpdateConnection) read the
// current value, apply the caller's fn and write the result inside one writer job,
// so concurrent updates never lose each other's changes. fn may run more than once
// (PostgreSQL will retry serialization failures; SQLite does not need to), so it
// must be a pure function of its argument. If fn returns an error, nothing is
// written and the error comes back wrapped (errors.Is still sees, for example,
// store.ErrVersionMismatch).
//
// # Dialects
//
// What differs between engines is data in a dialect struct (dialect.go): the
// embedded migrations directory (migrations/<dialect>/NNNNN_name.sql, applied in
// order by pressly/goose's Provider with a version table, each in a transaction);
// placeholder rebinding ('?' in the SQL written here; PostgreSQL's $1..$n are
// produced once per query string, by a scan that skips literals, when the store is
// opened, and once per filter query as it is built); and classify, which maps a
// unique or primary key violation to store.ErrConflict, a foreign key violation to
// store.ErrInvalidReference and sql.ErrNoRows to store.ErrNotFound, keeping the
// driver's error as a second cause ("…: store: conflict: UNIQUE constraint failed:
// users.org_id, users.user_name_lower").
//
// # Schema
//
// Times are INTEGER microseconds since the Unix epoch (UTC); range filters on
// created and lastModified compare integers on indexes. Case-insensitive values
// (userName, displayName, email addresses and types) are stored a second time
// lower-cased by Go's strings.ToLower, and that copy carries the indexes, so
// Unicode folds the same on every engine. userName is unique per organization
// among live users (a partial unique index: a tombstone frees its name), and so is
// a non-empty externalId (stored as NULL when empty). Users and groups have an
// INTEGER seq that orders lists by creation. Filters are translated into
// parameterised SQL (filter.go); userName eq, externalId eq, emails.value eq and
// members.value eq are index lookups (TestIndexedLookups checks the query plans).
//
// # Tests and benchmarks
//
//	go test ./store/...                       # conformance suite on SQLite files, writer, migrations
//	go test ./store/sqlstore -run XXX -bench . -benchtime 2000x
//
// BenchmarkSQLite runs storetest.Bench (CreateUser serial and from 64 clients,
// GetByUserName in an organization of ONRAMP_BENCH_PREFILL users, default 10000,
// and Deactivate). BenchmarkRawInsert is the baseline: single-row insert
// transactions of a users row with the same pragmas through plain database/sql.
// BenchmarkGroupCommit compares 64 clients with group commit on and off and
// reports jobs per COMMIT. Compare ops/s within one run: the fsync rate of a
// shared machine varies a lot between runs.
package sqlstore
