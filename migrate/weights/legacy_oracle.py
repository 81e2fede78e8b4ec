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
   parent), inside tf_keras's safe mode, with the tf_keras classes each
   known custom layer's family names; then the weights are loaded;
3. a TF checkpoint that a family recognises (:mod:`migrate.weights.families`;
   e.g. the tutorial's, with ``model_args.json`` beside it naming the
   ``legacy_ref`` model and its arguments).
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from migrate.weights.errors import PortError, one_line
from migrate.weights.source import WeightSource

REQUEST = "request.json"
PROBE = "probe.npz"
OUTPUTS = "outputs.npz"
ERROR = "error.json"

def _checkpoint_root(source: WeightSource) -> str:
    heads = {w.name.split("/", 1)[0] for w in source.weights}
    if len(heads) != 1:
        raise PortError(source.path, f"--verify: cannot tell the checkpoint's root object among {sorted(heads)}")
    return heads.pop()


def _checkpoint_holding(model: Any, root: str) -> Any:
    """A ``tf.train.Checkpoint`` that holds ``model`` where the saved object ``root`` was.

    ``root`` is the port's choice (``--root``, or the one candidate): ``""`` for the
    checkpoint's root object itself, ``name`` or a nested ``outer/inner`` path
    (each level another object, as ``tf.train.Checkpoint(outer=Checkpoint(inner=m))``
    or an object tracking the model under that attribute name). Restoring reads only
    the objects on that path, so the other models a checkpoint holds (a GAN's
    discriminator) are not needed to verify the generator.
    """
    import tensorflow as tf

    if not root:
        return tf.train.Checkpoint(root=model)
    holder: Any = model
    for part in reversed(root.split("/")):
        if part in {"root", "save_counter"}:
            raise PortError("", f"--verify: unexpected checkpoint root {root!r}")
        holder = tf.train.Checkpoint(**{part: holder})
    return holder


def _restore(model: Any, source: WeightSource, root: str | None = None) -> None:
    if source.format == "savedmodel":
        # A SavedModel's variables hang off the saved model itself, which is
        # how tf_keras's own load_weights reads a TF-format prefix.
        status, what = model.load_weights(source.path), "SavedModel"
    else:
        # The parent chose the saved object (``--root``); without its choice the one
        # top-level object is the model.
        root = _checkpoint_root(source) if root is None else root
        try:
            holder = _checkpoint_holding(model, root)
        except PortError as exc:
            raise PortError(source.path, exc.detail) from exc
        # ``read``, not ``restore``: restore also creates the holder's own save counter,
        # which a checkpoint written with ``Checkpoint.write`` lacks, and the match
        # check below would then fail on our variable, not the user's.
        status, what = holder.read(source.path), "checkpoint"
    try:
        status.assert_existing_objects_matched()
    except AssertionError as exc:
        raise PortError(source.path, f"--verify: the legacy model does not match the {what} ({exc})") from exc
    status.expect_partial()


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


# Where the published legacy libraries are installed (``migrate port
# --legacy-path DIR`` sets it for this child; a user may set it directly).
LEGACY_PATH_ENV = "MIGRATE_LEGACY_PATH"


def _use_published_libraries(path: str) -> None:
    """Make the published legacy libraries importable, on tf_keras.

    They write ``from tensorflow import keras``, which means tf_keras only
    when ``TF_USE_LEGACY_KERAS=1`` is set before ``tf.keras`` is first
    resolved (TensorFlow resolves it lazily); this child exists to run legacy
    code, so it sets it for itself (the parent never does; the family checks
    what ``tf.keras`` became). DIR goes at the *end* of ``sys.path``: the
    ``tests`` and ``demo`` packages such libraries ship must not shadow
    anything.
    """
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    if path and path not in sys.path:
        sys.path.append(path)


def _legacy_classes(source: WeightSource) -> dict[str, Any]:
    """The tf_keras classes, by saved class name, of the legacy layers the file uses."""
    from migrate.weights.config import iter_layers
    from migrate.weights.families import family_of, legacy_class_of

    assert source.model_config is not None
    # Only the names the file uses for legacy layers, from their own family:
    # a built-in MultiHeadAttention must stay the built-in one.
    used = [legacy for legacy in map(legacy_class_of, iter_layers(source.model_config)) if legacy is not None]
    families = list(dict.fromkeys(family_of(legacy) for legacy in used))
    objects = {family.name: family.legacy_custom_objects() if family.legacy_custom_objects else None
               for family in families}
    legacy_classes: dict[str, Any] = {}
    for legacy in used:
        family = family_of(legacy)
        if objects[family.name] is None:
            raise PortError(source.path, f"--verify: the {family.name} family has no tf_keras class for "
                                         f"{legacy.class_name!r}; pass --legacy old_program.py:factory")
        if legacy.class_name not in objects[family.name]:
            raise PortError(source.path, f"--verify: the tf_keras class of {legacy.class_name!r} ({family.name}) "
                                         "is not importable; pass --legacy-path DIR where its library is installed")
        legacy_classes[legacy.class_name] = objects[family.name][legacy.class_name]
    for family in families:
        if family.originals:
            # The originals of the classes other families copy, and the
            # functions the library registered (keras-transformer's tanh
            # "gelu"), as the library's users loaded such files.
            legacy_classes.update(objects[family.name] or {})
    return legacy_classes


