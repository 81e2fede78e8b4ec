"""KM210: ``K.constant``/``K.variable``/``K.zeros``/``K.ones``/``K.eye``.

Keras 2 made these ``floatx`` (float32) unless told otherwise; ``keras.ops``
infers the dtype from the value (``ops.convert_to_tensor(3)`` is int32,
``keras.Variable(np.zeros(2))`` float64), so the dtype is always written out:

* ``K.constant(v, dtype)`` -> ``ops.convert_to_tensor(v, dtype=...)``;
* ``K.variable(v, dtype, name)`` -> ``keras.Variable(v, dtype=..., name=...)``;
* ``K.zeros``/``K.ones(shape)`` returned a *variable* when the shape was fully
  static (a tensor otherwise): with a literal shape of positive ints they become
  ``keras.Variable(ops.zeros(shape, dtype=...))``; other shapes are reported;
* ``K.eye(n)`` always returned a variable: ``keras.Variable(ops.eye(n, dtype=...))``.

The dtype must be absent (floatx), a string literal, or a ``floatx()`` call;
another expression may be ``None`` at run time and is reported, as are
``K.constant(shape=...)``, ``K.variable(constraint=...)`` and names Keras 3
would reject (it forbids ``/`` in variable names). ``name`` of ``K.constant``
only named a TF op and is dropped.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, Order, RuleSpec, Site, owned
from migrate.rewrite.templating import BindError, absent, bind

RULE = "KM210"
PARAMS: dict[str, tuple[str, ...]] = {
    "constant": ("value", "dtype=None", "shape=None", "name=None"),
    "variable": ("value", "dtype=None", "name=None", "constraint=None"),
    "zeros": ("shape", "dtype=None", "name=None"),
    "ones": ("shape", "dtype=None", "name=None"),
    "eye": ("size", "dtype=None", "name=None"),
}
_PREFIX = "keras.backend."

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CALL, names=tuple(_PREFIX + fn for fn in PARAMS)),),
    before=(Order("backend", "the constructors pin the floatx dtype and tell variables from tensors by the "
                  "shape, which a template row cannot express"),),
)


def on_call(ctx: FileContext, site: Site) -> cst.BaseExpression | object:
    return owned(_rewrite(site.qualified[len(_PREFIX):], ctx, site.original, site.updated))


_FLOATX = ("keras.backend.floatx", "keras.config.floatx")


def _dtype(ctx: FileContext, node: cst.BaseExpression | None, new: cst.BaseExpression | None) -> str:
    """The dtype argument (``node`` as written, ``new`` as rewritten) as code, floatx when absent.

    An expression that may be None at run time (bert4keras's ``K.constant(x,
    dtype=dtype(y))``) keeps Keras 2's rule, floatx for None, as ``expr or
    keras.config.floatx()`` (a dtype is never falsy otherwise)."""
    if absent(node) or new is None:
        return "keras.config.floatx()"
    if isinstance(node, cst.SimpleString):
        return ctx.arg_code(new, atom=False)
    if isinstance(node, cst.Call) and not node.args and ctx.qualified(node.func) in _FLOATX:
        return ctx.arg_code(new, atom=False)
    if isinstance(node, cst.Name) and node.value == "None":
        return "keras.config.floatx()"
    return f"{ctx.arg_code(new, atom=True)} or keras.config.floatx()"


def _name(ctx: FileContext, node: cst.BaseExpression | None) -> tuple[bool, str]:
    """(usable, ``, name=...`` suffix)."""
    if absent(node):
        return True, ""
    if isinstance(node, cst.SimpleString) and isinstance(node.evaluated_value, str) and "/" not in node.evaluated_value:
        return True, f", name={ctx.arg_code(node, atom=False)}"
    return False, ""


def _static_shape(node: cst.BaseExpression) -> bool:
    if isinstance(node, cst.Integer):
        return int(node.value, 0) > 0
    if isinstance(node, (cst.Tuple, cst.List)) and node.elements:
        return all(isinstance(e, cst.Element) and isinstance(e.value, cst.Integer) and int(e.value.value, 0) > 0
                   for e in node.elements)
    return False


def _rewrite(fn: str, ctx: FileContext, original: cst.Call, updated: cst.Call) -> cst.BaseExpression | None:
    if not ctx.enabled(RULE):
        return None
    try:
        bound = bind(PARAMS[fn], updated.args)
        written = bind(PARAMS[fn], original.args)
    except BindError as exc:
        ctx.report(RULE, original, f"K.{fn}(...) not converted: {exc}", fixed=False)
        return None
    dtype = _dtype(ctx, written.get("dtype"), bound.get("dtype"))
    if fn == "constant":
        shape = bound.get("shape")
        if not absent(shape):
            ctx.report(RULE, original, "K.constant(shape=...) broadcast the value; use ops.full(shape, value, "
                       "dtype=...) or ops.reshape by hand", fixed=False)
            return None
        text = f"ops.convert_to_tensor({ctx.arg_code(bound['value'], atom=False)}, dtype={dtype})"
        return _done(ctx, original, fn, text, "a tensor, floatx unless a dtype is given")
    ok, name = _name(ctx, bound.get("name"))
    if not ok:
        ctx.report(RULE, original, f"K.{fn}(name=...): pass a literal name without '/' (Keras 3 rejects '/' "
                   "in variable names) or none", fixed=False)
        return None
    if fn == "variable":
        constraint = bound.get("constraint")
        if not absent(constraint):
            ctx.report(RULE, original, "K.variable(constraint=...): keras.Variable takes no constraint; apply it "
                       "after each update by hand or use Layer.add_weight(constraint=...)", fixed=False)
            return None
        text = f"keras.Variable({ctx.arg_code(bound['value'], atom=False)}, dtype={dtype}{name})"
        return _done(ctx, original, fn, text, "a variable, floatx unless a dtype is given")
    if fn == "eye":
        size = bound["size"]
        if isinstance(size, (cst.Tuple, cst.List)) and len(size.elements) == 2:
            dims = ", ".join(ctx.arg_code(e.value, atom=False) for e in size.elements)
        else:
            dims = ctx.arg_code(size, atom=False)
        text = f"keras.Variable(ops.eye({dims}, dtype={dtype}){name})"
        return _done(ctx, original, fn, text, "K.eye returned a variable")
    shape = bound["shape"]
    if not _static_shape(shape):
        ctx.report(RULE, original, f"K.{fn} returned a variable when the shape was static and a tensor "
                   f"otherwise: use ops.{fn}(shape, dtype=...) for a tensor or keras.Variable(ops.{fn}(...)) for "
                   "state", fixed=False)
        return None
    text = f"keras.Variable(ops.{fn}({ctx.arg_code(shape, atom=False)}, dtype={dtype}){name})"
    return _done(ctx, original, fn, text, f"K.{fn} of a static shape returned a variable")


def _done(ctx: FileContext, original: cst.Call, fn: str, text: str, why: str) -> cst.BaseExpression:
    new = ctx.expr(text)
    ctx.report(RULE, original, f"K.{fn} -> {text.split('(')[0]} ({why})", fixed=True)
    return new
