"""Redaction and bounding of audit details, applied before an event leaves the process.

Three nets: a field whose *name* says it holds a secret (password, token, api key, cookie,
authorization, ...) has its value replaced whole; a string value that holds a JSON object or
array is cleaned like details (then kept as a string); any string *value* is scanned for secret
shapes (JWTs, bearer tokens, provider API keys, URL passwords, `name=value` / `"name": value`
pairs whose name is a secret's, PEM private keys) which are replaced in place. Then every string
is cut to a bound, containers to a bounded width and depth, and the whole to a bounded JSON
size, so one caller cannot bloat the stream.

Identities are not erased but named: an actor that looks like a secret (or is too long to keep
whole) becomes a keyed digest (`actor_label`), so the trail still tells one actor from another.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
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
    (re.compile(r"\b[rs]k_(live|test)_[A-Za-z0-9]{16,}"), REDACTED),
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), REDACTED),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{22,}"), REDACTED),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"), REDACTED),
    (re.compile(r"\bhf_[A-Za-z0-9]{30,}"), REDACTED),
    (re.compile(r"\bnpm_[A-Za-z0-9]{36,}"), REDACTED),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), REDACTED),
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), REDACTED),
    (
        re.compile(r"(?<![A-Za-z0-9+.-])([A-Za-z][A-Za-z0-9+.-]*+://[^:/@\s]*:)[^@/\s]+@"),
        r"\1" + REDACTED + "@",
    ),
)
# `name=value`, `name: value`, `"name": "value"`, `'name': 'value'`: the value goes when the
# name is a secret's by the same rule as field names (so `prompt_tokens: 12` stays).
# Names and schemes start only at a word's start and are matched possessively: without that,
# a long run of letters costs quadratic time (about 0.6 s for 16 KB in the URL pattern).
_PAIR = re.compile(
    r"""(?<![A-Za-z0-9_.-])(["']?)([A-Za-z][A-Za-z0-9_.-]{0,63}+)\1(\s*[=:]\s*)"""
    r"""("(?:[^"\\]|\\.)*"|'[^']*'|[^\s&,;'"}\]]+)"""
)


# Every value pattern above, and every secret name part, contains one of these (lowercased);
# one search of the lowercased text rules most text out at once (the append is on the request
# path, and most values hold no secret). A case-sensitive search of `lower()` is about three
# times faster than the same alternation under (?i).
_HINT = re.compile(
    r"private key|eyj|bearer|basic|token|sk-|k_live|k_test|gh[pousr]_|github_pat|glpat|hf_|npm_"
    r"|xox|akia|asia|aiza|://|pass|pwd|secret|key|auth|cookie|credential|jwt|signature|otp|pin|ssn"
)
_KIND = re.compile(r"([a-z][a-z0-9_]{0,15}):")
IDENTITY_HEX = 16


@functools.lru_cache(maxsize=4096)
def is_secret_name(name: str) -> bool:
    """True when a field called `name` holds a secret (by its whole name parts)."""
    parts = [p for p in _SPLIT.split(_CAMEL.sub("_", name).lower()) if p]
    if any(p in _SECRET_PARTS for p in parts):
        return True
    return any(pair in _SECRET_PAIRS for pair in itertools.pairwise(parts))


def _pair(match: re.Match[str]) -> str:
    quote, name, separator, _ = match.groups()
    if not is_secret_name(name):
        return match.group(0)
    return f"{quote}{name}{quote}{separator}{REDACTED}"


def redact_text(text: str) -> str:
    """`text` with every secret-shaped substring replaced by `[REDACTED]`."""
    if _HINT.search(text.lower()) is None:
        return text
    for pattern, replacement in _VALUE_PATTERNS:
        text = pattern.sub(replacement, text)
    return _PAIR.sub(_pair, text)


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


def actor_label(actor: str, *, key: bytes, max_chars: int = 128) -> str:
    """`actor` itself when it is plain text; else `<kind>:h:<hex>`, a keyed digest of it.

    A subject shaped like a secret (or carrying one, or too long to keep whole, or unprintable)
    would otherwise be redacted to `user:[REDACTED]` or cut, and the trail would lose who acted.
    HMAC-SHA256 under `key` maps the same actor to the same label always, and, unlike a plain
    digest, cannot be reversed by hashing guessed secrets without the key.
    """
    if len(actor) <= max_chars and actor.isprintable() and redact_text(actor) == actor:
        return actor
    kind = _KIND.match(actor)
    digest = hmac.new(key, actor.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()
    return f"{kind.group(1) + ':' if kind else ''}h:{digest[:IDENTITY_HEX]}"


def _json_text(text: str, max_chars: int, depth: int) -> str:
    """A JSON object or array held in a string, cleaned like details; other text unchanged.

    Re-encoded only when cleaning changed it, so a harmless JSON value keeps its exact text.
    """
    if text.lstrip()[:1] not in ("{", "[") or depth >= MAX_DEPTH:
        return text
    try:
        parsed = orjson.loads(text)
    except orjson.JSONDecodeError:
        return text
    cleaned = _clean(parsed, max_chars, depth + 1)
    return text if cleaned == parsed else orjson.dumps(cleaned).decode()


def _clean(value: Any, max_chars: int, depth: int) -> Any:  # noqa: PLR0911  (one per type)
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        # JSON encoders stop at 64 bits; a bigger number is kept as its digits.
        return value if -(2**63) <= value < 2**64 else truncate(str(value), max_chars)
    if isinstance(value, str):
        return clean_text(_json_text(value, max_chars, depth), max_chars)
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