def _from_model_config(source: WeightSource) -> Any:
    from migrate.weights.config import check_legacy_config

    assert source.model_config is not None
    check_legacy_config(source.model_config, source.path)
    legacy_classes = _legacy_classes(source)
    import tf_keras
    from tf_keras.src.saving.serialization_lib import SafeModeScope

    # tf_keras honours safe_mode only for .keras files; its scope makes the
    # HDF5 path refuse lambdas too (after our own walk already did).
    with SafeModeScope(True):
        model = tf_keras.models.model_from_json(json.dumps(source.model_config), custom_objects=legacy_classes)
    model.load_weights(source.path)
    return model


def _layer_output(model: Any, layer: str | None, source: WeightSource) -> Any:
    """``model`` cut at ``layer``'s output (``migrate port --into keras-hub`` compares
    final hidden states, which a legacy model with its output heads keeps inside)."""
    if not layer:
        return model
    import tf_keras

    try:
        output = model.get_layer(layer).output
    except ValueError as exc:
        raise PortError(source.path, f"--verify: the legacy model has no layer {layer!r}") from exc
    return tf_keras.Model(model.inputs, output)


def legacy_outputs_here(source: WeightSource, legacy_spec: str | None, probe: Any,
                        output_layer: str | None = None, root: str | None = None) -> np.ndarray:
    """The legacy model's main output (or ``output_layer``'s) on ``probe``, computed on tf_keras in this process.

    ``root``: the saved object of a TF checkpoint that is the model, as the port
    resolved it (``None``: guessed from the checkpoint, as for a single model).
    """
    if legacy_spec:
        from migrate.weights.inputs import call_factory, load_factory

        factory = load_factory(legacy_spec, "--legacy", legacy=True)
        model = call_factory(factory, legacy_spec, "--legacy")
        # Build first: a subclassed legacy model has no variables until called.
        _call_legacy(model, probe)
        if source.format.startswith("keras-h5"):
            model.load_weights(source.path)
        else:
            _restore(model, source, root)
        return _call_legacy(model, probe)
    if source.model_config is not None:
        return _call_legacy(_layer_output(_from_model_config(source), output_layer, source), probe)
    from migrate.weights.families import families

    for family in families():
        model = family.legacy_checkpoint_model(source) if family.legacy_checkpoint_model else None
        if model is not None:
            _call_legacy(model, probe)
            _restore(model, source, root)
            return _call_legacy(model, probe)
    raise PortError(
        source.path,
        "--verify needs the legacy model for this source: pass --legacy path/to/file.py:factory "
        "returning the tf_keras model",
    )


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if os.environ.get(LEGACY_PATH_ENV):
        # Before anything imports Keras 3, which resolves tf.keras.
        _use_published_libraries(os.environ[LEGACY_PATH_ENV])
    workdir = Path(argv[0])
    request = json.loads((workdir / REQUEST).read_text())
    error: dict[str, str] | None = None
    try:
        from migrate.weights.inputs import read_source

        with np.load(workdir / PROBE, allow_pickle=False) as data:
            arrays = [data[f"probe_{i}"] for i in range(int(data["count"]))]
        probe: Any = arrays if request["probe_is_list"] else arrays[0]
        with read_source(Path(request["source"]), int(request["max_weight_bytes"])) as source:
            outputs = legacy_outputs_here(source, request.get("legacy_spec"), probe, request.get("output_layer"),
                                          request.get("root"))
        np.savez(workdir / OUTPUTS, outputs=outputs)
        return 0
    except PortError as exc:
        error = {"path": exc.path, "detail": exc.detail}
    except (Exception, SystemExit) as exc:  # the user's legacy program or tf_keras failed
        error = {"path": request["source"], "detail": f"--verify: the legacy model failed on tf_keras ({type(exc).__name__}: {one_line(exc)})"}
    (workdir / ERROR).write_text(json.dumps(error))
    return 2


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    sys.exit(main())
