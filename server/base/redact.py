"""Secrets never reach a log in clear: tokens, keys, device ids and tracking codes.

They travel in URLs (`?token=`, OsmAnd's `?id=`, `/ws/track/{code}`, `/t/{code}`) and in
headers, and URLs are what uvicorn logs (WebSocket handshakes always, requests when access
logs are on) and what exceptions quote. Rather than a filter on each handler (a handler
added later, by a deployment's logging set-up or a test, would miss it), `install()`
wraps the log record factory: every record made in the process has these values
replaced by `***` in its message, its arguments (each one, so that formatters reading
them, like uvicorn's access formatter, still work) and its traceback text.
"""

from __future__ import annotations

import logging
import re
import traceback
from typing import Any

MASK = "***"

_PATTERNS = (
    # query values: ?token=…, &key=…, OsmAnd's id/deviceid (the device id is its secret)
    re.compile(r"(?i)([?&](?:token|access_token|key|id|deviceid|device_id)=)[^&\s\"'#]*"),
    # tracking codes in paths: the API, the socket and the customer's page
    re.compile(r"(/(?:ws/track|api/track|t)/)[^/?\s\"'#]+"),
    # credentials in headers quoted by an error
    re.compile(r"(?i)(\b(?:bearer|basic)\s+)[^\s\"',]+"),
    re.compile(r"(tracker\.token\.)[^\s\"',]+"),
)


def redact(text: str) -> str:
    """`text` with every secret it carries replaced by `***`.

    >>> redact('"WebSocket /ws/driver?token=abc&x=1" [accepted]')
    '"WebSocket /ws/driver?token=***&x=1" [accepted]'
    """
    for pattern in _PATTERNS:
        text = pattern.sub(r"\g<1>" + MASK, text)
    return text


def _redact_arg(value: Any) -> Any:
    return redact(value) if isinstance(value, str) else value


def redact_record(record: logging.LogRecord) -> None:
    """Redact a record in place (see the module docs)."""
    if isinstance(record.msg, str):
        record.msg = redact(record.msg)
    args = record.args
    if isinstance(args, tuple):
        record.args = tuple(_redact_arg(a) for a in args)
    elif isinstance(args, dict):
        record.args = {k: _redact_arg(v) for k, v in args.items()}
    try:  # a secret inside a non-string argument (an exception, a URL object)
        message = record.getMessage()
    except Exception:  # a malformed call: logging reports it when formatting
        message = None
    if message is not None and (redacted := redact(message)) != message:
        record.msg, record.args = redacted, None
    if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
        text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
        if (redacted := redact(text)) != text:
            record.exc_text = redacted  # formatters use this instead of formatting anew
    if record.stack_info:
        record.stack_info = redact(record.stack_info)


def install() -> None:
    """Redact every log record this process makes from now on (idempotent)."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "redacts", False):
        return

    def make_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        redact_record(record)
        return record

    make_record.redacts = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(make_record)
