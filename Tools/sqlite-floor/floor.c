// sqlite-floor: what SQLite alone costs for the rows Outpost writes, with Outpost's own schema
// and settings (4 KB pages, WAL, synchronous=FULL, 32 MB cache) and no Swift at all. The gap
// between these figures and `outpost-bench` is what the Swift side costs.
//
//   floor SCHEMA.sql import N BODY_BYTES STATE_BYTES [wal|delete]
//                                                        N incidents in one transaction, through the
//                                                        WAL or (as `outpost import` when alone with
//                                                        the store) a rollback journal
//   floor SCHEMA.sql apply  N BATCH                      N edits of N records, BATCH per commit
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu(void) { return (double)clock() / CLOCKS_PER_SEC; }

static void check(sqlite3 *db, int rc, const char *what) {
    if (rc != SQLITE_OK && rc != SQLITE_DONE && rc != SQLITE_ROW) {
        fprintf(stderr, "sqlite-floor: %s: %s\n", what, sqlite3_errmsg(db));
        exit(1);
    }
}

static void exec(sqlite3 *db, const char *sql) { check(db, sqlite3_exec(db, sql, 0, 0, 0), sql); }

static char *readFile(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) { perror(path); exit(1); }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc(n + 1);
    if (fread(text, 1, n, f) != (size_t)n) { perror(path); exit(1); }
    text[n] = 0;
    fclose(f);
    return text;
}

static sqlite3_stmt *prepare(sqlite3 *db, const char *sql) {
    sqlite3_stmt *s;
    check(db, sqlite3_prepare_v2(db, sql, -1, &s, 0), sql);
    return s;
}

static void step(sqlite3 *db, sqlite3_stmt *s) {
    check(db, sqlite3_step(s), sqlite3_sql(s));
    sqlite3_reset(s);
}

