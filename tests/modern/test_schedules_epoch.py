"""Per-epoch LearningRateScheduler functions as schedules, against tf_keras' own callback.

The legacy side (:mod:`legacy_ref.optimizers`, made at test time and cached)
trains the shared small model with tf_keras' legacy SGD and
``tf_keras.callbacks.LearningRateScheduler(fn)`` over 5 epochs of 4 batches,
recording the rate every batch used; here the schedule gives the rate of
every step, and Keras 3 SGD trained with it ends on the same weights.
"""

from __future__ import annotations

import math

import keras
import numpy as np
import pytest
from keras import ops

from modern.schedules_epoch import (
    EpochExponentialDecay,
    HoldThenExponentialDecay,
    StepDecay,
    from_epoch_function,
)
from tests.modern.legacy_trajectories import modern_model, trajectories

PER_EPOCH = 4
EPOCHS = 5
SGD_RATE = 0.1


def step_decay(epoch):
    return 0.1 * math.pow(0.5, math.floor((1 + epoch) / 2))


def exp_decay(epoch):
    return 0.2 * math.exp(-0.4 * epoch)


def keep_then_exp(epoch, lr):
    return lr if epoch < 2 else lr * math.exp(-0.3)


# name -> (legacy function and constants, the schedule class, its argument, the user's function)
CASES = {
    "step_decay": ({"initial": 0.1, "drop": 0.5, "epochs_drop": 2},
                   StepDecay(0.1, drop=0.5, epochs_drop=2, steps_per_epoch=PER_EPOCH), step_decay),
    "exp_decay": ({"initial": 0.2, "k": 0.4},
                  EpochExponentialDecay(0.2, k=0.4, steps_per_epoch=PER_EPOCH), exp_decay),
    "keep_then_exp": ({"hold": 2, "k": 0.3},
                      HoldThenExponentialDecay(SGD_RATE, hold_epochs=2, k=0.3, steps_per_epoch=PER_EPOCH),
                      keep_then_exp),
}


@pytest.fixture(scope="module")
def legacy():
    cases = [{"name": name, "legacy": "tf_keras:SGD", "kwargs": {"learning_rate": SGD_RATE}, "function": name,
              "args": args, "steps_per_epoch": PER_EPOCH} for name, (args, _, _) in CASES.items()]
    return trajectories(cases)


def _rates(schedule, steps):
    return np.asarray([float(ops.convert_to_numpy(schedule(step))) for step in range(steps)])


def _schedules(name):
    _, schedule, function = CASES[name]
    sampled = from_epoch_function(function, PER_EPOCH, EPOCHS, initial_learning_rate=SGD_RATE)
    return {"class": schedule, "from_epoch_function": sampled}


@pytest.mark.parametrize("name", list(CASES))
def test_rate_of_every_step_equals_the_legacy_callback(legacy, name):
    expected = legacy[f"{name}/lr"]
    assert len(expected) == PER_EPOCH * EPOCHS and len(set(expected)) >= 3, "the legacy rate should change"
    for kind, schedule in _schedules(name).items():
        rel = np.max(np.abs(_rates(schedule, len(expected)) - expected) / expected)
        print(f"\n[{keras.backend.backend()}] {name} ({kind}): max relative rate diff {rel:.2g}")
        assert rel <= 1e-6, f"{name} ({kind}): rates differ by {rel:.3g} relative"


@pytest.mark.parametrize("name", list(CASES))
def test_training_with_the_schedule_ends_on_the_legacy_weights(legacy, name):
    model = modern_model(legacy)
    model.compile(optimizer=keras.optimizers.SGD(learning_rate=CASES[name][1]), loss="mse", jit_compile=False)
    x, y = legacy["x"], legacy["y"]
    for i in range(PER_EPOCH * EPOCHS):
        model.train_on_batch(x[i], y[i])
    diff = max(float(np.max(np.abs(w - legacy[f"{name}/weight_{i}"]))) for i, w in enumerate(model.get_weights()))
    assert diff <= 1e-5, f"{name}: weights differ by {diff:.3g} after {PER_EPOCH * EPOCHS} steps"


def test_saved_inside_the_keras_file(legacy, tmp_path):
    model = modern_model(legacy)
    schedules = {name: CASES[name][1] for name in CASES} | {"sampled": _schedules("keep_then_exp")["from_epoch_function"]}
    for name, schedule in schedules.items():
        model.compile(optimizer=keras.optimizers.SGD(learning_rate=schedule), loss="mse")
        model.save(tmp_path / f"{name}.keras")
        restored = keras.saving.load_model(tmp_path / f"{name}.keras", safe_mode=True)
        loaded = restored.optimizer._learning_rate
        assert type(loaded) is type(schedule)
        np.testing.assert_array_equal(_rates(loaded, 24), _rates(schedule, 24))


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="steps_per_epoch"):
        StepDecay(0.1, 0.5, 2, steps_per_epoch=0)
    with pytest.raises(ValueError, match="epoch 1"):
        from_epoch_function(lambda epoch: 0.1 if epoch == 0 else None, 4, 3)
