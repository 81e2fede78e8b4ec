"""The common shape of every checkpoint reader's result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


def itemsize(dtype: str) -> int:
    """Bytes per element of a dtype name, NumPy's or ml_dtypes' (``bfloat16``)."""
    try:
        return np.dtype(dtype).itemsize
    except TypeError:
        import ml_dtypes  # comes with TensorFlow and jax; names bfloat16, float8_*

        return np.dtype(getattr(ml_dtypes, dtype)).itemsize


@dataclass(frozen=True)
class SourceWeight:
    """One weight in a legacy checkpoint.

    Attributes:
        name: the legacy name (HDF5 ``weight_names`` entry without ``:0``, or
            the object-graph path of a TF checkpoint without
            ``/.ATTRIBUTES/VARIABLE_VALUE``).
        shape: the stored shape, known without reading the data.
        dtype: the stored dtype name.
        layer: the legacy layer that owns it (HDF5 files), or ``""``.
        read: reads the array on demand; each call reads it anew.
        read_rows: reads a block of leading-axis rows, or ``None``.
    """

    name: str
    shape: tuple[int, ...]
    dtype: str
    layer: str
    read: Callable[[], np.ndarray] = field(repr=False, compare=False)
    # Reads rows [start, stop) of the leading axis, when the format can do so
    # without reading the rest (HDF5); lets large weights stream in blocks.
    read_rows: Callable[[int, int], np.ndarray] | None = field(default=None, repr=False, compare=False)

    @property
    def nbytes(self) -> int:
        # Python ints: a crafted shape must not overflow into a small number.
        return int(np.prod(self.shape, dtype=object)) * itemsize(self.dtype)


@dataclass
class WeightSource:
    """What a reader found in a legacy checkpoint.

    Attributes:
        path: the file or directory read.
        format: ``"keras-h5-weights"``, ``"keras-h5-model"``,
            ``"tf-checkpoint"`` or ``"savedmodel"``.
        weights: model weights in file order.
        dropped: optimizer slots, counters and other training state that a
            port drops by default (name and shape), for the report.
        optimizer_weights: the optimizer's own arrays (slots, iteration
            counter, hyper-parameter variables), readable like ``weights``, in
            file order (Keras 2.2.4 files name them by order only); ported by
            :mod:`migrate.weights.optimizer_state` unless ``--no-optimizer``.
        layer_order: the legacy layer names in file order (HDF5 files).
        model_config: the parsed ``model_config`` JSON of a full-model HDF5
            file (data only; nothing in it is ever executed), else ``None``.
        metadata: anything else worth reporting (keras_version, backend).
    """

    path: str
    format: str
    weights: list[SourceWeight]
    dropped: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    optimizer_weights: list[SourceWeight] = field(default_factory=list)
    layer_order: list[str] = field(default_factory=list)
    model_config: dict[str, Any] | None = None
    metadata: dict[str, Any] = field(default_factory=dict)
    closers: list[Callable[[], None]] = field(default_factory=list, repr=False)

    def close(self) -> None:
        """Release open files; the lazy ``read`` functions stop working."""
        while self.closers:
            self.closers.pop()()

    def __enter__(self) -> "WeightSource":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def by_name(self) -> dict[str, SourceWeight]:
        return {w.name: w for w in self.weights}

    @property
    def nbytes(self) -> int:
        return sum(w.nbytes for w in self.weights)
