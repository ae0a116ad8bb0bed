// Package sqlstore implements store.Store on SQL databases: SQLite, through
// github.com/mattn/go-sqlite3 (cgo), for one process; PostgreSQL, through
// github.com/jackc/pgx/v5's database/sql driver, for several replicas sharing one
// database. Both run the same SQL through database/sql.
//
// # Opening
//
// Open(ctx, dsn, logger) picks the engine from the DSN: postgres:// and
// postgresql:// select PostgreSQL, anything else is the path of a SQLite file,
// created if missing. Open migrates the schema to the latest version; Migrate does
// only that, for `onramp migrate`. In-memory SQLite is refused: the writer and the
// readers must share one file. On PostgreSQL the tables live in the first schema
// of the connections' search_path, which the DSN can set as a run-time parameter
// (postgres://…/db?search_path=onramp); the schema must exist. A DSN is never
// logged or put in an error, since it may hold a password.
//
// # SQLite settings
//
// The writer connection is opened with
//
//	_journal_mode=WAL      readers run beside the writer and never block it
//	_synchronous=FULL      see below (a batch of sign-ins only switches to
//	                       NORMAL: "Deferred durability")
//	_txlock=immediate      BEGIN IMMEDIATE: a write transaction takes the write
//	                       lock up front instead of failing on lock upgrade
//	_foreign_keys=on       references are checked by the engine
//	_busy_timeout=10000    wait up to 10 s for another process's write lock
//	_cslike=on             LIKE is case-sensitive, as in PostgreSQL; the store
//	                       folds case itself (below), so the same SQL means the
//	                       same thing on both engines
//	_stmt_cache_size=64    prepared statements are reused per connection;
//	                       with the query planner stability guarantee, which
//	                       every connection gets (qpsg.go), they are reused
//	                       as compiled, not compiled again at each call
//	_cache_size=-32768     a 32 MiB page cache (SQLite's default is 2 MiB): the
//	                       writer keeps the upper levels and recently written
//	                       pages of a million users' indexes instead of
//	                       reading them again for every insert (an IdP's sync
//	                       into a million users, its lookups included: about
//	                       10 page reads per user at 2 MiB, 7 at 16 MiB, 5 at
//	                       64 MiB, each a system call; the cache fills up and
//	                       stays in the resident memory, which the performance
//	                       target caps at 150 MB)
//	temp_store=MEMORY      savepoint journals stay in memory: the write jobs
//	                       of a batch run in SAVEPOINTs (below), and with temp_store=FILE
//	                       SQLite spills each job's journal to a temporary file
//	                       (in a million users' directory, over 300 KiB
//	                       written per user created)
//	wal_autocheckpoint=4000  the writer checkpoints itself only past 4000 WAL
//	                       pages (16 MiB); the checkpointer below does it
//	                       sooner, off the writer's path
//	journal_size_limit=64 MiB  a WAL that grew bigger is truncated back when
//	                       it restarts
//
// (the last three as PRAGMAs run on each new connection, since the driver's DSN
// cannot carry them) and the readers with _query_only=on and the same foreign
// key, busy and LIKE settings. Readers keep SQLite's default 2 MiB page cache: a
// lookup reads a few pages of one index, whose top levels stay cached, and the
// leaves of a million users' indexes (tens of MiB for userName alone) would
// not fit in a cache per reader that the memory target allows. mmap_size stays
// 0: mapped pages of the file count in the process's resident memory, which
// would then grow with the database.
//
// synchronous=FULL: store/doc.go promises that an acknowledged write survives a
// crash of the process, and onramp's callers (IdPs pushing SCIM, people signing
// in) never replay a write they were told succeeded, so a lost acknowledged write
// is a lost account or a resurrected one. In WAL mode NORMAL would fsync only at
// checkpoints: it survives a process crash but can lose the last transactions on
// power loss or an OS crash. FULL fsyncs the WAL at every COMMIT, which makes
// every acknowledged write survive both. Its cost, one fsync per transaction, is
// what group commit pays back. Sign-ins are the one exception, below.
//
// # Deferred durability (SQLite)
//
// A sign-in's commit is answered before its fsync, and fsynced right after.
// With one browser, the fsync of a sign-in's commit was a fifth of its
// time, as long as the SAML signature check it follows (package jit, "Cost
// of a sign-in"), and a sign-in, unlike an IdP's SCIM write, has nobody who
// needs its commit on disk before the browser's redirect: what it writes is
// a session (lost, the person signs in again), LastSignInAt, audit events,
// the assertion's replay record and, for a new person, the account. So:
//
//   - The writer commits a batch made only of sign-ins (doDeferred; SignIn
//     is the only caller) with synchronous=NORMAL: the COMMIT writes the WAL
//     and returns without an fsync. The commit survives a crash of the
//     process from then on (its pages are in the OS's cache), so reliability/'s
//     SIGKILL tests hold for sign-ins too. Any batch that holds another write
//     commits with FULL, whose fsync covers the sign-ins before it too (if
//     it changed anything: an empty transaction fsyncs nothing, and leaves
//     them to the syncer).
//   - A syncer goroutine (walsync.go) fsyncs the WAL file right after such a
//     commit, through a descriptor of its own; sign-ins that commit while it
//     runs share the next one. In practice a sign-in is durable a fraction of
//     a millisecond after its answer, long before the browser has followed
//     the redirect.
//   - Nothing else that a sign-in wrote leaves the process before that:
//     Store.Durable waits until every commit begun so far is fsynced, and
//     the HTTP server calls it before the status line of every answer but
//     the ACS's (package server, durable.go). So an account a JIT sign-in
//     created is seen over SCIM, /api/v1/me or the console only once it is
//     durable, and the application, which learns who signed in from
//     /api/v1/me, never admits a person whose sign-in an OS crash could
//     still take back. What an OS crash or a power loss can lose is the
//     sign-ins of the last fraction of a millisecond, which nobody but
//     their browsers had seen: their sessions (they sign in again), and with
//     them their audit events, LastSignInAt and a new account (created
//     again at the next sign-in, with a new ID no one had seen).
//   - And their replay records, which the replay fence (fence.go) stands in
//     for: a store opened on another boot of the machine than the last one
//     (Linux's boot_id; a copy of the file on another machine counts too)
//     sets the fence to the time it opened, and SignIn refuses every
//     assertion issued before the fence (store.ErrIssuedBeforeRecovery;
//     the ACS answers issued_before_recovery, "start again"). An assertion
//     whose record was lost was issued before the crash, so it cannot be
//     replayed. That assumes the IdP's clock is not ahead of ours by more
//     than the machine took to restart; the sign-ins it refuses are only
//     those caught in flight by the restart. A crash of the process alone
//     loses no commit and moves no fence.
//   - If an fsync fails, the failure sticks: every Durable fails from then
//     on (the server answers 503), until a restart, since after a failed
//     fsync Linux may have dropped the pages it could not write.
//
// PostgreSQL commits every write, sign-ins included, synchronously; its own
// group commit shares WAL flushes between concurrent transactions. Durable
// returns at once there and no fence is kept.
//
// # Group commit (SQLite)
//
// There is one writer connection, owned by one goroutine (writer.go). Every write
// method queues a job and waits. The writer takes the first queued job and every
// job queued behind it (up to 128, see WithMaxBatch), opens one transaction, runs
// each job inside its own SAVEPOINT (a job that fails rolls back to its savepoint
// and gets its own error; the others are unaffected; a batch of one job needs
// none, and a failure rolls its transaction back), then COMMITs once and answers
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
// # Held sign-ins (SQLite)
//
// A sign-in may come with a verdict channel (store.SignIn.Verdict): the ACS
// runs it from what a SAML response claims while the response's signature is
// still being checked, and says afterwards whether to commit it (jit's
// "Speculation"). The writer runs such a job only alone in its batch (in a
// batch with others it answers store.ErrNotHeld without running it, rather
// than delay them), runs its statements, and then holds the transaction open,
// uncommitted, for the verdict: it commits on true and rolls back on false.
// It holds only while nothing else is queued: the first job queued behind it
// ends the hold with a rollback and store.ErrNotHeld (enqueue signals the
// writer's arrived channel), so a held sign-in delays another write by a
// rollback at most; and never past maxHold (50 ms), which no signature check
// of a response within the size limit comes near. During the hold the
// transaction's pages are written to the WAL (cacheflush.go), so that the
// commit after a true verdict writes one frame instead of a sign-in's 10 to
// 25. PostgreSQL never holds (HoldsSignIns false): its writes run in
// parallel, and a held transaction would keep its row locks.
//
// # Checkpoints (SQLite)
//
// A COMMIT appends the changed pages to the WAL; a checkpoint later copies them
// into the database file and fsyncs it. By default SQLite runs one inside the
// COMMIT that takes the WAL past 1000 pages, and with a big database (a million
// users: a random page of each of three indexes per user created) that copy
// and its fsync cost the writer as much again as the commits themselves, while
// every caller waits. So a checkpointer (checkpoint.go), on a connection of its
// own with synchronous=FULL, runs a PASSIVE checkpoint after commits, at most
// every 100 ms: it copies what no reader still needs, beside the writer, taking
// no lock the writer or a reader waits for. A PASSIVE checkpoint never restarts
// the WAL, and under a constant stream of commits the WAL would grow without
// end; the writer's own checkpoint, at 4000 pages, does restart it, and by then
// it finds most pages already copied. Checkpoints change no durability: a
// write is durable once the WAL holding its commit is fsynced (by the COMMIT
// itself, or for a sign-in by the syncer, above); a checkpoint fsyncs the WAL
// before it copies from it (its connection is FULL), and the database file
// before the WAL it copied may be overwritten.
//
// # Pages per write (SQLite)
//
// A COMMIT with synchronous=FULL costs in proportion to the pages it appends
// to the WAL, each written and synced whole. So the tables written at every
// sign-in keep their rows in their primary key's b-tree (sessions and
// assertions are WITHOUT ROWID: one page per insert, not a rowid table's page
// and its key index's), and audit_events has a plain INTEGER PRIMARY KEY (IDs
// still only grow: a new row takes the largest plus one, and retention,
// PurgeEvents, never removes the newest) instead of AUTOINCREMENT, which writes the
// sqlite_sequence table at every insert. Migration 00006 made those changes:
// a returning person's sign-in (BenchmarkSignIn/SignInLinked, counted with
// strace) went from 32.7 to 28.8 page writes, WAL and checkpoint together.
//
// Reads use a separate pool of reader connections. List queries count and read
// their page in one read transaction, so Total and Items agree.
//
// Update methods (UpdateUser, UpdateGroup, UpdateOrg, UpdateConnection) read the
// current value, apply the caller's fn and write the result inside one write
// transaction, so concurrent updates never lose each other's changes. fn may run
// more than once (PostgreSQL writes are retried, below), so it must be a pure
// function of its argument. If fn returns an error, nothing is written and the
// error comes back wrapped (errors.Is still sees, for example,
// store.ErrVersionMismatch).
//
// # PostgreSQL
//
// Several `onramp serve` replicas write to one database, so no process can own
// the writes: each write is a transaction of its own on the store's pool
// (txwriter.go), and the server arbitrates.
//
// Isolation: READ COMMITTED, set explicitly on every write transaction. The races
// the contract cares about are decided by constraints: two creates of one person
// (a SCIM push and a JIT login, or 32 IdP retries) meet in the unique index on
// (org_id, user_name_lower) among live users, the second waits for the first to
// commit and fails with a unique violation, reported as store.ErrConflict; so do
// replayed assertion IDs and doubly linked identities. Reads a write bases its
// write on lock their rows: the current value an update closure sees is read FOR
// NO KEY UPDATE (which leaves foreign-key checks of other writers unblocked), and
// a user being added to a group or linked to an identity is read FOR SHARE, so
// that a concurrent delete is waited for and its tombstone seen. SERIALIZABLE
// would also be correct, but its predicate locks (which can cover whole index
// pages) also fail unrelated writes that touch the same pages, turning load into
// retries.
//
// Retries: a write the server rolls back with a serialization failure (40001) or
// a deadlock (40P01) runs again from the start, up to 10 times, sleeping a random
// time below a backoff that doubles from 2 ms to 250 ms. Other errors are
// answers, never retried: 23505 (unique violation) is store.ErrConflict, 23503
// (foreign key violation) store.ErrInvalidReference. The caller's context covers
// waiting for a connection and every statement, but not COMMIT: once the
// statements have run, the commit runs to its outcome, so that an error returned
// never hides a committed write. Close refuses new writes and waits for those
// under way.
//
// Reads use the same pool. List queries count and read their page in one
// REPEATABLE READ, read-only transaction, so Total and Items agree (SQLite's read
// transactions are snapshots anyway).
//
// Pool sizing: WithMaxConns caps the connections a store opens (default 16),
// shared by reads and writes; a write holds one only for its transaction.
// PostgreSQL's throughput peaks at a few connections per server core, and every
// replica has its own pool, so keep replicas × max connections below the
// server's max_connections (100 by default) minus what operators and
// migrations need: four replicas at 16 use 64. When more replicas need more
// connections than the server can hold, put PgBouncer in front; in its
// transaction mode, turn on its prepared statement support
// (max_prepared_statements, PgBouncer 1.21 and later), because pgx prepares
// statements per connection. Connections are recycled after 30
// minutes, or 5 idle, so that pools rebalance after a failover.
//
// Planner statistics: lookups rely on PostgreSQL choosing the right index, which
// it does once a table has statistics. autovacuum gathers them within a minute
// (autovacuum_naptime) of a table growing by 50 rows plus 10%. Until then, right
// after a bulk load into a new database (an IdP's first full push), the planner
// may look a user up by walking the organization's rows through another index:
// several milliseconds per lookup at ten thousand users instead of a fraction of
// one (BenchmarkPostgres measured 8.6 ms against 0.6 ms). Operators who cannot
// wait that minute can run ANALYZE; the store never runs it itself.
//
// Migrations: goose applies them holding a session-level advisory lock (goose's
// lock.NewPostgresSessionLocker, polled every second for up to five minutes),
// so replicas starting together and `onramp migrate` run beside `serve` are
// safe: one applies the migrations, each in a transaction, and the others find
// nothing left to do. The lock ID is a hash of the database and schema names, so
// deployments (or test runs) in different schemas of one database never wait on
// each other.
//
// # Dialects
//
// What differs between engines is data in a dialect struct (dialect.go): the
// embedded migrations directory (migrations/<dialect>/NNNNN_name.sql, applied in
// order by pressly/goose's Provider with a version table, each in a transaction,
// under the dialect's migration lock if it has one);
// placeholder rebinding ('?' in the SQL written here; PostgreSQL's $1..$n are
// produced once per query string, by a scan that skips literals, when the store is
// opened, and once per filter query as it is built); and classify, which maps a
// unique or primary key violation to store.ErrConflict, a foreign key violation to
// store.ErrInvalidReference and sql.ErrNoRows to store.ErrNotFound, keeping the
// driver's error as a second cause ("…: store: conflict: UNIQUE constraint failed:
// users.org_id, users.user_name_lower"); which errors a retry cures; the row-lock
// clauses (empty on SQLite, whose one writer needs none); and whether the engine
// takes concurrent writers, which picks the writer. Portable SQL does the rest:
// ON CONFLICT … DO NOTHING, LIKE … ESCAPE '\' with LIKE case-sensitive on both
// (see _cslike above), booleans and times passed as arguments, never literals.
//
// # Schema
//
// The two migrations directories declare the same tables, keys and indexes in
// each engine's types. Times are integer microseconds since the Unix epoch (UTC)
// on both (INTEGER, bigint), so one Go codec serves both and range filters on
// created and lastModified compare integers on indexes. JSON documents are text
// on both: nothing queries inside them, and text keeps the bytes an IdP sent. On
// PostgreSQL the text columns filters compare are COLLATE "C", code point order
// as in SQLite, so gt/lt mean the same whatever the database's locale. Case-insensitive values
// (userName, displayName, email addresses and types) are stored a second time
// lower-cased by Go's strings.ToLower, and that copy carries the indexes, so
// Unicode folds the same on every engine. userName is unique per organization
// among live users (a partial unique index: a tombstone frees its name), and so is
// a non-empty externalId (stored as NULL when empty). Users and groups have an
// INTEGER seq that orders lists by creation. The IDs the store makes (users,
// groups, organizations, connections, invitations, holds) are version 7 UUIDs,
// time first (codec.go), so that new rows append to the unique indexes on id
// and on the columns that refer to it (user_emails, group_members) instead of
// landing on a random page of each. Filters are translated into
// parameterised SQL (filter.go); userName eq, externalId eq, emails.value eq and
// members.value eq are index lookups (TestIndexedLookups and
// TestPostgresIndexedLookups check the query plans).
//
// # Tests and benchmarks
//
//	go test ./store/...                       # conformance suite on SQLite files, writer, migrations
//	ONRAMP_TEST_POSTGRES_DSN=postgres://postgres@127.0.0.1:5432/test?sslmode=disable \
//	  go test ./store/...                     # the same, and all of it again on PostgreSQL
//	go test ./store/sqlstore -run XXX -bench . -benchtime 2000x
//
// The PostgreSQL tests create a schema with a random name per test in the
// database ONRAMP_TEST_POSTGRES_DSN names and drop it afterwards; without the
// variable they skip, unless CI is set, when they fail. BenchmarkPostgres runs
// storetest.Bench on PostgreSQL, like BenchmarkSQLite on SQLite.
//
// BenchmarkSQLite runs storetest.Bench (CreateUser serial and from 64 clients,
// GetByUserName in an organization of ONRAMP_BENCH_PREFILL users, default 10000,
// and Deactivate; then CreateUser from 64 clients and an IdP's sync, a lookup
// that finds nothing and a create per user from 16 clients, in an organization
// that already holds ONRAMP_BENCH_FILLED users, default 100000, with names
// scattered over the indexes as people's are). The filled organization is
// loaded once per run by bulk SQL into a template file, which every benchmark
// copies; ONRAMP_BENCH_FILL_DIR keeps the template between runs (a million
// users take a minute or two to load and 1.3 GB). BenchmarkRawInsert is the baseline: single-row insert
// transactions of a users row with the same pragmas through plain database/sql.
// BenchmarkGroupCommit compares 64 clients with group commit on and off and
// reports jobs per COMMIT. Compare ops/s within one run: the fsync rate of a
// shared machine varies a lot between runs.
package sqlstore
