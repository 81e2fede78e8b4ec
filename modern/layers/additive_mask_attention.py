"""Multi-head attention with the 2021 tutorial's additive masking.

The tutorial adds ``-1e9`` to blocked logits. Stock Keras 3 attention
instead *replaces* blocked logits and, on its explicit path (the one that
returns scores), zeroes blocked weights after the softmax. Both agree
wherever a query has at least one visible key (``exp(-1e9 - max)`` is
exactly 0 in float32), but not on a row whose keys are *all* blocked (e.g. a
query over an all-padding sequence): the tutorial gives uniform weights
``1 / seq_len`` there (every logit rounds to ``-1e9``), stock Keras 3 gives
all-zero weights with scores requested and uniform weights without.
:class:`AdditiveMaskMultiHeadAttention` keeps the tutorial's additive rule on
both paths, so such rows match the legacy model too.
"""

from __future__ import annotations

import keras
from keras import ops

from modern.layers._attention_kernel import FlatMatmulEinsumDense, attention
from modern.layers._weight_options import weight_options, weight_options_config

__all__ = ["AdditiveMaskMultiHeadAttention", "scaled_dot_product_attention"]

# The tutorial's additive mask value. float16 cannot hold it (it would become
# -inf and turn all-blocked rows into NaN), so half precision uses a value
# that is still "minus infinity" for a softmax.
_MASK_VALUE = -1e9
_MASK_VALUE_FLOAT16 = -3e4


def _mask_value(dtype):
    return _MASK_VALUE_FLOAT16 if keras.backend.standardize_dtype(dtype) == "float16" else _MASK_VALUE


def _additive_bias(attention_mask, dtype):
    """Keep-mask broadcastable to ``(B, T, S)`` -> additive bias ``(B|1, 1, T|1, S)``."""
    mask = ops.cast(attention_mask, "bool")
    while len(mask.shape) < 4:
        # Insert the head axis (and, for a (T, S) mask, the batch axis).
        mask = ops.expand_dims(mask, axis=-3)
    # The tutorial's `mask * -1e9` with mask = 1.0 where blocked.
    return ops.multiply(ops.cast(ops.logical_not(mask), dtype), ops.cast(_mask_value(dtype), dtype))


def scaled_dot_product_attention(
    query, key, value, attention_mask=None, return_attention_scores=False, flash_attention=None
):
    """``softmax(q k^T / sqrt(depth) + bias) v`` with the tutorial's additive mask.

    Inputs use the Keras layout (heads after the sequence axis), the layout of
    ``keras.ops.dot_product_attention`` and of the projections of
    :class:`AdditiveMaskMultiHeadAttention`. Blocked positions get ``-1e9``
    *added* to their logits, so a query whose keys are all blocked attends
    uniformly, as in the tutorial (not zero weights, as Keras'
    ``Softmax(mask=...)`` would give).

    Without ``return_attention_scores`` the computation goes through
    ``keras.ops.dot_product_attention`` (fused kernels where the backend has
    them; batched ``matmul`` on TensorFlow, which has none, see
    :mod:`modern.layers._attention_kernel`) with the mask passed as an
    additive ``bias``; with it, the scores are computed explicitly in the
    tutorial's order of operations.

    Args:
        query: ``(batch, seq_q, heads, depth)``.
        key: ``(batch, seq_k, heads, depth)``.
        value: ``(batch, seq_k, heads, depth_v)``.
        attention_mask: optional boolean keep-mask broadcastable to
            ``(batch, seq_q, seq_k)`` (or already ``(batch, heads|1, seq_q,
            seq_k)``); ``True`` = may attend.
        return_attention_scores: also return the attention weights.
        flash_attention: passed to ``keras.ops.dot_product_attention`` (``None``
            lets the backend decide; its flash kernels need half precision).

    Returns:
        ``(batch, seq_q, heads, depth_v)``, and with
        ``return_attention_scores`` also the weights
        ``(batch, heads, seq_q, seq_k)``.
    """
    query = ops.convert_to_tensor(query)
    key = ops.convert_to_tensor(key)
    value = ops.convert_to_tensor(value)
    bias = None if attention_mask is None else _additive_bias(attention_mask, query.dtype)
    return attention(
        query, key, value, bias=bias, return_attention_scores=return_attention_scores, flash_attention=flash_attention
    )


def _causal_mask(query_length, key_length):
    """``(1, T, S)`` keep-mask: query ``i`` may see key ``j`` when ``j <= i``."""
    causal = ops.greater_equal(ops.expand_dims(ops.arange(query_length), 1), ops.expand_dims(ops.arange(key_length), 0))
    return ops.expand_dims(causal, 0)


