"""The geo core stays pure: no asyncio, database, web framework or server imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

GEO = Path(__file__).resolve().parent.parent / "geo"
FORBIDDEN = {
    "asyncio",
    "asyncpg",
    "starlette",
    "uvicorn",
    "websockets",
    "server",
    "sqlalchemy",
    "redis",
    "socket",
}


@pytest.mark.parametrize("path", sorted(GEO.glob("**/*.py")), ids=lambda p: p.name)
def test_geo_module_imports_no_io(path: Path) -> None:
    tree = ast.parse(path.read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & FORBIDDEN, f"{path.name} imports {sorted(imported & FORBIDDEN)}"


def test_there_are_geo_modules_to_check() -> None:
    assert len(list(GEO.glob("**/*.py"))) >= 3


SERVER = GEO.parent / "server"
# Decoders of JSON that is not a client's: the database, other server processes, the
# benchmark's own client. Everything else decodes through server/wire/jsonin.py.
TRUSTED_JSON = {"wire/jsonin.py", "store/codecs.py", "live/cluster.py", "bench/client.py",
                "bench/run.py", "bench/worker.py", "bench/churn.py"}  # fmt: skip


def _is_msgspec_json(node: ast.expr, name: str) -> bool:
    """`msgspec.json.<name>`."""
    return (
        isinstance(node, ast.Attribute)
        and node.attr == name
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "json"
        and isinstance(node.value.value, ast.Name)
        and node.value.value.id == "msgspec"
    )


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(SERVER.glob("**/*.py")) if str(p.relative_to(SERVER)) not in TRUSTED_JSON],
    ids=lambda p: str(p.relative_to(SERVER)),
)
def test_client_json_is_decoded_through_the_depth_guard(path: Path) -> None:
    tree = ast.parse(path.read_text())
    guarded: set[int] = set()  # msgspec decoders handed straight to jsonin.Decoder
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "jsonin.Decoder":
            guarded.update(id(arg) for arg in node.args)
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            assert not _is_msgspec_json(node.func, "decode"), (
                f"{path.name}:{node.lineno}: msgspec.json.decode on client input; "
                "use server.wire.jsonin.decode (it checks nesting first)"
            )
            assert not _is_msgspec_json(node.func, "Decoder") or id(node) in guarded, (
                f"{path.name}:{node.lineno}: wrap it: jsonin.Decoder(msgspec.json.Decoder(…))"
            )
