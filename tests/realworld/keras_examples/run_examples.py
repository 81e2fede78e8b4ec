"""One side of the examples tier for several Keras 2.2.4 example scripts, in one process.

    python -m tests.realworld.keras_examples.run_examples legacy JOBS.json
    python -m tests.realworld.keras_examples.run_examples modern JOBS.json

``JOBS.json`` lists ``{"name", "script", "oracle", "out"}`` objects. One process runs them
one after another (one TensorFlow import for all; ``clear_session`` and fresh seeds
between them), each in its own working directory with ``sys.argv = [script]``, as
``__main__``, with the stand-ins of :mod:`.standins` in place of downloads.

``legacy`` (started with ``TF_USE_LEGACY_KERAS=1``) first makes ``import keras`` mean
Keras 2.2.4 on tf_keras (:func:`legacy_ref.keras224.install`) and runs the unmodified
script. ``modern`` runs the ``migrate rewrite`` output on Keras 3.

The harness takes the model at the script's first training call (``fit``,
``fit_generator``, ``train_on_batch``, on ``Model`` and so on every subclass) and stops
the script there: everything the script did up to that point (data preparation, model
building, ``compile`` with its own loss and optimizer) is the script's own.

* legacy: predictions on a fixed batch (the first 4 samples the script trains on, or
  the first batch of its generator) and the initial weights (``init.h5``) go to
  ``oracle``; then one training step of the script's own call, to show the oracle runs.
* modern: the oracle's ``init.h5`` is loaded with Keras 3's ``load_weights``, the same
  batch predicted (max abs difference against the oracle, 1e-5), then one training step
  of the script's own call with its own compiled loss and optimizer (epochs 1, one batch
  of 4, no validation, no callbacks), then ``model.save('m.keras')`` and
  ``keras.saving.load_model`` with no ``custom_objects`` and ``safe_mode=True``,
  predicting the batch again.

Each example's record goes to ``out/record.json`` as soon as it is done; a stage that
fails stops that example with its exact error and the next one runs.
"""

from __future__ import annotations

import itertools
import json
import os
import random
import signal
import sys
import traceback
from pathlib import Path
from typing import Any, Callable

import numpy as np

from tests.realworld.keras_examples import standins
from tests.realworld.run_case import _max_diff  # the library tier's comparison, the same figure

TOLERANCE = 1e-5
BATCH = 4
# One example: TensorFlow is imported already; the slowest scripts build their stand-in
# data in pure Python. This only stops a hung script from hanging the process.
EXAMPLE_TIMEOUT_S = 300


class _Stop(BaseException):
    """Raised through the script once its model is taken: the rest is not run. A
    BaseException, so that a script's own ``except Exception`` cannot swallow it."""


class _Failed(Exception):
    def __init__(self, stage: str, error: str) -> None:
        super().__init__(error)
        self.stage = stage


def error_line(exc: BaseException) -> str:
    """The exact error in one line: type, message and the innermost frame that raised it
    (the script's own line where there is one in the traceback)."""
    frames = traceback.extract_tb(exc.__traceback__)
    script = [f for f in frames if f.filename.endswith(".py") and "/examples" in f.filename]
    where = ""
    if frames:
        last = frames[-1]
        where = f" [{Path(last.filename).name}:{last.lineno}"
        if script and script[-1] is not last:
            where += f"; script line {script[-1].lineno}"
        where += "]"
    message = " ".join(str(exc).split())
    if len(message) > 400:
        message = message[:400] + "..."
    return f"{type(exc).__name__}: {message}{where}"


def _take(x: Any, n: int) -> Any:
    if x is None:
        return None
    if isinstance(x, (list, tuple)):
        return [_take(v, n) for v in x]
    if isinstance(x, dict):
        return {k: _take(v, n) for k, v in x.items()}
    return np.asarray(x)[:n]


def _arrays(value: Any) -> list[np.ndarray]:
    if isinstance(value, dict):
        return [np.asarray(value[k]) for k in sorted(value)]
    if isinstance(value, (list, tuple)):
        return [np.asarray(v) for v in value]
    return [np.asarray(value)]


def _floatx(y: Any) -> Any:
    if isinstance(y, list):
        return [_floatx(v) for v in y]
    if isinstance(y, np.ndarray) and y.dtype.kind in "iub":
        return y.astype("float32")
    return y


def _is_stream(x: Any) -> bool:
    """A generator or iterator that yields batches (not an array, list or Sequence)."""
    return hasattr(x, "__next__") and not hasattr(x, "__getitem__")


