"""Stored form of a cached answer: a short readable header, then the (maybe compressed) envelope.

    C<gen>:<codec>:<body>

`gen` is the user's generation when the entry was written (0 for global entries); it sits in
clear text so the reaper (`shared/lua/cache_reap.lua`) can compare it without decompressing.
`codec` is `j` (plain JSON) or the letter of a compressor. zstd is the default: on a 4 KB
answer it compressed 3-6x faster than zlib level 1 at a better ratio and decompressed about as
fast; lz4 is faster but stores ~50% more (figures in benchmarks/README.md).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import NamedTuple

import lz4.frame  # type: ignore[import-untyped]
import zstandard

_zstd_c = zstandard.ZstdCompressor(level=3)
_zstd_d = zstandard.ZstdDecompressor()

# name -> (header letter, compress, decompress); never "j", which means uncompressed.
CODECS: dict[str, tuple[bytes, Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {
    "zstd": (b"s", _zstd_c.compress, _zstd_d.decompress),
    "zlib": (b"z", lambda b: zlib.compress(b, 1), zlib.decompress),
    "lz4": (b"l", lz4.frame.compress, lz4.frame.decompress),
}
_BY_LETTER = {letter: unpack for letter, _, unpack in CODECS.values()}
MAX_HEADER = 24


class Frame(NamedTuple):
    gen: int
    body: bytes


def pack(body: bytes, *, gen: int, codec: str, min_bytes: int) -> bytes:
    """The stored bytes of `body` (JSON): compressed with `codec` when at least `min_bytes`."""
    letter = b"j"
    if len(body) >= min_bytes:
        letter, compress, _ = CODECS[codec]
        body = compress(body)
    return b"C%d:%s:" % (gen, letter) + body


def unpack(raw: bytes) -> Frame | None:
    """The generation and JSON body of stored bytes; None when the bytes are not ours."""
    head, sep, rest = raw[:MAX_HEADER].partition(b":")
    letter, sep2, _ = rest.partition(b":")
    decompress = _BY_LETTER.get(letter)
    if not (raw.startswith(b"C") and sep and sep2 and head[1:].isdigit()):
        return None
    if letter != b"j" and decompress is None:
        return None
    body = raw[len(head) + len(letter) + 2 :]
    try:
        return Frame(int(head[1:]), body if decompress is None else decompress(body))
    except (zlib.error, zstandard.ZstdError, RuntimeError):
        return None
