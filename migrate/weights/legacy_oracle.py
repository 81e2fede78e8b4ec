"""The legacy side of ``migrate port --verify``, run in a child process.

``python -m migrate.weights.legacy_oracle WORKDIR`` reads ``WORKDIR/request.json``
and ``WORKDIR/probe.npz`` (written by :mod:`migrate.weights.verify`), builds
the legacy model on tf_keras, runs the probe through it and writes
``WORKDIR/outputs.npz``; on failure it writes ``WORKDIR/error.json`` (one
line for the user) and exits 2. The parent owns WORKDIR and removes it, so a
crash here (tf_keras failing, a legacy program calling ``sys.exit``, a
segfault) cannot leave files beside the user's OUT, and nothing that runs
here can touch the parent's Keras 3 state.

The legacy model comes, in this order, from:

1. ``--legacy SPEC``: a factory in the user's unmodified legacy program,
   which runs on tf_keras through :mod:`legacy_ref.shim` (``import keras``
   there means tf_keras); its weights are loaded from SOURCE the legacy way
   (``load_weights`` for HDF5, ``tf.train.Checkpoint`` restore for TF
   checkpoints);
2. a full-model HDF5 file: the architecture is rebuilt by tf_keras from the
   file's ``model_config`` *after* :func:`migrate.weights.config.check_legacy_config`
   has proven it plain data (checked again here, not trusted from the
   parent), inside tf_keras's safe mode, with the ``legacy_ref`` classes for
   the known custom layers; then the weights are loaded;
3. a TF checkpoint written by ``legacy_ref`` (``model_args.json`` beside it
   names the ``legacy_ref`` model and its arguments).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from migrate.weights.errors import PortError
from migrate.weights.source import WeightSource

REQUEST = "request.json"
PROBE = "probe.npz"
OUTPUTS = "outputs.npz"
ERROR = "error.json"

# model_args.json may only name these legacy_ref models, with scalar arguments.
MODEL_ARGS_MODELS = {"legacy_ref.tutorial.Transformer"}


def _checkpoint_root(source: WeightSource) -> str:
    heads = {w.name.split("/", 1)[0] for w in source.weights}
    if len(heads) != 1:
        raise PortError(source.path, f"--verify: cannot tell the checkpoint's root object among {sorted(heads)}")
    return heads.pop()


def _restore(model: Any, source: WeightSource) -> None:
    import tensorflow as tf

    if source.format == "savedmodel":
        # A SavedModel's variables hang off the saved model itself, which is
        # how tf_keras's own load_weights reads a TF-format prefix.
        status, what = model.load_weights(source.path), "SavedModel"
    else:
        root = _checkpoint_root(source)
        if root in {"root", "save_counter"}:
            raise PortError(source.path, f"--verify: unexpected checkpoint root {root!r}")
        status, what = tf.train.Checkpoint(**{root: model}).restore(source.path), "checkpoint"
    try:
        status.assert_existing_objects_matched()
    except AssertionError as exc:
        raise PortError(source.path, f"--verify: the legacy model does not match the {what} ({exc})") from exc
    status.expect_partial()


def read_model_args(source: WeightSource) -> dict[str, Any] | None:
    """``model_args.json`` beside a TF checkpoint, checked to be plain scalar data."""
    directory = Path(source.path).parent if not Path(source.path).is_dir() else Path(source.path)
    args_file = directory / "model_args.json"
    if not args_file.exists():
        return None
    try:
        spec = json.loads(args_file.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise PortError(args_file, f"is not readable JSON ({type(exc).__name__}); remove it or rewrite it") from exc
    if not isinstance(spec, dict) or spec.get("model") not in MODEL_ARGS_MODELS:
        return None
    args = spec.get("args")
    if not isinstance(args, dict) or not all(
        isinstance(k, str) and isinstance(v, (int, float, str, bool)) for k, v in args.items()
    ):
        raise PortError(args_file, "'args' must be an object of scalar constructor arguments")
    return spec


def _call_legacy(model: Any, probe: Any) -> np.ndarray:
    import tensorflow as tf

    inputs = [tf.constant(p) for p in probe] if isinstance(probe, list) else tf.constant(probe)
    try:
        value = model(inputs, training=False)
    except TypeError:
        value = model(inputs)
    while isinstance(value, (list, tuple)):
        value = value[0]
    return np.asarray(value)


def _from_model_config(source: WeightSource) -> Any:
    import tf_keras
    from tf_keras.src.saving.serialization_lib import SafeModeScope

    from legacy_ref.keras22 import custom_objects
    from migrate.weights.config import check_legacy_config, iter_layers, legacy_class_of

    assert source.model_config is not None
    check_legacy_config(source.model_config, source.path)
    # Only the names the file uses for legacy layers: a built-in
    # MultiHeadAttention must stay the built-in one.
    used = {legacy.class_name for legacy in map(legacy_class_of, iter_layers(source.model_config)) if legacy}
    legacy_classes = {name: cls for name, cls in custom_objects().items() if name in used}
    # tf_keras honours safe_mode only for .keras files; its scope makes the
    # HDF5 path refuse lambdas too (after our own walk already did).
    with SafeModeScope(True):
        model = tf_keras.models.model_from_json(json.dumps(source.model_config), custom_objects=legacy_classes)
    model.load_weights(source.path)
    return model


def legacy_outputs_here(source: WeightSource, legacy_spec: str | None, probe: Any) -> np.ndarray:
    """The legacy model's main output on ``probe``, computed on tf_keras in this process."""
    if legacy_spec:
        from migrate.weights.port import _call_factory, load_factory

        factory = load_factory(legacy_spec, "--legacy", legacy=True)
        model = _call_factory(factory, legacy_spec, "--legacy")
        # Build first: a subclassed legacy model has no variables until called.
        _call_legacy(model, probe)
        if source.format.startswith("keras-h5"):
            model.load_weights(source.path)
        else:
            _restore(model, source)
        return _call_legacy(model, probe)
    if source.model_config is not None:
        return _call_legacy(_from_model_config(source), probe)
    spec = read_model_args(source)
    if spec is not None:
        from legacy_ref import tutorial

        model = tutorial.Transformer(**spec["args"])
        _call_legacy(model, probe)
        _restore(model, source)
        return _call_legacy(model, probe)
    raise PortError(
        source.path,
        "--verify needs the legacy model for this source: pass --legacy path/to/file.py:factory "
        "returning the tf_keras model",
    )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:400]}" if text else type(exc).__name__


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    workdir = Path(argv[0])
    request = json.loads((workdir / REQUEST).read_text())
    error: dict[str, str] | None = None
    try:
        from migrate.weights.port import read_source

        with np.load(workdir / PROBE, allow_pickle=False) as data:
            arrays = [data[f"probe_{i}"] for i in range(int(data["count"]))]
        probe: Any = arrays if request["probe_is_list"] else arrays[0]
        with read_source(Path(request["source"])) as source:
            outputs = legacy_outputs_here(source, request.get("legacy_spec"), probe)
        np.savez(workdir / OUTPUTS, outputs=outputs)
        return 0
    except PortError as exc:
        error = {"path": exc.path, "detail": exc.detail}
    except (Exception, SystemExit) as exc:  # the user's legacy program or tf_keras failed
        error = {"path": request["source"], "detail": f"--verify: the legacy model failed on tf_keras ({_one_line(exc)})"}
    (workdir / ERROR).write_text(json.dumps(error))
    return 2


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
