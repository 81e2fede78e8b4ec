"""Keras 3 port of the Keras-2.2 layer normalisations (``LayerNorm``, ``LayerNormalization``)."""

from __future__ import annotations

import keras
from keras import ops

from modern.layers._weight_options import weight_options, weight_options_config

# K.epsilon() ** 2 of Keras 2 (1e-7 squared): the legacy default.
LEGACY_EPSILON = 1e-14


@keras.saving.register_keras_serializable(package="modern")
class LegacyLayerNormalization(keras.layers.Layer):
    """Layer normalisation over the last axis, computed exactly as the Keras-2.2 layers did.

    ``y = (x - mean) / sqrt(mean((x - mean) ** 2) + epsilon)``, then
    ``* gamma`` (``scale``) and ``+ beta`` (``center``), with the mean and
    the biased variance taken over the last axis, in that order of
    operations, so the results equal the legacy ones to float32 rounding.

    It replaces two legacy layers of the blog-post family:

    * the weightless ``LayerNorm`` of the 2021 blog post: use
      ``LegacyLayerNormalization(center=False, scale=False)``. The legacy
      layer never created ``gamma``/``beta`` (they stayed the float ``0.0``;
      its default ``center=True`` added 0, and ``scale=True`` would have
      multiplied by 0 -- that trap is not reproduced).
    * the weighted ``LayerNormalization`` (``gamma``/``beta``, the
      keras-layer-normalization package): ``LegacyLayerNormalization()``;
      its ``<name>/gamma`` and ``<name>/beta`` fill ``gamma`` and ``beta``
      unchanged.

    Both used ``epsilon = K.epsilon() ** 2 = 1e-14``, far below the
    ``1e-3`` default of ``keras.layers.LayerNormalization``.

    Relation to ``keras.layers.LayerNormalization``: the legacy layers are
    ``keras.layers.LayerNormalization(axis=-1, epsilon=1e-14, center=...,
    scale=...)`` mathematically (``center=False, scale=False`` for the
    weightless ``LayerNorm``; ``gamma``/``beta`` map one to one), but Keras 3
    evaluates it in another order (moments, ``rsqrt``, a fused
    ``x * inv + (beta - mean * inv)``), so the swap is *not* bit-exact.
    Measured on the ``keras22_layernorm`` / ``keras22_layernormalization``
    goldens (rows of mean ~1.5, std ~3), maximum absolute difference from
    the legacy outputs:

    * tensorflow: this layer 0 (bit-exact), built-in 2.4e-7;
    * jax: this layer 4.8e-7 / 7.2e-7, built-in 2.4e-7 / 4.8e-7;
    * torch: this layer 2.4e-7 / 4.8e-7, built-in 3.6e-7 / 4.8e-7
      (weightless / weighted case).

    Both are within the 1e-5 migration tolerance for activations of order
    one, so the built-in layer is an acceptable replacement; this layer is
    the one that reproduces the legacy arithmetic (bit-exact on the
    TensorFlow backend). Rows with a large mean relative to their spread
    lose precision in float32 with either (as they did in the legacy code).

    Args:
        center: add a learned offset ``beta`` (initialised to zeros).
        scale: multiply by a learned ``gamma`` (initialised to ones).
        epsilon: added to the variance; legacy default ``1e-14``.
        gamma_initializer: initializer of ``gamma``.
        beta_initializer: initializer of ``beta``.
        gamma_regularizer: regularizer of ``gamma``.
        beta_regularizer: regularizer of ``beta``.
        gamma_constraint: constraint of ``gamma``.
        beta_constraint: constraint of ``beta``.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: tensor of any rank >= 1; normalised over its last axis.

    Returns:
        A tensor of the same shape (and dtype) as ``inputs``.
    """

    def __init__(
        self,
        center=True,
        scale=True,
        epsilon=LEGACY_EPSILON,
        gamma_initializer="ones",
        beta_initializer="zeros",
        gamma_regularizer=None,
        beta_regularizer=None,
        gamma_constraint=None,
        beta_constraint=None,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.center = bool(center)
        self.scale = bool(scale)
        self.epsilon = float(epsilon)
        self.gamma_initializer, self.gamma_regularizer, self.gamma_constraint = weight_options(
            gamma_initializer, gamma_regularizer, gamma_constraint
        )
        self.beta_initializer, self.beta_regularizer, self.beta_constraint = weight_options(
            beta_initializer, beta_regularizer, beta_constraint
        )
        self.supports_masking = True
        self.gamma = None
        self.beta = None

    def build(self, input_shape):
        shape = (input_shape[-1],)
        if input_shape[-1] is None and (self.scale or self.center):
            raise ValueError(f"{self.name}: the last (normalised) dimension must be known, got {input_shape}")
        # Creation order gamma, beta is the legacy one (and its weight order).
        if self.scale:
            self.gamma = self._add_optioned_weight("gamma", shape)
        if self.center:
            self.beta = self._add_optioned_weight("beta", shape)

    def _add_optioned_weight(self, name, shape):
        # `name` is also the prefix of the weight's constructor options.
        return self.add_weight(
            shape=shape,
            initializer=getattr(self, f"{name}_initializer"),
            regularizer=getattr(self, f"{name}_regularizer"),
            constraint=getattr(self, f"{name}_constraint"),
            name=name,
        )

    def call(self, inputs):
        dtype = keras.backend.standardize_dtype(inputs.dtype)
        # Half precision would flush epsilon=1e-14 to zero and lose the
        # variance; normalise in float32 as keras.layers.LayerNormalization does.
        x = ops.cast(inputs, "float32") if dtype in ("float16", "bfloat16") else inputs
        mean = ops.mean(x, axis=-1, keepdims=True)
        centred = x - mean
        variance = ops.mean(ops.square(centred), axis=-1, keepdims=True)
        outputs = centred / ops.sqrt(variance + self.epsilon)
        if self.scale:
            outputs = outputs * ops.cast(self.gamma, outputs.dtype)
        if self.center:
            outputs = outputs + ops.cast(self.beta, outputs.dtype)
        return ops.cast(outputs, dtype)

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"center": self.center, "scale": self.scale, "epsilon": self.epsilon})
        config.update(weight_options_config(self, "gamma", "beta"))
        return config


__all__ = ["LEGACY_EPSILON", "LegacyLayerNormalization"]
