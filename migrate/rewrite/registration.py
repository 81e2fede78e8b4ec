"""Registering a module's own functions for Keras 3 saving (shared by KM317 and KM330).

Keras 3 saves a plain function by its bare name and, on load, looks that name up
among its own objects first, so a user's function must be registered under a
package to round-trip (``register_keras_serializable(package=...)``). Two rules
add that decorator: KM317 (functions named like a Keras activation) and KM330
(functions passed to ``Lambda`` or ``compile``). What they share lives here, so
that rules never import each other.
"""

from __future__ import annotations

import re

import libcst as cst

REGISTER = "register_keras_serializable"
_EMPTY = cst.Module(body=[])


def package_name(path: str) -> str:
    """The package a module's functions are registered under: the module's name
    (a package's ``__init__`` is named after its directory)."""
    parts = [p for p in re.split(r"[\\/]", path) if p]
    name = re.sub(r"\.(py|ipynb)$", "", parts[-1]) if parts else ""
    if name == "__init__" and len(parts) > 1:
        name = parts[-2]
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
    return name or "Custom"


def is_registered(fn: cst.FunctionDef) -> bool:
    """Whether ``fn`` already carries a ``register_keras_serializable`` decorator."""
    return any(REGISTER in _EMPTY.code_for_node(d.decorator) for d in fn.decorators)
