"""The basemap's tiles for tests: built once per test process from the Porto extract in
../shared/data/osm (the development data beside the checkout), timed."""

from __future__ import annotations

import functools
import os
import shutil
import tempfile
import time
from pathlib import Path

import pytest

from server.basemap.build import Built, build

ROOT = Path(__file__).resolve().parent.parent
PORTO_PBF = Path(
    os.environ.get("TRACKER_TEST_OSM_PBF", ROOT.parent / "shared/data/osm/porto_center.osm.pbf")
)
# Tiles at zoom 14 inside the Porto extract (Baixa: Aliados, Santa Catarina) and one outside.
PORTO_Z14 = (14, 7800, 6133)
OUTSIDE_Z14 = (14, 7000, 6000)


def require_basemap_tools() -> None:
    missing = []
    if not PORTO_PBF.is_file():
        missing.append(f"the Porto extract at {PORTO_PBF} (../shared/data)")
    if shutil.which("tilemaker") is None:
        missing.append("tilemaker (apt-get install tilemaker; ./scripts/test.sh does it)")
    if missing:
        reason = "basemap tests need " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)


@functools.cache
def porto_tiles() -> Built:
    """The Porto tiles (built on first use; the build time is printed with -s)."""
    require_basemap_tools()
    out = Path(tempfile.mkdtemp(prefix="tracker-test-tiles-")) / "porto.mbtiles"
    started = time.monotonic()
    built = build(PORTO_PBF, out)
    print(f"\nbasemap: built {built.tiles} tiles in {time.monotonic() - started:.2f} s")
    return built
