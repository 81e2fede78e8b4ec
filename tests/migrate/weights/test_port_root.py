"""``migrate port --root``: checkpoints that hold several models, and metric state.

The checkpoints are tf_keras' own, made once per tf_keras version in a child
process with ``TF_USE_LEGACY_KERAS=1`` (:mod:`tests.migrate.weights.multi_model_legacy`)
and cached under ``<venv>/multi-model-checkpoints/<key>``: a GAN saved the way the
DCGAN tutorial saves it (generator, discriminator, both optimizers, plus a ``Mean``
and a step counter), and a subclassed encoder and decoder, each with a ``Mean`` loss
tracker, saved as separate objects of a nested checkpoint. Each model is ported on
its own (``--root``) into the Keras 3 model of
:mod:`tests.migrate.weights.multi_model_factories` and must predict what the saving
process predicted; the other objects' weights and all metric state are reported as
dropped, never as unmatched.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from migrate.cli import main
from migrate.weights.plan import metric_state

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = Path(__file__).resolve().parent / "multi_model_legacy.py"
FACTORIES = "tests.migrate.weights.multi_model_factories"
LEGACY = "tests.migrate.weights.multi_model_legacy"
CACHE = Path(sys.prefix) / "multi-model-checkpoints"
# float32 Dense/BatchNormalization on the same CPU: the ports reproduce the
# saving process's predictions to rounding.
ATOL = 1e-6


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


@pytest.fixture(scope="module")
def files() -> Path:
    if _version("tf_keras") is None or _version("tensorflow") is None:
        pytest.skip("the legacy checkpoints are made by tf_keras on tensorflow (not installed here)")
    key = hashlib.sha256(b"\0".join([SCRIPT.read_bytes(), str(_version("tf_keras")).encode(),
                                      str(_version("tensorflow")).encode()])).hexdigest()[:16]
    out = CACHE / key
    if not (out / "outputs.npz").exists():
        partial = CACHE / f"{key}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        partial.mkdir(parents=True)
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": "-1"}
        env.pop("KERAS_BACKEND", None)
        done = subprocess.run([sys.executable, "-m", "tests.migrate.weights.multi_model_legacy", str(partial)],
                              cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr[-3000:]
        shutil.rmtree(out, ignore_errors=True)
        partial.rename(out)
    return out


def _port(source: Path, out: Path, *extra: object) -> int:
    return main(["port", str(source), "--to", str(out), *map(str, extra)])


def _error_line(capsys: pytest.CaptureFixture[str]) -> str:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("migrate port: error:")]
    assert len(lines) == 1, lines
    return lines[0]


def _predict(path: Path, x: np.ndarray) -> np.ndarray:
    import keras

    import tests.migrate.weights.multi_model_factories  # noqa: F401  (registers Encoder, Decoder)

    return np.asarray(keras.saving.load_model(path, safe_mode=True).predict(x, verbose=0))


@pytest.mark.parametrize("root, factory, probe", [
    ("generator", "generator_compiled", "noise"),
    ("discriminator", "discriminator", "features"),
])
def test_each_model_of_a_gan_checkpoint_ports_by_its_root(files: Path, tmp_path: Path, root: str, factory: str,
                                                          probe: str) -> None:
    out, report = tmp_path / f"{root}.keras", tmp_path / "report.json"
    assert _port(files / "gan" / "ckpt-1", out, "--model", f"{FACTORIES}:{factory}", "--root", root,
                 "--report", report) == 0
    expected = np.load(files / "outputs.npz")
    diff = float(np.max(np.abs(_predict(out, expected[probe]) - expected[root])))
    print(f"\n--root {root}: max abs diff {diff:.2e} against tf_keras")
    assert diff <= ATOL
    data = json.loads(report.read_text())
    assert data["root"] == root
    assert {a["source"].split("/", 1)[0] for a in data["assignments"]} == {root}
    why = {d["name"]: d.get("why") for d in data["dropped"]}
    other = "discriminator" if root == "generator" else "generator"
    # The other model's weights are dropped as another object's, never unmatched (the port would have failed).
    assert why[f"{other}/layer_with_weights-0/kernel"] == f"another saved object; the model is {root!r}"
    assert why["gen_loss/total"] == why["gen_loss/count"] == "metric state"
    assert f"{other}_optimizer/iter" in why
    if root == "generator":
        # Its own optimizer's state resumes (the compiled --model); the discriminator's is not mixed in.
        assert data["optimizer"]["step"] == 2
        assert {s["source"].split("/.OPTIMIZER_SLOT/")[1].split("/")[0] for s in data["optimizer"]["slots"]} == {
            "generator_optimizer"}
        assert len(data["optimizer"]["slots"]) == 12  # m and v of 6 trainable variables


@pytest.mark.parametrize("root, probe", [("encoder", "features"), ("decoder", "code")])
def test_encoder_and_decoder_port_by_nested_root_and_their_metric_state_is_dropped(
        files: Path, tmp_path: Path, root: str, probe: str, capsys: pytest.CaptureFixture[str]) -> None:
    out, report = tmp_path / f"{root}.keras", tmp_path / "report.json"
    assert _port(files / "autoencoder" / "ckpt-1", out, "--model", f"{FACTORIES}:{root}", "--root",
                 f"autoencoder/{root}", "--report", report, "--no-optimizer") == 0
    summary = capsys.readouterr().out
    assert "saved object 'autoencoder/" in summary and "metric" in summary
    expected = np.load(files / "outputs.npz")
    diff = float(np.max(np.abs(_predict(out, expected[probe]) - expected[root])))
    print(f"\n--root autoencoder/{root}: max abs diff {diff:.2e} against tf_keras")
    assert diff <= ATOL
    why = {d["name"]: d.get("why") for d in json.loads(report.read_text())["dropped"]}
    # The model's own loss tracker (tracked under it) and the other model's.
    assert why[f"autoencoder/{root}/loss_tracker/total"] == why[f"autoencoder/{root}/loss_tracker/count"] == "metric state"
    assert why["autoencoder/decoder/loss_tracker/total" if root == "encoder" else
               "autoencoder/encoder/loss_tracker/total"] == "metric state"


@pytest.mark.parametrize("checkpoint, root, factory", [
    ("gan", "generator", "generator"),
    ("autoencoder", "autoencoder/encoder", "encoder"),
])
def test_verify_restores_only_the_chosen_root_in_the_legacy_child(files: Path, tmp_path: Path, checkpoint: str,
                                                                  root: str, factory: str,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    """``--verify`` with ``--root``: the tf_keras child restores the same saved object (nested paths too)."""
    out = tmp_path / f"{factory}.keras"
    code = _port(files / checkpoint / "ckpt-1", out, "--model", f"{FACTORIES}:{factory}", "--root", root,
                 "--no-optimizer", "--verify", "--legacy", f"{LEGACY}:legacy_{factory}")
    summary = capsys.readouterr()
    assert code == 0, summary.err
    assert "verified max abs diff" in summary.out and f"saved object {root!r}" in summary.out, summary.out
    assert out.exists()


def test_an_optimizer_tracked_under_the_model_resumes(files: Path, tmp_path: Path) -> None:
    """``tf.train.Checkpoint(model=compiled)``: slots at ``<var>/.OPTIMIZER_SLOT/model/optimizer/m``."""
    out, report = tmp_path / "d.keras", tmp_path / "report.json"
    assert _port(files / "tracked" / "ckpt-1", out, "--model", f"{FACTORIES}:discriminator_compiled",
                 "--report", report) == 0
    data = json.loads(report.read_text())
    expected = np.load(files / "outputs.npz")
    assert float(np.max(np.abs(_predict(out, expected["features"]) - expected["discriminator_h5"]))) <= ATOL
    assert data["optimizer"]["step"] == 1
    assert len(data["optimizer"]["slots"]) == 8  # m and v of the 4 trainable variables
    assert all("/.OPTIMIZER_SLOT/model/optimizer/" in s["source"] for s in data["optimizer"]["slots"])


@pytest.mark.parametrize("checkpoint, factory, candidates", [
    ("gan", "generator", "discriminator, generator"),
    ("autoencoder", "encoder", "autoencoder/decoder, autoencoder/encoder"),
])
def test_several_models_without_root_are_refused_listing_them(files: Path, tmp_path: Path, checkpoint: str,
                                                              factory: str, candidates: str,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.keras"
    assert _port(files / checkpoint / "ckpt-1", out, "--model", f"{FACTORIES}:{factory}") == 2
    line = _error_line(capsys)
    assert f"several saved objects that may be the model: {candidates};" in line and "--root" in line, line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("checkpoint, root, listed", [
    ("gan", "gen", "its saved objects with weights are: discriminator, generator"),
    ("gan", "gen_loss", "its saved objects with weights are: discriminator, generator"),  # metric state is no model
    ("autoencoder", "autoencoder/enc", "'autoencoder' holds: decoder, encoder"),
])
def test_an_unknown_root_names_the_candidates(files: Path, tmp_path: Path, checkpoint: str, root: str, listed: str,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "out.keras"
    assert _port(files / checkpoint / "ckpt-1", out, "--model", f"{FACTORIES}:generator", "--root", root) == 2
    line = _error_line(capsys)
    assert f"--root {root}: the checkpoint has no saved object {root!r}" in line and listed in line, line
    assert list(tmp_path.iterdir()) == []


def test_hdf5_file_with_metrics_in_its_training_config_ports_and_refuses_root(
        files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """tf_keras keeps compiled metrics' state out of HDF5 files (only their names, in training_config)."""
    out, report = tmp_path / "d.keras", tmp_path / "report.json"
    assert _port(files / "discriminator.h5", out, "--report", report) == 0
    data = json.loads(report.read_text())
    expected = np.load(files / "outputs.npz")
    assert float(np.max(np.abs(_predict(out, expected["features"]) - expected["discriminator_h5"]))) <= ATOL
    assert data["optimizer"]["step"] == 1 and not data["dropped"]
    assert _port(files / "discriminator.h5", tmp_path / "e.keras", "--root", "discriminator") == 2
    assert "--root chooses a saved object of a TF checkpoint" in _error_line(capsys)


@pytest.mark.parametrize("names, expected", [
    (["m/dense/kernel", "m/dense/bias", "m/acc/total", "m/acc/count"], {"m/acc/total", "m/acc/count"}),
    (["train_loss/total", "train_loss/count", "model/kernel"], {"train_loss/total", "train_loss/count"}),
    (["auc/true_positives", "auc/true_negatives", "auc/false_positives", "auc/false_negatives"],
     {"auc/true_positives", "auc/true_negatives", "auc/false_positives", "auc/false_negatives"}),
    # tf_keras' Normalization keeps a count beside its mean and variance: a layer, not a metric.
    (["norm/mean", "norm/variance", "norm/count"], set()),
    # An object with child objects is no metric, whatever its own variables are called.
    (["block/total", "block/count", "block/dense/kernel"], set()),
    # Variables at the root of the checkpoint belong to no metric object.
    (["total", "count"], set()),
])
def test_metric_state_is_recognised_by_whole_variable_sets(names: list[str], expected: set[str]) -> None:
    assert metric_state(names) == expected
