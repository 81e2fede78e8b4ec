"""KM214: ``K.update(v, x)`` -> ``v.assign(x)``; ``self.add_update(...)`` of one -> the assignment.

Keras 2's ``K.update``/``K.update_add``/``K.update_sub`` returned the assignment op of a
variable (``tf.compat.v1.assign(v, x)`` and friends), which a layer handed to
``self.add_update(op, inputs)`` so that graph-mode Keras ran it with the layer.
Keras 3 variables assign themselves (``v.assign(x)``, ``assign_add``, ``assign_sub``)
and there is no ``add_update``: inside ``call`` the assignment runs where it is written,
in eager mode and in a traced function alike (keras-transformer-xl's ``Memory`` layer
keeps its memory this way, and keras-xlnet builds on it). So::

    self.add_update(K.update(self.memory, new_memory), inputs)   # Keras 2
    self.memory.assign(new_memory)                                # Keras 3

``add_update`` of anything else (a list of ops, an op built elsewhere) is reported
with what to write; so is a ``K.update`` given other arguments.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, KEEP, REFERENCE, Hook, Order, RuleSpec, Site, Triggers

RULE = "KM214"
#: Keras 2 backend function -> the Keras 3 variable method with its meaning.
METHODS = {
    "keras.backend.update": "assign",
    "keras.backend.update_add": "assign_add",
    "keras.backend.update_sub": "assign_sub",
}
_HINT = ("assign the variable where the update was made (`v.assign(x)`, `v.assign_add(x)`, `v.assign_sub(x)`): "
         "Keras 3 has no add_update and runs an assignment in call() where it is written")

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(
        Hook(CALL, names=tuple(METHODS)),
        Hook(REFERENCE, names=tuple(METHODS)),
        Hook(CALL, methods=("add_update",)),
    ),
    triggers=Triggers(methods=frozenset({"add_update"})),
    before=(Order("backend", "K.update/update_add/update_sub have an exact Keras 3 form; the generic backend rule "
                  "would report them as KM209"),
            Order("positional_call_args", "self.add_update(...) is not a layer call whose arguments it would "
                  "name; it goes away here")),
)


def _assignment(ctx: FileContext, call: cst.Call, qualified: str) -> cst.BaseExpression | None:
    args = list(call.args)
    names = ("x", "new_x") if qualified.endswith(".update") else ("x", "increment" if "add" in qualified
                                                                  else "decrement")
    if any(a.star for a in args) or len(args) != 2:
        return None
    given: dict[str, cst.BaseExpression] = {}
    for index, arg in enumerate(args):
        key = arg.keyword.value if arg.keyword is not None else names[index]
        if key not in names or key in given:
            return None
        given[key] = arg.value
    variable = ctx.arg_code(given[names[0]], atom=True)
    value = ctx.code(given[names[1]]).strip()
    return cst.parse_expression(f"{variable}.{METHODS[qualified]}({value})")


def _is_assignment(node: cst.BaseExpression) -> bool:
    return (isinstance(node, cst.Call) and isinstance(node.func, cst.Attribute)
            and node.func.attr.value in ("assign", "assign_add", "assign_sub"))


def on_call(ctx: FileContext, site: Site) -> cst.BaseExpression | object | None:
    if not ctx.enabled(RULE):
        return None
    call: cst.Call = site.updated
    if site.qualified in METHODS:
        new = _assignment(ctx, call, site.qualified)
        if new is None:
            ctx.report(RULE, site.original, f"K.{site.qualified.rpartition('.')[2]} with these arguments: {_HINT}",
                       fixed=False)
            return KEEP
        ctx.report(RULE, site.original, f"K.{site.qualified.rpartition('.')[2]}(v, x) -> v."
                   f"{METHODS[site.qualified]}(x)", fixed=True)
        return new
    # <expr>.add_update(...): only a layer's own (self.add_update) is Keras's.
    func = call.func
    if not (isinstance(func, cst.Attribute) and isinstance(func.value, cst.Name) and func.value.value == "self"):
        return None
    args = list(call.args)
    first = args[0] if args else None
    rest_ok = all(a.keyword is None or a.keyword.value == "inputs" for a in args[1:]) and len(args) <= 2
    if first is not None and not first.star and first.keyword is None and rest_ok and _is_assignment(first.value):
        # The children are rewritten first, so K.update(...) is already v.assign(...) here.
        ctx.report(RULE, site.original, "self.add_update(v.assign(x)) -> v.assign(x): Keras 3 has no add_update",
                   fixed=True)
        return first.value.with_changes(lpar=(), rpar=())
    ctx.report(RULE, site.original, f"self.add_update(...) is not Keras 3 API: {_HINT}", fixed=False)
    return KEEP


def on_reference(ctx: FileContext, site: Site) -> object | None:
    if not ctx.enabled(RULE):
        return None
    if not site.called:
        name = (site.qualified or "").rpartition(".")[2]
        ctx.report(RULE, site.original, f"K.{name} used as a value: {_HINT}", fixed=False)
    return KEEP  # the call is on_call's
