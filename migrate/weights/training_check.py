"""``migrate port --verify-training K``: does the written file resume training as the legacy checkpoint does?

The legacy side is the checkpoint itself, loaded *compiled* by tf_keras in a
child process (``python -m migrate.weights.training_check --child WORKDIR``:
its ``training_config`` and ``optimizer_weights`` restored by tf_keras' own
``load_model``, after :func:`migrate.weights.legacy_oracle._from_model_config`
has proven the model config plain data and rebuilt it in safe mode); the
ported side is the written ``.keras`` file reloaded with ``safe_mode=True``.
Both train the same K random batches (seeded, drawn from the model's input
specs and the loss's target shape) with ``train_on_batch``, whose loss is
taken before each update; the losses are compared step by step (relative,
``--rtol``) and the weights after the K steps through the port's own weight
pairs (absolute, ``--atol``). Dropout is switched off on both sides: its masks
are random numbers of each runtime, not part of the state being ported.

A file that trains differently is :class:`TrainingDiverged` (exit 1: the
port itself succeeded and OUT is written, as with ``--no-optimizer``, where a
restarted optimizer is exactly what the check should show); a check that
cannot run is a :class:`~migrate.weights.errors.PortError` (exit 2).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from migrate.weights.errors import PortError, one_line, require_tensorflow
from migrate.weights.legacy_oracle import ERROR
from migrate.weights.verify import _child_env, raise_child_failure

TRAINING_REQUEST = "training_request.json"
TRAINING_BATCHES = "training_batches.npz"
TRAINING_LOSSES = "training_losses.npz"
TRAINING_AFTER = "after.h5"
TRAINING_SEED = 4321


class TrainingDiverged(PortError):
    """The ported file trains differently from the legacy checkpoint (exit 1, not an error of the port)."""

    exit_code = 1


def _loss_name(model: Any) -> str:
    loss = getattr(model, "loss", None)
    if isinstance(loss, str):
        return loss
    if isinstance(loss, (list, tuple)) and loss and isinstance(loss[0], str):
        return loss[0]
    return type(loss).__name__ if loss is not None else ""


def _target_for(loss: str, output: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random target the loss accepts, shaped like the model's output."""
    key = loss.lower().replace("_", "")
    classes = int(output.shape[-1]) if output.ndim else 1
    if "sparsecategorical" in key:
        return rng.integers(0, max(classes, 1), size=output.shape[:-1]).astype("int32")
    if "categorical" in key or "kld" in key or "kullback" in key:
        return np.eye(classes, dtype="float32")[rng.integers(0, classes, size=output.shape[:-1])]
    if "binary" in key or "hinge" in key:
        return rng.integers(0, 2, size=output.shape).astype("float32")
    return rng.standard_normal(output.shape).astype("float32")


def _training_batches(model: Any, steps: int) -> list[tuple[list[np.ndarray], np.ndarray]]:
    """``steps`` seeded (inputs, target) batches, shaped like the probe input and the model's output.

    Token ids go where an input feeds an ``Embedding`` (below its
    ``input_dim``, whatever the input's declared dtype), as in ``migrate verify``.
    """
    from migrate.program_verify import embedded_vocab
    from migrate.weights.writer import _embedding_vocab, _probe_array, predict, probe_inputs

    rng = np.random.default_rng(TRAINING_SEED)
    vocab = _embedding_vocab(model)
    template = probe_inputs(model)  # the shapes and dtypes the model takes
    templates = template if isinstance(template, list) else [template]
    tensors = list(getattr(model, "inputs", None) or [])
    vocabs = [embedded_vocab(model, tensors[i]) if i < len(tensors) else None for i in range(len(templates))]
    loss = _loss_name(model)
    batches = []
    for _ in range(steps):
        arrays = [
            rng.integers(1, max(2, ids), size=a.shape).astype(a.dtype) if ids is not None
            else _probe_array((None,) + a.shape[1:], str(a.dtype), vocab, rng)
            for a, ids in zip(templates, vocabs)
        ]
        feed = arrays if isinstance(template, list) else arrays[0]
        batches.append((arrays, _target_for(loss, predict(model, feed), rng)))
    return batches


def _dropout_off(model: Any) -> int:
    """Set every dropout layer's rate to 0 (both runtimes read ``rate`` when they trace the step)."""
    count = 0
    for layer in model._flatten_layers() if hasattr(model, "_flatten_layers") else model.layers:
        if "Dropout" in type(layer).__name__ and isinstance(getattr(layer, "rate", None), (int, float)):
            layer.rate = 0.0
            count += 1
    return count


def _first_loss(value: Any) -> float:
    while isinstance(value, (list, tuple)):
        value = value[0]
    if isinstance(value, dict):
        value = value.get("loss", next(iter(value.values())))
    return float(np.asarray(value))


