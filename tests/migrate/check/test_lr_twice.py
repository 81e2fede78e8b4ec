"""KC104: a learning-rate schedule and a callback (or an assignment) both setting the rate."""

from __future__ import annotations

from tests.migrate.check.helpers import hits, line_of

PROGRAM = """
import tensorflow as tf
from tensorflow import keras


class CustomSchedule(keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, d_model):
        super().__init__()
        self.d_model = d_model

    def __call__(self, step):
        return tf.math.rsqrt(tf.cast(step, tf.float32))


class Halve(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        keras.backend.set_value(self.model.optimizer.lr, 0.5)


class Log(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        print(self.model.optimizer.learning_rate)


learning_rate = {rate}
optimizer = keras.optimizers.Adam(learning_rate, beta_1=0.9)
model = keras.Sequential([keras.layers.Dense(1)])
model.compile(optimizer=optimizer, loss="mse")
callbacks = [keras.callbacks.ReduceLROnPlateau(patience=2),  # <-1
             Halve(), Log()]  # <-2
model.fit(x, y, callbacks=callbacks)
model.fit(x, y, callbacks=[keras.callbacks.LearningRateScheduler(lambda e: 0.1)])  # <-3
optimizer.learning_rate = 0.01  # <-4
"""


def test_schedule_and_callbacks() -> None:
    bad = PROGRAM.replace("{rate}", "CustomSchedule(128)")
    found = hits(bad)
    lines = [line_of(bad, f"# <-{i}") for i in (1, 2, 3, 4)]
    assert found == [("KC104", n) for n in lines]
    # The Halve() callback is the one flagged on its line, not Log() (which only reads the rate).
    halve = bad.splitlines()[lines[1] - 1]
    assert halve.strip().startswith("Halve()")


def test_float_rate_with_callbacks_is_fine() -> None:
    assert hits(PROGRAM.replace("{rate}", "1e-3")) == []


def test_builtin_schedule_by_keyword() -> None:
    code = """
import keras
decay = keras.optimizers.schedules.ExponentialDecay(0.1, 1000, 0.9)
m = keras.Sequential([keras.layers.Dense(1)])
m.compile(optimizer=keras.optimizers.SGD(learning_rate=decay), loss="mse")
m.fit(x, y, callbacks=[keras.callbacks.ReduceLROnPlateau()])
other = keras.Sequential([keras.layers.Dense(1)])
other.compile(optimizer="adam", loss="mse")
other.fit(x, y, callbacks=[keras.callbacks.ReduceLROnPlateau()])
"""
    assert hits(code) == [("KC104", 6)]
