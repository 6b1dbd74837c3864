/* stats_internal.h - what stats.c and stats_view.c share about the view's databases; not a
 * public interface (jet__ prefix). The layout is documented in stats.h. */
#ifndef JET_STATS_INTERNAL_H
#define JET_STATS_INTERNAL_H

#include <stdint.h>

#include "indicators.h"
#include "stats.pb-c.h"

enum {
    /* [0x01 for the lead's figures] region NUL indicator NUL period NUL */
    REL_KEY_MAX = 1 + 3 * (JET_CODE_MAX + 1),
    FIGURES_KEY_BYTE = 0x01,              /* sorts before every region code */
    HDR_LEN = 32 + 8 + 8 + 4 + 4 + 8 + 8, /* origin version time k nchunks ncells suppressed */
    REF_LEN = 16,                         /* epoch seq of a chunk's record */
    BUNDLE_REF_LEN = REF_LEN + 4,         /* epoch seq item: a release held in a bundle */
};

/* The value of JET_DB_STATS: the current release of a (region, indicator, period). */
typedef struct jet__stats_header {
    uint8_t origin[32];
    uint64_t version;
    int64_t import_time;
    uint32_t k;
    uint32_t nchunks;
    uint64_t ncells;
    uint64_t suppressed;
} jet__stats_header;

/* Writes the JET_DB_STATS key of (region, indicator, period), in the figures' key space when
 * `figures` is 1, into `key` (REL_KEY_MAX bytes); returns its length. */
size_t jet__stats_rel_key(uint8_t *key, int figures, const char *region, const char *indicator,
                          const char *period);

/* Decodes HDR_LEN bytes of a JET_DB_STATS value. */
void jet__stats_header_get(const uint8_t *p, jet__stats_header *h);

/* 1 when a decoded chunk is consistent in itself (codes, counts, bounds, and for chunk 0 the
 * dimensions giving its cell count); 0 otherwise. */
int jet__stats_chunk_valid(const Jet__StatsChunk *m);

#endif
