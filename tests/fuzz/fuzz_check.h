/* fuzz_check.h - the one check every libFuzzer target uses: always on, whatever NDEBUG says,
 * because a failed check is the finding. */
#ifndef JET_FUZZ_CHECK_H
#define JET_FUZZ_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
