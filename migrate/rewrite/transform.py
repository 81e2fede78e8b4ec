"""The rule pipeline over one parsed module: one walk, the registered hooks at each node.

``RuleApplier`` walks the tree once (libcst's ``visit``, or the fast path's
``traverse.drive``) and, at each node, runs the hooks the rule registry
(``registry.py``) has for that kind of node and that name, in the registry's
order; it knows no rule by name. Around that loop it keeps what every rule
shares: the enclosing classes and functions, the per-function ``ctx.ranks``,
the statement a finding belongs to (and its TODO comment), and how often each
legacy backend alias (``K``) is still referenced. Afterwards the imports the new
code needs are added (``finish.py``) and the findings get their positions
(``positions.py``).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

import libcst as cst

from migrate.rewrite.context import ClassInfo, FileContext, Options, RawFinding
from migrate.rewrite.findings import Finding
from migrate.rewrite.finish import finish_imports  # re-exported too (engine, notebook)
from migrate.rewrite.hooks import ASSIGN, CLASS, FUNCTION, IMPORT, KEEP, MODULE, Site
from migrate.rewrite.index import build_index, is_layer_class, is_schedule_class
from migrate.rewrite.names import canonical, collect_imports, module_aliases
from migrate.rewrite.positions import _PositionState, positions  # noqa: F401 (re-exported)
from migrate.rewrite.prefilter import (
    CALL_KEYWORDS,
    CLASS_WORDS,
    IMPORT_ROOTS,
    METHOD_WORDS,
    Relevance,
    parse_ast,
    statement_spans,
)
from migrate.rewrite.registry import Entry, dispatch
from migrate.rewrite.traverse import drive

# `finish_imports`, `drive` and `_PositionState` are also imported from here by the engine, the notebook
# runner and the fast-path tests: this module is where the pipeline's entry points have always been.

TODO_PREFIX = "# TODO(migrate "
_MISSING = object()


_STATEMENTS: dict[type, bool] = {}


def _is_statement(kind: type) -> bool:
    known = _STATEMENTS.get(kind)
    if known is None:
        known = _STATEMENTS[kind] = issubclass(kind, cst.BaseStatement)
    return known


def apply_hooks(entries: tuple[Entry, ...], ctx: FileContext, site: Site) -> object:
    """Run ``entries`` on ``site`` in order and return the resulting node (``site.updated`` when no
    hook replaced it). See ``hooks.py`` for the protocol."""
    result = site.updated
    settled = False
    for entry in entries:
        if entry.check:
            entry.fn(ctx, site)
        elif not settled:
            out = entry.fn(ctx, site)
            if out is None:
                continue
            if out is KEEP:
                settled = True
            elif entry.chain:
                result = site.updated = out
            else:
                result = out
                settled = True
    return result


def claims(entries: tuple[Entry, ...], ctx: FileContext, site: Site) -> object | None:
    """Like :func:`apply_hooks`, but None when no rewriting hook claimed the node (neither replaced it
    nor answered ``KEEP``): the ATTRIBUTE hooks' answer, after which REFERENCE hooks may still run."""
    claimed = False
    result = site.updated
    settled = False
    for entry in entries:
        if entry.check:
            entry.fn(ctx, site)
        elif not settled:
            out = entry.fn(ctx, site)
            if out is None:
                continue
            claimed = True
            if out is KEEP:
                settled = True
            elif entry.chain:
                result = site.updated = out
            else:
                result = out
                settled = True
    return result if claimed else None