def _and(mask, other):
    return other if mask is None else ops.logical_and(mask, other)


@keras.saving.register_keras_serializable(package="modern")
class AdditiveMaskMultiHeadAttention(keras.layers.Layer):
    """Multi-head attention as ``keras.layers.MultiHeadAttention``, with the tutorial's additive masking.

    The projections and their variables (``query``, ``key``, ``value``,
    ``attention_output``: ``EinsumDense`` kernels ``(features, heads,
    depth)`` and ``(heads, depth, features)``), the call signature and the
    mask convention (boolean, ``True`` = may attend; ``use_causal_mask``;
    the Keras masks of the inputs) are those of
    ``keras.layers.MultiHeadAttention``, whose public ``query_dense``,
    ``key_dense``, ``value_dense`` and ``output_dense`` attributes it also
    has. Only the attention core differs: blocked logits get ``-1e9`` added
    (see :func:`scaled_dot_product_attention`) so that queries whose keys are
    all blocked attend uniformly, as in the 2021 tutorial, instead of getting
    zero weights. With at least one visible key per query the result equals
    the stock layer's.

    The layer builds its projections itself, as
    :class:`~modern.layers._attention_kernel.FlatMatmulEinsumDense` (the same
    variables as ``EinsumDense``, a faster product on TensorFlow):
    ``keras.layers.MultiHeadAttention`` has no hook to choose the class of
    its projections nor, except through its private ``_compute_attention``,
    to replace its attention core.

    For incremental decoding the call takes a key/value ``cache`` in the way
    of KerasHub's ``CachedMultiHeadAttention`` (a pair of tensors here, not
    one stacked tensor).

    The tutorial's ``MultiHeadAttention(d_model, num_heads)`` is
    ``AdditiveMaskMultiHeadAttention(num_heads, key_dim=d_model // num_heads)``,
    called as ``layer(query=q, value=v, key=k, attention_mask=...)`` (the
    tutorial's order was ``(v, k, q, mask)``).

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head for query and key (``d_model // num_heads``).
        value_dim: size of each head for value; defaults to ``key_dim``.
        dropout: must be 0 (the tutorial applies no dropout to the attention
            weights; dropout follows the layer instead).
        use_bias: whether the projections have biases.
        output_shape: the last dimension(s) of the output; defaults to the
            query's last dimension.
        flash_attention: passed to ``keras.ops.dot_product_attention``; as in
            ``keras.layers.MultiHeadAttention``, a false value defers to
            ``keras.config.is_flash_attention_enabled()``.
        kernel_initializer: initializer of the projection kernels.
        bias_initializer: initializer of the projection biases.
        kernel_regularizer: regularizer of the projection kernels.
        bias_regularizer: regularizer of the projection biases.
        activity_regularizer: regularizer of the projections' outputs (as
            ``keras.layers.MultiHeadAttention`` applies it).
        kernel_constraint: constraint of the projection kernels.
        bias_constraint: constraint of the projection biases.
        attention_axes: ``None`` or the sequence axis (``1``). Accepted, with
            ``use_gate``, ``sliding_window`` and ``seed``, so that configs
            written when this layer was a ``keras.layers.MultiHeadAttention``
            subclass still load; their only supported values are those that
            leave the feature off.
        use_gate: must be ``False``.
        sliding_window: must be ``None``.
        seed: unused (there is no attention dropout).
        **kwargs: standard layer arguments (``name``, ``dtype``...).

    Call arguments:
        query: ``(batch, seq_q, features)``.
        value: ``(batch, seq_k, features)``; may be ``None`` when ``cache``
            is given without ``cache_update_index``.
        key: optional ``(batch, seq_k, features)``; defaults to ``value``.
        query_mask: optional ``(batch, seq_q)`` mask of the queries (Keras
            fills it from the query's own mask).
        value_mask: optional ``(batch, seq_k)`` mask of the values.
        key_mask: optional ``(batch, seq_k)`` mask of the keys.
        attention_mask: optional boolean keep-mask broadcastable to
            ``(batch, seq_q, seq_k)``.
        return_attention_scores: also return the weights
            ``(batch, heads, seq_q, seq_k)``.
        training: Python bool (no effect: there is no attention dropout).
        use_causal_mask: also block keys after the query position (not with
            ``cache``; pass the causal part in ``attention_mask`` there).
        cache: optional pair ``(key, value)`` of projected tensors, each
            ``(batch, cache_len, heads, depth)``, attended to instead of the
            projections of ``key`` and ``value``.
        cache_update_index: optional int (or int scalar tensor). When given,
            the projections of ``key`` and ``value`` are first written into
            ``cache`` at this sequence index (``keras.ops.slice_update``);
            when ``None`` the cache is used as it is.

    Returns:
        ``(batch, seq_q, output_features)``; with ``return_attention_scores``
        a tuple ``(output, scores)``. With ``cache`` the (updated) cache pair
        is appended: ``(output, cache)`` or ``(output, scores, cache)``.
    """

    def __init__(
        self,
        num_heads,
        key_dim,
        value_dim=None,
        dropout=0.0,
        use_bias=True,
        output_shape=None,
        flash_attention=None,
        kernel_initializer="glorot_uniform",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        activity_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        attention_axes=None,
        use_gate=False,
        sliding_window=None,
        seed=None,
        **kwargs,
    ):
        if dropout:
            raise ValueError(
                "AdditiveMaskMultiHeadAttention has no attention dropout (the tutorial has none); "
                f"got dropout={dropout!r}. Apply keras.layers.Dropout to the output instead."
            )
        if isinstance(attention_axes, int):
            attention_axes = (attention_axes,)
        if attention_axes is not None and tuple(attention_axes) not in ((1,), (-3,)):
            raise ValueError(f"AdditiveMaskMultiHeadAttention attends over the sequence axis only, got "
                             f"attention_axes={attention_axes!r}")
        if use_gate or sliding_window is not None:
            raise ValueError(f"AdditiveMaskMultiHeadAttention has no gate and no sliding window, got "
                             f"use_gate={use_gate!r}, sliding_window={sliding_window!r}")
        for what, size in (("num_heads", num_heads), ("key_dim", key_dim), ("value_dim", value_dim or key_dim)):
            if int(size) != size or size <= 0:
                raise ValueError(f"{what} must be a positive integer, got {size!r}")
        super().__init__(**kwargs)
        self.supports_masking = True
        self.num_heads = int(num_heads)
        self.key_dim = int(key_dim)
        self.value_dim = int(value_dim) if value_dim else self.key_dim
        self.dropout = 0.0
        self.use_bias = bool(use_bias)
        if isinstance(output_shape, int):
            output_shape = (output_shape,)
        self._output_shape = tuple(int(d) for d in output_shape) if output_shape else None
        self.flash_attention = flash_attention
        self.kernel_initializer, self.kernel_regularizer, self.kernel_constraint = weight_options(
            kernel_initializer, kernel_regularizer, kernel_constraint
        )
        self.bias_initializer, self.bias_regularizer, self.bias_constraint = weight_options(
            bias_initializer, bias_regularizer, bias_constraint
        )
        # For the projections, as keras.layers.MultiHeadAttention does; not the layer's own.
        self.projection_activity_regularizer = keras.regularizers.get(activity_regularizer)

    def _projection(self, equation, output_shape, bias_axes, name):
        projection = FlatMatmulEinsumDense(
            equation,
            output_shape=output_shape,
            bias_axes=bias_axes if self.use_bias else None,
            # Rebuilt from their config for every projection, so that an
            # unseeded initializer gives each kernel its own draw.
            kernel_initializer=keras.initializers.get(keras.initializers.serialize(self.kernel_initializer)),
            bias_initializer=keras.initializers.get(keras.initializers.serialize(self.bias_initializer)),
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            activity_regularizer=self.projection_activity_regularizer,
            kernel_constraint=self.kernel_constraint,
            bias_constraint=self.bias_constraint,
            dtype=self.dtype_policy,
            name=name,
        )
        # The projections map features only, so the Keras mask of an input
        # sequence still holds for their output; declaring it keeps Keras from
        # warning that they drop it (this layer has already used it, see call).
        projection.supports_masking = True
        return projection

    def build(self, query_shape, value_shape, key_shape=None):
        key_shape = value_shape if key_shape is None else key_shape
        for what, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if len(shape) != 3:
                raise ValueError(
                    f"{self.__class__.__name__} '{self.name}' expects rank-3 {what} "
                    f"(batch, seq, features), got shape {tuple(shape)}"
                )
        if value_shape[1] != key_shape[1]:
            raise ValueError(f"{self.name}: value and key must have the same length, got shapes "
                             f"{tuple(value_shape)} and {tuple(key_shape)}")
        # keras.layers.MultiHeadAttention's equations and sublayer names for
        # rank-3 inputs: the names are the variable paths the weight maps use,
        # the attribute names the paths inside .keras files.
        self.query_dense = self._projection("abc,cde->abde", (None, self.num_heads, self.key_dim), "de", "query")
        self.query_dense.build(query_shape)
        self.key_dense = self._projection("abc,cde->abde", (None, self.num_heads, self.key_dim), "de", "key")
        self.key_dense.build(key_shape)
        self.value_dense = self._projection("abc,cde->abde", (None, self.num_heads, self.value_dim), "de", "value")
        self.value_dense.build(value_shape)
        output_shape = self._output_shape or (query_shape[-1],)
        new_axes = "efghij"[: len(output_shape)]
        self.output_dense = self._projection(
            f"abcd,cd{new_axes}->ab{new_axes}", (None, *output_shape), new_axes, "attention_output"
        )
        self.output_dense.build((query_shape[0], query_shape[1], self.num_heads, self.value_dim))

    def _attention_mask(self, query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask):
        """The keep-mask of ``keras.layers.MultiHeadAttention``: every mask given, combined by AND."""
        mask = None
        if query_mask is not None:
            mask = ops.expand_dims(ops.cast(query_mask, "bool"), -1)  # (B, T, 1)
        for keys_mask in (value_mask, key_mask):
            if keys_mask is not None:
                mask = _and(mask, ops.expand_dims(ops.cast(keys_mask, "bool"), -2))  # (B, 1, S)
        if use_causal_mask:
            mask = _and(mask, _causal_mask(ops.shape(query)[1], ops.shape(value)[1]))
        if attention_mask is not None:
            mask = _and(mask, ops.cast(attention_mask, "bool"))
        return mask

    def call(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
        cache=None,
        cache_update_index=None,
    ):
        if cache is not None and use_causal_mask:
            raise ValueError(f"{self.name}: with a cache, pass the causal part of the mask in attention_mask")
        if key is None:
            key = value
        attention_mask = self._attention_mask(
            query, value, query_mask, value_mask, key_mask, attention_mask, use_causal_mask
        )
        projected_query = self.query_dense(query)
        if cache is None:
            projected_key, projected_value = self.key_dense(key), self.value_dense(value)
        else:
            projected_key, projected_value = cache
            if cache_update_index is not None:
                # (batch, index, head, depth): the new positions along the sequence axis.
                zero = ops.zeros((1,), "int32")
                start = ops.concatenate([zero, ops.reshape(ops.cast(cache_update_index, "int32"), (1,)), zero, zero])
                projected_key = ops.slice_update(projected_key, start, self.key_dense(key))
                projected_value = ops.slice_update(projected_value, start, self.value_dense(value))
        if return_attention_scores:
            attended, scores = scaled_dot_product_attention(
                projected_query, projected_key, projected_value, attention_mask, return_attention_scores=True
            )
        else:
            flash_attention = self.flash_attention or keras.config.is_flash_attention_enabled()
            attended = scaled_dot_product_attention(
                projected_query, projected_key, projected_value, attention_mask, flash_attention=flash_attention
            )
        output = self.output_dense(attended)
        result = (output, scores) if return_attention_scores else (output,)
        if cache is not None:
            result += ((projected_key, projected_value),)
        return result if len(result) > 1 else output

    def compute_output_shape(self, query_shape, value_shape=None, key_shape=None):
        return tuple(query_shape[:-1]) + (self._output_shape or (query_shape[-1],))

    def compute_output_spec(
        self,
        query,
        value,
        key=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        attention_mask=None,
        return_attention_scores=False,
        training=None,
        use_causal_mask=False,
        cache=None,
        cache_update_index=None,
    ):
        output = keras.KerasTensor(self.compute_output_shape(query.shape), dtype=self.compute_dtype)
        result = (output,)
        if return_attention_scores:
            key_length = (value if cache is None else cache[0]).shape[1]
            scores_shape = (query.shape[0], self.num_heads, query.shape[1], key_length)
            result += (keras.KerasTensor(scores_shape, dtype=self.compute_dtype),)
        if cache is not None:
            result += (tuple(keras.KerasTensor(c.shape, dtype=c.dtype) for c in cache),)
        return result if len(result) > 1 else output

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "key_dim": self.key_dim,
                "value_dim": self.value_dim,
                "dropout": self.dropout,
                "use_bias": self.use_bias,
                "output_shape": self._output_shape,
                "flash_attention": self.flash_attention,
                "activity_regularizer": keras.regularizers.serialize(self.projection_activity_regularizer),
            }
        )
        config.update(weight_options_config(self, "kernel", "bias"))
        return config
