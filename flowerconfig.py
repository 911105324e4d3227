"""Flower's configuration (`celery -A workers flower --conf=flowerconfig.py`).

Flower shows task arguments and can revoke tasks, so it listens on loopback only and refuses to
start without basic auth. Reach it from elsewhere through an SSH tunnel or an authenticating proxy.
Its `/metrics` needs the same credentials (Flower alone would serve it to anyone): a Prometheus
scrape job sets `basic_auth` with one of the FLOWER_BASIC_AUTH pairs.
"""

import os
import sys

from workers.flower_auth import protect_metrics

address = os.environ.get("FLOWER_ADDRESS", "127.0.0.1")
port = int(os.environ.get("FLOWER_PORT", "5555"))
_credentials = os.environ.get("FLOWER_BASIC_AUTH", "")
if ":" not in _credentials:
    sys.exit("configuration error: FLOWER_BASIC_AUTH must be set to user:password")
basic_auth = [c for c in _credentials.split(",") if c]
# Flower's own persistence would pickle its state to disk; it rebuilds from events instead.
persistent = False

protect_metrics()
