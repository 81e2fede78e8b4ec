"""KM204: ``K.batch_dot`` by the ranks the code shows.

With both ranks visible (a literal ``reshape``/``Input`` shape earlier in the
same function) the call becomes ``ops.matmul`` (plain 3-D batched product) or
an ``ops.einsum`` spelled out from the Keras 2 axis rules; otherwise it calls
``modern.compat.batch_dot``, a faithful ``keras.ops`` implementation that
decides at trace time. Never a silent ``ops.matmul`` guess.

Keras 2.2 code (the ``keras-2.2`` dialect) gets Keras 2.2.4's meaning, which differs
from 2.3's for operands of different ranks and of rank 4 or more: unless both ranks
are visible and equal to 2 or to 3 (where the two agree), the call becomes
``modern.compat.batch_dot_keras22``.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import ASSIGN, CALL, Hook, Order, RuleSpec, Site, owned
from migrate.rewrite.templating import BindError, absent, bind

PARAMS = ("x", "y", "axes=None")

SPEC = RuleSpec(
    ids=("KM204",),
    # ASSIGN: the rank of `x = K.reshape(...)`-style names, kept per function scope in ctx.ranks
    hooks=(Hook(CALL, names=("keras.backend.batch_dot",)), Hook(ASSIGN, check=True)),
    before=(Order("backend", "K.batch_dot needs the operands' ranks, not a template; with unknown ranks it "
                  "becomes compat.batch_dot, never a KM209 report"),),
)


def on_call(ctx: FileContext, site: Site) -> cst.BaseExpression | object:
    return owned(_rewrite(ctx, site.original, site.updated))


def on_assign(ctx: FileContext, site: Site) -> None:
    """Record (or forget) the rank of a name bound by ``name = <expr of literal shape>``."""
    node: cst.Assign = site.original
    if len(node.targets) == 1 and isinstance(node.targets[0].target, cst.Name):
        rank = rank_of_expr(ctx, node.value)
        name = node.targets[0].target.value
        if rank is not None:
            ctx.ranks[name] = rank
        else:
            ctx.ranks.pop(name, None)


def _literal_axes(node: cst.BaseExpression | None) -> list[int] | None | str:
    """``None`` literal -> None; int or pair -> list; anything else -> "unknown"."""
    if absent(node):
        return None
    value = _int(node)
    if value is not None:
        return [value, value]
    if isinstance(node, (cst.Tuple, cst.List)) and len(node.elements) == 2:
        vals = [_int(e.value) for e in node.elements]
        if all(v is not None for v in vals):
            return [int(v) for v in vals]  # type: ignore[arg-type]
    return "unknown"


def _int(node: cst.BaseExpression) -> int | None:
    if isinstance(node, cst.Integer):
        return int(node.value)
    if isinstance(node, cst.UnaryOperation) and isinstance(node.operator, cst.Minus) and isinstance(
            node.expression, cst.Integer):
        return -int(node.expression.value)
    return None


def einsum_for(x_rank: int, y_rank: int, axes: list[int] | None) -> tuple[str, bool] | None:
    """The einsum equation of Keras 2 ``batch_dot`` and whether to add a trailing axis."""
    if x_rank < 2 or y_rank < 2:
        return None
    if axes is None:
        axes = [x_rank - 1, y_rank - 1 if y_rank == 2 else y_rank - 2]
    a0, a1 = axes
    a0 = a0 + x_rank if a0 < 0 else a0
    a1 = a1 + y_rank if a1 < 0 else a1
    if a0 <= 0 or a1 <= 0 or a0 >= x_rank or a1 >= y_rank:
        return None
    letters = iter("ijklmnopqrstuvw")
    xs = ["b"] + [next(letters) for _ in range(x_rank - 1)]
    ys = ["b"] + [next(letters) for _ in range(y_rank - 1)]
    ys[a1] = xs[a0]
    out = ["b"] + [c for i, c in enumerate(xs) if i not in (0, a0)] + [
        c for i, c in enumerate(ys) if i not in (0, a1)]
    return f"{''.join(xs)},{''.join(ys)}->{''.join(out)}", x_rank == 2 and y_rank == 2


def _rewrite(ctx: FileContext, original: cst.Call, updated: cst.Call) -> cst.BaseExpression | None:
    if not ctx.enabled("KM204"):
        return None
    try:
        bound = bind(PARAMS, updated.args)
        obound = bind(PARAMS, original.args)
    except BindError as exc:
        ctx.report("KM204", original, f"K.batch_dot not converted: {exc}", fixed=False)
        return None
    axes = _literal_axes(bound.get("axes"))
    xr = ctx_rank(ctx, obound["x"])
    yr = ctx_rank(ctx, obound["y"])
    x = ctx.arg_code(bound["x"], atom=False)
    y = ctx.arg_code(bound["y"], atom=False)
    if ctx.source == "keras-2.2" and not (xr is not None and xr == yr and xr in (2, 3)):
        args = f"{x}, {y}"
        if "axes" in bound:
            args += f", axes={ctx.arg_code(bound['axes'], atom=False)}"
        ctx.report("KM204", original, "K.batch_dot -> modern.compat.batch_dot_keras22 (Keras 2.2 code: 2.2.4's "
                   "meaning, which differs from 2.3's for these ranks or ranks not visible here)", fixed=True)
        return ctx.expr(f"compat.batch_dot_keras22({args})")
    if xr is not None and yr is not None and axes != "unknown":
        spec = einsum_for(xr, yr, axes)  # type: ignore[arg-type]
        if spec is None:
            ctx.report("KM204", original, f"K.batch_dot with ranks {xr}, {yr} and axes {axes} is invalid",
                       fixed=False)
            return None
        eq, expand = spec
        if xr == yr == 3 and eq.split(",")[1][1] == eq.split(",")[0][2]:
            text = f"ops.matmul({x}, {y})"
        else:
            text = f'ops.einsum("{eq}", {x}, {y})'
            if expand:
                text = f"ops.expand_dims({text}, axis=-1)"
        new = ctx.expr(text)
        ctx.report("KM204", original, f"K.batch_dot on ranks {xr}x{yr} -> {text.split('(')[0]}", fixed=True)
        return new
    args = f"{x}, {y}"
    if "axes" in bound:
        args += f", axes={ctx.arg_code(bound['axes'], atom=False)}"
    new = ctx.expr(f"compat.batch_dot({args})")
    ctx.report("KM204", original,
               "K.batch_dot -> modern.compat.batch_dot (ranks not visible here; Keras 2 semantics kept)",
               fixed=True)
    return new


def ctx_rank(ctx: FileContext, node: cst.BaseExpression) -> int | None:
    ranks = ctx.ranks
    if isinstance(node, cst.Name):
        return ranks.get(node.value)
    return rank_of_expr(ctx, node)


def rank_of_expr(ctx: FileContext, node: cst.BaseExpression) -> int | None:
    """Rank of an expression whose shape is literal: reshape/Input/permute with a literal shape."""
    if not isinstance(node, cst.Call):
        return None
    q = ctx.qualified(node.func) or ""
    args = node.args
    if q in ("keras.backend.reshape", "keras.ops.reshape", "tensorflow.reshape") and len(args) >= 2:
        shape = args[1].value
        if isinstance(shape, (cst.Tuple, cst.List)):
            return len(shape.elements)
    if q in ("keras.backend.permute_dimensions",) and len(args) >= 2:
        pat = args[1].value
        if isinstance(pat, (cst.Tuple, cst.List)):
            return len(pat.elements)
    if q in ("keras.layers.Input", "keras.Input", "keras.engine.topology.Input",
             "keras.engine.input_layer.Input"):
        for a in args:
            if (a.keyword is None or a.keyword.value == "shape") and isinstance(a.value, (cst.Tuple, cst.List)):
                return len(a.value.elements) + 1
    return None
