"""Lookahead around Keras 3 Adam against keras-lookahead's rule around tf_keras' legacy Adam.

The legacy side is :func:`legacy_ref.optimizers._train_with_lookahead`: tf_keras'
own legacy Adam steps, with keras-lookahead 0.9's synchronisation stated in
``legacy_ref`` (the library itself is a Keras 2.2 ``get_updates`` optimizer
that cannot run on tf_keras; see there).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest

from modern.optimizers import AdamWarmup, LegacyAdam, Lookahead
from tests.modern.legacy_trajectories import compare, modern_model, train, trajectories

CASES = {
    "lookahead_adam_k5": ({"learning_rate": 0.02}, {"sync_period": 5, "slow_step": 0.5}),
    "lookahead_adam_k3": ({"learning_rate": 0.05, "beta_1": 0.8}, {"sync_period": 3, "slow_step": 0.3}),
}


@pytest.fixture(scope="module")
def legacy():
    cases = [{"name": name, "legacy": "tf_keras:Adam", "kwargs": adam, "lookahead": look}
             for name, (adam, look) in CASES.items()]
    return trajectories(cases)


@pytest.mark.parametrize("name", list(CASES))
def test_matches_the_legacy_rule_over_20_steps(legacy, name):
    adam, look = CASES[name]
    model = modern_model(legacy)
    losses = train(model, Lookahead(LegacyAdam(**adam), **look), legacy)
    rel, diff = compare(name, legacy, losses, model.get_weights())
    print(f"\n[{keras.backend.backend()}] {name}: max rel loss diff {rel:.2g}, max weight diff {diff:.2g}")


def test_compiled_train_step(legacy):
    """Under XLA (tf) / jit (jax) too: the slow weights are made without reading the weights in build."""
    if keras.backend.backend() == "torch":
        pytest.skip("jit_compile on torch is torch.compile (minutes here); the failure this guards is XLA's")
    adam, look = CASES["lookahead_adam_k3"]
    model = modern_model(legacy)
    losses = train(model, Lookahead(LegacyAdam(**adam), **look), legacy, jit_compile=True)
    compare("lookahead_adam_k3", legacy, losses, model.get_weights())


def test_saved_in_a_keras_file_and_resumes(legacy, tmp_path):
    """Save after 7 steps (between synchronisations), reload, train on: the legacy 20-step weights."""
    adam, look = CASES["lookahead_adam_k5"]
    model = modern_model(legacy)
    model.compile(optimizer=Lookahead(LegacyAdam(**adam), **look), loss="mse", jit_compile=False)
    x, y = legacy["x"], legacy["y"]
    for i in range(7):
        model.train_on_batch(x[i], y[i])
    model.save(tmp_path / "m.keras")
    restored = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert isinstance(restored.optimizer, Lookahead) and isinstance(restored.optimizer.inner_optimizer, LegacyAdam)
    for i in range(7, 20):
        restored.train_on_batch(x[i], y[i])
    for i, weight in enumerate(restored.get_weights()):
        np.testing.assert_allclose(weight, legacy[f"lookahead_adam_k5/weight_{i}"], atol=1e-5)


def test_config_and_learning_rate_follow_the_wrapped_optimizer():
    inner = AdamWarmup(decay_steps=10, warmup_steps=2, learning_rate=0.01)
    look = Lookahead(inner, sync_period=4, slow_step=0.25)
    look.learning_rate = 0.005
    assert float(keras.ops.convert_to_numpy(inner.learning_rate)) == pytest.approx(0.005)
    again = Lookahead.from_config(look.get_config())
    assert isinstance(again.inner_optimizer, AdamWarmup)
    assert again.get_config() == look.get_config()
    with pytest.raises(ValueError, match="sync_period"):
        Lookahead(inner, sync_period=0)
