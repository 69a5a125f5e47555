"""The process's log lines: one format for ours, uvicorn's, asyncpg's and alembic's.

- `TRACKER_LOG_FORMAT=text` (default): `time level logger: message [request_id=…]`;
  `json`: one object a line, with `time`, `level`, `logger`, `message`, the record's
  extra fields (the access log's `method`, `route`, `status`, `duration_ms`) and
  `request_id` when the line was logged for a request or socket.
- The request id lives in a context variable (each request and socket runs in its own
  task); a filter on our handler copies it onto every record, whoever logged it.
- Every line goes through `redact` once more (JSON: each string in it, before encoding, so
  that escapes stay intact): the record factory (server/base/redact.py) cleans messages
  and arguments, but fields passed as `extra` are set after it runs.
- `configure(level)` sets that level on every logger named here: the libraries' own
  defaults (uvicorn's handlers and format) do not apply. alembic logs nothing below
  warning unless `tracker migrate -v` asks (its INFO is chatter on import).
"""

from __future__ import annotations

import itertools
import json
import logging
import os
import re
import secrets
import sys
import time
from collections.abc import Mapping
from contextvars import ContextVar
from typing import Any, TextIO

from server.base import redact

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}
FORMATS = ("text", "json")
HEADER = b"x-request-id"
MAX_ID_CHARS = 128
# A client's id is logged and echoed as is: only characters that cannot break a log line,
# a header or a JSON string (UUIDs, ULIDs, trace ids, `host-1234`…).
_SAFE_ID = re.compile(rb"[A-Za-z0-9._:-]{1,%d}" % MAX_ID_CHARS)
# Loggers that libraries configure on their own; each is given our level and handler.
LIBRARY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.asgi", "asyncpg", "alembic")
_MARK = "tracker_handler"
# LogRecord attributes that are not `extra` fields (uvicorn adds `color_message`).
_RECORD_FIELDS = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "request_id",
    "color_message",
}

request_id: ContextVar[str | None] = ContextVar("tracker_request_id", default=None)


class _RequestIds:
    """Fresh request ids: a random prefix per process, then a counter (16 hex digits in
    all). An id only ties log lines together, so it needs to be unique, not unguessable;
    `secrets` cost a system call per request (os.urandom) on the per-fix HTTP routes."""

    def __init__(self) -> None:
        self.reseed()
        os.register_at_fork(after_in_child=self.reseed)  # a forked worker: its own prefix

    def reseed(self) -> None:
        self._prefix = secrets.token_hex(4)
        self._next = itertools.count(secrets.randbits(32)).__next__

    def new(self) -> str:
        return f"{self._prefix}{self._next() & 0xFFFFFFFF:08x}"


_request_ids = _RequestIds()


def new_request_id() -> str:
    """
    >>> a, b = new_request_id(), new_request_id()
    >>> len(a), a[:8] == b[:8], a != b
    (16, True, True)
    """
    return _request_ids.new()


def request_id_from(raw: bytes | None) -> str:
    """The client's `X-Request-ID` if it is safe to log and echo, else a fresh id.

    >>> request_id_from(b"3f2a-9c")
    '3f2a-9c'
    >>> len(request_id_from(b"evil\\nline"))
    16
    """
    if raw is not None and _SAFE_ID.fullmatch(raw):
        return raw.decode("ascii")
    return new_request_id()


class RequestIdFilter(logging.Filter):
    """Stamps each record with the request id of the context it was logged in."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = request_id.get()
        return True


def _time(record: logging.LogRecord) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
    return f"{stamp}.{int(record.msecs):03d}Z"


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {k: v for k, v in vars(record).items() if k not in _RECORD_FIELDS}


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = f"{_time(record)} {record.levelname} {record.name}: {record.getMessage()}"
        rid = getattr(record, "request_id", None)
        if rid:
            line += f" [request_id={rid}]"
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            line += "\n" + record.exc_text
        if record.stack_info:
            line += "\n" + self.formatStack(record.stack_info)
        return redact.redact(line)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": _time(record),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        rid = getattr(record, "request_id", None)
        if rid:
            out["request_id"] = rid
        out.update(_extras(record))
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(_redacted(out), default=_redacted_str, ensure_ascii=False)


def _redacted(value: Any) -> Any:
    if isinstance(value, str):
        return redact.redact(value)
    if isinstance(value, dict):
        return {k: _redacted(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_redacted(v) for v in value]
    return value


def _redacted_str(value: object) -> str:
    return redact.redact(str(value))


def formatter(log_format: str) -> logging.Formatter:
    if log_format not in FORMATS:
        raise ValueError(f"log format {log_format!r}: use text or json")
    return JsonFormatter() if log_format == "json" else TextFormatter()


def early_format(env: Mapping[str, str]) -> str:
    """The format for lines logged before the settings are read (which then set it,
    strictly): `TRACKER_LOG_FORMAT` if it names one, else text."""
    word = env.get("TRACKER_LOG_FORMAT", "").strip().lower()
    return word if word in FORMATS else "text"


def configure(level: str = "info", log_format: str = "text", stream: TextIO | None = None) -> None:
    """One handler on the root logger, in `log_format`, and `level` for every logger
    (called again, it replaces what it set before)."""
    redact.install()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(log_format))
    handler.addFilter(RequestIdFilter())
    setattr(handler, _MARK, True)
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, _MARK, False)]:
        root.removeHandler(old)
    root.addHandler(handler)
    numeric = LEVELS[level]
    root.setLevel(numeric)
    for name in ("tracker", *LIBRARY_LOGGERS):
        logger = logging.getLogger(name)
        logger.handlers.clear()  # uvicorn's or alembic's own, in their own format
        logger.propagate = True
        # alembic's INFO is set-up chatter on import: `tracker migrate -v` asks for it
        logger.setLevel(max(numeric, logging.WARNING) if name == "alembic" else numeric)
    # httpx logs every request it makes at INFO (webhook sends, the bench's and simulator's
    # calls): a line per request of ours is the access log's job; theirs only from warnings.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(numeric, logging.WARNING))
