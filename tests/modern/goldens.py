"""Helpers for comparing ``modern`` with the committed golden arrays.

Backend-agnostic: imports neither TensorFlow nor ``legacy_ref`` (the golden
format module is plain NumPy and is loaded from its file), so these helpers
work on a GPU host that has only jax or torch.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "goldens"
_FORMAT_FILE = Path(__file__).resolve().parents[2] / "legacy_ref" / "goldens" / "format.py"

# Migration tolerance (DESIGN.md section 6): float32, outputs of order 1.
ATOL = 1e-5


def _format_module():
    name = "_golden_format"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, _FORMAT_FILE)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def load_golden(name: str):
    """Load ``tests/goldens/<name>.npz`` as a ``GoldenCase``."""
    path = GOLDEN_DIR / f"{name}.npz"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: run `python -m legacy_ref.goldens`")
    return _format_module().GoldenCase.load(path)


def max_abs_diff(actual, expected) -> float:
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    assert actual.shape == expected.shape, f"shape {actual.shape} != golden {expected.shape}"
    return float(np.max(np.abs(actual - expected), initial=0.0))


def assert_matches_golden(actual, expected, *, atol: float = ATOL, what: str = "output") -> float:
    """Assert ``max|actual - expected| <= atol`` and return the figure."""
    from keras import ops

    diff = max_abs_diff(ops.convert_to_numpy(actual), expected)
    assert diff <= atol, f"{what}: max abs diff {diff:.3g} > {atol:g}"
    return diff
