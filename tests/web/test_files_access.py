"""Uploads are guarded per identity (count and bytes) and readable only by their uploaders."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shared.settings import reset_settings
from tests.shared.files.helpers import files_root, multipart

__all__ = ["files_root"]

pytestmark = pytest.mark.usefixtures("sql_url", "files_root")


def _post(
    client: TestClient, data: bytes, token: str | None = None, filename: str = "doc.txt"
) -> Any:
    body, ctype = multipart(data, filename=filename)
    headers = {"content-type": ctype}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return client.post("/files", content=body, headers=headers)


def _get(client: TestClient, file_id: str, token: str | None = None) -> Any:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    return client.get(f"/files/{file_id}", headers=headers)


def test_uploads_per_identity_are_counted(settings_env, token) -> None:  # type: ignore[no-untyped-def]
    from web.app import create_app  # noqa: PLC0415

    settings_env.setenv("FILE_UPLOAD_LIMIT", "5")
    settings_env.setenv("FILE_UPLOAD_WINDOW", "3600")
    reset_settings()
    with TestClient(create_app()) as client:
        codes = [_post(client, f"anonymous upload {i}".encode()).status_code for i in range(6)]
        assert codes == [202] * 5 + [429]
        refused = _post(client, b"one more")
        assert refused.status_code == 429
        assert int(refused.headers["retry-after"]) >= 1
        assert "'files'" in refused.json()["error"]["message"]
        # Another identity has its own budget.
        assert _post(client, b"alice's upload", token("alice")).status_code == 202


def test_upload_bytes_per_identity_are_counted(settings_env, token) -> None:  # type: ignore[no-untyped-def]
    from web.app import create_app  # noqa: PLC0415

    settings_env.setenv("FILES_MAX_BYTES", "40000")
    settings_env.setenv("FILE_UPLOAD_BYTES_LIMIT", "100000")
    settings_env.setenv("FILE_UPLOAD_WINDOW", "3600")
    reset_settings()
    with TestClient(create_app()) as client:
        alice = token("alice")
        codes = [_post(client, bytes([65 + i]) * 30_000, alice).status_code for i in range(4)]
        assert codes == [202, 202, 202, 429]
        assert _post(client, b"small " * 100, alice).status_code == 202  # bytes left
        assert _post(client, b"z" * 30_000, token("bob")).status_code == 202


def test_only_uploaders_and_admins_read_an_upload(client, token) -> None:  # type: ignore[no-untyped-def]
    data = b"alice's private notes " * 10
    file_id = hashlib.sha256(data).hexdigest()
    alice, bob, admin = token("alice"), token("bob"), token("root", role="admin")
    assert _post(client, data, alice, filename="alice-salary.txt").status_code == 202
    mine = _get(client, file_id, alice)
    assert mine.status_code == 200
    assert mine.json()["filename"] == "alice-salary.txt"
    unknown = _get(client, "f" * 64, bob)
    for stranger in (_get(client, file_id, bob), _get(client, file_id)):
        assert stranger.status_code == 404  # as if it did not exist: nothing leaks
        assert stranger.json() == unknown.json()
    assert _get(client, file_id, admin).json()["filename"] == "alice-salary.txt"
    # Bob uploads the same bytes: now he may read them too, under his own name, not alice's.
    assert _post(client, data, bob, filename="notes.txt").json()["existing"] is True
    assert _get(client, file_id, bob).json()["filename"] == "notes.txt"
    assert _get(client, file_id, alice).json()["filename"] == "alice-salary.txt"
    assert _get(client, file_id).status_code == 404  # anonymous is a third identity