class Capture:
    """Wraps the training entry points of one Keras so that the first call hands its
    model and data to ``on_model`` and stops the script."""

    def __init__(self, model_class: type, on_model: Callable[..., None], legacy: bool) -> None:
        self.model_class = model_class
        self.on_model = on_model
        self.legacy = legacy
        self.originals = {name: getattr(model_class, name) for name in ("fit", "fit_generator", "train_on_batch")
                          if hasattr(model_class, name)}
        for name in self.originals:
            setattr(model_class, name, self._wrap(name))

    def _wrap(self, name: str) -> Callable[..., Any]:
        original = self.originals[name]
        capture = self

        def wrapper(model: Any, *args: Any, **kwargs: Any) -> Any:
            if name == "fit_generator":
                data = kwargs.pop("generator", args[0] if args else None)
                args = args[1:]
                y = None
            else:
                data = kwargs.pop("x", args[0] if args else None)
                y = kwargs.pop("y", args[1] if len(args) > 1 else None)
                args = args[2:]
            # What the capped call keeps of the script's own arguments: the first batch only.
            if _is_stream(data):
                first = next(data)
                data = itertools.chain([first], data)
                batch = first[0] if isinstance(first, tuple) else first

                def step() -> Any:
                    if name == "train_on_batch":
                        return original(model, data, y)
                    return original(model, data, steps_per_epoch=1, epochs=1, verbose=0)
            elif name != "fit_generator" and not hasattr(data, "__getitem__") and data is not None:
                raise _Failed("capture", f"{name}() on a {type(data).__name__}: the harness takes arrays, "
                                         "lists of arrays and generators")
            elif hasattr(data, "__len__") and hasattr(data, "__getitem__") and not isinstance(
                    data, (np.ndarray, list, tuple, dict)):
                first = data[0]  # a Sequence
                batch = first[0] if isinstance(first, tuple) else first

                def step() -> Any:
                    if name == "fit_generator":
                        return original(model, data, steps_per_epoch=1, epochs=1, verbose=0)
                    return original(model, data, steps_per_epoch=1, epochs=1, verbose=0)
            else:
                if data is None:
                    raise _Failed("capture", f"{name}() without data (the model is fed by tensors): "
                                             "the harness needs the inputs")
                batch = _take(data, BATCH)
                targets = _take(y, BATCH)
                if capture.legacy:
                    # Keras 2.2.4 fed targets through ``floatx`` placeholders, so a custom
                    # loss saw float ``y_true`` even for integer labels (mnist_siamese's
                    # ``y_true * y_pred``); tf_keras keeps the array's dtype. The oracle's
                    # step reproduces 2.2.4.
                    targets = _floatx(targets)
                sample_weight = kwargs.get("sample_weight")

                def step() -> Any:
                    if name == "train_on_batch":
                        return original(model, batch, targets)
                    extra = {"sample_weight": _take(sample_weight, BATCH)} if sample_weight is not None else {}
                    if kwargs.get("class_weight") is not None:
                        extra["class_weight"] = kwargs["class_weight"]
                    return original(model, batch, targets, batch_size=BATCH, epochs=1, verbose=0, shuffle=False,
                                    **extra)
            capture.on_model(model, batch, step, name)
            raise _Stop

        wrapper.__name__ = name
        return wrapper

    def restore(self) -> None:
        for name, original in self.originals.items():
            setattr(self.model_class, name, original)


# -- the two sides ----------------------------------------------------------------------

def _predict(model: Any, batch: Any) -> list[np.ndarray]:
    return _arrays(model.predict(batch, batch_size=BATCH, verbose=0))


def legacy_side(job: dict[str, Any], keras: Any) -> dict[str, Any]:
    oracle = Path(job["oracle"])
    record: dict[str, Any] = {}

    def on_model(model: Any, batch: Any, step: Callable[[], Any], called: str) -> None:
        record["called"] = called
        record["model"] = f"{type(model).__name__} {model.name}"
        try:
            outputs = _predict(model, batch)
            model.save_weights(str(oracle / "init.h5"))
            inputs = _arrays(batch)
            np.savez(oracle / "oracle.npz", **{f"x{i}": x for i, x in enumerate(inputs)},
                     **{f"y{i}": y for i, y in enumerate(outputs)}, dict_keys=np.array(
                         sorted(batch) if isinstance(batch, dict) else [], dtype=str))
            record["params"] = int(model.count_params())
        except Exception as exc:
            raise _Failed("oracle", error_line(exc)) from exc
        try:
            step()
        except Exception as exc:
            raise _Failed("oracle fit", error_line(exc)) from exc
        record["ok"] = True

    _run_script(job, keras.Model, on_model, record, legacy=True)
    return record


