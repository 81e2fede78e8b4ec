"""``modern.schedules_noam.NoamSchedule`` against the tutorial's ``CustomSchedule``.

The golden holds the 2021 schedule at float steps (the only steps it
accepted); the Keras 3 schedule must give the same values for float *and*
integer steps, since Keras 3 optimizers pass their integer ``iterations``.
"""

from __future__ import annotations

import numpy as np
import pytest

import keras
from keras import ops

from modern.schedules_noam import NoamSchedule
from tests.modern.goldens import load_golden

BACKEND = keras.backend.backend()
# float32 rsqrt may differ by an ulp between backends' kernels.
RTOL = 1e-6


def _golden():
    case = load_golden("tutorial_noam_schedule")
    return case, NoamSchedule(**case.config["args"])


def _assert_close(actual, expected, what):
    actual = np.asarray(ops.convert_to_numpy(actual), dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    rel = np.max(np.abs(actual - expected) / np.maximum(np.abs(expected), 1e-30), initial=0.0)
    print(f"[{BACKEND}] {what}: max relative diff {rel:.3g}")
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=0)


def test_float_steps_match_golden():
    case, schedule = _golden()
    _assert_close(schedule(case.inputs["step"]), case.outputs["learning_rate"], "noam float steps")


@pytest.mark.parametrize("dtype", ["int32", "int64"])
def test_integer_steps_match_golden(dtype):
    case, schedule = _golden()
    steps = case.inputs["step"].astype(dtype)
    _assert_close(schedule(steps), case.outputs["learning_rate"], f"noam {dtype} steps")
    for step, expected in zip(steps, case.outputs["learning_rate"]):
        _assert_close(schedule(int(step)), expected, f"noam python int step {int(step)}")


def test_step_zero_is_zero_and_peak_is_at_warmup():
    schedule = NoamSchedule(128, warmup_steps=4000)
    assert float(ops.convert_to_numpy(schedule(0))) == 0.0
    values = ops.convert_to_numpy(schedule(np.arange(3990, 4011)))
    assert int(np.argmax(values)) == 10
    np.testing.assert_allclose(values[10], (128 * 4000) ** -0.5, rtol=1e-6)


def test_schedule_drives_a_keras_optimizer_with_integer_iterations():
    case, schedule = _golden()
    optimizer = keras.optimizers.Adam(schedule, beta_1=0.9, beta_2=0.98, epsilon=1e-9)
    variable = keras.Variable(np.ones((2,), "float32"))
    seen = []
    for _ in range(3):
        seen.append(float(ops.convert_to_numpy(optimizer.learning_rate)))
        optimizer.apply_gradients([(ops.ones((2,)), variable)])
    expected = ops.convert_to_numpy(schedule(np.array([0.0, 1.0, 2.0], np.float32)))
    np.testing.assert_allclose(seen, expected, rtol=RTOL)
    assert seen[0] == 0.0  # iterations is read before the update, like the 2021 optimizer


def test_config_round_trip_and_serialization():
    _, schedule = _golden()
    assert schedule.get_config() == {"d_model": 128, "warmup_steps": 4000}
    clone = NoamSchedule.from_config(schedule.get_config())
    np.testing.assert_array_equal(ops.convert_to_numpy(clone(1000)), ops.convert_to_numpy(schedule(1000)))
    restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert isinstance(restored, NoamSchedule) and restored.get_config() == schedule.get_config()
    optimizer = keras.optimizers.Adam(schedule)
    rebuilt = keras.optimizers.Adam.from_config(optimizer.get_config())
    assert isinstance(rebuilt._learning_rate, NoamSchedule)


def test_invalid_arguments():
    with pytest.raises(ValueError):
        NoamSchedule(0)
    with pytest.raises(ValueError):
        NoamSchedule(16, warmup_steps=0)
