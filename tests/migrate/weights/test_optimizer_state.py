"""Optimizer state in ``migrate port``: each mapped legacy optimizer resumes identically; mismatches fail in one line.

Each mapped row of :data:`migrate.weights.optimizer_tables.OPTIMIZERS` is
checked the same way: a tiny Dense model trains a few steps on tf_keras with
the legacy optimizer, is saved as a full-model HDF5 file, trains on; the port
of the saved file trains the same batches in Keras 3. Losses and weights must
agree to 1e-5, which holds only if the slots, the counter and the
hyper-parameters all came across (the control test shows that a dropped state
does not).
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import h5py
import numpy as np
import pytest

from migrate.cli import main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
RESUME = FIXTURES / "legacy" / "resume"
CLASSIFIER = RESUME / "keras22_step3.model.h5"
FACTORIES = FIXTURES / "resume_models.py"
N, M = 3, 3


def _legacy_run(tmp_path: Path, make_optimizer) -> tuple[Path, list[float], list[np.ndarray], np.ndarray, np.ndarray]:
    """Train N steps on tf_keras, save, train M more; return the file, the M losses, the weights, the batches."""
    import tf_keras

    tf_keras.backend.clear_session()
    rng = np.random.default_rng(7)
    x = rng.standard_normal((N + M, 8, 5)).astype("float32")
    y = rng.standard_normal((N + M, 8, 3)).astype("float32")
    inputs = tf_keras.Input((5,))
    hidden = tf_keras.layers.Dense(6, activation="tanh", name="hidden")(inputs)
    model = tf_keras.Model(inputs, tf_keras.layers.Dense(3, name="out")(hidden))
    model.compile(optimizer=make_optimizer(), loss="mse")
    path = tmp_path / "legacy.h5"
    losses = []
    for step in range(N + M):
        if step == N:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                model.save(str(path), save_format="h5")
        losses.append(float(model.train_on_batch(x[step], y[step])))
    return path, losses[N:], [w.numpy() for w in model.weights], x, y


def _resume(out: Path, x: np.ndarray, y: np.ndarray) -> tuple[list[float], list[np.ndarray]]:
    import keras

    model = keras.saving.load_model(out, safe_mode=True)
    assert int(model.optimizer.iterations.numpy()) == N
    losses = [float(np.asarray(model.train_on_batch(x[step], y[step]))) for step in range(N, N + M)]
    return losses, [np.asarray(w.numpy()) for w in model.weights]


def _port(source: Path, out: Path, *args: str) -> int:
    return main(["port", str(source), "--to", str(out), *args])


def _legacy_optimizers():
    import tf_keras

    legacy = tf_keras.optimizers.legacy
    return {
        "adam": lambda: legacy.Adam(0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6),
        "adam_amsgrad": lambda: legacy.Adam(0.01, amsgrad=True),
        "adam_decay": lambda: legacy.Adam(0.01, decay=0.1),
        "sgd": lambda: legacy.SGD(0.05),
        "sgd_momentum": lambda: legacy.SGD(0.05, momentum=0.9),
        "sgd_nesterov": lambda: legacy.SGD(0.05, momentum=0.8, nesterov=True),
        "rmsprop_momentum": lambda: legacy.RMSprop(0.01, momentum=0.5),
        "rmsprop_centered": lambda: legacy.RMSprop(0.01, momentum=0.5, centered=True),
        "adadelta": lambda: legacy.Adadelta(1.0, rho=0.9),
    }


@pytest.mark.parametrize("name", list(_legacy_optimizers()))
def test_each_mapped_optimizer_resumes_like_the_legacy_one(tmp_path: Path, name: str) -> None:
    path, losses, weights, x, y = _legacy_run(tmp_path, _legacy_optimizers()[name])
    out = tmp_path / "ported.keras"
    assert _port(path, out) == 0
    ported_losses, ported_weights = _resume(out, x, y)
    rel = np.abs(np.array(ported_losses) - losses) / np.abs(losses)
    weight_diff = max(float(np.max(np.abs(a - b))) for a, b in zip(ported_weights, weights))
    print(f"{name}: max relative loss diff {rel.max():.2e}, max abs weight diff {weight_diff:.2e}")
    assert rel.max() <= 1e-5 and weight_diff <= 1e-5


def test_a_dropped_state_does_not_resume(tmp_path: Path) -> None:
    """The control of the test above: without the slots the same run drifts."""
    import keras

    path, losses, _, x, y = _legacy_run(tmp_path, _legacy_optimizers()["adam"])
    out = tmp_path / "ported.keras"
    assert _port(path, out, "--no-optimizer") == 0
    model = keras.saving.load_model(out, safe_mode=True)
    model.compile(optimizer=keras.optimizers.Adam(0.01, beta_1=0.8, beta_2=0.99, epsilon=1e-6), loss="mse")
    fresh = [float(np.asarray(model.train_on_batch(x[step], y[step]))) for step in range(N, N + M)]
    assert np.max(np.abs(np.array(fresh) - losses) / np.abs(losses)) > 1e-3


@pytest.mark.parametrize("name, reason", [("adagrad", "sqrt(accumulator) + epsilon"),
                                          ("rmsprop", "sqrt(rms) + epsilon"), ("nadam", "m_cache")])
def test_optimizers_whose_rule_differs_are_refused_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], name: str, reason: str
) -> None:
    import tf_keras

    legacy = tf_keras.optimizers.legacy
    make = {"adagrad": lambda: legacy.Adagrad(0.01), "rmsprop": lambda: legacy.RMSprop(0.01),
            "nadam": lambda: legacy.Nadam(0.01)}[name]
    path, *_ = _legacy_run(tmp_path, make)
    out = tmp_path / "ported.keras"
    assert _port(path, out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("migrate port: error:") and reason in err[0] and "--no-optimizer" in err[0]
    assert not out.exists()
    # --no-optimizer: the same problem is a warning, and the weights are ported.
    assert _port(path, out, "--no-optimizer") == 0
    captured = capsys.readouterr()
    assert "migrate port: warning:" in captured.err and reason in captured.err
    assert "(--no-optimizer)" in captured.out and out.exists()


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "classifier.h5"
    shutil.copy(CLASSIFIER, copy)
    return copy


def _set_training_config(path: Path, edit) -> None:
    with h5py.File(path, "r+") as handle:
        config = json.loads(handle.attrs["training_config"])
        edit(config["optimizer_config"])
        handle.attrs["training_config"] = json.dumps(config)


def test_a_slot_of_the_wrong_shape_is_one_error_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _copy(tmp_path)
    with h5py.File(path, "r+") as handle:
        group = handle["optimizer_weights"]
        del group["Adam/outputs/kernel/v:0"]
        group["Adam/outputs/kernel/v:0"] = np.zeros((3, 16), "float32")
    out = tmp_path / "ported.keras"
    assert _port(path, out) == 2
    line = capsys.readouterr().err.strip()
    assert line.count("\n") == 0 and "'Adam/outputs/kernel/v' has shape [3, 16]" in line and "needs [16, 3]" in line
    assert not out.exists() and not list(tmp_path.glob("*.keras"))


def test_an_unknown_optimizer_is_one_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _copy(tmp_path)
    _set_training_config(path, lambda opt: opt.update(class_name="Yogi"))
    out = tmp_path / "ported.keras"
    assert _port(path, out) == 2
    line = capsys.readouterr().err.strip()
    assert "'Yogi' has no Keras 3 mapping" in line and "--no-optimizer" in line and not out.exists()


def test_a_library_optimizer_config_without_its_required_argument_is_one_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """AdamWarmup is mapped (keras-bert's), but an Adam config renamed to it lacks decay_steps."""
    path = _copy(tmp_path)
    _set_training_config(path, lambda opt: opt.update(class_name="AdamWarmup"))
    out = tmp_path / "ported.keras"
    assert _port(path, out) == 2
    line = capsys.readouterr().err.strip()
    assert "AdamWarmup optimizer config lacks 'decay_steps'" in line and "--no-optimizer" in line
    assert not out.exists()


def test_a_custom_schedule_is_never_deserialised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _copy(tmp_path)
    _set_training_config(path, lambda opt: opt["config"].update(
        learning_rate={"class_name": "CustomSchedule", "config": {"d_model": 16}}))
    assert _port(path, tmp_path / "ported.keras") == 2
    assert "schedule 'CustomSchedule', which is code" in capsys.readouterr().err


def test_keras_2_2_4_layout_is_paired_by_order(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Keras 2.2.4 names optimizer arrays ``training/Adam/Variable_k`` and keeps (1,) vhat placeholders.

    The tf_keras file's arrays are renamed to that layout (same order:
    iterations, every m, every v; then the placeholders) and its config to
    Keras 2.2.4's keys (``lr``, no ``learning_rate``): the port must give the
    same optimizer state as from the named file.
    """
    import keras

    path = _copy(tmp_path)
    with h5py.File(path, "r+") as handle:
        group = handle["optimizer_weights"]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs["weight_names"]]
        arrays = [group[n][()] for n in names]
        trainable = (len(names) - 1) // 2
        del handle["optimizer_weights"]
        group = handle.create_group("optimizer_weights")
        new_names = ["Adam/iterations:0"] + [f"training/Adam/Variable_{i}:0" for i in range(2 * trainable)]
        placeholders = [f"training/Adam/Variable_{i}:0" for i in range(2 * trainable, 3 * trainable)]
        for name, array in zip(new_names, arrays):
            group[name] = array
        for name in placeholders:
            group[name] = np.zeros((1,), "float32")
        group.attrs["weight_names"] = [n.encode() for n in new_names + placeholders]
    _set_training_config(path, lambda opt: opt.update(config={
        "lr": opt["config"]["learning_rate"], "beta_1": 0.9, "beta_2": 0.999, "decay": 0.0, "epsilon": 1e-7,
        "amsgrad": False}))
    out, named_out = tmp_path / "by_order.keras", tmp_path / "by_name.keras"
    assert _port(path, out) == 0
    assert _port(CLASSIFIER, named_out) == 0
    assert "Keras 2.2.4 order" in capsys.readouterr().out
    by_order = keras.saving.load_model(out).optimizer
    by_name = keras.saving.load_model(named_out).optimizer
    assert len(by_order.variables) == len(by_name.variables)
    for a, b in zip(by_order.variables, by_name.variables):
        np.testing.assert_array_equal(np.asarray(a.numpy()), np.asarray(b.numpy()), err_msg=a.path)


def test_checkpoint_hyper_parameters_are_checked_against_the_compiled_model(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "ported.keras"
    code = _port(RESUME / "tutorial_ckpt", out, "--model", f"{FACTORIES}:tutorial_wrong_beta", "--map", "tutorial")
    assert code == 2 and not out.exists()
    line = capsys.readouterr().err.strip()
    assert "beta_2=0.98" in line and "--model's optimizer beta_2=0.999" in line


def test_dry_run_lists_the_optimizer_pairs(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["port", str(RESUME / "tutorial_ckpt"), "--dry-run", "--model", f"{FACTORIES}:tutorial",
                 "--map", "tutorial"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert any(line.startswith("optimizer: Adam (checkpoint slots, --model's optimizer) -> modern>LegacyAdam(")
               for line in lines)
    assert any(".OPTIMIZER_SLOT/optimizer/m [" in line and "_momentum [" in line and "[split_heads]" in line
               for line in lines)
    assert "optimizer/iter [] -> iterations" in lines
