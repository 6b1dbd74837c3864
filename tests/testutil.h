/* testutil.h - small helpers shared by the cmocka tests (header only, one test = one file).
 *
 * - assert_code(expr, want) / assert_ok(expr): compare jet error codes and, on a mismatch, print
 *   the expression, both values and both names (jet_errname()) before failing the test.
 * - jt_tempdir(): a fresh directory under /tmp; every one made (and every tmpfs mounted with
 *   jt_mount_tmpfs()) is removed when the test program exits, whether its tests passed or not.
 *
 * Include it after <cmocka.h> (which needs <setjmp.h>, <stdarg.h>, <stddef.h> first). */
#ifndef JET_TESTUTIL_H
#define JET_TESTUTIL_H

#include <errno.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

#define assert_code(expr, want)                                                               \
    do {                                                                                      \
        int jt_got_ = (expr);                                                                 \
        int jt_want_ = (want);                                                                \
        if (jt_got_ != jt_want_) {                                                            \
            print_error("%s:%d: %s\n    got  %d (%s)\n    want %d (%s)\n", __FILE__, __LINE__, \
                        #expr, jt_got_, jet_errname(jt_got_), jt_want_, jet_errname(jt_want_)); \
            fail();                                                                           \
        }                                                                                     \
    } while (0)

#define assert_ok(expr) assert_code(expr, 0)

/* Asserts that `expr` is one of two codes (for refusals where either reason is right). */
#define assert_code_either(expr, want1, want2)                                                \
    do {                                                                                      \
        int jt_got_ = (expr);                                                                 \
        if (jt_got_ != (want1) && jt_got_ != (want2)) {                                       \
            print_error("%s:%d: %s\n    got  %d (%s)\n    want %s or %s\n", __FILE__,          \
                        __LINE__, #expr, jt_got_, jet_errname(jt_got_), jet_errname(want1),   \
                        jet_errname(want2));                                                  \
            fail();                                                                           \
        }                                                                                     \
    } while (0)

/* Asserts that the string `hay` starts with `prefix`, printing both on failure. */
#define assert_prefix(hay, prefix)                                                            \
    do {                                                                                      \
        const char *jt_h_ = (hay), *jt_p_ = (prefix);                                         \
        if (strncmp(jt_h_, jt_p_, strlen(jt_p_)) != 0) {                                      \
            print_error("%s:%d: \"%s\"\n    does not start with \"%s\"\n", __FILE__, __LINE__, \
                        jt_h_, jt_p_);                                                        \
            fail();                                                                           \
        }                                                                                     \
    } while (0)

enum { JT_MAX_DIRS = 64 };

static char *jt_dirs[JT_MAX_DIRS];
static char *jt_mounts[JT_MAX_DIRS];
static int jt_ndirs, jt_nmounts;
static pid_t jt_owner_pid;

static inline int jt_rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st;
    (void)flag;
    (void)ftw;
    remove(path);
    return 0;
}

