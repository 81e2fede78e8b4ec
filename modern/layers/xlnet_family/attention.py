"""keras-xlnet's ``RelativePartialMultiHeadSelfAttention``: Transformer-XL attention with XLNet's segment term.

For a query ``q`` (the content or the query stream), keys and values from
``[memory; content]`` and relative position embeddings ``r``, head by head::

    score = (q + u) . k                      # content
          + shift((q + v) . r)               # relative position
          + sum_s same[q, k, s] ((q + b) . e_s)    # relative segment
    weights = exp(score/sqrt(d) - max) * permutation * key_mask
    weights = weights / (sum(weights) + epsilon)

``shift`` is Transformer-XL's relative shift (row ``i`` of the query-by-
distance scores moved so that column ``k`` holds distance ``i - k + mem``).
The normalisation is the library's: ``exp`` of the max-shifted scores, the
masks *multiplied* in after the exponential, ``epsilon`` (``1e-7``) in the
denominator; a softmax with additive masks differs where whole rows are
masked and by ``epsilon`` elsewhere, so the port computes exactly this.

One kernel ``(units, 5 units)`` holds the query, key, value, position and
output projections side by side (``kernel``, and ``bias`` with
``use_bias``), as the library stores it.
"""

from __future__ import annotations

import keras
from keras import ops

from modern.layers._weight_options import weight_options, weight_options_config

PACKAGE = "modern.xlnet_family"


@keras.saving.register_keras_serializable(package=PACKAGE)
class RelativePartialMultiHeadSelfAttention(keras.layers.Layer):
    """XLNet's relative multi-head attention over memory and segment (module docstring).

    Args:
        units: the model width (the heads split it).
        num_head: the number of heads.
        activation: applied to every projection (the library's default: none).
        use_bias: projections with a bias.
        attention_dropout: dropout on the attention weights in training.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: weight options.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: ``[query stream (batch, seq, units), content (batch, seq,
            units), memory (batch, mem, units), segment matrix (batch, seq,
            mem + seq, 2), segment embeddings (2, units), relative positions
            (batch, rows, units), context bias (units,), relative bias
            (units,), segment bias (units,), permutation mask (batch, seq,
            mem + seq)]``, as keras-xlnet calls it.
        mask: ``mask[0]`` (the query stream's padding mask) masks the
            segment's keys and is passed on.
        training: dropout on the attention weights.

    Returns:
        ``(batch, seq, units)``.
    """

    def __init__(self, units, num_head, activation=None, use_bias=False, attention_dropout=0.0,
                 kernel_initializer="glorot_normal", bias_initializer="zeros", kernel_regularizer=None,
                 bias_regularizer=None, kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.units = int(units)
        self.num_head = int(num_head)
        if self.units % self.num_head:
            raise ValueError(f"units={self.units} is not a multiple of num_head={self.num_head}")
        self.head_dim = self.units // self.num_head
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.attention_dropout = float(attention_dropout)
        self.kernel_initializer, self.kernel_regularizer, self.kernel_constraint = weight_options(
            kernel_initializer, kernel_regularizer, kernel_constraint)
        self.bias_initializer, self.bias_regularizer, self.bias_constraint = weight_options(
            bias_initializer, bias_regularizer, bias_constraint)
        self.dropout = keras.layers.Dropout(self.attention_dropout, name="attention_dropout") if (
            0.0 < self.attention_dropout < 1.0) else None
        self.supports_masking = True

    def build(self, input_shape):
        self.kernel = self.add_weight(
            shape=(self.units, 5 * self.units), initializer=self.kernel_initializer,
            regularizer=self.kernel_regularizer, constraint=self.kernel_constraint, name="kernel",
        )
        self.bias = self.add_weight(
            shape=(5 * self.units,), initializer=self.bias_initializer, regularizer=self.bias_regularizer,
            constraint=self.bias_constraint, name="bias",
        ) if self.use_bias else None

    def _project(self, x, part):
        """Projection ``part`` (0 query, 1-2 key and value, 3 position, 4 output) of ``x``."""
        width = 2 if part == 1 else 1
        lo, hi = part * self.units, (part + width) * self.units
        y = ops.matmul(x, self.kernel[:, lo:hi])
        if self.bias is not None:
            y = y + self.bias[lo:hi]
        return self.activation(y) if self.activation is not None else y

    def _heads(self, x):
        return ops.reshape(x, (ops.shape(x)[0], ops.shape(x)[1], self.num_head, self.head_dim))

    def _per_head(self, bias):
        return ops.reshape(bias, (self.num_head, self.head_dim))

    @staticmethod
    def _relative_shift(scores, key_len):
        """(batch, head, q, rows) scores by distance row -> (batch, head, q, key_len) by key."""
        batch, heads, q_len, rows = (ops.shape(scores)[i] for i in range(4))
        scores = ops.reshape(scores, (batch, heads, rows, q_len))[:, :, 1:, :]
        scores = ops.reshape(scores, (batch, heads, q_len, rows - 1))
        return scores[:, :, :, :key_len]

    def call(self, inputs, mask=None, training=None):
        (query, content, memory, segment_matrix, segment_embeddings, positions,
         context_bias, relative_bias, segment_bias, permutation) = inputs
        keys_in = ops.concatenate([memory, content], axis=1)
        q = self._heads(self._project(query, 0))
        kv = self._project(keys_in, 1)
        k = self._heads(kv[:, :, :self.units])
        v = self._heads(kv[:, :, self.units:])
        r = self._heads(self._project(positions, 3))
        key_len = ops.shape(k)[1]

        content_scores = ops.einsum("bqhd,bkhd->bhqk", q + self._per_head(context_bias), k)
        position_scores = self._relative_shift(
            ops.einsum("bqhd,brhd->bhqr", q + self._per_head(relative_bias), r), key_len)
        # The two segment vectors, per head: e[s, h, :] = segment_embeddings[s, h*d:(h+1)*d].
        segment_vectors = ops.reshape(segment_embeddings, (2, self.num_head, self.head_dim))
        by_segment = ops.einsum("bqhd,shd->bqsh", q + self._per_head(segment_bias), segment_vectors)
        segment_scores = ops.einsum("bqks,bqsh->bhqk", ops.cast(segment_matrix, by_segment.dtype), by_segment)

        scores = (content_scores + position_scores + segment_scores) / ops.sqrt(
            ops.cast(self.head_dim, content_scores.dtype))
        weights = ops.exp(scores - ops.max(scores, axis=-1, keepdims=True))
        weights = weights * ops.cast(permutation, weights.dtype)[:, None]
        key_mask = None if mask is None else mask[0]
        if key_mask is not None:
            seen = ops.concatenate([ops.ones(ops.shape(memory)[:2], dtype=weights.dtype),
                                    ops.cast(key_mask, weights.dtype)], axis=1)
            weights = weights * seen[:, None, None, :]
        weights = weights / (ops.sum(weights, axis=-1, keepdims=True) + keras.config.epsilon())
        if self.dropout is not None:
            weights = self.dropout(weights, training=training)
        attended = ops.einsum("bhqk,bkhd->bqhd", weights, v)
        attended = ops.reshape(attended, (ops.shape(attended)[0], ops.shape(attended)[1], self.units))
        return self._project(attended, 4)

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update(
            units=self.units, num_head=self.num_head, activation=keras.activations.serialize(self.activation),
            use_bias=self.use_bias, attention_dropout=self.attention_dropout,
            **weight_options_config(self, "kernel", "bias"),
        )
        return config


__all__ = ["RelativePartialMultiHeadSelfAttention"]
