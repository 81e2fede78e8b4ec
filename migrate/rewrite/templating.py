"""Bind call arguments to a legacy signature and render a replacement template.

Template language (see ``tables.BackendRow``): ``{p}`` is the argument bound to
legacy parameter ``p`` (or its legacy default), ``{p?}`` is ``, p=<arg>`` only
when the caller passed ``p``. An argument used next to ``.``/``[`` or an
operator is parenthesised when it is not an atom.
"""

from __future__ import annotations

import re

import libcst as cst

from migrate.rewrite.context import ATOMS, FileContext
from migrate.rewrite.walk import substitute_names

_PLACEHOLDER = re.compile(r"\{(\w+)(\??)\}")


class BindError(Exception):
    """The call cannot be bound to the legacy signature (starred args, unknown keyword, ...)."""


def absent(node: cst.BaseExpression | None) -> bool:
    """Whether an argument is not given or is the literal ``None`` (the same thing to the callee)."""
    return node is None or (isinstance(node, cst.Name) and node.value == "None")


def bind(params: tuple[str, ...], args: tuple[cst.Arg, ...] | list[cst.Arg]) -> dict[str, cst.BaseExpression]:
    names = [p.split("=")[0] for p in params]
    bound: dict[str, cst.BaseExpression] = {}
    positional = True
    for i, arg in enumerate(args):
        if arg.star:
            raise BindError("starred argument")
        if arg.keyword is None:
            if not positional:
                raise BindError("positional after keyword")
            if i >= len(names):
                raise BindError("too many positional arguments")
            bound[names[i]] = arg.value
        else:
            positional = False
            key = arg.keyword.value
            if key not in names:
                raise BindError(f"unknown keyword {key!r}")
            if key in bound:
                raise BindError(f"duplicate argument {key!r}")
            bound[key] = arg.value
    for p in params:
        if "=" not in p and p not in bound:
            raise BindError(f"missing argument {p!r}")
    return bound


def defaults(params: tuple[str, ...]) -> dict[str, str]:
    return {p.split("=")[0]: p.split("=", 1)[1] for p in params if "=" in p}


def render(ctx: FileContext, template: str, params: tuple[str, ...],
           bound: dict[str, cst.BaseExpression]) -> cst.BaseExpression:
    """The template with the bound argument nodes in place.

    The template text, with a placeholder name for each argument, is parsed once
    (``FileContext.expr`` caches it); the caller's argument nodes are then put in
    place of the placeholders, so arguments are neither rendered nor re-parsed and
    keep their comments and layout. An argument next to ``.``/``[`` or an operator
    gets parentheses when it is not an atom.
    """
    defs = defaults(params)
    slots: dict[str, cst.BaseExpression] = {}

    def place(name: str, atom: bool) -> str:
        key = f"__migrate_arg{len(slots)}__"
        node = bound[name]
        if atom and not isinstance(node, ATOMS):
            node = node.with_changes(lpar=[cst.LeftParen(), *node.lpar], rpar=[*node.rpar, cst.RightParen()])
        slots[key] = node
        return key

    def sub(m: re.Match[str]) -> str:
        name, optional = m.group(1), m.group(2) == "?"
        if optional:
            if name not in bound:
                return ""
            return f", {name}={place(name, False)}"
        if name not in bound:
            return defs[name]
        before = template[: m.start()].rstrip()[-1:] if m.start() else "("
        after = template[m.end():].lstrip()[:1]
        return place(name, not (before in "(,=" and after in ",){"))

    text = _PLACEHOLDER.sub(sub, template)
    # `{p?}` right after `(` leaves "(, "; tidy it.
    text = text.replace("(, ", "(")
    skeleton = ctx.expr(text)
    if not slots:
        return skeleton
    return substitute_names(skeleton, slots)  # type: ignore[return-value]


def head(ctx: FileContext, template: str) -> str | None:
    """What the rendered template starts with up to its first ``(`` (for messages)."""
    first = template.split("(", 1)[0]
    return None if "{" in first else ctx.ops_text(first)


def used_params(template: str) -> set[str]:
    return {m.group(1) for m in _PLACEHOLDER.finditer(template)}


def tidy_args(args: list[cst.Arg]) -> list[cst.Arg]:
    """Commas after editing an argument list: one between arguments, none dangling on one line."""
    out = []
    for i, a in enumerate(args):
        last = i == len(args) - 1
        if not last and a.comma is cst.MaybeSentinel.DEFAULT:
            a = a.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        elif last and isinstance(a.comma, cst.Comma) and isinstance(a.comma.whitespace_after, cst.SimpleWhitespace):
            a = a.with_changes(comma=cst.MaybeSentinel.DEFAULT)
        out.append(a)
    return out
