/* test_textfold.c - UTF-8 checking, folding and word splitting. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "textfold.h"

static void test_utf8_valid(void **state) {
    size_t bad = 99;
    (void)state;
    assert_true(jet_textfold_utf8_valid("", 0, NULL));
    assert_true(jet_textfold_utf8_valid("plain ascii", 11, NULL));
    assert_true(jet_textfold_utf8_valid("Närvaro Ødeshög ș ț €  🙂",
                                        strlen("Närvaro Ødeshög ș ț €  🙂"), NULL));
    /* a lone continuation byte */
    assert_false(jet_textfold_utf8_valid("ab\x80", 3, &bad));
    assert_int_equal(bad, 2);
    /* overlong encodings of '/' and NUL */
    assert_false(jet_textfold_utf8_valid("\xC0\xAF", 2, &bad));
    assert_int_equal(bad, 0);
    assert_false(jet_textfold_utf8_valid("x\xE0\x80\xAF", 4, &bad));
    assert_int_equal(bad, 1);
    /* a UTF-16 surrogate */
    assert_false(jet_textfold_utf8_valid("\xED\xA0\x80", 3, NULL));
    /* above U+10FFFF */
    assert_false(jet_textfold_utf8_valid("\xF4\x90\x80\x80", 4, NULL));
    /* truncated sequence at the end */
    assert_false(jet_textfold_utf8_valid("ok\xC3", 3, &bad));
    assert_int_equal(bad, 2);
    /* Latin-1 bytes, the usual mistake */
    assert_false(jet_textfold_utf8_valid("N\xE4rvaro", 7, &bad));
    assert_int_equal(bad, 1);
}

static void check_fold(const char *in, const char *want) {
    char out[256];
    size_t n = jet_textfold_fold(in, strlen(in), out, sizeof out);
    if (strcmp(out, want) != 0)
        fail_msg("fold(\"%s\") = \"%s\", want \"%s\"", in, out, want);
    assert_int_equal(n, strlen(want));
}

static void test_fold_latin(void **state) {
    (void)state;
    check_fold("Åsa ÄRLIG Öberg", "asa arlig oberg");                           /* Swedish */
    check_fold("Koulunkäynnin keskeyttämistä", "koulunkaynnin keskeyttamista"); /* Finnish */
    check_fold("Østfold Ærø blåbær", "ostfold aero blabaer");         /* Norwegian, Danish */
    check_fold("Straße STRASSE", "strasse strasse");                  /* German */
    check_fold("Ștefan Țară Şcoală Ţară", "stefan tara scoala tara"); /* Romanian, both forms */
    check_fold("înțelegere ăâ", "intelegere aa");
    check_fold("Fundació Ocupació Llindar", "fundacio ocupacio llindar"); /* Catalan */
    check_fold("Perché è così", "perche e cosi");                         /* Italian */
    check_fold("Ça, élève, Noël", "ca, eleve, noel");                     /* French */
    check_fold("Łódź Żółć", "lodz zolc");                                 /* Polish */
    check_fold("Þór Garðar", "thor gardar");                              /* Icelandic */
    check_fold("Ŋuorra čáppa đ", "nuorra cappa d");                       /* Sámi */
    check_fold("Tiếng Việt", "tieng viet"); /* Latin Extended Additional */
    check_fold("A\xCC\x8A"
               "sa",
               "asa");                          /* decomposed Å */
    check_fold("ΑΘΉΝΑ МОСКВА", "αθηνα москва"); /* Greek, Cyrillic case */
    check_fold("中文 3×4", "中文 3×4");         /* kept as they are */
}

static void test_fold_truncates_on_boundary(void **state) {
    char out[4];
    (void)state;
    /* "äää" folds to "aaa"; with room for 3 bytes + NUL all fit, with 3 only two. */
    assert_int_equal(jet_textfold_fold("äää", strlen("äää"), out, 4), 3);
    assert_string_equal(out, "aaa");
    assert_int_equal(jet_textfold_fold("中文", strlen("中文"), out, 4), 6);
    assert_string_equal(out, "中");
}

typedef struct toks {
    char v[16][JET_TEXTFOLD_MAX_TOKEN + 1];
    int n;
} toks;

static int collect(const char *tok, size_t len, void *ctx) {
    toks *t = ctx;
    assert_true(len >= 1 && len <= JET_TEXTFOLD_MAX_TOKEN);
    if (t->n < 16) {
        memcpy(t->v[t->n], tok, len);
        t->v[t->n][len] = 0;
        t->n++;
    }
    return 0;
}

static void test_tokens(void **state) {
    toks t = {.n = 0};
    const char *s = "#jagmed – Plug In 2.0, sportello d’ascolto; Nuoriso-ohjaajat «Närvaro»!";
    (void)state;
    assert_int_equal(jet_textfold_tokens(s, strlen(s), collect, &t), 0);
    const char *want[] = {"jagmed", "plug",    "in",      "2",        "0",      "sportello",
                          "d",      "ascolto", "nuoriso", "ohjaajat", "narvaro"};
    assert_int_equal(t.n, 11);
    for (int i = 0; i < 11; i++)
        assert_string_equal(t.v[i], want[i]);
}

static void test_tokens_long_word_is_cut(void **state) {
    char word[200];
    toks t = {.n = 0};
    (void)state;
    memset(word, 'k', sizeof word);
    memcpy(word + 63, "ä", 2); /* a 2-byte character across the 64-byte limit */
    assert_int_equal(jet_textfold_tokens(word, sizeof word, collect, &t), 0);
    assert_int_equal(t.n, 1);
    assert_int_equal(strlen(t.v[0]), 64);
    assert_int_equal(t.v[0][63], 'a');
}

static int stop_at_second(const char *tok, size_t len, void *ctx) {
    int *n = ctx;
    (void)tok;
    (void)len;
    return ++*n == 2 ? -7 : 0;
}

static void test_tokens_stop(void **state) {
    int n = 0;
    (void)state;
    assert_int_equal(jet_textfold_tokens("a b c", 5, stop_at_second, &n), -7);
    assert_int_equal(n, 2);
}

static void test_tokens_invalid_utf8_separates(void **state) {
    toks t = {.n = 0};
    (void)state;
    assert_int_equal(jet_textfold_tokens("ab\xFF"
                                         "cd",
                                         5, collect, &t),
                     0);
    assert_int_equal(t.n, 2);
    assert_string_equal(t.v[0], "ab");
    assert_string_equal(t.v[1], "cd");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_fold_latin),
        cmocka_unit_test(test_fold_truncates_on_boundary),
        cmocka_unit_test(test_tokens),
        cmocka_unit_test(test_tokens_long_word_is_cut),
        cmocka_unit_test(test_tokens_stop),
        cmocka_unit_test(test_tokens_invalid_utf8_separates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
