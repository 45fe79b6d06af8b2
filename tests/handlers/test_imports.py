"""The wiring (`bot/`) registers the listeners (`handlers/`); no chain of imports may lead back.

Read from the source with `ast`, lazy imports inside functions included: a cycle hidden in a
function body still makes the two packages one tangle that can only be loaded in one order.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "core")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imported(tree: ast.AST, module: str, is_package: bool, known: set[str]) -> Iterator[str]:
    """The project modules `module` imports; `from pkg import name` counts pkg.name when that is a module."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            yield source
            for alias in node.names:
                if f"{source}.{alias.name}" in known:
                    yield f"{source}.{alias.name}"


def import_graph() -> dict[str, set[str]]:
    files = {_module_name(path): path for package in PACKAGES for path in (ROOT / package).rglob("*.py")}
    known = set(files)
    graph: dict[str, set[str]] = {}
    for module, path in files.items():
        tree = ast.parse(path.read_text(), filename=str(path))
        graph[module] = {name for name in _imported(tree, module, path.name == "__init__.py", known) if name in known}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
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

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_bot_and_handlers_do_not_import_each_other_in_a_cycle():
    def package(module: str) -> str:
        return module.split(".")[0]

    tangled = [c for c in cycles(import_graph()) if {"bot", "handlers"} <= {package(m) for m in c}]
    assert tangled == []


def test_the_graph_sees_the_imports_it_checks():
    """The check above would pass vacuously if the graph missed the imports it looks for."""
    graph = import_graph()
    assert "handlers.commands" in graph["handlers"] | graph["bot.app"]
    assert "bot.render" in graph["handlers.commands"]
    relative = ast.parse("from . import render\nfrom .notify import Notifier")
    assert set(_imported(relative, "bot.app", False, {"bot.render"})) == {"bot", "bot.render", "bot.notify"}
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
