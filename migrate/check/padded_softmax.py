"""KC102: softmax over the keys of a padded sequence with no mask applied.

Attention scores ``q @ k^T`` over a batch of padded sequences have one column per
key position, padding included. A softmax over them without a mask gives the
padding positions weight: the output changes with the amount of padding, and
nothing raises. Keras 3 passes a mask into its own attention layers, but a
hand-written attention (``ops.matmul`` then ``ops.softmax``, or a ``Softmax``
layer on scores made with ops) gets none.

Flagged at the softmax (``softmax(x)`` from tf.nn/keras.ops/keras.backend/
keras.activations, or a ``Softmax()`` layer called without ``mask=``) when its
argument is attention scores (``batch_dot``/``einsum``, ``matmul`` or ``@`` with
the keys transposed, a ``Dot`` layer; possibly scaled; reached through simple
assignments; ``dot`` against a weight, e.g. a softmax over a vocabulary, is not) and

* the function computing it takes a mask argument (``mask``, ``*_mask``) that it
  never reads, or
* the scores are computed from the output of an ``Embedding(mask_zero=True)``,

and no mask enters the scores on the way (no name containing ``mask``, no
``where``, no large negative constant, no ``-inf``).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from migrate.check.program import Layer, Program, Scope, argument, literal_bool, number

IDS = ("KC102",)

# Products that pair positions with positions. ``dot``/``tensordot`` (a projection on a weight,
# e.g. scores over a vocabulary) are not attention scores; ``matmul`` is when its second
# operand is transposed over the last two axes of a batch of sequences.
_BATCHED = frozenset({"batch_dot", "einsum", "batch_matmul"})
_MATMUL = frozenset({"matmul"})
_TRANSPOSES = frozenset({"transpose", "permute_dimensions", "swapaxes", "moveaxis"})


def _pairs_positions(prog: Program, call: ast.Call) -> bool:
    if any(kw.arg in ("transpose_b", "adjoint_b") and literal_bool(kw.value) is True for kw in call.keywords):
        return True
    return len(call.args) > 1 and _keys_transposed(prog, call.args[1])


def _keys_transposed(prog: Program, node: ast.AST) -> bool:
    """``transpose(k, (0, 2, 1))``-like: a transpose of a rank-3+ tensor (a bare 2-D ``transpose(w)`` is not)."""
    if not isinstance(node, ast.Call) or prog.api(node.func) not in _TRANSPOSES:
        return False
    if prog.api(node.func) in ("swapaxes", "moveaxis"):
        return True
    perm = argument(node, 1, "perm", "axes", "pattern")
    return isinstance(perm, (ast.List, ast.Tuple)) and len(perm.elts) >= 3


def run(prog: Program) -> Iterator[tuple[str, ast.AST, str]]:
    for scope in prog.scopes:
        unused = _unused_mask_params(scope)
        for node in scope.nodes():
            scores = _softmax_input(prog, scope, node)
            if scores is None:
                continue
            trace = _Trace(prog, scope)
            trace.walk(scores, scope.line_of(node), 0)
            if not trace.scores or trace.masked:
                continue
            if unused:
                yield ("KC102", node,
                       (f"softmax over attention scores while the mask argument {unused[0]!r} is never used: padded "
                       "keys get weight; add (1 - mask) * -1e9 to the scores (or pass mask= to a Softmax layer)"))
            elif trace.padded is not None:
                yield ("KC102", node,
                       (f"softmax over attention scores of a mask_zero Embedding (line {trace.padded.lineno}) with no "
                       "mask: padded keys get weight; add (1 - mask) * -1e9 to the scores, pass mask= to a Softmax "
                       "layer, or use keras.layers.Attention/MultiHeadAttention"))


def _softmax_input(prog: Program, scope: Scope, node: ast.AST) -> ast.expr | None:
    if not isinstance(node, ast.Call) or not node.args:
        return None
    if prog.api(node.func) == "softmax":
        return node.args[0]
    layer = prog.value(node.func, scope) if prog.api(node.func) is None else None
    if isinstance(layer, Layer) and layer.cls == "Softmax" and argument(node, 1, "mask") is None:
        return node.args[0]
    return None


def _unused_mask_params(scope: Scope) -> list[str]:
    names = [p for p in scope.params if p == "mask" or p.endswith("_mask")]
    if not names:
        return []
    used = {n.id for n in scope.nodes() if isinstance(n, ast.Name)}
    return [p for p in names if p not in used]


class _Trace:
    """Follows an expression back through assignments in its scope."""

    def __init__(self, prog: Program, scope: Scope) -> None:
        self.prog = prog
        self.scope = scope
        self.scores = False
        self.masked = False
        self.padded: ast.AST | None = None
        self.seen: set[int] = set()

    def walk(self, node: ast.AST, line: int, depth: int) -> None:
        if depth > 30 or id(node) in self.seen or self.masked:
            return
        self.seen.add(id(node))
        prog = self.prog
        if isinstance(node, ast.Name):
            if "mask" in node.id.lower():
                self.masked = True
                return
            found = prog.lookup(node.id, self.scope, line)
            if found is not None and found[1] is self.scope:
                self.walk(found[0], found[2], depth + 1)  # type: ignore[arg-type]
            return
        if isinstance(node, ast.Attribute) and "mask" in node.attr.lower():
            self.masked = True
            return
        value = number(node)
        if value is not None and value <= -1e4:
            self.masked = True
            return
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult) and _keys_transposed(prog, node.right):
            self.scores = True
        if isinstance(node, ast.Call):
            name = prog.api(node.func)
            if name in _BATCHED or (name in _MATMUL and _pairs_positions(prog, node)):
                self.scores = True
            elif name == "where" or (isinstance(node.func, (ast.Name, ast.Attribute))
                                     and "mask" in (getattr(node.func, "id", "") or node.func.attr).lower()):
                self.masked = True
                return
            elif name is None:
                layer = prog.value(node.func, self.scope, line)
                if isinstance(layer, Layer) and layer.cls == "Dot":
                    self.scores = True
                if isinstance(layer, Layer) and layer.cls == "Embedding" and \
                        literal_bool(argument(layer.node, None, "mask_zero")) is True:
                    self.padded = layer.node
        for child in ast.iter_child_nodes(node):
            self.walk(child, line, depth + 1)
