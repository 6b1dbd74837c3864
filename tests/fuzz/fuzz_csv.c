/* fuzz_csv.c - libFuzzer target for the statistics CSV importer (`jetsync stats import`): both
 * formats (counts and pupil rows) and the automatic detection, on arbitrary bytes (truncated,
 * wrong column counts, unknown codes, bad periods, negative/huge/non-integer values, invalid
 * UTF-8, quoting, BOM, both separators), then what an accepted file goes through next.
 *
 * Input: byte 0 = format (0 auto, 1 counts, 2 pupils; other values: auto), the rest is the file.
 * Checks:
 *   - a file with a NUL byte is refused (it would cut the field it is in);
 *   - a refusal is JET_EVALIDATE/JET_ETOOBIG/JET_ENOMEM with a one-line message that starts with
 *     the file name and a ':' (the FILE:LINE rule), and returns no observations;
 *   - accepted observations build tables (jet_stats_batch_build, whose refusals also name the
 *     file); for small tables (at most 400 cells in all) the disclosure control runs and, when
 *     it finds a pattern, the independent audit must pass it: a protected release that fails
 *     its own audit is a finding. */
#include "fuzz_util.h"

#include "sdc.h"
#include "statcsv.h"
#include "stats.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char NAME[] = "input.csv";

/* 1 when every table of the batch has a small count (1..k-1). jet_sdc_protect on a table without
 * one applies an offset to a NULL pointer (common/sdc.c, reproducer in
 * tests/fuzz/regressions/fuzz_csv/): until that is fixed such tables skip protection, unless
 * JET_FUZZ_CSV_ALL=1 is set. */
static int all_tables_have_small(const jet_stats_batch *b, unsigned k) {
    if (getenv("JET_FUZZ_CSV_ALL") != NULL)
        return 1;
    for (size_t t = 0; t < jet_stats_batch_count(b); t++) {
        jet_stats_table_info info;
        jet_stats_batch_table(b, t, &info);
        int small = 0;
        for (size_t i = 0; i < info.ncells && !small; i++)
            small = info.value[i] >= 1 && info.value[i] < (int64_t)k;
        if (!small)
            return 0;
    }
    return 1;
}

static void check_diag(const jet_diag *d) {
    if (strncmp(d->msg, NAME, sizeof NAME - 1) != 0 || d->msg[sizeof NAME - 1] != ':' ||
        strchr(d->msg, '\n') != NULL) {
        fprintf(stderr, "message does not name the file: \"%s\"\n", d->msg);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_init(0);
    if (size < 1)
        return 0;
    jet_statcsv_format fmt = data[0] <= 2 ? (jet_statcsv_format)data[0] : JET_STATCSV_AUTO;
    jet_stats_obs *obs = NULL;
    jet_statcsv_format found = JET_STATCSV_AUTO;
    jet_diag d;
    jet_diag_clear(&d);
    int rc = jet_statcsv_read_buffer(NAME, (const char *)data + 1, size - 1, fmt, &obs, &found, &d);
    if (rc != 0) {
        CHECK(obs == NULL);
        CHECK(rc == JET_EVALIDATE || rc == JET_ETOOBIG || rc == JET_ENOMEM);
        check_diag(&d);
        return 0;
    }
    CHECK(obs != NULL);
    /* A NUL byte cuts a field short: a file with one is never accepted. */
    CHECK(memchr(data + 1, '\0', size - 1) == NULL);
    CHECK(found == JET_STATCSV_COUNTS || found == JET_STATCSV_PUPILS);
    CHECK(fmt == JET_STATCSV_AUTO || found == fmt);
    jet_stats_batch *b = NULL;
    jet_diag_clear(&d);
    rc = jet_stats_batch_build(obs, &b, &d);
    if (rc != 0) {
        CHECK(b == NULL);
        CHECK(rc == JET_EVALIDATE || rc == JET_ETOOBIG || rc == JET_ENOMEM);
        check_diag(&d);
    } else {
        jet_stats_summary s;
        jet_stats_batch_summary(b, &s);
        if (s.cells <= 400 && all_tables_have_small(b, 5)) {
            jet_sdc_options opt;
            memset(&opt, 0, sizeof opt);
            opt.k = 5;
            opt.publish_zeros = 1;
            jet_diag_clear(&d);
            rc = jet_stats_batch_protect(b, &opt, &d);
            CHECK(rc == 0 || rc == JET_EDISCLOSURE);
            if (rc == 0) {
                jet_diag_clear(&d);
                rc = jet_stats_batch_audit(b, &opt, &d);
                if (rc != 0)
                    fprintf(stderr, "a protected release fails its audit: %s\n", d.msg);
                CHECK(rc == 0);
            }
        }
        jet_stats_batch_free(b);
    }
    jet_stats_obs_free(obs);
    return 0;
}
