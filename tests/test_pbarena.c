/* test_pbarena.c - the bump allocator for protobuf-c unpacking (common/pbarena.c): what it
 * unpacks equals what the default allocator unpacks, small messages come from the arena, a
 * message too large for it comes from malloc and makes the next buffer bigger, and a message
 * too large to keep a buffer for leaves the buffer as it was. ASan checks the frees. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "pbarena.h"
#include "stats.h"
#include "stats.pb-c.h"
#include "testutil.h"

/* The payload of a one-dimension chunk of `n` cells (n - 1 categories and their total). */
static uint8_t *chunk_payload(size_t n, size_t *len) {
    size_t ncat = n - 1;
    char **names = calloc(ncat, sizeof *names);
    int64_t *value = calloc(n, sizeof *value);
    uint8_t *status = calloc(n, 1);
    assert_non_null(names);
    assert_non_null(value);
    assert_non_null(status);
    for (size_t i = 0; i < ncat; i++) {
        names[i] = malloc(16);
        assert_non_null(names[i]);
        snprintf(names[i], 16, "A%05zu", i);
        value[i] = 20 + (int64_t)(i % 900);
        value[ncat] += value[i];
    }
    jet_stats_chunk_spec spec = {.region = "IT-C",
                                 .indicator = "ENROLLED",
                                 .period = "2024/25",
                                 .version = 1,
                                 .chunk_count = 1,
                                 .import_time = 1735689600,
                                 .k = 5,
                                 .ndims = 1,
                                 .ncells = n,
                                 .len = n,
                                 .value = value,
                                 .status = status};
    spec.dim[0] = JET_DIM_AREA;
    spec.size[0] = (unsigned)ncat;
    spec.category[0] = (const char *const *)names;
    uint8_t *out = NULL;
    assert_ok(jet_stats_chunk_encode(&spec, &out, len));
    for (size_t i = 0; i < ncat; i++)
        free(names[i]);
    free(names);
    free(value);
    free(status);
    return out;
}

/* Unpacks `p` with the arena and compares it field by field with a default unpack. */
static void unpack_same(const uint8_t *p, size_t len) {
    Jet__StatsChunk *want = jet__stats_chunk__unpack(NULL, len, p);
    assert_non_null(want);
    ProtobufCAllocator *a = jet_pbarena_begin();
    Jet__StatsChunk *got = jet__stats_chunk__unpack(a, len, p);
    assert_non_null(got);
    assert_string_equal(got->region, want->region);
    assert_int_equal(got->ncells, want->ncells);
    assert_int_equal(got->n_value, want->n_value);
    assert_memory_equal(got->value, want->value, want->n_value * sizeof *want->value);
    assert_int_equal(got->n_dims, want->n_dims);
    assert_int_equal(got->dims[0]->n_category, want->dims[0]->n_category);
    for (size_t i = 0; i < want->dims[0]->n_category; i++)
        assert_string_equal(got->dims[0]->category[i], want->dims[0]->category[i]);
    jet__stats_chunk__free_unpacked(got, a);
    jet_pbarena_end(a);
    jet__stats_chunk__free_unpacked(want, NULL);
}

/* 1 when `p` lies in the thread's current arena buffer (probed with a one-byte allocation). */
static int from_arena(const void *p, const void *probe_base, size_t cap) {
    const uint8_t *q = p, *b = probe_base;
    return q >= b && q < b + cap;
}

static void test_small_message_comes_from_the_arena(void **state) {
    (void)state;
    size_t len;
    uint8_t *p = chunk_payload(391, &len);
    unpack_same(p, len);
    /* Two uses in a row hand out the same memory: the second begin took the first back. */
    ProtobufCAllocator *a = jet_pbarena_begin();
    Jet__StatsChunk *m1 = jet__stats_chunk__unpack(a, len, p);
    assert_non_null(m1);
    void *first = m1;
    jet__stats_chunk__free_unpacked(m1, a);
    jet_pbarena_end(a);
    a = jet_pbarena_begin();
    Jet__StatsChunk *m2 = jet__stats_chunk__unpack(a, len, p);
    assert_ptr_equal(m2, first);
    assert_true(from_arena(m2->value, first, JET_PBARENA_INITIAL));
    jet__stats_chunk__free_unpacked(m2, a);
    jet_pbarena_end(a);
    free(p);
    jet_pbarena_release();
}

static void test_overflow_uses_malloc_and_grows(void **state) {
    (void)state;
    size_t len;
    /* 8,192 values of 8 bytes (64 KiB) and 8,191 names: more than the first 64 KiB buffer, less
     * than the kept 1 MiB. */
    uint8_t *p = chunk_payload(JET_STATS_CHUNK_CELLS, &len);
    ProtobufCAllocator *a = jet_pbarena_begin();
    Jet__StatsChunk *m = jet__stats_chunk__unpack(a, len, p);
    assert_non_null(m);
    void *base = m;
    assert_false(from_arena(m->value, base, JET_PBARENA_INITIAL)); /* did not fit: malloc */
    jet__stats_chunk__free_unpacked(m, a);                         /* ASan: freed once */
    jet_pbarena_end(a);
    /* The next use had room made for it: now the values come from the arena. */
    a = jet_pbarena_begin();
    m = jet__stats_chunk__unpack(a, len, p);
    assert_non_null(m);
    assert_true(from_arena(m->value, m, 1024 * 1024));
    jet__stats_chunk__free_unpacked(m, a);
    jet_pbarena_end(a);
    unpack_same(p, len);
    free(p);
    jet_pbarena_release();
}

static void test_huge_message_is_not_kept(void **state) {
    (void)state;
    /* No valid chunk unpacks to more than JET_PBARENA_KEEP, but a hostile payload of 512 KiB
     * of one-byte values does (4 MB): packed here by hand, past the encoder's limits. */
    Jet__StatsChunk big = JET__STATS_CHUNK__INIT;
    big.n_value = 200001;
    big.value = calloc(big.n_value, sizeof *big.value);
    assert_non_null(big.value);
    size_t len = jet__stats_chunk__get_packed_size(&big);
    uint8_t *p = malloc(len);
    assert_non_null(p);
    jet__stats_chunk__pack(&big, p);
    free(big.value);
    for (int round = 0; round < 2; round++) {
        ProtobufCAllocator *a = jet_pbarena_begin();
        Jet__StatsChunk *m = jet__stats_chunk__unpack(a, len, p);
        assert_non_null(m);
        assert_false(from_arena(m->value, m, JET_PBARENA_INITIAL)); /* malloc, both rounds */
        jet__stats_chunk__free_unpacked(m, a);
        jet_pbarena_end(a);
    }
    free(p);
    jet_pbarena_release();
}

static void test_malformed_input_frees_what_it_took(void **state) {
    (void)state;
    size_t len;
    uint8_t *p = chunk_payload(8001, &len);
    /* Cut inside the packed values: protobuf-c frees its partial message through the arena's
     * free (part arena, part malloc); ASan reports a leak or a bad free if that goes wrong. */
    ProtobufCAllocator *a = jet_pbarena_begin();
    assert_null(jet__stats_chunk__unpack(a, len - 7, p));
    jet_pbarena_end(a);
    free(p);
    jet_pbarena_release();
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_message_comes_from_the_arena),
        cmocka_unit_test(test_overflow_uses_malloc_and_grows),
        cmocka_unit_test(test_huge_message_is_not_kept),
        cmocka_unit_test(test_malformed_input_frees_what_it_took),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
