"""KM319: a layer whose ``call(self, inputs, mask=None, **kwargs)`` gets its inputs' masks again.

Keras 2 passed the inputs' masks to every ``call`` that has a ``mask`` parameter. Keras
3 fills ``mask`` only when the call has exactly one tensor argument, and it counts the
``**kwargs`` of a call as one more when they hold only tensors or None: bert4keras's
``MultiHeadAttention`` is called as ``layer([q, k, v], a_bias=None)``, received no mask,
and attended to the padding (max diff 1.4e-3 against Keras 2).

A module's layer class whose ``call`` takes ``mask`` and ``**kwargs`` and that defines
no ``__call__`` gets one that fills ``mask`` from the inputs, as Keras 2 did, unless the
caller passes it::

    def __call__(self, inputs, *args, **kwargs):
        if "mask" not in kwargs and not args:
            kwargs["mask"] = keras.tree.map_structure(lambda t: getattr(t, "_keras_mask", None), inputs)
        return super().__call__(inputs, *args, **kwargs)

(``_keras_mask`` is where Keras 3 keeps a tensor's mask, symbolic or eager.) A call
without ``**kwargs`` already gets its mask and is left alone.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CLASS, Hook, Order, RuleSpec, Site
from migrate.rewrite.index import layer_class_members

RULE = "KM319"

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CLASS, chain=True),),
    after=(Order("build_sublayers", "both add methods; __call__ goes first in the class, after __init__"),
           Order("multi_output_subclass", "both add methods to a layer class; order fixed for stable output"),
           Order("build_shape_list", "KM316 rewrites tests inside build(); this rule only adds a method"),
           Order("mask_argument", "KM313 edits call()'s mask handling; this one only adds __call__")),
    before=(Order("get_config", "a method added before KM309 and KM312 complete the class"),),
)

_METHOD = (
    "def __call__(self, inputs, *args, **kwargs):\n"
    "    # Keras 2 passed the inputs' masks to call(mask=...); Keras 3 does not when call() also gets\n"
    "    # **kwargs (they count as a second tensor argument)\n"
    "    if \"mask\" not in kwargs and not args:\n"
    "        kwargs[\"mask\"] = keras.tree.map_structure(lambda t: getattr(t, \"_keras_mask\", None), inputs)\n"
    "    return super().__call__(inputs, *args, **kwargs)\n")


def _takes_mask_and_kwargs(fn: cst.FunctionDef) -> bool:
    params = fn.params
    names = [p.name.value for p in (*params.posonly_params, *params.params, *params.kwonly_params)]
    return "mask" in names and isinstance(params.star_kwarg, cst.Param)


def on_class(ctx: FileContext, site: Site) -> cst.ClassDef | None:
    members = layer_class_members(ctx, site, RULE)
    if members is None:
        return None
    info, updated = site.cls, site.updated
    assert info is not None
    methods = {m.name.value: m for m in members if isinstance(m, cst.FunctionDef)}
    if "__call__" in methods or "call" not in methods or not _takes_mask_and_kwargs(methods["call"]):
        return None
    at = members.index(methods["call"])
    method = ctx.statement(_METHOD).with_changes(leading_lines=[cst.EmptyLine(indent=False)])
    first = members[at]
    members.insert(at, method.with_changes(leading_lines=first.leading_lines))  # type: ignore[attr-defined]
    members[at + 1] = first.with_changes(leading_lines=[cst.EmptyLine(indent=False)])  # type: ignore[attr-defined]
    ctx.report(RULE, site.original, f"{info.name}: __call__ added that passes the inputs' masks to call() as Keras 2 "
               "did (Keras 3 passes none when call() also takes **kwargs)", fixed=True)
    return updated.with_changes(body=updated.body.with_changes(body=members))