class RuleApplier(cst.CSTTransformer):
    """Walks one module and applies the registered hooks at each node.

    ``relevance`` (the fast path) lets it skip statements in which no rule can
    fire: libcst then neither visits nor rebuilds them. Under :func:`drive`
    (the fast path's walk) tokens, whitespace and literals are not descended
    into either. ``modified`` says whether any hook returned a new node, so an
    untouched file need not be rendered again.
    """

    def __init__(self, ctx: FileContext, relevance: Relevance | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.relevance = relevance
        self.hooks = dispatch()
        # the hooks that are not looked up by name, fetched once
        self._module_hooks = self.hooks.every(MODULE)
        self._class_hooks = self.hooks.every(CLASS)
        self._function_hooks = self.hooks.every(FUNCTION)
        self._assign_hooks = self.hooks.every(ASSIGN)
        self._import_hooks = self.hooks.every(IMPORT)
        self._attribute_cache = self.hooks.attribute_cache
        self._reference_cache = self.hooks.reference_cache
        self._call_cache = self.hooks.call_cache
        self._call_unresolved_cache = self.hooks.call_unresolved_cache
        self.modified = False
        self.skipped: set[int] = set()
        self.stmt_stack: list[cst.CSTNode | None] = []  # enclosing values of ctx.current_stmt
        self.first_statement: cst.CSTNode | None = None
        self.header_comments: frozenset[str] = frozenset()
        # Plain functions by node type, called with self: bound methods stored on self would
        # make a reference cycle that keeps every parsed tree alive until the cyclic GC runs.
        self._visit_fns: dict[type, object] = {}
        self._leave_fns: dict[type, object] = {}
        self.inner: set[int] = set()  # attributes that are the value of a longer chain
        self.call_funcs: set[int] = set()  # callees
        self.class_stack: list[ClassInfo | None] = []
        self.func_depth = 0
        self.rank_stack: list[dict[str, int]] = [ctx.ranks]
        self.in_import = 0
        #: backend aliases (``K``) -> references outside import statements, minus rewritten ones
        self.alias_refs: dict[str, int] = {
            name: 0 for name, q in ctx.imports.items()
            if (canonical(q)[0] == "keras.backend" or canonical(q)[0].startswith("keras.backend."))
            and name not in ctx.exported}  # another module of the tree imports it from this one

    # -- every node: statements get a TODO list, skippable ones are not entered ------
    def on_visit(self, node: cst.CSTNode) -> bool:
        kind = type(node)
        if _is_statement(kind):
            if self.relevance is not None and self.relevance.skippable(node, self.rank_stack[-1]):
                self.skipped.add(id(node))
                return False
            self.ctx.pending_stack.append([])
            self.stmt_stack.append(self.ctx.current_stmt)
            if self.relevance is not None and self.relevance.anchor(node) is not None:
                self.ctx.current_stmt = node
        fn = self._visit_fns.get(kind, _MISSING)
        if fn is _MISSING:
            fn = self._visit_fns[kind] = getattr(type(self), f"visit_{kind.__name__}", None)
        if fn is None:
            return True
        return fn(self, node) is not False  # type: ignore[operator]

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):  # type: ignore[override]
        kind = type(original_node)
        if self.skipped and id(original_node) in self.skipped:
            self.skipped.discard(id(original_node))
            return updated_node
        fn = self._leave_fns.get(kind, _MISSING)
        if fn is _MISSING:
            fn = self._leave_fns[kind] = getattr(type(self), f"leave_{kind.__name__}", None)
        result = updated_node if fn is None else fn(self, original_node, updated_node)  # type: ignore[operator]
        if _is_statement(kind):
            pending = self.ctx.pending_stack.pop()
            if pending and self.ctx.options.todo_comments:
                above = self.header_comments if original_node is self.first_statement else frozenset()
                result = _attach_todos(result, pending, above)
            self.ctx.current_stmt = self.stmt_stack.pop()
        if result is not updated_node:
            self.modified = True
        return result

    # -- scopes --------------------------------------------------------------------
    def visit_Module(self, node: cst.Module) -> None:
        self.first_statement = node.body[0] if node.body else None
        self.header_comments = frozenset(line.comment.value for line in node.header if line.comment is not None)

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        return self._apply(self._module_hooks, Site(original_node, updated_node))  # type: ignore[return-value]

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        # By node, not by name: a nested class may reuse a module-level class's name.
        self.class_stack.append(self.ctx.class_at.get(id(node)))

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        info = self.class_stack.pop()
        top_level = not self.class_stack and self.func_depth == 0  # module level: importable by name
        site = Site(original_node, updated_node, cls=info, top_level=top_level)
        return self._apply(self._class_hooks, site)  # type: ignore[return-value]

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.func_depth += 1
        self.rank_stack.append({})
        self.ctx.ranks = self.rank_stack[-1]
        self.ctx.functions.append(node)

    def leave_FunctionDef(self, original_node: cst.FunctionDef,
                          updated_node: cst.FunctionDef) -> cst.FunctionDef:
        self.func_depth -= 1
        self.rank_stack.pop()
        self.ctx.ranks = self.rank_stack[-1]
        self.ctx.functions.pop()
        # a method: a function directly in a class body (not nested in another function)
        method_of = self.class_stack[-1] if self.class_stack and self.func_depth == 0 else None
        site = Site(original_node, updated_node, cls=method_of)
        return self._apply(self._function_hooks, site)  # type: ignore[return-value]

    # -- bookkeeping ------------------------------------------------------------------
    def visit_Import(self, node: cst.Import) -> None:
        self.in_import += 1

    def leave_Import(self, original_node: cst.Import, updated_node: cst.Import) -> cst.Import:
        self.in_import -= 1
        return updated_node

    def visit_ImportFrom(self, node: cst.ImportFrom) -> None:
        self.in_import += 1

    def leave_ImportFrom(self, original_node: cst.ImportFrom, updated_node: cst.ImportFrom) -> cst.ImportFrom:
        self.in_import -= 1
        return updated_node

    def visit_Name(self, node: cst.Name) -> None:
        if not self.in_import and node.value in self.alias_refs:
            self.alias_refs[node.value] += 1

    def _consumed(self, node: cst.BaseExpression) -> None:
        """A chain was rewritten away: one reference to the alias at its head fewer."""
        while isinstance(node, cst.Attribute):
            node = node.value
        if isinstance(node, cst.Name) and node.value in self.alias_refs:
            self.alias_refs[node.value] -= 1

    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.inner.add(id(node.value))

    def visit_Call(self, node: cst.Call) -> None:
        self.call_funcs.add(id(node.func))

    # -- dispatch ---------------------------------------------------------------------
    def _apply(self, entries: tuple[Entry, ...], site: Site) -> object:
        if not entries:
            return site.updated
        return apply_hooks(entries, self.ctx, site)

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        return self._apply(self._assign_hooks, Site(original_node, updated_node))  # type: ignore[return-value]

    def leave_Attribute(self, original_node: cst.Attribute,
                        updated_node: cst.Attribute) -> cst.BaseExpression:
        if self.in_import:
            # a dotted module name in an import statement is the IMPORT hooks' business: rewriting it as
            # a reference would move `from keras.layers.recurrent import X` to a module that lacks X
            return updated_node
        name = original_node.attr.value
        entries = self._attribute_cache.get(name)
        if entries is None:
            entries = self.hooks.attribute(name)
        if entries:
            result = claims(entries, self.ctx, Site(original_node, updated_node))
            if result is not None:
                return result  # type: ignore[return-value]
        if id(original_node) in self.inner:  # only whole chains are references
            return updated_node
        raw = self.ctx.qualified_raw(original_node)
        if raw is None:
            return updated_node
        entries = self._reference_cache.get(raw[0])
        if entries is None:
            entries = self.hooks.reference(raw[0])
        if not entries:
            return updated_node
        site = Site(original_node, updated_node, raw[0], raw[1], id(original_node) in self.call_funcs)
        result = apply_hooks(entries, self.ctx, site)
        if result is not updated_node:
            self._consumed(original_node)
        return result  # type: ignore[return-value]

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        func = original_node.func
        raw = self.ctx.qualified_raw(func)
        if raw is None:
            method = func.attr.value if type(func) is cst.Attribute else None
            entries = self._call_unresolved_cache.get(method)
            if entries is None:
                entries = self.hooks.call_unresolved(method)
            qualified, via_tf = None, False
        else:
            qualified, via_tf = raw
            entries = self._call_cache.get(qualified)
            if entries is None:
                entries = self.hooks.call(qualified)
        if not entries:
            return updated_node
        cls = self.class_stack[-1] if self.class_stack else None
        result = apply_hooks(entries, self.ctx, Site(original_node, updated_node, qualified, via_tf, False, cls))
        if result is not updated_node:
            self._consumed(func)
        return result  # type: ignore[return-value]

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine,
                                  updated_node: cst.SimpleStatementLine):  # type: ignore[no-untyped-def]
        if len(updated_node.body) == 1 and isinstance(updated_node.body[0], (cst.Import, cst.ImportFrom)):
            lines = self._apply(self._import_hooks, Site(original_node, updated_node))
            if isinstance(lines, list):
                return lines[0] if len(lines) == 1 else cst.FlattenSentinel(lines)
        return updated_node


