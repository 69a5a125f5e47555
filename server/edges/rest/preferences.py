"""The customer's message preferences under the public view: `GET|POST
/api/track/{code}/preferences` (the tracking code is the credential, as for every
self-service route: a lookup first, rate-limited, expired links 404) and the one-click
unsubscribe of RFC 8058, `POST /api/track/{code}/unsubscribe?channel=&sig=`, whose
signature (links.py) is the credential for that one channel of that one order: checked
before the order is looked up, and not rate-limited as lookups are (a mail provider posts
many from one address; a signature is not guessed). A GET of the unsubscribe link (a mail
client without one-click, a person) changes nothing: it goes to the preferences page
(link scanners follow GETs; RFC 8058 section 3.1)."""

from __future__ import annotations

from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from server.edges.responses import decode_body, error_response, json_response, request_body
from server.edges.rest.orders import UNKNOWN_CODE, tracked
from server.edges.rest.self_service import HEADERS
from server.edges.services import Services
from server.store.orders import Order
from server.store.preferences import Preferences
from server.usecases import preferences
from server.wire import self_service as wire

MAX_BODY_BYTES = 1024  # {"email": false, "sms": false} and room to spare
MAX_ONE_CLICK_BYTES = 4096  # "List-Unsubscribe=One-Click", form-encoded or multipart
SIG_CHARS = 22  # links.signature: 16 bytes, base64url, unpadded


def _view(order: Order, chosen: Preferences) -> wire.PreferencesView:
    return wire.PreferencesView(chosen.email, chosen.sms, preferences.channels(order), order.locale)


async def show(request: Request) -> Response:
    services: Services = request.app.state.services
    if isinstance(order := await tracked(request, services), Response):
        return order
    return json_response(_view(order, preferences.current(order)), 200, HEADERS)


async def change(request: Request) -> Response:
    services: Services = request.app.state.services
    if isinstance(order := await tracked(request, services), Response):
        return order
    spec = await decode_body(request, wire.PreferencesIn, MAX_BODY_BYTES, "body")
    if isinstance(spec, Response):
        return spec
    if spec.email is None and spec.sms is None:
        return error_response(422, "give email and/or sms, each true or false")
    chosen = await preferences.change(services, order, spec.email, spec.sms)
    return json_response(_view(order, chosen), 200, HEADERS)


async def unsubscribe(request: Request) -> Response:
    services: Services = request.app.state.services
    query = request.query_params
    channel, sig = query.get("channel", ""), query.get("sig", "")
    if set(query) - {"channel", "sig"}:
        return error_response(422, "only channel and sig may be given")
    if channel not in ("email", "sms") or len(sig) != SIG_CHARS:
        return error_response(422, "channel (email or sms) and sig, as in the message's link")
    code = request.path_params["code"]
    if request.method == "GET":  # nothing changes, nothing is looked up
        return RedirectResponse(f"/track/{quote(code)}/preferences", 303, headers=HEADERS)
    # The body ("List-Unsubscribe=One-Click") says nothing more: read, bounded, dropped.
    if await request_body(request, MAX_ONE_CLICK_BYTES) is None:
        return error_response(413, f"body larger than {MAX_ONE_CLICK_BYTES} bytes")
    try:
        order, chosen = await preferences.unsubscribe(services, code, channel, sig)
    except preferences.BadLink as exc:
        return error_response(403, str(exc))
    except preferences.Gone:
        return error_response(404, UNKNOWN_CODE)
    return json_response(_view(order, chosen), 200, HEADERS)
