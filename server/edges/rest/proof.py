"""Proof of delivery over REST: the courier's upload (multipart, driver token, an
Idempotency-Key), the dispatchers' view and images, and the customer's photo under the
tracking code. Image answers are never cached and never sniffed."""

from __future__ import annotations

import string
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import TypeVar

from starlette.datastructures import FormData, UploadFile
from starlette.requests import Request
from starlette.responses import Response

from server.base.auth import presented_token
from server.edges.forms import read_multipart
from server.edges.guards import guarded, path_id
from server.edges.responses import UNAUTHORIZED_HEADERS, error_response, json_response
from server.edges.rest.orders import tracked
from server.edges.services import Caller, Services
from server.store import orders as order_store
from server.store import proofs as store
from server.usecases import proof
from server.wire import proof as wire

T = TypeVar("T")
IMAGE_HEADERS = {"Cache-Control": "private, no-store", "X-Content-Type-Options": "nosniff"}
FIELDS = frozenset({"photo", "signature", "recipient_name", "pin"})
MAX_KEY_CHARS = 200
FORM_OVERHEAD_BYTES = 64 * 1024  # boundaries and part headers
NO_PROOF = "no proof of delivery for this order"
_URL_PATH = {"photo": "photo", "thumb": "photo/thumb", "signature": "signature"}


def proof_view(found: store.Proof) -> wire.ProofView:
    images = {
        i.kind: wire.ProofImage(
            f"/api/orders/{found.order_id}/proof/{_URL_PATH[i.kind]}",
            i.media_type, i.size_bytes, i.width, i.height,
        )
        for i in found.images
    }  # fmt: skip
    position = None
    if found.position is not None and found.position_at is not None:
        lon, lat = found.position
        position = wire.ProofPosition(lat, lon, found.position_at, found.accuracy_m)
    return wire.ProofView(
        order_id=found.order_id,
        driver_id=found.driver_id,
        at=found.at,
        recipient_name=found.recipient_name,
        position=position,
        distance_m=None if found.distance_m is None else round(found.distance_m, 1),
        pin_verified=found.pin_verified,
        photo=images.get("photo"),
        photo_thumb=images.get("thumb"),
        signature=images.get("signature"),
    )


def _status_of(exc: proof.Refused) -> int:
    if isinstance(exc, proof.NoSuchOrder):
        return 404
    if isinstance(exc, proof.NotYourOrder):
        return 403
    if isinstance(exc, proof.NotUploadable):
        return 409
    if isinstance(exc, proof.PinLocked):
        return 423
    return 422  # KeyReused, PinNeeded


def _key(request: Request) -> str | Response:
    key = request.headers.get("idempotency-key", "")
    if not key:
        return error_response(400, "an Idempotency-Key header is required (any unique text)")
    if len(key) > MAX_KEY_CHARS or not all(c in string.printable[:95] for c in key):
        return error_response(400, f"Idempotency-Key: printable ASCII, at most {MAX_KEY_CHARS}")
    return key


def _text(form: FormData, name: str) -> str | Response | None:
    value = form.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        return error_response(422, f"{name} must be a text field, not a file")
    value = value.strip()
    if not value.isprintable():
        return error_response(422, f"{name} holds a control character")
    return value or None


def _file(form: FormData, name: str, max_bytes: int) -> UploadFile | Response | None:
    value = form.get(name)
    if value is None:
        return None
    if not isinstance(value, UploadFile):
        return error_response(422, f"{name} must be a file part (an image), not a text field")
    if value.size is not None and value.size > max_bytes:
        return error_response(413, f"{name} over {max_bytes} bytes (TRACKER_PROOF_MAX_PHOTO_BYTES)")
    return value


def _form_problem(form: FormData) -> str | None:
    names = [name for name, _ in form.multi_items()]
    unknown = sorted(set(names) - FIELDS)
    if unknown:
        return f"unknown field {unknown[0]!r}; the fields are {', '.join(sorted(FIELDS))}"
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        return f"field {twice[0]!r} given more than once"
    if "photo" not in names and "signature" not in names:
        return "a proof needs a photo or a signature (or both)"
    return None


