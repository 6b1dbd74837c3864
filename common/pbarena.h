/* pbarena.h - a bump allocator for protobuf-c unpacking on hot paths.
 *
 * protobuf-c allocates every string, array and submessage of an unpacked message on its own:
 * a statistics chunk of a few hundred cells costs about forty malloc/free pairs, and the lead's
 * commit thread unpacks one per record it takes in. An arena hands out that memory from one
 * buffer kept per thread and takes it all back at once.
 *
 * Use, on one thread:
 *     ProtobufCAllocator *a = jet_pbarena_begin();
 *     M *m = m__unpack(a, len, data);
 *     ... use m ...
 *     m__free_unpacked(m, a);  (when m != NULL: frees only what did not fit)
 *     jet_pbarena_end(a);
 * Begin/end pairs do not nest: each begin takes back whatever the thread's arena held. What
 * does not fit the arena comes from malloc and goes back through free_unpacked as usual. */
#ifndef JET_PBARENA_H
#define JET_PBARENA_H

#include <protobuf-c/protobuf-c.h>

enum {
    JET_PBARENA_INITIAL = 64 * 1024, /* the first buffer of a thread */
    JET_PBARENA_KEEP = 1024 * 1024,  /* a larger buffer is released at end, not kept */
};

/* The calling thread's arena, emptied; never NULL (without memory it hands out malloc). */
ProtobufCAllocator *jet_pbarena_begin(void);

/* Ends a use: the next begin reuses the buffer. Grows the buffer for next time when this use
 * overflowed it, up to JET_PBARENA_KEEP. */
void jet_pbarena_end(ProtobufCAllocator *a);

/* Frees the calling thread's buffer (for tests and leak checkers; threads that end leak it
 * otherwise, as it is theirs for the process's life). */
void jet_pbarena_release(void);

#endif
