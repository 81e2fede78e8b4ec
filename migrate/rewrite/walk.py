"""Cheap read-only traversal of libcst trees.

``node.visit(visitor)`` rebuilds and re-validates every node it passes, even for
a visitor that changes nothing; rules that only need to *look* (which names a
method uses, which names it binds) walk the dataclass fields directly instead.
The per-type tables here are shared with the transformer's own driver
(``transform.drive``).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import libcst as cst


def _leaf_types() -> frozenset[type]:
    """Node kinds no rule looks into: tokens, whitespace, literals (and ``Name``'s parentheses)."""
    bases = (cst.BaseParenthesizableWhitespace, cst.BaseBinaryOp, cst.BaseBooleanOp, cst.BaseCompOp,
             cst.BaseUnaryOp, cst.BaseAugOp)
    kinds = {cst.TrailingWhitespace, cst.EmptyLine, cst.Comment, cst.Newline, cst.Comma, cst.Dot, cst.Colon,
             cst.Semicolon, cst.AssignEqual, cst.LeftParen, cst.RightParen, cst.LeftSquareBracket,
             cst.RightSquareBracket, cst.LeftCurlyBrace, cst.RightCurlyBrace, cst.ImportStar, cst.Asynchronous,
             cst.Integer, cst.Float, cst.Imaginary, cst.SimpleString, cst.Ellipsis, cst.Name,
             cst.FormattedStringText}
    for obj in vars(cst).values():
        if isinstance(obj, type) and issubclass(obj, bases) and obj not in bases:
            kinds.add(obj)
    return frozenset(kinds)


LEAVES = _leaf_types()
LEAF, NODE, SEQ, OTHER = range(4)
FIELD_CACHE: dict[type, tuple[str, ...]] = {}
SORT_CACHE: dict[type, int] = {}  # isinstance on libcst's ABCs is slow: classify each type once


def field_names(kind: type) -> tuple[str, ...]:
    """The dataclass fields of a node type, in declaration order (cached)."""
    names = FIELD_CACHE.get(kind)
    if names is None:
        names = FIELD_CACHE[kind] = tuple(f.name for f in dataclasses.fields(kind))
    return names


def sort_of(kind: type) -> int:
    """``LEAF``, ``NODE``, ``SEQ`` (tuple or list) or ``OTHER`` for the type of a field value (cached)."""
    sort = SORT_CACHE.get(kind)
    if sort is None:
        if kind in LEAVES:
            sort = LEAF
        elif issubclass(kind, cst.CSTNode):
            sort = NODE
        elif kind is tuple or kind is list:
            sort = SEQ
        else:
            sort = OTHER
        SORT_CACHE[kind] = sort
    return sort


def iter_nodes(root: cst.CSTNode) -> Iterator[cst.CSTNode]:
    """``root`` and every node below it, except tokens, whitespace and literals (``LEAVES``);
    ``Name`` nodes are yielded but not entered. Order: depth first, not source order."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        if type(node) is cst.Name:
            continue
        for name in field_names(type(node)):
            value = getattr(node, name)
            sort = sort_of(type(value))
            if sort == NODE:
                stack.append(value)
            elif sort == LEAF:
                if type(value) is cst.Name:
                    stack.append(value)
            elif sort == SEQ:
                for item in value:
                    kind = type(item)
                    if kind is cst.Name or (kind not in LEAVES and isinstance(item, cst.CSTNode)):
                        stack.append(item)


def used_names(node: cst.CSTNode) -> set[str]:
    """Every identifier (``Name`` node) in ``node``, attribute names (``x.attr``) included."""
    return {n.value for n in iter_nodes(node) if type(n) is cst.Name}


def substitute_names(node: cst.CSTNode, slots: dict[str, cst.CSTNode]) -> cst.CSTNode:
    """``node`` with every ``Name`` whose value is a key of ``slots`` replaced by that node.

    Only the nodes on the way to a replaced name are rebuilt; the rest are shared.
    """
    kind = type(node)
    if kind is cst.Name:
        return slots.get(node.value, node)  # type: ignore[attr-defined]
    changes: dict[str, object] | None = None
    for name in field_names(kind):
        value = getattr(node, name)
        vkind = type(value)
        sort = sort_of(vkind)
        if sort == NODE or vkind is cst.Name:
            new = substitute_names(value, slots)
            if new is not value:
                changes = changes or {}
                changes[name] = new
        elif sort == SEQ and value:
            items = [substitute_names(item, slots) if isinstance(item, cst.CSTNode) else item for item in value]
            if any(a is not b for a, b in zip(items, value)):
                changes = changes or {}
                changes[name] = tuple(items)
    return node.with_changes(**changes) if changes else node
