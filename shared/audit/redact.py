"""Redaction and bounding of audit details, applied before an event leaves the process.

Two nets: a field whose *name* says it holds a secret (password, token, api key, cookie,
authorization, ...) has its value replaced whole; any string *value* is scanned for secret
shapes (JWTs, bearer tokens, provider API keys, URL passwords, `password=...` pairs, PEM private
keys) which are replaced in place. Then every string is cut to a bound, containers to a bounded
width and depth, and the whole to a bounded JSON size, so one caller cannot bloat the stream.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Mapping
from typing import Any

import orjson

REDACTED = "[REDACTED]"
MAX_DEPTH = 6
MAX_ITEMS = 100

# Name parts (split on _ - . and camelCase) that mark a secret-bearing field. Whole parts only,
# so usage counters such as `prompt_tokens` stay visible.
_SECRET_PARTS = frozenset(
    {
        "password",
        "passwd",
        "pwd",
        "passphrase",
        "secret",
        "token",
        "apikey",
        "authorization",
        "auth",
        "cookie",
        "credential",
        "credentials",
        "jwt",
        "bearer",
        "signature",
        "otp",
        "pin",
        "ssn",
    }
)
_SECRET_PAIRS = frozenset(
    {("api", "key"), ("private", "key"), ("access", "key"), ("set", "cookie")}
)
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_SPLIT = re.compile(r"[^a-z0-9]+")

_VALUE_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (
        re.compile(
            r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S
        ),
        REDACTED,
    ),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + REDACTED),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), REDACTED),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), REDACTED),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), REDACTED),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), REDACTED),
    (re.compile(r"([A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@/\s]+@"), r"\1" + REDACTED + "@"),
    (
        re.compile(
            r"(?i)\b(password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|auth)"
            r"(\s*[=:]\s*)(\"[^\"]*\"|'[^']*'|[^\s&,;]+)"
        ),
        r"\1\2" + REDACTED,
    ),
)


# Every value pattern above contains one of these; one search rules most text out at once
# (the append is on the request path, and most values hold no secret).
_HINT = re.compile(
    r"(?i)PRIVATE KEY|eyJ|bearer|basic|token|sk-|gh[pousr]_|xox|AKIA|ASIA|AIza|://|pass|pwd|secret"
    r"|key|auth"
)


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """True when a field called `name` holds a secret (by its whole name parts)."""
    parts = [p for p in _SPLIT.split(_CAMEL.sub("_", name).lower()) if p]
    if any(p in _SECRET_PARTS for p in parts):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(parts))


def redact_text(text: str) -> str:
    """`text` with every secret-shaped substring replaced by `[REDACTED]`."""
    if _HINT.search(text) is None:
        return text
    for pattern, replacement in _VALUE_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def truncate(text: str, max_chars: int) -> str:
    """`text` cut to `max_chars` characters, saying how much was dropped."""
    if len(text) <= max_chars:
        return text
    return f"{text[:max_chars]}…[+{len(text) - max_chars} chars]"


def clean_text(text: str, max_chars: int) -> str:
    """Redact, then truncate (in that order, so a cut never leaves half a secret visible).

    Lone surrogates (which no UTF-8 encoder accepts) become U+FFFD first.
    """
    if not text.isascii():
        text = text.encode("utf-8", "replace").decode("utf-8")
    return truncate(redact_text(text), max_chars)


def _clean(value: Any, max_chars: int, depth: int) -> Any:  # noqa: PLR0911  (one per type)
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        # JSON encoders stop at 64 bits; a bigger number is kept as its digits.
        return value if -(2**63) <= value < 2**64 else truncate(str(value), max_chars)
    if isinstance(value, str):
        return clean_text(value, max_chars)
    if isinstance(value, bytes):
        return clean_text(value.decode("utf-8", "replace"), max_chars)
    if depth >= MAX_DEPTH:
        return "[depth limit]"
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for i, (k, v) in enumerate(value.items()):
            if i >= MAX_ITEMS:
                out["_truncated_keys"] = len(value) - MAX_ITEMS
                break
            key = clean_text(str(k), 128)
            out[key] = REDACTED if is_secret_name(key) else _clean(v, max_chars, depth + 1)
        return out
    if isinstance(value, list | tuple | set | frozenset):
        items = list(value)
        cleaned = [_clean(v, max_chars, depth + 1) for v in items[:MAX_ITEMS]]
        if len(items) > MAX_ITEMS:
            cleaned.append(f"[+{len(items) - MAX_ITEMS} items]")
        return cleaned
    return clean_text(str(value), max_chars)


def clean_details(details: Mapping[str, Any], *, max_chars: int, max_bytes: int) -> dict[str, Any]:
    """A JSON-safe copy of `details`: secrets redacted, text, width, depth and size bounded.

    Args:
        details: what the caller wants to record (any JSON-like mapping).
        max_chars: longest string kept (characters).
        max_bytes: largest JSON encoding kept (bytes); above it the details become
            `{"_truncated": true, "preview": <first max_chars of the JSON>}`.
    """
    cleaned = _clean(details, max_chars, 0)
    if not isinstance(cleaned, dict):
        cleaned = {"value": cleaned}
    encoded = orjson.dumps(cleaned)
    if len(encoded) > max_bytes:
        preview = encoded.decode("utf-8", "replace")
        return {"_truncated": True, "_bytes": len(encoded), "preview": truncate(preview, max_chars)}
    return cleaned
