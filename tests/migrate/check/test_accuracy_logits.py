"""KC105: binary accuracy (threshold 0.5) on logits."""

from __future__ import annotations

import pytest

from tests.migrate.check.helpers import hits, line_of

PROGRAM = """
import keras
model = keras.Sequential([keras.layers.Dense(16, activation="relu"), keras.layers.Dense(1{act})])
model.compile(optimizer="adam",
              loss={loss},
              metrics={metrics})  # <-
"""

CASES = [
    # (activation, loss, metrics) flagged ... and the same fixed
    (("", "keras.losses.BinaryCrossentropy(from_logits=True)", "['accuracy']"),
     ("", "keras.losses.BinaryCrossentropy(from_logits=True)", "[keras.metrics.BinaryAccuracy(threshold=0.0)]")),
    (("", "keras.losses.BinaryCrossentropy(from_logits=True)", "[keras.metrics.BinaryAccuracy()]"),
     ("", "keras.losses.BinaryCrossentropy(from_logits=True)", "[keras.metrics.BinaryAccuracy(threshold=0)]")),
    (("", "'mse'", "['binary_accuracy']"),
     (", activation='sigmoid'", "'mse'", "['binary_accuracy']")),
    (("", "keras.losses.BinaryCrossentropy(from_logits=True)", "[keras.metrics.binary_accuracy, 'AUC']"),
     (", activation='sigmoid'", "'binary_crossentropy'", "[keras.metrics.binary_accuracy, 'AUC']")),
]


@pytest.mark.parametrize(("bad", "good"), CASES)
def test_flagged_and_fixed(bad: tuple[str, str, str], good: tuple[str, str, str]) -> None:
    bad_code = PROGRAM.format(act=bad[0], loss=bad[1], metrics=bad[2])
    good_code = PROGRAM.format(act=good[0], loss=good[1], metrics=good[2])
    assert hits(bad_code, "KC105") == [("KC105", line_of(bad_code, "# <-"))]
    assert hits(good_code) == []


def test_categorical_accuracy_on_logits_is_fine() -> None:
    """``'accuracy'`` with a sparse categorical loss is an argmax: logits or not, the same answer."""
    code = PROGRAM.format(act="", loss="keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
                          metrics="['accuracy']")
    assert hits(code) == []


LOOP = """
import tensorflow as tf
from tensorflow import keras
model = keras.Sequential([keras.layers.Dense(1)])
train_acc = keras.metrics.BinaryAccuracy({threshold})
def step(x, y):
    logits = model(x, training=False)
    train_acc.update_state(y, logits)  # <-1
    return keras.metrics.binary_accuracy(y, logits{threshold2})  # <-2
"""


def test_custom_loop_metrics() -> None:
    bad = LOOP.format(threshold="", threshold2="")
    assert hits(bad) == [("KC105", line_of(bad, "# <-1")), ("KC105", line_of(bad, "# <-2"))]
    assert hits(LOOP.format(threshold="threshold=0.0", threshold2=", threshold=0.0")) == []
