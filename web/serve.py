"""`python -m web.serve --host H --port P`: the production web server (the Procfile's `web:`).

WEB_CONCURRENCY processes (default: one per core) under uvicorn's own supervisor, which
restarts a worker that dies and stops them all on SIGTERM/SIGINT. uvicorn rather than gunicorn
with uvicorn workers: it is the server the app already runs on, with no second dependency and
no second set of settings, and since 0.30 its supervisor does what we used gunicorn's for.

Proxy headers are off in the server: uvicorn would otherwise trust X-Forwarded-For from
127.0.0.1 (its default FORWARDED_ALLOW_IPS) and rewrite the client address before the app sees
it. TRUSTED_PROXIES, applied by `web.auth.client_address`, is the only thing that decides.

Prometheus counters live in per-process files under PROMETHEUS_MULTIPROC_DIR so that /metrics,
answered by any one worker, reports the sum over all of them (see `web.metrics`). The launcher
creates that directory (or empties the one configured) before the workers start, and removes
the one it created when they have stopped.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import uvicorn

from shared.settings import exit_on_bad_settings

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def process_count(configured: int) -> int:
    return configured if configured > 0 else os.cpu_count() or 1


@contextmanager
def metrics_dir() -> Iterator[Path]:
    """The directory of the counter files, empty at start: files of a previous run would count."""
    configured = os.environ.get(MULTIPROC_ENV)
    if configured:
        path = Path(configured)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        yield path
        return
    path = Path(tempfile.mkdtemp(prefix="chatbot-web-metrics-"))
    os.environ[MULTIPROC_ENV] = str(path)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m web.serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    settings = exit_on_bad_settings()
    # Before uvicorn imports the app (here or in the workers it spawns, which inherit the
    # environment): prometheus_client picks its value store when it is first imported.
    with metrics_dir():
        uvicorn.run(
            "web.app:app",
            host=args.host,
            port=args.port,
            workers=process_count(settings.web.concurrency),
            proxy_headers=False,
            forwarded_allow_ips=[],
            access_log=settings.web.access_log,
        )


if __name__ == "__main__":
    main()
