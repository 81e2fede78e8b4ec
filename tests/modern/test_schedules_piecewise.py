"""PiecewiseLinearDecay against bert4keras's own piecewise_linear (its lr multiplier), step by step."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops

from modern.schedules_piecewise import PiecewiseLinearDecay
from tests.modern.legacy_trajectories import STEPS, modern_model, trajectories

CASES = {
    "warmup_then_decay": ({"5": 1.0, "12": 0.1, "15": 0.05}, True),
    "from_step_zero": ({"0": 0.5, "8": 1.0, "16": 0.25}, True),
    "not_from_zero": ({"4": 1.0, "10": 0.2}, False),
}


@pytest.fixture(scope="module")
def legacy():
    cases = [{"name": name, "legacy": "bert4keras:piecewise_linear", "schedule": schedule, "from_zero": from_zero}
             for name, (schedule, from_zero) in CASES.items()]
    return trajectories(cases, needs=("bert4keras",))


@pytest.mark.parametrize("name", list(CASES))
def test_every_step_equals_bert4keras(legacy, name):
    schedule, from_zero = CASES[name]
    lr = 0.01
    decay = PiecewiseLinearDecay(lr, schedule, from_zero=from_zero)
    expected = lr * legacy[f"{name}/multiplier"]
    assert len(set(np.round(expected, 9))) >= 3, "the legacy multiplier should change"
    actual = np.asarray([float(ops.convert_to_numpy(decay(step))) for step in range(STEPS)])
    vectorised = ops.convert_to_numpy(decay(ops.arange(STEPS)))
    for got in (actual, vectorised):
        np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-12)


def test_saved_inside_the_keras_file(legacy, tmp_path):
    decay = PiecewiseLinearDecay(0.01, CASES["warmup_then_decay"][0])
    model = modern_model(legacy)
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=decay), loss="mse")
    model.optimizer.build(model.trainable_variables)
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True).optimizer._learning_rate
    assert isinstance(loaded, PiecewiseLinearDecay) and loaded.get_config() == decay.get_config()
    np.testing.assert_array_equal(ops.convert_to_numpy(loaded(ops.arange(STEPS))),
                                  ops.convert_to_numpy(decay(ops.arange(STEPS))))
    with pytest.raises(ValueError, match="at least one"):
        PiecewiseLinearDecay(0.01, {})
