"""keras-bert's AdamWarmup and keras-radam's RAdam checkpoints: `migrate port` carries their optimizer state.

The libraries themselves train the shared small model on tf_keras
(:mod:`legacy_ref.optimizers`, in a ``TF_USE_LEGACY_KERAS=1`` subprocess,
cached) and save it as a full-model HDF5 file after 10 of 20 steps; the port
of that file, loaded in Keras 3, trains steps 10..19 on the same batches and
must end where the library ended (losses per step and weights to 1e-5),
which holds only if the class, its hyper-parameters, its slots and its
counter all came across.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from migrate.cli import main
from tests.modern.legacy_trajectories import saved_model, trajectories

SAVE_AFTER = 10
CASES = [
    {"name": "radam_port", "legacy": "keras_radam:RAdam", "save_after": SAVE_AFTER,
     "kwargs": {"learning_rate": 0.02, "total_steps": 20, "warmup_proportion": 0.2, "min_lr": 1e-3,
                "weight_decay": 0.01, "amsgrad": True}},
    {"name": "adamwarmup_port", "legacy": "keras_bert.optimizers:AdamWarmup", "save_after": SAVE_AFTER,
     "kwargs": {"decay_steps": 20, "warmup_steps": 4, "learning_rate": 0.02, "weight_decay": 0.01, "decay": 0.02,
                "epsilon": 1e-5}},
]
NEEDS = ("keras_radam", "keras_bert")


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_ported_checkpoint_resumes_like_the_library(case, tmp_path: Path, capsys) -> None:
    import keras

    from modern import optimizers

    legacy = trajectories(CASES, needs=NEEDS)
    source = saved_model(CASES, case["name"], needs=NEEDS)
    out = tmp_path / "ported.keras"
    assert main(["port", str(source), "--to", str(out)]) == 0, capsys.readouterr()
    assert "optimizer" in capsys.readouterr().out.lower()
    model = keras.saving.load_model(out, safe_mode=True)
    expected_class = getattr(optimizers, case["legacy"].rsplit(":", 1)[1])
    assert type(model.optimizer) is expected_class
    assert int(keras.ops.convert_to_numpy(model.optimizer.iterations)) == SAVE_AFTER
    x, y = legacy["x"], legacy["y"]
    losses = np.array([float(model.train_on_batch(x[i], y[i])) for i in range(SAVE_AFTER, x.shape[0])])
    expected = legacy[f"{case['name']}/loss"][SAVE_AFTER:]
    rel = float(np.max(np.abs(losses - expected) / np.abs(expected)))
    diff = max(float(np.max(np.abs(w - legacy[f"{case['name']}/weight_{i}"]))) for i, w in
               enumerate(model.get_weights()))
    print(f"\n{case['name']}: max rel loss diff {rel:.2g}, max weight diff {diff:.2g} after resuming")
    assert rel <= 1e-5 and diff <= 1e-5


@pytest.mark.slow
def test_without_the_state_the_run_drifts(tmp_path: Path) -> None:
    """The control: --no-optimizer restarts the moments and the counter, and the numbers move."""
    import keras

    legacy = trajectories(CASES, needs=NEEDS)
    source = saved_model(CASES, "radam_port", needs=NEEDS)
    out = tmp_path / "ported.keras"
    assert main(["port", str(source), "--to", str(out), "--no-optimizer"]) == 0
    model = keras.saving.load_model(out, safe_mode=True)
    from modern.optimizers import RAdam

    model.compile(optimizer=RAdam(**CASES[0]["kwargs"]), loss="mse")
    x, y = legacy["x"], legacy["y"]
    for i in range(SAVE_AFTER, x.shape[0]):
        model.train_on_batch(x[i], y[i])
    diff = max(float(np.max(np.abs(w - legacy[f"radam_port/weight_{i}"]))) for i, w in enumerate(model.get_weights()))
    assert diff > 1e-3
