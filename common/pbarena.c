/* pbarena.c - a bump allocator for protobuf-c unpacking; see pbarena.h. */
#include "pbarena.h"

#include <stdint.h>
#include <stdlib.h>

typedef struct arena {
    ProtobufCAllocator alloc; /* first: the allocator's data points back to the arena */
    uint8_t *buf;
    size_t cap, used;
    size_t wanted; /* bytes asked for in this use, fitting or not: the next size */
} arena;

static _Thread_local arena thread_arena;

/* protobuf-c keeps pointers and 64-bit integers in what it allocates. */
enum { ALIGN = 16 };

static void *arena_alloc(void *data, size_t size) {
    arena *a = data;
    size_t need = (size + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (need < size)
        return NULL; /* overflow */
    a->wanted += need;
    if (a->buf != NULL && need <= a->cap - a->used) {
        void *p = a->buf + a->used;
        a->used += need;
        return p;
    }
    return malloc(size);
}

static void arena_free(void *data, void *p) {
    arena *a = data;
    const uint8_t *q = p;
    /* Memory of the arena comes back all at once in jet_pbarena_end. */
    if (a->buf != NULL && q >= a->buf && q < a->buf + a->cap)
        return;
    free(p);
}

ProtobufCAllocator *jet_pbarena_begin(void) {
    arena *a = &thread_arena;
    if (a->buf == NULL) {
        a->buf = malloc(JET_PBARENA_INITIAL);
        a->cap = a->buf != NULL ? JET_PBARENA_INITIAL : 0;
    }
    a->used = 0;
    a->wanted = 0;
    a->alloc.alloc = arena_alloc;
    a->alloc.free = arena_free;
    a->alloc.allocator_data = a;
    return &a->alloc;
}

void jet_pbarena_end(ProtobufCAllocator *alloc) {
    arena *a = alloc->allocator_data;
    a->used = 0;
    if (a->wanted <= a->cap || a->wanted > JET_PBARENA_KEEP)
        return;
    /* This use overflowed: the next one gets room for it (its pieces all went back through
     * free_unpacked, so the old buffer holds nothing). */
    uint8_t *bigger = malloc(a->wanted);
    if (bigger == NULL)
        return;
    free(a->buf);
    a->buf = bigger;
    a->cap = a->wanted;
}

void jet_pbarena_release(void) {
    arena *a = &thread_arena;
    free(a->buf);
    a->buf = NULL;
    a->cap = a->used = a->wanted = 0;
}
