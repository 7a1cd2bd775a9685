"""The package's import graph, walked with ``ast``: no circle (lazy imports inside
functions and ``TYPE_CHECKING`` ones count too) and no module importing the package
root back (``from . import __version__`` was one: ``exporter/_version.py`` holds it)."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "exporter"


def _modules() -> dict[str, Path]:
    out = {}
    for f in ROOT.rglob("*.py"):
        parts = list(f.relative_to(ROOT.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = f
    return out


def _targets(mod: str, path: Path, node: ast.AST, mods: dict[str, Path]) -> list[str]:
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    assert isinstance(node, ast.ImportFrom)
    if node.level:
        package = mod if path.name == "__init__.py" else mod.rpartition(".")[0]
        base = package.split(".")[: len(package.split(".")) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    return [f"{target}.{a.name}" if f"{target}.{a.name}" in mods else target
            for a in node.names]


def _ancestors(mod: str) -> set[str]:
    """The packages whose ``__init__`` importing ``mod`` runs first (the root aside: it
    is what every import starts from)."""
    parts = mod.split(".")
    return {".".join(parts[:n]) for n in range(2, len(parts))}


def graph() -> dict[str, set[str]]:
    mods = _modules()
    edges: dict[str, set[str]] = {}
    for mod, path in mods.items():
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                deps |= {t for t in _targets(mod, path, node, mods) if t in mods and t != mod}
        edges[mod] = deps | {a for t in deps for a in _ancestors(t)
                             if a in mods and a not in _ancestors(mod) and a != mod}
    return edges


def circles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def test_no_import_circles() -> None:
    assert circles(graph()) == []


def test_no_module_imports_the_package_root_back() -> None:
    back = sorted(m for m, deps in graph().items() if "exporter" in deps and m != "exporter")
    assert back == []


def test_the_walk_sees_a_circle_through_a_package_init() -> None:
    """Importing exporter.server.page runs exporter/server/__init__.py first, which
    imports the app: a module the app imports must not import any of exporter.server."""
    edges = graph()
    edges["exporter.read.side"] = edges["exporter.read.side"] | {"exporter.server.page",
                                                                 "exporter.server"}
    assert any("exporter.read.side" in c and "exporter.server" in c for c in circles(edges))
    assert "exporter.server" not in graph()["exporter.read.side"]


def test_the_walk_sees_a_circle_when_there_is_one() -> None:
    edges = graph()
    edges["exporter.catalog"] = edges["exporter.catalog"] | {"exporter.record.recorder"}
    assert any("exporter.catalog" in c and "exporter.record.recorder" in c for c in circles(edges))
