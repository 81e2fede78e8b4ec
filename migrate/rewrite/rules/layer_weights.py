"""KM310: ``weights=[...]`` in a layer constructor.

Keras 2 accepted initial weights on every layer; in Keras 3 only the layers in
``tables.LAYERS_WITH_WEIGHTS_ARG`` (``Embedding``, ``Bidirectional``) take them,
any other raises. There is no local rewrite (the weights are set once the layer
is built), so the spot is reported with what to do.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, RuleSpec, Site
from migrate.rewrite.symbols import map_name
from migrate.rewrite.tables import LAYERS_WITH_WEIGHTS_ARG

RULE = "KM310"

SPEC = RuleSpec(ids=(RULE,), hooks=(Hook(CALL, prefixes=("keras.layers.", "keras.engine", "keras.legacy"), check=True),))


def on_call(ctx: FileContext, site: Site) -> None:
    qualified: str = site.qualified  # type: ignore[assignment]
    original: cst.Call = site.original
    if not ctx.enabled(RULE) or not any(a.keyword is not None and a.keyword.value == "weights"
                                        for a in original.args):
        return
    target = map_name(qualified)[0]
    if target is None or not target.startswith("keras.layers."):
        return
    layer = target.rsplit(".", 1)[1]
    if layer in LAYERS_WITH_WEIGHTS_ARG:
        return
    ctx.report(RULE, original, f"{layer}(weights=...) is not accepted by Keras 3: build the layer (or the "
               "model) first, then call layer.set_weights(...) with the same list", fixed=False)
