"""Where a legacy ``keras.*`` name lives in Keras 3, from the tables and Keras 3's public names.

Core, shared by the rules that need to know what a legacy name becomes: the
namespace rule (KM101-KM103) rewrites it, the layer rules (KM303-KM310) and
the class index (``index.keras_base``) classify by it.
"""

from __future__ import annotations

from migrate.rewrite.keras3_api import KERAS3_NAMES, KERAS3_TOP
from migrate.rewrite.tables import (
    CHECKED_MODULES,
    KERAS3_REMOVED,
    LEGACY_ALIASES,
    MERGE_LAYER_NAMES,
    MERGE_REASON,
    MERGE_RULE,
    MODULE_ROWS_BY_LEGACY,
    RENAMED_NAMES,
)

_CHECKED = set(CHECKED_MODULES)


def map_name(canon: str) -> tuple[str | None, str, str]:
    """Keras 3 name for a canonical legacy ``keras.*`` name.

    Returns ``(target, rule, reason)``; ``target`` is None when Keras 3 has no such
    name (rule KM103), and equal to ``canon`` when nothing moved.
    """
    if canon == "keras" or not canon.startswith("keras."):
        return canon, "", ""
    if canon in MERGE_LAYER_NAMES:
        return None, MERGE_RULE, MERGE_REASON
    if canon in RENAMED_NAMES:
        return RENAMED_NAMES[canon], "KM101", "Keras 3 keeps only the long name of this function"
    if canon in LEGACY_ALIASES:
        return LEGACY_ALIASES[canon], "KM101", "Keras 3 dropped Keras 2.2's lower-case alias of this class"
    parts = canon.split(".")
    if parts[1] == "backend":
        return canon, "", ""
    if len(parts) == 2 and parts[1].startswith("__") and parts[1].endswith("__"):
        # `keras.__version__` (bert4keras compares it) and the other module attributes exist in Keras 3
        return canon, "", ""
    for i in range(len(parts), 1, -1):
        prefix = ".".join(parts[:i])
        row = MODULE_ROWS_BY_LEGACY.get(prefix)
        if row is None:
            continue
        rest = parts[i:]
        if not rest:
            return row.target, row.rule, row.reason
        sym = rest[0]
        if sym in row.symbols:
            tgt = row.symbols[sym]
            if not tgt:
                return None, "KM103", f"{prefix}.{sym} has no public Keras 3 equivalent"
        else:
            tgt = f"{row.target}.{sym}"
        target = ".".join([tgt, *rest[1:]])
        missing = _missing(target)
        if missing:
            return None, "KM103", _no_such_name(missing)
        if row.rule == "KM103":
            return None, "KM103", f"{canon}: {row.reason}"
        return target, row.rule, row.reason
    missing = _missing(canon)
    if missing:
        return None, "KM103", _no_such_name(missing)
    return canon, "", ""


def _no_such_name(missing: str) -> str:
    """The KM103 message for a name Keras 3 lacks: a function of the Keras 3 name only, so that a
    second run, which may reach the same name through a module import the first one moved
    (``from keras import layers as recurrent``), reports it in the same words (no second TODO)."""
    hint = KERAS3_REMOVED.get(missing)
    return f"Keras 3 has no {missing}" + (f": {hint}" if hint else "")


def _missing(target: str) -> str:
    parts = target.split(".")
    if len(parts) >= 2 and parts[0] == "keras" and parts[1] not in KERAS3_TOP:
        return f"keras.{parts[1]}"
    for i in range(len(parts) - 1, 1, -1):
        mod = ".".join(parts[:i])
        if mod in _CHECKED:
            if parts[i] not in KERAS3_NAMES.get(mod, frozenset()):
                return f"{mod}.{parts[i]}"
            return ""
    return ""
