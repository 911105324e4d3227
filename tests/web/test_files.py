from __future__ import annotations

import hashlib
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shared import keys
from shared.files import store
from tests.shared.files.helpers import (
    files_root,
    multipart,
    pdf_bytes,
)
from workers.facade import EnqueueError, enqueue

__all__ = ["files_root"]


def _post(client: TestClient, data: bytes, filename: str = "doc.txt") -> Any:
    body, ctype = multipart(data, filename=filename)
    return client.post("/files", content=body, headers={"content-type": ctype})


def _wait_final(client: TestClient, file_id: str, timeout_s: float = 30) -> list[dict[str, Any]]:
    """Poll as a chatbot client would, until done or failed; every answer seen, in order."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = client.get(f"/files/{file_id}")
        assert answer.status_code == 200, answer.text
        seen.append(answer.json())
        if seen[-1]["status"] in ("done", "failed"):
            return seen
        time.sleep(0.05)
    raise AssertionError(f"{file_id} not finished in {timeout_s} s: {seen[-1:]}")


def test_upload_is_stored_by_hash_and_queued(client, sql_url, files_root: Path) -> None:  # type: ignore[no-untyped-def]
    data = b"Some text for the chatbot to learn. " * 20
    response = _post(client, data)
    assert response.status_code == 202
    file_id = response.json()["file_id"]
    assert file_id == hashlib.sha256(data).hexdigest()
    assert response.json()["status"] == "queued"
    assert store.path_for(files_root, file_id).read_bytes() == data
    status = client.get(f"/files/{file_id}").json()
    assert {k: status[k] for k in ("status", "progress", "error", "chunks")} == {
        "status": "queued",
        "progress": 0,
        "error": None,
        "chunks": None,
    }
    assert status["filename"] == "doc.txt"


def test_oversize_is_413_by_declared_length_and_while_streaming(
    client, sql_url, files_root: Path, settings_env
) -> None:  # type: ignore[no-untyped-def]
    from shared.settings import reset_settings  # noqa: PLC0415

    settings_env.setenv("FILES_MAX_BYTES", "1000")
    reset_settings()
    body, ctype = multipart(b"x" * 200_000)
    declared = client.post("/files", content=body, headers={"content-type": ctype})
    assert declared.status_code == 413
    assert "1000 bytes" in declared.json()["error"]["message"]

    def stream() -> Iterator[bytes]:  # chunked: no Content-Length to trust
        for i in range(0, len(body), 4096):
            yield body[i : i + 4096]

    streamed = client.post("/files", content=stream(), headers={"content-type": ctype})
    assert streamed.status_code == 413
    assert list((files_root / store.TMP_DIR).iterdir()) == []
    assert _post(client, b"x" * 1000).status_code == 202  # exactly the limit is fine


def test_bad_requests_are_json_errors(client, sql_url, files_root: Path) -> None:  # type: ignore[no-untyped-def]
    not_multipart = client.post("/files", json={"file": "x"})
    assert not_multipart.status_code == 415
    body, ctype = multipart(b"data", field="upload")
    wrong_field = client.post("/files", content=body, headers={"content-type": ctype})
    assert wrong_field.status_code == 400
    assert "'file'" in wrong_field.json()["error"]["message"]
    assert client.get("/files/not-a-hash").status_code == 404
    assert client.get(f"/files/{'f' * 64}").status_code == 404


def test_broker_down_is_503_and_a_later_upload_retries(
    client, sql_url, files_root: Path, monkeypatch, r
) -> None:  # type: ignore[no-untyped-def]
    def down(*_a: object, **_k: object) -> str:
        raise EnqueueError("broker unavailable")

    monkeypatch.setattr("web.routes.files.enqueue", down)
    data = b"retry me " * 30
    refused = _post(client, data)
    assert refused.status_code == 503
    assert refused.json()["error"]["message"] == "task queue unavailable, retry later"
    file_id = hashlib.sha256(data).hexdigest()
    assert r.hget(keys.file_status(file_id), "status") == b"failed"
    monkeypatch.setattr("web.routes.files.enqueue", enqueue)  # the broker is back
    again = _post(client, data)
    assert again.status_code == 202
    assert again.json()["status"] == "queued"


@pytest.mark.usefixtures("sql_url")
def test_end_to_end_upload_to_done_and_same_content_again(
    client, worker, files_root: Path, r
) -> None:  # type: ignore[no-untyped-def]
    text = ("Retrieval needs chunks. " * 40 + "\n\n") * 10
    uploads = {"notes.md": text.encode(), "paper.pdf": pdf_bytes(["A PDF page.", "Another one."])}
    for name, data in uploads.items():
        posted = _post(client, data, filename=name)
        assert posted.status_code == 202
        file_id = posted.json()["file_id"]
        seen = _wait_final(client, file_id)
        final = seen[-1]
        assert final["status"] == "done", final
        assert final["chunks"] >= 1
        assert final["progress"] == 100
        assert final["error"] is None
        progress = [answer["progress"] for answer in seen]
        assert progress == sorted(progress)
        again = _post(client, data, filename="renamed-" + name)
        assert again.status_code == 202
        assert again.json() == {"file_id": file_id, "status": "done", "existing": True}
        # The status hash expired: SQL answers, and a new upload is still recognised.
        r.delete(keys.file_status(file_id))
        from_sql = client.get(f"/files/{file_id}").json()
        assert (from_sql["status"], from_sql["chunks"]) == ("done", final["chunks"])
        assert _post(client, data).json()["existing"] is True


@pytest.mark.usefixtures("sql_url")
def test_end_to_end_bad_file_ends_failed_with_its_reason(client, worker, files_root: Path) -> None:  # type: ignore[no-untyped-def]
    posted = _post(client, bytes(range(256)) * 10, filename="looks-like.txt")
    assert posted.status_code == 202
    final = _wait_final(client, posted.json()["file_id"])[-1]
    assert final["status"] == "failed"
    assert "binary content" in final["error"]
    assert final["chunks"] is None
