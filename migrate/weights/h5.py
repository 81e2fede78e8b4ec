"""Reader for legacy Keras HDF5 files (Keras 2.2 and tf.keras 2.x).

Two layouts, both read as data with h5py and never executed:

* weights-only (``model.save_weights('w.h5')``): root attribute ``layer_names``
  (split into ``layer_names0``, ``layer_names1``, ... when it outgrows the
  64 KiB HDF5 object header), one group per layer with attribute
  ``weight_names``, each weight a dataset at ``<layer>/<weight name>``;
* full model (``model.save('m.h5')``): the same under the ``model_weights``
  group, plus root attributes ``model_config`` (JSON) and ``training_config``;
  an ``optimizer_weights`` group is reported and dropped.

Before anything is read, the whole file is walked and refused if it holds
anything a legacy Keras file never does and a port must never follow:
external or soft links, external or virtual datasets, non-numeric data,
absurd shapes, or datasets whose stored bytes do not cover their declared
size (a truncated or crafted file).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from migrate.weights.errors import PortError, UnsafeSourceError
from migrate.weights.source import SourceWeight, WeightSource

# No legacy Keras weight comes near this; a larger declaration is a crafted
# file that would make a reader allocate without bound.
MAX_ELEMENTS = 2**34
MAX_DIM = 2**31


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
    if dset.compression is None and dset.chunks is None and dset.size:
        stored = dset.id.get_storage_size()
        if stored < dset.size * dset.dtype.itemsize:
            raise PortError(
                path,
                f"dataset {name!r} declares {dset.size * dset.dtype.itemsize} bytes but the file holds "
                f"{stored}: the file is truncated or corrupt; re-export it from the legacy model",
            )


def _walk(path: Path, group: Any, prefix: str = "") -> None:
    """Refuse any link or dataset a legacy Keras file never contains."""
    import h5py

    for key in group.keys():
        name = f"{prefix}/{key}" if prefix else key
        link = group.get(key, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            raise UnsafeSourceError(path, f"{name!r} is an external link to {link.filename}:{link.path}; refusing to follow it")
        if isinstance(link, h5py.SoftLink):
            raise UnsafeSourceError(path, f"{name!r} is a soft link to {link.path}; legacy Keras files have none")
        item = group[key]
        if isinstance(item, h5py.Dataset):
            _check_dataset(path, name, item)
        elif isinstance(item, h5py.Group):
            _walk(path, item, name)


def _readers(path: Path, dset: Any, name: str):
    def guarded(selection: Any) -> np.ndarray:
        try:
            return np.asarray(dset[selection])
        except (OSError, ValueError, RuntimeError) as exc:
            raise PortError(path, f"weight {name!r} cannot be read ({exc}); the file is truncated or corrupt") from exc

    def read() -> np.ndarray:
        return guarded(())

    def read_rows(start: int, stop: int) -> np.ndarray:
        return guarded(slice(start, stop))

    return read, (read_rows if dset.ndim >= 1 else None)


def read_h5(path: str | Path) -> WeightSource:
    """Open a legacy Keras HDF5 file and catalogue its weights (lazily).

    Raises:
        PortError: the file does not exist, is not HDF5, is truncated or
            corrupt, or is not a Keras weights/model file.
        UnsafeSourceError: the file holds links or datasets a port refuses.
    """
    import h5py

    path = Path(path)
    if not path.exists():
        raise PortError(path, "no such file")
    try:
        handle = h5py.File(path, "r")
    except OSError as exc:
        raise PortError(path, f"is not a readable HDF5 file ({exc}); it is truncated or corrupt") from exc
    try:
        source = _catalogue(path, handle)
    except BaseException:
        handle.close()
        raise
    source.closers.append(handle.close)
    return source


def _catalogue(path: Path, handle: Any) -> WeightSource:
    import h5py

    try:
        _walk(path, handle)
    except (OSError, RuntimeError, KeyError) as exc:
        raise PortError(path, f"cannot walk the file ({exc}); it is truncated or corrupt") from exc

    model_config: dict[str, Any] | None = None
    if "model_config" in handle.attrs:
        raw = _decode(handle.attrs["model_config"])
        try:
            model_config = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise PortError(path, f"model_config attribute is not valid JSON ({exc})") from exc
    weights_root = handle["model_weights"] if "model_weights" in handle else handle
    if not isinstance(weights_root, h5py.Group):
        raise PortError(path, "model_weights is not a group; not a Keras file")
    layer_order = read_split_attribute(weights_root, "layer_names")
    if not layer_order:
        raise PortError(path, "has no 'layer_names' attribute: not a Keras 2 HDF5 weights or model file")

    weights: list[SourceWeight] = []
    for layer in layer_order:
        if layer not in weights_root:
            raise PortError(path, f"layer {layer!r} is listed in layer_names but has no group; the file is corrupt")
        group = weights_root[layer]
        for weight_name in read_split_attribute(group, "weight_names"):
            if weight_name not in group:
                raise PortError(path, f"weight {weight_name!r} of layer {layer!r} is listed but missing; the file is corrupt")
            dset = group[weight_name]
            if not isinstance(dset, h5py.Dataset):
                raise PortError(path, f"weight {weight_name!r} of layer {layer!r} is not a dataset")
            name = weight_name[:-2] if weight_name.endswith(":0") else weight_name
            read, read_rows = _readers(path, dset, name)
            weights.append(SourceWeight(name, tuple(dset.shape), dset.dtype.name, layer, read, read_rows))

    dropped: list[tuple[str, tuple[int, ...]]] = []
    if "optimizer_weights" in handle:
        def collect(name: str, item: Any) -> None:
            if isinstance(item, h5py.Dataset):
                dropped.append((f"optimizer_weights/{name}", tuple(item.shape)))

        handle["optimizer_weights"].visititems(collect)

    metadata = {k: _decode(handle.attrs[k]) for k in ("keras_version", "backend") if k in handle.attrs}
    if "training_config" in handle.attrs:
        metadata["training_config"] = _decode(handle.attrs["training_config"])
    return WeightSource(
        path=str(path),
        format="keras-h5-model" if model_config is not None else "keras-h5-weights",
        weights=weights,
        dropped=dropped,
        layer_order=layer_order,
        model_config=model_config,
        metadata=metadata,
    )
