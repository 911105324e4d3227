"""Compression of cache envelopes: zlib (level 1 and 6) vs zstd (level 3) vs lz4.

Envelopes of realistic chat answers (English prose from a fixed vocabulary with repetition, as
LLM answers have) at 1, 4 and 16 KB; µs to compress and decompress, and the size ratio.
Run: `.venv/bin/python -m benchmarks.cache_codec`.
"""

from __future__ import annotations

import random
import time
import zlib
from collections.abc import Callable

import lz4.frame  # type: ignore[import-untyped]
import orjson
import zstandard

from benchmarks._util import table

_VOCABULARY = (
    "the a to of and in is you your can for this that with on it be as are or if by we our "
    "account password reset billing invoice refund order shipping delivery address email "
    "click settings page profile security two factor code support team contact within days "
    "please note step first then next finally make sure check ensure option menu select"
)
_WORDS = _VOCABULARY.split()


def envelope(size: int, rng: random.Random) -> bytes:
    words: list[str] = []
    while sum(len(w) + 1 for w in words) < size:
        sentence = [rng.choice(_WORDS) for _ in range(rng.randint(6, 18))]
        words += [*sentence[:-1], sentence[-1] + "."]
    text = " ".join(words)
    doc = {"response": text, "model": "gpt-4o", "created_at": 1.7e9, "soft_ttl_s": 3600.0,
           "source": "live", "tokens": {"prompt": 40, "completion": len(words)},
           "user_id": None, "tags": ["model:gpt-4o", "template:v1"]}  # fmt: skip
    return orjson.dumps(doc)


def _time_us(fn: Callable[[], object], n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    zc, zd = zstandard.ZstdCompressor(level=3), zstandard.ZstdDecompressor()
    codecs: dict[str, tuple[Callable[[bytes], bytes], Callable[[bytes], bytes]]] = {
        "zlib-1": (lambda b: zlib.compress(b, 1), zlib.decompress),
        "zlib-6": (lambda b: zlib.compress(b, 6), zlib.decompress),
        "zstd-3": (zc.compress, zd.decompress),
        "lz4": (lz4.frame.compress, lz4.frame.decompress),
    }
    rng = random.Random(3)
    rows = []
    for size in (1024, 4096, 16384):
        body = envelope(size, rng)
        for name, (pack, unpack) in codecs.items():
            packed = pack(body)
            assert unpack(packed) == body
            n = 3000 if size < 10_000 else 800
            rows.append(
                [
                    f"{len(body):,} B",
                    name,
                    f"{len(body) / len(packed):.2f}",
                    f"{_time_us(lambda p=pack, b=body: p(b), n):.1f}",  # type: ignore[misc]
                    f"{_time_us(lambda u=unpack, x=packed: u(x), n):.1f}",  # type: ignore[misc]
                ]
            )
    print(table(["envelope", "codec", "ratio", "compress µs", "decompress µs"], rows))


if __name__ == "__main__":
    main()
