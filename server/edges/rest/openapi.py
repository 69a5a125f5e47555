"""`GET /openapi.json`: the OpenAPI 3.1 document, built from the route table
(server/edges/rest/api_table.py) and the msgspec types it names, whose JSON Schemas
(`msgspec.json.schema_components`) become the document's components. Nothing here is
written by hand that the types already say. `/docs` (server/edges/pages.py) shows it.
"""

from __future__ import annotations

import functools
import re
from importlib import metadata
from typing import Any

import msgspec
from starlette.requests import Request
from starlette.responses import Response

from server.edges.guards import ROLES
from server.edges.rest.api_table import COMPONENT_NAMES, OPERATIONS, SOCKETS
from server.edges.rest.api_types import NO_BODY, Media, Op
from server.wire import notify, rest

TITLE = "tracker: real-time delivery tracking API"
REF = "#/components/schemas/{name}"
_PATH_PARAM = re.compile(r"{(\w+)}")

STATUS_TEXT = {
    200: "OK",
    201: "Created",
    204: "Done; no body",
    303: "See Other: the Location header names the page",
    400: "The request cannot be read (the error says why)",
    401: "Missing or unknown credential",
    403: "The key's role may not do this",
    404: "No such thing",
    408: "The body did not arrive in time",
    409: "Conflicts with the current state",
    413: "The body is too large",
    415: "The body is not of the media type this route reads",
    422: "The request is readable but invalid (the error names the field)",
    423: "Locked (the error says what and why)",
    429: "Too many requests; see Retry-After",
    500: "A server fault (logged)",
    503: "Unavailable for now (database or storage behind); see Retry-After",
}

# Who may call (the table's auth) -> the security requirement.
SECURITY: dict[str, list[dict[str, list[str]]]] = {
    "support": [{"apiKey": []}],
    "dispatcher": [{"apiKey": []}],
    "admin": [{"apiKey": []}],
    "driver": [{"driverToken": []}],
    "metrics": [{"metricsToken": []}, {"apiKey": []}],
    "owntracks": [{"owntracksBasic": []}],
    "device": [{"deviceId": []}],
}
SECURITY_SCHEMES = {
    "apiKey": {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key (`POST /api/keys`; roles support < dispatcher < admin) or "
        "TRACKER_ADMIN_TOKEN. Each operation's `x-role` is the least role it needs.",
    },
    "driverToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "A driver's token, shown once by `POST /api/drivers`.",
    },
    "metricsToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "TRACKER_METRICS_TOKEN, or TRACKER_ADMIN_TOKEN.",
    },
    "owntracksBasic": {
        "type": "http",
        "scheme": "basic",
        "description": "OwnTracks: any user name, the driver's token as password.",
    },
    "deviceId": {
        "type": "apiKey",
        "in": "query",
        "name": "id",
        "description": "OsmAnd: the driver's device_id (a bearer secret; the protocol has "
        "no password).",
    },
}


def _version() -> str:
    try:
        return metadata.version("tracker")
    except metadata.PackageNotFoundError:  # a checkout run without installing
        return "0+unknown"


class _Schemas:
    """Every type the table names, described by msgspec in one pass (shared components)."""

    def __init__(self, kinds: list[Any]) -> None:
        unique = list(dict.fromkeys(kinds))
        schemas, components = msgspec.json.schema_components(unique, ref_template=REF)
        named = {COMPONENT_NAMES.get(k, k): v for k, v in components.items()}
        self.components: dict[str, Any] = _renamed(named)
        self._of = {kind: _renamed(s) for kind, s in zip(unique, schemas, strict=True)}

    def of(self, kind: Any) -> dict[str, Any]:
        if isinstance(kind, tuple):
            return {"anyOf": [self._of[k] for k in kind]}
        schema: dict[str, Any] = self._of[kind]
        return schema


def _renamed(value: Any) -> Any:
    """`value` with every $ref to a renamed component pointing at its new name."""
    if isinstance(value, dict):
        out = {k: _renamed(v) for k, v in value.items()}
        ref = out.get("$ref")
        if isinstance(ref, str):
            name = ref.removeprefix(REF.format(name=""))
            out["$ref"] = REF.format(name=COMPONENT_NAMES.get(name, name))
        if isinstance(out.get("title"), str) and out["title"] in COMPONENT_NAMES:
            out["title"] = COMPONENT_NAMES[out["title"]]
        return out
    if isinstance(value, list):
        return [_renamed(v) for v in value]
    return value


def _flat(kind: Any) -> list[Any]:
    """The alternatives of a body, as types msgspec describes."""
    kinds = list(kind) if isinstance(kind, tuple) else [kind]
    return [k.kind if isinstance(k, Media) else k for k in kinds if k is not NO_BODY]


def _content(kind: Any, schemas: _Schemas) -> dict[str, Any]:
    """Media type -> schema of a body; its JSON alternatives are any of them."""
    kinds = list(kind) if isinstance(kind, tuple) else [kind]
    content = {k.type: {"schema": schemas.of(k.kind)} for k in kinds if isinstance(k, Media)}
    json = tuple(k for k in kinds if not isinstance(k, Media))
    if json:
        content["application/json"] = {"schema": schemas.of(json if len(json) > 1 else json[0])}
    return content


