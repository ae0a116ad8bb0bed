package sqlstore

/*
// The SQLite entry points used here, from the amalgamation that
// github.com/mattn/go-sqlite3 compiles into the binary (see qpsg.go).
typedef struct sqlite3 sqlite3;
typedef struct sqlite3_context sqlite3_context;
typedef struct sqlite3_value sqlite3_value;

extern int sqlite3_auto_extension(void (*xEntryPoint)(void));
extern int sqlite3_create_function_v2(sqlite3 *db, const char *name, int nArg, int flags, void *app,
	void (*xFunc)(sqlite3_context *, int, sqlite3_value **),
	void (*xStep)(sqlite3_context *, int, sqlite3_value **),
	void (*xFinal)(sqlite3_context *), void (*xDestroy)(void *));
extern sqlite3 *sqlite3_context_db_handle(sqlite3_context *ctx);
extern int sqlite3_db_cacheflush(sqlite3 *db);
extern void sqlite3_result_int(sqlite3_context *ctx, int v);
extern void sqlite3_result_error_code(sqlite3_context *ctx, int code);

#define ONRAMP_UTF8       1       // SQLITE_UTF8
#define ONRAMP_DIRECTONLY 0x80000 // SQLITE_DIRECTONLY: not from triggers or views

// onramp_cacheflush is the SQL function onramp_cacheflush(): it writes the
// connection's dirty pages out (sqlite3_db_cacheflush) and returns 1, or
// fails with SQLite's error code.
static void onramp_cacheflush(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
	(void)argc;
	(void)argv;
	int rc = sqlite3_db_cacheflush(sqlite3_context_db_handle(ctx));
	if (rc != 0) {
		sqlite3_result_error_code(ctx, rc);
		return;
	}
	sqlite3_result_int(ctx, 1);
}

// onramp_define_cacheflush runs on every new connection (see
// sqlite3_auto_extension) and defines onramp_cacheflush() on it.
static int onramp_define_cacheflush(sqlite3 *db, char **err, const void *api) {
	(void)err;
	(void)api;
	return sqlite3_create_function_v2(db, "onramp_cacheflush", 0, ONRAMP_UTF8 | ONRAMP_DIRECTONLY,
		(void *)0, onramp_cacheflush, (void *)0, (void *)0, (void *)0);
}

static int onramp_register_cacheflush(void) {
	return sqlite3_auto_extension((void (*)(void))onramp_define_cacheflush);
}
*/
import "C"

import "fmt"

// Writing a held sign-in's pages ahead of its commit.
//
// A sign-in held for its verdict (store.SignIn.Verdict) has run all its
// statements long before the verdict comes: the pages they changed sit in
// the writer connection's cache, and COMMIT would write them to the WAL,
// one frame (two write calls) per page, 10 to 25 pages for a sign-in, 130 to
// 220 µs measured on the benchmark machine, after the verdict, while the
// person waits. sqlite3_db_cacheflush writes them now, during the hold:
// SQLite appends them to the WAL as frames of the open transaction, which no
// reader, checkpoint or recovery uses until a frame marks the transaction
// committed. COMMIT then writes only what is left (page 1, which SQLite
// never flushes early, and the commit mark): 50-65 µs. If the verdict is
// false, ROLLBACK discards the frames as it discards the cache, and the next
// transaction writes over them; a crash before the commit leaves them
// uncommitted, and recovery ignores them. This is how SQLite writes any
// transaction too large for its cache, here done on purpose.
//
// mattn/go-sqlite3 does not expose sqlite3_db_cacheflush, so an automatic
// extension (as in qpsg.go) defines it on every connection as the SQL
// function onramp_cacheflush(), which the writer runs inside the held
// transaction (groupWriter.hold). On any other connection, or outside a
// write transaction, it does nothing.

// registerCacheFlush has SQLite define onramp_cacheflush() on every
// connection opened from now on, process-wide and idempotently (as
// registerStablePlans).
func registerCacheFlush() error {
	if rc := C.onramp_register_cacheflush(); rc != 0 {
		return fmt.Errorf("sqlstore: register onramp_cacheflush: sqlite error %d", int(rc))
	}
	return nil
}
