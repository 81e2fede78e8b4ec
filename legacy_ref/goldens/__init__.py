"""Golden arrays produced by running the legacy reference on CPU.

``python -m legacy_ref.goldens`` (re)writes every case as ``<name>.npz`` under
``tests/goldens``; ``--check`` regenerates them in memory and compares with the
committed files instead. The format is described in
:mod:`legacy_ref.goldens.format`; the cases themselves live next to the code
they exercise, in :mod:`legacy_ref.goldens.keras22` and
:mod:`legacy_ref.goldens.tutorial`.
"""

from __future__ import annotations

from legacy_ref.goldens.format import GoldenCase

__all__ = ["FAMILIES", "GoldenCase", "all_cases"]


FAMILIES = ("keras22", "tutorial")


def all_cases(families: tuple[str, ...] = FAMILIES) -> dict[str, GoldenCase]:
    """Run the legacy code and return every golden case by file stem.

    Args:
        families: which case modules to run (``"keras22"``, ``"tutorial"``).
    """
    import importlib

    cases: dict[str, GoldenCase] = {}
    for family in families:
        module = importlib.import_module(f"legacy_ref.goldens.{family}")
        for name, case in module.cases().items():
            if name in cases:
                raise ValueError(f"golden case {name!r} is defined twice")
            cases[name] = case
    return cases
