"""The import graph of the project's apps, read from the source with `ast`: no module imports
one that imports it back (directly or round a longer circle), counting imports inside functions
too (a local import that dodges a circle at load time is still a circle), and imports go one way
between the apps (docs/development.md, "The rules the layout follows")."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
# Lowest first: an app may import the ones before it, never the ones after.
APPS = ("itsm", "incidents", "warroom", "postmortems")
# The project's wiring, which assembles every app (their websocket routes), is above them all.
WIRING = {"itsm.asgi"}


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules_of(root: Path, apps) -> dict[str, Path]:
    """Every module of the apps but their migrations, by dotted name."""
    return {
        module_name(path, root): path
        for app in apps
        for path in sorted((root / app).rglob("*.py"))
        if "migrations" not in path.parts
    }


def _imported_names(node, module: str, is_package: bool) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = node.module or ""
    if node.level:
        package = module.split(".") if is_package else module.split(".")[:-1]
        anchor = package[: len(package) - (node.level - 1)]
        base = ".".join([*anchor, base] if base else anchor)
    # `from a import b` imports the module a.b when there is one, else a name of a.
    return [f"{base}.{alias.name}" for alias in node.names] + [base]


def _known(name: str, modules) -> str | None:
    """The module `name` loads: itself or its nearest enclosing module."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def import_graph(root: Path, apps) -> dict[str, set[str]]:
    """module -> the modules of the same app it imports, anywhere in its body."""
    modules = modules_of(root, apps)
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if not isinstance(node, ast.Import | ast.ImportFrom):
                continue
            for imported in _imported_names(node, name, path.name == "__init__.py"):
                target = _known(imported, modules)
                if target and target != name and target.split(".")[0] == name.split(".")[0]:
                    graph[name].add(target)
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of imports as [a, b, …, a], or None (a depth-first search for a back edge)."""
    done: set[str] = set()
    path: list[str] = []
    on_path: set[str] = set()

    def visit(node: str) -> list[str] | None:
        path.append(node)
        on_path.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt in on_path:
                return [*path[path.index(nxt) :], nxt]
            if nxt not in done and (cycle := visit(nxt)):
                return cycle
        path.pop()
        on_path.discard(node)
        done.add(node)
        return None

    for start in sorted(graph):
        if start not in done and (cycle := visit(start)):
            return cycle
    return None


@pytest.mark.parametrize("app", APPS)
def test_no_module_imports_one_that_imports_it_back(app):
    cycle = find_cycle(import_graph(ROOT, [app]))
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_apps_import_only_the_apps_below_them():
    upward = []
    for low, app in enumerate(APPS):
        for name, path in modules_of(ROOT, [app]).items():
            if name in WIRING:
                continue
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    for imported in _imported_names(node, name, path.name == "__init__.py"):
                        if imported.split(".")[0] in APPS[low + 1 :]:
                            upward.append(f"{name} imports {imported}")
    assert not upward, "\n".join(sorted(set(upward)))


def test_a_circle_is_found_and_named(tmp_path):
    """The check itself: a circle through a function-level relative import is reported."""
    package = tmp_path / "app"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("from app.sub import b\n")
    (package / "sub" / "b.py").write_text("from .c import x\n")
    (package / "sub" / "c.py").write_text("def f():\n    from .. import a\n")
    (package / "d.py").write_text("from app import a\n")
    cycle = find_cycle(import_graph(tmp_path, ["app"]))
    assert cycle == ["app.a", "app.sub.b", "app.sub.c", "app.a"]
