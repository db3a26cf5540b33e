"""The layout in docs/architecture.md stays true: layers import only downwards, no module imports
itself back through others (function-level imports included), runtimes stand apart, and modules
and functions stay small enough to read.

Imports are read with ``ast`` from the source, so a lazy import inside a function counts too.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
import tomllib

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "clipsearch"

#: The layers, lowest first (the same table as docs/architecture.md). A module may import its own
#: layer and those below it, never one above.
LAYERS = ["base", "models", "store", "ingest", "query", "front", "api", "server", "mcp", "cli"]
#: The front ends: they stand on the front door (``front/``) and the base, nothing below.
FRONT_ENDS = {"server", "mcp", "cli"}
BASE_MODULES = {"clipsearch", "clipsearch.errors", "clipsearch.config", "clipsearch.atomic", "clipsearch._version"}
RUNTIMES = {"clipsearch.models.torch_runtime", "clipsearch.models.onnx_runtime", "clipsearch.models.openvino_runtime"}
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer(module: str) -> str:
    if module in BASE_MODULES:
        return "base"
    if module == "clipsearch.api":
        return "api"
    return module.split(".")[1]


def _resolve(module: str, node: ast.ImportFrom) -> list[str]:
    """The package modules an ``import from`` statement in ``module`` loads."""
    if node.level:
        here = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
        base = here[: len(here) - node.level + 1]
        target = ".".join(base + ([node.module] if node.module else []))
    else:
        target = node.module or ""
    if not target.startswith("clipsearch"):
        return []
    out = []
    for alias in node.names:  # `from pkg import submodule` loads the submodule
        sub = f"{target}.{alias.name}"
        out.append(sub if sub in MODULES else target)
    return out


def imports_of(module: str) -> set[str]:
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            found.update(_resolve(module, node))
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("clipsearch"))
    return {m for m in found if m in MODULES and m != module}


GRAPH = {m: imports_of(m) for m in MODULES}


def test_every_module_has_a_known_layer():
    assert {layer(m) for m in MODULES} <= set(LAYERS)
    assert {layer(m) for m in MODULES} == set(LAYERS), "a layer of docs/architecture.md has no module"


def test_no_module_imports_a_layer_above_its_own():
    upward = [
        f"{m} ({layer(m)}) imports {dep} ({layer(dep)})"
        for m, deps in GRAPH.items()
        for dep in sorted(deps)
        if LAYERS.index(layer(dep)) > LAYERS.index(layer(m))
    ]
    assert not upward, "\n".join(upward)


def test_front_ends_stand_on_the_front_door_only():
    """cli/, server/ and mcp/ parse, call :class:`Index` (``front/``), and print: nothing of models,
    store, ingest, query or the api shortcuts, so every front end sees the same library."""
    below = [
        f"{m} imports {dep}"
        for m, deps in GRAPH.items()
        if layer(m) in FRONT_ENDS
        for dep in sorted(deps)
        if layer(dep) not in FRONT_ENDS | {"base", "front"}
    ]
    assert not below, "\n".join(below)


def test_there_is_no_import_cycle():
    """Depth-first search for a back edge; the cycle found is named in the failure."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for dep in sorted(GRAPH[m]):
            if state.get(dep) == 1:
                return [*stack[stack.index(dep) :], dep]
            if dep not in state and (cycle := visit(dep)):
                return cycle
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(GRAPH):
        if m not in state:
            cycle = visit(m)
            assert cycle is None, " -> ".join(cycle)


def test_the_runtimes_do_not_import_each_other_and_one_registry_knows_them_all():
    for runtime in RUNTIMES:
        assert not GRAPH[runtime] & RUNTIMES, f"{runtime} imports {GRAPH[runtime] & RUNTIMES}"
    assert GRAPH["clipsearch.models.runtimes"] >= RUNTIMES
    knowing = {m for m, deps in GRAPH.items() if deps >= RUNTIMES}
    assert knowing == {"clipsearch.models.runtimes"}


def test_the_checker_sees_function_level_and_relative_imports():
    """The rules above are only as good as the reading of imports: check it on known edges."""
    assert "clipsearch.models.torch_runtime" in GRAPH["clipsearch.models.runtimes"]  # inside a function
    assert "clipsearch.front.index" in GRAPH["clipsearch.server.routes"]  # `from ..front import index as front`
    assert "clipsearch.store.schema" in GRAPH["clipsearch.store.catalog"]


@pytest.mark.parametrize("module", sorted(MODULES))
def test_modules_and_functions_stay_small(module):
    source = MODULES[module].read_text(encoding="utf-8")
    assert len(source.splitlines()) <= MAX_MODULE_LINES, f"{module}: split it by concept"
    long = [
        f"{node.name} ({node.end_lineno - node.lineno + 1} lines)"
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and node.end_lineno - node.lineno + 1 > MAX_FUNCTION_LINES
    ]
    assert not long, f"{module}: {', '.join(long)}"


def test_every_package_folder_ships_in_the_wheel():
    """pyproject lists packages by hand (so the wheel holds exactly them): a new folder must be listed."""
    listed = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    folders = {
        ".".join(p.relative_to(ROOT).parts)
        for p in [PACKAGE, *PACKAGE.rglob("*")]
        if p.is_dir() and p.name != "__pycache__" and any(f.is_file() for f in p.iterdir())
    }
    assert folders <= listed, folders - listed


def test_the_architecture_document_names_every_layer_and_subpackage():
    doc = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    for name in ["models/", "store/", "ingest/", "query/", "cli/", "server/", "api.py", "errors.py", "config.py"]:
        assert name in doc, name
    unnamed = [m for m in MODULES if m.count(".") >= 2 and f"`{m.rsplit('.', 1)[1]}`" not in doc]
    assert unnamed == [], f"docs/architecture.md does not say what these modules are: {unnamed}"


def test_tools_import_downwards_only_and_edit_no_path():
    """tools/ are scripts sharing ``benchlib``: no import circle among them, no ``sys.path`` edits,
    nothing from tests/ (what both need lives in tools/ and tests import it from there)."""
    tools = ROOT / "tools"
    names = {p.stem for p in tools.glob("*.py")}
    graph: dict[str, set[str]] = {}
    for path in sorted(tools.glob("*.py")):
        source = path.read_text(encoding="utf-8")
        assert "sys.path" not in source, f"{path.name} edits sys.path"
        found: set[str] = set()
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Import):
                found |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level and node.module:
                found.add(node.module.split(".")[0])
        assert "tests" not in found and not found & {p.stem for p in (ROOT / "tests").glob("*.py")}, path.name
        graph[path.stem] = found & names - {path.stem}

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        return any(n == goal or (n not in seen and reaches(n, goal, seen | {n})) for n in graph[start])

    circles = [name for name in graph if reaches(name, name, {name})]
    assert not circles, f"tools importing themselves back: {circles}"
