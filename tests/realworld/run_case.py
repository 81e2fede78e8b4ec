"""One side of the real-world suite for one library, run in its own process.

    python -m tests.realworld.run_case legacy LIBRARY PACKAGES OUT
    python -m tests.realworld.run_case modern LIBRARY PACKAGES OUT ORACLE
    python -m tests.realworld.run_case modern-many PACKAGES SPEC.json

``legacy`` is the oracle: the caller sets ``TF_USE_LEGACY_KERAS=1``, so the library's
``from tensorflow import keras`` means tf_keras and it runs as published (PACKAGES is an
unmodified copy of the installed trees). For every case of LIBRARY it builds the model
with fixed seeds, predicts on the case's fixed batch and saves ``weights.h5`` (weights
only), ``full.h5`` (full model) and ``oracle.npz`` under ``OUT/<case>/``.

``modern`` runs in a fresh Keras 3 process (TensorFlow backend) on the rewritten copy in
PACKAGES: it builds the same models, loads the oracle's ``weights.h5`` with Keras 3's
``load_weights``, predicts and compares, then trains one step, saves ``m.keras``, reloads
it with ``keras.saving.load_model`` (no ``custom_objects``, ``safe_mode=True``) and
predicts again. Each stage's outcome goes to ``OUT/<case>/modern.json``; the first
failing stage stops that case with its exact error, the other cases carry on.

The package copies are *appended* to ``sys.path``: keras-bert's distribution also
installs a top-level ``tests`` package, which must never shadow ours (the copies only
hold the libraries' own top-level packages anyway).
"""

from __future__ import annotations

import json
import os
import random
import re
import sys
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from tests.realworld.cases import TRAIN_STEPS, Case, case_batch, cases_of

TOLERANCE = 1e-5