def _reload_port(request: Any, written: Path) -> Any:
    """The ported file (staged, not yet at OUT), reloaded as a user would (safe mode), with ``--model``'s classes."""
    import keras

    import modern  # noqa: F401 -- registers the modern classes a ported file may name

    custom_objects: dict[str, Any] = {}
    if request.model_spec:
        from migrate.weights.inputs import load_factory
        from migrate.weights.port import module_custom_objects

        custom_objects = module_custom_objects(load_factory(request.model_spec, "--model"))
    return keras.saving.load_model(written, custom_objects=custom_objects or None, safe_mode=True)


def check_training_source(request: Any) -> None:
    """SOURCE can be resumed on tf_keras: a full-model HDF5 file with its training config (checked before the port)."""
    from migrate.weights.h5 import is_hdf5, read_h5

    source = Path(request.source)
    ok = False
    if source.is_file() and is_hdf5(source):
        with read_h5(source, request.max_weight_bytes) as read:
            ok = read.format == "keras-h5-model" and "training_config" in read.metadata
    if not ok:
        raise PortError(source, "--verify-training needs a full-model HDF5 file saved with its training state "
                                "(model.save('m.h5') of a compiled model), which the legacy side resumes from on "
                                "tf_keras; drop --verify-training for this source")


def verify_training(request: Any, written: Path, steps: int, rtol: float, out: Any = None) -> dict[str, Any]:
    """Train ``steps`` random batches in the legacy checkpoint (tf_keras) and in the ported file; compare.

    ``written`` is the ported ``.keras`` file at its staged name: the port runs
    this check before moving it to OUT, so a file that trains differently is
    never put in place.

    Returns the figures (``losses_legacy``, ``losses_ported``,
    ``loss_rel_diff`` per step, ``weight_max_abs_diff``).

    Raises:
        TrainingDiverged: a loss differs by more than ``rtol`` (relative) or a
            weight after the steps by more than ``request.atol`` (exit 1).
        PortError: the check cannot run (not a full-model HDF5 source, no
            compiled optimizer, the legacy side failed).
    """
    from migrate.weights.inputs import read_source
    from migrate.weights.optimizer_state import plan_optimizer
    from migrate.weights.port import make_plan
    from modern.weight_maps.transforms import apply_transform

    out = out or sys.stdout
    path = str(request.source)
    check_training_source(request)
    with read_source(request.source, request.max_weight_bytes) as source:
        require_tensorflow(path, "--verify-training (the legacy model trains on tf_keras)")
        model = _reload_port(request, written)
        outputs = len(getattr(model, "outputs", None) or [])
        if outputs > 1:
            # The batches hold one target; a model with several outputs (keras-bert's MLM
            # and NSP heads) needs one per output on both sides. Not built yet: refused
            # before anything is written, and the port itself works without the check.
            raise PortError(path, f"--verify-training checks models with one output; this one has {outputs}: "
                                  "drop --verify-training (the port itself, --verify included, handles it)")
        note = ""
        if not getattr(model, "compiled", False) or getattr(model, "optimizer", None) is None:
            # --no-optimizer (or nothing to port): the file holds no training
            # state, so it trains on a fresh optimizer of the legacy class.
            fresh = plan_optimizer(source, model, make_plan(request, source, model))
            if fresh is None:
                raise PortError(path, "--verify-training: the source has no optimizer to train with")
            model.compile(optimizer=fresh.optimizer, loss=fresh.loss)
            note = f" (the file holds no optimizer state: a fresh {type(fresh.optimizer).__name__})"
        batches = _training_batches(model, steps)
        dropped = _dropout_off(model)
        with tempfile.TemporaryDirectory(prefix="migrate-verify-training-") as workdir:
            work = Path(workdir)
            np.savez(work / TRAINING_BATCHES, count=len(batches), inputs=len(batches[0][0]),
                     **{f"x_{i}_{j}": a for i, (x, _) in enumerate(batches) for j, a in enumerate(x)},
                     **{f"y_{i}": y for i, (_, y) in enumerate(batches)})
            (work / TRAINING_REQUEST).write_text(json.dumps({
                "source": str(Path(request.source).resolve()), "max_weight_bytes": request.max_weight_bytes}))
            # The legacy side starts first and trains while this process does:
            # each waits mostly on its own TensorFlow start-up and tracing.
            with open(work / "stderr.txt", "w") as log:
                child = subprocess.Popen(
                    [sys.executable, "-m", "migrate.weights.training_check", "--child", str(work)],
                    env=_child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log,
                )
                try:
                    ported = [_first_loss(model.train_on_batch(x if len(x) > 1 else x[0], y)) for x, y in batches]
                    returncode = child.wait()
                finally:
                    if child.poll() is None:
                        child.kill()
                        child.wait()
            raise_child_failure(work, TRAINING_LOSSES, returncode, (work / "stderr.txt").read_text(errors="replace"),
                                path, "--verify-training: the legacy model's process on tf_keras failed")
            with np.load(work / TRAINING_LOSSES, allow_pickle=False) as data:
                legacy = [float(v) for v in data["losses"]]
            with read_source(work / TRAINING_AFTER) as after:
                plan = make_plan(request, after, model)
                plan.raise_if_incomplete(path)
                weight_diff = 0.0
                for item in plan.assignments:
                    expected = apply_transform(item.transform, item.source.read(),
                                               tuple(int(d) for d in item.target.shape), what=item.source.name)
                    got = np.asarray(keras_numpy(item.target))
                    weight_diff = max(weight_diff, float(np.max(np.abs(got - expected), initial=0.0)))
    rel = [abs(p - q) / max(abs(q), 1e-12) for p, q in zip(ported, legacy)]
    figures = {"steps": steps, "losses_legacy": legacy, "losses_ported": ported, "loss_rel_diff": rel,
               "weight_max_abs_diff": weight_diff, "dropout_layers_off": dropped}
    per_step = ", ".join(f"{r:.1e}" for r in rel)
    text = (f"--verify-training {steps}: relative loss diff per step [{per_step}] (rtol {rtol:g}); max abs weight "
            f"diff after {steps} steps {weight_diff:.2e} (atol {request.atol:g}){note}"
            + (f"; {dropped} dropout layers off on both sides" if dropped else ""))
    if not (max(rel, default=0.0) <= rtol and weight_diff <= request.atol):
        first = next((i for i, r in enumerate(rel) if not r <= rtol), None)
        where = f"from step {first + 1}" if first is not None else "in the weights"
        raise TrainingDiverged(path, f"{text}: the ported file trains differently from the legacy checkpoint "
                                     f"{where}; nothing written at {request.out}")
    print(f"verified training: {text}", file=out)
    return figures


