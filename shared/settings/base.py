"""The machinery behind the settings: declare a field once, read it once from the environment.

Each section of the settings is a frozen dataclass whose fields are declared with `setting()`:
the environment variable, the default, the unit and a one-line description. `load_section()`
parses every field from the type annotation, validates it, and raises `SettingsError` naming the
variable on the first bad value, so a process with wrong configuration stops at start with one
line instead of failing later on a request.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class SettingsError(ValueError):
    """A setting is missing or malformed; the message names the environment variable."""


def setting(
    env: str,
    default: Any,
    doc: str,
    *,
    unit: str = "",
    minimum: float | None = None,
    maximum: float | None = None,
    choices: tuple[str, ...] = (),
    secret: bool = False,
) -> Any:
    """Declare one setting; the metadata also feeds the README table and the validation."""
    meta = {
        "env": env,
        "doc": doc,
        "unit": unit,
        "minimum": minimum,
        "maximum": maximum,
        "choices": choices,
        "secret": secret,
    }
    if isinstance(default, list | dict | set):
        raise TypeError("use tuples for sequence defaults: settings are frozen")
    return dataclasses.field(default=default, metadata=meta)


def _parse_bool(env: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise SettingsError(f"{env}: expected true/false, got {raw!r}")


def _parse_scalar(env: str, kind: Any, raw: str) -> Any:
    if kind is bool:
        return _parse_bool(env, raw)
    try:
        if kind is int:
            return int(raw.strip())
        if kind is float:
            return float(raw.strip())
    except ValueError:
        raise SettingsError(f"{env}: expected {kind.__name__}, got {raw!r}") from None
    if kind is str:
        return raw
    raise TypeError(f"{env}: unsupported setting type {kind!r}")


def _parse(env: str, annotation: Any, raw: str) -> Any:
    origin = typing.get_origin(annotation)
    if origin in (types.UnionType, typing.Union):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        return None if raw.strip() == "" else _parse(env, inner[0], raw)
    if origin is tuple:
        (item, _) = typing.get_args(annotation)
        return tuple(_parse_scalar(env, item, p.strip()) for p in raw.split(",") if p.strip())
    return _parse_scalar(env, annotation, raw)


def _validate(env: str, meta: Mapping[str, Any], value: Any) -> None:
    values = value if isinstance(value, tuple) else (value,)
    for v in values:
        if v is None:
            continue
        if meta["choices"] and v not in meta["choices"]:
            raise SettingsError(f"{env}: expected one of {', '.join(meta['choices'])}, got {v!r}")
        if isinstance(v, int | float) and not isinstance(v, bool):
            if meta["minimum"] is not None and v < meta["minimum"]:
                raise SettingsError(f"{env}: must be >= {meta['minimum']}, got {v!r}")
            if meta["maximum"] is not None and v > meta["maximum"]:
                raise SettingsError(f"{env}: must be <= {meta['maximum']}, got {v!r}")


def load_section(cls: type[T], environ: Mapping[str, str]) -> T:
    """Build one settings section from `environ`, raising `SettingsError` on the first bad value."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        env = f.metadata["env"]
        raw = environ.get(env)
        value = f.default if raw is None else _parse(env, hints[f.name], raw)
        _validate(env, f.metadata, value)
        values[f.name] = value
    return cls(**values)


def describe(cls: type[Any]) -> list[dict[str, Any]]:
    """Rows (env, default, unit, doc) for documentation; secrets show no default value."""
    rows = []
    for f in dataclasses.fields(cls):
        default: Any = f.default
        if f.metadata["secret"]:
            default = "(unset)" if default in (None, "") else "(set)"
        rows.append({"env": f.metadata["env"], "default": default, **f.metadata})
    return rows
