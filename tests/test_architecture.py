"""The import graph of recovery/ and platforms/: no import cycles, and platforms never imports
recovery (docs/architecture.md). Imports inside functions count: they still tie two modules
together, they only hide it from the reader. Imports under `if TYPE_CHECKING:` do not: they
never run."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("recovery", "platforms")


def _modules() -> dict[str, tuple[Path, bool]]:
    """Module name -> (file, is a package), migrations left out (Django orders those)."""
    found = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (path, is_package)
    return found


def _type_only(tree: ast.AST) -> set[int]:
    nodes: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            nodes |= {id(each) for child in node.body for each in ast.walk(child)}
    return nodes


def _imported(node: ast.AST, base: str) -> list[str]:
    """The names an import statement reaches: "from a import b" may name module a.b."""
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not isinstance(node, ast.ImportFrom):
        return []
    source = node.module or ""
    if node.level:
        anchor = base
        for _ in range(node.level - 1):
            anchor = anchor.rpartition(".")[0]
        source = f"{anchor}.{source}" if source else anchor
    return [f"{source}.{alias.name}" for alias in node.names]


def import_graph() -> dict[str, set[str]]:
    modules = _modules()

    def owner(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (path, is_package) in modules.items():
        tree = ast.parse(path.read_text(), str(path))
        base = name if is_package else name.rpartition(".")[0]
        skip = _type_only(tree)
        for node in ast.walk(tree):
            if id(node) in skip:
                continue
            for target in _imported(node, base):
                found = owner(target)
                if found and found != name:
                    graph[name].add(found)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iteratively)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edges = work[-1]
            step = next(edges, None)
            if step is not None:
                if step not in index:
                    index[step] = low[step] = len(index)
                    stack.append(step)
                    on_stack.add(step)
                    work.append((step, iter(sorted(graph[step]))))
                elif step in on_stack:
                    low[node] = min(low[node], index[step])
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
                    found.append(sorted(component))
    return found


def test_no_module_of_the_application_imports_itself_through_others():
    assert cycles(import_graph()) == []


def test_platforms_never_imports_recovery():
    graph = import_graph()
    uphill = sorted(
        f"{name} -> {target}"
        for name, targets in graph.items()
        if name.startswith("platforms")
        for target in targets
        if target.startswith("recovery")
    )
    assert uphill == []


def test_the_cycle_finder_finds_a_cycle_through_three_modules():
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [["a", "b", "c"]]
