"""Body size and requests in flight, bounded in a real server process (the Procfile's web line).

Memory is read from /proc: VmHWM is the process's peak resident set, so a body that was held
and freed again still shows.
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import httpx

from tests.fixtures.processes import wait_for
from tests.fixtures.web_server import WebServer, WebServerFactory
from tests.shared.files.helpers import multipart

MB = 1024 * 1024


def peak_rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmHWM for {pid}")


def connect(server: WebServer, head: str) -> socket.socket:
    """A connection that has sent `head` (request line and headers) and nothing more."""
    port = int(server.url.rsplit(":", 1)[1])
    sock = socket.create_connection(("127.0.0.1", port), timeout=20)
    sock.sendall(head.encode())
    return sock


def read_status(sock: socket.socket) -> tuple[int, bytes]:
    """Status code and raw response, read until the server closes or sends a whole JSON body."""
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        try:
            piece = sock.recv(65536)
        except ConnectionResetError:
            break
        if not piece:
            break
        data += piece
    assert data.startswith(b"HTTP/1.1 "), data[:200]
    return int(data.split(b" ", 2)[1]), data


def test_a_declared_length_above_the_limit_is_413_without_reading_the_body(
    web_server: WebServerFactory,
) -> None:
    server = web_server()
    # The body never comes: a server that waits for it answers nothing before the timeout. The
    # bad token is not looked at: the size is refused before authentication.
    sock = connect(
        server,
        "POST /chat HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        "Authorization: Bearer not-a-token\r\nContent-Length: 300000000\r\n\r\n{",
    )
    with sock:
        status, raw = read_status(sock)
    assert status == 413
    assert b'"status":413' in raw
    assert b"connection: close" in raw.lower()


def test_a_50_mb_chunked_body_is_413_and_the_server_does_not_hold_it(
    web_server: WebServerFactory,
) -> None:
    server = web_server()
    assert httpx.post(f"{server.url}/chat", json={"message": "warm"}, timeout=10).status_code == 200
    before = peak_rss_bytes(server.pid)
    sock = connect(
        server,
        "POST /chat HTTP/1.1\r\nHost: t\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n",
    )

    def chunk(piece: bytes) -> bytes:
        return f"{len(piece):x}\r\n".encode() + piece + b"\r\n"

    piece = chunk(b"a" * (64 * 1024))

    def send_body() -> None:
        # A client that keeps sending after the 413, as a hostile one would, until cut off.
        try:
            sock.sendall(chunk(b'{"message":"'))
            for _ in range(50 * MB // len(piece)):
                sock.sendall(piece)
            sock.sendall(chunk(b'"}') + b"0\r\n\r\n")
        except OSError:
            pass

    sender = threading.Thread(target=send_body, daemon=True)
    sender.start()
    with sock:
        status, _ = read_status(sock)
        sender.join(timeout=60)
    assert status == 413
    grown = peak_rss_bytes(server.pid) - before
    assert grown < 20 * MB, f"peak RSS grew by {grown / MB:.1f} MB"
    # The server is still serving, and said nothing about an unhandled error.
    assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
    assert "Traceback" not in server.output()


def test_uploads_have_their_own_larger_limit(web_server: WebServerFactory, tmp_path: Path) -> None:
    server = web_server(
        {"FILES_UPLOAD_DIR": str(tmp_path / "uploads"), "FILES_MAX_BYTES": "2000000"}
    )
    data = b"hello world. " * (MB // 13)
    chat = httpx.post(f"{server.url}/chat", content=data, timeout=10)
    assert chat.status_code == 413, chat.text
    body, ctype = multipart(data)
    upload = httpx.post(
        f"{server.url}/files", content=body, headers={"content-type": ctype}, timeout=30
    )
    assert upload.status_code == 202, upload.text
    big, ctype = multipart(b"x" * 3_000_000)
    refused = httpx.post(f"{server.url}/files", content=big, headers={"content-type": ctype})
    assert refused.status_code == 413


def held_upload(server: WebServer) -> socket.socket:
    """An upload that stays in flight: half its declared body sent, the rest never."""
    return connect(
        server,
        "POST /files HTTP/1.1\r\nHost: t\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        "Content-Length: 1000\r\n\r\n--b\r\n",
    )


def counter(server: WebServer, name: str) -> float:
    for line in httpx.get(f"{server.url}/metrics", timeout=10).text.splitlines():
        if line.startswith(f"{name} "):
            return float(line.split()[1])
    return 0.0


def test_beyond_max_in_flight_requests_are_shed_with_503_and_retry_after(
    web_server: WebServerFactory,
) -> None:
    server = web_server({"WEB_MAX_IN_FLIGHT": "2"})
    held = [held_upload(server), held_upload(server)]
    try:
        shed = wait_for(
            lambda: (
                reply
                if (reply := httpx.post(f"{server.url}/chat", json={"message": "hi"})).status_code
                == 503
                else None
            ),
            timeout_s=20,
            what="a third request shed",
        )
        assert shed.headers["retry-after"] == "1"
        assert shed.json()["error"]["status"] == 503
        # Probes and scrapes still answer while the process sheds.
        assert httpx.get(f"{server.url}/health", timeout=10).status_code == 200
        assert counter(server, "chatbot_web_shed_total") >= 1
    finally:
        for sock in held:
            sock.close()
    # The slots free when the held requests end.
    wait_for(
        lambda: httpx.post(f"{server.url}/chat", json={"message": "hi"}).status_code == 200,
        timeout_s=20,
        what="admitted again once the held uploads ended",
    )
