"""Settings of the files domain: where uploads live, how big they may be, how they are chunked."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings.base import SettingsError, setting


@dataclass(frozen=True)
class FilesSettings:
    upload_dir: str = setting(
        "FILES_UPLOAD_DIR",
        "var/uploads",
        "Directory of uploaded files, stored by content hash (relative to the working directory).",
    )
    max_bytes: int = setting(
        "FILES_MAX_BYTES",
        20 * 1024 * 1024,
        "Largest accepted upload; larger bodies get 413 while streaming.",
        unit="bytes",
        minimum=1,
    )
    chunk_size_chars: int = setting(
        "FILES_CHUNK_SIZE", 1000, "Target chunk length.", unit="chars", minimum=50
    )
    chunk_overlap_chars: int = setting(
        "FILES_CHUNK_OVERLAP",
        150,
        "Characters shared by consecutive chunks (below FILES_CHUNK_SIZE / 2).",
        unit="chars",
        minimum=0,
    )
    status_ttl_s: int = setting(
        "FILES_STATUS_TTL",
        86400,
        "Lifetime of the Redis status hash; SQL answers after it expires.",
        unit="s",
        minimum=60,
    )
    max_extracted_chars: int = setting(
        "FILES_MAX_EXTRACTED_CHARS",
        20_000_000,
        "Bound on the text extracted from one file.",
        unit="chars",
        minimum=1000,
    )
    max_expansion_ratio: float = setting(
        "FILES_MAX_EXPANSION_RATIO",
        50.0,
        "Bound on decompressed PDF stream bytes and extracted text per byte of input (bombs).",
        minimum=1,
    )
    max_pdf_pages: int = setting(
        "FILES_MAX_PDF_PAGES", 5000, "PDFs with more pages are refused.", minimum=1
    )
    time_limit_s: int = setting(
        "FILES_TIME_LIMIT",
        300,
        "Hard time limit of files.process (soft limit 90% of it; capped below the visibility "
        "timeout).",
        unit="s",
        minimum=10,
    )
    max_attempts: int = setting(
        "FILES_MAX_ATTEMPTS",
        3,
        "Deliveries of one file before it is failed (a file that kills its worker is poison).",
        minimum=1,
    )
    failed_retention_s: int = setting(
        "FILES_FAILED_RETENTION",
        86400,
        "files.cleanup deletes failed documents and their files after this long.",
        unit="s",
        minimum=60,
    )
    orphan_grace_s: int = setting(
        "FILES_ORPHAN_GRACE",
        3600,
        "files.cleanup deletes files with no document and no status after this long.",
        unit="s",
        minimum=60,
    )
    cleanup_batch: int = setting(
        "FILES_CLEANUP_BATCH", 1000, "Files or rows examined per cleanup batch.", minimum=10
    )

    upload_limit: int = setting(
        "FILE_UPLOAD_LIMIT",
        30,
        "Uploads per FILE_UPLOAD_WINDOW per identity, also the burst (0 = off); counted like "
        "/chat (RATE_LIMIT_MODE, RATE_LIMIT_FAIL_MODE; policy `files` in RATE_LIMIT_OVERRIDES).",
        minimum=0,
    )
    upload_window_s: float = setting(
        "FILE_UPLOAD_WINDOW",
        60.0,
        "Window of FILE_UPLOAD_LIMIT and FILE_UPLOAD_BYTES_LIMIT.",
        unit="s",
        minimum=1,
    )
    upload_bytes_limit: int = setting(
        "FILE_UPLOAD_BYTES_LIMIT",
        200 * 1024 * 1024,
        "Upload bytes per FILE_UPLOAD_WINDOW per identity, counted in KiB from Content-Length "
        "(FILES_MAX_BYTES without one); 0 = off, else at least FILES_MAX_BYTES.",
        unit="bytes",
        minimum=0,
    )

    def __post_init__(self) -> None:
        if self.chunk_overlap_chars * 2 > self.chunk_size_chars:
            raise SettingsError("FILES_CHUNK_OVERLAP: must be at most half of FILES_CHUNK_SIZE")
        if 0 < self.upload_bytes_limit < self.max_bytes:
            raise SettingsError(
                "FILE_UPLOAD_BYTES_LIMIT: must be 0 or at least FILES_MAX_BYTES (else the largest "
                "accepted file could never be uploaded)"
            )
