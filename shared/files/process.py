"""The pipeline `files.process` runs: read, detect, extract, normalise, chunk, store.

Idempotent on the content hash: a file whose document is already `done` in SQL is reported
done without work. Bad input ends `failed` with its reason, in SQL and in the status hash; a
document and its chunks reach SQL in one transaction, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import logging
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy.exc import SQLAlchemyError

from shared.files import Deadline, FileRejected, documents, is_file_id, status, store
from shared.files.chunk import chunk_text, normalize_text
from shared.files.detect import Detected, detect
from shared.files.extract import Limits, extract
from shared.redis_client import RedisClient
from shared.settings import Settings

log = logging.getLogger(__name__)

# Share of the progress bar each stage ends at, in percent.
READ_PCT, EXTRACT_PCT, CHUNK_PCT = 5, 80, 90


class _Reporter:
    """Progress updates, sent only when the whole percent changes (one round trip each)."""

    def __init__(self, client: RedisClient, file_id: str, gen: int, settings: Settings) -> None:
        self.client, self.file_id, self.gen, self.settings = client, file_id, gen, settings
        self.last = -1

    def __call__(self, pct: float) -> None:
        whole = int(pct)
        if whole > self.last:
            self.last = whole
            status.update(
                self.client,
                self.file_id,
                self.gen,
                status.PROCESSING,
                whole,
                settings=self.settings,
            )

    def stage(self, lo: int, hi: int) -> Any:
        return lambda fraction: self(lo + (hi - lo) * fraction)


def time_limits(settings: Settings) -> tuple[int, int]:
    """(hard, soft) time limits of files.process in seconds, the hard one below the broker's
    visibility timeout so that a running task is never redelivered to a second worker."""
    hard = max(10, min(settings.files.time_limit_s, settings.workers.visibility_timeout_s - 30))
    return hard, max(5, int(hard * 0.9))


def process_file(
    client: RedisClient,
    file_id: str,
    settings: Settings,
    *,
    gen: int = 0,
    filename: str = "",
    timeout_errors: tuple[type[BaseException], ...] = (),
) -> dict[str, Any]:
    """Process the stored upload `file_id`; returns {"status", "chunks"?, "error"?}.

    Redis: the status hash of the file (start, progress, final status). SQL: one transaction
    for the document and its chunks, or one for the failure record. `timeout_errors` are the
    caller's soft-time-limit exceptions, turned into a `failed` status with a clear reason.
    """
    if not is_file_id(file_id):
        return {"status": status.FAILED, "error": "invalid file id"}
    files = settings.files
    verdict, gen = status.start(client, file_id, gen, settings)
    if verdict == "poison":
        reason = status.poison_reason(files.max_attempts)
        documents.save_failed(file_id, filename=filename, media_type="", size_bytes=0, error=reason)
        return {"status": status.FAILED, "error": reason}
    if verdict != "run":
        return {"status": verdict}
    existing = documents.get(file_id)
    if existing is not None and existing.status == documents.DONE:
        status.update(
            client, file_id, gen, status.DONE, 100, settings=settings, chunks=existing.chunk_count
        )
        return {"status": status.DONE, "chunks": existing.chunk_count, "existing": True}
    report = _Reporter(client, file_id, gen, settings)
    expected: tuple[type[BaseException], ...] = (FileRejected, *timeout_errors)
    found: Detected | None = None
    size_bytes = 0
    try:
        # Fires just before Celery's soft limit, and also in pools that have none (threads).
        deadline = Deadline(time_limits(settings)[1] * 0.95)
        data = store.read(store.root_dir(files.upload_dir), file_id, files.max_bytes)
        size_bytes = len(data)
        found = detect(data)
        report(READ_PCT)
        limits = Limits(files.max_extracted_chars, files.max_expansion_ratio, files.max_pdf_pages)
        raw = extract_guarded(
            data, found, limits, deadline, report.stage(READ_PCT, EXTRACT_PCT), passthrough=expected
        )
        del data
        text = normalize_text(raw)
        if not text:
            raise FileRejected(f"no text could be extracted from this {found.kind} file")
        chunks = chunk_text(text, files.chunk_size_chars, files.chunk_overlap_chars)
        report(CHUNK_PCT)
        deadline.check()
        doc = documents.save_done(
            file_id,
            filename=filename,
            media_type=found.kind,
            size_bytes=size_bytes,
            char_count=len(text),
            chunks=chunks,
        )
    except (RedisError, SQLAlchemyError):
        raise  # outages are transient: the task retries
    except expected as exc:
        limit_s = time_limits(settings)[1]
        reason = str(exc) if isinstance(exc, FileRejected) else _timeout_reason(limit_s)
    except Exception as exc:
        # A bug on hostile input must end this file failed, never leave it "processing".
        log.exception("processing of file %s raised", file_id)
        reason = f"internal error while processing: {type(exc).__name__}"
    else:
        status.update(
            client, file_id, gen, status.DONE, 100, settings=settings, chunks=doc.chunk_count
        )
        return {"status": status.DONE, "chunks": doc.chunk_count}
    return fail(
        client,
        file_id,
        gen,
        settings,
        reason,
        filename=filename,
        found=found,
        size_bytes=size_bytes,
    )


def fail(
    client: RedisClient,
    file_id: str,
    gen: int,
    settings: Settings,
    reason: str,
    *,
    filename: str = "",
    found: Detected | None = None,
    size_bytes: int = 0,
) -> dict[str, Any]:
    """Record the failure in SQL, then in the status hash; returns the task's result."""
    kind = found.kind if found is not None else ""
    log.info("file %s failed: %s", file_id, reason)
    documents.save_failed(
        file_id, filename=filename, media_type=kind, size_bytes=size_bytes, error=reason
    )
    status.update(client, file_id, gen, status.FAILED, 0, settings=settings, error=reason)
    return {"status": status.FAILED, "error": reason}


def _timeout_reason(limit_s: int) -> str:
    return f"processing took longer than the time limit ({limit_s} s)"


def extract_guarded(
    data: bytes,
    found: Detected,
    limits: Limits,
    deadline: Deadline,
    progress: Any,
    *,
    passthrough: tuple[type[BaseException], ...],
) -> str:
    """`extract`, with any unexpected exception turned into `FileRejected` (the worker lives).

    `passthrough` exceptions (bad input, the caller's time limit) propagate unchanged.
    """
    try:
        return extract(data, found, limits, deadline, progress)
    except passthrough:
        raise  # bad input and the caller's time limit carry their own reasons
    except (MemoryError, RecursionError) as exc:
        raise FileRejected(f"file too complex to extract ({type(exc).__name__})") from None
    except Exception as exc:
        # A parser bug on hostile input must fail this file, not the worker.
        log.exception("extraction of a %s file raised", found.kind)
        raise FileRejected(f"could not extract text: {type(exc).__name__}") from None