def slug(case: Case) -> str:
    """A directory name for a case (model names hold parentheses and commas)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", case.name).strip("_")


def _seed(tf: Any) -> None:
    random.seed(0)
    np.random.seed(0)
    tf.random.set_seed(0)


def _as_list(value: Any) -> list[np.ndarray]:
    if isinstance(value, (list, tuple)):
        return [np.asarray(v) for v in value]
    return [np.asarray(value)]


def _max_diff(a: list[np.ndarray], b: list[np.ndarray]) -> float:
    if len(a) != len(b):
        raise AssertionError(f"{len(a)} outputs against {len(b)}")
    worst = 0.0
    for x, y in zip(a, b):
        if x.shape != y.shape:
            raise AssertionError(f"output shape {x.shape} against {y.shape}")
        worst = max(worst, float(np.max(np.abs(x.astype("float64") - y.astype("float64")))) if x.size else 0.0)
    return worst


def _error(exc: BaseException) -> str:
    """The exact error in one line: type, message and the innermost frame of the
    library's (or Keras's) code that raised it."""
    frames = traceback.extract_tb(exc.__traceback__)
    where = f" [{Path(frames[-1].filename).name}:{frames[-1].lineno}]" if frames else ""
    message = " ".join(str(exc).split())
    if len(message) > 400:
        message = message[:400] + "..."
    return f"{type(exc).__name__}: {message}{where}"


def legacy(library: str, out: Path) -> int:
    import tensorflow as tf

    keras = tf.keras
    if not keras.__name__.startswith("tf_keras"):
        raise SystemExit("the legacy oracle needs TF_USE_LEGACY_KERAS=1 (tf.keras must be tf_keras)")
    from legacy_ref import era

    era.install()  # what the libraries' era accepted and tf_keras 2.21 removed (documented there)
    status = 0
    for case in cases_of(library):
        where = out / slug(case)
        where.mkdir(parents=True, exist_ok=True)
        record: dict[str, Any] = {"case": case.key}
        try:
            _seed(tf)
            model = case.build(keras)
            batch = case_batch(case)
            if case.optimizer is not None:
                from legacy_ref.optimizers import library_optimizer  # the OptimizerV2 era shim

                model.save_weights(str(where / "initial.h5"))
                spec, kwargs = case.optimizer
                _train(model, library_optimizer(spec)(**kwargs), batch)
            outputs = _as_list(model.predict(batch, verbose=0))
            model.save_weights(str(where / "weights.h5"))
            model.save(str(where / "full.h5"))
            np.savez(
                where / "oracle.npz",
                **{f"x{i}": x for i, x in enumerate(batch)},
                **{f"y{i}": y for i, y in enumerate(outputs)},
            )
            record["ok"] = True
        except Exception as exc:  # a legacy failure is a row of the table, not a crash
            record.update(ok=False, error=_error(exc))
            status = 1
        (where / "legacy.json").write_text(json.dumps(record))
    return status


def _train(model: Any, optimizer: Any, batch: list[np.ndarray]) -> None:
    """``TRAIN_STEPS`` steps of mse towards zeros with ``optimizer``, the same on both sides."""
    model.compile(optimizer=optimizer, loss="mse")
    targets = [np.zeros(out.shape, "float32") for out in _as_list(model.predict(batch, verbose=0))]
    for _ in range(TRAIN_STEPS):
        model.train_on_batch(batch, targets if len(targets) > 1 else targets[0])


def _library_class(spec: str) -> Any:
    """``module:Class`` imported from the (rewritten) library copy on sys.path."""
    import importlib

    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _outputs_of(oracle: Path) -> tuple[list[np.ndarray], list[np.ndarray]]:
    data = np.load(oracle)
    xs = [data[f"x{i}"] for i in range(sum(k.startswith("x") for k in data.files))]
    ys = [data[f"y{i}"] for i in range(sum(k.startswith("y") for k in data.files))]
    return xs, ys


def modern_case(case: Case, oracle_dir: Path, work: Path) -> dict[str, Any]:
    """Run the modern stages of one case; the record names the first stage that failed."""
    import keras

    record: dict[str, Any] = {"case": case.key}
    stage = "build"
    try:
        keras.utils.set_random_seed(0)
        model = case.build(keras)
        record["build"] = True
        stage = "load"
        xs, expected = _outputs_of(oracle_dir / "oracle.npz")
        if case.optimizer is None:
            model.load_weights(str(oracle_dir / "weights.h5"))
            record["load"] = True
        else:  # the same start, then the library's optimizer as rewritten
            model.load_weights(str(oracle_dir / "initial.h5"))
            record["load"] = True
            stage = "train"
            spec, kwargs = case.optimizer
            _train(model, _library_class(spec)(**kwargs), xs)
        stage = "predict"
        got = _as_list(model.predict(xs, verbose=0))
        record["max_diff"] = _max_diff(got, expected)
        record["predict"] = record["max_diff"] <= TOLERANCE
        stage = "fit"
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=0.01), loss=["mse"] * len(expected))
        targets = [np.zeros_like(y) for y in expected]
        model.train_on_batch(xs, targets if len(targets) > 1 else targets[0])
        after = _as_list(model.predict(xs, verbose=0))
        record["fit"] = bool(np.all([np.all(np.isfinite(a)) for a in after]))
        stage = "round trip"
        path = work / "m.keras"
        model.save(str(path))
        reloaded = keras.saving.load_model(str(path), safe_mode=True)
        again = _as_list(reloaded.predict(xs, verbose=0))
        record["roundtrip_diff"] = _max_diff(again, after)
        record["roundtrip"] = record["roundtrip_diff"] <= TOLERANCE
    except Exception as exc:
        record["failed_stage"] = stage
        record["error"] = _error(exc)
    return record


def modern(library: str, out: Path, oracle: Path) -> int:
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras

    if not keras.__version__.startswith("3."):
        raise SystemExit(f"the modern side needs Keras 3, got {keras.__version__}")
    status = 0
    for case in cases_of(library):
        where = out / slug(case)
        where.mkdir(parents=True, exist_ok=True)
        legacy_record = json.loads((oracle / slug(case) / "legacy.json").read_text())
        if not legacy_record.get("ok"):
            record = {"case": case.key, "failed_stage": "legacy oracle", "error": legacy_record.get("error")}
        else:
            record = modern_case(case, oracle / slug(case), where)
        status |= "error" in record
        (where / "modern.json").write_text(json.dumps(record))
    return status


def modern_many(spec: Path) -> int:
    """The modern side for several libraries in one process (one Keras import): the
    backend passes of the suite (``KERAS_BACKEND=jax|torch``). SPEC is a JSON list of
    ``{"library", "out", "oracle"}``."""
    status = 0
    for job in json.loads(spec.read_text()):
        status |= modern(job["library"], Path(job["out"]), Path(job["oracle"]))
    return status


def main(argv: list[str]) -> int:
    side, *rest = argv
    packages = rest[1] if side != "modern-many" else rest[0]
    sys.path.append(packages)
    # What the libraries import that is not Keras code (regex, sentencepiece): installed
    # apart by ./dev from library-deps.txt, never rewritten.
    sys.path.append(str(Path(sys.prefix) / "realworld-deps"))
    if side == "legacy":
        return legacy(rest[0], Path(rest[2]))
    if side == "modern":
        return modern(rest[0], Path(rest[2]), Path(rest[3]))
    if side == "modern-many":
        return modern_many(Path(rest[1]))
    raise SystemExit(f"unknown side {side!r}: legacy, modern or modern-many")


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
