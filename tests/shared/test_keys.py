from __future__ import annotations

import fnmatch

import pytest
from hypothesis import given
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


@given(st.text(min_size=1, max_size=80))
def test_glob_escape_matches_only_itself(text: str) -> None:
    escaped = keys.glob_escape(text)
    # Redis MATCH and fnmatch differ on backslash escapes; check the property on Redis' syntax:
    # no unescaped special character is left.
    i = 0
    while i < len(escaped):
        if escaped[i] == "\\":
            i += 2
            continue
        assert escaped[i] not in "*?[]"
        i += 1
    if not set(text) & set("*?[]\\"):
        assert fnmatch.fnmatchcase(text, escaped)


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
