/* encoding.h - text forms of binary values: node ids (base64url, no padding) and hex. */
#ifndef JET_ENCODING_H
#define JET_ENCODING_H

#include <stddef.h>
#include <stdint.h>

#define JET_KEY_BYTES 32
/* A node id is the base64url (no padding) text of a 32-byte Ed25519 public key. */
#define JET_NODE_ID_CHARS 43
#define JET_NODE_ID_BUF (JET_NODE_ID_CHARS + 1)

/* Writes the node id of `key` into `out` (JET_NODE_ID_BUF bytes, NUL-terminated). */
void jet_node_id_format(const uint8_t key[JET_KEY_BYTES], char out[JET_NODE_ID_BUF]);

/* Parses a node id. Returns 0, or JET_EINVAL when it is not 43 base64url characters. */
int jet_node_id_parse(const char *text, uint8_t key[JET_KEY_BYTES]);

/* Writes lowercase hex of `len` bytes into `out` (2*len+1 bytes). */
void jet_hex_format(const uint8_t *bytes, size_t len, char *out);

/* Big-endian stores and loads for keys that must sort by number. */
void jet_put_be64(uint8_t *p, uint64_t v);
uint64_t jet_get_be64(const uint8_t *p);
void jet_put_be32(uint8_t *p, uint32_t v);
uint32_t jet_get_be32(const uint8_t *p);

#endif
