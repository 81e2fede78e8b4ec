"""The import graph of ``migrate`` has no cycles, and ``migrate.rewrite`` keeps its layers.

Read statically from the sources (``ast``), function-level imports included: a
lazy import still ties two modules together. Layers of the codemod, each importing
only from those below it:

    cli -> engine (and notebook, workers, ...) -> transform -> registry -> rules -> core

``core`` is everything in ``migrate/rewrite`` that is not named above (context,
names, hooks, catalog, tables, templating, ...). The pre-filter and the position
finder belong with ``transform``: they use the registry's trigger words and the
applier's statement map.
"""

from __future__ import annotations

import ast
from pathlib import Path

import migrate

ROOT = Path(migrate.__file__).resolve().parent


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")
                    anchor = anchor[: len(anchor) - node.level + 1]
                    base = ".".join([*anchor, base] if base else anchor)
                # `from pkg import mod` imports the module pkg.mod when there is one
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    # importing a package runs its __init__ only; a submodule does not depend on its parent
                    graph[name].add(target)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    out: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_no_import_cycles_in_migrate_rewrite() -> None:
    cycles = [c for c in _cycles(_graph()) if any(m.startswith("migrate.rewrite") for m in c)]
    assert cycles == []


def test_no_import_cycles_in_migrate() -> None:
    assert _cycles(_graph()) == []


_RULES = "migrate.rewrite.rules"
_ABOVE_CORE = {"migrate.rewrite.registry", "migrate.rewrite.transform", "migrate.rewrite.prefilter",
               "migrate.rewrite.positions", "migrate.rewrite.engine", "migrate.rewrite.notebook",
               "migrate.rewrite.workers"}


def _layer(name: str) -> int:
    """0 core, 1 rules, 2 registry, 3 transform (with prefilter, positions), 4 engine and above."""
    if name.startswith(_RULES):
        return 1
    if name == "migrate.rewrite.registry":
        return 2
    if name in ("migrate.rewrite.transform", "migrate.rewrite.prefilter", "migrate.rewrite.positions"):
        return 3
    if name.startswith("migrate.rewrite.") and name not in _ABOVE_CORE:
        return 0
    return 4


def test_rewrite_layers_import_downwards_only() -> None:
    """cli -> engine -> transform -> registry -> rules -> core; only the registry imports rule modules."""
    graph = _graph()
    wrong = []
    for name, targets in graph.items():
        if not name.startswith("migrate.rewrite"):
            continue
        for target in targets:
            if not target.startswith("migrate.rewrite.") or target == _RULES:
                continue
            if _layer(target) > _layer(name) or (_layer(target) == 1 and _layer(name) not in (1, 2)):
                wrong.append(f"{name} -> {target}")
    assert wrong == []


def test_rules_do_not_import_each_other() -> None:
    """What rules share lives in the core (symbols, index, tables); the one exception is documented:
    the namespace rule asks KM308 what ``from keras.activations import hard_sigmoid`` becomes, since
    one ``from`` import may hold that name among others that only move."""
    graph = _graph()
    between = {(a, b) for a, targets in graph.items() if a.startswith(_RULES + ".")
               for b in targets if b.startswith(_RULES + ".")}
    assert between == {(f"{_RULES}.imports", f"{_RULES}.hard_sigmoid")}
