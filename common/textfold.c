/* textfold.c - UTF-8 checking, folding and word splitting (see textfold.h).
 *
 * The folding tables cover Latin-1 Supplement, Latin Extended-A, Latin Extended-B (Romanian
 * comma-below letters, Sámi letters, Pinyin tones, ...) and Latin Extended Additional
 * (Vietnamese and others). They were derived from the Unicode decompositions (the base letter of
 * each character's canonical decomposition) plus the letters that have none (ø, æ, ß, þ, ð, đ,
 * ł, ŋ, ħ, ı, ŧ, ...). In a table, ' ' means "not a Latin letter with a base letter" (the
 * character is kept) and '*' means "spelt with two letters" (see fold_two()). */
#include "textfold.h"

#include <string.h>

/* U+00C0..U+00FF. × and ÷ are symbols (word separators, see is_separator()). */
static const char tab_latin1[] = "aaaaaa*ceeeeiiiidnooooo ouuuuy**"
                                 "aaaaaa*ceeeeiiiidnooooo ouuuuy*y";
/* U+0100..U+017F. */
static const char tab_ext_a[] = "aaaaaaccccccccddddeeeeeeeeeegggg"
                                "gggghhhhiiiiiiiiii**jjkkklllllll"
                                "lllnnnnnnnnnoooooo**rrrrrrssssss"
                                "ssttttttuuuuuuuuuuuuwwyyyzzzzzzs";
/* U+0180..U+024F. */
static const char tab_ext_b[] = "bbbb   ccdd      ffg   ikkl  nno"
                                "oo  pp     ttttuu vyyzzz        "
                                "    *********aaiioouuuuuuuuuu aa"
                                "aa**ggggkkoooozzj***gg  nnaa**  "
                                "aaaaeeeeiiiioooorrrruuuusstt  hh"
                                " d  zzaaeeooooooooyylntj  accl s"
                                "z  buveejj  rryy";
/* U+1E00..U+1EFF. */
static const char tab_ext_add[] = "aabbbbbbccddddddddddeeeeeeeeeeff"
                                  "gghhhhhhhhhhiiiikkkkkkllllllllmm"
                                  "mmmmnnnnnnnnoooooooopppprrrrrrrr"
                                  "ssssssssssttttttttuuuuuuuuuuvvvv"
                                  "wwwwwwwwwwxxxxyyzzzzzzhtwyasss*d"
                                  "aaaaaaaaaaaaaaaaaaaaaaaaeeeeeeee"
                                  "eeeeeeeeiiiioooooooooooooooooooo"
                                  "oooouuuuuuuuuuuuuuyyyyyyyyllvvyy";

_Static_assert(sizeof tab_latin1 == 64 + 1, "U+00C0..U+00FF");
_Static_assert(sizeof tab_ext_a == 128 + 1, "U+0100..U+017F");
_Static_assert(sizeof tab_ext_b == 208 + 1, "U+0180..U+024F");
_Static_assert(sizeof tab_ext_add == 256 + 1, "U+1E00..U+1EFF");

/* The characters whose table entry is '*'. */
static const char *fold_two(uint32_t cp) {
    switch (cp) {
    case 0x00C6:
    case 0x00E6:
    case 0x01E2:
    case 0x01E3:
    case 0x01FC:
    case 0x01FD: return "ae";
    case 0x00DE:
    case 0x00FE: return "th";
    case 0x00DF:
    case 0x1E9E: return "ss";
    case 0x0132:
    case 0x0133: return "ij";
    case 0x0152:
    case 0x0153: return "oe";
    case 0x01C4:
    case 0x01C5:
    case 0x01C6:
    case 0x01F1:
    case 0x01F2:
    case 0x01F3: return "dz";
    case 0x01C7:
    case 0x01C8:
    case 0x01C9: return "lj";
    default: return "nj"; /* U+01CA..U+01CC */
    }
}

