"""The rule registry: every module of ``migrate/rewrite/rules/``, its hooks, in one order.

Rule modules are found by listing the ``rules`` package, so adding a rule means
adding its module (with its ``SPEC`` and its ``on_<kind>`` functions), its test
file and, where it has any, its catalog and table rows; nothing here or in the
applier changes. This is the only module of the core that imports rule modules.

Order: rules run in the order of their smallest id (imports, backend, layers,
training, saving: ``KM1xx`` before ``KM2xx`` ...), except where a rule declares
``before``/``after`` another one; those constraints win. Two rewriting hooks of
one kind that may match the same node must be ordered by such a declaration
(directly or through other rules): :func:`conflicts` lists those that are not,
and a test keeps the list empty.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from types import ModuleType
from typing import Any

from migrate.rewrite import rules as _rules_package
from migrate.rewrite.hooks import ATTRIBUTE, CALL, KINDS, REFERENCE, Hook, RuleSpec

HookFn = Callable[..., Any]


@dataclass(frozen=True)
class Rule:
    """A registered rule module."""

    name: str  # the module's name inside ``rules/`` (what ``Order.rule`` refers to)
    module: str  # its dotted path
    spec: RuleSpec
    functions: dict[str, HookFn]  # kind -> on_<kind>


@dataclass(frozen=True)
class Entry:
    """One hook of one rule, ready to be called: the unit of dispatch.

    ``check`` and ``chain`` repeat the hook's flags: the applier reads them for every
    node a hook matches, one attribute away instead of two.
    """

    rule: str
    hook: Hook
    fn: HookFn
    check: bool = False
    chain: bool = False


def _discover() -> list[ModuleType]:
    names = sorted(m.name for m in pkgutil.iter_modules(_rules_package.__path__) if not m.name.startswith("_"))
    return [importlib.import_module(f"{_rules_package.__name__}.{n}") for n in names]


def _load(module: ModuleType) -> Rule:
    name = module.__name__.rsplit(".", 1)[1]
    spec = getattr(module, "SPEC", None)
    if not isinstance(spec, RuleSpec):
        raise TypeError(f"{module.__name__}: a rule module must declare SPEC = RuleSpec(...)")
    functions: dict[str, HookFn] = {}
    for hook in spec.hooks:
        if hook.kind not in KINDS:
            raise ValueError(f"{module.__name__}: unknown hook kind {hook.kind!r}")
        fn = getattr(module, f"on_{hook.kind}", None)
        if fn is None:
            raise TypeError(f"{module.__name__}: declares a {hook.kind} hook but has no on_{hook.kind}()")
        functions[hook.kind] = fn
    return Rule(name, module.__name__, spec, functions)


def _order(found: list[Rule]) -> tuple[Rule, ...]:
    """Topological order of the declared constraints; ties by smallest rule id, then name."""
    by_name = {r.name: r for r in found}
    succ: dict[str, set[str]] = {r.name: set() for r in found}
    for r in found:
        for o in r.spec.before:
            _known(r, o.rule, by_name)
            succ[r.name].add(o.rule)
        for o in r.spec.after:
            _known(r, o.rule, by_name)
            succ[o.rule].add(r.name)
    indegree = {n: 0 for n in succ}
    for targets in succ.values():
        for t in targets:
            indegree[t] += 1

    def key(name: str) -> tuple[str, str]:
        return (min(by_name[name].spec.ids, default="~"), name)

    ready = sorted((n for n, d in indegree.items() if d == 0), key=key)
    out: list[Rule] = []
    while ready:
        n = ready.pop(0)
        out.append(by_name[n])
        for t in succ[n]:
            indegree[t] -= 1
            if indegree[t] == 0:
                ready.append(t)
        ready.sort(key=key)
    if len(out) != len(found):
        stuck = sorted(n for n, d in indegree.items() if d > 0)
        raise ValueError(f"rule order constraints form a cycle among: {', '.join(stuck)}")
    return tuple(out)


def _known(rule: Rule, other: str, by_name: dict[str, Rule]) -> None:
    if other not in by_name:
        raise ValueError(f"{rule.module}: ordered against unknown rule {other!r}")


@cache
def rules() -> tuple[Rule, ...]:
    """Every rule module, loaded, checked and in run order."""
    return _order([_load(m) for m in _discover()])


#: core modules without libcst, whose names a SPEC may use; enough to read a SPEC without the rule's code
_LIGHT = frozenset({"migrate.rewrite.hooks", "migrate.rewrite.tables", "migrate.rewrite.catalog"})


@cache
def declared() -> tuple[Rule, ...]:
    """Every rule module's ``SPEC``, in run order, read without importing the rule modules.

    ``migrate rules`` lists the hooks at start-up, which must not import libcst (every
    rule module does). So each module's source is parsed and only what its ``SPEC``
    is built from is evaluated: its imports from the light core modules (``hooks``,
    ``tables``, ``catalog``), its module-level constants (assignments that need
    anything else are skipped) and the ``SPEC`` assignment itself. ``functions`` is
    empty. A test checks the result against :func:`rules`.
    """
    found = []
    for info in sorted(pkgutil.iter_modules(_rules_package.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        dotted = f"{_rules_package.__name__}.{info.name}"
        path = Path(getattr(info.module_finder, "path", "")) / f"{info.name}.py"
        if not path.is_file():  # no source beside the package (a zip, bytecode only): import the rules
            return rules()
        found.append(Rule(info.name, dotted, _read_spec(dotted, path), {}))
    return _order(found)


def _read_spec(dotted: str, path: Path) -> RuleSpec:
    tree = ast.parse(path.read_text(encoding="utf-8"), str(path))
    namespace: dict[str, Any] = {"__name__": dotted}
    for stmt in tree.body:
        if isinstance(stmt, ast.ImportFrom) and stmt.module in _LIGHT:
            exec(compile(ast.Module([stmt], []), str(path), "exec"), namespace)
        elif isinstance(stmt, (ast.Assign, ast.AnnAssign)):
            targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
            is_spec = any(isinstance(t, ast.Name) and t.id == "SPEC" for t in targets)
            try:
                exec(compile(ast.Module([stmt], []), str(path), "exec"), namespace)
            except Exception:
                if is_spec:
                    raise
    spec = namespace.get("SPEC")
    if not isinstance(spec, RuleSpec):
        raise TypeError(f"{dotted}: a rule module must declare SPEC = RuleSpec(...)")
    return spec


def entries(kind: str) -> tuple[Entry, ...]:
    """The hooks of ``kind``, in run order."""
    return _entries(kind)


@cache
def _entries(kind: str) -> tuple[Entry, ...]:
    return tuple(Entry(r.name, h, r.functions[kind], h.check, h.chain)
                 for r in rules() for h in r.spec.hooks if h.kind == kind)


# ---------------------------------------------------------------------------
# Dispatch tables: which hooks a node sees (cached per name: names repeat a lot)
# ---------------------------------------------------------------------------


def _name_matches(hook: Hook, qualified: str) -> bool:
    return qualified in hook.names or qualified.startswith(hook.prefixes)


class Dispatch:
    """Per-kind lookup of the hooks that match a node, built once per process.

    Each answer is cached by the name it was asked for (qualified names, method and
    attribute names repeat all over a code base), so a node costs one dict lookup
    before its hooks run, and nothing when none matches. The ``*_cache`` dicts are
    read directly by the applier on its hot path; a miss goes through the method.
    """

    def __init__(self) -> None:
        self.by_kind = {kind: entries(kind) for kind in KINDS}
        self.call_cache: dict[str, tuple[Entry, ...]] = {}
        self.call_unresolved_cache: dict[str | None, tuple[Entry, ...]] = {}
        self.reference_cache: dict[str, tuple[Entry, ...]] = {}
        self.attribute_cache: dict[str, tuple[Entry, ...]] = {}

    def call(self, qualified: str) -> tuple[Entry, ...]:
        """CALL hooks for a call whose callee resolves to ``qualified``."""
        found = self.call_cache.get(qualified)
        if found is None:
            found = self.call_cache[qualified] = tuple(
                e for e in self.by_kind[CALL] if e.hook.matches_all or _name_matches(e.hook, qualified))
        return found

    def call_unresolved(self, method: str | None) -> tuple[Entry, ...]:
        """CALL hooks for a call whose callee imports do not resolve (``<expr>.<method>(...)``, or
        ``method`` None for another callee)."""
        found = self.call_unresolved_cache.get(method)
        if found is None:
            found = self.call_unresolved_cache[method] = tuple(
                e for e in self.by_kind[CALL]
                if e.hook.matches_all or e.hook.unresolved or (method is not None and method in e.hook.methods))
        return found

    def reference(self, qualified: str) -> tuple[Entry, ...]:
        """REFERENCE hooks for a chain that resolves to ``qualified``."""
        found = self.reference_cache.get(qualified)
        if found is None:
            found = self.reference_cache[qualified] = tuple(
                e for e in self.by_kind[REFERENCE] if e.hook.matches_all or _name_matches(e.hook, qualified))
        return found

    def attribute(self, name: str) -> tuple[Entry, ...]:
        """ATTRIBUTE hooks for ``<expr>.<name>``."""
        found = self.attribute_cache.get(name)
        if found is None:
            found = self.attribute_cache[name] = tuple(
                e for e in self.by_kind[ATTRIBUTE] if e.hook.matches_all or name in e.hook.methods)
        return found

    def every(self, kind: str) -> tuple[Entry, ...]:
        """All hooks of ``kind`` (CLASS, FUNCTION, MODULE, ASSIGN, IMPORT: not matched by name)."""
        return self.by_kind[kind]


@cache
def dispatch() -> Dispatch:
    return Dispatch()


# ---------------------------------------------------------------------------
# Trigger words for the pre-filter
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Words:
    """The union of every rule's trigger words (see ``hooks.Triggers``)."""

    methods: frozenset[str]
    keywords: frozenset[str]
    names: frozenset[str]
    together: tuple[frozenset[str], ...]
    statement_only: frozenset[str]


