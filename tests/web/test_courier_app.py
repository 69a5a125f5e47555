"""The courier page's installable-app parts over plain HTTP: the manifest, and the service
worker whose shell list covers every module the page loads and whose version follows the
files' contents."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import asyncpg

from server.base.settings import Settings
from server.edges import courier_app
from server.edges.pages import VENDOR, WEB_DIR
from tests.server.harness import run_server
from tests.web.conftest import web_settings

# A module path in a string: `from "./x.js"`, or a constant a dynamic import() takes.
MODULE = re.compile(r"""["']((?:\.{1,2}/|/static/)[^"'\s]+\.js)["']""")


def worker_constants(script: str) -> tuple[str, list[str]]:
    version = re.search(r'^const VERSION = ("[0-9a-f]+");$', script, re.M)
    shell = re.search(r"^const SHELL = (\[.*\]);$", script, re.M)
    assert version and shell, script[:300]
    return json.loads(version.group(1)), json.loads(shell.group(1))


def imported_modules(entry: Path) -> set[str]:
    """Every module the page's script reaches, as URLs (imports and dynamic imports)."""
    seen: set[str] = set()
    todo = ["/static/js/courier/" + entry.name]
    while todo:
        url = todo.pop()
        if url in seen:
            continue
        seen.add(url)
        if url.startswith("/static/vendor/"):
            continue
        source = (WEB_DIR / url.removeprefix("/")).read_text()
        for target in MODULE.findall(source):
            base = url.rsplit("/", 1)[0]
            resolved = target if target.startswith("/") else f"{base}/{target}"
            parts: list[str] = []
            for part in resolved.split("/"):
                if part == "..":
                    parts.pop()
                elif part != ".":
                    parts.append(part)
            todo.append("/".join(parts))
    return seen


async def test_the_manifest_and_the_worker_are_served_and_cover_the_shell(
    settings: Settings, db: asyncpg.Connection
) -> None:
    async with run_server(web_settings(settings)) as server, server.http() as client:
        page = await client.get("/driver")
        csp = page.headers["content-security-policy"]
        assert "worker-src 'self'" in csp and "manifest-src 'self'" in csp
        assert 'rel="manifest" href="/driver.webmanifest"' in page.text

        manifest = await client.get("/driver.webmanifest")
        assert manifest.headers["content-type"].startswith("application/manifest+json")
        body = manifest.json()
        assert body["start_url"] == body["scope"] == "/driver"
        assert body["display"] == "standalone"
        sizes = {icon["sizes"] for icon in body["icons"]}
        assert {"192x192", "512x512"} <= sizes  # what browsers ask of an installable app
        for icon in body["icons"]:
            answer = await client.get(icon["src"])
            assert answer.headers["content-type"] == "image/png", icon
            width, height = (int(n) for n in icon["sizes"].split("x"))
            assert answer.content[16:24] == width.to_bytes(4, "big") + height.to_bytes(4, "big")

        worker = await client.get("/driver-sw.js")
        assert worker.headers["content-type"].startswith("text/javascript")
        assert worker.headers["cache-control"] == "no-cache"
        _, shell = worker_constants(worker.text)
        # Everything the page loads is in the shell, so it opens offline...
        needed = imported_modules(WEB_DIR / "static/js/courier/main.js")
        needed |= {"/driver", "/static/app.css", "/static/courier.css"}
        needed |= {icon["src"] for icon in body["icons"]} | {"/driver.webmanifest"}
        assert "/static/vendor/signature_pad/signature_pad.js" in needed
        assert needed <= set(shell), needed - set(shell)
        # ...and every shell URL answers (one 404 would fail the worker's install).
        for url in shell:
            assert (await client.get(url)).status_code == 200, url


def test_the_worker_version_follows_the_shell_files(tmp_path: Path) -> None:
    web = tmp_path / "web"
    shutil.copytree(WEB_DIR / "pages", web / "pages")
    shutil.copytree(WEB_DIR / "static", web / "static")
    before, shell = worker_constants(courier_app.worker_script(web, VENDOR))
    same, _ = worker_constants(courier_app.worker_script(web, VENDOR))
    assert before == same
    module = web / "static/js/courier/run.js"
    module.write_text(module.read_text() + "\n// changed\n")
    after, _ = worker_constants(courier_app.worker_script(web, VENDOR))
    assert after != before
    assert "/static/js/courier/worker.js" not in shell  # the worker is not its own shell