/* The folded spelling of a Latin letter, or NULL when cp is not in the tables. */
static const char *fold_latin(uint32_t cp, char buf[2]) {
    char c = ' ';
    if (cp >= 0xC0 && cp <= 0xFF)
        c = tab_latin1[cp - 0xC0];
    else if (cp >= 0x100 && cp <= 0x17F)
        c = tab_ext_a[cp - 0x100];
    else if (cp >= 0x180 && cp <= 0x24F)
        c = tab_ext_b[cp - 0x180];
    else if (cp >= 0x1E00 && cp <= 0x1EFF)
        c = tab_ext_add[cp - 0x1E00];
    if (c == ' ')
        return NULL;
    if (c == '*')
        return fold_two(cp);
    buf[0] = c;
    buf[1] = '\0';
    return buf;
}

int jet_textfold_utf8_valid(const char *s, size_t len, size_t *bad) {
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        size_t n;
        uint32_t cp, min;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            n = 2, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            n = 3, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 4, cp = c & 0x07, min = 0x10000;
        } else {
            goto fail;
        }
        if (len - i < n)
            goto fail;
        for (size_t k = 1; k < n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                goto fail;
            cp = (cp << 6) | (p[i + k] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            goto fail;
        i += n;
    }
    return 1;
fail:
    if (bad)
        *bad = i;
    return 0;
}

size_t jet_textfold_decode(const char *s, size_t len, uint32_t *cp) {
    const unsigned char *p = (const unsigned char *)s;
    unsigned c = p[0];
    size_t n;
    uint32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        n = 2, v = c & 0x1F, min = 0x80;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3, v = c & 0x0F, min = 0x800;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4, v = c & 0x07, min = 0x10000;
    } else {
        goto bad;
    }
    if (len < n)
        goto bad;
    for (size_t k = 1; k < n; k++) {
        if ((p[k] & 0xC0) != 0x80)
            goto bad;
        v = (v << 6) | (p[k] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF))
        goto bad;
    *cp = v;
    return n;
bad:
    *cp = 0xFFFD;
    return 1;
}

