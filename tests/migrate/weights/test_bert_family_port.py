"""No-code ports of keras-bert, keras-transformer and keras-gpt-2 full-model files,
against the real libraries on tf_keras.

The files are made at test time by keras-bert itself (``legacy_ref/artefacts/bert_family.py
test-files``, a tf_keras subprocess with ``TF_USE_LEGACY_KERAS=1``), with the
library's own outputs on a probe that has padding; they are cached under
``<venv>/bert-family-files/<key>`` where the key hashes the script and the
versions that decide them. Needs the libraries ``./dev`` installs into
``<venv>/realworld``; skips without them.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from migrate.weights import families
from migrate.weights.families import bert_family
from tests.migrate.weights.family_files import family_files, load, max_diff, port, run_on_backend

ROOT = Path(__file__).resolve().parents[3]
LIBRARIES = Path(sys.prefix) / "realworld"
GOLDENS = ROOT / "tests" / "goldens" / "bert_family"
ATOL = 1e-5


@pytest.fixture(scope="module")
def files() -> Path:
    return family_files("bert", "keras_bert", "gpt2.outputs.npz")


_port, _load, _max_diff = port, load, max_diff


# --------------------------------------------------------------------------
# Goldens, still what the library computes
# --------------------------------------------------------------------------


def test_committed_goldens_are_what_the_libraries_compute_now(files: Path) -> None:
    committed = sorted(p.name for p in GOLDENS.glob("*.npz"))
    assert committed == sorted(p.name for p in (files / "goldens").glob("*.npz"))
    for name in committed:
        with np.load(GOLDENS / name) as old, np.load(files / "goldens" / name) as new:
            assert json.loads(str(old["config"][()])) == json.loads(str(new["config"][()])), name
            for key in old.files:
                if key != "config":
                    np.testing.assert_allclose(new[key], old[key], atol=1e-6, err_msg=f"{name} {key}")


# --------------------------------------------------------------------------
# No-code ports
# --------------------------------------------------------------------------


def _legacy(files: Path, stem: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    with np.load(files / f"{stem}.outputs.npz") as legacy:
        inputs = [legacy[k] for k in sorted(legacy.files) if k.startswith("input_")]
        outputs = [legacy[k] for k in sorted(legacy.files) if k.startswith("output_")]
    if stem != "gpt2":
        # The probe has padding, so the masks through Add, attention and Masked count.
        assert (inputs[0] == 0).any()
    return inputs, outputs


def _assert_equals_library(model, files: Path, stem: str) -> None:
    inputs, expected = _legacy(files, stem)
    outputs = model(inputs, training=False)
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    assert len(outputs) == len(expected)
    for actual, wanted in zip(outputs, expected):
        assert _max_diff(actual, wanted) <= ATOL


@pytest.fixture(scope="module")
def ported_features(files: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The feature model (no training config) ported once, without --verify (the
    tests compare it with the library's own outputs on a padded probe instead)."""
    out = tmp_path_factory.mktemp("bert_features") / "bert_features.keras"
    assert _port(files / "bert_features.h5", out) == 0
    return out


