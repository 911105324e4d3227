"""POST /files (streamed upload, enqueue files.process) and GET /files/{file_id} (progress).

Uploads are rate-limited per identity (count and bytes, `web.file_access`) before the body is
read, and each upload records its uploader: GET answers only the uploaders of the content and
admins, and 404 to anyone else, as for an unknown file.

Round trips. POST: one guard script, one SQL upsert of the uploader, one Lua script
(`file_claim`: decide and mark queued) and one broker publish; only when Redis has no status
for this content, one SQL read (an existing document is answered from SQL and its status
restored with one more script). GET: one SQL read of the uploader (none for admins), one
HGETALL; SQL again only once the file is done or its status hash has expired. The body is
parsed as it streams and written to disk piece by piece, never held in memory; the size limit
is enforced while streaming.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from shared import keys
from shared.files import documents, is_file_id, status, store
from shared.files.upload import BadUpload, MultipartUpload
from shared.lua import script
from shared.settings import get_settings
from web.auth import Caller
from web.deps import Redis
from web.errors import error_body
from web.file_access import admit_upload, reader_fields, record_uploader
from workers.facade import EnqueueError, enqueue

log = logging.getLogger(__name__)
router = APIRouter(tags=["files"])

# Room for the multipart boundaries and part headers around the file itself.
MULTIPART_SLACK_BYTES = 64 * 1024


@router.post("/files", status_code=202)
async def upload(request: Request, redis: Redis, who: Caller) -> JSONResponse:
    """Store the `file` field by content hash and enqueue its processing (202 {"file_id"})."""
    settings = get_settings()
    files = settings.files
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > files.max_bytes + MULTIPART_SLACK_BYTES:
        raise HTTPException(413, f"file exceeds the limit of {files.max_bytes} bytes")
    await admit_upload(request, redis, who)
    try:
        parser = MultipartUpload(
            request.headers.get("content-type", ""),
            store.root_dir(files.upload_dir),
            files.max_bytes,
        )
    except BadUpload as exc:
        raise HTTPException(415, str(exc)) from None
    try:
        async for piece in request.stream():
            parser.feed(piece)
        file_id, size_bytes, filename = parser.finish()
    except store.TooLarge as exc:
        raise HTTPException(413, str(exc)) from None
    except BadUpload as exc:
        raise HTTPException(400, str(exc)) from None
    except ClientDisconnect:
        raise HTTPException(400, "client disconnected during the upload") from None
    finally:
        parser.discard()  # no-op after a commit; removes the partial file otherwise
    await record_uploader(file_id, who, filename)
    k, a = status.claim_call(file_id, filename, size_bytes, settings)
    claim = status.parse_claim(await script(redis, "file_claim")(keys=k, args=a))
    if claim.outcome == "claimed" and claim.previous == "":
        # Redis forgot this content (new, or its status expired): SQL knows finished documents.
        doc = await run_in_threadpool(documents.get, file_id)
        if doc is not None and doc.status == documents.DONE:
            await _mark(redis, file_id, claim.gen, status.DONE, chunks=doc.chunk_count)
            return _accepted(file_id, status.DONE, existing=True)
    if claim.outcome != "claimed":
        return _accepted(file_id, claim.outcome, existing=True)
    try:
        await run_in_threadpool(
            enqueue, "files.process", file_id=file_id, gen=claim.gen, filename=filename
        )
    except EnqueueError:
        # Leave a failed status, not a queued one nobody will run; a new upload claims again.
        await _mark(redis, file_id, claim.gen, status.FAILED, error="could not enqueue; retry")
        return JSONResponse(error_body(503, "task queue unavailable, retry later"), 503)
    return _accepted(file_id, status.QUEUED, existing=False)


@router.get("/files/{file_id}")
async def file_status(file_id: str, redis: Redis, who: Caller) -> dict[str, Any]:
    """Status, progress, error and chunk count of an upload (its uploaders and admins only)."""
    shown = await reader_fields(file_id, who) if is_file_id(file_id) else None
    state = await _state(file_id, redis) if shown is not None else None
    if shown is None or state is None:
        raise HTTPException(404, "unknown file")
    return {"file_id": file_id, **state, **shown}


async def _state(file_id: str, redis: Redis) -> dict[str, Any] | None:
    live = status.view(await redis.hgetall(keys.file_status(file_id)))
    if live is not None and live["status"] != status.DONE:
        return live
    doc = await run_in_threadpool(documents.get, file_id)
    return doc.view() if doc is not None else live


def _accepted(file_id: str, state: str, *, existing: bool) -> JSONResponse:
    return JSONResponse({"file_id": file_id, "status": state, "existing": existing}, 202)


async def _mark(
    redis: Redis, file_id: str, gen: int, state: str, *, error: str = "", chunks: int | None = None
) -> None:
    progress = 100 if state == status.DONE else 0
    k, a = status.progress_call(
        file_id, gen, state, progress, settings=get_settings(), error=error, chunks=chunks
    )
    await script(redis, "file_progress")(keys=k, args=a)