// A UUIDv7-like id: time-ordered prefix, random tail (as `outpost` makes them).
static void makeID(char *out, long i) {
    snprintf(out, 37, "0190a1b2-%04lx-7%03lx-8%03x-%012lx", (i >> 12) & 0xFFFF, i & 0xFFF, rand() & 0xFFF,
             ((long)rand() << 16) ^ rand());
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: floor SCHEMA.sql import N BODY STATE [wal|delete] | floor SCHEMA.sql apply N BATCH\n");
        return 2;
    }
    const char *path = "sqlite-floor.db";
    unlink(path);
    unlink("sqlite-floor.db-wal");
    unlink("sqlite-floor.db-shm");
    sqlite3 *db;
    check(db, sqlite3_open(path, &db), "open");
    exec(db, "PRAGMA page_size = 4096");
    exec(db, "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 8192;"
             "PRAGMA cache_size = -32768; PRAGMA mmap_size = 0; PRAGMA temp_store = MEMORY");
    exec(db, "BEGIN");
    exec(db, readFile(argv[1]));
    exec(db, "INSERT INTO replicas (idx, id) VALUES (1, x'01')");
    exec(db, "COMMIT");
    long n = atol(argv[3]);
    int importing = strcmp(argv[2], "import") == 0;
    const char *journal = importing && argc > 6 ? argv[6] : "wal";
    if (strcmp(journal, "delete") == 0) exec(db, "PRAGMA journal_mode = DELETE");
    int bodyBytes = importing && argc > 4 ? atoi(argv[4]) : 300;
    int stateBytes = importing && argc > 5 ? atoi(argv[5]) : 250;
    int batch = !importing && argc > 4 ? atoi(argv[4]) : 1000;
    char *body = malloc(bodyBytes), *state = malloc(stateBytes);
    memset(body, 'b', bodyBytes);
    memset(state, 's', stateBytes);
    sqlite3_stmt *insertChange = prepare(db,
        "INSERT OR IGNORE INTO changes (seq, replica, counter, collection, record, ms, body, applied, received_ms) "
        "VALUES (?, ?, ?, 'incidents', ?, 1, ?, 1, 0)");
    sqlite3_stmt *insertRecord = prepare(db,
        "INSERT INTO records (collection, id, state, log, deleted, conflict, created_ms, updated_ms, updated_seq) "
        "VALUES ('incidents', ?, ?, ?, 0, 0, 1, 1, ?)");
    char (*ids)[37] = malloc(n * 37);
    for (long i = 0; i < n; i++) makeID(ids[i], i);

    // The incidents (timed when importing; the starting store when applying).
    double start = now(), cpuStart = cpu();
    exec(db, "BEGIN IMMEDIATE");
    for (long i = 0; i < n; i++) {
        char log[32];
        int logLength = snprintf(log, sizeof log, "1.%ld", i + 1);
        sqlite3_bind_int64(insertChange, 1, i + 1);
        sqlite3_bind_int64(insertChange, 2, 1);
        sqlite3_bind_int64(insertChange, 3, i + 1);
        sqlite3_bind_text(insertChange, 4, ids[i], 36, SQLITE_STATIC);
        sqlite3_bind_blob(insertChange, 5, body, bodyBytes, SQLITE_STATIC);
        step(db, insertChange);
        sqlite3_bind_text(insertRecord, 1, ids[i], 36, SQLITE_STATIC);
        sqlite3_bind_blob(insertRecord, 2, state, stateBytes, SQLITE_STATIC);
        sqlite3_bind_text(insertRecord, 3, log, logLength, SQLITE_TRANSIENT);
        sqlite3_bind_int64(insertRecord, 4, i + 1);
        step(db, insertRecord);
    }
    exec(db, "COMMIT");
    if (importing) {
        double wall = now() - start, used = cpu() - cpuStart;
        printf("sqlite-floor import (%s journal): %ld incidents (change body %d B, state %d B) in %.3f s = %.0f "
               "incidents/s; CPU %.3f s\n", journal, n, bodyBytes, stateBytes, wall, n / wall, used);
        return 0;
    }

    // Edits of random records by 50 replicas: look the record up, log the change, update the record.
    sqlite3_stmt *load = prepare(db,
        "SELECT state, created_ms, updated_ms, updated_seq, log, rowid FROM records WHERE collection = 'incidents' AND id = ?");
    sqlite3_stmt *update = prepare(db,
        "UPDATE records SET state = ?2, log = ?3, deleted = 0, conflict = 0, created_ms = 1, updated_ms = 2, "
        "updated_seq = ?4 WHERE rowid = ?1");
    for (int r = 2; r <= 51; r++) {
        char sql[96];
        snprintf(sql, sizeof sql, "INSERT INTO replicas (idx, id) VALUES (%d, x'%02x')", r, r);
        exec(db, sql);
    }
    long counters[50] = {0}, seq = n;
    srand(42);
    start = now();
    cpuStart = cpu();
    for (long done = 0; done < n;) {
        exec(db, "BEGIN IMMEDIATE");
        for (int k = 0; k < batch && done < n; k++, done++) {
            long record = rand() % n;
            int author = done % 50;
            counters[author]++;
            seq++;
            sqlite3_bind_text(load, 1, ids[record], 36, SQLITE_STATIC);
            long rowid = 0;
            if (sqlite3_step(load) == SQLITE_ROW) rowid = sqlite3_column_int64(load, 5);
            sqlite3_reset(load);
            sqlite3_bind_int64(insertChange, 1, seq);
            sqlite3_bind_int64(insertChange, 2, author + 2);
            sqlite3_bind_int64(insertChange, 3, counters[author]);
            sqlite3_bind_text(insertChange, 4, ids[record], 36, SQLITE_STATIC);
            sqlite3_bind_blob(insertChange, 5, body, bodyBytes, SQLITE_STATIC);
            step(db, insertChange);
            sqlite3_bind_int64(update, 1, rowid);
            sqlite3_bind_blob(update, 2, state, stateBytes, SQLITE_STATIC);
            sqlite3_bind_text(update, 3, "1.1 2.1", 7, SQLITE_STATIC);
            sqlite3_bind_int64(update, 4, seq);
            step(db, update);
        }
        exec(db, "COMMIT");
    }
    double wall = now() - start, used = cpu() - cpuStart;
    printf("sqlite-floor apply: %ld edits in batches of %d in %.3f s = %.0f changes/s; CPU %.3f s\n", n, batch, wall,
           n / wall, used);
    sqlite3_close(db);
    unlink(path);
    unlink("sqlite-floor.db-wal");
    return 0;
}
