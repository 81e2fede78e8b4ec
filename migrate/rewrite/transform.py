"""The single-pass rule pipeline over one parsed module.

One ``CSTTransformer`` walks the tree once and hands each node kind to the
rules in a fixed order (imports, backend, layers, training, saving); the rules
themselves live in ``rules/``. Afterwards the imports the new code needs are
added and legacy backend aliases nobody uses any more are removed.
"""

from __future__ import annotations

import ast
from contextlib import nullcontext
from dataclasses import dataclass
from itertools import accumulate

import libcst as cst
from libcst._nodes.internal import CodegenState

from migrate.rewrite.context import ClassInfo, FileContext, Options, RawFinding
from migrate.rewrite.findings import Finding
from migrate.rewrite.index import build_index, is_layer_class, is_schedule_class
from migrate.rewrite.names import canonical, collect_imports, module_name
from migrate.rewrite.prefilter import (
    CALL_KEYWORDS,
    CLASS_WORDS,
    IMPORT_ROOTS,
    METHOD_WORDS,
    Relevance,
    parse_ast,
    statement_spans,
)
from migrate.rewrite.rules import (
    add_weight,
    backend,
    batch_dot,
    float_step_schedule,
    functional_tf,
    get_config,
    hard_sigmoid,
    imports,
    layer_kwargs,
    layer_weights,
    merge_layer,
    optimizer_defaults,
    optimizer_lr,
    positional_call_args,
    register_serializable,
    relics,
    saving,
    training_calls,
)
from migrate.rewrite.walk import FIELD_CACHE, LEAF, NODE, SEQ, SORT_CACHE, field_names, sort_of
from migrate.rewrite.walk import LEAVES as _LEAVES

TODO_PREFIX = "# TODO(migrate "
_MISSING = object()
_NULL = nullcontext()


_STATEMENTS: dict[type, bool] = {}


def _is_statement(kind: type) -> bool:
    known = _STATEMENTS.get(kind)
    if known is None:
        known = _STATEMENTS[kind] = issubclass(kind, cst.BaseStatement)
    return known


