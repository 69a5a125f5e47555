"""Real receivers for notifications: an SMTP server (aiosmtpd) and an HTTP server that
records SMS-provider and webhook requests. Both run in the test's event loop on ephemeral
ports and can be told to fail the first N requests."""

from __future__ import annotations

import asyncio
import contextlib
import email
import email.policy
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import uvicorn
from aiosmtpd.smtp import SMTP, Envelope, Session
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.server.harness import listening_socket

WAIT_S = 30.0


async def _wait(condition: Callable[[], bool], changed: asyncio.Event, what: str) -> None:
    try:
        async with asyncio.timeout(WAIT_S):
            while not condition():
                changed.clear()
                await changed.wait()
    except TimeoutError:
        raise AssertionError(f"timed out waiting for {what}") from None


@dataclass
class MailBox:
    messages: list[EmailMessage] = field(default_factory=list)
    fail_next: int = 0  # answer 451 (try later) to this many messages
    refused: int = 0
    port: int = 0
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.fail_next > 0:
            self.fail_next -= 1
            self.refused += 1
            self.changed.set()
            return "451 4.3.0 try again later"
        raw = (
            envelope.content
            if isinstance(envelope.content, bytes)
            else str(envelope.content).encode()
        )
        message = email.message_from_bytes(raw, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.messages.append(message)
        self.changed.set()
        return "250 OK"

    def to(self, address: str, subject_part: str = "") -> list[EmailMessage]:
        return [m for m in self.messages if m["To"] == address and subject_part in m["Subject"]]

    async def wait_for(self, condition: Callable[[], bool], what: str = "mail") -> None:
        await _wait(condition, self.changed, what)


@contextlib.asynccontextmanager
async def smtp_server() -> AsyncIterator[MailBox]:
    box = MailBox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(box, hostname="test.local"), "127.0.0.1", 0)
    box.port = server.sockets[0].getsockname()[1]
    try:
        yield box
    finally:
        server.close()
        await server.wait_closed()


@dataclass
class Recorded:
    path: str
    headers: dict[str, str]
    body: bytes
    form: dict[str, Any]


@dataclass
class HttpReceiver:
    requests: list[Recorded] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answers to give first, then 200
    always: int | None = None  # answer every request with this status
    redirect_to: str = ""  # answer every request with a 307 to this URL
    base_url: str = ""
    changed: asyncio.Event = field(default_factory=asyncio.Event)

    def at(self, path_part: str) -> list[Recorded]:
        return [r for r in self.requests if path_part in r.path]

    async def wait_for(self, condition: Callable[[], bool], what: str = "requests") -> None:
        await _wait(condition, self.changed, what)


@contextlib.asynccontextmanager
async def http_receiver() -> AsyncIterator[HttpReceiver]:
    receiver = HttpReceiver()

    async def record(request: Request) -> Response:
        body = await request.body()
        form: dict[str, Any] = {}
        if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
            from urllib.parse import parse_qsl

            form = dict(parse_qsl(body.decode()))
        receiver.requests.append(Recorded(request.url.path, dict(request.headers), body, form))
        receiver.changed.set()
        if receiver.redirect_to:
            return Response(status_code=307, headers={"Location": receiver.redirect_to})
        if receiver.always is not None:
            return Response(status_code=receiver.always)
        status = receiver.statuses.pop(0) if receiver.statuses else 200
        return Response(b'{"sid":"SM1"}' if status < 300 else b"nope", status_code=status)

    app = Starlette(routes=[Route("/{path:path}", record, methods=["POST", "GET"])])
    sock = listening_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    # The socket already listens: requests wait in its backlog until uvicorn is up.
    task = asyncio.create_task(server.serve(sockets=[sock]))
    receiver.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        yield receiver
    finally:
        server.should_exit = True
        await task
        sock.close()
