"""Check that bytes from a student's kernel are one well-formed, modest PNG image.

Trust boundary: the bytes come from the kernel (untrusted) and end up in feedback pages.
The check is structural and decodes no pixels: the PNG signature, then a chain of chunks
each with a valid length and CRC, an IHDR first with sane dimensions, at least one IDAT,
IEND last and nothing after it. Anything else is refused (None is kept instead).
"""

from __future__ import annotations

import struct
import zlib

MAX_PNG = 2_000_000
MAX_SIDE = 8000
SIGNATURE = b"\x89PNG\r\n\x1a\n"


def is_valid_png(blob: bytes, *, max_bytes: int = MAX_PNG, max_side: int = MAX_SIDE) -> bool:
    if not isinstance(blob, bytes) or len(blob) > max_bytes or not blob.startswith(SIGNATURE):
        return False
    position, first, seen_idat = len(SIGNATURE), True, False
    while position + 12 <= len(blob):
        length, kind = struct.unpack(">I4s", blob[position:position + 8])
        end = position + 12 + length
        if end > len(blob) or not kind.isalpha():
            return False
        body = blob[position + 8:position + 8 + length]
        (crc,) = struct.unpack(">I", blob[end - 4:end])
        if zlib.crc32(kind + body) & 0xFFFFFFFF != crc:
            return False
        if first:
            if kind != b"IHDR" or length != 13:
                return False
            width, height = struct.unpack(">II", body[:8])
            if not (0 < width <= max_side and 0 < height <= max_side):
                return False
            first = False
        elif kind == b"IHDR":
            return False
        seen_idat = seen_idat or kind == b"IDAT"
        position = end
        if kind == b"IEND":
            return seen_idat and position == len(blob)
    return False
