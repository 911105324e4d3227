"""Settings of the analytics domain."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class AnalyticsSettings:
    pass
