"""Reader for TF object checkpoints and SavedModel variables.

Keys of an object-based checkpoint are object-graph paths, for example
``transformer/encoder/enc_layers/0/mha/wq/kernel/.ATTRIBUTES/VARIABLE_VALUE``.
They are read with TensorFlow's checkpoint reader, which parses the tensor
bundle as data: the legacy model is never rebuilt and nothing is executed.
Optimizer slots (``.OPTIMIZER_SLOT``), the optimizer's own variables, the save
counter and the serialized object graph are reported and dropped. An optimizer
saved under any name (``tf.train.Checkpoint(generator_optimizer=...)``) is
known by the slots that name it.

A checkpoint may hold several models (``tf.train.Checkpoint(generator=g,
discriminator=d, ...)``): :func:`restrict_to_root` keeps the one chosen
(``--root``, :func:`migrate.weights.plan.resolve_root`) with the optimizer
state of its own variables, and drops the rest.

SOURCE may be a checkpoint prefix (``ckpt-3``), a ``CheckpointManager``
directory (the latest checkpoint is taken, as ``tf.train.latest_checkpoint``
does), or a SavedModel directory (its ``variables/variables`` bundle).
"""

from __future__ import annotations

import glob
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path

import numpy as np

from migrate.weights.errors import PortError, one_line
from migrate.weights.quiet import quiet_tensorflow
from migrate.weights.source import SourceWeight, WeightSource

VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"
# A CheckpointManager's state file names a few prefixes; anything bigger is
# not one (and is not read into memory).
STATE_FILE_LIMIT = 1 << 20
_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH"


def resolve_prefix(path: Path) -> tuple[Path, str]:
    """Return the checkpoint prefix behind SOURCE and the format it was found as."""
    if path.is_dir():
        if (path / "saved_model.pb").exists() or (path / "saved_model.pbtxt").exists():
            prefix = path / "variables" / "variables"
            if not Path(f"{prefix}.index").exists():
                raise PortError(path, "is a SavedModel without variables/variables.index; nothing to port")
            return prefix, "savedmodel"
        quiet_tensorflow()
        latest = _latest_checkpoint(path)
        if latest is None:
            index_files = sorted(path.glob("*.index"))
            if len(index_files) == 1:
                return index_files[0].with_suffix(""), "tf-checkpoint"
            raise PortError(
                path,
                "is a directory with no 'checkpoint' file naming a latest checkpoint"
                + (f" and {len(index_files)} *.index files; pass one prefix" if index_files else " and no *.index file"),
            )
        return Path(latest), "tf-checkpoint"
    if path.suffix == ".index":
        return path.with_suffix(""), "tf-checkpoint"
    if Path(f"{path}.index").exists():
        return path, "tf-checkpoint"
    raise PortError(path, "no such checkpoint (expected PREFIX.index, a CheckpointManager directory or a SavedModel)")


def _latest_checkpoint(directory: Path) -> str | None:
    """``tf.train.latest_checkpoint``, with a damaged state file as a :class:`PortError`.

    The ``checkpoint`` state file is a text protobuf; TensorFlow raises
    ``UnicodeDecodeError`` or its own parse errors on a garbled one.
    """
    import tensorflow as tf

    state = directory / "checkpoint"
    if state.exists() and not state.is_file():
        raise PortError(state, "is not a regular file; pass a checkpoint prefix (e.g. DIR/ckpt-2) instead")
    if state.is_file() and state.stat().st_size > STATE_FILE_LIMIT:
        raise PortError(state, f"is over {STATE_FILE_LIMIT} bytes, not a CheckpointManager state file; "
                               "pass a checkpoint prefix (e.g. DIR/ckpt-2) instead")
    try:
        return tf.train.latest_checkpoint(str(directory))
    except Exception as exc:  # UnicodeDecodeError, text_format.ParseError, OpError
        raise PortError(
            state,
            f"is not a readable CheckpointManager state file ({type(exc).__name__}: {one_line(exc)}); "
            "pass a checkpoint prefix (e.g. DIR/ckpt-2) instead",
        ) from exc


def is_tf_checkpoint(path: Path) -> bool:
    return path.is_dir() or path.suffix == ".index" or Path(f"{path}.index").exists()


_SLOT_MARK = "/.OPTIMIZER_SLOT/"


def _optimizer_names(keys: Iterable[str]) -> set[str]:
    """The optimizers a checkpoint's slots name (``<var>/.OPTIMIZER_SLOT/<optimizer>/<slot>``).

    ``tf.train.Checkpoint(generator_optimizer=opt, ...)`` saves ``opt``'s
    own variables as ``generator_optimizer/iter``: the name is the user's, and
    only the slots say that it is an optimizer.
    """
    return {key.removesuffix(VALUE_SUFFIX).split(_SLOT_MARK, 1)[1].rpartition("/")[0]
            for key in keys if _SLOT_MARK in key}


def _is_model_variable(key: str, optimizers: Iterable[str] = ()) -> bool:
    if not key.endswith(VALUE_SUFFIX):
        return False
    if _is_optimizer_variable(key, optimizers):
        return False
    if key.startswith("keras_api/"):  # metric state (counts, totals) of a saved tf_keras model
        return False
    return key != "save_counter" + VALUE_SUFFIX


def _is_optimizer_variable(key: str, optimizers: Iterable[str] = ()) -> bool:
    """A slot (``<var>/.OPTIMIZER_SLOT/<opt>/<slot>``) or an optimizer's own variable (``optimizer/iter``)."""
    return (".OPTIMIZER_SLOT/" in key or key.startswith("optimizer/") or "/optimizer/" in key
            or any(key.startswith(f"{name}/") for name in optimizers))


