"""The closed set of named weight transforms, and the row type of a weight map.

Each transform takes the legacy array and the shape of the target variable
and returns an array of exactly that shape, or raises ``ValueError`` naming
both shapes. They are pure NumPy so that porting never needs the legacy
runtime.

``identity``
    same array; shapes must match.
``transpose``
    reverse the axes (a 2-D kernel stored as ``(out, in)``).
``split_heads``
    a fused projection kernel ``(d_in, h * d_head)`` to the per-head layout of
    ``keras.layers.MultiHeadAttention`` ``(d_in, h, d_head)``; head ``i`` owns
    columns ``i * d_head : (i + 1) * d_head`` in both the tutorial's
    ``split_heads`` (reshape then transpose) and the Keras-2.2 layer.
``split_bias``
    a fused projection bias ``(h * d_head,)`` to ``(h, d_head)``.
``merge_heads``
    an output kernel ``(h * d_head, d_out)`` to ``(h, d_head, d_out)``, the
    layout of ``attention_output/kernel``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np


@dataclass(frozen=True)
class WeightRule:
    """One row of a weight map.

    Attributes:
        source: legacy weight name, relative to the legacy layer or model
            (may contain ``{i}`` placeholders filled per repeated block).
        target: Keras 3 ``variable.path`` of the modern variable, relative to
            the modern layer or model (same placeholders).
        transform: name of a transform in :data:`TRANSFORMS`.
    """

    source: str
    target: str
    transform: str = "identity"

    def format(self, **indices: object) -> "WeightRule":
        return WeightRule(self.source.format(**indices), self.target.format(**indices), self.transform)


def _identity(array: np.ndarray, target_shape: tuple[int, ...]) -> np.ndarray:
    return array


def _transpose(array: np.ndarray, target_shape: tuple[int, ...]) -> np.ndarray:
    return np.transpose(array)


def _split_heads(array: np.ndarray, target_shape: tuple[int, ...]) -> np.ndarray:
    if array.ndim != 2 or len(target_shape) != 3:
        raise ValueError(f"split_heads needs a 2-D kernel and a 3-D target, got {array.shape} -> {target_shape}")
    return array.reshape(array.shape[0], target_shape[1], target_shape[2])


def _split_bias(array: np.ndarray, target_shape: tuple[int, ...]) -> np.ndarray:
    if array.ndim != 1 or len(target_shape) != 2:
        raise ValueError(f"split_bias needs a 1-D bias and a 2-D target, got {array.shape} -> {target_shape}")
    return array.reshape(target_shape)


def _merge_heads(array: np.ndarray, target_shape: tuple[int, ...]) -> np.ndarray:
    if array.ndim != 2 or len(target_shape) != 3:
        raise ValueError(f"merge_heads needs a 2-D kernel and a 3-D target, got {array.shape} -> {target_shape}")
    return array.reshape(target_shape[0], target_shape[1], array.shape[1])


TRANSFORMS: dict[str, Callable[[np.ndarray, tuple[int, ...]], np.ndarray]] = {
    "identity": _identity,
    "transpose": _transpose,
    "split_heads": _split_heads,
    "split_bias": _split_bias,
    "merge_heads": _merge_heads,
}


def transform_fits(name: str, source_shape: tuple[int, ...], target_shape: tuple[int, ...]) -> bool:
    """Whether ``name`` maps ``source_shape`` exactly onto ``target_shape``
    (checked from shapes alone, without any data)."""
    s, t = tuple(source_shape), tuple(target_shape)
    if name == "identity":
        return s == t
    if name == "transpose":
        return s == t[::-1]
    if name == "split_heads":
        return len(s) == 2 and len(t) == 3 and s == (t[0], t[1] * t[2])
    if name == "split_bias":
        return len(s) == 1 and len(t) == 2 and s == (t[0] * t[1],)
    if name == "merge_heads":
        return len(s) == 2 and len(t) == 3 and s == (t[0] * t[1], t[2])
    raise KeyError(f"unknown weight transform {name!r}; known: {sorted(TRANSFORMS)}")


def apply_transform(name: str, array: np.ndarray, target_shape: tuple[int, ...], *, what: str = "") -> np.ndarray:
    """Apply the named transform and check the result has exactly ``target_shape``.

    Args:
        name: a key of :data:`TRANSFORMS`.
        array: the legacy weight.
        target_shape: shape of the modern variable to fill.
        what: a description of the pair (``"mha/mha_Wq -> mha/query/kernel"``)
            used in error messages.

    Raises:
        KeyError: unknown transform name.
        ValueError: the legacy array cannot be brought to ``target_shape``.
    """
    if name not in TRANSFORMS:
        raise KeyError(f"unknown weight transform {name!r}; known: {sorted(TRANSFORMS)}")
    array = np.asarray(array)
    target_shape = tuple(int(d) for d in target_shape)
    if not transform_fits(name, array.shape, target_shape):
        raise ValueError(f"{what}: {name} cannot map shape {array.shape} onto {target_shape}")
    result = TRANSFORMS[name](array, target_shape)
    if tuple(result.shape) != target_shape:
        raise ValueError(f"{what}: shape {array.shape} ({name}) gives {result.shape}, target needs {target_shape}")
    return result
