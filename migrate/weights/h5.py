"""Reader for legacy Keras HDF5 files (Keras 2.2 and tf.keras 2.x).

Two layouts, both read as data with h5py and never executed:

* weights-only (``model.save_weights('w.h5')``): root attribute ``layer_names``
  (split into ``layer_names0``, ``layer_names1``, ... when it outgrows the
  64 KiB HDF5 object header), one group per layer with attribute
  ``weight_names``, each weight a dataset at ``<layer>/<weight name>``;
* full model (``model.save('m.h5')``): the same under the ``model_weights``
  group, plus root attributes ``model_config`` (JSON) and ``training_config``;
  an ``optimizer_weights`` group is reported and dropped.

Before anything is read, the whole file is walked (each HDF5 object once, by
its address, however many hard links lead to it) and refused if it holds
anything a legacy Keras file never does and a port must never follow:
external or soft links, external or virtual datasets, non-numeric data,
absurd shapes, or datasets whose stored bytes do not cover their declared
size (a truncated or crafted file). What a file may make us allocate is
bounded by what it stores:

* a contiguous dataset must hold every declared byte;
* a chunked dataset must have every chunk written (HDF5 reads an unwritten
  chunk as fill values, so a 100 KB file could declare gigabytes);
* a compressed dataset may not expand more than :data:`MAX_EXPANSION` times
  its stored bytes (Keras never compresses weights; trained float weights
  barely compress, so only a crafted "zip bomb" goes beyond that);
* all the weights together may not exceed ``max_weight_bytes``
  (``--max-weight-bytes``; default :data:`DEFAULT_MAX_WEIGHT_BYTES`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from migrate.weights.errors import PortError, UnsafeSourceError, one_line
from migrate.weights.source import SourceWeight, WeightSource

# No legacy Keras weight comes near this; a larger declaration is a crafted
# file that would make a reader allocate without bound.
MAX_ELEMENTS = 2**34
MAX_DIM = 2**31
# A compressed dataset may decompress to at most this many times its stored
# bytes, beyond a small allowance for the odd all-zero bias: trained float
# weights compress by a few percent, zeros by ~1000x (a decompression bomb).
MAX_EXPANSION = 64
EXPANSION_ALLOWANCE = 1 << 20
# The weights a port reads, all together; a port holds a few copies of them
# (source array, variable, saved file), so this keeps a default run in the
# memory of an ordinary machine. Raised with --max-weight-bytes.
DEFAULT_MAX_WEIGHT_BYTES = 8 << 30


def _decode(value: Any) -> str:
    return value.decode("utf8") if isinstance(value, (bytes, np.bytes_)) else str(value)


def read_split_attribute(group: Any, name: str) -> list[str]:
    """Read a string-list attribute, joining Keras' ``name0``, ``name1``... chunks."""
    if name in group.attrs:
        return [_decode(v) for v in np.atleast_1d(group.attrs[name])]
    values: list[str] = []
    chunk = 0
    while f"{name}{chunk}" in group.attrs:
        values.extend(_decode(v) for v in np.atleast_1d(group.attrs[f"{name}{chunk}"]))
        chunk += 1
    return values


def is_hdf5(path: Path) -> bool:
    """True when the file starts with the HDF5 signature (at offset 0)."""
    try:
        with open(path, "rb") as handle:
            return handle.read(8) == b"\x89HDF\r\n\x1a\n"
    except OSError:
        return False


