"""Suite-wide configuration.

Two runtimes share this process: ``legacy_ref`` runs on ``tf_keras`` and
``modern``/migrated code on Keras 3 (``keras``). Nothing here sets
``TF_USE_LEGACY_KERAS``; a test checks that ``import keras`` stays Keras 3.

Tests under ``tests/modern`` are backend-agnostic: they compare ``modern``
with the committed golden arrays and never import TensorFlow or
``legacy_ref``. They get the ``backends`` marker so ``./dev test`` can run
them again under ``KERAS_BACKEND=jax`` and ``KERAS_BACKEND=torch``.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")


def _full_precision_matmuls() -> None:
    """Turn TF32 off so GPU matmuls are float32-exact enough for 1e-5 (DESIGN.md section 6)."""
    backend = os.environ.get("KERAS_BACKEND", "tensorflow")
    if backend == "jax":
        import jax

        jax.config.update("jax_default_matmul_precision", "highest")
    elif backend == "torch":
        import torch

        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False


_full_precision_matmuls()


def _hypothesis_profiles() -> None:
    """CI replays a fixed set of generated examples, so a run is reproducible;
    developers get fresh random examples each run (``HYPOTHESIS_PROFILE=dev``)."""
    from hypothesis import settings

    settings.register_profile("ci", derandomize=True, print_blob=True)
    settings.register_profile("dev", print_blob=True)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


_hypothesis_profiles()

TESTS_DIR = Path(__file__).resolve().parent
MODERN_DIR = TESTS_DIR / "modern"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if MODERN_DIR in Path(str(item.fspath)).resolve().parents:
            item.add_marker(pytest.mark.backends)
