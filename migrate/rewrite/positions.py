"""Where each finding is: line and column of the node a rule reported, found cheaply.

A finding holds the node it is about (as parsed). Its position is found by
rendering: either only the statement that holds it (``RawFinding.stmt``, whose
line Python's parser gave; the fast path), or the module up to the last wanted
node. libcst's ``PositionProvider`` would record every node and costs several
times a plain render.
"""

from __future__ import annotations

from contextlib import nullcontext
from itertools import accumulate

import libcst as cst
from libcst._nodes.internal import CodegenState

from migrate.rewrite.context import FileContext, Options, RawFinding
from migrate.rewrite.findings import Finding
from migrate.rewrite.prefilter import Relevance

_NULL = nullcontext()


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


def positions(module: cst.Module, raw: list[RawFinding], options: Options, path: str,
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