class LegacyTransformer(cst.CSTTransformer):
    """The rule pipeline as one transformer.

    ``relevance`` (the fast path) lets it skip statements in which no rule can
    fire: libcst then neither visits nor rebuilds them. Under :func:`drive`
    (the fast path's walk) tokens, whitespace and literals are not descended
    into either. ``modified`` says whether any rule returned a new node, so an
    untouched file need not be rendered again.
    """

    def __init__(self, ctx: FileContext, relevance: Relevance | None = None) -> None:
        super().__init__()
        self.ctx = ctx
        self.relevance = relevance
        self.modified = False
        self.skipped: set[int] = set()
        self.stmt_stack: list[cst.CSTNode | None] = []  # enclosing values of ctx.current_stmt
        self.first_statement: cst.CSTNode | None = None
        self.header_comments: frozenset[str] = frozenset()
        # Plain functions by node type, called with self: bound methods stored on self would
        # make a reference cycle that keeps every parsed tree alive until the cyclic GC runs.
        self._visit_fns: dict[type, object] = {}
        self._leave_fns: dict[type, object] = {}
        self.inner: set[int] = set()
        self.call_funcs: set[int] = set()
        self.class_stack: list[ClassInfo | None] = []
        self.func_depth = 0
        self.rank_stack: list[dict[str, int]] = [{}]
        ctx.ranks = self.rank_stack[-1]  # type: ignore[attr-defined]
        self.functional = functional_tf.FunctionalScopes(ctx)
        self.in_import = 0
        #: backend aliases (``K``) -> references outside import statements, minus rewritten ones
        self.alias_refs: dict[str, int] = {
            name: 0 for name, q in ctx.imports.items()
            if canonical(q)[0] == "keras.backend" or canonical(q)[0].startswith("keras.backend.")}

    # -- dispatch: statements get a TODO list, skippable ones are not entered ------
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

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        # By node, not by name: a nested class may reuse a module-level class's name.
        self.class_stack.append(self.ctx.class_at.get(id(node)))

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        info = self.class_stack.pop()
        new = get_config.rewrite(self.ctx, info, original_node, updated_node)
        if new is not None:
            updated_node = new
        if not self.class_stack and self.func_depth == 0:  # module level: importable by name
            new = register_serializable.rewrite(self.ctx, info, original_node, updated_node)
            if new is not None:
                updated_node = new
        return updated_node

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.func_depth += 1
        self.rank_stack.append({})
        self.ctx.ranks = self.rank_stack[-1]  # type: ignore[attr-defined]
        self.functional.enter()

    def leave_FunctionDef(self, original_node: cst.FunctionDef,
                          updated_node: cst.FunctionDef) -> cst.FunctionDef:
        self.func_depth -= 1
        self.rank_stack.pop()
        self.ctx.ranks = self.rank_stack[-1]  # type: ignore[attr-defined]
        updated_node = self.functional.leave(updated_node)
        current = self.class_stack[-1] if self.class_stack and self.func_depth == 0 else None
        new = float_step_schedule.rewrite(self.ctx, current, original_node, updated_node)
        return new if new is not None else updated_node

    def leave_Module(self, original_node: cst.Module, updated_node: cst.Module) -> cst.Module:
        return self.functional.leave(updated_node)

    # -- expressions ------------------------------------------------------------------
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
        """A backend chain was rewritten away: one reference to its alias fewer."""
        while isinstance(node, cst.Attribute):
            node = node.value
        if isinstance(node, cst.Name) and node.value in self.alias_refs:
            self.alias_refs[node.value] -= 1
    def visit_Attribute(self, node: cst.Attribute) -> None:
        self.inner.add(id(node.value))

    def visit_Call(self, node: cst.Call) -> None:
        self.call_funcs.add(id(node.func))

    def leave_Assign(self, original_node: cst.Assign, updated_node: cst.Assign) -> cst.Assign:
        if len(original_node.targets) == 1 and isinstance(original_node.targets[0].target, cst.Name):
            rank = batch_dot.rank_of_expr(self.ctx, original_node.value)
            name = original_node.targets[0].target.value
            if rank is not None:
                self.rank_stack[-1][name] = rank
            else:
                self.rank_stack[-1].pop(name, None)
        return updated_node

    def leave_Attribute(self, original_node: cst.Attribute,
                        updated_node: cst.Attribute) -> cst.BaseExpression:
        ctx = self.ctx
        new = relics.rewrite(ctx, original_node, updated_node)
        if new is not None:
            return new
        new = optimizer_lr.rewrite_attr(ctx, original_node, updated_node)
        if new is not None:
            return new
        if id(original_node) in self.inner:
            return updated_node
        raw = ctx.qualified_raw(original_node)
        if raw is None:
            return updated_node
        canon, via_tf = raw
        if canon.startswith("keras.backend."):
            fn = canon[len("keras.backend."):]
            if id(original_node) in self.call_funcs or "." in fn:
                return updated_node
            new_ref = backend.rewrite_ref(ctx, fn, via_tf, original_node)
            if new_ref is not None:
                self._consumed(original_node)
                return new_ref
            return updated_node
        if canon == hard_sigmoid.LEGACY:
            new_ref = hard_sigmoid.rewrite_ref(ctx, original_node)
            if new_ref is not None:
                return new_ref
        new_chain = imports.rewrite_chain(ctx, original_node, updated_node,
                                          called=id(original_node) in self.call_funcs)
        return new_chain if new_chain is not None else updated_node

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        ctx = self.ctx
        raw = ctx.qualified_raw(original_node.func)
        qualified = raw[0] if raw else None
        if qualified is not None and qualified.startswith("keras.backend."):
            fn = qualified[len("keras.backend."):]
            if "." not in fn:
                new = backend.rewrite_call(ctx, fn, raw[1], original_node, updated_node)  # type: ignore[index]
                if new is not None:
                    self._consumed(original_node.func)
                    return new
                return updated_node
        saving.check(ctx, qualified, original_node)
        if qualified is not None:
            if qualified.startswith("keras.optimizers."):
                new_call = optimizer_lr.rewrite_ctor(ctx, qualified, original_node, updated_node)
                new_args = optimizer_defaults.rewrite(ctx, qualified, original_node, new_call or updated_node)
                new_call = new_args or new_call
                if new_call is not None:
                    return new_call
            if qualified.startswith(("keras.layers.", "keras.engine", "keras.legacy")):
                new_call = layer_kwargs.rewrite(ctx, qualified, original_node, updated_node)
                if new_call is not None:
                    updated_node = new_call
                layer_weights.check(ctx, qualified, original_node)
                merge_layer.check(ctx, qualified, original_node)
            if qualified == "keras.activations.get":
                new_ref = hard_sigmoid.rewrite_get(ctx, original_node)
                if new_ref is not None:
                    return new_ref
            if qualified.startswith("tensorflow.") and not canonical(qualified)[1]:
                self.functional.candidate(qualified, original_node, updated_node)
            if qualified.startswith(("keras.layers.Input", "keras.Input", "keras.engine")) and (
                    qualified.endswith(".Input")):
                self.functional.mark()
            return updated_node
        new_any = add_weight.rewrite(ctx, original_node, updated_node)
        if new_any is not None:
            return new_any
        new_expr = training_calls.rewrite(ctx, original_node, updated_node)
        if new_expr is not None:
            return new_expr
        current = self.class_stack[-1] if self.class_stack else None
        new_call = positional_call_args.rewrite(ctx, original_node, updated_node, current)
        if new_call is not None:
            return new_call
        return updated_node

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine,
                                  updated_node: cst.SimpleStatementLine):  # type: ignore[no-untyped-def]
        if len(updated_node.body) == 1 and isinstance(updated_node.body[0], (cst.Import, cst.ImportFrom)):
            lines = imports.rewrite_import(self.ctx, updated_node, updated_node.body[0], original_node.body[0])
            if lines is not None:
                if len(lines) == 1:
                    return lines[0]
                return cst.FlattenSentinel(lines)
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
# Imports after the pass
# ---------------------------------------------------------------------------

