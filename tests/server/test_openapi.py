"""`GET /openapi.json`: every REST route of the app is in the document and every documented
path is a route; the document is valid OpenAPI 3.1; it is what the server serves."""

from __future__ import annotations

from typing import Any

import msgspec
from openapi_spec_validator import validate
from starlette.routing import Route

from server.base.settings import Settings
from server.edges.rest.openapi import document
from tests.conftest import TEST_DATABASE_URL, server_settings
from tests.server.harness import run_server
from tests.server.openapi_check import documented_routes, rest_routes


def _settings() -> Settings:
    return server_settings(TEST_DATABASE_URL)  # the app is built, never started


def test_every_route_is_documented_and_every_documented_route_exists() -> None:
    routes = rest_routes(_settings())
    documented = documented_routes(document())
    assert ("/api/orders", "POST") in routes and ("/osmand", "PUT") in routes  # sanity
    assert routes - documented == set(), "routes missing from server/edges/rest/api_table.py"
    assert documented - routes == set(), "documented routes the app does not have"


def test_the_document_is_valid_openapi_3_1() -> None:
    doc = document()
    validate(doc)  # openapi-spec-validator: the 3.1 meta-schema and every $ref resolving
    assert doc["openapi"].startswith("3.1")
    names = set(doc["components"]["schemas"])
    assert not [n for n in names if "." in n or n.startswith("_")], names  # all renamed
    assert set(doc["components"]["securitySchemes"]) >= {"apiKey", "driverToken"}
    assert {"/ws/driver", "/ws/track/{code}", "/ws/fleet"} == set(doc["x-websockets"])


def test_every_operation_documents_its_errors_with_the_shared_body() -> None:
    """Every 4xx/5xx body has the shared `error` text (some add to it: the allowed
    statuses of a 409, the acked seqs of ingest's 503); only readiness answers its own."""
    doc = document()
    components = doc["components"]["schemas"]

    def has_error_text(schema: dict[str, Any]) -> bool:
        if "anyOf" in schema:
            return all(has_error_text(s) for s in schema["anyOf"])
        named = components[schema["$ref"].rsplit("/", 1)[1]]
        return "error" in named["required"] and named["properties"]["error"] == {"type": "string"}

    for path, item in doc["paths"].items():
        for method, operation in item.items():
            responses = operation["responses"]
            failures = [s for s in responses if s[0] in "45"]
            assert "500" in failures, (method, path)
            for status in failures:
                schema = responses[status]["content"]["application/json"]["schema"]
                readiness = path in ("/readyz", "/healthz") and status == "503"
                assert readiness or has_error_text(schema), (method, path, status, schema)
            # OsmAnd answers an unknown device id as a known one: no 401 to document.
            if operation["security"] and operation["security"] != [{"deviceId": []}]:
                assert "401" in responses, (method, path)
            if operation.get("x-role"):
                assert "403" in responses, (method, path)


def test_request_and_response_types_come_from_the_structs() -> None:
    """Generated, not hand-written: a field added to a Struct appears in the document."""
    schemas = document()["components"]["schemas"]
    from server.edges.rest.validation import OrderIn
    from server.wire.orders import DispatcherOrder

    for struct in (OrderIn, DispatcherOrder):
        fields = {f.encode_name for f in msgspec.structs.fields(struct)}
        assert set(schemas[struct.__name__]["properties"]) == fields


async def test_the_server_serves_the_document(settings: Settings) -> None:
    async with run_server(settings) as server, server.http() as client:
        served = await client.get("/openapi.json")
        head = await client.head("/openapi.json")
    assert served.status_code == 200 and head.status_code == 200
    assert served.headers["content-type"] == "application/json"
    assert served.json() == msgspec.json.decode(msgspec.json.encode(document()))
    routes = [r for r in server.app.routes if isinstance(r, Route)]
    assert any(r.path == "/openapi.json" for r in routes)
