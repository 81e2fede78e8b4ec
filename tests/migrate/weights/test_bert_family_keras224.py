"""Keras-2.2-era keras-bert files (saved by standalone Keras 2.2.4) port as the tf_keras-era ones do.

Keras 2.2.4 does not run here, so the files are the real library's tf_keras
files (``legacy_ref/artefacts/bert_family.py test-files``, the fixture of
``test_bert_family_port``) rewritten by ``legacy_ref/artefacts/keras224_layout.py``
into the layout Keras 2.2.4's ``_serialize_model`` wrote: same arrays, 2.2.4's
attributes, ``model_config`` and ``training_config`` dialects and its
order-only optimizer state (``Adam/iterations``, ``training/Adam/Variable_k``,
shape-(1,) vhats). Each port is compared with the library's own outputs on the
tf_keras twin file and with the twin's port.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from legacy_ref.artefacts import keras224_layout
from tests.migrate.weights.test_bert_family_port import (
    ATOL,
    LIBRARIES,
    _assert_equals_library,
    _legacy,
    _load,
    _max_diff,
    _port,
    files,
)

__all__ = ["files"]  # the fixture, shared with the tf_keras-era tests (same cached files)

DECAY = 0.01


@pytest.fixture(scope="module")
def keras224(files: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("keras224")
    # The training file records a decay (Keras 2.2 Adam's lr / (1 + decay * iterations)).
    keras224_layout.rewrite(files / "bert_train.h5", out / "bert_train.h5", decay=DECAY)
    return out


@pytest.fixture(scope="module")
def ported224(keras224: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The 2.2.4 training file ported once with --verify (the oracle: the library on tf_keras, rebuilding
    the 2.2.4 model_config itself), and the port's report."""
    import contextlib
    import io

    out = tmp_path_factory.mktemp("keras224_port") / "bert_train.keras"
    report = io.StringIO()
    with contextlib.redirect_stdout(report):
        assert _port(keras224 / "bert_train.h5", out, "--verify", "--legacy-path", str(LIBRARIES)) == 0
    return out, report.getvalue()


def _names(attribute) -> list[str]:
    return [n.decode() if isinstance(n, bytes) else str(n) for n in attribute]


def test_rewritten_file_has_keras_224s_layout_and_the_same_weights(files: Path, keras224: Path) -> None:
    with h5py.File(keras224 / "bert_train.h5", "r") as new, h5py.File(files / "bert_train.h5", "r") as old:
        assert new.attrs["keras_version"] == b"2.2.4" and new.attrs["backend"] == b"tensorflow"  # fixed-length, as h5py 2 wrote
        raw = new.attrs["model_config"].decode()
        config = json.loads(raw)
        assert config["class_name"] == "Model" and "trainable" not in config["config"]
        assert '"module"' not in raw and '"registered_name"' not in raw and "Glorot" not in raw
        inputs = [layer for layer in config["config"]["layers"] if layer["class_name"] == "InputLayer"]
        assert inputs and all(set(layer["config"]) == {"batch_input_shape", "dtype", "sparse", "name"}
                              for layer in inputs)
        training = json.loads(new.attrs["training_config"].decode())
        assert training["optimizer_config"]["class_name"] == "Adam"
        assert set(training["optimizer_config"]["config"]) == {"lr", "beta_1", "beta_2", "decay", "epsilon", "amsgrad"}
        names = _names(new["optimizer_weights"].attrs["weight_names"])
        trainable = (len(names) - 1) // 3
        assert names[:3] == ["Adam/iterations:0", "training/Adam/Variable:0", "training/Adam/Variable_1:0"]
        assert len(names) == 1 + 3 * trainable and trainable == len(
            [n for n in _names(old["optimizer_weights"].attrs["weight_names"]) if n.endswith("/m:0")])
        assert new["optimizer_weights"]["Adam/iterations:0"].dtype == np.int64
        for layer in _names(old["model_weights"].attrs["layer_names"]):
            for weight in _names(old["model_weights"][layer].attrs["weight_names"]):
                np.testing.assert_array_equal(new["model_weights"][layer][weight][()], old["model_weights"][layer][weight][()])


