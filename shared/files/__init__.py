"""File processing: detect, extract, normalise, chunk and store uploaded documents.

Modules: `detect` (type from content), `extract` (text per type, bounded), `chunk` (normalise and
split with overlap), `store` (the upload directory, by content hash), `documents` (SQL),
`status` (the Redis progress hash, monotonic through Lua), `process` (the pipeline the
`files.process` task runs) and `cleanup` (the `files.cleanup` beat job).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

_FILE_ID = re.compile(r"[0-9a-f]{64}")


class FileRejected(ValueError):
    """Bad input: the file ends `failed` with this message as its reason."""


def is_file_id(raw: str) -> bool:
    """True for a file id as we mint them: the lowercase hex SHA-256 of the content."""
    return bool(_FILE_ID.fullmatch(raw))


@dataclass
class Deadline:
    """A cooperative time budget: long loops call `check()` so a slow file fails, never hangs.

    Celery's soft time limit does not fire in every pool (threads, solo), so extraction checks
    this itself between pages and rows; the hard time limit stays as the backstop.
    """

    budget_s: float
    started: float = field(default_factory=time.monotonic)

    def check(self) -> None:
        if time.monotonic() - self.started > self.budget_s:
            raise FileRejected(f"processing took longer than {self.budget_s:.0f} s")