/* Removes a directory tree (like rm -rf). */
static inline void jt_rmtree(const char *dir) {
    nftw(dir, jt_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static inline void jt_cleanup(void) {
    if (getpid() != jt_owner_pid) /* a forked child that returned through exit() */
        return;
    for (int i = jt_nmounts - 1; i >= 0; i--) {
        umount2(jt_mounts[i], MNT_DETACH);
        free(jt_mounts[i]);
    }
    jt_nmounts = 0;
    for (int i = jt_ndirs - 1; i >= 0; i--) {
        jt_rmtree(jt_dirs[i]);
        free(jt_dirs[i]);
    }
    jt_ndirs = 0;
}

/* Makes a new directory /tmp/jetsync-test-XXXXXX, removed at exit. The string stays valid until
 * the program exits. Never returns NULL (fails the test instead). */
static inline const char *jt_tempdir(void) {
    if (jt_owner_pid == 0) {
        jt_owner_pid = getpid();
        atexit(jt_cleanup);
    }
    char tmpl[] = "/tmp/jetsync-test-XXXXXX";
    if (mkdtemp(tmpl) == NULL || jt_ndirs == JT_MAX_DIRS) {
        print_error("mkdtemp: %s\n", strerror(errno));
        fail();
    }
    jt_dirs[jt_ndirs] = strdup(tmpl);
    assert_non_null(jt_dirs[jt_ndirs]);
    return jt_dirs[jt_ndirs++];
}

/* Makes `dir` + "/" + `name` as a new directory and writes its path into `out`. */
static inline void jt_subdir(const char *dir, const char *name, char *out, size_t len) {
    int n = snprintf(out, len, "%s/%s", dir, name);
    assert_true(n > 0 && (size_t)n < len);
    if (mkdir(out, 0700) != 0) {
        print_error("mkdir %s: %s\n", out, strerror(errno));
        fail();
    }
}

/* Mounts a tmpfs of `size` ("2m") on `dir`. Returns 0, or -1 with the reason in `why` (the caller
 * then skips). A successful mount is unmounted at exit if the test has not done so. */
static inline int jt_mount_tmpfs(const char *dir, const char *size, char *why, size_t wlen) {
    if (geteuid() != 0) {
        snprintf(why, wlen, "not running as root, cannot mount a tmpfs");
        return -1;
    }
    char opts[64];
    snprintf(opts, sizeof opts, "size=%s", size);
    if (mount("tmpfs", dir, "tmpfs", 0, opts) != 0) {
        snprintf(why, wlen, "mount -t tmpfs -o %s tmpfs %s: %s", opts, dir, strerror(errno));
        return -1;
    }
    if (jt_nmounts < JT_MAX_DIRS)
        jt_mounts[jt_nmounts++] = strdup(dir);
    return 0;
}

/* Unmounts a mount made by jt_mount_tmpfs() (or registered with jt_register_mount()). */
static inline int jt_umount(const char *dir) {
    for (int i = 0; i < jt_nmounts; i++) {
        if (strcmp(jt_mounts[i], dir) == 0) {
            free(jt_mounts[i]);
            jt_mounts[i] = jt_mounts[--jt_nmounts];
            break;
        }
    }
    return umount(dir);
}

/* Registers a mount made otherwise (a loop device) for unmounting at exit. */
static inline void jt_register_mount(const char *dir) {
    if (jt_nmounts < JT_MAX_DIRS)
        jt_mounts[jt_nmounts++] = strdup(dir);
}

/* Writes `len` bytes to a new file. */
static inline void jt_write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (f == NULL) {
        print_error("fopen %s: %s\n", path, strerror(errno));
        fail();
    }
    assert_int_equal(fwrite(data, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

/* ---- store snapshots ----------------------------------------------------------------------- */

#ifdef JET_STORE_H
#include <sodium.h>

static inline int jt_digest_kv(const void *k, size_t kl, const void *v, size_t vl, void *ctx) {
    crypto_generichash_state *st = ctx;
    uint8_t lens[16];
    for (int i = 0; i < 8; i++) {
        lens[i] = (uint8_t)((uint64_t)kl >> (56 - 8 * i));
        lens[8 + i] = (uint8_t)((uint64_t)vl >> (56 - 8 * i));
    }
    crypto_generichash_update(st, lens, sizeof lens);
    crypto_generichash_update(st, k, kl);
    crypto_generichash_update(st, v, vl);
    return 0;
}

typedef struct jt_snapshot_ctx {
    uint8_t digest[32];
} jt_snapshot_ctx;

static inline int jt_snapshot_txn(jet_txn *txn, void *arg) {
    jt_snapshot_ctx *c = arg;
    crypto_generichash_state st;
    crypto_generichash_init(&st, NULL, 0, 32);
    for (int db = 0; db < JET_DB__COUNT; db++) {
        uint8_t sep = (uint8_t)db;
        crypto_generichash_update(&st, &sep, 1);
        int rc = jet_txn_scan(txn, (jet_db)db, NULL, 0, NULL, 0, jt_digest_kv, &st);
        if (rc != 0)
            return rc;
    }
    crypto_generichash_final(&st, c->digest, 32);
    return 0;
}

/* A BLAKE2b-256 digest of every key and value of every database of the store: two equal
 * snapshots mean the store did not change in between. */
static inline void jt_store_snapshot(jet_store *store, uint8_t digest[32]) {
    jt_snapshot_ctx c;
    int rc = jet_store_read(store, jt_snapshot_txn, &c);
    assert_code(rc, 0);
    memcpy(digest, c.digest, 32);
}
#endif

#endif