@cache
def trigger_words() -> Words:
    methods: set[str] = set()
    keywords: set[str] = set()
    names: set[str] = set()
    together: list[frozenset[str]] = []
    statement_only: set[str] = set()
    for r in rules():
        t = r.spec.triggers
        methods |= t.methods
        keywords |= t.keywords
        names |= t.names
        together.extend(t.together)
        statement_only |= t.statement_only
    return Words(frozenset(methods), frozenset(keywords), frozenset(names), tuple(together),
                 frozenset(statement_only))


# ---------------------------------------------------------------------------
# Consistency (tests/migrate/test_registry.py)
# ---------------------------------------------------------------------------


def _overlap(a: Hook, b: Hook) -> bool:
    """Whether two hooks of one kind may match the same node."""
    if a.matches_all or b.matches_all:
        return True
    if a.kind == CALL:  # resolved callees (names/prefixes) and unresolved ones (methods/unresolved) are disjoint
        if (a.unresolved and (b.unresolved or b.methods)) or (b.unresolved and a.methods):
            return True
    if set(a.methods) & set(b.methods):
        return True
    for name in a.names:
        if _name_matches(b, name):
            return True
    for name in b.names:
        if _name_matches(a, name):
            return True
    return any(p.startswith(q) or q.startswith(p) for p in a.prefixes for q in b.prefixes)


