"""The seed-003 HDF5 checkpoints have the Keras 2 layout and load back exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import h5py
import tf_keras

from legacy_ref import keras22  # noqa: E402
from legacy_ref.artefacts import keras22 as artefacts  # noqa: E402

pytestmark = pytest.mark.slow

CUSTOM_CLASSES = {"Position_Embedding", "MultiHeadAttention", "LayerNorm"}


def _decode(values) -> list[str]:
    return [v.decode("utf8") if isinstance(v, bytes) else str(v) for v in values]


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Write the artefacts once; keep the trained model's predictions for the round trips."""
    out_dir = tmp_path_factory.mktemp("keras22_artefacts")
    paths = artefacts.write_artefacts(out_dir)
    model = artefacts.build_trained_model()  # same seed: must be the same model again
    rng = np.random.default_rng(7)
    tokens = rng.integers(0, artefacts.ARTEFACT_ARGS["vocab_size"], size=(6, artefacts.ARTEFACT_ARGS["max_len"]))
    tokens[:, -4:] = 0
    tokens = tokens.astype(np.int32)
    return {
        "paths": paths,
        "tokens": tokens,
        "probs": model(tokens, training=False).numpy(),
        "weights": {w.name: w.numpy() for w in model.weights},
        "layer_names": [layer.name for layer in model.layers],
        "weighted": {layer.name: [w.name for w in layer.weights] for layer in model.layers},
    }


def test_files_are_written_and_small(written) -> None:
    names = [p.name for p in written["paths"]]
    assert names == [artefacts.WEIGHTS_FILE, artefacts.MODEL_FILE]
    for path in written["paths"]:
        assert path.is_file()
        assert 0 < path.stat().st_size < 1_000_000, path


def _check_weight_layout(root, written) -> None:
    assert _decode(root.attrs["layer_names"]) == written["layer_names"]
    for layer, names in written["weighted"].items():
        group = root[layer]
        assert _decode(group.attrs["weight_names"]) == names, layer
        for name in names:
            np.testing.assert_array_equal(group[name][()], written["weights"][name])
    assert _decode(root["t1_att1"].attrs["weight_names"]) == [
        f"t1_att1/t1_att1_{n}:0" for n in ("Wq", "bq", "Wk", "bk", "Wv", "bv", "Wo", "bo")
    ]
    # Weightless layers (LayerNorm, Dropout, Add, Position_Embedding) still get a group.
    for layer in ("t1_LN1", "position__embedding", "t1_do1"):
        assert _decode(root[layer].attrs["weight_names"]) == []


def test_weights_only_file_has_the_keras2_layout(written) -> None:
    with h5py.File(written["paths"][0], "r") as f:
        assert "model_weights" not in f and "model_config" not in f.attrs
        assert _decode([f.attrs["backend"]]) == ["tensorflow"]
        _check_weight_layout(f, written)


def test_full_model_file_has_config_and_training_config(written) -> None:
    with h5py.File(written["paths"][1], "r") as f:
        _check_weight_layout(f["model_weights"], written)
        config = json.loads(f.attrs["model_config"])
        training = json.loads(f.attrs["training_config"])
        assert "optimizer_weights" in f
    assert config["class_name"] == "Functional"
    classes = {layer["class_name"] for layer in config["config"]["layers"]}
    assert CUSTOM_CLASSES <= classes
    mha = next(layer for layer in config["config"]["layers"] if layer["name"] == "t2_att1")
    assert mha["class_name"] == "MultiHeadAttention"
    assert mha["config"]["head_num"] == 4 and mha["config"]["activation"] == "relu"
    assert "return_attention" not in mha["config"]
    ln = next(layer for layer in config["config"]["layers"] if layer["name"] == "t1_LN1")
    assert ln["config"]["epsilon"] == pytest.approx(1e-14)
    assert training["loss"] == "categorical_crossentropy"
    assert training["optimizer_config"]["class_name"] == "Adam"


def test_load_weights_round_trip(written) -> None:
    tf_keras.backend.clear_session()
    model = keras22.build_model(**artefacts.ARTEFACT_ARGS)
    before = model(written["tokens"], training=False).numpy()
    assert not np.allclose(before, written["probs"], atol=1e-4)  # the load below must do the work
    model.load_weights(str(written["paths"][0]))
    np.testing.assert_array_equal(model(written["tokens"], training=False).numpy(), written["probs"])


def test_load_model_round_trip_with_custom_objects(written) -> None:
    model = artefacts.load_full_model(written["paths"][1])
    np.testing.assert_array_equal(model(written["tokens"], training=False).numpy(), written["probs"])
    assert isinstance(model.get_layer("t1_att1"), keras22.MultiHeadAttention)
    assert isinstance(model.get_layer("t1_LN1"), keras22.LayerNorm)
    assert isinstance(model.optimizer, tf_keras.optimizers.legacy.Adam)
    assert int(model.optimizer.iterations.numpy()) == 2


def test_full_model_needs_the_custom_objects(written) -> None:
    with pytest.raises(ValueError, match="Position_Embedding"):
        tf_keras.models.load_model(str(written["paths"][1]))


def test_artefacts_are_reproducible(written, tmp_path: Path) -> None:
    again = artefacts.write_artefacts(tmp_path)
    with h5py.File(written["paths"][0], "r") as old, h5py.File(again[0], "r") as new:
        for layer, names in written["weighted"].items():
            for name in names:
                np.testing.assert_allclose(new[layer][name][()], old[layer][name][()], atol=1e-6)