_IMPORT_LINES = {
    "keras": "import keras\n",
    "ops": "from keras import ops\n",
    "compat": "from modern import compat\n",
}


def _has_import(bound: dict[str, str], need: str) -> bool:
    if need == "keras":
        return bound.get("keras") == "keras"
    if need == "ops":
        return bound.get("ops") == "keras.ops"
    return bound.get("compat") == "modern.compat"


def _is_import_line(stmt: cst.CSTNode) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and all(
        isinstance(s, (cst.Import, cst.ImportFrom)) for s in stmt.body)


def _is_future(stmt: cst.CSTNode) -> bool:
    return isinstance(stmt, cst.SimpleStatementLine) and any(
        isinstance(s, cst.ImportFrom) and module_name(s.module) == "__future__" for s in stmt.body)


def finish_imports(module: cst.Module, needs: set[str], already: dict[str, str] | None = None,
                   unused_aliases: frozenset[str] = frozenset()) -> cst.Module:
    """Remove now-unused legacy backend aliases; add ``keras``/``ops``/``compat`` imports.

    Works on the statements of the module (and of top-level ``if``/``try``
    blocks are left alone): no second traversal of the whole tree.
    """
    body = list(module.body)
    changed = False
    footer = list(module.footer)
    if unused_aliases:
        new_body = []
        orphans: list[cst.EmptyLine] = []  # comments and blank lines above a dropped import stay
        for stmt in body:
            new_stmt = _drop_aliases(stmt, unused_aliases)
            changed = changed or new_stmt is not stmt
            if new_stmt is None:
                orphans.extend(stmt.leading_lines)  # type: ignore[union-attr]
                continue
            if orphans:
                new_stmt = new_stmt.with_changes(leading_lines=[*orphans, *new_stmt.leading_lines])
                orphans = []
            new_body.append(new_stmt)
        footer = orphans + footer
        body = new_body
    bound = _top_level_imports(body)
    if already:
        bound = {**already, **bound}
    missing = [n for n in ("keras", "ops", "compat") if n in needs and not _has_import(bound, n)]
    if not missing:
        return module.with_changes(body=body, footer=footer) if changed else module
    insert_at = 0
    for i, stmt in enumerate(body):
        if _is_import_line(stmt):
            insert_at = i + 1
        elif i == 0 and isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Expr):
            insert_at = 1  # module docstring
        elif insert_at and not _is_import_line(stmt):
            break
    if insert_at == 0:
        for i, stmt in enumerate(body):
            if _is_future(stmt):
                insert_at = i + 1
    body[insert_at:insert_at] = [_IMPORT_STMTS[n] for n in missing]
    return module.with_changes(body=body, footer=footer)