def _kinds() -> list[Any]:
    kinds: list[Any] = [rest.Error, notify.WebhookBody, notify.OrderEvent, notify.DriverPosition]
    for op in OPERATIONS:
        kinds += _flat(op.request)
        kinds += [k for r in op.responses.values() for k in _flat(r)]
        kinds += [p.kind for p in op.params]
    for socket in SOCKETS.values():
        kinds += [*socket["receives"], *socket["sends"]]
    return kinds


def _shared_errors(op: Op) -> dict[int, Any]:
    """The statuses every route of its kind answers with the shared error body."""
    shared: dict[int, Any] = {500: rest.Error}
    if op.auth in ROLES:
        shared |= {401: rest.Error, 403: rest.Error}
    elif op.auth is not None and op.auth != "device":
        shared[401] = rest.Error
    if op.request is not None:
        shared |= {408: rest.Error, 413: rest.Error}
        if op.path.startswith("/api/") and op.path != "/api/ingest":
            shared[422] = rest.Error  # JSON bodies; ingest and the apps answer 400
    if op.database:
        shared[503] = rest.Error
    return shared


def _response(status: int, kind: Any, schemas: _Schemas) -> dict[str, Any]:
    response: dict[str, Any] = {"description": STATUS_TEXT[status]}
    if status in (429, 503):
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    if kind is not NO_BODY:
        response["content"] = _content(kind, schemas)
    return response


def _parameters(op: Op, schemas: _Schemas) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for name in _PATH_PARAM.findall(op.path):
        numeric = name.endswith("_id")
        schema = {"type": "integer", "minimum": 1} if numeric else {"type": "string"}
        params.append({"name": name, "in": "path", "required": True, "schema": schema})
    for p in op.params:
        params.append(
            {"name": p.name, "in": p.where, "description": p.description,
             "schema": schemas.of(p.kind)}
        )  # fmt: skip
    return params


def _operation(op: Op, schemas: _Schemas) -> dict[str, Any]:
    responses = _shared_errors(op) | op.responses
    operation: dict[str, Any] = {
        "operationId": _operation_id(op),
        "summary": op.summary,
        "tags": [op.tag],
        "responses": {
            str(status): _response(status, kind, schemas)
            for status, kind in sorted(responses.items())
        },
    }
    if op.description:
        operation["description"] = op.description
    if op.deprecated:
        operation["deprecated"] = True
    operation["security"] = SECURITY.get(op.auth or "", []) + (
        SECURITY["driver"] if op.also_driver else []
    )
    if op.auth in ROLES:
        operation["x-role"] = op.auth
    parameters = _parameters(op, schemas)
    if parameters:
        operation["parameters"] = parameters
    if op.request is not None:
        operation["requestBody"] = {
            "required": op.path != "/osmand",  # OsmAnd may put it all in the query
            "content": _content(op.request, schemas),
        }
    return operation


def _operation_id(op: Op) -> str:
    words = re.sub(r"[{}]", "", op.path).strip("/").replace(".", "_").split("/")
    return "_".join([op.method.lower(), *[w.replace("-", "_") for w in words]])


def _sockets(schemas: _Schemas) -> dict[str, Any]:
    return {
        path: {
            "summary": s["summary"],
            "auth": s["auth"],
            "receives": [schemas.of(k) for k in s["receives"]],
            "sends": [schemas.of(k) for k in s["sends"]],
        }
        for path, s in SOCKETS.items()
    }


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of every REST route."""
    schemas = _Schemas(_kinds())
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method.lower()] = _operation(op, schemas)
    return {
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://spec.openapis.org/oas/3.1/dialect/base",
        "info": {
            "title": TITLE,
            "version": _version(),
            "license": {"name": "Apache-2.0", "identifier": "Apache-2.0"},
            "description": (
                "Couriers stream GPS fixes; customers, dispatchers and other systems watch "
                'orders. Every error body is `{"error": "..."}`, the 404 of an unknown path '
                "and the 405 of a method a path does not take (with `Allow`) included. "
                "HEAD is accepted "
                "wherever GET is. The WebSockets (`/ws/driver`, `/ws/track/{code}`, "
                "`/ws/fleet`) are listed under `x-websockets` with their messages; the "
                "webhooks under `webhooks`. The prose reference is docs/api.md."
            ),
        },
        "tags": [{"name": t} for t in dict.fromkeys(op.tag for op in OPERATIONS)],
        "paths": paths,
        "webhooks": {
            "event": {
                "post": {
                    "summary": "An event, signed per Standard Webhooks",
                    "description": "Headers `webhook-id`, `webhook-timestamp` and "
                    "`webhook-signature`. `data` is an OrderEvent (`order.*`) or a "
                    "DriverPosition (`driver.position`).",
                    "requestBody": {
                        "content": {"application/json": {"schema": schemas.of(notify.WebhookBody)}}
                    },
                    "responses": {"2XX": {"description": "Received; any other answer is retried"}},
                }
            }
        },
        "components": {
            "schemas": schemas.components,
            "securitySchemes": SECURITY_SCHEMES,
            "headers": {
                "RetryAfter": {
                    "description": "Seconds to wait before trying again",
                    "schema": {"type": "integer"},
                }
            },
        },
        "x-websockets": _sockets(schemas),
    }


@functools.cache
def _encoded() -> bytes:
    return msgspec.json.encode(document())


async def openapi_json(request: Request) -> Response:
    """Public, and readable from other origins: editors and client generators load it."""
    return Response(
        _encoded(),
        media_type="application/json",
        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"},
    )