def _attach_todos(result: object, pending: list[RawFinding], above: frozenset[str] = frozenset()) -> object:
    """Add a TODO comment per finding above the statement, unless it is already there.

    ``above``: comments libcst keeps in the module header, which sit right above the
    module's first statement.
    """
    target = result
    if isinstance(result, cst.FlattenSentinel):
        if not result.nodes:
            return result
        target = result.nodes[0]
    if not isinstance(target, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
        return result
    existing = {line.comment.value for line in target.leading_lines if line.comment is not None} | above
    new_lines = list(target.leading_lines)
    for f in pending:
        text = f"{TODO_PREFIX}{f.rule}): {f.message}".replace("\n", " ")
        if text not in existing:
            existing.add(text)
            new_lines.append(cst.EmptyLine(indent=True, comment=cst.Comment(text)))
    new_target = target.with_changes(leading_lines=new_lines)
    if isinstance(result, cst.FlattenSentinel):
        return cst.FlattenSentinel([new_target, *list(result.nodes)[1:]])
    return new_target



# ---------------------------------------------------------------------------
# Entry point for one module
# ---------------------------------------------------------------------------


@dataclass
class TransformOutcome:
    module: cst.Module
    findings: list[Finding]
    needs: set[str]
    unused_aliases: frozenset[str] = frozenset()
    alias_refs: dict[str, int] | None = None
    unfinished: cst.Module | None = None
    #: the fast path's statement map of the parsed module (for splicing unchanged lines when rendering)
    relevance: Relevance | None = None


def transform_module(module: cst.Module, options: Options, path: str, *,
                     imports_override: dict[str, str] | None = None, source_text: str = "",
                     line_offset: int = 0, finish: bool = True,
                     already_imported: dict[str, str] | None = None,
                     fast: bool = True, tree: ast.Module | None = None) -> TransformOutcome:
    """Run the rules over ``module``.

    ``fast`` skips statements no rule can fire in (using ``tree``, Python's own
    parse of ``source_text``, computed here when not given) and returns the very
    ``module`` object when nothing changed; ``fast=False`` visits everything.
    """
    table = imports_override if imports_override is not None else collect_imports(module)
    # `RNN = recurrent.LSTM`: calls through RNN are calls of the layer (Keras 2.2 pins apply).
    table = {**table, **module_aliases(module, table)}
    ctx = FileContext(options, table, source_text)
    ctx.default_indent = module.default_indent
    ctx.path = path
    build_index(ctx, module)
    relevance = None
    if fast and source_text:
        if tree is None:
            tree = parse_ast(source_text)
        spans = statement_spans(module, tree) if tree is not None else {}
        if spans:
            relevance = Relevance(source_text, relevant_words(ctx), spans)
    applier = RuleApplier(ctx, relevance)
    new = drive(module, applier) if fast else module.visit(applier)
    if fast and not applier.modified:
        new = module
    unused = frozenset(a for a, n in applier.alias_refs.items() if n <= 0)
    unfinished = new
    if finish:
        new = finish_imports(new, ctx.needs, already_imported, unused)
    findings = positions(module, ctx.findings, options, path, line_offset, relevance)
    return TransformOutcome(new, findings, ctx.needs, unused, applier.alias_refs, unfinished, relevance)




def relevant_words(ctx: FileContext) -> set[str]:
    """Names whose presence in a statement means some rule may fire there."""
    words = set(METHOD_WORDS) | set(CLASS_WORDS) | set(CALL_KEYWORDS)
    for local, qualified in ctx.imports.items():
        if qualified.split(".", 1)[0] in IMPORT_ROOTS:
            words.add(local)
    local_keras = {name for name, info in ctx.classes.items()
                   if is_layer_class(ctx, name) or is_schedule_class(ctx, info)}
    words |= local_keras
    for info in ctx.classes.values():
        for attr, ctor in (*info.attr_types.items(), *info.list_attr_types.items()):
            if ctor in local_keras:
                words.add(attr)
    for name, ctor in ctx.var_types.items():
        if ctor in local_keras:
            words.add(name)
    return words

