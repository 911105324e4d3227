from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.files import store
from shared.files.upload import BadUpload, MultipartUpload
from tests.shared.files.helpers import multipart


def _feed(root: Path, body: bytes, ctype: str, piece: int, max_bytes: int = 10_000) -> tuple:
    upload = MultipartUpload(ctype, root, max_bytes)
    try:
        for i in range(0, len(body), piece):
            upload.feed(body[i : i + piece])
        return upload.finish()
    finally:
        upload.discard()


@given(data=st.binary(max_size=3000), piece=st.integers(1, 700))
@settings(max_examples=60, deadline=None)
def test_any_split_of_the_body_stores_the_exact_bytes(data: bytes, piece: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        _split_and_check(Path(tmp), data, piece)


def _split_and_check(tmp_path: Path, data: bytes, piece: int) -> None:
    body, ctype = multipart(data, filename="../../etc/x.txt", extra=_field("note", b"hello"))
    file_id, size, filename = _feed(tmp_path, body, ctype, piece)
    assert file_id == hashlib.sha256(data).hexdigest()
    assert size == len(data)
    assert filename == "x.txt"  # no directory parts from the client
    assert store.path_for(tmp_path, file_id).read_bytes() == data
    assert list((tmp_path / store.TMP_DIR).iterdir()) == []


def _field(name: str, value: bytes) -> bytes:
    from tests.shared.files.helpers import BOUNDARY  # noqa: PLC0415

    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
        + value
        + b"\r\n"
    )


def test_the_limit_is_enforced_while_streaming(tmp_path: Path) -> None:
    body, ctype = multipart(b"x" * 5000)
    with pytest.raises(store.TooLarge):
        _feed(tmp_path, body, ctype, 512, max_bytes=4999)
    assert list((tmp_path / store.TMP_DIR).iterdir()) == []
    assert _feed(tmp_path, body, ctype, 512, max_bytes=5000)[1] == 5000


@pytest.mark.parametrize(
    ("body", "ctype", "message"),
    [
        (b"", "application/json", "expected multipart/form-data"),
        (b"", "multipart/form-data", "without a boundary"),
        (multipart(b"x", field="other")[0], multipart(b"x")[1], "no complete 'file' field"),
        (multipart(b"x")[0][:-20], multipart(b"x")[1], "no complete 'file' field"),
        (b"garbage without boundaries", multipart(b"x")[1], "malformed|no complete"),
        (_field("big", b"y" * 70_000), multipart(b"x")[1], "too large"),
    ],
)
def test_bad_uploads_are_refused(tmp_path: Path, body: bytes, ctype: str, message: str) -> None:
    with pytest.raises(BadUpload, match=message):
        _feed(tmp_path, body, ctype, 1024)
