"""Imports after the rules: add what the new code needs, drop backend aliases nobody uses.

The rules record what their output needs (``ctx.needs``: ``keras``, ``ops``,
``compat``) and the applier counts the references to each legacy backend alias
(``K``); here, once per module, the missing imports are added after the last
import of the module's head and the imports of aliases left without a use are
removed. Only the module's top-level statements are looked at: no second
traversal of the tree.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.names import collect_imports, module_name

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
        elif i == 0 and _is_docstring(stmt):
            insert_at = 1
        elif insert_at and not _is_import_line(stmt):
            break
    if insert_at == 0:
        for i, stmt in enumerate(body):
            if _is_future(stmt):
                insert_at = i + 1
    body[insert_at:insert_at] = [_IMPORT_STMTS[n] for n in missing]
    return module.with_changes(body=body, footer=footer)


_IMPORT_STMTS = {k: cst.parse_statement(v) for k, v in _IMPORT_LINES.items()}


def _is_docstring(stmt: cst.BaseStatement) -> bool:
    """A module docstring: a string literal alone on the first line. Any other
    expression (``m.compile(...)``) is code, and the imports go above it."""
    return (isinstance(stmt, cst.SimpleStatementLine) and isinstance(stmt.body[0], cst.Expr)
            and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


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
