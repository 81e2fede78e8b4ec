"""keras-position-wise-feed-forward's ``FeedForward``, with its weight names."""

from __future__ import annotations

import keras
from keras import ops

from modern.layers._weight_options import weight_options_config
from modern.layers.bert_family._weights import library_weight, set_projection_options

PACKAGE = "modern.bert_family"


@keras.saving.register_keras_serializable(package=PACKAGE)
class FeedForward(keras.layers.Layer):
    """Position-wise feed-forward: ``act(x W1 + b1) W2 + b2``, dropout on the hidden units.

    Weights carry the library's names and order: ``<name>_W1 (dim, units)``,
    ``<name>_b1 (units,)``, ``<name>_W2 (units, dim)``, ``<name>_b2 (dim,)``
    (biases only with ``use_bias``). Masks pass through.

    keras-bert and keras-transformer save ``activation="gelu"`` meaning their
    *tanh* gelu; a port passes :func:`modern.layers.bert_family.gelu_tanh`
    instead (see :mod:`modern.layers.bert_family.activations`).

    Args:
        units: hidden width.
        activation: hidden activation (legacy default ``"relu"``).
        use_bias: whether both projections have biases.
        kernel_initializer: legacy default ``"glorot_normal"``.
        bias_initializer, kernel_regularizer, bias_regularizer,
        kernel_constraint, bias_constraint: for the weights.
        dropout_rate: dropout on the hidden units, in training only.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: ``(..., dim)``.
        training: apply dropout.

    Returns:
        ``(..., dim)``.
    """

    def __init__(self, units, activation="relu", use_bias=True, kernel_initializer="glorot_normal",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, dropout_rate=0.0, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        set_projection_options(self, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                               kernel_constraint, bias_constraint)
        self.dropout_rate = float(dropout_rate)
        self.dropout = keras.layers.Dropout(self.dropout_rate, name="dropout") if 0.0 < self.dropout_rate < 1.0 else None
        self.supports_masking = True

    def build(self, input_shape):
        dim = int(input_shape[-1])
        self.W1 = library_weight(self, "W1", (dim, self.units), "kernel")
        if self.use_bias:
            self.b1 = library_weight(self, "b1", (self.units,), "bias")
        self.W2 = library_weight(self, "W2", (self.units, dim), "kernel")
        if self.use_bias:
            self.b2 = library_weight(self, "b2", (dim,), "bias")

    def call(self, inputs, training=None):
        hidden = ops.matmul(inputs, self.W1)
        if self.use_bias:
            hidden = hidden + self.b1
        hidden = self.activation(hidden)
        if self.dropout is not None:
            hidden = self.dropout(hidden, training=training)
        outputs = ops.matmul(hidden, self.W2)
        if self.use_bias:
            outputs = outputs + self.b2
        return outputs

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "dropout_rate": self.dropout_rate,
        })
        config.update(weight_options_config(self, "kernel", "bias"))
        return config


__all__ = ["FeedForward"]
