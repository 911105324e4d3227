"""The real-server fixture itself: it runs the Procfile's web line, answers, and stops cleanly."""

from __future__ import annotations

import httpx

from tests.fixtures.web_server import WebServerFactory, procfile_command


def test_the_server_runs_the_procfile_line_and_stops(web_server: WebServerFactory) -> None:
    server = web_server()
    assert httpx.get(f"{server.url}/health", timeout=5).json() == {"status": "pass"}
    assert procfile_command().split()[0] in {"uvicorn", "python", "gunicorn"}
    server.stop()
    assert server.proc.poll() is not None
    assert "Started server process" in server.output() or "Uvicorn running" in server.output()
