"""The package layout shows the design (issue 14, item 5): no module imports a module
that imports it back, directly or through others, counting the imports made inside
functions (a lazy import hides a cycle from Python, not from a reader). Read with
``ast``, without importing anything."""

from __future__ import annotations

import ast
from pathlib import Path

import snavc

PACKAGE = Path(snavc.__file__).parent


def modules() -> dict[str, tuple[Path, bool]]:
    """Module name -> (its file, whether it is a package's ``__init__``)."""
    out = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        is_package = parts[-1] == "__init__"
        out[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return out


def import_graph() -> dict[str, set[str]]:
    """Module -> the snavc modules it imports (``from . import x`` names the module x
    when there is one, else the package)."""
    found = modules()
    graph: dict[str, set[str]] = {}
    for name, (path, is_package) in found.items():
        here = name.split(".") if is_package else name.split(".")[:-1]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom):
                if node.level:
                    base = here[: len(here) - (node.level - 1)]
                    target = ".".join(base + ([node.module] if node.module else []))
                else:
                    target = node.module or ""
                for a in node.names:
                    deps.add(f"{target}.{a.name}" if f"{target}.{a.name}" in found else target)
        graph[name] = {d for d in deps if d in found and d != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    out.append(sorted(component))
    return out


def test_the_graph_is_read():
    graph = import_graph()
    assert "snavc.engine.pipeline" in graph
    assert "snavc.engine.incremental" in graph["snavc.engine.pipeline"]
    assert "snavc.engine.inputs" in graph["snavc.engine.incremental"]


def test_the_cycle_finder_finds_cycles():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycle_in_the_package():
    assert cycles(import_graph()) == []


def test_the_engine_builds_cold_or_warm_through_one_entry():
    """The warm build (incremental) sits below the entry point (pipeline), never above:
    both use the inputs and the state, which use neither."""
    graph = import_graph()
    assert "snavc.engine.pipeline" not in graph["snavc.engine.incremental"]
    for low in ("snavc.engine.inputs", "snavc.engine.state"):
        assert not graph[low] & {"snavc.engine.pipeline", "snavc.engine.incremental"}


def test_the_rules_do_not_reach_up():
    """resolve/ (the rules) uses neither the engine nor review; review uses no bridge."""
    graph = import_graph()
    for name, deps in graph.items():
        if name.startswith("snavc.resolve"):
            assert not {d for d in deps if d.startswith(("snavc.engine", "snavc.review"))}, name