def test_keras_224_training_file_ports_verified_with_its_adam_state(files: Path,
                                                                    ported224: tuple[Path, str]) -> None:
    """--verify runs tf_keras on the 2.2.4 model_config itself (the oracle rebuilds it with the library's
    classes); Adam's lr/decay and its order-only moments map to the Keras 3 optimizer."""
    import keras

    out, report = ported224
    assert "verified max abs diff" in report and "Keras 2.2.4 order" in report and "training resumes" in report, report
    model = _load(out)
    _assert_equals_library(model, files, "bert_train")  # the library's outputs on the tf_keras twin
    optimizer = model.optimizer
    assert int(optimizer.iterations.numpy()) == 2
    schedule = optimizer._learning_rate
    assert isinstance(schedule, keras.optimizers.schedules.InverseTimeDecay)
    assert schedule.decay_rate == pytest.approx(DECAY) and schedule.initial_learning_rate == pytest.approx(1e-3)
    # Each moment is the one the tf_keras twin stored *by weight name* (Adam/<layer>/.../<weight>/m) for
    # that weight: the layer from the name, the weight by its place in the layer (the Keras-2.2 attention
    # port holds Wq as a (d, heads, d/heads) kernel, so values compare flattened).
    with h5py.File(files / "bert_train.h5", "r") as twin:
        group = twin["optimizer_weights"]
        checked = 0
        for slot, slots in (("m:0", optimizer._momentums), ("v:0", optimizer._velocities)):
            per_layer: dict[str, list[str]] = {}
            for name in _names(group.attrs["weight_names"]):
                if name.endswith("/" + slot):
                    per_layer.setdefault(name.split("/")[1], []).append(name)
            for layer, names in per_layer.items():
                variables = model.get_layer(layer).trainable_weights
                assert len(variables) == len(names), layer
                for variable, name in zip(variables, names):
                    value = np.asarray(slots[optimizer._get_variable_index(variable)]).reshape(-1)
                    assert _max_diff(value, group[name][()].reshape(-1)) == 0.0, name
                    checked += 1
    assert checked == 2 * len(model.trainable_weights)


def test_keras_224_port_equals_the_tf_keras_twins_port(files: Path, ported224: tuple[Path, str],
                                                       tmp_path: Path) -> None:
    assert _port(files / "bert_train.h5", tmp_path / "tf_keras.keras", "--no-optimizer") == 0
    ported, twin = _load(ported224[0]), _load(tmp_path / "tf_keras.keras")
    inputs, expected = _legacy(files, "bert_train")
    for actual, wanted, library in zip(ported(inputs, training=False), twin(inputs, training=False), expected):
        assert _max_diff(actual, np.asarray(wanted)) <= ATOL
        assert _max_diff(actual, library) <= ATOL
    for mine, theirs in zip(ported.weights, twin.weights, strict=True):
        assert mine.path == theirs.path and _max_diff(mine, np.asarray(theirs)) == 0.0, mine.path


def test_keras_224_keras_bert_adamwarmup_state_is_refused_in_one_line(keras224: Path, tmp_path: Path,
                                                                       capsys: pytest.CaptureFixture[str]) -> None:
    """keras-bert's Keras 2 AdamWarmup (get_updates, 2.2.4 order) is not mapped: one line, nothing written."""
    path = tmp_path / "warmup.h5"
    shutil.copy(keras224 / "bert_train.h5", path)
    with h5py.File(path, "r+") as handle:
        training = json.loads(handle.attrs["training_config"].decode())
        training["optimizer_config"] = {"class_name": "AdamWarmup", "config": {
            "decay_steps": 100.0, "warmup_steps": 10.0, "min_lr": 0.0, "lr": 1e-3, "beta_1": 0.9, "beta_2": 0.999,
            "epsilon": 1e-7, "weight_decay": 0.0, "weight_decay_pattern": None, "amsgrad": False}}
        handle.attrs["training_config"] = json.dumps(training).encode()
    out = tmp_path / "warmup.keras"
    assert _port(path, out) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and "AdamWarmup" in error[0] and "--no-optimizer" in error[0], error
    assert not out.exists()