def keras_numpy(variable: Any) -> np.ndarray:
    from keras import ops

    return np.asarray(ops.convert_to_numpy(variable))


def _training_child(work: Path) -> int:
    """The legacy side of --verify-training: load compiled on tf_keras, train the batches, save."""
    request = json.loads((work / TRAINING_REQUEST).read_text())
    path = request["source"]
    try:
        import h5py
        import tf_keras
        from tf_keras.src.saving.legacy.hdf5_format import load_optimizer_weights_from_hdf5_group
        from tf_keras.src.saving.serialization_lib import SafeModeScope

        from migrate.weights.inputs import read_source
        from migrate.weights.legacy_oracle import _from_model_config

        with read_source(Path(path), int(request["max_weight_bytes"])) as source:
            # Checked as plain data and rebuilt in safe mode first; its
            # classes are then the only custom objects the compiled load gets.
            checked = _from_model_config(source)
        classes = {type(layer).__name__: type(layer) for layer in checked._flatten_layers()
                   if not type(layer).__module__.startswith("tf_keras.")}
        with SafeModeScope(True):
            model = tf_keras.models.load_model(path, custom_objects=classes, compile=True)
        with h5py.File(path, "r") as f:
            # tf_keras' own reader (the order set_weights took); it hands back datasets.
            stored = ([np.asarray(d) for d in load_optimizer_weights_from_hdf5_group(f)]
                      if "optimizer_weights" in f else [])
        restored = model.optimizer.get_weights() if model.optimizer is not None else []
        if len(stored) != len(restored) or any(
                np.shape(a) != np.shape(b) or not np.array_equal(a, b) for a, b in zip(stored, restored)):
            raise PortError(path, f"--verify-training: tf_keras could not restore the file's optimizer state "
                                  f"({len(stored)} arrays stored, {len(restored)} restored)")
        _dropout_off(model)
        with np.load(work / TRAINING_BATCHES, allow_pickle=False) as data:
            count, inputs = int(data["count"]), int(data["inputs"])
            batches = [([np.array(data[f"x_{i}_{j}"]) for j in range(inputs)], np.array(data[f"y_{i}"]))
                       for i in range(count)]
        losses = [_first_loss(model.train_on_batch(x if len(x) > 1 else x[0], y)) for x, y in batches]
        model.save(str(work / TRAINING_AFTER), save_format="h5")
        np.savez(work / TRAINING_LOSSES, losses=np.asarray(losses, np.float64))
        return 0
    except PortError as exc:
        error = {"path": exc.path, "detail": exc.detail}
    except (Exception, SystemExit) as exc:
        error = {"path": path, "detail": f"--verify-training: the legacy model failed on tf_keras "
                                         f"({type(exc).__name__}: {one_line(exc)})"}
    (work / ERROR).write_text(json.dumps(error))
    return 2


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        from migrate.weights.legacy_oracle import LEGACY_PATH_ENV, _use_published_libraries

        if os.environ.get(LEGACY_PATH_ENV):
            # --legacy-path: the published libraries the file's layers come from, importable
            # on tf_keras before anything resolves tf.keras (as the --verify child does).
            _use_published_libraries(os.environ[LEGACY_PATH_ENV])
        sys.exit(_training_child(Path(sys.argv[2])))
    sys.exit("usage: python -m migrate.weights.training_check --child WORKDIR (run by migrate port --verify-training)")
