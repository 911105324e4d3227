"""Reading `/chat/stream`'s server-sent events in tests."""

from __future__ import annotations

from typing import Any

import orjson


def parse_events(body: str) -> list[dict[str, Any]]:
    """The JSON of every `data:` line, in order (blank lines separate events)."""
    events = []
    for line in body.splitlines():
        if line:
            assert line.startswith("data: "), line
            events.append(orjson.loads(line[len("data: ") :]))
    return events


def text_of(events: list[dict[str, Any]]) -> str:
    return "".join(e["delta"] for e in events if "delta" in e)
