"""Helpers for the OpenAPI tests: the app's REST routes as Starlette has them, and a checker
that validates real responses against the document's schema for their status code."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012
from starlette.routing import Route

from server.app import create_app
from server.base.settings import Settings
from server.edges.pages import page_routes
from server.edges.tiles import Basemap, tile_routes

DOCUMENT_URI = "https://tracker.invalid/openapi.json"


def rest_routes(settings: Settings) -> set[tuple[str, str]]:
    """(path template, method) of every HTTP route of the app but the pages and the basemap's
    tiles (assets, docs/api.md): HEAD goes with GET (Starlette adds it), WebSockets and
    static mounts are no REST routes."""
    app = create_app(settings).app
    basemap = Basemap(Path(settings.tiles_file), settings.tiles_max_age_s)
    assets = [*page_routes(settings, basemap), *tile_routes(basemap, settings.base_url)]
    basemap.close()
    pages = {r.path for r in assets if isinstance(r, Route)}
    return {
        (route.path, method)
        for route in app.routes
        if isinstance(route, Route) and route.path not in pages
        for method in route.methods or ()
        if method != "HEAD"
    }


def documented_routes(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in document["paths"].items() for method in item}


def _pointer(*parts: str) -> str:
    return "/".join(p.replace("~", "~0").replace("/", "~1") for p in parts)


class ResponseChecker:
    """Validates responses against `document`; remembers which operations and statuses
    were seen, so a test can say what it covered."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.document = document
        resource: Resource[Any] = DRAFT202012.create_resource(document)
        self.registry: Registry[Any] = Registry().with_resource(DOCUMENT_URI, resource)
        self.seen: set[tuple[str, str, int]] = set()

    def __call__(self, response: httpx.Response, template: str) -> httpx.Response:
        method = response.request.method
        operation = self.document["paths"][template][method.lower()]
        status = response.status_code
        documented = operation["responses"]
        assert str(status) in documented, (
            f"{method} {template} answered {status}, not documented ({sorted(documented)}): "
            f"{response.text[:200]}"
        )
        content = documented[str(status)].get("content")
        if content is None:
            assert response.content == b"", f"{method} {template} {status}: a body {response}"
        else:
            answered = response.headers["content-type"]
            media = next((m for m in content if answered.startswith(m)), None)
            assert media is not None, (
                f"{method} {template} {status}: {answered} is none of {sorted(content)}"
            )
            body = response.json() if media == "application/json" else response.text
            ref = _pointer(
                "#", "paths", template, method.lower(), "responses", str(status), "content",
                media, "schema",
            )  # fmt: skip
            validator = Draft202012Validator({"$ref": DOCUMENT_URI + ref}, registry=self.registry)
            errors = [
                f"{'/'.join(map(str, e.absolute_path)) or '(body)'}: {e.message}"
                for e in validator.iter_errors(body)
            ]
            assert not errors, f"{method} {template} {status} breaks the document: {errors[:5]}"
        self.seen.add((template, method, status))
        return response