def test_trained_keras_bert_file_ports_verified_and_trains_on(files: Path, tmp_path: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bert_train.keras"
    assert _port(files / "bert_train.h5", out, "--verify", "--legacy-path", str(LIBRARIES)) == 0
    report = capsys.readouterr().out
    assert "verified max abs diff" in report and "training resumes" in report, report
    model = _load(out)
    _assert_equals_library(model, files, "bert_train")
    assert "modern.layers.bert_family.embeddings" in {type(layer).__module__ for layer in model.layers}
    # The libraries' "gelu" is their tanh gelu, in FeedForward and in Dense.
    from modern.layers.bert_family import gelu_tanh

    assert model.get_layer("Encoder-1-FeedForward").activation is gelu_tanh
    assert model.get_layer("MLM-Dense").activation is gelu_tanh
    # Ported with its optimizer state: one more training step works.
    inputs, _ = _legacy(files, "bert_train")
    loss = model.train_on_batch(inputs, [np.ones((2, 8, 1), "int32"), np.zeros((2, 1), "int32")])
    assert np.all(np.isfinite(loss))


def test_feature_model_without_training_config_equals_the_library(files: Path, ported_features: Path) -> None:
    _assert_equals_library(_load(ported_features), files, "bert_features")


@pytest.mark.parametrize("stem", ["transformer", "gpt2"])
def test_keras_transformer_and_gpt2_files_port_with_no_code(files: Path, tmp_path: Path, stem: str) -> None:
    """keras-transformer's decoder calls MultiHeadAttention on [q, k, v] (the bert
    family's port) beside one-tensor self-attention (the Keras-2.2 port); GPT-2 is
    causal with a tied, bias-free output."""
    out = tmp_path / f"{stem}.keras"
    assert _port(files / f"{stem}.h5", out) == 0
    model = _load(out)
    _assert_equals_library(model, files, stem)
    if stem == "transformer":
        kinds = {type(layer).__name__ for layer in model.layers}
        assert {"MultiHeadAttention", "ActivatedMultiHeadAttention", "TrigPosEmbedding"} <= kinds


def test_ported_file_loads_with_import_modern_alone_on_jax(files: Path, ported_features: Path) -> None:
    code = (
        "import sys, numpy as np, keras, modern\n"
        "m = keras.saving.load_model(sys.argv[1], safe_mode=True)\n"
        "d = np.load(sys.argv[2])\n"
        "y = m([d['input_0'], d['input_1']], training=False)\n"
        "print(float(np.max(np.abs(np.asarray(y, 'float64') - d['output_0']))))\n"
    )
    lines = run_on_backend("jax", code, ported_features, files / "bert_features.outputs.npz")
    assert float(lines[-1]) <= ATOL


# --------------------------------------------------------------------------
# Refusals: looks like the family, is not
# --------------------------------------------------------------------------


def _edited_copy(files: Path, tmp_path: Path, edit) -> Path:
    path = tmp_path / "edited.h5"
    shutil.copy(files / "bert_features.h5", path)
    with h5py.File(path, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        edit(config, handle)
        handle.attrs["model_config"] = json.dumps(config)
    return path


def _layer(config: dict, name: str) -> dict:
    return next(layer for layer in config["config"]["layers"] if layer["config"]["name"] == name)


def test_other_config_keys_are_refused_in_one_line_and_nothing_is_written(files: Path, tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    def edit(config, _):
        _layer(config, "Encoder-1-FeedForward")["config"]["kernel_size"] = 3

    out = tmp_path / "bert.keras"
    assert _port(_edited_copy(files, tmp_path, edit), out) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "'Encoder-1-FeedForward'" in error[0] and "kernel_size" in error[0], error
    assert not out.exists() and list(tmp_path.iterdir()) == [tmp_path / "edited.h5"]


def test_other_weight_shapes_are_refused_naming_the_weight(files: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    def edit(_, handle):
        group = handle["model_weights"]["Encoder-1-FeedForward"]["Encoder-1-FeedForward"]
        del group["Encoder-1-FeedForward_W1:0"]
        group["Encoder-1-FeedForward_W1:0"] = np.zeros((8, 13), "float32")

    out = tmp_path / "bert.keras"
    assert _port(_edited_copy(files, tmp_path, edit), out) == 2
    error = capsys.readouterr().err
    assert "Encoder-1-FeedForward_W1" in error and "shape" in error, error
    assert not out.exists()


def test_unknown_position_mode_is_refused(files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    def edit(config, _):
        _layer(config, "Embedding-Position")["config"]["mode"] = "sum"

    assert _port(_edited_copy(files, tmp_path, edit), tmp_path / "bert.keras") == 2
    assert "'Embedding-Position'" in capsys.readouterr().err


# --------------------------------------------------------------------------
# Recognition
# --------------------------------------------------------------------------

_MHA = {"name": "mha", "head_num": 2, "activation": "linear", "use_bias": True, "history_only": False}


@pytest.mark.parametrize("nodes, family", [
    ([[["x", 0, 0, {}]]], "keras22"),  # one tensor: the Keras-2.2 copy's call
    (None, "keras22"),  # a bare config (no call saved): as before
    ([[["q", 0, 0, {}], ["k", 0, 0, {}], ["v", 0, 0, {}]]], "bert-family"),  # keras-multi-head's [q, k, v]
])
def test_multi_head_attention_is_told_apart_by_its_saved_call(nodes, family) -> None:
    entry = {"class_name": "MultiHeadAttention", "config": dict(_MHA)}
    if nodes is not None:
        entry["inbound_nodes"] = nodes
    legacy = families.legacy_class_of(entry)
    assert legacy is not None and families.family_of(legacy).name == family


def test_builtin_and_foreign_classes_of_the_same_names_are_not_the_familys() -> None:
    # Keras's own MultiHeadAttention and LayerNormalization keep their keys.
    assert families.legacy_class_of({"class_name": "MultiHeadAttention", "config": {"num_heads": 2, "key_dim": 4},
                                     "inbound_nodes": [[["q", 0, 0, {}], ["v", 0, 0, {}]]]}) is None
    # A FeedForward without the library's keys is some other FeedForward.
    assert families.legacy_class_of({"class_name": "FeedForward", "config": {"name": "f", "units": 4}}) is None


def test_each_class_builds_its_port_and_names_the_librarys_weights() -> None:
    import modern.layers.bert_family as ports

    configs = {
        "TokenEmbedding": {"input_dim": 5, "output_dim": 4, "mask_zero": True, "input_length": None},
        "EmbeddingRet": {"input_dim": 5, "output_dim": 4, "mask_zero": False},
        "EmbeddingSimilarity": {"initializer": "zeros", "regularizer": None, "constraint": None},
        "EmbeddingSim": {"use_bias": False, "initializer": "zeros", "stop_gradient": True},
        "TaskEmbedding": {"input_dim": 3, "output_dim": 4, "mask_zero": False},
        "PositionEmbedding": {"input_dim": 9, "output_dim": 4, "mode": "add"},
        "TrigPosEmbedding": {"mode": "concat", "output_dim": 4},
        "SeqSelfAttention": {"units": 3, "attention_type": "multiplicative", "attention_width": None},
        "FeedForward": {"units": 6, "dropout_rate": 0.0, "kernel_initializer": "glorot_normal", "activation": "gelu"},
        "Masked": {"return_masked": False},
        "Extract": {"index": 0},
        "MultiHeadAttention": {"head_num": 2, "history_only": True, "use_bias": False},
        "ScaledDotProductAttention": {"return_attention": False, "history_only": True},
        "MultiHead": {"layers": [{"class_name": "Dense", "config": {"name": "dense_1", "units": 2}}], "hidden_dim": 3,
                      "use_bias": True, "reg_index": None, "reg_slice": None, "reg_factor": 0.0},
    }
    ours = [legacy for legacy in families.legacy_classes() if families.family_of(legacy) is bert_family.FAMILY]
    assert sorted(legacy.class_name for legacy in ours) == sorted(configs)
    for legacy in ours:
        config = {"name": "layer", "trainable": True, "dtype": "float32", **configs[legacy.class_name]}
        layer = legacy.build(config)
        assert isinstance(layer, getattr(ports, bert_family.CLASSES[legacy.class_name][2]))
        assert layer.name == "layer"
        rows = [(row.source, row.target) for row in legacy.rules("layer", config)]
        if legacy.class_name == "MultiHead":
            # Its heads' weights are saved under sub_<i>/ and kept under the head's name.
            assert rows == [("layer/layer_W", "layer_W"), ("layer/layer_b", "layer_b"),
                            ("layer/sub_0/kernel", "dense_1/kernel"), ("layer/sub_0/bias", "dense_1/bias")]
            continue
        for source, target in rows:
            assert source == f"layer/{target}"
    feed_forward = next(legacy for legacy in ours if legacy.class_name == "FeedForward")
    assert feed_forward.build({"name": "ff", **configs["FeedForward"]}).activation is ports.gelu_tanh
    assert [r.target for r in next(l for l in ours if l.class_name == "MultiHeadAttention").rules(
        "m", configs["MultiHeadAttention"])] == ["m_Wq", "m_Wk", "m_Wv", "m_Wo"]
