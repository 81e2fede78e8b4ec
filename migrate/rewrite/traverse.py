"""The fast path's walk: ``node.visit(visitor)`` without rebuilding what did not change."""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.walk import FIELD_CACHE, LEAF, NODE, SEQ, SORT_CACHE, field_names, sort_of
from migrate.rewrite.walk import LEAVES as _LEAVES


def drive(node: cst.CSTNode, visitor: cst.CSTTransformer):  # type: ignore[no-untyped-def]
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
