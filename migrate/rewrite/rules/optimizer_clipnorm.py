"""KM602: Keras 2.2's ``clipnorm=`` is Keras 3's ``global_clipnorm=``.

Keras 2.2.4's ``Optimizer.get_gradients`` computed *one* norm over all the gradients
(``sqrt(sum(sum(g**2)))``) and scaled every gradient by ``clipnorm / norm`` when that
norm reached ``clipnorm``. tf.keras 2 and Keras 3 clip each variable's gradient by its
own norm under that name; the Keras 2.2 behaviour is Keras 3's ``global_clipnorm``
(``g * c / max(norm, c)``: the same scaling, and the same "no clipping" for 0). So in
Keras 2.2 code the keyword is renamed; nothing else changes. tf.keras 2 code keeps
``clipnorm`` (it already meant per variable there); standalone code of unknown version
is reported.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, Order, RuleSpec, Site
from migrate.rewrite.tables import OPTIMIZERS

RULE = "KM602"

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CALL, prefixes=("keras.optimizers.",)),),
    after=(Order("optimizer_defaults", "KM409 pins defaults on the same constructor call and hands its result "
                 "on; the keyword renamed here is one it never touches"),),
)


def on_call(ctx: FileContext, site: Site) -> cst.Call | None:
    qualified: str = site.qualified  # type: ignore[assignment]
    original: cst.Call = site.original
    updated: cst.Call = site.updated
    if not ctx.enabled(RULE) or qualified.count(".") != 2 or qualified.rsplit(".", 1)[1] not in OPTIMIZERS:
        return None
    keywords = {a.keyword.value: i for i, a in enumerate(updated.args) if a.keyword is not None}
    if "clipnorm" not in keywords:
        return None
    name = qualified.rsplit(".", 1)[1]
    if ctx.source == "unknown":
        ctx.report(RULE, original, f"{name}(clipnorm=...) clipped the global norm of all gradients in Keras 2.2 "
                   "and clips each variable in tf.keras 2 and Keras 3; if this is Keras 2.2 code write "
                   "global_clipnorm= (or rerun with --from keras-2.2)", fixed=False, todo=False)
        return None
    if ctx.source != "keras-2.2":
        return None
    if "global_clipnorm" in keywords:
        ctx.report(RULE, original, f"{name}: both clipnorm= and global_clipnorm=; Keras 2.2's clipnorm was a "
                   "global norm: keep one global_clipnorm=", fixed=False)
        return None
    args = list(updated.args)
    i = keywords["clipnorm"]
    args[i] = args[i].with_changes(keyword=cst.Name("global_clipnorm"))
    ctx.report(RULE, original, f"{name}: clipnorm= -> global_clipnorm= (Keras 2.2 clipped the norm of all "
               "gradients together; Keras 3's clipnorm clips each variable)", fixed=True)
    return updated.with_changes(args=args)
