"""Sending one message on one channel. Each sender raises SendError on failure, saying
whether trying again could help."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from email.message import EmailMessage
from uuid import UUID

import aiosmtplib
import httpx

from server.base.settings import Settings
from server.store.outbox import Message
from server.usecases.notify import signing
from server.usecases.notify.destinations import RefusedDestination
from server.usecases.notify.events import message_id_for
from server.usecases.notify.templates import Rendered
from server.wire import notify as wire


class SendError(Exception):
    def __init__(
        self, reason: str, *, permanent: bool = False, status_code: int | None = None
    ) -> None:
        super().__init__(reason)
        self.permanent = permanent
        self.status_code = status_code


async def send_email(
    message: Message,
    rendered: Rendered,
    settings: Settings,
    installation: UUID,
    unsubscribe_url: str | None = None,
) -> None:
    """`unsubscribe_url` (a customer's message): RFC 2369 `List-Unsubscribe` with RFC 8058
    one-click, so the mail client's "unsubscribe" turns this order's email off."""
    email = EmailMessage()
    email["From"] = settings.mail_from
    email["To"] = message.target
    email["Subject"] = rendered.subject
    domain = settings.mail_from.rpartition("@")[2] or "localhost"
    email["Message-ID"] = message_id_for(message.dedupe_key, domain, installation)
    if unsubscribe_url is not None:
        email["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        email["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email.set_content(rendered.text)
    email.add_alternative(rendered.html, subtype="html")
    try:
        await aiosmtplib.send(
            email,
            hostname=settings.smtp_host,
            port=settings.smtp_port,
            username=settings.smtp_username or None,
            password=settings.smtp_password or None,
            use_tls=settings.smtp_security == "tls",
            start_tls=settings.smtp_security == "starttls",
            timeout=settings.notify_send_timeout_s,
        )
    except aiosmtplib.SMTPRecipientsRefused as exc:
        codes = [r.code for r in exc.recipients]
        raise SendError(
            f"recipient refused: {exc}", permanent=all(c >= 500 for c in codes)
        ) from None
    except aiosmtplib.SMTPResponseException as exc:
        raise SendError(f"SMTP {exc.code}: {exc.message}", permanent=exc.code >= 500) from None
    except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
        raise SendError(f"SMTP: {exc!r}") from None


async def send_sms(
    message: Message, rendered: Rendered, settings: Settings, client: httpx.AsyncClient
) -> None:
    """Twilio-style: a form POST to Accounts/{sid}/Messages.json with Basic auth."""
    root = settings.sms_base_url.rstrip("/")
    url = f"{root}/2010-04-01/Accounts/{settings.sms_account_sid}/Messages.json"
    try:
        response = await client.post(
            url,
            data={"To": message.target, "From": settings.sms_from, "Body": rendered.sms},
            auth=(settings.sms_account_sid, settings.sms_auth_token),
            timeout=settings.notify_send_timeout_s,
        )
    except httpx.HTTPError as exc:
        raise SendError(f"SMS provider unreachable: {exc!r}") from None
    if response.status_code >= 300:
        # 4xx (bad number, bad credentials) will not get better by retrying, except these.
        permanent = 400 <= response.status_code < 500 and response.status_code not in (408, 429)
        raise SendError(
            f"SMS provider answered {response.status_code}: {response.text[:200]}",
            permanent=permanent,
            status_code=response.status_code,
        )


def webhook_body(message: Message) -> bytes:
    return wire.webhook_body(message.id, message.event, message.created_at, message.payload)


async def send_webhook(
    message: Message, secret: str, settings: Settings, client: httpx.AsyncClient
) -> tuple[int, float]:
    """POST the signed event; returns (status code, duration ms). Non-2xx raises.

    `client` is `destinations.webhook_client`: it connects only to allowed addresses.
    The webhook id is the outbox row's, so every retry of a delivery carries the same one
    (receivers deduplicate on it); the timestamp and signature are those of this attempt."""
    body = webhook_body(message)
    timestamp = int(datetime.now(UTC).timestamp())
    headers = {
        "Content-Type": "application/json",
        **signing.headers(secret, f"evt_{message.id}", message.event, timestamp, body),
    }
    started = time.perf_counter()
    try:
        response = await client.post(
            message.target, content=body, headers=headers, timeout=settings.notify_send_timeout_s
        )
    except RefusedDestination as exc:  # the address, checked at connection time
        raise SendError(f"refused: {exc}", permanent=True) from None
    except httpx.HTTPError as exc:
        raise SendError(f"unreachable: {exc!r}") from None
    duration_ms = (time.perf_counter() - started) * 1000
    if not 200 <= response.status_code < 300:
        raise SendError(f"answered {response.status_code}", status_code=response.status_code)
    return response.status_code, duration_ms