async def upload_proof(request: Request) -> Response:
    services: Services = request.app.state.services
    settings = services.settings
    token = presented_token(request.headers)
    if token is None:
        return error_response(401, "missing driver token", UNAUTHORIZED_HEADERS)
    driver = await services.driver_for_token(token)
    if driver is None:
        return error_response(401, "invalid driver token", UNAUTHORIZED_HEADERS)
    order_id = path_id(request, "order_id")
    if order_id is None:
        return error_response(404, "no such order")
    if isinstance(key := _key(request), Response):
        return key
    try:
        order = await proof.order_for_upload(services, order_id, driver.id)
        if (stored := await proof.replay(services, driver.id, key, order_id)) is not None:
            return json_response(proof_view(stored))
        proof.check_uploadable(order)
    except proof.Refused as exc:
        return error_response(_status_of(exc), str(exc))
    limit = 2 * settings.proof_max_photo_bytes + FORM_OVERHEAD_BYTES
    limit += settings.proof_max_parts * settings.proof_max_field_bytes
    form = await read_multipart(
        request, limit, settings.proof_max_parts, settings.proof_max_field_bytes
    )
    if isinstance(form, Response):
        return form
    try:
        return await _stored(services, form, order, driver.id, key)
    finally:
        await form.close()


async def _stored(
    services: Services, form: FormData, order: order_store.Order, driver_id: int, key: str
) -> Response:
    if (problem := _form_problem(form)) is not None:
        return error_response(422, problem)
    max_bytes = services.settings.proof_max_photo_bytes
    if isinstance(recipient := _text(form, "recipient_name"), Response):
        return recipient
    if isinstance(pin := _text(form, "pin"), Response):
        return pin
    if isinstance(photo := _file(form, "photo", max_bytes), Response):
        return photo
    if isinstance(signature := _file(form, "signature", max_bytes), Response):
        return signature
    now = datetime.now(UTC)
    try:
        pin_verified = await proof.check_pin(services, order, driver_id, pin, now)
        images = await proof.process(services, _loader(photo), _loader(signature))
        stored, new = await proof.store_proof(
            services, order, driver_id, key, recipient, pin_verified, images, now
        )
    except proof.BadImage as exc:
        return error_response(422, str(exc))
    except proof.Refused as exc:
        return error_response(_status_of(exc), str(exc))
    return json_response(proof_view(stored), 201 if new else 200)


def _loader(upload: UploadFile | None) -> Callable[[], Awaitable[bytes]] | None:
    return None if upload is None else upload.read


async def _of_order(
    request: Request, services: Services, read: Callable[..., Awaitable[T]]
) -> T | None:
    """What `read(conn, order_id)` finds for the path's order, or None."""
    order_id = path_id(request, "order_id")
    if order_id is None:
        return None
    async with services.db() as conn:
        return await read(conn, order_id)


@guarded("dispatcher")
async def get_proof(request: Request, caller: Caller, services: Services) -> Response:
    found = await _of_order(request, services, store.get)
    if found is None:
        return error_response(404, NO_PROOF)
    return json_response(proof_view(found))


def _image_response(image: store.Image) -> Response:
    return Response(image.data, 200, IMAGE_HEADERS, media_type=image.media_type)


def image_endpoint(kind: str) -> Callable[[Request], Awaitable[Response]]:
    """`GET /api/orders/{id}/proof/photo|photo/thumb|signature` for dispatchers."""

    @guarded("dispatcher")
    async def endpoint(request: Request, caller: Caller, services: Services) -> Response:
        image = await _of_order(
            request, services, lambda conn, order_id: store.image(conn, order_id, kind)
        )
        if image is None:
            return error_response(404, f"no proof {kind} for this order")
        return _image_response(image)

    endpoint.__name__ = f"proof_{kind}"
    return endpoint


proof_photo = image_endpoint("photo")
proof_thumb = image_endpoint("thumb")
proof_signature = image_endpoint("signature")


async def customer_photo(request: Request) -> Response:
    """`GET /api/track/{code}/proof/photo`: rate-limited like every tracking lookup."""
    services: Services = request.app.state.services
    if isinstance(order := await tracked(request, services), Response):
        return order
    async with services.db() as conn:
        image = await proof.customer_photo(conn, order, services.settings)
    if image is None:
        return error_response(404, "no delivery photo for this tracking code")
    return _image_response(image)
