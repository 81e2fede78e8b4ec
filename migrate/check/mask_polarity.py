"""KC103: a mask built with 1 = keep, applied as if 1 meant "masked" (and the reverse).

Two conventions live side by side. Keras masks (``compute_mask``,
``Embedding(mask_zero=True)``, ``attention_mask=`` of ``MultiHeadAttention``) and
``tf.sequence_mask`` hold 1/True where a position is *kept*; the 2019-2021
tutorials build additive masks with 1 where a position is *blocked*
(``tf.cast(tf.math.equal(seq, 0), tf.float32)``) and add ``mask * -1e9`` to the
attention logits. Mixing them raises nothing: a keep-mask added as ``mask * -1e9``
blocks every real token and attends only to padding.

The check gives each mask expression a polarity, read statically:

* keep: ``not_equal(x, 0)``, ``x != 0``, ``greater(x, 0)``/``x > 0``,
  ``sequence_mask``, ``band_part`` (a lower-triangular causal "may attend"),
  ``compute_mask``/``_keras_mask``;
* masked: ``equal(x, 0)``, ``x == 0``;
* ``1 - m`` and ``logical_not(m)`` flip it; casts, ``expand_dims``, reshapes,
  indexing and ``[:, None, None, :]`` keep it; ``maximum``/``logical_or`` of two
  masked, ``minimum``/``logical_and``/products of two keeps keep theirs;

following simple assignments, the function that returned the mask, and a mask
*parameter* back to the call sites that pass it (a module function ``f(...)``,
``self.method(...)``, or a layer of the module's own class called as
``self.attn(q, k, v, mask)``).

A use demands a polarity: ``m * -1e9`` (any constant <= -1e4), ``x - 1e9 * m``
and ``where(m, -1e9, x)`` demand masked; ``(m - 1) * 1e9``, ``where(m, x, -1e9)``,
``attention_mask=m`` of ``MultiHeadAttention`` and ``mask=m`` of ``Softmax``
demand keep. A known polarity that contradicts the demand is flagged at the use.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from migrate.check.program import (
    Layer,
    Program,
    Scope,
    argument,
    class_of,
    keras_node_text,
    number,
)

IDS = ("KC103",)

KEEP, MASKED = "keep", "masked"
_BIG = 1e4

_PRESERVE = frozenset({"cast", "to_float", "expand_dims", "reshape", "tile", "squeeze", "broadcast_to",
                       "convert_to_tensor", "stop_gradient", "repeat", "repeat_elements", "identity",
                       "transpose", "permute_dimensions", "astype", "float", "type"})
_BOTH_MASKED = frozenset({"maximum", "logical_or"})
_BOTH_KEEP = frozenset({"minimum", "logical_and", "multiply"})

Pol = tuple[str, ast.AST]  # a polarity and the expression that fixed it


def _flip(p: str) -> str:
    return KEEP if p == MASKED else MASKED


class _Reader:
    def __init__(self, prog: Program) -> None:
        self.prog = prog
        self.busy: set[tuple[int, int]] = set()
        self.memo: dict[tuple[int, int], set[Pol]] = {}  # a mask passed down many calls is read once

    def polarity(self, node: ast.AST | None, scope: Scope, line: int, depth: int = 0) -> set[Pol]:
        if node is None or depth > 10:
            return set()
        key = (id(node), line)
        if key in self.memo:
            return self.memo[key]
        if key in self.busy:
            return set()
        self.busy.add(key)
        try:
            found = self._polarity(node, scope, line, depth + 1)
        finally:
            self.busy.discard(key)
        self.memo[key] = found
        return found

    def _polarity(self, node: ast.AST, scope: Scope, line: int, depth: int) -> set[Pol]:
        prog = self.prog
        if isinstance(node, ast.Name):
            found = prog.lookup(node.id, scope, line)
            if found is not None:
                expr, where, at = found
                return self.polarity(expr, where, at, depth)
            if prog.is_parameter(node.id, scope, line):
                return self._parameter(scope, node.id, depth)
            return set()
        if isinstance(node, ast.Attribute):
            if node.attr == "_keras_mask":
                return {(KEEP, node)}
            if isinstance(node.value, ast.Name) and node.value.id == "self":
                cls = class_of(scope)
                out: set[Pol] = set()
                for expr, s, ln in (cls.attrs.get(node.attr, []) if cls else []):
                    out |= self.polarity(expr, s, ln, depth)
                return out
            return set()
        if isinstance(node, ast.Subscript):
            return self.polarity(node.value, scope, line, depth)
        if isinstance(node, ast.Compare) and len(node.ops) == 1:
            op, right = node.ops[0], node.comparators[0]
            if number(right) is None:
                return set()
            if isinstance(op, ast.NotEq) or (isinstance(op, ast.Gt) and number(right) == 0):
                return {(KEEP, node)}
            if isinstance(op, ast.Eq):
                return {(MASKED, node)}
            return set()
        if isinstance(node, ast.BinOp):
            if isinstance(node.op, ast.Sub) and number(node.left) == 1:
                return {(_flip(p), o) for p, o in self.polarity(node.right, scope, line, depth)}
            if isinstance(node.op, ast.Mult):
                return self._combine([node.left, node.right], KEEP, scope, line, depth)
            return set()
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
            return {(_flip(p), o) for p, o in self.polarity(node.operand, scope, line, depth)}
        if isinstance(node, ast.Call):
            return self._call(node, scope, line, depth)
        return set()

    def _call(self, call: ast.Call, scope: Scope, line: int, depth: int) -> set[Pol]:
        prog = self.prog
        name = prog.api(call.func)
        if name is None and isinstance(call.func, ast.Attribute) and call.func.attr in ("astype", "float", "type"):
            return self.polarity(call.func.value, scope, line, depth)
        if name is None and isinstance(call.func, ast.Attribute) and call.func.attr == "compute_mask":
            return {(KEEP, call)}
        if name is not None:
            first = call.args[0] if call.args else None
            if name == "not_equal":
                return {(KEEP, call)} if len(call.args) > 1 and number(call.args[1]) is not None else set()
            if name == "equal":
                return {(MASKED, call)} if len(call.args) > 1 and number(call.args[1]) is not None else set()
            if name == "greater":
                return {(KEEP, call)} if len(call.args) > 1 and number(call.args[1]) == 0 else set()
            if name in ("sequence_mask", "band_part", "compute_mask"):
                return {(KEEP, call)}
            if name == "logical_not":
                return {(_flip(p), o) for p, o in self.polarity(first, scope, line, depth)}
            if name in _PRESERVE:
                return self.polarity(first, scope, line, depth)
            if name in _BOTH_MASKED:
                return self._combine(call.args, MASKED, scope, line, depth)
            if name in _BOTH_KEEP:
                return self._combine(call.args, KEEP, scope, line, depth)
            return set()
        func = call.func
        target: Scope | None = None
        if isinstance(func, ast.Name) and func.id in prog.functions and func.id not in prog.imports:
            target = prog.functions[func.id]
        elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
            cls = class_of(scope)
            target = cls.methods.get(func.attr) if cls else None
        if target is None:
            return set()
        out: set[Pol] = set()
        for expr in target.returns:
            if isinstance(expr, (ast.Tuple, ast.List)):
                return set()
            out |= self.polarity(expr, target, target.line_of(expr) + 1 if expr else 0, depth)
        return out

    def _combine(self, args: list[ast.expr], want: str, scope: Scope, line: int, depth: int) -> set[Pol]:
        """``want`` when every argument is known to be ``want``; else nothing known."""
        if len(args) < 2:
            return set()
        first: ast.AST | None = None
        for arg in args[:2]:
            pols = self.polarity(arg, scope, line, depth)
            if not pols or any(p != want for p, _ in pols):
                return set()
            first = first or next(iter(pols))[1]
        return {(want, first)} if first is not None else set()

    # -- parameters: back to the call sites ------------------------------------------------

    def _parameter(self, fn: Scope, param: str, depth: int) -> set[Pol]:
        out: set[Pol] = set()
        for arg, caller, line in self.prog.arguments_for(fn, param):
            out |= self.polarity(arg, caller, line, depth)
        return out


def run(prog: Program) -> Iterator[tuple[str, ast.AST, str]]:
    reader = _Reader(prog)
    for scope in prog.scopes:
        for node in scope.nodes():
            for mask, want, use in _demands(prog, scope, node):
                line = scope.line_of(node)
                for pol, origin in sorted(reader.polarity(mask, scope, line), key=lambda po: po[0]):
                    if pol != want:
                        yield "KC103", node, _message(prog, mask, pol, origin, use)
                        break


def _demands(prog: Program, scope: Scope, node: ast.AST) -> Iterator[tuple[ast.AST, str, str]]:
    """(mask expression, the polarity this use assumes, how it is used) for the uses in ``node``."""
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
        for big, other in ((node.left, node.right), (node.right, node.left)):
            c = number(big)
            if c is None:
                continue
            if c <= -_BIG:
                yield other, MASKED, f"added as `mask * {keras_node_text(big, prog.source)}`"
            elif c >= _BIG and isinstance(other, ast.BinOp) and isinstance(other.op, ast.Sub) \
                    and number(other.right) == 1:
                yield other.left, KEEP, f"added as `(mask - 1) * {keras_node_text(big, prog.source)}`"
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Sub) and isinstance(node.right, ast.BinOp) \
            and isinstance(node.right.op, ast.Mult):
        for big, other in ((node.right.left, node.right.right), (node.right.right, node.right.left)):
            c = number(big)
            if c is not None and c >= _BIG:
                yield other, MASKED, f"subtracted as `{keras_node_text(big, prog.source)} * mask`"
    elif isinstance(node, ast.Call):
        name = prog.api(node.func)
        if name == "where" and len(node.args) == 3:
            cond, a, b = node.args
            if (number(b) or 0) <= -_BIG:
                yield cond, KEEP, "used as `where(mask, scores, -big)`"
            elif (number(a) or 0) <= -_BIG:
                yield cond, MASKED, "used as `where(mask, -big, scores)`"
            return
        value = prog.value(node.func, scope) if name is None else None
        if isinstance(value, Layer) and value.cls == "MultiHeadAttention":
            m = argument(node, None, "attention_mask")
            if m is not None:
                yield m, KEEP, "passed as attention_mask= of keras MultiHeadAttention (True = attend)"
        elif isinstance(value, Layer) and value.cls == "Softmax":
            m = argument(node, 1, "mask")
            if m is not None:
                yield m, KEEP, "passed as mask= of keras Softmax (True = keep)"


def _message(prog: Program, mask: ast.AST, pol: str, origin: ast.AST, use: str) -> str:
    text = keras_node_text(mask, prog.source)
    built = keras_node_text(origin, prog.source)
    source = f"from `{built}`, line {getattr(origin, 'lineno', '?')}"
    if text == built:
        source = f"line {getattr(origin, 'lineno', '?')}"
    if pol == KEEP:
        return (f"`{text}` holds 1 = keep ({source}) but is {use}, which treats 1 as masked: real tokens are "
                "blocked and padding attended; flip it (1 - mask) or build it with equal(x, 0)")
    return (f"`{text}` holds 1 = masked ({source}) but is {use}, which treats 1 as keep: padding is attended and "
            "real tokens blocked; flip it (1 - mask) or build it with not_equal(x, 0)")
