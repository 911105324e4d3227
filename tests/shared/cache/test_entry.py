"""Keys, stored frames and the read verdict of the response cache."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.cache import codec
from shared.cache.entry import CacheKey, Envelope, encode, judge
from shared.settings import get_settings


def _env(user_id: str | None = None, created_at: float = 1000.0) -> Envelope:
    return Envelope("an answer " * 200, "demo", created_at, 60.0, "live", 3, 40, user_id)


def test_equivalent_questions_share_a_key_and_scopes_do_not() -> None:
    a = CacheKey.build("What is  REDIS?", "m", template_version="v1")
    b = CacheKey.build("what is redis", "m", template_version="v1")
    assert a.entry == b.entry
    assert a.qhash == b.qhash
    assert CacheKey.build("what is redis", "m2", template_version="v1").entry != a.entry
    assert CacheKey.build("what is redis", "m", template_version="v2").entry != a.entry
    params = CacheKey.build("what is redis", "m", template_version="v1", params={"t": 0.2})
    assert params.entry != a.entry
    alice = CacheKey.build("what is redis", "m", template_version="v1", user_id="alice")
    assert alice.entry != a.entry
    assert "{u:alice}" in alice.entry
    assert alice.generation is not None
    assert "{u:alice}" in alice.generation


@settings(max_examples=60, deadline=None)
@given(
    body=st.binary(max_size=5000),
    gen=st.integers(min_value=0, max_value=2**40),
    codec_name=st.sampled_from(sorted(codec.CODECS)),
    min_bytes=st.integers(min_value=0, max_value=6000),
)
def test_frames_round_trip(body: bytes, gen: int, codec_name: str, min_bytes: int) -> None:
    frame = codec.unpack(codec.pack(body, gen=gen, codec=codec_name, min_bytes=min_bytes))
    assert frame == codec.Frame(gen, body)


@pytest.mark.parametrize("raw", [b"", b"garbage", b"C:j:{}", b"C1:q:xx", b"C1:s:not-zstd"])
def test_foreign_bytes_are_not_frames(raw: bytes) -> None:
    assert codec.unpack(raw) is None


def test_large_envelopes_are_compressed() -> None:
    cs = get_settings().cache
    raw = encode(_env(), gen=0, settings=cs)
    assert raw.startswith(b"C0:s:")
    assert len(raw) < len(_env().to_json())


def test_verdicts() -> None:
    cs = get_settings().cache
    glob = CacheKey.build("q", "demo", template_version="v1")
    raw = encode(_env(created_at=1000.0), gen=0, settings=cs)
    assert judge(glob, [None], 1010.0).status == "miss"
    assert judge(glob, [raw], 1010.0).status == "hit"
    assert judge(glob, [raw], 1061.0).status == "stale"
    assert judge(glob, [b"junk"], 1010.0).status == "miss"

    alice = CacheKey.build("q", "demo", template_version="v1", user_id="alice")
    mine = encode(_env("alice"), gen=2, settings=cs)
    assert judge(alice, [mine, b"2"], 1010.0).status == "hit"
    assert judge(alice, [mine, b"3"], 1010.0).status == "miss"  # generation bumped
    assert judge(alice, [mine, None], 1010.0).status == "miss"
    bobs = encode(_env("bob"), gen=2, settings=cs)
    assert judge(alice, [bobs, b"2"], 1010.0).status == "miss"  # someone else's envelope


def test_lone_surrogate_user_ids_are_stored_and_checked() -> None:
    cs = get_settings().cache
    odd = "x\ud800y"
    key = CacheKey.build("q", "demo", template_version="v1", user_id=odd)
    raw = encode(_env(odd), gen=0, settings=cs)
    assert judge(key, [raw, None], 1010.0).status == "hit"
    other = CacheKey.build("q", "demo", template_version="v1", user_id="x\ud801y")
    assert judge(other, [raw, None], 1010.0).status == "miss"
