"""KM311: the Keras 1 ``Merge`` layer and ``merge()`` function.

Keras 2 replaced them with one layer per mode; Keras 3 has neither. A call is
reported with the replacement for its literal ``mode`` (``tables.MERGE_MODES``);
a callable mode becomes a ``keras.layers.Lambda``. The ``Merge`` of Keras 1 also
merged whole models, which has no one-line equivalent, so nothing is rewritten.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, RuleSpec, Site
from migrate.rewrite.tables import MERGE_LAYER_NAMES as NAMES
from migrate.rewrite.tables import MERGE_MODES
from migrate.rewrite.tables import MERGE_RULE as RULE

#: the Keras 1 ``merge()`` function, whose name Keras 2 gave to the module ``keras.layers.merge``
FUNCTION = "keras.layers.merge"

SPEC = RuleSpec(ids=(RULE,), hooks=(Hook(CALL, names=(*NAMES, FUNCTION), check=True),))


def is_merge(qualified: str) -> bool:
    return qualified in NAMES


def on_call(ctx: FileContext, site: Site) -> None:
    """``Merge(...)``, and the Keras 1 ``merge(...)`` function (a module since Keras 2)."""
    qualified: str = site.qualified  # type: ignore[assignment]
    original: cst.Call = site.original
    if not ctx.enabled(RULE):
        return
    if not (is_merge(qualified) or (qualified == FUNCTION and any(
            a.keyword is not None and a.keyword.value == "mode" for a in original.args))):
        return
    mode = next((a.value for a in original.args if a.keyword is not None and a.keyword.value == "mode"), None)
    if mode is None:
        hint = MERGE_MODES["sum"]
        what = "mode 'sum' (the default)"
    elif isinstance(mode, cst.SimpleString) and isinstance(mode.evaluated_value, str):
        hint = MERGE_MODES.get(mode.evaluated_value, "")
        what = f"mode {mode.evaluated_value!r}"
    else:
        hint = "keras.layers.Lambda(mode_function)"
        what = "a callable mode"
    name = "Merge" if is_merge(qualified) else "merge()"
    use = f"use {hint}" if hint else "pick the Keras 3 merging layer by hand"
    ctx.report(RULE, original, f"{name} with {what} is gone in Keras 3: {use}", fixed=False)
