"""Assigning weights: whole tensors, and large ones streamed in row blocks."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from migrate.weights import plan as planning
from migrate.weights.h5 import read_h5


def _legacy_weights_file(path: Path, arrays: dict[str, list[np.ndarray]]) -> None:
    """A Keras 2 weights-only HDF5 file (the layout tf_keras's save_weights writes)."""
    with h5py.File(path, "w") as f:
        f.attrs["layer_names"] = np.array([name.encode() for name in arrays])
        for layer, values in arrays.items():
            group = f.create_group(layer)
            names = [f"{layer}/{leaf}:0" for leaf in ("kernel", "bias")[: len(values)]]
            group.attrs["weight_names"] = np.array([n.encode() for n in names])
            for name, value in zip(names, values):
                group[name] = value


def _model():
    import keras

    inputs = keras.Input((33,))
    hidden = keras.layers.Dense(70, name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(5, name="out")(hidden))


@pytest.mark.parametrize("block_bytes", [1 << 30, 1024, 33 * 4])
def test_ported_values_are_exact_whole_or_in_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, block_bytes: int) -> None:
    monkeypatch.setattr(planning, "BLOCK_BYTES", block_bytes)
    rng = np.random.default_rng(0)
    arrays = {
        "hidden": [rng.standard_normal((33, 70)).astype("float32"), rng.standard_normal(70).astype("float32")],
        "out": [rng.standard_normal((70, 5)).astype("float32"), rng.standard_normal(5).astype("float32")],
    }
    path = tmp_path / "w.h5"
    _legacy_weights_file(path, arrays)
    model = _model()
    with read_h5(path) as source:
        plan = planning.plan_by_layers(source, model)
        streamed = [item.source.name for item in plan.assignments if planning._streams(item)]
        planning.apply_plan(plan, str(path))
    if block_bytes < 33 * 70 * 4:
        assert "hidden/kernel" in streamed  # the large kernel went through the block path
    else:
        assert not streamed
    for layer, values in arrays.items():
        for variable, value in zip(model.get_layer(layer).weights, values):
            np.testing.assert_array_equal(np.asarray(variable.numpy()), value)
