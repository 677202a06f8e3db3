"""The layering rules of ARCHITECTURE.md, read from the import graph (every ``import``, at module level or inside a
function): arrows point down, and there is no circle."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "edgeprune"
# Floors, top to bottom; a module may import its own floor or any lower one, never a higher one.
FLOORS = [
    ("entry", ["edgeprune.cli", "edgeprune.__main__"]),
    (
        "commands",
        [
            "edgeprune.scaling",
            "edgeprune.leaks",
            "edgeprune.splits",
            "edgeprune.next_batch",
            "edgeprune.array_api",
            "edgeprune.curation.run",
        ],
    ),
    ("runners", ["edgeprune.curation.runners"]),
    ("stages", ["edgeprune.curation"]),
    (
        "engines",
        [
            "edgeprune.embed",
            "edgeprune.cluster",
            "edgeprune.datasets",
            "edgeprune.report",
            "edgeprune.beam",
            "edgeprune.detect",
            "edgeprune.uncertainty",
            "edgeprune.preannotate",
            "edgeprune.threshold_search",
        ],
    ),
    (
        "shared",
        [
            "edgeprune.errors",
            "edgeprune.atomic",
            "edgeprune.input_guard",
            "edgeprune.progress",
            "edgeprune.quiet",
            "edgeprune.images",
            "edgeprune.uris",
            "edgeprune.configs",
            "edgeprune.vectors",
            "edgeprune.storage",
        ],
    ),
]
# The package itself (``edgeprune/__init__.py``, the Python API) is the entry; matched exactly, since every module's
# name starts with it.
EXACT = {"edgeprune": 0}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1]) if parts[-1] == "__init__" and len(parts) > 1 else ".".join(parts)


def imports_of(path: Path) -> set[str]:
    """The ``edgeprune`` modules ``path`` imports, relative imports resolved."""
    name = module_name(path)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names if alias.name.startswith("edgeprune")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            if not module.startswith("edgeprune"):
                continue
            found.add(module)
            found |= {f"{module}.{alias.name}" for alias in node.names if _is_module(f"{module}.{alias.name}")}
    return found - {name}


def _is_module(dotted: str) -> bool:
    path = PACKAGE.parent.joinpath(*dotted.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


GRAPH = {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


FACADES = {"edgeprune.curation": 1}  # a package's __init__ that re-exports its entry sits on the entry's floor


def floor(module: str) -> int | None:
    """The index of the most specific floor prefix that ``module`` falls under."""
    if module in FACADES:
        return FACADES[module]
    if module in EXACT:
        return EXACT[module]
    best = None
    for index, (_, prefixes) in enumerate(FLOORS):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                if best is None or len(prefix) > best[1]:
                    best = (index, len(prefix))
    return best[0] if best else None


def test_every_module_has_a_floor():
    assert not sorted(m for m in GRAPH if floor(m) is None)


def test_the_graph_was_read():
    assert "edgeprune.curation.runners" in GRAPH["edgeprune.curation.run"]
    assert "edgeprune.curation.runners.local" in GRAPH["edgeprune.curation.runners"]
    assert len(GRAPH) > 80


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_arrows_point_down(module):
    mine = floor(module)
    if mine is None:
        return
    upward = sorted(t for t in GRAPH[module] if floor(t) is not None and floor(t) < mine)
    assert not upward, f"{module} ({FLOORS[mine][0]}) imports a higher floor: {upward}"


def test_no_module_but_the_entry_imports_the_cli():
    offenders = sorted(
        m for m, targets in GRAPH.items() if floor(m) != 0 and any(t.startswith("edgeprune.cli") for t in targets)
    )
    assert not offenders


def test_the_types_module_is_a_leaf():
    assert not {t for t in GRAPH["edgeprune.curation.types"] if t.startswith("edgeprune")}


def test_runners_do_not_import_each_other():
    local = {"edgeprune.curation.runners.local"}
    beam = {"edgeprune.curation.runners.beam", "edgeprune.curation.runners.beam_stages"}
    for module in local:
        assert not GRAPH[module] & beam
    for module in beam:
        assert not GRAPH[module] & local


def find_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan). Importing a package that holds you is how
    Python reaches a sibling (``from . import x``), not an arrow back up, so it is not followed."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    circles: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in graph.get(node, ()):
            if target not in graph or _is_parent(target, node):
                continue
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return circles


def test_the_circle_finder_finds_one():
    graph = {"p.pipeline": {"p.beam.curate"}, "p.beam.curate": {"p.x", "p.pipeline"}, "p.x": set(), "p.a.b": {"p.a"}}
    graph["p.a"] = {"p.a.b"}
    assert find_circles(graph) == [["p.beam.curate", "p.pipeline"]]


def test_no_circle():
    assert not find_circles(GRAPH)


def _is_parent(target: str, node: str) -> bool:
    return node.startswith(target + ".")


def test_commands_reach_runners_only_through_the_curation_package():
    """``leaks``, ``scaling`` and the Python API use the public names of ``edgeprune.curation``; only its entry
    (``run.py``) and the runners package itself pick a runner."""
    for module, targets in GRAPH.items():
        if module.startswith("edgeprune.curation"):
            continue
        assert not [t for t in targets if t.startswith("edgeprune.curation.runners")], module


def _class_members(path: Path, name: str) -> dict[str, list[str] | None]:
    """The methods of class ``name`` in ``path`` (member -> parameter names) and its attributes (member -> None):
    class-level assignments and ``self.x = ...`` in ``__init__``."""
    tree = ast.parse(path.read_text())
    cls = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == name)
    members: dict[str, list[str] | None] = {}
    for node in cls.body:
        if isinstance(node, ast.FunctionDef):
            members[node.name] = [a.arg for a in node.args.args + node.args.kwonlyargs]
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    members[target.id] = None
    init = next((n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"), None)
    for node in ast.walk(init) if init else ():
        if isinstance(node, ast.Assign):
            for target in node.targets:
                on_self = isinstance(target, ast.Attribute) and isinstance(target.value, ast.Name)
                if on_self and target.value.id == "self":
                    members.setdefault(target.attr, None)
    return members


RUNNERS = PACKAGE / "curation" / "runners"


@pytest.mark.parametrize("module, name", [("local.py", "LocalRunner"), ("beam.py", "BeamRunner")])
def test_every_runner_implements_the_runner_protocol(module, name):
    """Each member of ``runners.Runner`` is a method of the runner with the same parameters, or an attribute the
    runner sets (a callable such as ``write`` or ``place_image``)."""
    protocol = _class_members(RUNNERS / "__init__.py", "Runner")
    runner = _class_members(RUNNERS / module, name)
    missing = sorted(m for m in protocol if m not in runner)
    assert not missing, f"{name} lacks {missing}"
    for member, params in protocol.items():
        if params is not None and runner[member] is not None:
            assert runner[member] == params, f"{name}.{member}{tuple(runner[member])} is not Runner's {tuple(params)}"


def test_the_protocol_check_catches_a_missing_member(tmp_path):
    (tmp_path / "r.py").write_text("class R:\n    name = 'r'\n\n    def score(self, dataset):\n        pass\n")
    members = _class_members(tmp_path / "r.py", "R")
    protocol = _class_members(RUNNERS / "__init__.py", "Runner")
    assert members == {"name": None, "score": ["self", "dataset"]}
    assert "finish" in protocol and members["score"] != protocol["score"]


MAX_FUNCTION_LINES = 60


def test_no_function_is_longer_than_a_screen():
    """Every function and method of the package fits in 60 lines (signature and docstring included)."""
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, "\n".join(long)
