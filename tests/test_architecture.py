"""The package's shape, read from its source: imports run one way, modules and functions stay small.

The layers are the numbered rows of docs/explanation/architecture.md; a module may import only
modules of its own layer or of a layer below, never in a loop, and only at module top (an
import inside a function is how a loop is usually hidden). Imports of optional extras
(numba, matplotlib, hypothesis, …) inside functions are not symgrad's and are allowed.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "symgrad"
ARCHITECTURE = ROOT / "docs" / "explanation" / "architecture.md"

#: Modules above every layer: the public surface and the entry points, which import everything.
ENTRY_POINTS = {"symgrad", "symgrad.__main__", "symgrad.cli"}

#: Size limits from issue 17, with the modules and functions that the architecture page says are
#: clearer whole (none today).
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _target(module: str, path: Path, node: ast.ImportFrom) -> list[str]:
    """The symgrad modules one ``from … import …`` names (``from . import x`` may name submodules)."""
    if node.level == 0:
        base = node.module or ""
        if not base.startswith("symgrad"):
            return []
    else:
        package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
        package = package[: len(package) - (node.level - 1)]
        base = ".".join(package + ([node.module] if node.module else []))
    known = _modules()
    names = [f"{base}.{alias.name}" for alias in node.names]
    submodules = [name for name in names if name in known]
    return submodules or [base]


def _imports(module: str, path: Path) -> tuple[set[str], list[str]]:
    """(modules imported at top level, descriptions of imports hidden in functions or TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    top: set[str] = set()
    hidden: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.ImportFrom):
            top.update(_target(module, path, node))
        elif isinstance(node, ast.Import):
            top.update(alias.name for alias in node.names if alias.name.startswith("symgrad"))
        elif isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            hidden.append(f"{module}:{node.lineno} imports under TYPE_CHECKING")
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for inner in ast.walk(node):
                symgrad_import = (isinstance(inner, ast.ImportFrom) and (inner.level or (inner.module or "").startswith("symgrad"))) \
                    or (isinstance(inner, ast.Import) and any(a.name.startswith("symgrad") for a in inner.names))
                if symgrad_import:
                    hidden.append(f"{module}:{inner.lineno} imports inside {node.name}()")
    return top, hidden


def _layers() -> dict[str, int]:
    """Module → layer number, from the rows ``| N | name | `a.py`, `render/b.py` | … |`` of the page."""
    placed: dict[str, int] = {}
    for line in ARCHITECTURE.read_text(encoding="utf-8").splitlines():
        row = re.match(r"\|\s*(\d+)\s*\|[^|]*\|([^|]*)\|", line)
        if not row:
            continue
        for name in re.findall(r"`([\w/]+)\.py`", row.group(2)):
            module = "symgrad." + name.replace("/", ".")
            assert module not in placed, f"architecture.md places {name}.py in two layers"
            placed[module] = int(row.group(1))
    return placed


GRAPH = {module: _imports(module, path) for module, path in _modules().items()}


def test_every_module_has_a_layer():
    layers = _layers()
    unplaced = sorted(m for m in GRAPH if m not in layers and m not in ENTRY_POINTS and not m.endswith("__init__")
                      and m not in {"symgrad.render", "symgrad.examples"})
    assert not unplaced, f"docs/explanation/architecture.md places no layer for {unplaced}"
    stale = sorted(m for m in layers if m not in GRAPH)
    assert not stale, f"docs/explanation/architecture.md names modules that do not exist: {stale}"


def test_no_import_is_hidden_inside_a_function_or_type_checking():
    hidden = [line for module, (_, lines) in GRAPH.items() for line in lines]
    assert not hidden, "\n".join(hidden)


def test_imports_run_down_the_layers():
    layers = _layers()
    upward = []
    for module, (imported, _) in GRAPH.items():
        if module in ENTRY_POINTS or module not in layers:
            continue
        for target in sorted(imported):
            if target in ENTRY_POINTS:
                upward.append(f"{module} imports the package surface {target}")
            elif target in layers and layers[target] > layers[module]:
                upward.append(f"{module} (layer {layers[module]}) imports {target} (layer {layers[target]})")
    assert not upward, "\n".join(upward)


def test_no_import_loops():
    edges = {m: {t for t in imported if t in GRAPH and t != m and t not in ENTRY_POINTS}
             for m, (imported, _) in GRAPH.items() if m not in ENTRY_POINTS}
    state: dict[str, int] = {}
    loops: list[str] = []

    def visit(module: str, trail: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges.get(module, ())):
            if state.get(target) == 1:
                loops.append(" → ".join(trail[trail.index(target):] + [target]))
            elif target not in state:
                visit(target, trail + [target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert not loops, "import loops:\n" + "\n".join(loops)


def test_the_graph_reader_sees_a_loop_and_a_hidden_import(tmp_path):
    """The checks above would pass vacuously if the reader saw no imports: it reads known edges."""
    imported, _ = GRAPH["symgrad.chain"]
    assert "symgrad.graph" in imported and "symgrad.functions" in imported
    fake = tmp_path / "symgrad" / "fake.py"
    fake.parent.mkdir()
    fake.write_text("def f():\n    from .graph import Network\n    return Network\n")
    _, hidden = _imports("symgrad.fake", fake)
    assert hidden == ["symgrad.fake:2 imports inside f()"]


@pytest.mark.parametrize("module", sorted(GRAPH), ids=str)
def test_modules_and_functions_stay_small(module):
    path = _modules()[module]
    source = path.read_text(encoding="utf-8")
    assert source.count("\n") <= MAX_MODULE_LINES, f"{path.name} has {source.count(chr(10))} lines"
    long = [f"{node.name} ({node.end_lineno - node.lineno + 1} lines)" for node in ast.walk(ast.parse(source))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES]
    assert not long, f"{path.name}: functions over {MAX_FUNCTION_LINES} lines: {long}"
