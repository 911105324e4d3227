"""Settings of the files domain."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FilesSettings:
    pass
