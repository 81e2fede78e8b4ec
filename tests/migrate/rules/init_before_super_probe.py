"""Probe for KM325's tables: what a base ``__init__`` does to an attribute set before it.

For each attribute of ``init_before_super._OVERWRITTEN`` and ``_DIFFERENT``, a subclass of
the base it names sets a sentinel on ``self`` and then calls the base ``__init__``; the
probe reads the attribute back: ``kept`` (the sentinel survived), ``overwritten``, or
``refused`` (setting it raised). ``python -m tests.migrate.rules.init_before_super_probe``
runs it on tf_keras (the test starts it with ``TF_USE_LEGACY_KERAS=1``) and prints JSON.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from migrate.rewrite.rules.init_before_super import _DIFFERENT, _OVERWRITTEN


def probe(k: Any) -> dict[str, str]:
    bases = {"layer": (k.layers.Layer, ()), "wrapper": (k.layers.Wrapper, (k.layers.Dense(2),)),
             "model": (k.Model, ())}
    sentinel = object()
    out = {}
    for attr in [*_OVERWRITTEN, *_DIFFERENT]:
        base, args = bases[_OVERWRITTEN.get(attr, ("layer",))[0]]

        class Probe(base):  # type: ignore[misc, valid-type]
            def __init__(self, *a: Any, name: str = attr) -> None:
                self.refused = False
                try:
                    setattr(self, name, sentinel)
                except Exception:  # noqa: BLE001 - which error does not matter, that it refused does
                    self.refused = True
                super().__init__(*a)

        made = Probe(*args)
        out[attr] = "refused" if made.refused else "kept" if getattr(made, attr) is sentinel else "overwritten"
    return out


if __name__ == "__main__":
    import tf_keras

    json.dump(probe(tf_keras), sys.stdout)
