"""`/api/drivers`: create drivers (their token is shown once), list and read them, give
them a new token (the old one's sockets close everywhere).

A `device_id` is what phone apps identify by; the OsmAnd protocol has no password, so for
those apps the device id is the secret: `"device_id": "generate"` draws a long random one.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.base.auth import GENERATE_DEVICE_ID, hash_token, new_device_id, new_token
from server.edges.guards import guarded, path_id
from server.edges.responses import SECRET_HEADERS, decode_body, error_response, json_response
from server.edges.services import Caller, Services
from server.store import queries
from server.usecases import driver_cache
from server.wire.rest import DriverView, driver_detail, driver_view

MAX_BODY_BYTES = 16 * 1024

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
ShortText = Annotated[str, msgspec.Meta(min_length=1, max_length=100)]


class DriverIn(msgspec.Struct, frozen=True):
    name: Name
    phone: Annotated[str, msgspec.Meta(max_length=32)] | None = None
    vehicle: ShortText | None = None
    device_id: ShortText | None = None


def driver_json(
    driver: queries.Driver, caller: Caller, token: str | msgspec.UnsetType = msgspec.UNSET
) -> DriverView:
    """A driver as `caller` may see it: the device id is a credential (anyone who knows it
    can move the courier through /osmand), so only admins read it back."""
    return driver_view(driver, caller.role == "admin", token)


@guarded("admin")
async def create_driver(request: Request, caller: Caller, services: Services) -> Response:
    if isinstance(spec := await decode_body(request, DriverIn, MAX_BODY_BYTES, "driver"), Response):
        return spec
    token = new_token()
    device_id = new_device_id() if spec.device_id == GENERATE_DEVICE_ID else spec.device_id
    try:
        async with services.db() as conn:
            driver = await queries.create_driver(
                conn,
                name=spec.name.strip() or spec.name,
                phone=spec.phone,
                vehicle=spec.vehicle,
                device_id=device_id,
                token_hash=hash_token(token),
            )
    except queries.DuplicateDeviceId:
        return error_response(409, f"device_id {device_id!r} already belongs to a driver")
    services.live.fleet.add_driver(driver.id, driver.name, driver.vehicle)  # offline, no fix yet
    return json_response(driver_json(driver, caller, token), 201, SECRET_HEADERS)


@guarded("dispatcher")
async def list_drivers(request: Request, caller: Caller, services: Services) -> Response:
    async with services.db() as conn:
        drivers = await queries.list_drivers(conn)
    return json_response([driver_json(d, caller) for d in drivers])


@guarded("dispatcher")
async def get_driver(request: Request, caller: Caller, services: Services) -> Response:
    driver_id = path_id(request, "driver_id")
    async with services.db() as conn:
        driver = None if driver_id is None else await queries.get_driver(conn, driver_id)
    if driver is None:
        return error_response(404, "no such driver")
    live = services.live.fleet.drivers.get(driver.id)  # the newest fix, as live state has it
    return json_response(
        driver_detail(
            driver_json(driver, caller),
            None if live is None else live.battery,
            None if live is None else live.app,
            None if live is None else live.last_fix_at,
            services.live.fleet.now(),
        )
    )


@guarded("admin")
async def rotate_token(request: Request, caller: Caller, services: Services) -> Response:
    """A new token for a driver (a lost phone, a new app install); the old one stops working
    at once, its open sockets included (on every process)."""
    driver_id = path_id(request, "driver_id")
    token = new_token()
    async with services.db() as conn:
        driver = None
        if driver_id is not None:
            driver = await driver_cache.rotate_token(
                services.drivers, conn, driver_id, hash_token(token)
            )
    if driver is None:
        return error_response(404, "no such driver")
    return json_response(driver_json(driver, caller, token), 200, SECRET_HEADERS)
