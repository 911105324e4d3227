"""Redaction by field name and by value pattern; bounds on text, width, depth and size."""

from __future__ import annotations

import string

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.audit.redact import (
    REDACTED,
    actor_label,
    clean_details,
    is_secret_name,
    redact_text,
)

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLXNpZ25hdHVyZQ"
SECRETS = [
    JWT,
    "sk-" + "A1b2C3d4E5f6G7h8I9j0K",
    "ghp_" + "a" * 36,
    "xoxb-" + "1234567890-abcdef",
    "AKIA" + "ABCDEFGHIJKLMNOP",
    "AIza" + "B" * 35,
]


@pytest.mark.parametrize(
    "name",
    [
        "password",
        "api_key",
        "X-Api-Key",
        "Authorization",
        "refresh_token",
        "clientSecret",
        "set-cookie",
        "private_key",
        "accessKey",
    ],
)
def test_secret_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize(
    "name", ["prompt_tokens", "completion_tokens", "author", "model", "session_id", "keyword"]
)
def test_plain_names_stay(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize("secret", SECRETS)
def test_secret_values_are_redacted_inside_text(secret: str) -> None:
    out = redact_text(f"user pasted {secret} into the chat")
    assert secret not in out
    assert REDACTED in out
    assert out.startswith("user pasted ")


def test_url_password_pairs_bearer_and_pem() -> None:
    text = (
        "db=postgresql://app:hunter2@db:5432/x password=swordfish "
        "Authorization: Bearer abcdefgh12345678 "
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----"
    )
    out = redact_text(text)
    for leaked in ("hunter2", "swordfish", "abcdefgh12345678", "MIIEow"):
        assert leaked not in out
    assert "postgresql://app:" in out


def test_details_by_name_nested_and_usage_kept() -> None:
    out = clean_details(
        {
            "headers": {"Authorization": "whatever"},
            "usage": {"prompt_tokens": 12},
            "items": [{"token": "x"}],
        },
        max_chars=100,
        max_bytes=10_000,
    )
    assert out == {
        "headers": {"Authorization": REDACTED},
        "usage": {"prompt_tokens": 12},
        "items": [{"token": REDACTED}],
    }


def test_bounds() -> None:
    out = clean_details({"text": "x" * 500}, max_chars=50, max_bytes=10_000)
    assert out["text"].startswith("x" * 50)
    assert out["text"].endswith("[+450 chars]")
    deep: dict[str, object] = {}
    node = deep
    for _ in range(20):
        node["d"] = {}
        node = node["d"]  # type: ignore[assignment]
    assert (
        "[depth limit]"
        in orjson.dumps(clean_details(deep, max_chars=50, max_bytes=10_000)).decode()
    )
    wide = clean_details({"l": list(range(1000))}, max_chars=50, max_bytes=100_000)
    assert len(wide["l"]) == 101
    assert wide["l"][-1] == "[+900 items]"
    big = clean_details({str(i): "y" * 40 for i in range(90)}, max_chars=40, max_bytes=1000)
    assert big["_truncated"] is True
    assert len(orjson.dumps(big)) < 1000


def test_non_json_values_become_text() -> None:
    out = clean_details({"b": b"bytes", "o": object(), "t": (1, 2)}, max_chars=50, max_bytes=1000)
    assert out["b"] == "bytes"
    assert out["t"] == [1, 2]
    assert out["o"].startswith("<object")


@given(
    prefix=st.text(string.ascii_letters + " .,", max_size=30),
    secret=st.sampled_from(SECRETS),
    suffix=st.text(string.ascii_letters + " .,", max_size=30),
    max_chars=st.integers(16, 200),
)
def test_no_secret_survives_cleaning(prefix: str, secret: str, suffix: str, max_chars: int) -> None:
    """Redaction runs before truncation, so no cut leaves a secret (or its start) visible."""
    out = orjson.dumps(
        clean_details({"msg": f"{prefix} {secret} {suffix}"}, max_chars=max_chars, max_bytes=4096)
    ).decode()
    assert secret not in out
    assert secret[:12] not in out


_JSONISH = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True)
    | st.text(max_size=80)
    | st.binary(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=8)
        | st.dictionaries(st.text(max_size=20) | st.integers(), inner, max_size=8)
    ),
    max_leaves=40,
)


