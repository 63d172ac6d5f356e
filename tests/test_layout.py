"""The package layout: no import cycle anywhere in ``src/``, and a top level that holds only the
library (front ends, training and evaluation live in their own packages)."""

from __future__ import annotations

import ast
from pathlib import Path

import promptcrop

PACKAGE_DIR = Path(promptcrop.__file__).parent
#: The library core: the modules every front end builds on (docs/ARCHITECTURE.md).
LIBRARY_MODULES = {
    "__init__", "arrays", "boxes", "candidates", "composer", "config", "deadline", "errors", "extras", "images",
    "metrics", "postprocess", "predictor", "queries", "request", "results", "testing", "validation", "options",
    "defaults",
}
#: The sub-packages: model and its backends, the saliency map, shared data, and the front ends.
PACKAGES = {"backends", "batch", "cli", "data", "distributed", "eval", "model", "reframe", "saliency",
            "serve", "train"}


def _module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE_DIR.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE_DIR.rglob("*.py")}


def _in_type_checking(node: ast.AST, parents: dict[ast.AST, ast.AST]) -> bool:
    while node in parents:
        node = parents[node]
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            return True
    return False


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Every promptcrop module ``name`` imports, at module level or inside a function (lazy imports
    count: a cycle broken by importing late is still a cycle), but not under ``TYPE_CHECKING``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if _in_type_checking(node, parents):
            continue
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                base = ".".join(package.split(".")[: len(package.split(".")) - node.level + 1] + ([base] if base else []))
            for alias in node.names:
                full = f"{base}.{alias.name}"
                found.add(full if full in known else base)
    return {m for m in found if m in known and m != name}


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    graph = {name: _imports(name, path, known) for name, path in modules.items()}
    # A package's __init__ runs before any of its modules: importing "a.b" imports "a" first,
    # but "a"'s own imports of its submodules are not a dependency of those submodules.
    return graph


def _cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (found := visit(start)):
            return found
    return None


def test_the_import_walk_sees_lazy_and_relative_imports(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("def f():\n    from pkg import b\n")
    (pkg / "b.py").write_text("from . import a\n")
    known = {"pkg", "pkg.a", "pkg.b"}
    assert _imports("pkg.a", pkg / "a.py", known) == {"pkg.b"}
    assert _imports("pkg.b", pkg / "b.py", known) == {"pkg.a"}
    assert _cycle({"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}) == ["pkg.a", "pkg.b", "pkg.a"]


def test_no_import_cycle_in_the_package():
    cycle = _cycle(_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_the_top_level_holds_only_library_modules_and_the_known_packages():
    top_modules = {p.stem for p in PACKAGE_DIR.glob("*.py")}
    top_packages = {p.name for p in PACKAGE_DIR.iterdir() if (p / "__init__.py").is_file()}
    assert top_modules <= LIBRARY_MODULES, f"front-end or stray modules at the top level: {top_modules - LIBRARY_MODULES}"
    assert top_packages <= PACKAGES, f"unexpected packages: {top_packages - PACKAGES}"


def test_the_library_core_imports_no_front_end():
    graph = _graph()
    front_ends = ("promptcrop.cli", "promptcrop.batch", "promptcrop.serve", "promptcrop.distributed",
                  "promptcrop.reframe", "promptcrop.train", "promptcrop.eval")
    for name in LIBRARY_MODULES - {"__init__"}:
        module = f"promptcrop.{name}"
        if module in graph:
            bad = {m for m in graph[module] if m.startswith(front_ends)}
            assert not bad, f"{module} imports front ends {bad}"


def test_the_architecture_map_names_every_top_level_module_and_package():
    doc = (Path(__file__).resolve().parents[1] / "docs" / "ARCHITECTURE.md").read_text(encoding="utf-8")
    folder_map = doc.split("## Folder map", 1)[1].split("```")[1]
    names = {p.name for p in PACKAGE_DIR.glob("*.py") if p.stem != "__init__"}
    names |= {f"{p.name}/" for p in PACKAGE_DIR.iterdir() if (p / "__init__.py").is_file()}
    missing = sorted(n for n in names if n not in folder_map)
    assert not missing, f"docs/ARCHITECTURE.md's folder map does not name {missing}"
