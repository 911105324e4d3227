"""The invalidation outbox: an entry stays until its region accepts it; redelivery is harmless."""

from __future__ import annotations

import time
from typing import Any

import redis

from shared import keys
from shared.cache import invalidate as inv
from shared.cache import outbox
from shared.cache.entry import CacheKey
from shared.cache.store import store_reply
from shared.responder import Reply
from shared.settings import get_settings

BROKERS = {"b": "redis://b", "c": "redis://c"}


def _record(r: redis.Redis, fanout: str, kwargs: dict[str, Any], regions: list[str]) -> None:
    r.hset(keys.cache_outbox(), mapping=outbox.entries(fanout, kwargs, regions, time.time()))


def test_pending_stays_until_the_broker_accepts_then_is_removed(r: redis.Redis) -> None:
    _record(r, "f1", {"tag": "t1"}, ["b", "c"])
    _record(r, "f2", {"tag": "t2"}, ["b"])
    sent: list[tuple[str, dict[str, Any]]] = []
    up = {"c"}

    def send(region: str, kwargs: dict[str, Any]) -> str | None:
        sent.append((region, kwargs))
        return "id" if region in up else None

    report = outbox.deliver(r, send, BROKERS)
    # b refused once and was skipped for its second entry; c was delivered and removed.
    assert (report["failed"], report["delivered"], report["left"]) == (1, 1, 1)
    assert sent.count(("c", {"tag": "t1"})) == 1
    assert len([s for s in sent if s[0] == "b"]) == 1
    assert sorted(r.hkeys(keys.cache_outbox())) == [b"b|f1", b"b|f2"]

    up.add("b")
    sent.clear()
    report = outbox.deliver(r, send, BROKERS)
    assert report["delivered"] == 2
    assert sorted(sent, key=str) == [("b", {"tag": "t1"}), ("b", {"tag": "t2"})]
    assert r.exists(keys.cache_outbox()) == 0
    assert outbox.deliver(r, send, BROKERS)["delivered"] == 0


def test_an_entry_of_an_unknown_region_is_kept(r: redis.Redis) -> None:
    _record(r, "f1", {"tag": "t"}, ["gone"])
    report = outbox.deliver(r, lambda region, kwargs: "id", BROKERS)
    assert report["unknown"] == 1
    assert r.hlen(keys.cache_outbox()) == 1


def test_redelivery_of_a_tag_invalidation_is_harmless(r: redis.Redis) -> None:
    cs = get_settings().cache
    for text, model in (("q1", "m1"), ("q2", "m1"), ("q3", "m2")):
        key = CacheKey.build(text, model, template_version="v1")
        store_reply(r, key, Reply("a", 1, 1), source="live", now=time.time(), settings=cs)
    entries = keys.cache_entries_prefix() + "*"
    assert len(list(r.scan_iter(match=entries))) == 3

    def send(region: str, kwargs: dict[str, Any]) -> str | None:
        inv.invalidate_tag(r, str(kwargs["tag"]), cs, lambda meta: None)
        return "id"

    # The same fan-out delivered twice: a crash between the publish and the HDEL re-sends it.
    _record(r, "f1", {"tag": "model:m1"}, ["b"])
    outbox.deliver(r, send, BROKERS)
    after_first = sorted(r.scan_iter(match=entries))
    _record(r, "f1", {"tag": "model:m1"}, ["b"])
    outbox.deliver(r, send, BROKERS)
    assert sorted(r.scan_iter(match=entries)) == after_first
    assert len(after_first) == 1
