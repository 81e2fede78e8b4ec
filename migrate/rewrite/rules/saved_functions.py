"""KM330: module-level functions that a ``.keras`` file names are registered.

Keras 2 programs hand plain functions to the model: ``Lambda(euclidean_distance,
output_shape=eucl_dist_output_shape)``, ``compile(loss=contrastive_loss,
metrics=[accuracy])`` (Keras 2.2.4's mnist_siamese, variational_autoencoder, ...).
Keras 3 saves such a function by its bare name, and ``keras.saving.load_model`` with
``safe_mode=True`` and no ``custom_objects`` fails: "Could not locate function
'euclidean_distance'". A module-level function passed by name as a ``Lambda``'s
``function``, ``output_shape`` or ``mask``, or as ``compile``'s ``loss`` or ``metrics``
(alone, in a list or tuple, or as a dict value), that is not registered yet gets::

    @keras.saving.register_keras_serializable(package="<module name>")

so it is saved as ``"<module>>name"`` and found by that name wherever the module has
been imported. Nothing it computes changes.

Reported, not fixed: a Python ``lambda`` given to ``Lambda(...)``. Keras 3 saves its
bytecode, which ``safe_mode=True`` refuses to load; define a module-level function and
pass it instead (then this rule registers it).
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import MODULE, Hook, Order, RuleSpec, Site, Triggers
from migrate.rewrite.registration import REGISTER, is_registered, package_name

RULE = "KM330"
_LAMBDA = "keras.layers.Lambda"
# Lambda(function, output_shape=None, mask=None, arguments=None): the callables among them.
_LAMBDA_ARGS = ("function", "output_shape", "mask")
# Model.compile(optimizer, loss, metrics, ...): the named functions a saved model keeps.
_COMPILE_ARGS = ("optimizer", "loss", "metrics")

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(MODULE, chain=True),),
    # ``compile`` alone is too common a word (``re.compile``) to make a file worth parsing; the
    # keywords are. A positional ``compile(opt, loss)`` is seen in any file that imports Keras.
    triggers=Triggers(names=frozenset({"Lambda"}), methods=frozenset({"Lambda"}),
                      keywords=frozenset({"loss", "metrics"})),
    after=(Order("activation_name", "KM317 registers activation-named functions first; this rule leaves a "
                 "registered function alone"),),
)


def _names(value: cst.BaseExpression) -> list[str]:
    """Bare names in a loss/metrics value: a name, a list/tuple of them, a dict's values."""
    if isinstance(value, cst.Name):
        return [value.value]
    if isinstance(value, (cst.List, cst.Tuple)):
        return [n for element in value.elements for n in _names(element.value)]
    if isinstance(value, cst.Dict):
        return [n for element in value.elements if isinstance(element, cst.DictElement)
                for n in _names(element.value)]
    return []


def _by_position(call: cst.Call, order: tuple[str, ...]) -> dict[str, cst.BaseExpression]:
    out: dict[str, cst.BaseExpression] = {}
    for i, arg in enumerate(call.args):
        if arg.star:
            break
        key = arg.keyword.value if arg.keyword is not None else (order[i] if i < len(order) else None)
        if key is not None:
            out[key] = arg.value
    return out


class _Uses(cst.CSTVisitor):
    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self.names: set[str] = set()
        self.lambdas: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if self.ctx.qualified(func) == _LAMBDA:
            args = _by_position(node, _LAMBDA_ARGS + ("arguments",))
            for key in _LAMBDA_ARGS:
                value = args.get(key)
                if isinstance(value, cst.Name):
                    self.names.add(value.value)
                elif isinstance(value, cst.Lambda) and key == "function":
                    self.lambdas.append(node)
        elif isinstance(func, cst.Attribute) and func.attr.value == "compile":
            args = _by_position(node, _COMPILE_ARGS)
            for key in ("loss", "metrics"):
                if key in args:
                    self.names.update(_names(args[key]))


def on_module(ctx: FileContext, site: Site) -> cst.Module | None:
    if not ctx.enabled(RULE):
        return None
    uses = _Uses(ctx)
    site.original.visit(uses)
    for call in uses.lambdas:
        ctx.report(RULE, call, "Lambda(lambda ...): Keras 3 saves the lambda's bytecode, which load_model(safe_mode="
                   "True) refuses; define a module-level function and pass it by name", fixed=False)
    if not uses.names:
        return None
    module: cst.Module = site.updated
    body = list(module.body)
    originals = {s.name.value: s for s in site.original.body if isinstance(s, cst.FunctionDef)}
    changed = False
    for i, stmt in enumerate(body):
        if not (isinstance(stmt, cst.FunctionDef) and stmt.name.value in uses.names) or is_registered(stmt):
            continue
        package = package_name(ctx.path)
        name = stmt.name.value
        decorator = cst.Decorator(ctx.expr(f'keras.saving.{REGISTER}(package="{package}")'))
        body[i] = stmt.with_changes(decorators=[decorator, *stmt.decorators])
        changed = True
        ctx.needs.add("keras")
        ctx.report(RULE, originals.get(name, stmt), f"{name}: registered as '{package}>{name}' so a .keras file "
                   "that uses it loads with safe_mode=True and no custom_objects", fixed=True)
    return module.with_changes(body=body) if changed else None
