"""Per-user and per-tenant policy overrides from RATE_LIMIT_OVERRIDES (JSON).

Shape: `{"users": {"<sub>": {"<policy>": {"limit": n, "window_s": s, "mode": m,
"fail_mode": f}}}, "tenants": {"<tenant>": {...}}}`; every field of a policy entry is optional.
A user's entry wins over its tenant's, which wins over the settings.
"""

from __future__ import annotations

import functools
from typing import Any

import orjson

Override = dict[str, Any]
_FIELDS: dict[str, type | tuple[type, ...]] = {
    "limit": int,
    "window_s": (int, float),
    "mode": str,
    "fail_mode": str,
}
_CHOICES = {"mode": ("enforce", "shadow", "off"), "fail_mode": ("open", "closed")}


def _check_entry(where: str, entry: Any) -> None:
    if not isinstance(entry, dict):
        raise ValueError(f"{where}: expected an object")
    for field, value in entry.items():
        kind = _FIELDS.get(field)
        if kind is None:
            raise ValueError(f"{where}: unknown field {field!r}")
        if isinstance(value, bool) or not isinstance(value, kind):
            raise ValueError(f"{where}.{field}: wrong type")
        if field in _CHOICES and value not in _CHOICES[field]:
            raise ValueError(f"{where}.{field}: expected one of {', '.join(_CHOICES[field])}")
        if isinstance(value, int | float) and value <= 0:
            raise ValueError(f"{where}.{field}: must be > 0")


@functools.cache
def parse_overrides(raw: str) -> dict[str, dict[str, dict[str, Override]]]:
    """Parse and validate the JSON text; raises ValueError saying what is wrong and where."""
    if not raw.strip():
        return {"users": {}, "tenants": {}}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON ({exc})") from None
    if not isinstance(data, dict) or set(data) - {"users", "tenants"}:
        raise ValueError('expected an object with "users" and/or "tenants"')
    for scope in ("users", "tenants"):
        members = data.setdefault(scope, {})
        if not isinstance(members, dict):
            raise ValueError(f"{scope}: expected an object")
        for who, policies in members.items():
            if not isinstance(policies, dict):
                raise ValueError(f"{scope}.{who}: expected an object of policies")
            for name, entry in policies.items():
                _check_entry(f"{scope}.{who}.{name}", entry)
    return data  # type: ignore[no-any-return]


def override_for(raw: str, policy: str, user: str | None, tenant: str | None) -> Override:
    """The merged override of `policy` for this caller (tenant first, then user on top)."""
    data = parse_overrides(raw)
    merged: Override = {}
    if tenant is not None:
        merged.update(data["tenants"].get(tenant, {}).get(policy, {}))
    if user is not None:
        merged.update(data["users"].get(user, {}).get(policy, {}))
    return merged