def modern_side(job: dict[str, Any], keras: Any) -> dict[str, Any]:
    oracle = Path(job["oracle"])
    out = Path(job["out"])
    record: dict[str, Any] = {}

    def on_model(model: Any, _batch: Any, step: Callable[[], Any], called: str) -> None:
        record["called"] = called
        record["build"] = True
        data = np.load(oracle / "oracle.npz")
        xs = [data[f"x{i}"] for i in range(sum(k.startswith("x") for k in data.files))]
        expected = [data[f"y{i}"] for i in range(sum(k.startswith("y") for k in data.files))]
        keys = list(data["dict_keys"])
        batch: Any = dict(zip(keys, xs)) if keys else (xs if len(xs) > 1 else xs[0])
        stage = "load"
        try:
            if not model.built:
                # Keras 3 dropped ``Embedding(input_length=...)`` and friends: a Sequential
                # whose first layer gave the input shape is built only when first called.
                # Calling it once (as a user would before load_weights) builds it.
                _predict(model, batch)
            model.load_weights(str(oracle / "init.h5"))
            record["load"] = True
            stage = "predict"
            record["max_diff"] = _max_diff(_predict(model, batch), expected)
            record["predict"] = record["max_diff"] <= TOLERANCE
            stage = "fit"
            step()
            after = _predict(model, batch)
            record["fit"] = bool(all(np.all(np.isfinite(a)) for a in after))
            stage = "round trip"
            model.save(str(out / "m.keras"))
            reloaded = keras.saving.load_model(str(out / "m.keras"), safe_mode=True)
            record["roundtrip_diff"] = _max_diff(_predict(reloaded, batch), after)
            record["roundtrip"] = record["roundtrip_diff"] <= TOLERANCE
        except Exception as exc:
            traceback.print_exc()  # the whole story, for whoever reads the process's stderr
            raise _Failed(stage, error_line(exc)) from exc

    _run_script(job, keras.Model, on_model, record, legacy=False)
    return record


def _alarm(signum: int, frame: Any) -> None:
    raise TimeoutError(f"the example ran over {EXAMPLE_TIMEOUT_S} s")


def _run_script(job: dict[str, Any], model_class: type, on_model: Callable[..., None], record: dict[str, Any],
                legacy: bool) -> None:
    import runpy

    work = Path(job["out"]) / "work"
    work.mkdir(parents=True, exist_ok=True)
    standins.for_example(job["name"])
    local = standins.LOCAL_FILES.get(job["name"])
    if local:
        local(work)
    capture = Capture(model_class, on_model, legacy)
    here, argv = os.getcwd(), sys.argv
    os.chdir(work)
    sys.argv = [job["script"]]
    signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(EXAMPLE_TIMEOUT_S)
    era = standins.python36_era()
    try:
        era.__enter__()
        runpy.run_path(job["script"], run_name="__main__")
        record.update(failed_stage="script", error="the script ended without training a model")
    except _Stop:
        pass
    except _Failed as failed:
        record.update(failed_stage=failed.stage, error=str(failed))
    except SystemExit as exc:
        record.update(failed_stage="script", error=f"SystemExit({exc.code}) before training")
    except Exception as exc:
        record.update(failed_stage="script", error=error_line(exc))
    finally:
        era.__exit__(None, None, None)
        signal.alarm(0)
        os.chdir(here)
        sys.argv = argv
        capture.restore()


def _seed(tf: Any) -> None:
    random.seed(0)
    np.random.seed(0)
    tf.random.set_seed(0)


def main(argv: list[str]) -> int:
    side, jobs_file = argv
    jobs = json.loads(Path(jobs_file).read_text())
    import tensorflow as tf

    cache = Path(jobs_file).parent / f"downloads-{side}"
    cache.mkdir(exist_ok=True)
    if side == "legacy":
        from legacy_ref import keras224

        keras224.install()
        import tf_keras as keras

        standins.install(lambda name: [getattr(keras.datasets, name)], [keras.utils], cache)
        run: Callable[[dict[str, Any], Any], dict[str, Any]] = legacy_side
    elif side == "modern":
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        import keras

        if not keras.__version__.startswith("3."):
            raise SystemExit(f"the modern side needs Keras 3, got {keras.__version__}")
        import keras.src.utils.file_utils as file_utils

        standins.install(lambda name: [getattr(keras.datasets, name)], [keras.utils, file_utils], cache)
        run = modern_side
    else:
        raise SystemExit(f"unknown side {side!r}: legacy or modern")
    status = 0
    for job in jobs:
        Path(job["out"]).mkdir(parents=True, exist_ok=True)
        keras.backend.clear_session()
        keras.backend.set_image_data_format("channels_last")
        keras.backend.set_floatx("float32")
        _seed(tf)
        record = {"example": job["name"], **run(job, keras)}
        status |= "error" in record
        Path(job["out"]).mkdir(parents=True, exist_ok=True)  # even if something removed it meanwhile
        (Path(job["out"]) / "record.json").write_text(json.dumps(record))
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
