"""``--model`` factories: the Keras 3 models that take the multi-model checkpoints of
:mod:`tests.migrate.weights.multi_model_legacy`, written as a user migrating that
program would write them (same layers, same attribute names)."""

from __future__ import annotations

import keras

LATENT, FEATURES, CODE = 4, 6, 3


def generator() -> keras.Model:
    return keras.Sequential([keras.Input((LATENT,)), keras.layers.Dense(8, activation="relu"),
                             keras.layers.BatchNormalization(), keras.layers.Dense(FEATURES)], name="generator")


def generator_compiled() -> keras.Model:
    """The generator compiled with the Keras 3 equivalent of its legacy Adam, to resume training."""
    from modern.optimizers import LegacyAdam

    model = generator()
    model.compile(optimizer=LegacyAdam(1e-2), loss="mse")
    return model


def discriminator() -> keras.Model:
    inputs = keras.Input((FEATURES,))
    hidden = keras.layers.Dense(5, activation="tanh", name="hidden")(inputs)
    return keras.Model(inputs, keras.layers.Dense(1, name="score")(hidden), name="discriminator")


def discriminator_compiled() -> keras.Model:
    """The discriminator compiled as the legacy program compiled it (Adam 1e-2)."""
    from modern.optimizers import LegacyAdam

    model = discriminator()
    model.compile(optimizer=LegacyAdam(1e-2), loss="binary_crossentropy")
    return model


@keras.saving.register_keras_serializable(package="multi_model_test")
class Encoder(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(7, activation="relu")
        self.code = keras.layers.Dense(CODE)
        # Metric state stays out of the model's weights in Keras 3; the
        # checkpoint's loss_tracker/total and /count are dropped, not ported.
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def call(self, x):
        return self.code(self.hidden(x))


@keras.saving.register_keras_serializable(package="multi_model_test")
class Decoder(keras.Model):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.hidden = keras.layers.Dense(7, activation="relu")
        self.reconstruction = keras.layers.Dense(FEATURES)
        self.loss_tracker = keras.metrics.Mean(name="loss")

    def call(self, x):
        return self.reconstruction(self.hidden(x))


def encoder() -> keras.Model:
    model = Encoder(name="encoder")
    model(keras.ops.zeros((1, FEATURES)))
    return model


def decoder() -> keras.Model:
    model = Decoder(name="decoder")
    model(keras.ops.zeros((1, CODE)))
    return model
