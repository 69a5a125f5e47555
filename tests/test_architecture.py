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
