/* toolkit_pb.h - private to the toolkit module (toolkit.c, toolkit_view.c, toolkit_json.c): the
 * definition of jet_toolkit_entry over the protobuf-c message of proto/toolkit.proto, and the
 * helpers the three files share. Nothing outside the toolkit module includes this header or
 * toolkit.pb-c.h. */
#ifndef JET_TOOLKIT_PB_H
#define JET_TOOLKIT_PB_H

#include "toolkit.h"
#include "toolkit.pb-c.h"

struct jet_toolkit_entry {
    /* One version of the entry, as unpacked by protobuf-c with the default allocator (owned:
     * freed by jet__toolkit__entry__free_unpacked), or NULL for a withdrawal. */
    Jet__Toolkit__Entry *pb;
    /* For a withdrawal, and mirrored from pb for a version. */
    uint8_t author[32];
    char id[JET_TOOLKIT_MAX_ID + 1];
    uint64_t version;
    int64_t published;
};

/* Wraps an unpacked message (taking ownership; freed on failure). Returns NULL when out of
 * memory. */
jet_toolkit_entry *jet__toolkit_entry_adopt(Jet__Toolkit__Entry *pb);

/* Packs pb into a new buffer (free() it). Returns 0 or JET_ENOMEM. */
int jet__toolkit_pack(const Jet__Toolkit__Entry *pb, uint8_t **out, size_t *len);

/* The rules of jet_toolkit_entry_validate() on a message (toolkit.c). */
int jet__toolkit_validate_pb(const Jet__Toolkit__Entry *e, jet_toolkit_problem *p);

/* 1 when s is a valid entry id: 1..JET_TOOLKIT_MAX_ID of a-z, 0-9 and single inner '-'. */
int jet__toolkit_is_slug(const char *s);

/* The newest version held of (author, id), live or withdrawn (toolkit_view.c). `withdrawn` may
 * be NULL. Returns 0, JET_ENOTFOUND or a store error. */
int jet__toolkit_held(jet_txn *txn, const char *id, const uint8_t author[32], uint64_t *version,
                      int *withdrawn);

#endif
