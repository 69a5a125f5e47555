"""What gets installed: a wheel that serves the pages outside the checkout, and lock files
that agree with pyproject.toml (scripts/lock.sh rewrites them)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import subprocess
import sys
import sysconfig
import tomllib
import venv
import zipfile
from pathlib import Path

import httpx
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import ADMIN_TOKEN
from tests.server.harness import listening_socket

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"
DEV_LOCK = ROOT / "requirements" / "dev.txt"
UNLOCKED_EXTRAS = {"data"}  # as in scripts/lock.sh: one script's, installed by hand
STEP_TIMEOUT_S = 60.0
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.MULTILINE)
# uv's note under a requirement that pyproject.toml asks for itself.
DIRECT = re.compile(r"^\s+#\s+(via\s+)?tracker \(pyproject\.toml\)", re.MULTILINE)


def pins(lock: Path) -> dict[str, str]:
    return {canonicalize_name(name): version for name, version in PIN.findall(lock.read_text())}


def direct_pins(lock: Path) -> set[str]:
    """The requirements the lock says pyproject.toml asks for."""
    blocks = re.split(r"\n(?=[A-Za-z0-9])", lock.read_text())
    return {
        canonicalize_name(match[1])
        for block in blocks
        if (match := PIN.match(block)) and DIRECT.search(block)
    }


def requirements(*extras: str) -> list[Requirement]:
    project = PYPROJECT["project"]
    listed = [
        *project["dependencies"],
        *(r for e in extras for r in project["optional-dependencies"][e]),
    ]
    return [Requirement(r) for r in listed]


def locked_extras() -> list[str]:
    return [e for e in PYPROJECT["project"]["optional-dependencies"] if e not in UNLOCKED_EXTRAS]


def test_the_locks_agree_with_pyproject() -> None:
    for lock, extras in ((RUNTIME_LOCK, []), (DEV_LOCK, locked_extras())):
        locked = pins(lock)
        wanted = requirements(*extras)
        for requirement in wanted:
            name = canonicalize_name(requirement.name)
            assert name in locked, f"{requirement} is not in {lock.name}: run scripts/lock.sh"
            assert requirement.specifier.contains(locked[name], prereleases=True), (
                f"{lock.name} has {name}=={locked[name]}, pyproject.toml {requirement}:"
                " run scripts/lock.sh"
            )
        stale = direct_pins(lock) - {canonicalize_name(r.name) for r in wanted}
        assert not stale, f"{lock.name} still pins {sorted(stale)}: run scripts/lock.sh"


def test_the_runtime_lock_is_the_dev_lock_without_the_extras() -> None:
    runtime, dev = pins(RUNTIME_LOCK), pins(DEV_LOCK)
    assert {name: dev.get(name) for name in runtime} == runtime
    assert "pytest" in dev and "pytest" not in runtime


def test_every_locked_requirement_has_hashes() -> None:
    for lock in (RUNTIME_LOCK, DEV_LOCK):
        blocks = re.split(r"\n(?=[A-Za-z0-9])", lock.read_text())
        unhashed = [b.split()[0] for b in blocks if PIN.match(b) and "--hash=sha256:" not in b]
        assert not unhashed, f"{lock.name}: no hashes for {unhashed}"


def run(*args: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    result = subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=STEP_TIMEOUT_S,
        check=False,
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def clean_env(**extra: str) -> dict[str, str]:
    """No PYTHONPATH (it would put the checkout on the path) and no stray TRACKER_*."""
    keep = ("PATH", "LANG", "HOME", "TMPDIR")
    return {**{k: os.environ[k] for k in keep if k in os.environ}, **extra}


def install_wheel(tmp: Path) -> Path:
    """Build the wheel from the checkout and install it, without its dependencies, into a
    new virtualenv that borrows them from this one's site-packages (no network needed).
    Returns the virtualenv."""
    dist = tmp / "dist"
    run(
        *(sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation"),
        *("--no-index", "-q", "-w", dist, ROOT),
        cwd=tmp,
    )
    [wheel] = dist.glob("tracker-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    for packaged in (
        "server/py.typed",
        "geo/py.typed",
        "server/store/migrations/script.py.mako",
        "server/usecases/notify/templates/email.html",
        "server/usecases/notify/templates/footer.txt",
        *(
            f"server/usecases/notify/locale/{lang}/LC_MESSAGES/messages.po"
            for lang in ("pt", "es", "fr", "de")
        ),  # read at start-up (catalogs.py)
        "server/web/pages/preferences.html",
        "server/web/node_modules/leaflet/LICENSE",
        "server/basemap/config.json",  # `tracker tiles build` runs tilemaker with these
        "server/basemap/process.lua",
        "server/web/node_modules/protomaps-leaflet/dist/protomaps-leaflet.js",
    ):
        assert packaged in names, packaged
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    # Of node_modules, only the folders the server serves (and the licences).
    vendored = {n.split("/")[4] for n in names if n.startswith("server/web/node_modules/")}
    served = {"dist", "swagger-ui-bundle.js", "swagger-ui.css"}  # swagger-ui-dist is its dist
    assert vendored == served | {"LICENSE", "MIT-LICENCE.txt", "NOTICE"}

    env_dir = tmp / "venv"
    venv.EnvBuilder(with_pip=False).create(env_dir)
    python = env_dir / "bin" / "python"
    site = run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))", cwd=tmp)
    ours = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    # A path line, not a site dir: the .pth files there (this checkout's editable install)
    # are not run, so `server` can only come from the wheel.
    (Path(site.strip()) / "borrowed_dependencies.pth").write_text("\n".join(sorted(ours)) + "\n")
    run(python, "-m", "pip", "install", "-q", "--no-deps", "--no-index", "--ignore-installed",
        wheel, cwd=tmp, env=clean_env())  # fmt: skip
    where = run(python, "-c", "import server; print(server.__file__)", cwd=tmp, env=clean_env())
    assert Path(where.strip()).is_relative_to(env_dir), where
    return env_dir


async def test_an_installed_wheel_serves_the_pages_outside_the_checkout(
    database_url: str, tmp_path: Path
) -> None:
    env_dir = await asyncio.to_thread(install_wheel, tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = clean_env(DATABASE_URL=database_url, TRACKER_ADMIN_TOKEN=ADMIN_TOKEN)
    tracker = env_dir / "bin" / "tracker"
    # The migrations ship too (the test database is already at their head).
    await asyncio.to_thread(run, tracker, "migrate", cwd=elsewhere, env=env)

    sock = listening_socket()
    process = await asyncio.create_subprocess_exec(
        *(tracker, "serve", "--fd", str(sock.fileno()), "--log-level", "warning"),
        cwd=elsewhere,
        env=env,
        pass_fds=(sock.fileno(),),
    )
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
            async with asyncio.timeout(STEP_TIMEOUT_S):
                while True:
                    assert process.returncode is None, "tracker serve exited at start-up"
                    with contextlib.suppress(httpx.TransportError):
                        if (await client.get("/livez")).status_code == 200:
                            break
                    await asyncio.sleep(0.05)
            for path in (
                "/track",
                "/dispatch",
                "/t/7KQ2-M9XD-3HVA-PR4T",
                "/static/js/track.js",
                "/static/js/track/main.js",
                "/static/track.css",
                "/static/js/dispatch/main.js",
                "/static/app.css",
                "/static/vendor/leaflet/leaflet.js",
                "/static/vendor/leaflet/images/marker-icon.png",
                "/static/vendor/leaflet.markercluster/leaflet.markercluster.js",
                "/docs",
                "/static/vendor/swagger-ui/swagger-ui-bundle.js",
                "/driver",
                "/driver-sw.js",
                "/driver.webmanifest",
                "/static/js/courier/main.js",
                "/static/vendor/signature_pad/signature_pad.js",
                "/openapi.json",
                "/livez",
            ):
                assert (await client.get(path)).status_code == 200, path
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), STEP_TIMEOUT_S)
        sock.close()