def _declared_order() -> set[tuple[str, str]]:
    """Pairs (first, second) that the declarations order, transitively."""
    pairs: set[tuple[str, str]] = set()
    for r in rules():
        pairs |= {(r.name, o.rule) for o in r.spec.before}
        pairs |= {(o.rule, r.name) for o in r.spec.after}
    changed = True
    while changed:
        new = {(a, d) for a, b in pairs for c, d in pairs if b == c} - pairs
        pairs |= new
        changed = bool(new)
    return pairs


def conflicts() -> list[str]:
    """Pairs of rewriting hooks that may match one node with no declared order between their rules."""
    ordered = _declared_order()
    out = []
    for kind in KINDS:
        rewriting = [e for e in entries(kind) if not e.hook.check]
        for i, a in enumerate(rewriting):
            for b in rewriting[i + 1:]:
                if a.rule == b.rule or not _overlap(a.hook, b.hook):
                    continue
                if (a.rule, b.rule) not in ordered and (b.rule, a.rule) not in ordered:
                    out.append(f"{kind}: {a.rule} and {b.rule} may act on the same node; declare their order")
    return out


def signature_problems() -> list[str]:
    """Hook functions whose parameters are not ``(ctx, site)``."""
    out = []
    for r in rules():
        for kind, fn in r.functions.items():
            params = list(inspect.signature(fn).parameters)
            if params != ["ctx", "site"]:
                out.append(f"{r.module}.on_{kind}{tuple(params)}: must take (ctx, site)")
    return out
