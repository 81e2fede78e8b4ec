"""Warmup-cosine schedule and callback against the legacy numpy formula (goldens) and its edge cases."""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops

from modern.schedules import WarmUpCosineDecay, WarmUpCosineDecayCallback, warmup_cosine_value
from tests.modern.goldens import load_golden

RTOL = 1e-6
CASES = ["keras22_warmup_cosine", "keras22_cosine_no_warmup"]


def _rate(schedule, step):
    return float(ops.convert_to_numpy(schedule(step)))


def _assert_rates(actual, expected, what):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    # Zeros must be exact zeros; other values within a relative 1e-6.
    np.testing.assert_array_equal(actual == 0, expected == 0, err_msg=f"{what}: zero pattern")
    nonzero = expected != 0
    rel = np.abs(actual[nonzero] - expected[nonzero]) / np.abs(expected[nonzero])
    assert rel.max(initial=0.0) <= RTOL, f"{what}: max relative diff {rel.max():.3g}"
    return float(rel.max(initial=0.0))


@pytest.mark.parametrize("case", CASES)
def test_schedule_matches_golden_for_every_step(case):
    golden = load_golden(case)
    schedule = WarmUpCosineDecay(**golden.config["args"])
    steps, expected = golden.inputs["steps"], golden.outputs["lr"]
    rel = _assert_rates([_rate(schedule, int(s)) for s in steps], expected, f"{case} python ints")
    print(f"\n[{keras.backend.backend()}] {case}: schedule max rel diff {rel:.3g}")
    for dtype in ("int32", "int64", "float32"):
        vectorised = ops.convert_to_numpy(schedule(ops.convert_to_tensor(steps.astype(dtype))))
        _assert_rates(vectorised, expected, f"{case} {dtype} tensor")


@pytest.mark.parametrize("case", CASES)
def test_callback_values_equal_golden_exactly(case):
    golden = load_golden(case)
    values = [warmup_cosine_value(int(s), **golden.config["args"]) for s in golden.inputs["steps"]]
    np.testing.assert_array_equal(values, golden.outputs["lr"])


def test_edge_cases():
    base, warm = 0.01, 0.001
    schedule = WarmUpCosineDecay(
        base, total_steps=40, warmup_learning_rate=warm, warmup_steps=8, hold_base_rate_steps=5
    )
    # Linear warmup from the warmup rate, step 0 included.
    assert _rate(schedule, 0) == pytest.approx(warm, rel=RTOL)
    assert _rate(schedule, 4) == pytest.approx(warm + 4 * (base - warm) / 8, rel=RTOL)
    # Hold: warmup <= step <= warmup + hold gives the base rate exactly.
    for step in (8, 10, 13):
        assert _rate(schedule, step) == pytest.approx(base, rel=1e-7)
    # Cosine after the hold, from base down to 0 at total_steps.
    assert _rate(schedule, 14) < base
    assert _rate(schedule, 13 + 13) == pytest.approx(0.5 * base * (1 + np.cos(np.pi * 13 / 27)), rel=RTOL)
    assert _rate(schedule, 39) == pytest.approx(0.5 * base * (1 + np.cos(np.pi * 26 / 27)), rel=RTOL)
    assert _rate(schedule, 40) == pytest.approx(0.0, abs=1e-12)
    # 0.0 after total_steps.
    for step in (41, 100, 10**6):
        assert _rate(schedule, step) == 0.0
    # Float steps interpolate like the numpy formula does.
    assert _rate(schedule, 2.5) == pytest.approx(warm + 2.5 * (base - warm) / 8, rel=RTOL)

    # No hold: warmup ends exactly at the base rate, then cosine.
    no_hold = WarmUpCosineDecay(base, total_steps=20, warmup_steps=4)
    assert _rate(no_hold, 0) == 0.0
    assert _rate(no_hold, 4) == pytest.approx(base, rel=1e-7)
    assert _rate(no_hold, 5) == pytest.approx(0.5 * base * (1 + np.cos(np.pi / 16)), rel=RTOL)
    # Neither warmup nor hold: plain cosine from step 0.
    plain = WarmUpCosineDecay(base, total_steps=10)
    assert _rate(plain, 0) == pytest.approx(base, rel=1e-7)
    assert _rate(plain, 5) == pytest.approx(base / 2, rel=RTOL)
    # A hold without warmup.
    hold_only = WarmUpCosineDecay(base, total_steps=10, hold_base_rate_steps=3)
    assert [_rate(hold_only, s) for s in (0, 3)] == pytest.approx([base, base], rel=1e-7)
    assert _rate(hold_only, 4) < base


