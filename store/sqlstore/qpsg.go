package sqlstore

/*
#include <stdlib.h>

// The few SQLite entry points used here, from the amalgamation that
// github.com/mattn/go-sqlite3 compiles into the binary (one copy of SQLite per
// process: these are the very functions its connections run on).
typedef struct sqlite3 sqlite3;
extern int sqlite3_db_config(sqlite3 *db, int op, ...);
extern int sqlite3_auto_extension(void (*xEntryPoint)(void));

#define ONRAMP_DBCONFIG_ENABLE_QPSG 1007 // SQLITE_DBCONFIG_ENABLE_QPSG

// onramp_stable_plans runs on every new connection (see sqlite3_auto_extension)
// and turns the query planner stability guarantee on for it.
static int onramp_stable_plans(sqlite3 *db, char **err, const void *api) {
	(void)err;
	(void)api;
	return sqlite3_db_config(db, ONRAMP_DBCONFIG_ENABLE_QPSG, 1, (int *)0);
}

static int onramp_register_stable_plans(void) {
	return sqlite3_auto_extension((void (*)(void))onramp_stable_plans);
}

// onramp_stable_plans_on reports the connection's setting (1 or 0), or -1.
static int onramp_stable_plans_on(sqlite3 *db) {
	int on = -1;
	if (sqlite3_db_config(db, ONRAMP_DBCONFIG_ENABLE_QPSG, -1, &on) != 0) {
		return -1;
	}
	return on;
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// Stable query plans on every SQLite connection.
//
// SQLite (3.4x and later) lets the value bound to a parameter shape a
// statement's plan: a LIMIT ?, an equality on a column that no index serves
// (`… AND version = ?` beside a primary-key lookup), a join's comparison of a
// parameter with a column all mark the statement "to be prepared again when
// that parameter is bound anew". The driver clears a cached statement's
// bindings before binding the next call's (sqlite3_clear_bindings), and a
// statement so marked is then compiled again from its SQL text at every
// execution: the statement cache saves nothing, and parsing and planning a
// statement of twenty columns costs more than running it. Measured on this
// store's sign-in (BenchmarkSignIn in this package) and on a lookup of a
// linked identity's user, a join of two primary-key lookups: 80 µs of CPU per
// call instead of 30.
//
// The query planner stability guarantee (SQLITE_DBCONFIG_ENABLE_QPSG) turns
// that off: a statement's plan is made from its SQL alone, once, and reused.
// The store's statements do not rely on bound values for their plans: every
// one is written to be served by an index whatever is bound (the lookups by
// userName, email, external ID and identity; pages by seq), as PostgreSQL
// plans them from the same SQL. The one plan SQLite used to make from a bound
// value, LIKE 'prefix%' as a range of an index, the filters now write out as
// that range (whereBuilder.startsWith: SCIM's sw operator).
//
// The setting is made by an automatic extension (sqlite3_auto_extension),
// SQLite's documented hook for code that runs on every new connection: it is
// registered before the store opens its first connection and covers the
// writer, the readers, the checkpointer and the migrator alike. The
// registration is process-wide, as SQLite itself is, and idempotent: SQLite
// keeps one entry per function however often it is registered.
func registerStablePlans() error {
	if rc := C.onramp_register_stable_plans(); rc != 0 {
		return fmt.Errorf("sqlstore: register the stable query plans setting: sqlite error %d", int(rc))
	}
	return nil
}

// stablePlansOn reports whether the connection whose sqlite3 handle is db has
// the stability guarantee on (1), off (0), or could not tell (-1). Tests use it.
func stablePlansOn(db unsafe.Pointer) int {
	return int(C.onramp_stable_plans_on((*C.sqlite3)(db)))
}
