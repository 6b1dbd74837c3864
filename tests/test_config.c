/* test_config.c - HOME/jetsync.conf: defaults, every key, durations, and errors that name
 * "path:LINE:" with the right line for bad values, unknown keys and syntax errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "config.h"
#include "testutil.h"

static char conf_path[4096];

/* Writes `text` to a fresh config file and loads it. */
static int load_text(const char *text, jet_config *c, jet_diag *d) {
    static int n;
    static const char *dir;
    if (dir == NULL)
        dir = jt_tempdir();
    snprintf(conf_path, sizeof conf_path, "%s/jetsync%d.conf", dir, n++);
    jt_write_file(conf_path, text, strlen(text));
    jet_diag_clear(d);
    return jet_config_load(conf_path, c, d);
}

/* Loads `text` and expects JET_ECONFIG with the message "<path>:<line>: <rest>". */
static void expect_error(const char *text, int line, const char *rest) {
    jet_config c;
    jet_diag d;
    int rc = load_text(text, &c, &d);
    if (rc != JET_ECONFIG)
        print_error("config:\n%s\n", text);
    assert_code(rc, JET_ECONFIG);
    assert_code(d.code, JET_ECONFIG);
    char want[8192];
    if (line > 0)
        snprintf(want, sizeof want, "%s:%d: %s", conf_path, line, rest);
    else
        snprintf(want, sizeof want, "%s: %s", conf_path, rest);
    if (strcmp(d.msg, want) != 0) {
        print_error("config:\n%s\nmessage: %s\nwanted:  %s\n", text, d.msg, want);
        fail();
    }
}

static void test_defaults(void **state) {
    (void)state;
    jet_config c;
    memset(&c, 0xa5, sizeof c);
    jet_config_default(&c);
    assert_string_equal(c.name, "");
    assert_string_equal(c.region, "");
    assert_int_equal(c.lead, 0);
    assert_string_equal(c.listen, "0.0.0.0:7420"); /* the spec's default port */
    assert_int_equal(c.max_frame, 1024 * 1024);
    assert_int_equal(c.handshake_timeout_ms, 5000);
    assert_int_equal(c.idle_timeout_ms, 60000);
    assert_int_equal(c.max_connections, 1024);
    assert_int_equal(c.max_per_address, 64);
    assert_string_equal(c.sync_at, "");
    assert_int_equal(c.sync_every_s, 0);
    assert_int_equal(c.sync_jitter_s, 600);
    assert_int_equal(c.stall_timeout_ms, 30000);
    assert_int_equal(c.retry_min_s, 30);
    assert_int_equal(c.retry_max_s, 3600);
    assert_int_equal(c.stats_k, 5); /* the spec's default k */
    assert_int_equal(c.stats_publish_zeros, 1);
    assert_int_equal(c.stats_noise, 0);
    assert_true(c.stats_epsilon == 0.5);
    assert_true(c.stats_budget == 2.0);

    /* A file with only the required key gives the defaults for everything else. */
    jet_config l;
    jet_diag d;
    assert_ok(load_text("[node]\nregion = SE-Y\n", &l, &d));
    snprintf(c.region, sizeof c.region, "SE-Y");
    assert_memory_equal(&l, &c, sizeof c);
}

