"""Read a screenshot's pixels (8-bit RGB or RGBA PNG, as headless Chromium writes) and count
those drawn in a given colour, so a test can tell that a chart's series drew.

No imaging library is needed for that: a PNG is zlib-compressed rows, each behind a filter
byte (PNG specification §9).
"""

from __future__ import annotations

import struct
import zlib

Pixel = tuple[int, int, int]


def read_png(data: bytes) -> list[list[Pixel]]:
    """The pixels, row by row (RGB; alpha dropped)."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    offset, chunks, header = 8, [], b""
    while offset < len(data):
        (length,) = struct.unpack(">I", data[offset : offset + 4])
        kind = data[offset + 4 : offset + 8]
        body = data[offset + 8 : offset + 8 + length]
        offset += 12 + length
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", header)
    if depth != 8 or colour not in (2, 6) or interlace:
        raise ValueError(f"unsupported PNG (depth {depth}, colour type {colour})")
    step = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * step
    rows: list[list[Pixel]] = []
    previous = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            left = line[i - step] if i >= step else 0
            up = previous[i]
            corner = previous[i - step] if i >= step else 0
            if kind == 1:
                line[i] = (line[i] + left) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + up) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif kind == 4:
                guess = left + up - corner
                near = min(
                    (abs(guess - left), 0, left),
                    (abs(guess - up), 1, up),
                    (abs(guess - corner), 2, corner),
                )[2]
                line[i] = (line[i] + near) & 0xFF
        rows.append([(line[x], line[x + 1], line[x + 2]) for x in range(0, stride, step)])
        previous = line
    return rows


def hex_colour(text: str) -> Pixel:
    return int(text[1:3], 16), int(text[3:5], 16), int(text[5:7], 16)


def drawn_in(pixel: Pixel, colour: Pixel, tolerance: int = 14) -> bool:
    """Whether ``pixel`` is ``colour`` laid over white at 60 % cover or more: an
    anti-aliased line's pixels are blends of its colour with the background."""
    spread = [255 - c for c in colour]
    widest = max(range(3), key=lambda i: spread[i])
    cover = (255 - pixel[widest]) / spread[widest]
    if cover < 0.6:
        return False
    return all(abs(255 - cover * spread[i] - pixel[i]) <= tolerance for i in range(3))


def count_drawn(rows: list[list[Pixel]], colour: str, top: int = 0) -> int:
    """How many pixels at or below row ``top`` are drawn in ``colour`` (``#rrggbb``)."""
    target = hex_colour(colour)
    return sum(drawn_in(p, target) for row in rows[top:] for p in row)
