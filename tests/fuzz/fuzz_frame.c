/* fuzz_frame.c - libFuzzer target for the transport read path: the length-prefixed frame
 * reader (reassembly across reads of any size, the length bound checked before allocation)
 * and in-place decryption with the Noise counter nonces and the rekey rule.
 *
 * Input: byte 0 = mode, byte 1 = frame limit (in 64-byte steps), byte 2 = read size seed.
 *   mode & 1: no read-ahead (the buffer is bounded by exactly one frame)
 *   mode & 2: structured: the rest is a list of (1-byte length, plaintext) frames, encrypted
 *             with the matching sender; every frame must come out intact, in order.
 *   mode & 4: (structured) then flip the bit given by the two bytes after the list: no frame
 *             from the flipped one on may come out.
 *   otherwise the rest is raw wire bytes: anything may fail, nothing may crash or overread. */
#include <sodium.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "encoding.h"
#include "noise.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "fuzz_check.h"

enum { MAX_FRAMES = 64 };

static const uint8_t key[32] = {7, 1, 2, 3, 4, 5, 6, 7, 8, 9};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    jet_noise_cipher tx, rx;
    jet_noise_reader r;
    uint8_t *wire = NULL, *ptr, *body;
    const uint8_t *plain[MAX_FRAMES];
    size_t plain_len[MAX_FRAMES], frame_end[MAX_FRAMES];
    size_t wire_len = 0, n_frames = 0, pos = 0, got = 0, len, room, flip_at = SIZE_MAX;
    int failed = 0;

    if (size < 3)
        return 0;
    uint8_t mode = data[0];
    size_t max_frame = 1 + (size_t)data[1] * 64;
    uint32_t seed = data[2] + 1u;
    data += 3;
    size -= 3;
    size_t read_ahead = (mode & 1) ? 0 : 4096;

    jet_noise_cipher_init(&tx, key);
    jet_noise_cipher_init(&rx, key);
    /* Start near a rekey boundary so the rule is exercised too. */
    tx.n = rx.n = JET_NOISE_REKEY_INTERVAL - 3;
    jet_noise_reader_init(&r, max_frame + JET_NOISE_TAGLEN, read_ahead);

    if (mode & 2) {
        size_t i = 0;
        wire = malloc(size * 2 + MAX_FRAMES * 20 + 1);
        while (i < size && n_frames < MAX_FRAMES) {
            size_t l = data[i++];
            if (l > size - i)
                l = size - i;
            if (l > max_frame)
                l = max_frame;
            plain[n_frames] = data + i;
            plain_len[n_frames] = l;
            jet_put_be32(wire + wire_len, (uint32_t)(l + JET_NOISE_TAGLEN));
            CHECK(jet_noise_transport_seal(&tx, data + i, l, wire + wire_len + 4) == 0);
            wire_len += 4 + l + JET_NOISE_TAGLEN;
            frame_end[n_frames++] = wire_len;
            i += l;
            if ((mode & 4) && size - i >= 2 && n_frames > 1)
                break;
        }
        if ((mode & 4) && wire_len > 0 && size - i >= 2) {
            flip_at = ((size_t)data[i] << 8 | data[i + 1]) % (wire_len * 8);
            wire[flip_at / 8] ^= (uint8_t)(1u << (flip_at % 8));
            flip_at /= 8;
        }
    } else {
        wire = malloc(size + 1);
        memcpy(wire, data, size);
        wire_len = size;
    }

    while (pos < wire_len && !failed) {
        seed = seed * 1103515245u + 12345u;
        size_t chunk = 1 + (seed >> 16) % 300;
        if (jet_noise_reader_space(&r, chunk, &ptr, &room) != 0)
            break;
        if (chunk > room)
            chunk = room;
        if (chunk > wire_len - pos)
            chunk = wire_len - pos;
        CHECK(chunk > 0);
        memcpy(ptr, wire + pos, chunk);
        jet_noise_reader_commit(&r, chunk);
        pos += chunk;
        for (;;) {
            int rc = jet_noise_reader_next(&r, &body, &len);
            if (rc == 0)
                break;
            if (rc < 0 || len < JET_NOISE_TAGLEN ||
                jet_noise_transport_open(&rx, body, len, body) != 0) {
                failed = 1;
                break;
            }
            if (mode & 2) {
                /* Whatever comes out must be exactly what was sent, and never a frame at or
                 * after a flipped bit. */
                CHECK(got < n_frames);
                CHECK(len - JET_NOISE_TAGLEN == plain_len[got]);
                CHECK(memcmp(body, plain[got], plain_len[got]) == 0);
                CHECK(flip_at == SIZE_MAX || frame_end[got] <= flip_at);
            }
            got++;
        }
    }
    if ((mode & 2) && flip_at == SIZE_MAX)
        CHECK(!failed && got == n_frames);
    size_t bound = 4 + max_frame + JET_NOISE_TAGLEN;
    CHECK(r.peak_cap <= (bound > read_ahead ? bound : read_ahead));
    jet_noise_reader_fini(&r);
    jet_noise_cipher_fini(&tx);
    jet_noise_cipher_fini(&rx);
    free(wire);
    return 0;
}
