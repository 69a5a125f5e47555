"""The shape of the code, kept by tests: geo/ stays pure; server/ is layered with imports
pointing down and no cycles; SQL only in server/store/; client JSON through the depth
guard; no module over 400 lines."""

from __future__ import annotations

import ast
import re
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


# The layers of server/, top to bottom: an import only points down (or stays inside its own
# layer). The composition root (app.py, cli.py, serve.py) and the tools (bench/, sim/,
# evaluation) sit above them all; geo/ is below everything and anyone may use it.
LAYERS = ("edges", "usecases", "live", "transport", "wire", "store", "domain", "base")
ROOT = "root"


def layer_of(module: str) -> str:
    """`server.live.etas` -> "live"; `server.app` -> "root"; `geo.route` -> "geo"."""
    parts = module.split(".")
    if parts[0] == "geo":
        return "geo"
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else ROOT


def rank(layer: str) -> int:
    return -1 if layer == ROOT else len(LAYERS) if layer == "geo" else LAYERS.index(layer)


def module_name(path: Path, top: Path) -> str:
    parts = path.relative_to(top.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(source: str, module: str, is_package: bool) -> set[str]:
    """Every server/geo module or package `source` imports, TYPE_CHECKING blocks included
    (a cycle only a type checker sees is still a cycle in the design)."""
    found: set[str] = set()
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against the importing package
                anchor = package.split(".")
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {m for m in found if m.split(".")[0] in {"server", "geo"}}


def server_modules() -> dict[str, set[str]]:
    """Module name -> the server/geo modules and packages it imports (names that are not
    modules, like `server.store.Conn`, are dropped)."""
    sources = {
        module_name(p, SERVER): p
        for p in sorted(SERVER.glob("**/*.py"))
        if "migrations" not in p.parts
    }
    known = set(sources) | {module_name(p, GEO) for p in GEO.glob("**/*.py")}
    return {
        name: {m for m in imports_of(p.read_text(), name, p.name == "__init__.py") if m in known}
        for name, p in sources.items()
    }


def upward_imports(graph: dict[str, set[str]]) -> list[str]:
    return sorted(
        f"{src} ({layer_of(src)}) imports {dst} ({layer_of(dst)})"
        for src, targets in graph.items()
        for dst in targets
        if rank(layer_of(dst)) < rank(layer_of(src))
    )


def package_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Cycles between packages, found by depth-first search. A module counts as the package
    it is in; a package using its parent's modules (edges/rest/ -> edges/guards.py) is not an
    edge, so a parent and its sub-packages are one family."""

    def package_of(module: str) -> str:
        is_package = any(other.startswith(module + ".") for other in graph)
        return module if is_package else module.rpartition(".")[0]

    edges: dict[str, set[str]] = {}
    for src, targets in graph.items():
        src_pkg = package_of(src)
        for dst in targets:
            dst_pkg = package_of(dst)
            if dst_pkg not in (src_pkg, "server", "geo") and not src_pkg.startswith(dst_pkg + "."):
                edges.setdefault(src_pkg, set()).add(dst_pkg)
    cycles: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(edges.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*path[path.index(nxt) :], nxt])
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(edges):
        if node not in state:
            visit(node)
    return cycles


def test_imports_point_down_the_layers() -> None:
    assert upward_imports(server_modules()) == []


def test_no_import_cycles_between_packages() -> None:
    assert package_cycles(server_modules()) == []


def test_the_checks_catch_an_upward_import_and_a_cycle() -> None:
    """The two checks above, shown a made-up tree that breaks each rule once."""
    graph = {
        "server.store": set(),
        "server.store.orders": {"server.live.runs"},  # store knows no live state
        "server.live": set(),
        "server.live.runs": {"server.store.orders"},
        "server.edges": set(),
        "server.edges.rest": set(),
        "server.edges.rest.a": {"server.edges.sockets.b"},
        "server.edges.sockets": set(),
        "server.edges.sockets.b": {"server.edges.rest.a"},
    }
    assert upward_imports(graph) == ["server.store.orders (store) imports server.live.runs (live)"]
    assert sorted(map(tuple, package_cycles(graph))) == [
        ("server.edges.rest", "server.edges.sockets", "server.edges.rest"),
        ("server.live", "server.store", "server.live"),
    ]


def test_every_server_module_has_a_layer_or_is_the_root() -> None:
    """A new top-level module must be placed on purpose: in a layer, or named here."""
    top_level = {
        name for name in server_modules() if layer_of(name) == ROOT and name.count(".") == 1
    }
    assert top_level <= {
        "server.app", "server.cli", "server.serve", "server.bench", "server.sim",
        "server.cli_tools",
        "server.basemap",  # a tool like bench: `tracker tiles build|bench` (tilemaker)
        "server.cli_osm",  # `tracker osm import` (issue 19)
        "server.exit_codes",  # the command's exit codes: one table for cli, cli_tools, --help
    }, top_level  # fmt: skip


# SQL in a string: a statement's opening words, written as the store writes them (keywords
# in capitals, as in every query there). Docstrings are prose and not checked.
SQL = re.compile(
    r"^\s*(SELECT\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|WITH\s+\w+\s+AS\s*\("
    r"|COPY\s+\w|LISTEN\s|UNLISTEN\s|NOTIFY\s|CREATE\s+(TABLE|INDEX|EXTENSION)\s"
    r"|ALTER\s+TABLE\s|DROP\s+TABLE\s|TRUNCATE\s)"
)


def sql_strings(source: str) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    docstrings = {
        id(node.body[0].value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
        and node.body
        and isinstance(node.body[0], ast.Expr)
        and isinstance(node.body[0].value, ast.Constant)
    }
    return [
        (node.lineno, node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and id(node) not in docstrings
        and SQL.match(node.value)
    ]


@pytest.mark.parametrize(
    "path",
    [p for p in sorted(SERVER.glob("**/*.py")) if "store" not in p.relative_to(SERVER).parts],
    ids=lambda p: str(p.relative_to(SERVER)),
)
def test_no_sql_outside_the_store(path: Path) -> None:
    found = sql_strings(path.read_text())
    assert not found, f"{path}: SQL belongs in server/store/: {found}"


def test_the_sql_check_sees_sql_and_not_prose() -> None:
    source = '"""SELECT is prose in a docstring."""\nq = "SELECT 1"\nm = "DELETE"\n'
    source += 'r = "UPDATE orders SET status = $1"\nn = "notify when done"\n'
    assert sql_strings(source) == [(2, "SELECT 1"), (4, "UPDATE orders SET status = $1")]


MAX_MODULE_LINES = 400
PROJECT = SERVER.parent
OWN_CODE = [
    *sorted(SERVER.glob("**/*.py")),
    *sorted(GEO.glob("**/*.py")),
    *sorted((PROJECT / "tests").glob("**/*.py")),
    *sorted((PROJECT / "scripts").glob("**/*.py")),
    *sorted((PROJECT / "web" / "static").glob("**/*.js")),
]


@pytest.mark.parametrize("path", OWN_CODE, ids=lambda p: str(p.relative_to(PROJECT)))
def test_modules_stay_small(path: Path) -> None:
    lines = len(path.read_text().splitlines())
    assert lines <= MAX_MODULE_LINES, f"{path}: {lines} lines; split it by concern"
