/* fuzz_config.c - libFuzzer target for the node configuration file (HOME/jetsync.conf, INI read
 * by inih): jet_config_load on arbitrary file contents (syntax errors, unknown sections and
 * keys, bad values, out-of-range numbers, huge lines, NUL bytes, invalid UTF-8).
 *
 * Checks: a refusal is JET_ECONFIG with a one-line message that starts with the path and a ':'
 * ("PATH:LINE: ..."); an accepted configuration has its values inside the documented bounds
 * (max_frame 4096 .. 64 MiB, k >= 2 ...), and writing it back with jet_config_write gives a
 * file that loads again to the same values. */
#include "fuzz_util.h"

#include <fcntl.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char in_path[96], out_path[96];

static void remove_files(void) {
    unlink(in_path);
    unlink(out_path);
}

static void check_diag(const char *path, const jet_diag *d) {
    size_t n = strlen(path);
    if (strncmp(d->msg, path, n) != 0 || d->msg[n] != ':' || strchr(d->msg, '\n') != NULL) {
        fprintf(stderr, "message does not name the file: \"%s\"\n", d->msg);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    fz_init(0);
    if (in_path[0] == '\0') {
        snprintf(in_path, sizeof in_path, "/dev/shm/jetsync-fuzz-config-%d.conf", (int)getpid());
        snprintf(out_path, sizeof out_path, "/dev/shm/jetsync-fuzz-config-%d.out", (int)getpid());
        FILE *t = fopen(in_path, "wb");
        if (t == NULL) {
            snprintf(in_path, sizeof in_path, "/tmp/jetsync-fuzz-config-%d.conf", (int)getpid());
            snprintf(out_path, sizeof out_path, "/tmp/jetsync-fuzz-config-%d.out", (int)getpid());
        } else {
            fclose(t);
        }
        atexit(remove_files);
    }
    FILE *f = fopen(in_path, "wb");
    CHECK(f != NULL);
    CHECK(fwrite(data, 1, size, f) == size);
    CHECK(fclose(f) == 0);

    jet_config c;
    jet_config_default(&c);
    jet_diag d;
    jet_diag_clear(&d);
    int rc = jet_config_load(in_path, &c, &d);
    if (rc != 0) {
        CHECK(rc == JET_ECONFIG);
        check_diag(in_path, &d);
        return 0;
    }
    CHECK(c.max_frame >= 4096 && c.max_frame <= 64u * 1024 * 1024);
    CHECK(memchr(c.name, '\0', sizeof c.name) != NULL);
    CHECK(memchr(c.region, '\0', sizeof c.region) != NULL);
    CHECK(memchr(c.listen, '\0', sizeof c.listen) != NULL);
    CHECK(memchr(c.sync_at, '\0', sizeof c.sync_at) != NULL);

    /* Round trip through the writer. */
    unlink(out_path);
    jet_diag_clear(&d);
    rc = jet_config_write(out_path, &c, &d);
    CHECK(rc == 0);
    jet_config c2;
    jet_config_default(&c2);
    jet_diag_clear(&d);
    rc = jet_config_load(out_path, &c2, &d);
    if (rc != 0)
        fprintf(stderr, "a written configuration does not load: %s\n", d.msg);
    CHECK(rc == 0);
    CHECK(strcmp(c.name, c2.name) == 0);
    CHECK(strcmp(c.region, c2.region) == 0);
    CHECK(c.lead == c2.lead);
    CHECK(c.max_frame == c2.max_frame);
    CHECK(c.stats_k == c2.stats_k);
    return 0;
}
