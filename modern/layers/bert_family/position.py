"""Position embeddings of keras-pos-embd: learned (``PositionEmbedding``) and
trigonometric (``TrigPosEmbedding``), each in the modes ``expand`` (positions in,
vectors out), ``add`` (added to the features) and ``concat`` (appended to them)."""

from __future__ import annotations

import keras
from keras import ops

from modern.layers._weight_options import weight_options, weight_options_config

PACKAGE = "modern.bert_family"
MODES = ("expand", "add", "concat")


def _check_mode(mode):
    # Keras 3's loader of Keras 2 configs resolves every string value that
    # names a function, so mode "add" arrives as `keras.layers.add`; its name
    # is the mode that was saved.
    mode = getattr(mode, "__name__", mode) if callable(mode) else mode
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    return mode


def _output_shape(mode, output_dim, input_shape):
    input_shape = tuple(input_shape)
    if mode == "expand":
        return input_shape + (output_dim,)
    if mode == "concat":
        return input_shape[:-1] + (None if input_shape[-1] is None else input_shape[-1] + output_dim,)
    return input_shape


@keras.saving.register_keras_serializable(package=PACKAGE)
class PositionEmbedding(keras.layers.Layer):
    """Learned position embedding (keras-pos-embd's ``PositionEmbedding``; keras-bert's positions).

    * ``expand``: the inputs are (relative, possibly negative) positions
      ``(batch, seq)``; each is clipped to ``[-input_dim, input_dim]`` and
      looked up in a ``(2 * input_dim + 1, output_dim)`` table.
    * ``add``: ``inputs + embeddings[:seq_len]`` (feature width must be
      ``output_dim``); the table is ``(input_dim, output_dim)``.
    * ``concat``: ``concatenate([inputs, embeddings[:seq_len]])``.

    Weight: ``embeddings``. Masks: in ``add``/``concat`` modes the input's
    mask is passed on; in ``expand`` mode with ``mask_zero`` the output mask
    is ``inputs != mask_zero`` (the legacy compare: ``mask_zero=True``
    compares with 1, an index it also accepts).

    Args:
        input_dim: the largest position (``add``/``concat``: the table length).
        output_dim: embedding width.
        mode: ``"expand"``, ``"add"`` or ``"concat"`` (legacy default ``"expand"``).
        embeddings_initializer: legacy default ``"uniform"``.
        embeddings_regularizer: regularizer of ``embeddings``.
        embeddings_constraint: constraint of ``embeddings``.
        mask_zero: ``expand`` mode only: the padding index (``False``: none).
        **kwargs: standard layer arguments (``activity_regularizer`` too).

    Call arguments:
        inputs: ``(batch, seq)`` positions (expand) or ``(batch, seq, dim)``.

    Returns:
        ``(batch, seq, output_dim)``, ``(batch, seq, dim)`` or
        ``(batch, seq, dim + output_dim)``.
    """

    def __init__(self, input_dim, output_dim, mode="expand", embeddings_initializer="uniform",
                 embeddings_regularizer=None, embeddings_constraint=None, mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.mode = _check_mode(mode)
        self.embeddings_initializer, self.embeddings_regularizer, self.embeddings_constraint = weight_options(
            embeddings_initializer, embeddings_regularizer, embeddings_constraint
        )
        # bool or an int index, as the legacy layer took either.
        self.mask_zero = mask_zero
        self.supports_masking = True
        self.embeddings = None

    def build(self, input_shape):
        rows = 2 * self.input_dim + 1 if self.mode == "expand" else self.input_dim
        self.embeddings = self.add_weight(
            shape=(rows, self.output_dim), initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer, constraint=self.embeddings_constraint, name="embeddings",
        )

    def call(self, inputs):
        if self.mode == "expand":
            positions = ops.clip(ops.cast(inputs, "int32"), -self.input_dim, self.input_dim) + self.input_dim
            return ops.take(self.embeddings, positions, axis=0)
        seq_len = ops.shape(inputs)[1]
        table = ops.expand_dims(self.embeddings[:seq_len, : self.output_dim], axis=0)
        if self.mode == "add":
            return inputs + table
        table = ops.broadcast_to(table, (ops.shape(inputs)[0], seq_len, self.output_dim))
        return ops.concatenate([inputs, ops.cast(table, inputs.dtype)], axis=-1)

    def compute_mask(self, inputs, mask=None):
        if self.mode != "expand":
            return mask
        if self.mask_zero is False or self.mask_zero is None:
            return None
        return ops.not_equal(ops.cast(inputs, "int32"), int(self.mask_zero))

    def compute_output_shape(self, input_shape):
        return _output_shape(self.mode, self.output_dim, input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"input_dim": self.input_dim, "output_dim": self.output_dim, "mode": self.mode,
                       "mask_zero": self.mask_zero})
        config.update(weight_options_config(self, "embeddings"))
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class TrigPosEmbedding(keras.layers.Layer):
    """Sinusoidal position embedding as keras-pos-embd's ``TrigPosEmbedding`` computes it.

    Feature ``2i`` of position ``p`` is ``sin(p * w_i)`` and feature
    ``2i + 1`` is ``cos(p * w_i)`` (interleaved), with
    ``w_i = 1 / 10000 ** (2i / output_dim)``, computed in float32 in the
    legacy order (one product per angle). Positions are ``0 .. seq_len - 1``
    in ``add``/``concat`` modes and the (float) inputs in ``expand`` mode.
    Weightless; masks pass through.

    Relation to :class:`modern.layers.SinusoidalPositionEmbedding`
    (``layout="interleaved"``): the same angles, but that layer has no
    ``expand`` mode (arbitrary positions).

    Args:
        mode: ``"expand"``, ``"add"`` (legacy default) or ``"concat"``.
        output_dim: embedding width (even); required for ``expand`` and
            ``concat``, the input width in ``add`` mode.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: ``(batch, seq)`` positions (expand) or ``(batch, seq, dim)``.

    Returns:
        As :class:`PositionEmbedding`.
    """

    def __init__(self, mode="add", output_dim=None, **kwargs):
        super().__init__(**kwargs)
        self.mode = mode = _check_mode(mode)
        if mode != "add" and (output_dim is None or int(output_dim) % 2):
            raise ValueError(f"TrigPosEmbedding in {mode!r} mode needs an even output_dim, got {output_dim!r}")
        self.output_dim = None if output_dim is None else int(output_dim)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        if self.mode == "expand":
            width = self.output_dim
            positions = ops.cast(inputs, "float32")
        else:
            width = inputs.shape[-1] if self.mode == "add" else self.output_dim
            seq_len = ops.shape(inputs)[1]
            positions = ops.cast(ops.arange(seq_len)[None, :], "float32")
        pair = ops.arange(width // 2)
        rates = 1.0 / ops.power(10000.0, ops.cast(pair * 2, "float32") / float(width))
        angles = positions[..., None] * rates
        table = ops.reshape(ops.stack([ops.sin(angles), ops.cos(angles)], axis=-1), ops.shape(angles)[:-1] + (width,))
        table = ops.cast(table, self.compute_dtype)
        if self.mode == "expand":
            return table
        if self.mode == "add":
            return inputs + table
        table = ops.broadcast_to(table, (ops.shape(inputs)[0], ops.shape(inputs)[1], width))
        return ops.concatenate([inputs, table], axis=-1)

    def compute_mask(self, inputs, mask=None):
        return mask

    def compute_output_shape(self, input_shape):
        return _output_shape(self.mode, self.output_dim, input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode, "output_dim": self.output_dim})
        return config


__all__ = ["PositionEmbedding", "TrigPosEmbedding"]
