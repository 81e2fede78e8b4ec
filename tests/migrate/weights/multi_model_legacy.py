"""Legacy checkpoints that hold several models, made by tf_keras as their users made them.

Run in a child process with ``TF_USE_LEGACY_KERAS=1`` (``tests/migrate/weights/
test_port_root.py`` does, once, and caches the directory):

    python -m tests.migrate.weights.multi_model_legacy OUT_DIR

It writes, after two real training steps with the legacy Adam:

* ``gan/ckpt-1``: the DCGAN-tutorial layout, ``tf.train.Checkpoint(generator=g,
  discriminator=d, generator_optimizer=..., discriminator_optimizer=...)``, plus a
  ``Mean`` metric and a step counter tracked by the checkpoint itself;
* ``autoencoder/ckpt-1``: a subclassed encoder and decoder, each holding a
  ``Mean`` loss tracker (metric state under the model), saved as separate
  objects of a nested checkpoint (``autoencoder/encoder``, ``autoencoder/decoder``);
* ``discriminator.h5``: the discriminator as a full-model HDF5 file compiled
  with metrics (``accuracy``, ``AUC``), i.e. with a ``training_config``;
* ``tracked/ckpt-1``: the same compiled discriminator in ``tf.train.Checkpoint(model=...)``,
  its optimizer tracked under the model (``model/optimizer``);
* ``outputs.npz``: the probe inputs and each model's predictions, in this
  process, as saved: what the ports must reproduce.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

LATENT, FEATURES, CODE = 4, 6, 3


def _models(tf_keras):
    generator = tf_keras.Sequential([tf_keras.Input((LATENT,)), tf_keras.layers.Dense(8, activation="relu"),
                                     tf_keras.layers.BatchNormalization(), tf_keras.layers.Dense(FEATURES)],
                                    name="generator")
    inputs = tf_keras.Input((FEATURES,))
    hidden = tf_keras.layers.Dense(5, activation="tanh", name="hidden")(inputs)
    discriminator = tf_keras.Model(inputs, tf_keras.layers.Dense(1, name="score")(hidden), name="discriminator")

    class Encoder(tf_keras.Model):
        def __init__(self):
            super().__init__(name="encoder")
            self.hidden = tf_keras.layers.Dense(7, activation="relu")
            self.code = tf_keras.layers.Dense(CODE)
            self.loss_tracker = tf_keras.metrics.Mean(name="loss")

        def call(self, x):
            return self.code(self.hidden(x))

    class Decoder(tf_keras.Model):
        def __init__(self):
            super().__init__(name="decoder")
            self.hidden = tf_keras.layers.Dense(7, activation="relu")
            self.reconstruction = tf_keras.layers.Dense(FEATURES)
            self.loss_tracker = tf_keras.metrics.Mean(name="loss")

        def call(self, x):
            return self.reconstruction(self.hidden(x))

    return generator, discriminator, Encoder(), Decoder()


def main(out: Path) -> None:
    import tensorflow as tf
    import tf_keras

    tf.random.set_seed(3)
    rng = np.random.default_rng(3)
    generator, discriminator, encoder, decoder = _models(tf_keras)
    g_opt, d_opt = tf_keras.optimizers.legacy.Adam(1e-2), tf_keras.optimizers.legacy.Adam(2e-2, beta_1=0.5)
    ae_opt = tf_keras.optimizers.legacy.Adam(1e-2)
    gen_loss = tf_keras.metrics.Mean(name="gen_loss")
    step = tf.Variable(0, dtype=tf.int64)
    real = rng.standard_normal((8, FEATURES)).astype("float32")
    for _ in range(2):  # two GAN steps and two autoencoder steps, so that slots and counters hold values
        noise = rng.standard_normal((8, LATENT)).astype("float32")
        with tf.GradientTape(persistent=True) as tape:
            fake = generator(noise, training=True)
            fake_score, real_score = discriminator(fake, training=True), discriminator(real, training=True)
            g_loss = tf.reduce_mean(tf.nn.softplus(-fake_score))
            d_loss = tf.reduce_mean(tf.nn.softplus(fake_score)) + tf.reduce_mean(tf.nn.softplus(-real_score))
        g_opt.apply_gradients(zip(tape.gradient(g_loss, generator.trainable_variables), generator.trainable_variables))
        d_opt.apply_gradients(zip(tape.gradient(d_loss, discriminator.trainable_variables),
                                  discriminator.trainable_variables))
        gen_loss.update_state(g_loss)
        step.assign_add(1)
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(decoder(encoder(real)) - real))
        variables = encoder.trainable_variables + decoder.trainable_variables
        ae_opt.apply_gradients(zip(tape.gradient(loss, variables), variables))
        encoder.loss_tracker.update_state(loss)
        decoder.loss_tracker.update_state(loss)

    tf.train.Checkpoint(generator=generator, discriminator=discriminator, generator_optimizer=g_opt,
                        discriminator_optimizer=d_opt, gen_loss=gen_loss, step=step).write(str(out / "gan" / "ckpt-1"))
    tf.train.Checkpoint(autoencoder=tf.train.Checkpoint(encoder=encoder, decoder=decoder),
                        optimizer=ae_opt).write(str(out / "autoencoder" / "ckpt-1"))
    probe = {"noise": rng.standard_normal((5, LATENT)).astype("float32"),
             "features": rng.standard_normal((5, FEATURES)).astype("float32"),
             "code": rng.standard_normal((5, CODE)).astype("float32")}
    outputs = {"generator": generator(probe["noise"], training=False).numpy(),
               "discriminator": discriminator(probe["features"], training=False).numpy(),
               "encoder": encoder(probe["features"]).numpy(),
               "decoder": decoder(probe["code"]).numpy()}
    # One more step for the HDF5 file, so that its weights differ from the checkpoint's.
    discriminator.compile(tf_keras.optimizers.legacy.Adam(1e-2), "binary_crossentropy",
                          metrics=["accuracy", tf_keras.metrics.AUC(name="auc")])
    discriminator.train_on_batch(real, (real[:, :1] > 0).astype("float32"))
    discriminator.save(str(out / "discriminator.h5"), save_format="h5")
    # The compiled model's optimizer is tracked under it (``model/optimizer/...``, slots
    # at ``<var>/.OPTIMIZER_SLOT/model/optimizer/m``): a checkpoint of the model alone.
    tf.train.Checkpoint(model=discriminator).write(str(out / "tracked" / "ckpt-1"))

    outputs["discriminator_h5"] = discriminator(probe["features"], training=False).numpy()
    np.savez(out / "outputs.npz", **probe, **outputs)


def legacy_model(name: str):
    """The tf_keras model ``name`` (untrained: ``migrate port --verify`` restores it from the checkpoint)."""
    import tf_keras

    generator, discriminator, encoder, decoder = _models(tf_keras)
    return {"generator": generator, "discriminator": discriminator, "encoder": encoder, "decoder": decoder}[name]


def legacy_generator():
    return legacy_model("generator")


def legacy_encoder():
    return legacy_model("encoder")


if __name__ == "__main__":
    assert os.environ.get("TF_USE_LEGACY_KERAS") == "1", "run on tf_keras: TF_USE_LEGACY_KERAS=1"
    main(Path(sys.argv[1]))
