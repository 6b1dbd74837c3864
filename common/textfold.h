/* textfold.h - UTF-8 checking, case and accent folding, and word splitting for search.
 *
 * Folding maps text to a search form: Latin letters lose case and diacritics and ligatures are
 * spelt out (Å/å/ä -> a, Ö/ø -> o, é -> e, ç -> c, æ -> ae, ß -> ss, ș/ş -> s, ț/ţ -> t,
 * ă/â -> a, î -> i, ł -> l, đ -> d, þ -> th, ...), combining marks (U+0300..U+036F, the
 * decomposed form of the same accents) are dropped, Greek and Cyrillic capitals become lower
 * case; every other character is kept as it is. The result is deterministic and needs no locale,
 * so every node builds the same search index. */
#ifndef JET_TEXTFOLD_H
#define JET_TEXTFOLD_H

#include <stddef.h>
#include <stdint.h>

enum {
    /* Tokens longer than this many bytes are cut (on a character boundary) to this length. */
    JET_TEXTFOLD_MAX_TOKEN = 64,
};

/* Returns 1 when s[0..len) is well-formed UTF-8 (shortest forms only, no surrogates, nothing
 * above U+10FFFF), else 0 and, when `bad` is not NULL, the byte offset of the first bad byte. */
int jet_textfold_utf8_valid(const char *s, size_t len, size_t *bad);

/* Decodes the character at s[0..len) (len > 0) into *cp and returns its length in bytes; a
 * malformed sequence decodes as U+FFFD of length 1. */
size_t jet_textfold_decode(const char *s, size_t len, uint32_t *cp);

/* Folds s[0..len) into `out` (capacity `cap`, always NUL-terminated when cap > 0) and returns
 * the length of the whole folded text, which may exceed cap - 1 (then the output is cut on a
 * character boundary). */
size_t jet_textfold_fold(const char *s, size_t len, char *out, size_t cap);

/* Called for each word; `tok` is folded, not NUL-terminated, 1..JET_TEXTFOLD_MAX_TOKEN bytes.
 * Return 0 to go on or a negative code to stop (jet_textfold_tokens then returns it). */
typedef int (*jet_textfold_token_fn)(const char *tok, size_t len, void *ctx);

/* Splits s[0..len) into folded words: runs of letters and digits of any script; everything
 * else (spaces, punctuation, symbols, '#', '-', apostrophes) separates words. Returns 0 or the
 * first negative result of `fn`. */
int jet_textfold_tokens(const char *s, size_t len, jet_textfold_token_fn fn, void *ctx);

#endif
