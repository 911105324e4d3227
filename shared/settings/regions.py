"""Regions: this deployment's name and every region's broker (the invalidation fan-out's targets).

Empty REGION_BROKERS is a single-region deployment, exactly as before regions existed. Set, it
names every region, this one included, so a typo in REGION stops the process at start instead
of silently leaving this region out of every other region's fan-out.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import orjson

from shared.settings.base import SettingsError, setting

# At most 16: a region names its audit state row (audit_state.name).
_REGION_NAME = re.compile(r"[A-Za-z0-9_-]{1,16}")


@dataclass(frozen=True)
class RegionSettings:
    region: str = setting(
        "REGION",
        "local",
        "This deployment's region name (letters, digits, _ and -; at most 16; not `main`).",
    )
    region_brokers_json: str = setting(
        "REGION_BROKERS",
        "",
        "JSON object: every region's name (this one included) -> its Celery broker URL. "
        "Empty: single region.",
        secret=True,
    )

    @functools.cached_property
    def brokers(self) -> dict[str, str]:
        """Every region's broker URL by name; empty for a single-region deployment."""
        return parse_brokers(self.region, self.region_brokers_json)

    @property
    def multi(self) -> bool:
        return bool(self.brokers)

    @property
    def others(self) -> dict[str, str]:
        """The other regions' brokers, in name order (the fan-out's targets)."""
        return {name: url for name, url in sorted(self.brokers.items()) if name != self.region}

    @property
    def names(self) -> list[str]:
        return sorted(self.brokers) or [self.region]


def parse_brokers(region: str, raw: str) -> dict[str, str]:
    """Validate REGION and REGION_BROKERS together; the error names the variable, never a URL."""
    if not _REGION_NAME.fullmatch(region) or region == "main":
        # `main` is the audit state row of the default region `local`.
        raise SettingsError(
            f"REGION: letters, digits, _ and - only (1-16), not main; got {region!r}"
        )
    if not raw.strip():
        return {}
    try:
        parsed = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise SettingsError("REGION_BROKERS: not valid JSON (expected an object)") from None
    if not isinstance(parsed, dict) or not parsed:
        raise SettingsError("REGION_BROKERS: expected a non-empty JSON object name -> broker URL")
    for name, url in parsed.items():
        if not _REGION_NAME.fullmatch(name) or name == "main":
            raise SettingsError(f"REGION_BROKERS: bad region name {name!r}")
        if not isinstance(url, str) or "://" not in url:
            raise SettingsError(f"REGION_BROKERS: region {name!r} needs a broker URL string")
        if "+cluster" in url.split("://", 1)[0]:
            raise SettingsError(f"REGION_BROKERS: region {name!r}: Redis Cluster is no broker")
    if region not in parsed:
        raise SettingsError(
            f"REGION_BROKERS: this region ({region!r}, from REGION) is missing; "
            "it must name every region, this one included"
        )
    return dict(parsed)
