"""The legacy optimizers' and callbacks' training trajectories, made on tf_keras at test time.

:mod:`legacy_ref.optimizers` trains a small model with the legacy optimizer
(keras-bert's ``AdamWarmup``, keras-rectified-adam's ``RAdam``, tf_keras'
``LearningRateScheduler``, ...) in a subprocess with ``TF_USE_LEGACY_KERAS=1``;
this module runs it once per set of cases and caches the arrays under
``<venv>/optimizer-oracle/<key>.npz``, where the key hashes everything that
decides them (the runner's source, the cases, the installed tf_keras and
library versions). Nothing here is committed as a golden; the tests in this
directory then train the same model with :mod:`modern` on the current Keras 3
backend (tensorflow, jax or torch) and compare.

This process never imports TensorFlow: the oracle is a subprocess, so the
jax and torch runs reuse the tf-produced arrays from the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
RUNNER = ROOT / "legacy_ref" / "optimizers.py"
CACHE = Path(sys.prefix) / "optimizer-oracle"
REALWORLD = Path(sys.prefix) / "realworld"
STEPS = 20
# TensorFlow's import plus a few 20-step runs take seconds; this only stops a hang.
TIMEOUT_S = 300


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def _library_versions() -> list[str]:
    return sorted(p.name for p in REALWORLD.glob("*.dist-info")) if REALWORLD.is_dir() else []


def trajectories(cases: list[dict], needs: tuple[str, ...] = ()) -> dict[str, np.ndarray]:
    """The legacy arrays for ``cases`` (made now, or read from the cache).

    ``needs`` names top-level packages in ``<venv>/realworld`` the cases import;
    without them (or without tf_keras) the calling test is skipped with the reason.
    """
    with np.load(oracle_file(cases, needs)) as data:
        return {name: data[name] for name in data.files}


def saved_model(cases: list[dict], name: str, needs: tuple[str, ...] = ()) -> Path:
    """The HDF5 file case ``name`` (with ``"save_after"``) saved in the middle of its legacy run."""
    path = oracle_file(cases, needs).with_suffix("") / f"{name}.h5"
    assert path.exists(), f"the legacy run saved no {path.name}"
    return path


def oracle_file(cases: list[dict], needs: tuple[str, ...] = ()) -> Path:
    """The cached ``.npz`` of the legacy run of ``cases``, made first if absent."""
    if _version("tf_keras") is None or _version("tensorflow") is None:
        pytest.skip("the legacy reference needs tensorflow and tf_keras (not installed here)")
    absent = [name for name in needs if not (REALWORLD / name).is_dir()]
    if absent:
        pytest.skip(f"{', '.join(absent)} not installed in {REALWORLD} (./dev test installs the real-world libraries)")
    key_source = json.dumps({
        "runner": RUNNER.read_text(encoding="utf-8"),
        "cases": cases,
        "steps": STEPS,
        "tf_keras": _version("tf_keras"),
        "tensorflow": _version("tensorflow"),
        "libraries": _library_versions(),
    }, sort_keys=True)
    key = hashlib.sha256(key_source.encode()).hexdigest()[:16]
    out = CACHE / f"{key}.npz"
    if not out.exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        spec = CACHE / f"{key}.json"
        spec.write_text(json.dumps(cases))
        env = dict(os.environ, TF_USE_LEGACY_KERAS="1", CUDA_VISIBLE_DEVICES="-1", TF_CPP_MIN_LOG_LEVEL="2")
        env.pop("KERAS_BACKEND", None)
        done = subprocess.run([sys.executable, "-m", "legacy_ref.optimizers", str(spec), str(out), str(STEPS)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT_S, check=False)
        if done.returncode != 0:
            raise AssertionError(f"the legacy reference failed:\n{done.stderr[-4000:]}")
    return out


def modern_model(arrays: dict[str, np.ndarray]):
    """The model of :func:`legacy_ref.optimizers.problem` in Keras 3, with the same initial weights."""
    import keras

    inputs = arrays["x"].shape[-1]
    model = keras.Sequential([
        keras.Input((inputs,)),
        keras.layers.Dense(arrays["bias_0"].shape[0], activation="tanh"),
        keras.layers.Dense(arrays["bias_1"].shape[0]),
    ])
    model.set_weights([arrays["kernel_0"], arrays["bias_0"], arrays["kernel_1"], arrays["bias_1"]])
    return model


def train(model, optimizer, arrays: dict[str, np.ndarray], jit_compile=False) -> np.ndarray:
    """``train_on_batch`` over the shared batches; the loss of every step (before its update)."""
    model.compile(optimizer=optimizer, loss="mse", jit_compile=jit_compile)
    x, y = arrays["x"], arrays["y"]
    return np.asarray([float(model.train_on_batch(x[i], y[i])) for i in range(x.shape[0])], np.float64)


def compare(name: str, arrays: dict[str, np.ndarray], losses: np.ndarray, weights: list[np.ndarray]) -> tuple[float, float]:
    """Max relative loss difference per step and max absolute weight difference; asserts both <= 1e-5."""
    legacy_losses = arrays[f"{name}/loss"]
    rel = float(np.max(np.abs(losses - legacy_losses) / np.abs(legacy_losses)))
    diff = max(float(np.max(np.abs(w - arrays[f"{name}/weight_{i}"]))) for i, w in enumerate(weights))
    # The optimizer must actually have moved the weights, or equality says nothing.
    moved = max(float(np.max(np.abs(arrays[f"{name}/weight_{i}"] - w0))) for i, w0 in
                enumerate([arrays["kernel_0"], arrays["bias_0"], arrays["kernel_1"], arrays["bias_1"]]))
    assert moved > 1e-3, f"{name}: the legacy run barely moved the weights ({moved:.3g})"
    assert rel <= 1e-5, f"{name}: losses differ by {rel:.3g} relative (per step: {losses - legacy_losses})"
    assert diff <= 1e-5, f"{name}: weights after {len(losses)} steps differ by {diff:.3g}"
    return rel, diff
