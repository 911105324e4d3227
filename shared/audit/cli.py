"""`chatbot-audit-verify`: recompute the audit archive's hash chain from the command line.

Exit status 0 when the chain is intact, 1 when a link is broken (the first one is printed),
2 on a configuration error. `--record` also stores the outcome, as the beat task does.
"""

from __future__ import annotations

import argparse
import sys

import orjson

from shared.audit.verify import record, verify_chain
from shared.db import get_engine
from shared.models.audit import ensure_tables
from shared.settings import exit_on_bad_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="chatbot-audit-verify", description="Verify the audit archive's hash chain."
    )
    parser.add_argument("--record", action="store_true", help="store the outcome in audit_state")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    settings = exit_on_bad_settings()
    engine = ensure_tables(get_engine())
    report = verify_chain(engine, batch=settings.audit.verify_batch)
    if args.record:
        record(engine, report)
    if args.json:
        sys.stdout.write(orjson.dumps(report.as_dict()).decode() + "\n")
    elif report.ok:
        sys.stdout.write(f"audit chain OK: {report.rows} rows verified\n")
    else:
        sys.stdout.write(
            f"audit chain BROKEN at {report.broken_id} after {report.rows} good rows: "
            f"{report.reason}\n"
        )
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
