"""Who the client is, and what N worker processes report, in a real server (the Procfile's line).

TestClient cannot show either: it has no proxy-header handling of the server in front of the app,
and it runs one process.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import redis
from prometheus_client.multiprocess import MultiProcessCollector

from shared import keys
from shared.audit.append import parse_entry
from tests.fixtures.processes import wait_for
from tests.fixtures.web_server import WebServer, WebServerFactory

# A generous guard deadline: on a loaded test machine the default would fail open now and then,
# and these tests are about addresses and processes, not deadlines.
PATIENT = {"GUARD_REDIS_TIMEOUT": "5"}
LIMITED = {**PATIENT, "RATE_LIMIT_REQUESTS": "5", "RATE_LIMIT_WINDOW": "60"}


def chat(server: WebServer, forwarded_for: str) -> int:
    reply = httpx.post(
        f"{server.url}/chat",
        json={"message": "hi"},
        headers={"X-Forwarded-For": forwarded_for},
        timeout=10,
    )
    assert reply.status_code in (200, 429), reply.text
    return reply.status_code


def audit_ips(r: redis.Redis) -> set[str | None]:
    return {parse_entry(sid, fields).ip for sid, fields in r.xrange(keys.audit_stream())}


def test_forwarded_for_from_an_untrusted_peer_changes_nothing(
    web_server: WebServerFactory, r: redis.Redis
) -> None:
    server = web_server({**LIMITED, "TRUSTED_PROXIES": ""})
    codes = [chat(server, f"10.3.0.{n}") for n in range(12)]
    assert codes.count(200) <= 6, codes
    assert 429 in codes, codes
    assert audit_ips(r) == {"127.0.0.1"}


def test_forwarded_for_from_a_trusted_proxy_names_the_client(
    web_server: WebServerFactory, r: redis.Redis
) -> None:
    server = web_server({**LIMITED, "TRUSTED_PROXIES": "127.0.0.1/32"})
    assert [chat(server, f"10.3.0.{n}") for n in range(12)] == [200] * 12
    assert 429 in [chat(server, "10.9.9.9") for _ in range(8)]
    assert audit_ips(r) == {"10.9.9.9"}


def decisions(text: str) -> dict[str, float]:
    """Total rate-limit decisions per policy from a Prometheus exposition."""
    totals: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("chatbot_rate_limit_decisions_total{"):
            labels, value = line.rsplit(" ", 1)
            policy = labels.split('policy="', 1)[1].split('"', 1)[0]
            totals[policy] = totals.get(policy, 0.0) + float(value)
    return totals


def decided(counter_file: Path) -> float:
    """Rate-limit decisions recorded in one process's counter file."""
    return sum(
        sample.value
        for metric in MultiProcessCollector.merge([str(counter_file)], accumulate=True)
        for sample in metric.samples
        if sample.name == "chatbot_rate_limit_decisions_total"
    )


def test_two_processes_share_the_load_and_metrics_count_all_of_it(
    web_server: WebServerFactory, tmp_path: Path
) -> None:
    files = tmp_path / "prometheus"
    files.mkdir()
    env = {**PATIENT, "RATE_LIMIT_REQUESTS": "100000", "PROMETHEUS_MULTIPROC_DIR": str(files)}
    server = web_server(env, workers=2)
    sent = 60

    def one(n: int) -> int | str:
        # A new connection each: the kernel hands each to whichever worker accepts first.
        try:
            with httpx.Client(timeout=60) as client:
                return client.post(f"{server.url}/chat", json={"message": f"m{n % 7}"}).status_code
        except httpx.HTTPError as exc:
            return repr(exc)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(one, range(sent)))
    assert set(answers) == {200}, (answers, server.output()[-3000:])

    served_by = {int(path.stem.split("_")[1]): decided(path) for path in files.glob("counter_*.db")}
    busy = {pid for pid, count in served_by.items() if count > 0}
    assert len(busy) == 2, served_by
    assert busy <= set(server.descendant_pids()), served_by

    scraped = decisions(httpx.get(f"{server.url}/metrics", timeout=10).text)
    assert scraped, "no rate-limit decisions on /metrics"
    assert set(scraped.values()) == {float(sent)}, scraped


def test_the_launcher_creates_and_removes_its_metrics_directory(
    web_server: WebServerFactory, tmp_path: Path
) -> None:
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    server = web_server({"TMPDIR": str(scratch)}, workers=2)
    (made,) = scratch.glob("chatbot-web-metrics-*")
    assert list(made.glob("counter_*.db"))
    server.stop()
    assert server.proc.returncode == 0, server.output()[-3000:]
    assert list(scratch.iterdir()) == []


def test_counter_files_of_a_previous_run_are_not_counted(
    web_server: WebServerFactory, tmp_path: Path
) -> None:
    files = tmp_path / "prometheus"
    files.mkdir()
    (files / "counter_1.db").write_bytes(b"left by a run that was killed")
    server = web_server({"PROMETHEUS_MULTIPROC_DIR": str(files)})
    scrape = httpx.get(f"{server.url}/metrics", timeout=10)
    assert scrape.status_code == 200
    assert not (files / "counter_1.db").exists()


def test_the_access_log_is_off_unless_asked_for(web_server: WebServerFactory) -> None:
    quiet = web_server()
    assert httpx.get(f"{quiet.url}/health", timeout=10).status_code == 200
    loud = web_server({"WEB_ACCESS_LOG": "true"})
    assert httpx.get(f"{loud.url}/health", timeout=10).status_code == 200
    line = '"GET /health HTTP/1.1" 200'
    wait_for(lambda: line in loud.output(), timeout_s=10, what="the access log line")
    assert line not in quiet.output()  # its request was answered before the loud one's
