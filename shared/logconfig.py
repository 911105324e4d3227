"""A logging filter that masks credentials in URLs and bearer tokens before they are written."""

from __future__ import annotations

import logging
import re

_URL_PASSWORD = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)(?P<user>[^:@/\s]*):[^@/\s]+@", re.I)
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")


def redact(text: str) -> str:
    """`text` with URL passwords and bearer tokens replaced by `***`."""
    text = _URL_PASSWORD.sub(r"\g<scheme>\g<user>:***@", text)
    return _BEARER.sub(r"\1***", text)


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
