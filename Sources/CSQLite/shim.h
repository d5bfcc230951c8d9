#ifndef OUTPOST_CSQLITE_SHIM_H
#define OUTPOST_CSQLITE_SHIM_H
#include <sqlite3.h>
#include <stddef.h>

/// glibc's memmem, a GNU extension the Glibc module leaves out: the byte search of the text
/// filter over the query indexes' text (two-way, vectorised), where SQLite's rows are read.
void *memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen);
static inline const void *outpost_memmem(const void *haystack, size_t haystacklen, const void *needle, size_t needlelen) {
    return memmem(haystack, haystacklen, needle, needlelen);
}

/// SQLITE_TRANSIENT is a macro Swift does not import: SQLite copies the bound bytes.
static inline sqlite3_destructor_type outpost_sqlite_transient(void) { return SQLITE_TRANSIENT; }

/// sqlite3_db_config is variadic, which Swift cannot call: keep the WAL on close instead of
/// checkpointing it (a later commit's automatic checkpoint, or a later close, does that work).
static inline int outpost_sqlite_no_checkpoint_on_close(sqlite3 *db) {
    return sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, (int *)0);
}
#endif
