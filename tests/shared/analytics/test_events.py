"""The event schema: what the web appends, and the strict parsing that feeds the dead letters."""

from __future__ import annotations

from typing import Any
from unittest.mock import patch

import orjson
import pytest
import redis
from hypothesis import given, settings
from hypothesis import strategies as st

from shared import keys
from shared.analytics import events
from shared.analytics.events import (
    MAX_LATENCY_MS,
    MAX_TOKENS,
    EventError,
    event_fields,
    parse,
)
from shared.normalize import normalize_query, query_hash


def _body(**over: Any) -> dict[str, Any]:
    fields = event_fields(user_id="alice", model="m1", prompt_tokens=3, completion_tokens=4,
                          latency_ms=12.5, cache_hit=True, message="Hello,  World!")  # fmt: skip
    body: dict[str, Any] = orjson.loads(fields["e"])
    body.update(over)
    return body


def _entry(body: Any) -> dict[bytes, bytes]:
    return {b"e": orjson.dumps(body)}


def test_queue_event_is_one_bounded_xadd_with_the_query_hash(r: redis.Redis) -> None:
    with r.pipeline(transaction=False) as pipe:
        events.queue_event(pipe, user_id="alice", model="m1", prompt_tokens=3,
                           completion_tokens=4, latency_ms=12.5, cache_hit=False,
                           message="Hello,  World!")  # fmt: skip
        assert len(pipe.command_stack) == 1
        pipe.execute()
    [(entry_id, fields)] = r.xrange(keys.events_stream())
    assert orjson.loads(fields[b"e"])["q"] == query_hash(normalize_query("hello world"))
    ev = parse(entry_id, fields, max_bytes=4096)
    assert (ev.user, ev.model, ev.prompt_tokens, ev.completion_tokens) == ("alice", "m1", 3, 4)
    assert ev.cache_hit is False
    assert ev.latency_ms == 12.5
    assert ev.ts_ms == int(entry_id.split(b"-")[0])


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"v": 9}, "version"),
        ({"m": "bad model!"}, "invalid"),
        ({"m": None}, "invalid"),
        ({"m": {}}, "invalid"),
        ({"t": []}, "invalid"),
        ({"pt": -1}, "range"),
        ({"ct": "many"}, "type"),
        ({"ct": 1.5}, "type"),
        ({"lat": "fast"}, "type"),
        ({"lat": -3}, "range"),
        ({"hit": "yes"}, "invalid"),
        ({"q": "not-a-hash"}, "invalid"),
        ({"u": ""}, "invalid"),
        ({"u": 42}, "invalid"),
        ({"t": "Chat Event"}, "invalid"),
        ({"err": "x" * 65}, "invalid"),
    ],
)
def test_malformed_fields_name_their_reason(over: dict[str, Any], reason: str) -> None:
    with pytest.raises(EventError, match=f"^{reason}:"):
        parse(b"1000-0", _entry(_body(**over)), max_bytes=4096)


def test_malformed_entries_name_their_reason() -> None:
    with pytest.raises(EventError, match=r"^missing: field e"):
        parse(b"1000-0", {b"v": b"1"}, max_bytes=4096)
    with pytest.raises(EventError, match=r"^json:"):
        parse(b"1000-0", {b"e": b"{not json"}, max_bytes=4096)
    with pytest.raises(EventError, match=r"^json: not an object"):
        parse(b"1000-0", {b"e": b"[1, 2]"}, max_bytes=4096)
    with pytest.raises(EventError, match=r"^oversized:"):
        parse(b"1000-0", _entry(_body(s="y" * 120, err="x" * 60)), max_bytes=256)
    with pytest.raises(EventError, match=r"^oversized:"):
        parse(b"1000-0", {**_entry(_body()), b"extra": b"1"}, max_bytes=4096)


def test_nan_latency_is_rejected() -> None:
    raw = orjson.dumps(_body()).replace(b'"lat":12.5', b'"lat":NaN')
    with pytest.raises(EventError, match=r"^json:"):
        parse(b"1000-0", {b"e": raw}, max_bytes=4096)


_HEXDIGITS = "0123456789abcdef"
_VALID: dict[str, st.SearchStrategy[Any]] = {
    "v": st.just(1),
    "t": st.sampled_from(["chat", "feedback"]),
    "u": st.text(min_size=1, max_size=256),
    "s": st.text(max_size=128),
    "m": st.sampled_from(["m1", "gpt-4o", "llama3:8b"]),
    "pt": st.integers(0, MAX_TOKENS),
    "ct": st.integers(0, MAX_TOKENS),
    "lat": st.integers(0, int(MAX_LATENCY_MS)) | st.floats(0, MAX_LATENCY_MS),
    "hit": st.none() | st.booleans(),
    "err": st.text(max_size=64),
    "q": st.just("") | st.text(_HEXDIGITS, min_size=32, max_size=32),
}
_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=5,
)
_CONFUSED = [None, 1, 1.0, True, False, "1", [], {}]  # the JSON values one type can be mistaken for