@settings(max_examples=50, deadline=None)
@given(details=st.dictionaries(st.text(max_size=20), _JSONISH, max_size=10))
def test_any_input_becomes_bounded_json(details: dict[str, object]) -> None:
    """Bad input never raises: lone surrogates, huge integers, bytes, odd keys all encode."""
    out = clean_details(details, max_chars=64, max_bytes=2048)
    encoded = orjson.dumps(out)
    assert len(encoded) <= 2048 or out.get("_truncated") is True
    assert len(orjson.dumps(out)) < 2048 + 200


@pytest.mark.parametrize(
    "value",
    [
        '{"password": "hunter2"}',
        "{'password': 'hunter2'}",
        '[{"user": "a", "credentials": {"pass": "hunter2"}}]',
        '{"nested": "{\\"client_secret\\": \\"hunter2\\"}"}',
        "refresh_token=hunter2&next=/",
        "X-Api-Key: hunter2",
        "login with password: hunter2 please",
        "clientSecret = 'hunter2'",
    ],
)
def test_secrets_nested_in_string_values_are_redacted(value: str) -> None:
    """session_id, user_id, tag or pattern values are free text chosen by the caller."""
    for name in ("session_id", "user_id", "tag", "pattern"):
        out = clean_details({name: value}, max_chars=200, max_bytes=4096)
        assert "hunter2" not in orjson.dumps(out).decode(), (name, out)
        assert REDACTED in out[name]


def test_json_strings_without_secrets_are_kept_as_they_were() -> None:
    value = '{"user":  "alice", "prompt_tokens": 3}'
    assert clean_details({"tag": value}, max_chars=200, max_bytes=4096) == {"tag": value}


@pytest.mark.parametrize(
    "text", ["prompt_tokens: 12", "author: Bob", "keyword=apple", "monkey=1", "session_id: abc"]
)
def test_plain_key_value_text_stays(text: str) -> None:
    assert redact_text(text) == text


@pytest.mark.parametrize(
    "secret",
    [
        "sk_live_" + "a1B2" * 6,
        "github_pat_" + "A1b2C3" * 6,
        "glpat-" + "a1B2c3D4e5" * 2,
        "hf_" + "a1B2c3D4e5" * 3,
        "npm_" + "a1B2c3D4e5" * 4,
    ],
)
def test_more_token_shapes(secret: str) -> None:
    assert secret not in redact_text(f"key {secret} here")


def test_identity_of_a_secret_looking_subject_is_a_stable_keyed_hash() -> None:
    subject = "user:sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K"
    first = actor_label(subject, key=b"k1")
    assert first == actor_label(subject, key=b"k1")
    assert first.startswith("user:h:")
    assert "sk-proj" not in first
    assert REDACTED not in first
    assert first != actor_label("user:sk-proj-" + "Z" * 21, key=b"k1")
    assert first != actor_label(subject, key=b"k2")  # keyed: not a plain digest to look up


def test_ordinary_and_overlong_identities() -> None:
    assert actor_label("user:alice", key=b"k") == "user:alice"
    assert actor_label("ip:192.0.2.7", key=b"k") == "ip:192.0.2.7"
    long_a, long_b = "user:" + "a" * 300, "user:" + "a" * 299 + "b"
    # Cut to a bound they would become one actor; hashed they stay two.
    assert actor_label(long_a, key=b"k") != actor_label(long_b, key=b"k")
    assert len(actor_label(long_a, key=b"k")) < 40
    assert actor_label('{"password": "x"}', key=b"k").startswith("h:")