static void test_every_key(void **state) {
    (void)state;
    static const char text[] =
        "# a comment\n"
        "; another comment\n"
        "[node]\n"
        "name = Västra Götaland Region\n"
        "region = SE-O\n"
        "role = lead\n"
        "\n"
        "[network]\n"
        "listen = 127.0.0.1:9000\n"
        "max_frame = 65536\n"
        "handshake_timeout = 7s\n"
        "idle_timeout = 2m\n"
        "max_connections = 500\n"
        "max_per_address = 3\n"
        "[sync]\n"
        "at = 02:30\n"
        "every = 6h\n"
        "jitter = 90\n"
        "stall_timeout = 45s\n"
        "retry_min = 10s\n"
        "retry_max = 1d\n"
        "[stats]\n"
        "k = 10\n"
        "publish_zeros = no\n"
        "noise = yes\n"
        "epsilon = 0.25\n"
        "budget = 4 ; an inline comment\n";
    jet_config c;
    jet_diag d;
    int rc = load_text(text, &c, &d);
    if (rc != 0)
        print_error("%s\n", d.msg);
    assert_ok(rc);
    assert_string_equal(c.name, "Västra Götaland Region");
    assert_string_equal(c.region, "SE-O");
    assert_int_equal(c.lead, 1);
    assert_string_equal(c.listen, "127.0.0.1:9000");
    assert_int_equal(c.max_frame, 65536);
    assert_int_equal(c.handshake_timeout_ms, 7000);
    assert_int_equal(c.idle_timeout_ms, 120000);
    assert_int_equal(c.max_connections, 500);
    assert_int_equal(c.max_per_address, 3);
    assert_string_equal(c.sync_at, "02:30");
    assert_int_equal(c.sync_every_s, 6 * 3600);
    assert_int_equal(c.sync_jitter_s, 90);
    assert_int_equal(c.stall_timeout_ms, 45000);
    assert_int_equal(c.retry_min_s, 10);
    assert_int_equal(c.retry_max_s, 86400);
    assert_int_equal(c.stats_k, 10);
    assert_int_equal(c.stats_publish_zeros, 0);
    assert_int_equal(c.stats_noise, 1);
    assert_true(c.stats_epsilon == 0.25);
    assert_true(c.stats_budget == 4.0);

    /* role = region, booleans spelled other ways, empty sync values (off). */
    assert_ok(load_text("[node]\nregion=IT-25\nrole=region\n[stats]\npublish_zeros=true\n"
                        "noise=0\n[sync]\nat=\nevery=\n",
                        &c, &d));
    assert_int_equal(c.lead, 0);
    assert_int_equal(c.stats_publish_zeros, 1);
    assert_int_equal(c.stats_noise, 0);
    assert_string_equal(c.sync_at, "");
    assert_int_equal(c.sync_every_s, 0);
    /* Sections and keys may come in any order; a later value wins. */
    assert_ok(load_text("[stats]\nk = 7\n[node]\nregion = A1\n[stats]\nk = 8\n", &c, &d));
    assert_int_equal(c.stats_k, 8);
}

/* What jet_config_write() writes, jet_config_load() reads back the same. */
static void test_write_roundtrip(void **state) {
    (void)state;
    const char *dir = jt_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/jetsync.conf", dir);
    jet_config c, l;
    jet_config_default(&c);
    snprintf(c.name, sizeof c.name, "Région Île-de-France (test)");
    snprintf(c.region, sizeof c.region, "FR-IDF");
    c.lead = 1;
    snprintf(c.listen, sizeof c.listen, "[::1]:7421");
    c.max_frame = 8192;
    c.handshake_timeout_ms = 3000;
    c.idle_timeout_ms = 90000;
    c.max_connections = 77;
    c.max_per_address = 5;
    snprintf(c.sync_at, sizeof c.sync_at, "23:59");
    c.sync_every_s = 7200;
    c.sync_jitter_s = 0;
    c.stall_timeout_ms = 12000;
    c.retry_min_s = 5;
    c.retry_max_s = 600;
    c.stats_k = 3;
    c.stats_publish_zeros = 0;
    c.stats_noise = 1;
    c.stats_epsilon = 0.125;
    c.stats_budget = 3.5;
    jet_diag d;
    jet_diag_clear(&d);
    assert_ok(jet_config_write(path, &c, &d));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    int rc = jet_config_load(path, &l, &d);
    if (rc != 0)
        print_error("%s\n", d.msg);
    assert_ok(rc);
    assert_string_equal(l.name, c.name);
    assert_string_equal(l.region, c.region);
    assert_string_equal(l.listen, c.listen);
    assert_string_equal(l.sync_at, c.sync_at);
    assert_int_equal(l.sync_every_s, c.sync_every_s);
    assert_memory_equal(&l, &c, sizeof c);
    /* Never overwrites. */
    assert_code(jet_config_write(path, &c, &d), JET_EEXIST);
}

/* A text value that would not load back the same once written (the writer puts a space after
 * '=', and the INI reader takes " ;" for a comment) is refused on load, naming its line; the
 * fuzz_config round trip found "name =;x", which loaded as ";x" and came back as "". */
static void test_text_written_back(void **state) {
    (void)state;
    expect_error("[node]\nregion = SE-Y\nname =;Fuzz Seed\n", 3, "[node] name: bad value");
    expect_error("[network]\nlisten =;h:7421\n", 2, "[network] listen: bad value");
    expect_error("[sync]\nat =;\n", 2, "[sync] at: bad value");
    assert_true(jet_config_text_ok("Région Île-de-France (test)"));
    assert_true(jet_config_text_ok("a;b"));
    assert_true(jet_config_text_ok(""));
    assert_false(jet_config_text_ok(";a"));
    assert_false(jet_config_text_ok("a ;b"));
    assert_false(jet_config_text_ok("a\tb"));
    assert_false(jet_config_text_ok("a\x7f"));
    /* and what it accepts does come back */
    jet_config c, l;
    jet_diag d;
    assert_ok(load_text("[node]\nregion = SE-Y\nname =a;b c\n", &c, &d));
    assert_string_equal(c.name, "a;b c");
    char path[512];
    snprintf(path, sizeof path, "%s/written.conf", jt_tempdir());
    assert_ok(jet_config_write(path, &c, &d));
    assert_ok(jet_config_load(path, &l, &d));
    assert_string_equal(l.name, c.name);
}

