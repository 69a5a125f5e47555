"""Build hook: the wheel carries the pages inside the server package, as server/web, where
server/edges/pages.py looks first; an editable install leaves them in the checkout's web/,
where that lookup falls back to (edit, reload). The sdist carries what the wheel needs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hatchling.builders.hooks.plugin.interface import BuildHookInterface

# What the server serves from web/: the pages, their modules and, of the npm packages
# (web/package-lock.json), only the ready-to-serve folders, with their licences.
SERVED = ["pages", "static", "package.json"]  # package.json: the vendor URLs' versions
VENDORED = [
    "node_modules/leaflet/dist",
    "node_modules/leaflet/LICENSE",
    "node_modules/leaflet.markercluster/dist",
    "node_modules/leaflet.markercluster/MIT-LICENCE.txt",
    "node_modules/swagger-ui-dist/swagger-ui-bundle.js",
    "node_modules/swagger-ui-dist/swagger-ui.css",
    "node_modules/swagger-ui-dist/LICENSE",
    "node_modules/swagger-ui-dist/NOTICE",
    "node_modules/signature_pad/dist/signature_pad.js",
    "node_modules/signature_pad/LICENSE",
    "node_modules/protomaps-leaflet/dist/protomaps-leaflet.js",  # one file, its deps inside
    "node_modules/protomaps-leaflet/LICENSE",
    "node_modules/uplot/dist/uPlot.esm.js",
    "node_modules/uplot/dist/uPlot.min.css",
    "node_modules/uplot/LICENSE",
]


class WebAssets(BuildHookInterface):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":
            return
        web = Path(self.root) / "web"
        missing = [p for p in VENDORED if not (web / p).exists()]
        if missing:
            raise FileNotFoundError(
                f"web/ lacks {', '.join(missing)}: run `npm ci` in web/ before building"
            )
        if self.target_name == "wheel":
            paths = {f"web/{p}": f"server/web/{p}" for p in SERVED + VENDORED}
        else:  # the sdist: node_modules is gitignored, so named here
            paths = {f"web/{p}": f"web/{p}" for p in VENDORED}
        build_data["force_include"].update({str(web.parent / s): t for s, t in paths.items()})
