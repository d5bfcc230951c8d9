#ifndef OUTPOST_CSQLITE_SHIM_H
#define OUTPOST_CSQLITE_SHIM_H
#include <sqlite3.h>

/// SQLITE_TRANSIENT is a macro Swift does not import: SQLite copies the bound bytes.
static inline sqlite3_destructor_type outpost_sqlite_transient(void) { return SQLITE_TRANSIENT; }
#endif
