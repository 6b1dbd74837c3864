/* error.h - the one error table of jetsync.
 *
 * Every function that can fail returns 0 on success or a negative code. Our codes live below
 * JET_ERR_BASE so that libuv's codes (negative errno values) pass through unchanged. LMDB,
 * libsodium and protobuf-c results are converted in exactly one place each (the store, the
 * identity/crypto modules and the wire module). */
#ifndef JET_ERROR_H
#define JET_ERROR_H

#define JET_ERR_BASE (-20000)

/* X(name, offset, message) */
#define JET_ERRORS(X)                                                                              \
    X(JET_EINVAL, 1, "invalid argument")                                                           \
    X(JET_ENOMEM, 2, "out of memory")                                                              \
    X(JET_EIO, 3, "input/output error")                                                            \
    X(JET_ENOSPC, 4, "disk full: nothing was written")                                             \
    X(JET_ENOTFOUND, 5, "not found")                                                               \
    X(JET_EEXIST, 6, "already exists")                                                             \
    X(JET_ESCHEMA, 7, "store has an unknown schema version")                                       \
    X(JET_ECORRUPT, 8, "store is corrupt")                                                         \
    X(JET_EBADSIG, 9, "bad signature")                                                             \
    X(JET_ESEQ, 10, "record out of order")                                                         \
    X(JET_EFORK, 11, "log fork: two different records under one sequence number")                  \
    X(JET_EDUP, 12, "record already held")                                                         \
    X(JET_EPERM, 13, "not permitted")                                                              \
    X(JET_EKEYPERM, 14, "secret key file is readable by group or others")                          \
    X(JET_ECONFIG, 15, "bad configuration")                                                        \
    X(JET_EPROTO, 16, "protocol error")                                                            \
    X(JET_ETOOBIG, 17, "too large")                                                                \
    X(JET_EDECODE, 18, "malformed message")                                                        \
    X(JET_EAUTH, 19, "authentication failed")                                                      \
    X(JET_EPEER, 20, "unknown peer")                                                               \
    X(JET_EREVOKED, 21, "revoked peer")                                                            \
    X(JET_EREPLAY, 22, "replayed handshake")                                                       \
    X(JET_ETIMEOUT, 23, "timed out")                                                               \
    X(JET_ECLOSED, 24, "connection closed")                                                        \
    X(JET_ECANCELED, 25, "cancelled")                                                              \
    X(JET_EVALIDATE, 26, "validation failed")                                                      \
    X(JET_EDISCLOSURE, 27, "disclosure audit failed")                                              \
    X(JET_ELIMIT, 28, "limit reached")                                                             \
    X(JET_EBUSY, 29, "busy")                                                                       \
    X(JET_EROLE, 30, "not allowed for this role")                                                  \
    X(JET_EEPOCH, 31, "record epoch out of range (before 2025 or over a year ahead)")

enum jet_error {
#define JET__ERR_ENUM(name, off, msg) name = JET_ERR_BASE - (off),
    JET_ERRORS(JET__ERR_ENUM)
#undef JET__ERR_ENUM
};

/* Returns a static, human-readable message for any code: ours, libuv's or a negative errno. */
const char *jet_strerror(int code);

/* Returns the symbolic name ("JET_EINVAL", "ECONNRESET", ...) of a code, for tests and logs. */
const char *jet_errname(int code);

/* A diagnostic: a code and the one-line message a user sees ("file.csv:12: unknown indicator").
 * Functions that take a `jet_diag *` fill it on failure; passing NULL is allowed. */
typedef struct jet_diag {
    int code;
    char msg[512];
} jet_diag;

/* Records `code` and a printf-style message in `d` (if not NULL) and returns `code`, so that
 * `return jet_diag_fail(d, JET_EINVAL, "...")` reads as one step. */
int jet_diag_fail(jet_diag *d, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Turns control characters (newlines, tabs, escapes) of `text` into spaces, in place: a message
 * that quotes input stays one line and cannot move the terminal's cursor. */
void jet_one_line(char *text);

/* Clears a diagnostic. */
void jet_diag_clear(jet_diag *d);

/* The message of `d` if one was set, else jet_strerror(code). */
const char *jet_diag_message(const jet_diag *d, int code);

#endif
