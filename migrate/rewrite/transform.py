"""The single-pass rule pipeline over one parsed module.

One ``CSTTransformer`` walks the tree once and hands each node kind to the
rules in a fixed order (imports, backend, layers, training, saving); the rules
themselves live in ``rules/``. Afterwards the imports the new code needs are
added and legacy backend aliases nobody uses any more are removed.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass

import libcst as cst
from libcst._nodes.internal import CodegenState

from migrate.rewrite.context import ClassInfo, FileContext, Options, RawFinding
from migrate.rewrite.findings import Finding
from migrate.rewrite.index import build_index
from migrate.rewrite.names import canonical, collect_imports, module_name
from migrate.rewrite.rules import (
    add_weight,
    backend,
    batch_dot,
    float_step_schedule,
    functional_tf,
    imports,
    layer_kwargs,
    optimizer_lr,
    positional_call_args,
    relics,
    saving,
    training_calls,
)

TODO_PREFIX = "# TODO(migrate "


class LegacyTransformer(cst.CSTTransformer):
    def __init__(self, ctx: FileContext) -> None:
        super().__init__()
        self.ctx = ctx
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

    # -- statements: findings that need a human get a TODO comment ---------------
    def on_visit(self, node: cst.CSTNode) -> bool:
        if isinstance(node, cst.BaseStatement):
            self.ctx.pending_stack.append([])
        return super().on_visit(node)

    def on_leave(self, original_node: cst.CSTNode, updated_node: cst.CSTNode):  # type: ignore[override]
        result = super().on_leave(original_node, updated_node)
        if isinstance(original_node, cst.BaseStatement):
            pending = self.ctx.pending_stack.pop()
            if pending and self.ctx.options.todo_comments:
                result = _attach_todos(result, pending)
        return result

    # -- scopes --------------------------------------------------------------------
    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.class_stack.append(self.ctx.classes.get(node.name.value))

    def leave_ClassDef(self, original_node: cst.ClassDef, updated_node: cst.ClassDef) -> cst.ClassDef:
        self.class_stack.pop()
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
        new_chain = imports.rewrite_chain(ctx, original_node, updated_node)
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
                if new_call is not None:
                    return new_call
            if qualified.startswith("keras.layers.") or qualified.startswith("keras.engine"):
                new_call = layer_kwargs.rewrite(ctx, qualified, original_node, updated_node)
                if new_call is not None:
                    updated_node = new_call
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
            lines = imports.rewrite_import(self.ctx, updated_node, updated_node.body[0])
            if lines is not None:
                if len(lines) == 1:
                    return lines[0]
                return cst.FlattenSentinel(lines)
        return updated_node


def _attach_todos(result: object, pending: list[RawFinding]) -> object:
    target = result
    if isinstance(result, cst.FlattenSentinel):
        if not result.nodes:
            return result
        target = result.nodes[0]
    if not isinstance(target, (cst.SimpleStatementLine, cst.BaseCompoundStatement)):
        return result
    existing = {line.comment.value for line in target.leading_lines if line.comment is not None}
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
    if unused_aliases:
        new_body = []
        for stmt in body:
            new_stmt = _drop_aliases(stmt, unused_aliases)
            changed = changed or new_stmt is not stmt
            if new_stmt is not None:
                new_body.append(new_stmt)
        body = new_body
    bound = _top_level_imports(body)
    if already:
        bound = {**already, **bound}
    missing = [n for n in ("keras", "ops", "compat") if n in needs and not _has_import(bound, n)]
    if not missing:
        return module.with_changes(body=body) if changed else module
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
    return module.with_changes(body=body)


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


def transform_module(module: cst.Module, options: Options, path: str, *,
                     imports_override: dict[str, str] | None = None, source_text: str = "",
                     line_offset: int = 0, finish: bool = True,
                     already_imported: dict[str, str] | None = None) -> TransformOutcome:
    table = imports_override if imports_override is not None else collect_imports(module)
    ctx = FileContext(options, table, source_text)
    build_index(ctx, module)
    transformer = LegacyTransformer(ctx)
    new = module.visit(transformer)
    unused = frozenset(a for a, n in transformer.alias_refs.items() if n <= 0)
    unfinished = new
    if finish:
        new = finish_imports(new, ctx.needs, already_imported, unused)
    findings = _positions(module, ctx.findings, options, path, line_offset)
    return TransformOutcome(new, findings, ctx.needs, unused, transformer.alias_refs, unfinished)


class _PositionState(CodegenState):
    """Codegen that records the start (line, column) of a few wanted nodes only.

    ``PositionProvider`` records every node and costs several times a plain render.
    """

    __slots__ = ("line", "col", "wanted", "found")

    def __init__(self, module: cst.Module, wanted: set[int]) -> None:
        super().__init__(default_indent=module.default_indent, default_newline=module.default_newline)
        self.line = 1
        self.col = 0
        self.wanted = wanted
        self.found: dict[int, tuple[int, int]] = {}

    def add_token(self, value: str) -> None:
        self.tokens.append(value)
        n = value.count("\n")
        if n:
            self.line += n
            self.col = len(value) - value.rfind("\n") - 1
        else:
            self.col += len(value)

    def add_indent_tokens(self) -> None:
        for token in self.indent_tokens:
            self.add_token(token)

    @contextmanager
    def record_syntactic_position(self, node, *, start_node=None, end_node=None):  # type: ignore[no-untyped-def]
        key = id(node)
        if key in self.wanted:
            self.found[key] = (self.line, self.col)
        yield

    def before_codegen(self, node: cst.CSTNode) -> None:
        key = id(node)
        if key in self.wanted and key not in self.found:
            self.found[key] = (self.line, self.col)


def _positions(module: cst.Module, raw: list[RawFinding], options: Options, path: str,
               line_offset: int) -> list[Finding]:
    if not raw:
        return []
    state = _PositionState(module, {id(f.node) for f in raw if f.node is not None})
    module._codegen(state)
    out = []
    seen: set[tuple[str, int, int, str]] = set()
    for f in raw:
        line, col = f.line, 0
        if f.node is not None and id(f.node) in state.found:
            line, col = state.found[id(f.node)]
            col += 1
        key = (f.rule, line, col, f.message)
        if key in seen:
            continue
        seen.add(key)
        out.append(Finding(f.rule, path, line + line_offset, col, f.message,
                           FileContext.is_safe(f.rule), f.fixed))
    out.sort(key=lambda x: (x.line, x.column, x.rule))
    return out
