/* encoding.c - node ids, hex and big-endian integers. */
#include "encoding.h"

#include <sodium.h>
#include <string.h>

#include "error.h"

void jet_node_id_format(const uint8_t key[JET_KEY_BYTES], char out[JET_NODE_ID_BUF]) {
    sodium_bin2base64(out, JET_NODE_ID_BUF, key, JET_KEY_BYTES,
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
}

int jet_node_id_parse(const char *text, uint8_t key[JET_KEY_BYTES]) {
    size_t bin_len = 0;
    if (text == NULL || strlen(text) != JET_NODE_ID_CHARS)
        return JET_EINVAL;
    if (sodium_base642bin(key, JET_KEY_BYTES, text, JET_NODE_ID_CHARS, NULL, &bin_len, NULL,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        bin_len != JET_KEY_BYTES)
        return JET_EINVAL;
    return 0;
}

void jet_hex_format(const uint8_t *bytes, size_t len, char *out) {
    sodium_bin2hex(out, len * 2 + 1, bytes, len);
}

void jet_put_be64(uint8_t *p, uint64_t v) {
    for (int i = 7; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

uint64_t jet_get_be64(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = (v << 8) | p[i];
    return v;
}

void jet_put_be32(uint8_t *p, uint32_t v) {
    for (int i = 3; i >= 0; i--, v >>= 8)
        p[i] = (uint8_t)v;
}

uint32_t jet_get_be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
