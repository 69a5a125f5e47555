"""What a page costs to load, in bytes on the wire: every script, module (followed through
its static imports) and stylesheet it loads, fetched from a running server as a browser
would, with no compression, gzip and brotli, then revalidated as a returning visitor's
browser does (`If-None-Match`; immutable files are not asked for again at all).

    python -m server.bench.static_sizes http://localhost:8000 /t/7KQ2-M9XD-3HVA-PR4T /track

Prints one table per page; a measurement, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import sys
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

ASSETS = re.compile(r"""<(?:script[^>]*\bsrc|link[^>]*\bhref)="([^"]+\.(?:js|css))\"""")
IMPORTS = re.compile(r"""(?:\bfrom\s*|\bimport\s*\(?\s*)["']([^"'`]+\.js)["']""")
ENCODINGS = {"none": "identity", "gzip": "gzip", "br": "br"}


@dataclass
class Asset:
    path: str
    sizes: dict[str, int]  # encoding name -> bytes on the wire (the body as sent)
    etag: str | None
    immutable: bool
    revalidated: int = 0  # body bytes on a second visit (0: a 304, or not asked at all)


async def fetch(client: httpx.AsyncClient, url: str, encoding: str) -> tuple[bytes, httpx.Response]:
    request = client.build_request("GET", url, headers={"Accept-Encoding": encoding})
    response = await client.send(request, stream=True)
    try:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    finally:
        await response.aclose()
    response.raise_for_status()
    return raw, response


async def measure_page(client: httpx.AsyncClient, page: str) -> list[Asset]:
    raw, response = await fetch(client, page, "identity")
    queue = [urljoin(page, found) for found in ASSETS.findall(raw.decode("utf-8"))]
    assets = [await asset(client, page, response)]
    seen = set(queue)
    while queue:
        url = queue.pop(0)
        text, first = await fetch(client, url, "identity")
        assets.append(await asset(client, url, first))
        if url.endswith(".js"):
            for found in IMPORTS.findall(text.decode("utf-8")):
                target = urljoin(url, found)
                if target not in seen and urlsplit(target).netloc == urlsplit(url).netloc:
                    seen.add(target)
                    queue.append(target)
    return assets


async def asset(client: httpx.AsyncClient, url: str, plain: httpx.Response) -> Asset:
    sizes = {}
    for name, encoding in ENCODINGS.items():
        raw, _ = await fetch(client, url, encoding)
        sizes[name] = len(raw)
    cache = plain.headers.get("cache-control", "")
    found = Asset(urlsplit(url).path, sizes, plain.headers.get("etag"), "immutable" in cache)
    if not found.immutable:
        headers = {"Accept-Encoding": "br", **({"If-None-Match": found.etag} if found.etag else {})}
        again = await client.get(url, headers=headers)
        found.revalidated = 0 if again.status_code == 304 else len(again.content)
    return found


def report(page: str, assets: list[Asset]) -> str:
    lines = [f"{page}: {len(assets)} files", f"{'file':60} {'none':>8} {'gzip':>8} {'br':>8}"]
    for a in assets:
        lines.append(
            f"{a.path[:60]:60} {a.sizes['none']:8d} {a.sizes['gzip']:8d} {a.sizes['br']:8d}"
        )
    total = {name: sum(a.sizes[name] for a in assets) for name in ENCODINGS}
    scripts = [a for a in assets if a.path.endswith(".js")]
    script_total = {name: sum(a.sizes[name] for a in scripts) for name in ENCODINGS}
    lines.append(f"{'all files':60} {total['none']:8d} {total['gzip']:8d} {total['br']:8d}")
    lines.append(
        f"{'scripts only':60} {script_total['none']:8d} {script_total['gzip']:8d} "
        f"{script_total['br']:8d}"
    )
    asked = sum(1 for a in assets if not a.immutable)
    lines.append(
        f"second visit: {asked} revalidations, {sum(a.revalidated for a in assets)} body bytes; "
        f"{len(assets) - asked} immutable files not asked for"
    )
    return "\n".join(lines)


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description="What a page costs to load, in bytes on the wire.")
    parser.add_argument("base_url", help="a running server, e.g. http://localhost:8000")
    parser.add_argument("pages", nargs="*", default=["/t/7KQ2-M9XD-3HVA-PR4T", "/track"])
    args = parser.parse_args(argv)
    async with httpx.AsyncClient(base_url=args.base_url, timeout=30.0) as client:
        for page in args.pages:
            print(report(page, await measure_page(client, urljoin(args.base_url, page))))
            print()
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
