"""Static files compressed and cached: what the pages load, sent as brotli or gzip when the
browser takes it, with cache headers that fit how each kind of file changes.

- Our own modules, styles and pages change with every deploy: `Cache-Control: no-cache`,
  so a browser keeps its copy but asks first; the ETag and Last-Modified answer 304 when
  nothing changed.
- The npm packages (`/static/vendor/<name>@<version>/…`) never change under a versioned URL:
  `max-age` of a year and `immutable`. A new version is a new URL.

Compression happens on the first request for each version of a file (path, mtime, size) and
encoding, in a thread, and is kept in a bounded in-memory cache; not at wheel build time,
because a checkout (./scripts/run.sh, tests, an editable install) serves web/ as it is edited,
and precompressed files would go stale. A compressed answer has a weak ETag (W/"…": the same
content, another encoding), so `If-None-Match` revalidates every encoding alike.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import stat
from collections import OrderedDict
from collections.abc import Mapping
from email.utils import formatdate
from pathlib import Path

import anyio.to_thread
import brotli
from starlette.datastructures import Headers
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse, PathLike, StaticFiles
from starlette.types import Scope

OWN = "no-cache"  # keep, but revalidate: a deploy is picked up at once
IMMUTABLE = "public, max-age=31536000, immutable"  # versioned URLs only
COMPRESSIBLE = (
    "text/",  # html, css, javascript, plain
    "application/javascript",
    "application/json",
    "application/manifest+json",
    "application/geo+json",
    "image/svg+xml",
)
MIN_COMPRESS_BYTES = 512  # below this the headers outweigh the saving
CACHE_MAX_BYTES = 32 * 1024 * 1024  # every served file compressed both ways fits many times
# Once per file version, in a thread. Quality 11 (the best ratio) costs ~0.25 s for Leaflet's
# 148 kB but 6 s for Swagger UI's 1.7 MB, where 9 takes 0.15 s for a 9 % larger result.
BROTLI_QUALITY = 11
BROTLI_QUALITY_LARGE = 9
BROTLI_LARGE_BYTES = 256 * 1024
GZIP_LEVEL = 9
ENCODINGS = ("br", "gzip")  # our preference when the browser takes both equally


def chosen_encoding(accept_encoding: str) -> str | None:
    """The encoding to send for this Accept-Encoding, or None for the file as it is.

    >>> chosen_encoding("gzip, deflate, br, zstd")
    'br'
    >>> chosen_encoding("br;q=0, gzip") , chosen_encoding("identity"), chosen_encoding("")
    ('gzip', None, None)
    """
    weights: dict[str, float] = {}
    for item in accept_encoding.lower().split(","):
        name, _, params = item.strip().partition(";")
        weight = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    weight = float(value)
                except ValueError:
                    weight = 0.0
        if name:
            weights[name.strip()] = weight
    star = weights.get("*", 0.0)
    ranked = [(weights.get(e, star), -i, e) for i, e in enumerate(ENCODINGS)]
    weight, _, best = max(ranked)
    return best if weight > 0 else None


def compressible(media_type: str | None) -> bool:
    return bool(media_type) and str(media_type).split(";")[0].strip().startswith(COMPRESSIBLE)


def _compress(data: bytes, encoding: str) -> bytes:
    if encoding == "br":
        large = len(data) > BROTLI_LARGE_BYTES
        return brotli.compress(data, quality=BROTLI_QUALITY_LARGE if large else BROTLI_QUALITY)
    return gzip.compress(data, compresslevel=GZIP_LEVEL, mtime=0)


class Compressed:
    """Compressed bodies by (content key, encoding), least recently used dropped first;
    requests arriving while one is being compressed wait for that one."""

    def __init__(self, max_bytes: int = CACHE_MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self.entries: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self.pending: dict[tuple[str, str], asyncio.Task[bytes]] = {}

    async def body(self, key: str, encoding: str, read: bytes | Path) -> bytes:
        """The compressed bytes of `read` (the content, or a file to read in the thread)."""
        entry = (key, encoding)
        found = self.entries.get(entry)
        if found is not None:
            self.entries.move_to_end(entry)
            return found
        task = self.pending.get(entry)
        if task is None:  # a task of its own: a client that goes away does not cancel it
            task = asyncio.create_task(self._compress(entry, read))
            self.pending[entry] = task
        return await asyncio.shield(task)

    async def _compress(self, entry: tuple[str, str], read: bytes | Path) -> bytes:
        def work() -> bytes:
            data = read.read_bytes() if isinstance(read, Path) else read
            return _compress(data, entry[1])

        try:
            body = await anyio.to_thread.run_sync(work)
        finally:
            del self.pending[entry]
        self.entries[entry] = body
        self.size += len(body)
        while self.size > self.max_bytes and self.entries:
            _, dropped = self.entries.popitem(last=False)
            self.size -= len(dropped)
        return body


async def negotiate(
    plain: Response,
    request_headers: Headers,
    cache: Compressed,
    key: str,
    source: bytes | Path,
    length: int,
) -> Response:
    """`plain` (a 200 with an ETag), or the same content compressed if the client takes it."""
    plain.headers["Vary"] = "Accept-Encoding"
    encoding = chosen_encoding(request_headers.get("accept-encoding", ""))
    if (
        encoding is None
        or length < MIN_COMPRESS_BYTES
        or "range" in request_headers
        or not compressible(plain.media_type or plain.headers.get("content-type"))
    ):
        return plain
    body = await cache.body(key, encoding, source)
    headers = {
        name: value
        for name, value in plain.headers.items()
        if name not in ("content-length", "accept-ranges", "content-encoding", "etag")
    }
    headers["content-encoding"] = encoding
    headers["etag"] = f"W/{plain.headers['etag']}"
    return Response(body, status_code=200, headers=headers)


class CachedStaticFiles(StaticFiles):
    """Starlette's StaticFiles with our cache policy and compression."""

    def __init__(self, directory: PathLike, cache_control: str, cache: Compressed) -> None:
        super().__init__(directory=directory)
        self.cache_control = cache_control
        self.cache = cache

    def file_response(
        self,
        full_path: PathLike,
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        headers = {
            "Cache-Control": self.cache_control,
            "Vary": "Accept-Encoding",
            "X-Content-Type-Options": "nosniff",
        }
        response = FileResponse(
            full_path, status_code=status_code, stat_result=stat_result, headers=headers
        )
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        if not isinstance(response, FileResponse) or response.status_code != 200:
            return response
        stat_result = response.stat_result
        if stat_result is None or not stat.S_ISREG(stat_result.st_mode):
            return response
        key = f"{response.path}|{stat_result.st_mtime_ns}|{stat_result.st_size}"
        return await negotiate(
            response,
            Headers(scope=scope),
            self.cache,
            key,
            Path(response.path),
            stat_result.st_size,
        )


class Document:
    """A page's HTML as served: read and rewritten (`rewrite`) once per version of its file,
    with an ETag of the served bytes, revalidated and compressed like the static files."""

    def __init__(self, path: Path, replacements: Mapping[str, str], cache: Compressed) -> None:
        self.path = path
        self.replacements = dict(replacements)
        self.cache = cache
        self.version: tuple[int, int] | None = None
        self.body = b""
        self.etag = ""
        self.modified = ""

    def _load(self) -> None:
        info = self.path.stat()
        version = (info.st_mtime_ns, info.st_size)
        if version == self.version:
            return
        text = self.path.read_text(encoding="utf-8")
        for old, new in self.replacements.items():
            text = text.replace(old, new)
        body = text.encode("utf-8")
        self.body = body
        self.etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
        self.modified = formatdate(info.st_mtime, usegmt=True)
        self.version = version

    async def response(self, request_headers: Headers, headers: Mapping[str, str]) -> Response:
        await anyio.to_thread.run_sync(self._load)
        own = {**headers, "ETag": self.etag, "Last-Modified": self.modified}
        own["Vary"] = "Accept-Encoding"
        tags = request_headers.get("if-none-match", "")
        if self.etag in [tag.strip().removeprefix("W/") for tag in tags.split(",")]:
            return NotModifiedResponse(Headers(own))
        plain = Response(self.body, media_type="text/html", headers=own)
        return await negotiate(
            plain, request_headers, self.cache, self.etag, self.body, len(self.body)
        )