def _chunk_count(shape: tuple[int, ...], chunks: tuple[int, ...]) -> int:
    """How many chunks a dataset of ``shape`` needs to be fully written."""
    count = 1
    for dim, chunk in zip(shape, chunks):
        count *= -(-dim // chunk)
    return count


def _check_dataset(path: Path, name: str, dset: Any) -> None:
    import h5py

    if dset.is_virtual:
        raise UnsafeSourceError(path, f"dataset {name!r} is a virtual dataset (maps other files); refusing to read it")
    if dset.external:
        raise UnsafeSourceError(path, f"dataset {name!r} stores its data in an external file; refusing to read it")
    if dset.dtype.kind not in "fiub" or dset.dtype.hasobject or h5py.check_vlen_dtype(dset.dtype):
        raise UnsafeSourceError(path, f"dataset {name!r} has non-numeric dtype {dset.dtype}; not a Keras weight")
    shape = dset.shape or ()
    if any(d > MAX_DIM for d in shape) or int(np.prod(shape, dtype=object)) > MAX_ELEMENTS:
        raise UnsafeSourceError(path, f"dataset {name!r} declares an absurd shape {shape}")
    declared = int(np.prod(shape, dtype=object)) * dset.dtype.itemsize
    if not declared:
        return
    stored = dset.id.get_storage_size()
    corrupt = "the file is truncated, corrupt or crafted; re-export it from the legacy model"
    if dset.chunks is None:
        if stored < declared:
            raise PortError(path, f"dataset {name!r} declares {declared} bytes but the file holds {stored}: {corrupt}")
        return
    # Chunked: HDF5 returns the fill value for a chunk never written, so the
    # storage size says nothing about coverage; the chunk count does.
    needed = _chunk_count(shape, dset.chunks)
    written = dset.id.get_num_chunks()
    if written < needed:
        raise PortError(
            path, f"dataset {name!r} declares {declared} bytes in {needed} chunks but only {written} are written: {corrupt}"
        )
    # Reading decompresses whole chunks, which may be larger than the data.
    expanded = max(declared, written * int(np.prod(dset.chunks, dtype=object)) * dset.dtype.itemsize)
    if expanded > MAX_EXPANSION * stored + EXPANSION_ALLOWANCE:
        raise UnsafeSourceError(
            path,
            f"dataset {name!r} would expand from {stored} stored bytes to {expanded} (over {MAX_EXPANSION}x; a "
            "decompression bomb, or a genuine all-zero weight): if the file is genuine, store it uncompressed "
            "(h5repack -f NONE) and port again",
        )


def _object_key(item: Any) -> tuple[int, int]:
    """The identity of an HDF5 object: (file number, object header address)."""
    import h5py

    info = h5py.h5o.get_info(item.id)
    return int(info.fileno), int(info.addr)


def _walk(path: Path, root: Any) -> dict[str, tuple[int, ...]]:
    """Refuse any link or dataset a legacy Keras file never contains.

    Returns every dataset's shape by the first path that reached it. Each
    object is visited once, by address: hard links may make a DAG of groups
    whose paths grow exponentially (40 groups each linking twice to the
    next are 2**40 paths) while the objects stay few. The walk keeps its own
    stack, so a file nested thousands of groups deep cannot exhaust Python's.
    """
    import h5py

    seen = {_object_key(root)}
    datasets: dict[str, tuple[int, ...]] = {}
    stack: list[tuple[str, Any]] = [("", root)]
    while stack:
        prefix, group = stack.pop()
        for key in group.keys():
            name = f"{prefix}/{key}" if prefix else key
            link = group.get(key, getlink=True)
            if isinstance(link, h5py.ExternalLink):
                raise UnsafeSourceError(path, f"{name!r} is an external link to {link.filename}:{link.path}; refusing to follow it")
            if isinstance(link, h5py.SoftLink):
                raise UnsafeSourceError(path, f"{name!r} is a soft link to {link.path}; legacy Keras files have none")
            item = group[key]
            identity = _object_key(item)
            if identity in seen:
                continue
            seen.add(identity)
            if isinstance(item, h5py.Dataset):
                _check_dataset(path, name, item)
                datasets[name] = tuple(item.shape or ())
            elif isinstance(item, h5py.Group):
                stack.append((name, item))
    return datasets


def _readers(path: Path, dset: Any, name: str):
    def guarded(selection: Any) -> np.ndarray:
        try:
            return np.asarray(dset[selection])
        except (OSError, ValueError, RuntimeError) as exc:
            raise PortError(path, f"weight {name!r} cannot be read ({one_line(exc)}); the file is truncated or corrupt") from exc

    def read() -> np.ndarray:
        return guarded(())

    def read_rows(start: int, stop: int) -> np.ndarray:
        return guarded(slice(start, stop))

    return read, (read_rows if dset.ndim >= 1 else None)


def read_h5(path: str | Path, max_weight_bytes: int = DEFAULT_MAX_WEIGHT_BYTES) -> WeightSource:
    """Open a legacy Keras HDF5 file and catalogue its weights (lazily).

    Args:
        path: the ``.h5`` file.
        max_weight_bytes: the most the catalogued weights may declare, all
            together (``--max-weight-bytes``).

    Raises:
        PortError: the file does not exist, is not HDF5, is truncated or
            corrupt, is not a Keras weights/model file, or its weights exceed
            ``max_weight_bytes``.
        UnsafeSourceError: the file holds links or datasets a port refuses.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise PortError(path, "no such file")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise PortError(path, f"is not a readable HDF5 file ({one_line(exc)}); it is truncated or corrupt") from exc
    try:
        try:
            source = _catalogue(path, handle)
        except PortError:
            raise
        except (OSError, RuntimeError, KeyError, TypeError, ValueError, UnicodeError, OverflowError) as exc:
            # h5py raises all of these on a damaged or crafted structure
            # (unreadable attributes, odd attribute dtypes, broken headers).
            raise PortError(path, f"cannot read the file's structure ({type(exc).__name__}: {one_line(exc)}); "
                                  "it is truncated, corrupt or not a Keras file") from exc
        check_total(path, source, max_weight_bytes)
    except BaseException:
        handle.close()
        raise
    source.closers.append(handle.close)
    return source


def declared_bytes(source: WeightSource) -> int:
    """What reading every array of ``source`` allocates: the model weights and,
    where a reader lists them for porting, the optimizer's arrays."""
    return source.nbytes + sum(w.nbytes for w in getattr(source, "optimizer_weights", []))


def check_total(path: Path | str, source: WeightSource, max_weight_bytes: int) -> None:
    """Refuse a source whose arrays, together, exceed the user's limit."""
    total = declared_bytes(source)
    if total > max_weight_bytes:
        raise PortError(
            path,
            f"its arrays declare {total} bytes, over the limit of {max_weight_bytes} "
            "(about six times that in memory during a port); if the file is genuine, raise --max-weight-bytes",
        )


def _layer_group(path: Path, root: Any, layer: str) -> Any:
    import h5py

    group = root.get(layer) if layer else None
    if group is None:
        raise PortError(path, f"layer {layer!r} is listed in layer_names but has no group; the file is corrupt")
    if not isinstance(group, h5py.Group):
        raise PortError(path, f"layer {layer!r} is not a group; not a Keras file")
    return group


def _optimizer_weights(path: Path, handle: Any) -> tuple[list[SourceWeight], list[str]]:
    """The ``optimizer_weights`` group's arrays in its ``weight_names`` order.

    The order matters: Keras 2.2.4 names the arrays ``training/Adam/Variable:0``
    and so on, and only their order says which slot of which weight each is.
    A damaged entry is returned as a problem, not raised: the optimizer port
    reports it as an error, ``--no-optimizer`` as a warning.
    """
    import h5py

    group = handle.get("optimizer_weights")
    if not isinstance(group, h5py.Group):
        return [], []
    found: list[SourceWeight] = []
    problems: list[str] = []
    for weight_name in read_split_attribute(group, "weight_names"):
        dset = group.get(weight_name) if weight_name else None
        if not isinstance(dset, h5py.Dataset):
            problems.append(f"optimizer weight {weight_name!r} is listed but missing")
            continue
        name = weight_name[:-2] if weight_name.endswith(":0") else weight_name
        read, read_rows = _readers(path, dset, name)
        found.append(SourceWeight(name, tuple(dset.shape or ()), dset.dtype.name, "optimizer_weights", read, read_rows))
    return found, problems


def _catalogue(path: Path, handle: Any) -> WeightSource:
    import h5py

    datasets = _walk(path, handle)

    model_config: dict[str, Any] | None = None
    if "model_config" in handle.attrs:
        raw = _decode(handle.attrs["model_config"])
        try:
            parsed = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise PortError(path, f"model_config attribute is not valid JSON ({exc})") from exc
        except RecursionError as exc:
            raise PortError(path, "model_config attribute is nested too deeply to be a Keras model config") from exc
        if not isinstance(parsed, dict):
            raise PortError(path, f"model_config attribute is a JSON {type(parsed).__name__}, not an object; not a Keras model file")
        model_config = parsed
    weights_root = handle["model_weights"] if "model_weights" in handle else handle
    if not isinstance(weights_root, h5py.Group):
        raise PortError(path, "model_weights is not a group; not a Keras file")
    layer_order = read_split_attribute(weights_root, "layer_names")
    if not layer_order:
        raise PortError(path, "has no 'layer_names' attribute: not a Keras 2 HDF5 weights or model file")

    weights: list[SourceWeight] = []
    for layer in layer_order:
        group = _layer_group(path, weights_root, layer)
        for weight_name in read_split_attribute(group, "weight_names"):
            dset = group.get(weight_name) if weight_name else None
            if dset is None:
                raise PortError(path, f"weight {weight_name!r} of layer {layer!r} is listed but missing; the file is corrupt")
            if not isinstance(dset, h5py.Dataset):
                raise PortError(path, f"weight {weight_name!r} of layer {layer!r} is not a dataset")
            name = weight_name[:-2] if weight_name.endswith(":0") else weight_name
            read, read_rows = _readers(path, dset, name)
            weights.append(SourceWeight(name, tuple(dset.shape or ()), dset.dtype.name, layer, read, read_rows))

    dropped = [(name, shape) for name, shape in datasets.items() if name.startswith("optimizer_weights/")]
    optimizer_weights, optimizer_problems = _optimizer_weights(path, handle)
    metadata = {k: _decode(handle.attrs[k]) for k in ("keras_version", "backend") if k in handle.attrs}
    if "training_config" in handle.attrs:
        metadata["training_config"] = _decode(handle.attrs["training_config"])
    if optimizer_problems:
        metadata["optimizer_problems"] = optimizer_problems
    return WeightSource(
        path=str(path),
        format="keras-h5-model" if model_config is not None else "keras-h5-weights",
        weights=weights,
        dropped=dropped,
        optimizer_weights=optimizer_weights,
        layer_order=layer_order,
        model_config=model_config,
        metadata=metadata,
    )
