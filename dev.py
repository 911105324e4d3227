#!/usr/bin/env python3
"""The two set-up commands: `python3 dev.py run` (the whole suite) and `python3 dev.py test`.

Both create `.venv/` and install the project on first use, so a machine with only Python 3.11+
needs nothing else. `run` starts an embedded Redis under `var/` when REDIS_URL is not set, uses
SQLite under `var/`, and runs the Procfile (web, worker, beat, Flower) until Ctrl-C.
"""

from __future__ import annotations

import hashlib
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
PY = VENV / "bin" / "python"


def sh(*args: str, env: dict[str, str] | None = None) -> int:
    return subprocess.call(args, cwd=ROOT, env=env)  # noqa: S603


def ensure_venv(extra: str) -> None:
    """Create the venv and (re)install when pyproject.toml changed since the last install."""
    if not PY.exists():
        subprocess.check_call([sys.executable, "-m", "venv", str(VENV)])  # noqa: S603
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extra.encode()).hexdigest()
    stamp = VENV / f".installed-{extra or 'base'}"
    if stamp.exists() and stamp.read_text() == digest:
        return
    quiet = ["-q"] if os.environ.get("CI") else []
    subprocess.check_call([str(PY), "-m", "pip", "install", *quiet, "--upgrade", "pip"])  # noqa: S603
    target = f".[{extra}]" if extra else "."
    subprocess.check_call([str(PY), "-m", "pip", "install", *quiet, "-e", target], cwd=ROOT)  # noqa: S603
    stamp.write_text(digest)


def run() -> int:
    ensure_venv("")
    env = dict(os.environ)
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("PORT", "8000")
    (ROOT / "var").mkdir(exist_ok=True)
    env.setdefault("DATABASE_URL", f"sqlite:///{ROOT / 'var' / 'chatbot.sqlite3'}")
    if "FLOWER_BASIC_AUTH" not in env:
        env["FLOWER_BASIC_AUTH"] = f"admin:{secrets.token_urlsafe(12)}"
    if "JWT_SECRET" not in env:
        env["JWT_SECRET"] = secrets.token_urlsafe(32)
    server = None
    if "REDIS_URL" not in env:
        sys.path.insert(0, str(ROOT))
        import embedded_redis  # noqa: PLC0415  (needs the venv's packages)

        server = embedded_redis.start(ROOT / "var" / "redis")
        env["REDIS_URL"] = f"{server.url}/0"
        print(f"embedded Redis on {server.url} (data under var/redis, not persisted)")
    user, password = env["FLOWER_BASIC_AUTH"].split(",")[0].split(":", 1)
    print(f"web:    http://127.0.0.1:{env['PORT']}/health/advanced")
    flower_port = env.get("FLOWER_PORT", "5555")
    print(f"flower: http://127.0.0.1:{flower_port}  (user {user}, password {password})")
    honcho = [str(VENV / "bin" / "honcho"), "start", "-f", "Procfile", "-p", env["PORT"]]
    procs = subprocess.Popen(honcho, cwd=ROOT, env=env)  # noqa: S603

    # Ctrl-C (or a supervisor's SIGTERM) reaches this process: pass it on to honcho, which stops
    # web, worker, beat and Flower, and wait for that; installed explicitly because a shell may
    # have started us with SIGINT ignored.
    def stop(_signum: int, _frame: object) -> None:
        if procs.poll() is None:
            procs.send_signal(signal.SIGTERM)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        code = procs.wait()
        return 0 if code in (0, -signal.SIGTERM, 128 + signal.SIGTERM) else code
    finally:
        if procs.poll() is None:
            procs.terminate()
        try:
            procs.wait(timeout=30)
        except subprocess.TimeoutExpired:
            procs.kill()
        if server is not None:
            server.stop()


def test(pytest_args: list[str]) -> int:
    ensure_venv("dev")
    bin_ = VENV / "bin"
    steps = [
        [str(bin_ / "ruff"), "check", "."],
        [str(bin_ / "ruff"), "format", "--check", "."],
        [str(bin_ / "mypy")],
        [str(PY), "-m", "pytest", *pytest_args],
    ]
    for step in steps:
        print(
            "+",
            " ".join(Path(step[0]).name if i == 0 else a for i, a in enumerate(step)),
            flush=True,
        )
        code = sh(*step)
        if code != 0:
            # pytest's 5 means no test ran: a failure here, never a pass.
            print(f"step failed with exit code {code}", file=sys.stderr)
            return code
    return 0


def docs() -> int:
    """Regenerate the settings table in README.md from the settings declarations."""
    sys.path.insert(0, str(ROOT))
    from shared.settings import markdown_table  # noqa: PLC0415

    readme = ROOT / "README.md"
    text = readme.read_text(encoding="utf-8")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{START}\n{markdown_table()}\n{END}{tail}", encoding="utf-8")
    return 0


START, END = "<!-- settings:start -->", "<!-- settings:end -->"


def main() -> int:
    verb = sys.argv[1] if len(sys.argv) > 1 else "help"
    if verb == "run":
        return run()
    if verb == "docs":
        return docs()
    if verb == "test":
        return test(sys.argv[2:])
    print(__doc__)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