typedef struct bad_case {
    const char *section, *key, *value;
} bad_case;

static void test_bad_values(void **state) {
    (void)state;
    static const bad_case cases[] = {
        {"node", "role", "leader"},
        {"node", "role", ""},
        {"node", "region", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"}, /* longer than the field */
        {"network", "max_frame", "100"},
        {"network", "max_frame", "1G"},
        {"network", "max_frame", "-4096"},
        {"network", "max_frame", "99999999999"},
        {"network", "handshake_timeout", "0"},
        {"network", "handshake_timeout", "5x"},
        {"network", "idle_timeout", ""},
        {"network", "idle_timeout", "-1s"},
        {"network", "max_connections", "0"},
        {"network", "max_connections", "lots"},
        {"network", "max_per_address", "1000001"},
        {"sync", "at", "24:00"},
        {"sync", "at", "12:60"},
        {"sync", "at", "1230"},
        {"sync", "at", "12:30x"},
        {"sync", "at", "noon"},
        {"sync", "every", "6 hours"},
        {"sync", "jitter", "1.5h"},
        {"sync", "stall_timeout", "0s"},
        {"sync", "retry_min", "m"},
        {"sync", "retry_max", "18446744073709551615"},
        {"stats", "k", "1"},
        {"stats", "k", "1001"},
        {"stats", "k", "five"},
        {"stats", "publish_zeros", "maybe"},
        {"stats", "noise", "on"},
        {"stats", "epsilon", "0"},
        {"stats", "epsilon", "-1"},
        {"stats", "epsilon", "abc"},
        {"stats", "epsilon", "1e9"},
        {"stats", "budget", "2 units"},
        {"stats", "budget", "nan"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        /* The bad line is put at a different line number each time. */
        char text[1024], rest[256];
        int pad = (int)(i % 5), line = 0;
        size_t n = 0;
        n += (size_t)snprintf(text + n, sizeof text - n, "[node]\nregion = SE-Y\n");
        line = 2;
        for (int p = 0; p < pad; p++, line++)
            n += (size_t)snprintf(text + n, sizeof text - n, p % 2 ? "\n" : "# filler\n");
        n += (size_t)snprintf(text + n, sizeof text - n, "[%s]\n%s = %s\n", cases[i].section,
                              cases[i].key, cases[i].value);
        line += 2;
        snprintf(text + n, sizeof text - n, "[stats]\nk = 5\n");
        snprintf(rest, sizeof rest, "[%s] %s: bad value", cases[i].section, cases[i].key);
        expect_error(text, line, rest);
    }
}

static void test_unknown_and_syntax(void **state) {
    (void)state;
    expect_error("[node]\nregion = SE-Y\ncolour = blue\n", 3, "[node] colour: unknown key");
    expect_error("[node]\nregion = SE-Y\n\n[colours]\nblue = 1\n", 5,
                 "[colours] blue: unknown key");
    expect_error("region = SE-Y\n", 1, "[] region: unknown key"); /* before any section */
    expect_error("[node]\nregion = SE-Y\n[network\nlisten = 1.2.3.4:5\n", 3, "syntax error");
    expect_error("[node]\nregion = SE-Y\nthis line is not ini\n", 3, "syntax error");
    expect_error("# c\n# c\n# c\n[node]\nregion = SE-Y\n\n\njust words\n", 8, "syntax error");
    expect_error("[node]\nregion = SE-Y\n= value\n", 3, "[node] : unknown key");
    /* Two errors: the first one is reported, whichever kind it is. */
    expect_error("[node]\nregion = SE-Y\nnot ini\n[stats]\n\nk = 1\n", 3, "syntax error");
    expect_error("[node]\nregion = SE-Y\n[stats]\nk = 1\n\nnot ini\n", 4,
                 "[stats] k: bad value");
    expect_error("[node]\nregion = SE-Y\n[x]\ny = 1\nnot ini\n[stats]\nk = 1\n", 4,
                 "[x] y: unknown key");
    /* The required key. */
    expect_error("[node]\nname = x\n", 0, "[node] region is missing");
    expect_error("", 0, "[node] region is missing");
}

/* A comment longer than the parser's line buffer is still a comment; an over-long key line is
 * an error on its own line (not a silently cut value, nor an error on a later line). */
static void test_long_lines(void **state) {
    (void)state;
    char text[2048], filler[600];
    memset(filler, 'x', sizeof filler - 1);
    filler[sizeof filler - 1] = '\0';
    jet_config c;
    jet_diag d;
    snprintf(text, sizeof text, "[node]\n# %s = not a key\nregion = SE-Y\n[stats]\nk = 6\n",
             filler);
    int rc = load_text(text, &c, &d);
    if (rc != 0)
        print_error("%s\n", d.msg);
    assert_ok(rc);
    assert_string_equal(c.region, "SE-Y");
    assert_int_equal(c.stats_k, 6);

    jet_config_default(&c);
    snprintf(text, sizeof text, "[node]\nregion = SE-Y\nname = %s\n[stats]\nk = 1\n", filler);
    rc = load_text(text, &c, &d);
    assert_code(rc, JET_ECONFIG);
    char want[4200];
    snprintf(want, sizeof want, "%s:3: ", conf_path);
    assert_prefix(d.msg, want);
}

/* The message keeps its "path:line:" form for a long path. */
static void test_long_path(void **state) {
    (void)state;
    const char *dir = jt_tempdir();
    char path[4096], seg[201];
    memset(seg, 'd', 200);
    seg[200] = '\0';
    snprintf(path, sizeof path, "%s", dir);
    for (int i = 0; i < 4; i++) { /* about 830 characters */
        size_t n = strlen(path);
        snprintf(path + n, sizeof path - n, "/%s", seg);
        assert_int_equal(mkdir(path, 0700), 0);
    }
    size_t n = strlen(path);
    snprintf(path + n, sizeof path - n, "/jetsync.conf");
    static const char text[] = "[node]\nregion = SE-Y\n[sync]\nat = 25:00\n";
    jt_write_file(path, text, strlen(text));
    jet_config c;
    jet_diag d;
    jet_diag_clear(&d);
    assert_code(jet_config_load(path, &c, &d), JET_ECONFIG);
    /* The message is cut to its buffer, but it starts as it must. */
    char want[4200];
    snprintf(want, sizeof want, "%s:4: [sync] at: bad value", path);
    assert_int_equal(strncmp(d.msg, want, sizeof d.msg - 1), 0);
}

static void test_missing_file(void **state) {
    (void)state;
    const char *dir = jt_tempdir();
    char path[512];
    snprintf(path, sizeof path, "%s/none.conf", dir);
    jet_config c;
    jet_diag d;
    jet_diag_clear(&d);
    assert_code(jet_config_load(path, &c, &d), JET_ENOTFOUND);
    assert_prefix(d.msg, path);
    assert_code(jet_config_load(path, &c, NULL), JET_ENOTFOUND);
}

static void test_durations(void **state) {
    (void)state;
    static const struct {
        const char *text;
        uint64_t seconds;
    } good[] = {
        {"0", 0},           {"42", 42},       {"90s", 90},      {"15m", 900},
        {"24h", 86400},     {"2d", 172800},   {"1s", 1},        {"600", 600},
        {"3600s", 3600},    {"0d", 0},        {"18446744073709551", 18446744073709551ull},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint64_t s = 12345;
        int rc = jet_duration_parse(good[i].text, &s);
        if (rc != 0)
            print_error("'%s'\n", good[i].text);
        assert_ok(rc);
        assert_int_equal(s, good[i].seconds);
    }
    static const char *const bad[] = {"",   "s",    "-5",   "-5s",  "5x",  "5 m",  "5ss",
                                      "1.5h", "h1", "5h5m", "0x10", "1e3", "18446744073709552",
                                      "18446744073709551615", "99999999999999999999",
                                      "213503982336d"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint64_t s = 12345;
        int rc = jet_duration_parse(bad[i], &s);
        if (rc != JET_EINVAL)
            print_error("'%s' parsed as %llu\n", bad[i], (unsigned long long)s);
        assert_code(rc, JET_EINVAL);
        assert_int_equal(s, 12345); /* untouched */
    }
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_write_roundtrip), cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_unknown_and_syntax), cmocka_unit_test(test_long_lines),
        cmocka_unit_test(test_long_path),       cmocka_unit_test(test_missing_file),
        cmocka_unit_test(test_durations),       cmocka_unit_test(test_text_written_back),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