static size_t encode(uint32_t cp, char out[4]) {
    if (cp < 0x80) {
        out[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        out[0] = (char)(0xC0 | (cp >> 6));
        out[1] = (char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        out[0] = (char)(0xE0 | (cp >> 12));
        out[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[2] = (char)(0x80 | (cp & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (cp >> 18));
    out[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[3] = (char)(0x80 | (cp & 0x3F));
    return 4;
}

/* Lower case for the other alphabets of Europe (Greek, Cyrillic), without accents on Greek. */
static uint32_t lower_other(uint32_t cp) {
    if (cp >= 0x0391 && cp <= 0x03A9 && cp != 0x03A2)
        return cp + 0x20;
    switch (cp) { /* Greek vowels with tonos or dialytika */
    case 0x0386:
    case 0x03AC: return 0x03B1;
    case 0x0388:
    case 0x03AD: return 0x03B5;
    case 0x0389:
    case 0x03AE: return 0x03B7;
    case 0x038A:
    case 0x03AF:
    case 0x03AA:
    case 0x03CA:
    case 0x0390: return 0x03B9;
    case 0x038C:
    case 0x03CC: return 0x03BF;
    case 0x038E:
    case 0x03CD:
    case 0x03AB:
    case 0x03CB:
    case 0x03B0: return 0x03C5;
    case 0x038F:
    case 0x03CE: return 0x03C9;
    case 0x03C2: return 0x03C3; /* final sigma */
    default: break;
    }
    if (cp >= 0x0410 && cp <= 0x042F)
        return cp + 0x20;
    if (cp >= 0x0400 && cp <= 0x040F)
        return cp + 0x50;
    if (cp >= 0x0460 && cp <= 0x04FF && cp % 2 == 0 && !(cp >= 0x0482 && cp <= 0x0489) &&
        !(cp >= 0x04C0 && cp <= 0x04CF))
        return cp + 1;
    return cp;
}

/* Combining marks: the decomposed form of accents; folding drops them. */
static int is_combining(uint32_t cp) {
    return (cp >= 0x0300 && cp <= 0x036F) || (cp >= 0x1AB0 && cp <= 0x1AFF) ||
           (cp >= 0x1DC0 && cp <= 0x1DFF) || (cp >= 0x20D0 && cp <= 0x20FF) ||
           (cp >= 0xFE20 && cp <= 0xFE2F);
}

/* Characters that separate words: ASCII other than letters and digits, Latin-1 punctuation and
 * symbols, general punctuation, symbols and arrows, CJK punctuation, full-width ASCII
 * punctuation, emoji, and anything malformed. */
static int is_separator(uint32_t cp) {
    if (cp < 0x80)
        return !((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9'));
    if (cp <= 0xBF)
        return cp != 0xAA && cp != 0xB5 && cp != 0xBA; /* ª µ º are letters */
    if (cp == 0xD7 || cp == 0xF7)
        return 1;
    if (cp >= 0x2000 && cp <= 0x2BFF)
        return 1;
    if (cp >= 0x3000 && cp <= 0x303F)
        return 1;
    if (cp >= 0xFE30 && cp <= 0xFE4F)
        return 1;
    if ((cp >= 0xFF00 && cp <= 0xFF0F) || (cp >= 0xFF1A && cp <= 0xFF20) ||
        (cp >= 0xFF3B && cp <= 0xFF40) || (cp >= 0xFF5B && cp <= 0xFF65))
        return 1;
    if (cp >= 0x1F000 && cp <= 0x1FAFF)
        return 1;
    return cp == 0xFFFD || cp == 0xFEFF || (cp >= 0xE000 && cp <= 0xF8FF);
}

/* Appends the folded form of cp to out (at most 4 bytes) and returns its length. */
static size_t fold_char(uint32_t cp, char out[4]) {
    char buf[2];
    const char *f;
    if (cp < 0x80) {
        out[0] = (char)((cp >= 'A' && cp <= 'Z') ? cp + 32 : cp);
        return 1;
    }
    if (is_combining(cp))
        return 0;
    f = fold_latin(cp, buf);
    if (f) {
        size_t n = strlen(f);
        memcpy(out, f, n);
        return n;
    }
    return encode(lower_other(cp), out);
}

size_t jet_textfold_fold(const char *s, size_t len, char *out, size_t cap) {
    size_t total = 0, used = 0, i = 0;
    int full = 0;
    while (i < len) {
        uint32_t cp;
        char tmp[4];
        size_t n;
        i += jet_textfold_decode(s + i, len - i, &cp);
        n = fold_char(cp, tmp);
        total += n;
        if (!full && cap > 0 && used + n < cap) {
            memcpy(out + used, tmp, n);
            used += n;
        } else {
            full = 1;
        }
    }
    if (cap > 0)
        out[used] = '\0';
    return total;
}

int jet_textfold_tokens(const char *s, size_t len, jet_textfold_token_fn fn, void *ctx) {
    char tok[JET_TEXTFOLD_MAX_TOKEN];
    size_t tlen = 0, i = 0;
    int rc;
    while (i <= len) {
        uint32_t cp = ' ';
        if (i < len)
            i += jet_textfold_decode(s + i, len - i, &cp);
        else
            i++; /* the end of the text ends the last word */
        if (is_separator(cp)) {
            if (tlen > 0 && (rc = fn(tok, tlen, ctx)) < 0)
                return rc;
            tlen = 0;
            continue;
        }
        char tmp[4];
        size_t n = fold_char(cp, tmp);
        if (tlen + n <= sizeof tok) {
            memcpy(tok + tlen, tmp, n);
            tlen += n;
        }
    }
    return 0;
}
