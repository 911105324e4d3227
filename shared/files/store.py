"""The upload directory: files stored by content hash, written through a temporary file.

Layout under FILES_UPLOAD_DIR: `<id[:2]>/<id>` for stored files (id = SHA-256 hex of the bytes)
and `tmp/<random>.part` for uploads in flight. A stored file appears only through an atomic
rename of a complete temporary file, so readers never see half a file; identical content lands
on the same path, which is what makes uploads idempotent.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from shared.files import FileRejected, is_file_id

TMP_DIR = "tmp"
TMP_SUFFIX = ".part"


class TooLarge(Exception):
    """The upload exceeded FILES_MAX_BYTES (the web answers 413)."""

    def __init__(self, max_bytes: int) -> None:
        super().__init__(f"file exceeds the limit of {max_bytes} bytes")
        self.max_bytes = max_bytes


def root_dir(upload_dir: str) -> Path:
    return Path(upload_dir).resolve()


def path_for(root: Path, file_id: str) -> Path:
    if not is_file_id(file_id):
        raise ValueError("not a file id")
    return root / file_id[:2] / file_id


class IncomingFile:
    """One upload being written: hashed and counted as it streams, bounded by `max_bytes`.

    Use as a context manager; `commit()` moves it into place, leaving the block without a
    commit deletes the temporary file.
    """

    def __init__(self, root: Path, max_bytes: int) -> None:
        self.root = root
        self.max_bytes = max_bytes
        self.size_bytes = 0
        self._hash = hashlib.sha256()
        tmp = root / TMP_DIR
        tmp.mkdir(parents=True, exist_ok=True)
        self.tmp_path = tmp / (secrets.token_hex(16) + TMP_SUFFIX)
        self._fh = self.tmp_path.open("xb")

    def __enter__(self) -> IncomingFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.discard()

    def write(self, data: bytes) -> None:
        """Append `data`; raises `TooLarge` as soon as the limit is crossed."""
        self.size_bytes += len(data)
        if self.size_bytes > self.max_bytes:
            raise TooLarge(self.max_bytes)
        self._hash.update(data)
        self._fh.write(data)

    def commit(self) -> str:
        """Move the complete file to its content path; returns the file id."""
        file_id = self._hash.hexdigest()
        self._fh.close()
        final = path_for(self.root, file_id)
        # Same bytes, same name: replacing an existing copy is harmless and keeps this atomic.
        for attempt in (1, 2):
            final.parent.mkdir(parents=True, exist_ok=True)
            try:
                os.replace(self.tmp_path, final)
                break
            except FileNotFoundError:
                if attempt == 2:  # cleanup pruned the empty shard in between: once more
                    raise
        return file_id

    def discard(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self.tmp_path.unlink(missing_ok=True)


def read(root: Path, file_id: str, max_bytes: int) -> bytes:
    """The stored bytes of `file_id`; `FileRejected` when missing or over the limit."""
    try:
        with path_for(root, file_id).open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise FileRejected("the uploaded file is gone (cleaned up or never stored)") from None
    if len(data) > max_bytes:
        raise FileRejected(f"file exceeds the limit of {max_bytes} bytes")
    return data


def remove(root: Path, file_id: str) -> bool:
    """Delete the stored file; True when something was deleted."""
    try:
        path_for(root, file_id).unlink()
    except FileNotFoundError:
        return False
    return True


def scan(root: Path) -> Iterator[tuple[str | None, Path, float]]:
    """Every stored file as (file_id, path, mtime), temporary ones with id None; lazily."""
    if not root.is_dir():
        return
    for shard in os.scandir(root):
        if not shard.is_dir(follow_symlinks=False):
            continue
        for entry in os.scandir(shard.path):
            if not entry.is_file(follow_symlinks=False):
                continue
            try:
                mtime = entry.stat(follow_symlinks=False).st_mtime
            except FileNotFoundError:
                continue  # removed by a concurrent commit or cleanup
            if shard.name == TMP_DIR:
                yield None, Path(entry.path), mtime
            elif is_file_id(entry.name) and entry.name[:2] == shard.name:
                yield entry.name, Path(entry.path), mtime
