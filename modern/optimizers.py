"""Optimizers that reproduce the legacy training updates on every Keras 3 backend."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="modern")
class LegacyAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` that updates embeddings as the legacy Adam did, on every backend.

    The Adam update of Keras 3 is the one of Keras 2.2 and of
    ``tf_keras.optimizers.legacy.Adam`` (``ResourceApplyAdam``): ``m += (g -
    m)(1 - beta_1)``, ``v += (g^2 - v)(1 - beta_2)``, ``var -= lr *
    sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)`` with
    ``t = iterations + 1`` and the "epsilon hat" added to the *uncorrected*
    ``sqrt(v)``; the defaults (``beta_1=0.9``, ``beta_2=0.999``,
    ``epsilon=1e-7``) agree too. One thing differs: on the TensorFlow
    backend an ``Embedding``'s gradient arrives as ``tf.IndexedSlices`` with
    one slice per token, and Keras 3's Adam squares those slices *before*
    summing repeated token ids, so a token seen ``k`` times in a batch gets
    ``v`` from ``sum(g_i^2)`` instead of ``(sum g_i)^2`` and a different
    (larger) step. The legacy optimizers summed repeated ids first, as Keras
    3 does on jax and torch (dense gradients). This class densifies such a
    gradient before the update (``g + 0.0`` -- an exact identity for dense
    gradients on every backend), so all backends follow the legacy update.

    Arguments, defaults and config are those of ``keras.optimizers.Adam``.
    """

    def update_step(self, gradient, variable, learning_rate):
        # On TF, adding a scalar to tf.IndexedSlices returns the dense sum of
        # the slices with repeated indices accumulated (what the legacy
        # optimizers applied); for dense gradients it changes nothing.
        super().update_step(ops.add(gradient, 0.0), variable, learning_rate)
