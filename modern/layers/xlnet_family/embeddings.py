"""keras-xlnet's and keras-transformer-xl's embeddings and learned biases.

* ``PositionalEmbedding``: Transformer-XL's sinusoids of *relative*
  distances, from ``memory + seq`` down to 0 (directional) or to
  ``-seq + 1`` (bidirectional), optionally clamped; no weights.
* ``RelativeSegmentEmbedding``: whether each query and key lie in the same
  segment (a one-hot of "differs"), plus the two segment vectors; memory
  positions count as segment 0.
* ``MaskEmbedding``: the learned vector that replaces the token embedding
  where the query input marks a position to predict.
* ``RelativeBias``, ``SegmentBias``: learned vectors returned as outputs,
  so that several attention layers can share them.

Weight names are the libraries' (``embeddings``, ``bias_context``,
``bias_relative``, ``bias_segment``), so a port pairs them name for name.
"""

from __future__ import annotations

import keras
from keras import ops

from modern.layers._weight_options import weight_options, weight_options_config

PACKAGE = "modern.xlnet_family"


@keras.saving.register_keras_serializable(package=PACKAGE)
class PositionalEmbedding(keras.layers.Layer):
    """Sinusoidal embeddings of the relative distances a query sees.

    For ``key_len = mem_len + seq_len`` the distances are ``key_len,
    key_len - 1, ..., 0`` when ``directional`` (``key_len + 1`` rows) and
    ``key_len, ..., -seq_len + 1`` otherwise (``key_len + seq_len`` rows);
    each becomes ``[sin(d * f), cos(d * f)]`` with ``f = 10000 **
    -(2i / output_dim)``. The attention's relative shift picks the right row
    for every query and key.

    Args:
        output_dim: the embedding width (even).
        clamp_len: clip the distances to ``[0, clamp_len]`` (``None``: no clip).
        directional: the distances of a one-directional model.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: ``[hidden (batch, seq, units), memory (batch, mem, units)]``.
        mask: the hidden states' mask is passed on.

    Returns:
        ``(batch, rows, output_dim)``.
    """

    def __init__(self, output_dim, clamp_len=None, directional=True, **kwargs):
        super().__init__(**kwargs)
        self.output_dim = int(output_dim)
        self.clamp_len = clamp_len
        self.directional = bool(directional)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        hidden, memory = inputs
        seq_len, mem_len = ops.shape(hidden)[1], ops.shape(memory)[1]
        key_len = seq_len + mem_len
        stop = -1 if self.directional else -seq_len
        distances = ops.cast(ops.arange(key_len, stop, -1), self.compute_dtype)
        if self.clamp_len is not None:
            distances = ops.clip(distances, 0, self.clamp_len)
        frequencies = 1.0 / ops.power(
            10000.0, ops.arange(0.0, self.output_dim, 2.0, dtype=self.compute_dtype) / float(self.output_dim))
        angles = distances[:, None] * frequencies[None, :]
        table = ops.concatenate([ops.sin(angles), ops.cos(angles)], axis=-1)
        return ops.tile(table[None], [ops.shape(hidden)[0], 1, 1])

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]

    def compute_output_shape(self, input_shape):
        hidden, memory = input_shape
        rows = None
        if hidden[1] is not None and memory[1] is not None:
            rows = hidden[1] + memory[1] + (1 if self.directional else hidden[1])
        return (hidden[0], rows, self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(output_dim=self.output_dim, clamp_len=self.clamp_len, directional=self.directional)
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class RelativeSegmentEmbedding(keras.layers.Layer):
    """Same-segment indicators of every query/key pair, and the two segment vectors.

    Replaces keras-xlnet's ``RelativeSegmentEmbedding`` (a subclass of the
    Keras 2 ``Embedding`` with ``input_dim=2, output_dim=units``; its only
    weight is that ``(2, units)`` matrix, named ``embeddings``).

    Args:
        units: the vector width.
        embeddings_initializer, embeddings_regularizer, embeddings_constraint:
            options of the ``(2, units)`` weight.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: ``[segment ids (batch, seq), memory (batch, mem, units)]``.

    Returns:
        ``[one_hot(segment[q] != segment[k], 2) (batch, seq, mem + seq, 2),
        embeddings (2, units)]``; memory keys count as segment 0. No masks.
    """

    def __init__(self, units, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.embeddings_initializer, self.embeddings_regularizer, self.embeddings_constraint = weight_options(
            embeddings_initializer, embeddings_regularizer, embeddings_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            shape=(2, self.units), initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer, constraint=self.embeddings_constraint, name="embeddings",
        )

    def call(self, inputs, mask=None):
        segment, memory = inputs
        memory_segments = ops.zeros((ops.shape(segment)[0], ops.shape(memory)[1]), dtype=segment.dtype)
        keys = ops.concatenate([memory_segments, segment], axis=1)
        differs = ops.not_equal(segment[:, :, None], keys[:, None, :])
        return [ops.one_hot(ops.cast(differs, "int32"), 2, dtype=self.compute_dtype), self.embeddings + 0.0]

    def compute_mask(self, inputs, mask=None):
        return [None, None]

    def compute_output_shape(self, input_shape):
        segment, memory = input_shape
        keys = None if segment[1] is None or memory[1] is None else segment[1] + memory[1]
        return [(segment[0], segment[1], keys, 2), (2, self.units)]

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, **weight_options_config(self, "embeddings"))
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class MaskEmbedding(keras.layers.Layer):
    """``query * embeddings + (1 - query) * token_embeddings``: XLNet's query stream input.

    Args:
        units: the embedding width.
        initializer, regularizer, constraint: options of the ``(1, 1, units)``
            weight ``embeddings``.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: ``[token embeddings (batch, seq, units), query (batch, seq)]``
            (1 where a position is predicted).
        mask: the token embeddings' mask is passed on.

    Returns:
        ``(batch, seq, units)``.
    """

    def __init__(self, units, initializer="uniform", regularizer=None, constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.initializer, self.regularizer, self.constraint = weight_options(initializer, regularizer, constraint)
        self.supports_masking = True

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            shape=(1, 1, self.units), initializer=self.initializer, regularizer=self.regularizer,
            constraint=self.constraint, name="embeddings",
        )

    def call(self, inputs, mask=None):
        tokens, query = inputs
        query = ops.cast(query, self.compute_dtype)[..., None]
        return query * self.embeddings + (1.0 - query) * tokens

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units,
            initializer=keras.initializers.serialize(self.initializer),
            regularizer=keras.regularizers.serialize(self.regularizer),
            constraint=keras.constraints.serialize(self.constraint),
        )
        return config


