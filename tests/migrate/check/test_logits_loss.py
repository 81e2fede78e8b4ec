"""KC101: logits vs probabilities between a model's output and its cross-entropy.

Each case is a program with the pitfall and the same program written correctly
(the check's own suggested fix): the first gives exactly one KC101 on the marked
line, the second none.
"""

from __future__ import annotations

import pytest

from tests.migrate.check.helpers import hits, line_of

HEAD = """
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras import layers
"""

SUBCLASSED = HEAD + """
class Net(keras.Model):
    def __init__(self):
        super().__init__()
        self.hidden = layers.Dense(32, activation="relu")
        self.head = layers.Dense(5)

    def call(self, x):
        return self.head(self.hidden(x))

def build():
    net = Net()
    return net

model = build()
def step(x, y):
    return {loss}
"""

# The 2021 tutorial's loop: the loss object is called inside a function that receives the
# predictions as a parameter; what the parameter holds comes from the call in train_step.
TUTORIAL_LOSS = HEAD + """
loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")

def loss_function(real, pred):
    mask = tf.math.logical_not(tf.math.equal(real, 0))
    loss_ = loss_object(real, pred)  # <-
    return tf.reduce_sum(loss_ * tf.cast(mask, loss_.dtype))

model = keras.Sequential([layers.Dense(64, activation="relu"), layers.Dense(100{act})])

def train_step(inp, tar):
    with tf.GradientTape() as tape:
        predictions = model(inp, training=True)
        loss = loss_function(tar, predictions)
    return loss
"""

# The Keras 3 tutorials' masked loss, given to compile by name.
MASKED_LOSS = HEAD + """
def masked_loss(label, pred):
    loss_object = {loss}
    loss = loss_object(label, pred)  # <-
    return tf.reduce_mean(loss)

model = keras.Sequential([layers.Dense(100, activation="softmax")])
model.compile(optimizer="adam", loss=masked_loss)
"""

# (name, program with the pitfall, the fixed program); the flagged line carries `# <-`.
CASES = [
    ("functional-compile-by-name",
     HEAD + """
inputs = keras.Input(shape=(20,))
x = layers.Dense(64, activation="relu")(inputs)
x = layers.Dense(10)(x)
model = keras.Model(inputs=inputs, outputs=x)
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")  # <-
""",
     HEAD + """
inputs = keras.Input(shape=(20,))
x = layers.Dense(64, activation="relu")(inputs)
x = layers.Dense(10)(x)
model = keras.Model(inputs=inputs, outputs=x)
model.compile(optimizer="adam", loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
"""),
    ("sequential-probabilities-into-from-logits-object-made-elsewhere",
     HEAD + """
loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
model = keras.Sequential([layers.Dense(64, activation="relu"), layers.Dense(10, activation="softmax")])
model.compile(optimizer="adam", loss=loss_object)  # <-
""",
     HEAD + """
loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
model = keras.Sequential([layers.Dense(64, activation="relu"), layers.Dense(10)])
model.compile(optimizer="adam", loss=loss_object)
"""),
    ("activation-layer-last",
     HEAD + """
model = keras.Sequential([layers.Dense(10), layers.Activation("softmax"), layers.Dropout(0.1)])
model.compile(loss=keras.losses.CategoricalCrossentropy(from_logits=True))  # <-
""",
     HEAD + """
model = keras.Sequential([layers.Dense(10), layers.Activation("softmax"), layers.Dropout(0.1)])
model.compile(loss=keras.losses.CategoricalCrossentropy())
"""),
    ("sequential-add-binary",
     HEAD + """
model = keras.Sequential()
model.add(layers.Dense(8, activation="relu"))
model.add(layers.Dense(1))
model.compile(loss="binary_crossentropy")  # <-
""",
     HEAD + """
model = keras.Sequential()
model.add(layers.Dense(8, activation="relu"))
model.add(layers.Dense(1, activation="sigmoid"))
model.compile(loss="binary_crossentropy")
"""),
    ("custom-training-loop",
     HEAD + """
loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
model = keras.Sequential([layers.Dense(10, activation="softmax")])

@tf.function
def train_step(images, labels):
    with tf.GradientTape() as tape:
        predictions = model(images, training=True)
        loss = loss_object(labels, predictions)  # <-
    return loss
""",
     HEAD + """
loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True)
model = keras.Sequential([layers.Dense(10)])

@tf.function
def train_step(images, labels):
    with tf.GradientTape() as tape:
        predictions = model(images, training=True)
        loss = loss_object(labels, predictions)
    return loss
"""),
    ("subclassed-model-and-loss-function",
     SUBCLASSED.replace("{loss}", "tf.keras.losses.categorical_crossentropy(y, model(x))  # <-"),
     SUBCLASSED.replace("{loss}", "tf.keras.losses.categorical_crossentropy(y, model(x), from_logits=True)")),
    ("tutorial-loss-function-parameter",
     TUTORIAL_LOSS.replace("{act}", ', activation="softmax"'), TUTORIAL_LOSS.replace("{act}", "")),
    ("loss-function-given-to-compile",
     MASKED_LOSS.replace("{loss}", "keras.losses.SparseCategoricalCrossentropy(from_logits=True)"),
     MASKED_LOSS.replace("{loss}", "keras.losses.SparseCategoricalCrossentropy()")),
    ("tf-nn-with-logits-given-probabilities",
     HEAD + """
from keras import backend as K
def loss(labels, h):
    probs = K.softmax(layers.Dense(4)(h))
    return tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=probs)  # <-
""",
     HEAD + """
from keras import backend as K
def loss(labels, h):
    logits = layers.Dense(4)(h)
    return tf.nn.softmax_cross_entropy_with_logits(labels=labels, logits=logits)
"""),
]


@pytest.mark.parametrize(("bad", "good"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_flagged_and_fixed(bad: str, good: str) -> None:
    assert hits(bad, "KC101") == [("KC101", line_of(bad, "# <-"))]
    assert hits(good, "KC101") == []


def test_unknown_activations_say_nothing() -> None:
    code = HEAD + """
act = "softmax" if flag else None
model = keras.Sequential([layers.Dense(10, activation=act)])
model.compile(loss="sparse_categorical_crossentropy")
other = keras.Sequential([layers.Dense(10, activation="relu")])
other.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
custom = keras.Sequential([layers.Dense(10), MyHead()])
custom.compile(loss="categorical_crossentropy")
"""
    assert hits(code) == []


def test_a_parameter_given_different_things_says_nothing() -> None:
    code = TUTORIAL_LOSS.replace("{act}", ', activation="softmax"') + """
logits_model = keras.Sequential([layers.Dense(100)])
def eval_step(inp, tar):
    return loss_function(tar, logits_model(inp))
"""
    assert hits(code) == []


def test_the_module_is_resolved_through_aliases() -> None:
    """``tf.keras``, ``from keras.layers import *``, ``import keras as K3``: the same Dense."""
    code = """
from keras.layers import *
import keras as K3
m = K3.models.Sequential([Dense(3)])
m.compile(loss=K3.losses.categorical_crossentropy)
"""
    assert hits(code) == [("KC101", 5)]
    shadowed = """
class Dense:  # the program's own Dense: not Keras's
    pass
import keras as K3
m = K3.models.Sequential([Dense(3)])
m.compile(loss="categorical_crossentropy")
"""
    assert hits(shadowed) == []