_IMPORT_STMTS = {k: cst.parse_statement(v) for k, v in _IMPORT_LINES.items()}


def _top_level_imports(body: list[cst.BaseStatement]) -> dict[str, str]:
    return collect_imports(cst.Module(body=[s for s in body if _is_import_line(s)]))


def _drop_aliases(stmt: cst.BaseStatement, unused: frozenset[str]) -> cst.BaseStatement | None:
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return stmt
    small = stmt.body[0]
    if not isinstance(small, (cst.Import, cst.ImportFrom)) or isinstance(small.names, cst.ImportStar):
        return stmt
    keep = []
    for a in small.names:
        local = module_name(a.asname.name if a.asname else a.name)  # type: ignore[arg-type]
        if local in unused:
            continue
        keep.append(a)
    if len(keep) == len(small.names):
        return stmt
    if not keep:
        return None
    keep[-1] = keep[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return stmt.with_changes(body=[small.with_changes(names=keep)])


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
    transformer = LegacyTransformer(ctx, relevance)
    new = drive(module, transformer) if fast else module.visit(transformer)
    if fast and not transformer.modified:
        new = module
    unused = frozenset(a for a, n in transformer.alias_refs.items() if n <= 0)
    unfinished = new
    if finish:
        new = finish_imports(new, ctx.needs, already_imported, unused)
    findings = _positions(module, ctx.findings, options, path, line_offset, relevance)
    return TransformOutcome(new, findings, ctx.needs, unused, transformer.alias_refs, unfinished, relevance)


def drive(node: cst.CSTNode, visitor: LegacyTransformer):  # type: ignore[no-untyped-def]
    """``node.visit(visitor)`` for the fast path, rebuilding only the nodes whose children changed.

    libcst rebuilds (and re-validates) every node it visits; here a node whose
    children all come back unchanged is kept as it is, and tokens, whitespace and
    literals (``_LEAVES``, which no rule touches) are not entered at all, names
    only counted. Same callbacks otherwise, same result
    (``tests/migrate/test_fast_path.py`` compares it with ``module.visit``).
    Children are visited in field order, not source order; no rule depends on the
    order within a statement.
    """
    if not visitor.on_visit(node):
        return visitor.on_leave(node, node)
    kind = type(node)
    names = FIELD_CACHE.get(kind) or field_names(kind)
    changes: dict[str, object] | None = None
    for name in names:
        value = getattr(node, name)
        vkind = type(value)
        sort = SORT_CACHE.get(vkind)  # the caches of walk.sort_of, read inline: this loop is the hot one
        if sort is None:
            sort = sort_of(vkind)
        if sort == LEAF:
            if vkind is cst.Name:
                visitor.visit_Name(value)
        elif sort == NODE:
            new = drive(value, visitor)
            if new is not value:
                changes = changes or {}
                changes[name] = new
        elif sort == SEQ:
            if not value or not isinstance(value[0], cst.CSTNode):
                continue
            out: list[cst.CSTNode] | None = None
            for i, item in enumerate(value):
                ikind = type(item)
                if ikind in _LEAVES:
                    if ikind is cst.Name:
                        visitor.visit_Name(item)
                    new = item
                else:
                    new = drive(item, visitor)
                if new is item and out is None:
                    continue
                if out is None:
                    out = list(value[:i])
                if isinstance(new, cst.FlattenSentinel):
                    out.extend(new.nodes)
                elif new is not cst.RemovalSentinel.REMOVE:
                    out.append(new)
            if out is not None:
                changes = changes or {}
                changes[name] = tuple(out)
    updated = node.with_changes(**changes) if changes else node
    return visitor.on_leave(node, updated)


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


class _PositionState(CodegenState):
    """Codegen that records where a few wanted nodes start, and stops once it knows.

    ``PositionProvider`` records every node and costs several times a plain render.
    Here a wanted node's start is noted as a token index (``before_codegen``, then
    ``record_syntactic_position``, which comes after the node's own parentheses and
    wins, as for libcst's ``PositionProvider``); when every wanted node has had its
    syntactic position the render is cut short. ``positions`` turns the indices into
    1-based lines and 0-based columns.
    """

    __slots__ = ("wanted", "found", "final")

    def __init__(self, module: cst.Module, wanted: set[int]) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.wanted = wanted
        self.found: dict[int, int] = {}  # id(node) -> index into tokens
        self.final: set[int] = set()

    def record_syntactic_position(  # type: ignore[no-untyped-def,override]
            self, node, *, start_node=None, end_node=None):
        key = id(node)
        if key in self.wanted:
            self.found[key] = len(self.tokens)
            self.final.add(key)
            if len(self.final) == len(self.wanted):
                raise _AllFound
        return _NULL

    def before_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key in self.wanted and key not in self.found:
            self.found[key] = len(self.tokens)

    def render(self, node: cst.CSTNode) -> None:
        try:
            node._codegen(self)
        except _AllFound:
            pass

    def positions(self) -> dict[int, tuple[int, int]]:
        if not self.found:
            return {}
        offsets = list(accumulate(map(len, self.tokens[:max(self.found.values())]), initial=0))
        text = "".join(self.tokens)
        out = {}
        for key, index in self.found.items():
            offset = offsets[index]
            # CRLF, LF and a lone CR each end a line, as for Python
            line = 1 + text.count("\n", 0, offset) + text.count("\r", 0, offset) - text.count("\r\n", 0, offset)
            start = max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1
            out[key] = (line, offset - start)
        return out


class _AllFound(Exception):
    """Every wanted node has its position: the rest of the render is not needed."""


def _positions(module: cst.Module, raw: list[RawFinding], options: Options, path: str,
               line_offset: int, relevance: Relevance | None = None) -> list[Finding]:
    if not raw:
        return []
    found = _positions_by_statement(module, raw, relevance) if relevance is not None else None
    if found is None:
        state = _PositionState(module, {id(f.node) for f in raw if f.node is not None})
        state.render(module)
        found = state.positions()
    out = []
    seen: set[tuple[str, int, int, str]] = set()
    for f in raw:
        line, col = f.line, 0
        if f.node is not None and id(f.node) in found:
            line, col = found[id(f.node)]
            col += 1
        key = (f.rule, line, col, f.message)
        if key in seen:
            continue
        seen.add(key)
        out.append(Finding(f.rule, path, line + line_offset, col, f.message,
                           FileContext.is_safe(f.rule), f.fixed))
    out.sort(key=lambda x: (x.line, x.column, x.rule))
    return out


def _positions_by_statement(module: cst.Module, raw: list[RawFinding],
                            relevance: Relevance) -> dict[int, tuple[int, int]] | None:
    """Render only the statements that hold findings, each alone.

    A finding is grouped under the innermost statement whose line span Python's
    parser gave (``RawFinding.stmt``). That statement is rendered with its line's
    indentation and shifted so that its first token lands on the line Python's
    parser gave it. None when a finding cannot be placed that way.
    """
    groups: dict[int, tuple[cst.CSTNode, set[int]]] = {}
    for f in raw:
        if f.node is None:
            continue
        if f.stmt is None:
            return None
        groups.setdefault(id(f.stmt), (f.stmt, set()))[1].add(id(f.node))
    found: dict[int, tuple[int, int]] = {}
    for stmt, ids in groups.values():
        anchor = relevance.anchor(stmt)
        if anchor is None:
            return None
        indent = relevance.indent(anchor)
        if ids == {id(stmt)}:  # a finding on the statement itself (a class, a def): no need to render it
            found[id(stmt)] = (anchor, len(indent))
            continue
        state = _PositionState(module, ids | {id(stmt)})
        if indent:
            state.indent_tokens.append(indent)
        state.render(stmt)
        positions = state.positions()
        if id(stmt) not in positions or not ids <= positions.keys():
            return None
        line0, col0 = positions[id(stmt)]
        if col0 != len(indent):
            return None
        shift = anchor - line0
        for key in ids:
            line, col = positions[key]
            found[key] = (line + shift, col)
    return found