def read_tf_checkpoint(path: str | Path, max_weight_bytes: int | None = None) -> WeightSource:
    """Catalogue the model variables of a TF checkpoint or SavedModel (lazily).

    Args:
        path: a prefix, a ``CheckpointManager`` directory or a SavedModel.
        max_weight_bytes: the most the model variables may declare, all
            together (``--max-weight-bytes``; default: the HDF5 reader's).

    Raises:
        PortError: SOURCE does not exist, is not a readable checkpoint, its
            data files cannot hold what its index declares, or its variables
            exceed ``max_weight_bytes``.
    """
    from migrate.weights.h5 import DEFAULT_MAX_WEIGHT_BYTES, check_total, declared_bytes

    path = Path(path)
    if not path.exists() and not Path(f"{path}.index").exists():
        raise PortError(path, "no such file or directory")
    prefix, fmt = resolve_prefix(path)
    quiet_tensorflow()
    import tensorflow as tf

    try:
        reader = tf.train.load_checkpoint(str(prefix))
        shapes = reader.get_variable_to_shape_map()
        dtypes = reader.get_variable_to_dtype_map()
    except Exception as exc:  # TF raises several internal error types here
        raise PortError(prefix, f"is not a readable TF checkpoint ({type(exc).__name__}: {one_line(exc)}); it is truncated or corrupt") from exc

    weights: list[SourceWeight] = []
    dropped: list[tuple[str, tuple[int, ...]]] = []
    optimizer_weights: list[SourceWeight] = []
    optimizers = _optimizer_names(shapes)
    for key in sorted(shapes):
        if key == _GRAPH_KEY:
            continue
        shape = tuple(int(d) for d in shapes[key])
        name = key.removesuffix(VALUE_SUFFIX)
        dtype = dtypes[key]
        numeric = (dtype.is_floating or dtype.is_integer or dtype.is_bool) and not dtype.is_quantized

        def read(key: str = key, name: str = name) -> np.ndarray:
            try:
                return np.asarray(reader.get_tensor(key))
            except Exception as exc:
                raise PortError(prefix, f"variable {name!r} cannot be read ({one_line(exc)}); the checkpoint is truncated or corrupt") from exc

        if not _is_model_variable(key, optimizers):
            dropped.append((name, shape))
            if key.endswith(VALUE_SUFFIX) and numeric and _is_optimizer_variable(key, optimizers):
                optimizer_weights.append(SourceWeight(name, shape, dtype.name, "optimizer", read))
            continue
        if not numeric:
            raise PortError(prefix, f"variable {name!r} has dtype {dtype.name}, not a numeric weight; "
                                    "the checkpoint is corrupt or not a model checkpoint")
        weights.append(SourceWeight(name, shape, dtype.name, "", read))
    if not weights:
        raise PortError(prefix, "holds no model variables (only optimizer state or counters)")
    result = WeightSource(path=str(prefix), format=fmt, weights=weights, dropped=dropped,
                          optimizer_weights=optimizer_weights)
    check_total(prefix, result, DEFAULT_MAX_WEIGHT_BYTES if max_weight_bytes is None else max_weight_bytes)
    # The index declares shapes; the data shards must hold at least those
    # bytes, or a crafted index could make a read allocate what is not there.
    stored = sum(shard.stat().st_size for shard in prefix.parent.glob(f"{glob.escape(prefix.name)}.data-*-of-*")
                 if shard.is_file())
    if declared_bytes(result) > stored:
        raise PortError(prefix, f"its variables declare {declared_bytes(result)} bytes but its data files hold {stored}: "
                                "the checkpoint is truncated or corrupt")
    return result


def restrict_to_root(source: WeightSource, root: str) -> WeightSource:
    """``source`` with only the saved object ``root`` as the model (``""``: all of it).

    The weights of the other saved objects move to ``dropped`` (with the
    reason, in ``metadata["dropped_why"]``). Of the optimizer state, the slots
    of ``root``'s own variables stay, with the counter and hyper-parameters
    of the optimizers those slots name (a GAN's ``generator_optimizer`` for
    ``--root generator``); the other optimizers' state is dropped, as it is
    when not ported. Names are kept as they are: a plan strips the prefix.
    """
    from migrate.weights.plan import METRIC_DROPPED, metric_state

    if not root:
        return source
    prefix = f"{root}/"
    kept = [w for w in source.weights if w.name.startswith(prefix)]
    others = [w for w in source.weights if not w.name.startswith(prefix)]
    own_slots = [w for w in source.optimizer_weights if _SLOT_MARK in w.name and w.name.startswith(prefix)]
    own_names = {w.name for w in own_slots}
    used = _optimizer_names(own_names)
    optimizer_weights = [
        w for w in source.optimizer_weights
        # Its own slots, then the variables of its optimizers (counter,
        # hyper-parameters) or of one saved inside it (root/optimizer/...).
        if w.name in own_names or (_SLOT_MARK not in w.name and (
            w.name.startswith(prefix) or any(w.name.startswith(f"{name}/") for name in used)))
    ]
    metrics = metric_state(w.name for w in source.weights)
    why = dict(source.metadata.get("dropped_why", {}))
    why.update({w.name: METRIC_DROPPED if w.name in metrics else f"another saved object; the model is {root!r}"
                for w in others})
    return replace(
        source,
        weights=kept,
        dropped=[(w.name, w.shape) for w in others] + list(source.dropped),
        optimizer_weights=optimizer_weights,
        metadata={**source.metadata, "root": root, "dropped_why": why},
    )