def _sized(*lengths: int) -> list[str]:
    return ["x" * n for n in lengths]


# Per field: values either side of each bound, and every confusable type.
_EDGES: dict[str, list[Any]] = {
    "v": [0, 2, "1"],
    "t": ["Chat", "a" * 33, "9lives", "chat "],
    "u": _sized(0, 256, 257),
    "s": _sized(128, 129),
    "m": ["bad model!", "m" * 65, ""],
    "pt": [-1, MAX_TOKENS, MAX_TOKENS + 1, 2.0],
    "ct": [-1, MAX_TOKENS, MAX_TOKENS + 1, 2.0],
    "lat": [-1, -0.5, MAX_LATENCY_MS, MAX_LATENCY_MS + 0.5, 2**63 - 1],
    "hit": [0, "true"],
    "err": _sized(64, 65),
    "q": ["f" * 32, "F" * 32, "f" * 31 + "\n", "f" * 33, "0" * 31],
}


@st.composite
def _entries(draw: st.DrawFn) -> dict[bytes, bytes]:
    body: dict[str, Any] = {name: draw(strategy) for name, strategy in _VALID.items()}
    for name in draw(st.lists(st.sampled_from([*_VALID, "extra"]), max_size=2, unique=True)):
        edges = st.sampled_from(_EDGES.get(name, []) + _CONFUSED)
        change = draw(st.sampled_from(["edge", "edge", "drop", "any"]))
        if change == "drop":
            body.pop(name, None)
        else:
            body[name] = draw(edges if change == "edge" else _JSON)
    kind = draw(st.sampled_from(["body"] * 8 + ["json", "raw", "two fields", "no e"]))
    if kind == "json":
        return {b"e": orjson.dumps(draw(_JSON))}
    if kind == "raw":
        return {b"e": draw(st.binary(max_size=64))}
    if kind == "two fields":
        return {b"e": orjson.dumps(body), b"x": b"1"}
    if kind == "no e":
        return {b"v": b"1"}
    return {b"e": orjson.dumps(body)}


def _assert_paths_agree(fields: dict[bytes, bytes], max_bytes: int) -> None:
    """Same event or same dead-letter reason; a valid event never takes the checked path."""
    entry_id = b"1700000000123-4"

    def outcome(parse_fn: Any) -> events.Event | str:
        try:
            return parse_fn(entry_id, fields, max_bytes)  # type: ignore[no-any-return]
        except EventError as exc:
            return f"EventError: {exc}"

    checked_parse = events._checked_parse
    # Register every type and model the generators use, so a known one takes the fast path
    # whatever ran before; then the checked parse of this entry registers any new one.
    for type_, model in zip(
        ["chat", "feedback", "chat"], ["m1", "gpt-4o", "llama3:8b"], strict=True
    ):
        checked_parse(entry_id, _entry(_body(t=type_, m=model)), 4096)
    checked = outcome(checked_parse)
    fell_back: list[bool] = []

    def spy(*args: Any) -> events.Event:
        fell_back.append(True)
        return checked_parse(*args)

    with patch.object(events, "_checked_parse", spy):
        fast = outcome(lambda e, f, m: events.parse(e, f, max_bytes=m))
    assert fast == checked
    assert type(fast) is type(checked)
    assert bool(fell_back) == isinstance(checked, str)


_VALID_BODY = orjson.loads(_entry(_body())[b"e"])


@pytest.mark.parametrize(
    ("name", "value"),
    [(name, value) for name, edges in _EDGES.items() for value in [*edges, *_CONFUSED]]
    + [(name, "<dropped>") for name in _EDGES],
)
def test_the_paths_agree_on_every_edge_of_every_field(name: str, value: Any) -> None:
    body = {k: v for k, v in _VALID_BODY.items() if (k, value) != (name, "<dropped>")}
    if value != "<dropped>":
        body[name] = value
    _assert_paths_agree({b"e": orjson.dumps(body)}, 4096)


@settings(max_examples=400, deadline=None)
@given(fields=_entries(), max_bytes=st.sampled_from([4096, 4096, 4096, 300]))
def test_the_paths_agree_on_generated_entries(fields: dict[bytes, bytes], max_bytes: int) -> None:
    _assert_paths_agree(fields, max_bytes)
