#!/usr/bin/env python3
"""png_check.py PNG [MIN_COLOURS] [MIN_INK_PERCENT]

Checks that a screenshot is not blank: it decodes the PNG with zlib only (8-bit RGB or RGBA,
non-interlaced, as Chromium writes them), counts the distinct colours and the share of pixels
that are not (near) white. Prints the figures; exits 0 when there are at least MIN_COLOURS
colours (default 8) and at least MIN_INK_PERCENT % of non-white pixels (default 1), else 1.
"""
import struct
import sys
import zlib


def decode(path):
    data = open(path, "rb").read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        elif kind == b"IEND":
            break
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = ihdr
    if depth != 8 or colour not in (2, 6) or interlace != 0:
        raise ValueError("unsupported PNG format (depth %d, colour type %d)" % (depth, colour))
    bpp = 3 if colour == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows, prev, off = [], bytearray(stride), 0
    for _ in range(height):
        ftype = raw[off]
        line = bytearray(raw[off + 1:off + 1 + stride])
        off += 1 + stride
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if ftype == 1:
                line[i] = (line[i] + a) & 0xFF
            elif ftype == 2:
                line[i] = (line[i] + b) & 0xFF
            elif ftype == 3:
                line[i] = (line[i] + ((a + b) >> 1)) & 0xFF
            elif ftype == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows.append(bytes(line))
        prev = line
    return width, height, bpp, rows


def main():
    path = sys.argv[1]
    min_colours = int(sys.argv[2]) if len(sys.argv) > 2 else 8
    min_ink = float(sys.argv[3]) if len(sys.argv) > 3 else 1.0
    width, height, bpp, rows = decode(path)
    colours, ink = set(), 0
    for line in rows:
        for x in range(0, width * bpp, bpp):
            px = line[x:x + 3]
            colours.add(px)
            if min(px) < 235:
                ink += 1
    share = 100.0 * ink / (width * height)
    print("%s: %dx%d, %d colours, %.1f %% non-white" % (path, width, height, len(colours), share))
    sys.exit(0 if len(colours) >= min_colours and share >= min_ink else 1)


if __name__ == "__main__":
    main()