class _LearnedVectors(keras.layers.Layer):
    """Learned ``(units,)`` vectors returned as outputs (the input only places the layer in the graph)."""

    NAMES: tuple[str, ...] = ()

    def __init__(self, units, bias_initializer="zeros", bias_regularizer=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.bias_initializer, self.bias_regularizer, self.bias_constraint = weight_options(
            bias_initializer, bias_regularizer, bias_constraint)
        self.supports_masking = True

    def build(self, input_shape):
        for name in self.NAMES:
            initializer = keras.initializers.get(keras.initializers.serialize(self.bias_initializer))
            setattr(self, name, self.add_weight(shape=(self.units,), initializer=initializer,
                                                regularizer=self.bias_regularizer,
                                                constraint=self.bias_constraint, name=name))

    def _vectors(self):
        return [getattr(self, name) + 0.0 for name in self.NAMES]

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, **weight_options_config(self, "bias"))
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class RelativeBias(_LearnedVectors):
    """Transformer-XL's content and position biases (``u`` and ``v`` of the paper).

    Args:
        units: the vector width.
        bias_initializer, bias_regularizer, bias_constraint: weight options.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: any tensor (not read).

    Returns:
        ``[bias_context (units,), bias_relative (units,)]``; no masks.
    """

    NAMES = ("bias_context", "bias_relative")

    def call(self, inputs):
        return self._vectors()

    def compute_mask(self, inputs, mask=None):
        return [None, None]

    def compute_output_shape(self, input_shape):
        return [(self.units,), (self.units,)]


@keras.saving.register_keras_serializable(package=PACKAGE)
class SegmentBias(_LearnedVectors):
    """XLNet's segment bias (``b`` of the paper).

    Args:
        units: the vector width.
        bias_initializer, bias_regularizer, bias_constraint: weight options.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: any tensor (not read).

    Returns:
        ``bias_segment (units,)``; no mask (the library passes its input's
        mask on, which no layer downstream reads).
    """

    NAMES = ("bias_segment",)

    def call(self, inputs):
        return self._vectors()[0]

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (self.units,)


__all__ = ["MaskEmbedding", "PositionalEmbedding", "RelativeBias", "RelativeSegmentEmbedding", "SegmentBias"]
