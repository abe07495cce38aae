"""Secrets that travel in URLs (an invitation's join link, which sets a password) never reach
a log: the web server's access log and our own handlers write the path with the secret
replaced. One pattern list, used by both."""

from __future__ import annotations

import logging
import re
from typing import Any

from gunicorn.glogging import Logger as GunicornLogger

REDACTED = "[redacted]"
# Path segments that are secrets: the join link of an invitation (recovery/urls.py).
SECRET_PATHS = (re.compile(r"(/invitations/join/)[^/?#\s\"]+"),)


def redact(text: str) -> str:
    for pattern in SECRET_PATHS:
        text = pattern.sub(rf"\g<1>{REDACTED}", text)
    return text


class RedactingFilter(logging.Filter):
    """For logging handlers: the formatted message, with secret paths replaced."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class RedactingAccessLogger(GunicornLogger):
    """gunicorn's logger (`--logger-class recovery.logredact.RedactingAccessLogger`): every
    value an access log format can name (request line, path, referrer, the environ and header
    atoms) is redacted, whichever the format uses."""

    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        values = super().atoms(resp, req, environ, request_time)
        return {
            key: redact(value) if isinstance(value, str) else value for key, value in values.items()
        }
