from __future__ import annotations

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared import keys


@pytest.mark.parametrize("raw", ["*", "a?b", "[x]", "{u}", "a:b", "x" * 10_000, b"\xff\xfe"])
def test_hostile_ids_are_hashed_into_safe_form(raw: str | bytes) -> None:
    safe = keys.safe_id(raw)
    assert safe.startswith("~")
    assert not set(safe) & set("*?[]{}:\\")
    assert len(safe) == 33


def test_plain_ids_stay_readable() -> None:
    assert keys.safe_id("alice@example.com") == "alice@example.com"


def test_memoized_safe_id_keeps_str_and_bytes_apart() -> None:
    # The memo must not hand a bytes id the kept form of the equal-looking str, or vice versa.
    for _ in range(2):
        assert keys.safe_id("carol") == "carol"
        assert keys.safe_id(b"carol").startswith("~")
        assert keys.safe_id(b"carol") == keys._safe_id(b"carol") != "carol"


# Redis glob specials and their neighbours, lone surrogates (ids arrive as arbitrary str), any
# code point; and long ids built from them.
_HOSTILE_CHARS = st.sampled_from([*"*?[]\\^!-{}:~", "\ud800", "\udc80", "\udfff"]) | st.characters(
    exclude_categories=()
)
hostile_ids = st.text(_HOSTILE_CHARS, min_size=1, max_size=80) | st.builds(
    lambda unit, times: unit * times,
    st.text(_HOSTILE_CHARS, min_size=1, max_size=8),
    st.integers(min_value=200, max_value=2_000),
)


def _redis_glob_literal(pattern: str) -> str | None:
    """The one string a Redis MATCH pattern matches, or None if it has a wildcard or class.

    Follows Redis' stringmatchlen: `\\x` is the literal x (a trailing `\\` is itself), and an
    unescaped `*`, `?` or `[` is a wildcard.
    """
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(pattern[i + 1])
            i += 2
            continue
        if c in "*?[":
            return None
        out.append(c)
        i += 1
    return "".join(out)


@settings(max_examples=300, deadline=None)
@given(hostile_ids)
def test_glob_escape_matches_only_itself(text: str) -> None:
    assert _redis_glob_literal(keys.glob_escape(text)) == text


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")  # Redis keys are bytes; ids may not be UTF-8


@settings(
    max_examples=60,
    deadline=None,
    # The Redis fixture is the empty test server; each example deletes what it wrote.
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(hostile_ids)
def test_glob_escaped_hostile_ids_match_only_themselves_in_redis(r: redis.Redis, text: str) -> None:
    base = "t:ge:"
    wildcard_twins = {text + "Z", "Z" + text, text.replace("\\", "")} | {
        text[:i] + "Z" + text[i + 1 :] for i, c in enumerate(text[:200]) if c in "*?[]\\"
    }
    written = [_encode(base + k) for k in {text} | wildcard_twins]
    r.mset(dict.fromkeys(written, 1))
    try:
        pattern = _encode(base + keys.glob_escape(text))
        assert list(r.scan_iter(match=pattern, count=1_000)) == [_encode(base + text)]
    finally:
        r.delete(*written)


def test_glob_escape_against_real_redis(r) -> None:  # type: ignore[no-untyped-def]
    hostile = "a*[b]?\\"
    r.set(f"t:x:{hostile}", 1)
    r.set("t:x:aXXbY", 1)
    found = list(r.scan_iter(match=f"t:x:{keys.glob_escape(hostile)}", count=100))
    assert found == [f"t:x:{hostile}".encode()]


def test_per_user_keys_share_one_hash_tag() -> None:
    a = keys.rate_limit("bob", "rpm")
    b = keys.sessions("bob")
    tag = lambda k: k[k.index("{") : k.index("}") + 1]  # noqa: E731
    assert tag(a) == tag(b) == "{u:bob}"
    assert a.startswith("t:")
