"""``migrate port --verify``: run the legacy model on tf_keras for comparison.

The legacy model comes, in this order, from:

1. ``--legacy SPEC``: a factory in the user's unmodified legacy program,
   which runs on tf_keras through :mod:`legacy_ref.shim` (``import keras``
   there means tf_keras); its weights are loaded from
   SOURCE the legacy way (``load_weights`` for HDF5, ``tf.train.Checkpoint``
   restore for TF checkpoints);
2. a full-model HDF5 file: loaded by tf_keras with the ``legacy_ref`` classes
   for the custom layers, after :func:`migrate.weights.config.check_legacy_config`
   has refused Lambda layers and unknown classes (nothing from the file is
   executed);
3. a TF checkpoint written by ``legacy_ref`` (``model_args.json`` beside it
   names the ``legacy_ref`` model and its arguments).

This module imports TensorFlow and ``legacy_ref``; it is only loaded when
``--verify`` is given.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from migrate.weights.errors import PortError
from migrate.weights.source import WeightSource


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


def _legacy_from_model_args(source: WeightSource) -> Any | None:
    directory = Path(source.path).parent if not Path(source.path).is_dir() else Path(source.path)
    args_file = directory / "model_args.json"
    if not args_file.exists():
        return None
    spec = json.loads(args_file.read_text())
    if spec.get("model") != "legacy_ref.tutorial.Transformer":
        return None
    from legacy_ref import tutorial

    return tutorial.Transformer(**spec["args"])


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


def legacy_outputs(request: Any, source: WeightSource, probe: Any) -> np.ndarray:
    """The legacy model's main output on ``probe``, computed on tf_keras."""
    if request.legacy_spec:
        from migrate.weights.port import _call_factory, load_factory

        factory = load_factory(request.legacy_spec, "--legacy", legacy=True)
        model = _call_factory(factory, request.legacy_spec, "--legacy")
        if source.format.startswith("keras-h5"):
            # Build first: a subclassed legacy model has no variables until called.
            _call_legacy(model, probe)
            model.load_weights(source.path)
        else:
            _call_legacy(model, probe)
            _restore(model, source)
        return _call_legacy(model, probe)
    if source.model_config is not None:
        import tf_keras

        from legacy_ref.keras22 import custom_objects
        from migrate.weights.config import check_legacy_config, iter_layers, legacy_class_of

        check_legacy_config(source.model_config, source.path)
        # Only the names the file uses for legacy layers: a built-in
        # MultiHeadAttention must stay the built-in one.
        used = {legacy.class_name for legacy in map(legacy_class_of, iter_layers(source.model_config)) if legacy}
        legacy_classes = {name: cls for name, cls in custom_objects().items() if name in used}
        model = tf_keras.models.load_model(source.path, custom_objects=legacy_classes, compile=False)
        return _call_legacy(model, probe)
    model = _legacy_from_model_args(source)
    if model is not None:
        _call_legacy(model, probe)
        _restore(model, source)
        return _call_legacy(model, probe)
    raise PortError(
        source.path,
        "--verify needs the legacy model for this source: pass --legacy path/to/file.py:factory "
        "returning the tf_keras model",
    )