def test_schedule_agrees_with_float64_formula_on_a_grid():
    rng = np.random.default_rng(5)
    # One step vector for every configuration: same shapes, so eager
    # backends (jax) reuse their compiled ops.
    steps = np.arange(0, 400)
    for _ in range(6):
        warmup = int(rng.integers(0, 20))
        hold = int(rng.integers(0, 10))
        total = warmup + hold + int(rng.integers(1, 360))
        args = {
            "learning_rate_base": float(rng.uniform(1e-5, 1e-1)),
            "total_steps": total,
            "warmup_learning_rate": float(rng.uniform(0, 1e-5)),
            "warmup_steps": warmup,
            "hold_base_rate_steps": hold,
        }
        expected = [warmup_cosine_value(int(s), **args) for s in steps]
        actual = ops.convert_to_numpy(WarmUpCosineDecay(**args)(ops.convert_to_tensor(steps)))
        _assert_rates(actual, expected, str(args))


def test_invalid_arguments_raise_at_construction():
    with pytest.raises(ValueError, match="total_steps must be larger or equal to warmup_steps"):
        WarmUpCosineDecay(0.01, total_steps=5, warmup_steps=6)
    with pytest.raises(ValueError, match="learning_rate_base must be larger or equal to warmup_learning_rate"):
        WarmUpCosineDecay(0.01, total_steps=50, warmup_learning_rate=0.02, warmup_steps=5)
    with pytest.raises(ValueError, match="divide by zero"):
        WarmUpCosineDecay(0.01, total_steps=10, warmup_steps=4, hold_base_rate_steps=6)
    with pytest.raises(ValueError, match="divide by zero"):
        WarmUpCosineDecayCallback(0.01, total_steps=10, warmup_steps=10)
    # Like the legacy formula, the warmup rate is only checked with a warmup.
    WarmUpCosineDecay(0.01, total_steps=50, warmup_learning_rate=0.02)


def test_schedule_serialisation_round_trip():
    schedule = WarmUpCosineDecay(
        3e-4, total_steps=100, warmup_learning_rate=1e-5, warmup_steps=10, hold_base_rate_steps=2
    )
    config = schedule.get_config()
    assert WarmUpCosineDecay.from_config(config).get_config() == config
    restored = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule))
    assert isinstance(restored, WarmUpCosineDecay) and restored.get_config() == config
    optimizer = keras.optimizers.Adam(learning_rate=schedule)
    clone = keras.optimizers.Adam.from_config(optimizer.get_config())
    # The clone evaluates the restored schedule at its step (0).
    assert float(ops.convert_to_numpy(clone.learning_rate)) == _rate(schedule, 0)


def _tiny_model(learning_rate):
    model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2)])
    model.compile(loss="mse", optimizer=keras.optimizers.SGD(learning_rate=learning_rate))
    return model


def test_callback_sets_and_records_rates_in_fit(capsys):
    args = {"learning_rate_base": 0.1, "total_steps": 6, "warmup_learning_rate": 0.01, "warmup_steps": 2}
    callback = WarmUpCosineDecayCallback(**args, global_step_init=1, verbose=1)
    model = _tiny_model(0.5)
    x = np.ones((8, 3), "float32")
    model.fit(x, np.zeros((8, 2), "float32"), batch_size=2, epochs=2, shuffle=False, verbose=0, callbacks=[callback])
    expected = [np.float32(warmup_cosine_value(step, **args)) for step in range(1, 9)]
    np.testing.assert_array_equal(np.float32(callback.learning_rates), expected)
    assert callback.global_step == 9
    assert float(ops.convert_to_numpy(model.optimizer.learning_rate)) == pytest.approx(expected[-1])
    assert "Batch 00002: setting learning rate to" in capsys.readouterr().out


def test_callback_rejects_an_optimizer_with_a_schedule():
    model = _tiny_model(WarmUpCosineDecay(0.1, total_steps=4))
    callback = WarmUpCosineDecayCallback(0.1, total_steps=4)
    with pytest.raises(TypeError, match="LearningRateSchedule"):
        model.fit(np.ones((2, 3), "float32"), np.zeros((2, 2), "float32"), verbose=0, callbacks=[callback])
