"""AdamWarmup and RAdam against keras-bert's and keras-rectified-adam's own optimizers on tf_keras.

The legacy optimizers train the small model of :mod:`legacy_ref.optimizers`
for 20 steps on tf_keras (made at test time, cached; see
:mod:`tests.modern.legacy_trajectories`); the modern classes train the same
model from the same weights on the current Keras 3 backend. Losses per step
and weights after 20 steps must agree to 1e-5.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from modern.optimizers import AdamWarmup, RAdam
from tests.modern.legacy_trajectories import compare, modern_model, train, trajectories

RADAM = "keras_radam:RAdam"
WARMUP = "keras_bert.optimizers:AdamWarmup"

# name -> (legacy class, modern class, arguments shared by both)
CASES = {
    "radam_default": (RADAM, RAdam, {"learning_rate": 0.01}),
    "radam_warmup": (RADAM, RAdam, {"learning_rate": 0.02, "total_steps": 20, "warmup_proportion": 0.2,
                                    "min_lr": 1e-3, "weight_decay": 0.01}),
    "radam_amsgrad_decay": (RADAM, RAdam, {"learning_rate": 0.01, "amsgrad": True, "decay": 0.05,
                                           "beta_2": 0.99, "epsilon": 1e-5}),
    "adamwarmup": (WARMUP, AdamWarmup, {"decay_steps": 20, "warmup_steps": 5, "learning_rate": 0.02,
                                        "min_lr": 1e-3}),
    "adamwarmup_wd_amsgrad": (WARMUP, AdamWarmup, {"decay_steps": 15, "warmup_steps": 3, "learning_rate": 0.02,
                                                   "weight_decay": 0.02, "amsgrad": True, "decay": 0.01,
                                                   "epsilon": 1e-4}),
}


def legacy_cases():
    """The libraries' trajectories for :data:`CASES` (also read by KM416's test of the rewritten sources)."""
    cases = [{"name": name, "legacy": spec, "kwargs": kwargs} for name, (spec, _, kwargs) in CASES.items()]
    return trajectories(cases, needs=("keras_radam", "keras_bert"))


@pytest.fixture(scope="module")
def legacy():
    return legacy_cases()


@pytest.mark.parametrize("name", list(CASES))
def test_matches_the_legacy_optimizer_over_20_steps(legacy, name):
    _, cls, kwargs = CASES[name]
    model = modern_model(legacy)
    losses = train(model, cls(**kwargs), legacy)
    rel, diff = compare(name, legacy, losses, model.get_weights())
    print(f"\n[{keras.backend.backend()}] {name}: max rel loss diff {rel:.2g}, max weight diff {diff:.2g}")


@pytest.mark.parametrize("name", ["radam_warmup", "adamwarmup_wd_amsgrad"])
def test_saved_in_a_keras_file_and_resumes(legacy, name, tmp_path):
    """Save after 10 steps, load (safe mode), train 10 more: the same 20-step weights."""
    _, cls, kwargs = CASES[name]
    model = modern_model(legacy)
    model.compile(optimizer=cls(**kwargs), loss="mse", jit_compile=False)
    x, y = legacy["x"], legacy["y"]
    for i in range(10):
        model.train_on_batch(x[i], y[i])
    path = tmp_path / "model.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert type(restored.optimizer) is cls
    assert int(keras.ops.convert_to_numpy(restored.optimizer.iterations)) == 10
    assert restored.optimizer.get_config() == model.optimizer.get_config()
    losses = [float(restored.train_on_batch(x[i], y[i])) for i in range(10, 20)]
    np.testing.assert_allclose(losses, legacy[f"{name}/loss"][10:], rtol=1e-5)
    for i, weight in enumerate(restored.get_weights()):
        np.testing.assert_allclose(weight, legacy[f"{name}/weight_{i}"], atol=1e-5)


def test_config_round_trip_and_defaults():
    optimizer = RAdam(learning_rate=0.01, total_steps=100, weight_decay=0.1, epsilon=None)
    assert optimizer.epsilon == pytest.approx(keras.config.epsilon())
    # The coupled decay is this class's, not Keras 3's decoupled one.
    assert optimizer.weight_decay is None
    again = RAdam.from_config(optimizer.get_config())
    assert again.get_config() == optimizer.get_config()
    warm = AdamWarmup(decay_steps=10, warmup_steps=2, weight_decay_pattern=["kernel"])
    assert AdamWarmup.from_config(warm.get_config()).get_config() == warm.get_config()
    assert keras.saving.get_registered_object("modern>RAdam") is RAdam
    assert keras.saving.get_registered_object("modern>AdamWarmup") is AdamWarmup
