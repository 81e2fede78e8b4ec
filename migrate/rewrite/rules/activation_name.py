"""KM317: a module-level function named like a Keras 3 activation is registered.

keras-transformer defines its own ``gelu`` (the tanh approximation) and passes it as a
layer's activation. Keras 3 saves a plain function by its bare name, ``"gelu"``, and on
load resolves that name to *its* ``keras.activations.gelu`` (the exact erf form): the
reloaded model silently computes something else (keras-bert's encoder moved by 5.8e-4
after a ``.keras`` round trip). Keras 2 had no ``gelu`` of its own, so the clash is new.

A module-level function whose name is one of ``keras.activations``' (``gelu``, ``swish``,
``mish``, ``relu6``, ...) and that is not registered yet gets::

    @keras.saving.register_keras_serializable(package="<module name>")

so it is saved as ``"<module>>gelu"`` and loaded as itself wherever the module has been
imported. Nothing it computes changes.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import MODULE, Hook, Order, RuleSpec, Site
from migrate.rewrite.keras3_api import KERAS3_NAMES
from migrate.rewrite.registration import REGISTER, is_registered, package_name

RULE = "KM317"
#: keras.activations names that are functions of a tensor (not the lookup helpers).
_ACTIVATIONS = KERAS3_NAMES["keras.activations"] - {"get", "serialize", "deserialize"}

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(MODULE, chain=True),),
    after=(Order("functional_tf", "KM305 finishes the module's statements first; this rule only adds a "
                 "decorator to top-level functions"),),
)


def on_module(ctx: FileContext, site: Site) -> cst.Module | None:
    module: cst.Module = site.updated
    if not ctx.enabled(RULE):
        return None
    body = list(module.body)
    # Findings are placed at the original function (the updated nodes have no position).
    originals = {s.name.value: s for s in site.original.body if isinstance(s, cst.FunctionDef)}
    changed = False
    for i, stmt in enumerate(body):
        if not (isinstance(stmt, cst.FunctionDef) and stmt.name.value in _ACTIVATIONS) or is_registered(stmt):
            continue
        package = package_name(ctx.path)
        decorator = cst.Decorator(ctx.expr(f'keras.saving.{REGISTER}(package="{package}")'))
        body[i] = stmt.with_changes(decorators=[decorator, *stmt.decorators])
        changed = True
        name = stmt.name.value
        ctx.report(RULE, originals.get(name, stmt), f"{name}: registered as '{package}>{name}'; Keras 3 would "
                   f"save it as '{name}' and load its own keras.activations.{name} instead", fixed=True)
    return module.with_changes(body=body) if changed else None
