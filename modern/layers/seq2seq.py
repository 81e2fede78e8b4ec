"""Encoder/decoder blocks of the 2021 TensorFlow tutorial Transformer, in Keras 3.

Keras 3 equivalents of the tutorial's ``MultiHeadAttention``, ``EncoderLayer``,
``DecoderLayer``, ``Encoder`` and ``Decoder`` (see ``legacy_ref.tutorial``),
numerically equal to them given the same weights, on every backend.

What changes from the 2021 code, and why the numbers do not:

* **Attention is ``keras.layers.MultiHeadAttention``.** The tutorial's fused
  ``Dense(d_model)`` projections ``wq``/``wk``/``wv``/``dense`` are Keras'
  per-head ``EinsumDense`` kernels once reshaped (head ``h`` owns columns
  ``h * depth:(h + 1) * depth``); the weight map in
  :mod:`modern.weight_maps.tutorial` does the reshapes.
* **Masks are boolean "keep" masks** (``True`` = may attend), Keras 3's
  convention, instead of the tutorial's float "block" masks (``1.0`` =
  blocked). :func:`attention_mask_from_legacy` converts one into the other.
  The decoder's look-ahead mask is ``use_causal_mask=True`` combined with the
  target padding mask (their logical AND is exactly the tutorial's
  ``maximum(padding, look_ahead)`` inverted).
* **Masking stays additive.** The tutorial adds ``-1e9`` to blocked logits.
  Stock Keras 3 attention instead *replaces* blocked logits and, on its
  explicit path (the one that returns scores), zeroes blocked weights after
  the softmax. Both agree wherever a query has at least one visible key
  (``exp(-1e9 - max)`` is exactly 0 in float32), but not on a row whose keys
  are *all* blocked (e.g. a query over an all-padding sequence): the tutorial
  gives uniform weights ``1 / seq_len`` there (every logit rounds to
  ``-1e9``), stock Keras 3 gives all-zero weights with scores requested and
  uniform weights without. :class:`AdditiveMaskMultiHeadAttention` keeps the
  tutorial's additive rule on both paths, so such rows match the legacy
  model too.
* **The position table** is computed in float64 NumPy and cast to float32 as
  the tutorial does, so it is bit-identical; it is a constant, not a weight.
* **``training`` is a keyword argument** everywhere (the 2021 code passed it
  positionally).
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from modern.layers._attention_kernel import attention, use_flat_matmul_projections

__all__ = [
    "AdditiveMaskMultiHeadAttention",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "attention_mask_from_legacy",
    "cached_causal_padding_mask",
    "causal_padding_mask",
    "padding_mask",
    "positional_encoding",
    "scaled_dot_product_attention",
]

# The tutorial's additive mask value. float16 cannot hold it (it would become
# -inf and turn all-blocked rows into NaN), so half precision uses a value
# that is still "minus infinity" for a softmax.
_MASK_VALUE = -1e9
_MASK_VALUE_FLOAT16 = -3e4


# ---------------------------------------------------------------------------
# Functions: position table, masks, attention core
# ---------------------------------------------------------------------------


def positional_encoding(length, depth):
    """Sinusoidal position table of the tutorial, as a float32 NumPy array.

    Position ``p`` and feature pair ``k`` share the angle
    ``p / 10000 ** (2k / depth)``; feature ``2k`` holds its sine and feature
    ``2k + 1`` its cosine. Computed in float64 and cast to float32 at the end,
    exactly like the 2021 code, so the values are bit-identical to the legacy
    table.

    Args:
        length: number of positions (the tutorial's ``maximum_position_encoding``
            / ``pe_input`` / ``pe_target``).
        depth: number of features (``d_model``).

    Returns:
        A ``(length, depth)`` float32 ``numpy.ndarray``.
    """
    length, depth = int(length), int(depth)
    if length < 0 or depth <= 0:
        raise ValueError(f"positional_encoding needs length >= 0 and depth > 0, got {length}, {depth}")
    pair = np.arange(depth, dtype=np.int64) // 2
    # float32(depth) == float64(depth) for any realistic depth, so this is the
    # 2021 expression `(2 * (i // 2)) / np.float32(d_model)` in float64.
    frequencies = 1.0 / np.power(10000.0, (2 * pair).astype(np.float64) / np.float64(depth))
    angles = np.arange(length, dtype=np.int64)[:, None] * frequencies[None, :]
    table = np.where(np.arange(depth) % 2 == 0, np.sin(angles), np.cos(angles))
    return table.astype(np.float32)


def padding_mask(token_ids, pad_id=0):
    """Keep-mask over the keys of a padded id sequence.

    Args:
        token_ids: int tensor ``(batch, seq_len)``.
        pad_id: the padding id (the tutorial uses 0).

    Returns:
        bool tensor ``(batch, 1, seq_len)``, ``True`` where the token is not
        padding; it broadcasts over query positions as an ``attention_mask``.
        The tutorial's ``create_padding_mask`` is its float inverse with an
        extra head axis.
    """
    token_ids = ops.convert_to_tensor(token_ids)
    keep = ops.not_equal(token_ids, ops.cast(pad_id, token_ids.dtype))
    return ops.expand_dims(keep, axis=1)


def causal_padding_mask(token_ids, pad_id=0):
    """Decoder self-attention keep-mask: causal and not padding.

    Query ``i`` may attend to key ``j`` when ``j <= i`` and token ``j`` is not
    padding: the boolean inverse of the tutorial's
    ``maximum(create_padding_mask(tar), create_look_ahead_mask(len))``.

    Args:
        token_ids: int tensor ``(batch, seq_len)``.
        pad_id: the padding id.

    Returns:
        bool tensor ``(batch, seq_len, seq_len)``.
    """
    keep = padding_mask(token_ids, pad_id)
    length = ops.shape(keep)[-1]
    positions = ops.arange(length)
    causal = ops.greater_equal(ops.expand_dims(positions, 1), ops.expand_dims(positions, 0))
    return ops.logical_and(ops.expand_dims(causal, 0), keep)


def cached_causal_padding_mask(token_ids, position, pad_id=0):
    """Keep-mask of one decoding position over a fixed-length key/value cache.

    Row ``position`` of :func:`causal_padding_mask`: the query at
    ``position`` may attend to cache slot ``j`` when ``j <= position`` and
    token ``j`` is not padding. Slots after ``position`` hold no key yet (or a
    stale one); they are blocked like the tutorial's look-ahead positions, so
    with the additive mask their weights are exactly 0 and a cache of any
    length gives the weights of the exact-length call.

    Args:
        token_ids: int tensor ``(batch, cache_len)``, the ids decoded so far
            at their positions (whatever follows ``position`` is ignored).
        position: int scalar tensor (or Python int), the query's position.
        pad_id: the padding id.

    Returns:
        bool tensor ``(batch, 1, cache_len)``: the ``attention_mask`` of a
        one-token query over the cache.
    """
    keep = padding_mask(token_ids, pad_id)
    slots = ops.arange(ops.shape(keep)[-1], dtype="int32")
    seen = ops.less_equal(slots, ops.cast(position, "int32"))
    return ops.logical_and(keep, seen)


def attention_mask_from_legacy(mask):
    """Convert a tutorial (additive, 1.0 = blocked) mask into a Keras keep-mask.

    Accepts the shapes the tutorial builds: ``(batch, 1, 1, seq_k)`` padding
    masks, ``(batch, 1, seq_q, seq_k)`` combined look-ahead masks (the size-1
    head axis is dropped) and ``(seq_q, seq_k)`` look-ahead masks (kept as is;
    it broadcasts over the batch).

    Args:
        mask: float array or tensor, 1.0 where attention is blocked.

    Returns:
        bool tensor, ``True`` where attention is allowed, broadcastable to
        ``(batch, seq_q, seq_k)``; ``None`` for ``None``.
    """
    if mask is None:
        return None
    mask = ops.convert_to_tensor(mask)
    if len(mask.shape) == 4:
        if mask.shape[1] != 1:
            raise ValueError(
                "a legacy mask of rank 4 must have a head axis of size 1 (it is broadcast over heads), "
                f"got {mask.shape}"
            )
        mask = ops.squeeze(mask, axis=1)
    elif len(mask.shape) not in (2, 3):
        raise ValueError(f"a legacy attention mask has rank 2, 3 or 4, got shape {mask.shape}")
    return ops.less(ops.cast(mask, "float32"), 0.5)


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
    ``keras.ops.dot_product_attention`` and of
    ``keras.layers.MultiHeadAttention``'s projections. Blocked positions get
    ``-1e9`` *added* to their logits, so a query whose keys are all blocked
    attends uniformly, as in the tutorial (not zero weights, as Keras'
    ``Softmax(mask=...)`` would give).

    Without ``return_attention_scores`` the computation goes through
    ``keras.ops.dot_product_attention`` (fused kernels where the backend has
    them; batched ``matmul`` on TensorFlow, which has none, see
    :mod:`modern.layers._attention_kernel`) with the mask passed as an
    additive ``bias``; with it, the scores
    are computed explicitly in the tutorial's order of operations.

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


# ---------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------


@keras.saving.register_keras_serializable(package="modern")
class AdditiveMaskMultiHeadAttention(keras.layers.MultiHeadAttention):
    """``keras.layers.MultiHeadAttention`` with the tutorial's additive masking.

    The projections, variables (``query``, ``key``, ``value``,
    ``attention_output``), call signature and mask convention (boolean,
    ``True`` = may attend; ``use_causal_mask``) are those of
    ``keras.layers.MultiHeadAttention``. Only the attention core differs:
    blocked logits get ``-1e9`` added (see :func:`scaled_dot_product_attention`)
    so that queries whose keys are all blocked attend uniformly, as in the 2021
    tutorial, instead of getting zero weights. With at least one visible key
    per query the result equals the stock layer's.

    The tutorial's ``MultiHeadAttention(d_model, num_heads)`` is
    ``AdditiveMaskMultiHeadAttention(num_heads, key_dim=d_model // num_heads)``,
    called as ``layer(query=q, value=v, key=k, attention_mask=...)`` (the
    tutorial's order was ``(v, k, q, mask)``).

    Args:
        num_heads: number of attention heads.
        key_dim: size of each head for query and key (``d_model // num_heads``).
        dropout: must be 0 (the tutorial applies no dropout to the attention
            weights; dropout follows the layer instead).
        **kwargs: the other arguments of ``keras.layers.MultiHeadAttention``
            (``value_dim``, ``use_bias``, ``output_shape``, initializers,
            ``name``...). Inputs must be rank 3 ``(batch, seq, features)``.

    Call arguments:
        query: ``(batch, seq_q, features)``.
        value: ``(batch, seq_k, features)``.
        key: optional ``(batch, seq_k, features)``; defaults to ``value``.
        attention_mask: optional boolean keep-mask broadcastable to
            ``(batch, seq_q, seq_k)``.
        return_attention_scores: also return the weights
            ``(batch, heads, seq_q, seq_k)``.
        training: Python bool (no effect: there is no attention dropout).
        use_causal_mask: also block keys after the query position.

    Returns:
        ``(batch, seq_q, output_features)``, and with
        ``return_attention_scores`` the attention weights.
    """

    def __init__(self, num_heads, key_dim, dropout=0.0, **kwargs):
        if dropout:
            raise ValueError(
                "AdditiveMaskMultiHeadAttention has no attention dropout (the tutorial has none); "
                f"got dropout={dropout!r}. Apply keras.layers.Dropout to the output instead."
            )
        super().__init__(num_heads=num_heads, key_dim=key_dim, dropout=0.0, **kwargs)

    def build(self, query_shape, value_shape, key_shape=None):
        for what, shape in (("query", query_shape), ("value", value_shape), ("key", key_shape)):
            if shape is not None and len(shape) != 3:
                raise ValueError(
                    f"{self.__class__.__name__} '{self.name}' expects rank-3 {what} "
                    f"(batch, seq, features), got shape {tuple(shape)}"
                )
        super().build(query_shape, value_shape, key_shape)
        # Same variables, faster products on TensorFlow (see the function).
        use_flat_matmul_projections(self)

    def _compute_attention(
        self,
        query,
        key,
        value,
        attention_mask=None,
        training=None,
        return_attention_scores=False,
        use_causal_mask=False,
    ):
        # `keras.layers.MultiHeadAttention`'s documented extension point: it
        # hands over the projected (batch, seq, heads, depth) tensors and the
        # merged boolean mask (padding, explicit and causal parts already
        # combined by `_compute_attention_mask`).
        if use_causal_mask:
            causal = self._compute_causal_mask(query, value)
            if attention_mask is not None:
                causal = ops.logical_and(ops.cast(attention_mask, "bool"), causal)
            attention_mask = causal
        if return_attention_scores:
            return scaled_dot_product_attention(query, key, value, attention_mask, return_attention_scores=True)
        output = scaled_dot_product_attention(
            query, key, value, attention_mask, flash_attention=self._flash_attention
        )
        return output, None


def _tuple(shape):
    return tuple(None if d is None else int(d) for d in shape)


def _sizes(d_model, num_heads, dff, rate, layer_norm_epsilon):
    """The constructor arguments every block, stack and model shares, as stored.

    Returns ``(d_model, num_heads, dff, rate, layer_norm_epsilon)`` as
    ``int``, ``int``, ``int``, ``float``, ``float``; :func:`_sizes_config`
    gives them back for ``get_config``.
    """
    return int(d_model), int(num_heads), int(dff), float(rate), float(layer_norm_epsilon)


def _sizes_config(layer):
    """``get_config`` entries of the arguments :func:`_sizes` stored on ``layer``."""
    return {
        "d_model": layer.d_model,
        "num_heads": layer.num_heads,
        "dff": layer.dff,
        "rate": layer.rate,
        "layer_norm_epsilon": layer.layer_norm_epsilon,
    }


class _TransformerBlock(keras.layers.Layer):
    """Shared part of the encoder and decoder blocks: sizes, sublayer factories, config.

    The factories give the sublayers their stable names (the weight paths a
    port fills); the subclasses create them in the tutorial's order.
    """

    def __init__(self, d_model, num_heads, dff, rate, layer_norm_epsilon, **kwargs):
        super().__init__(**kwargs)
        if d_model % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide d_model={d_model}")
        self.d_model, self.num_heads, self.dff, self.rate, self.layer_norm_epsilon = _sizes(
            d_model, num_heads, dff, rate, layer_norm_epsilon
        )

    def _attention(self, name):
        return AdditiveMaskMultiHeadAttention(
            self.num_heads, key_dim=self.d_model // self.num_heads, dtype=self.dtype_policy, name=name
        )

    def _feed_forward(self):
        # The tutorial's point_wise_feed_forward_network as two named Dense layers.
        hidden = keras.layers.Dense(self.dff, activation="relu", dtype=self.dtype_policy, name="ffn_hidden")
        output = keras.layers.Dense(self.d_model, dtype=self.dtype_policy, name="ffn_output")
        return hidden, output

    def _build_feed_forward(self, input_shape):
        self.ffn_hidden.build(input_shape)
        self.ffn_output.build(input_shape[:-1] + (self.dff,))

    def _layer_norms(self, count):
        return tuple(
            keras.layers.LayerNormalization(
                epsilon=self.layer_norm_epsilon, dtype=self.dtype_policy, name=f"layernorm{i}"
            )
            for i in range(1, count + 1)
        )

    def _dropouts(self, count):
        return tuple(
            keras.layers.Dropout(self.rate, dtype=self.dtype_policy, name=f"dropout{i}") for i in range(1, count + 1)
        )

    def get_config(self):
        config = super().get_config()
        config.update(_sizes_config(self))
        return config


@keras.saving.register_keras_serializable(package="modern")
class TransformerEncoderLayer(_TransformerBlock):
    """Post-norm Transformer encoder block of the tutorial (``EncoderLayer``).

    ``out1 = LayerNorm(x + Dropout(MHA(x, x, x)))`` then
    ``out = LayerNorm(out1 + Dropout(FFN(out1)))`` with
    ``FFN = Dense(d_model)(Dense(dff, relu))``.

    Sublayers (their names are the weight paths a port fills): ``mha``
    (:class:`AdditiveMaskMultiHeadAttention`), ``ffn_hidden``, ``ffn_output``,
    ``layernorm1``, ``layernorm2``, ``dropout1``, ``dropout2``.

    Args:
        d_model: model width (the input's last dimension).
        num_heads: attention heads; must divide ``d_model``.
        dff: width of the feed-forward hidden layer.
        rate: dropout rate after the attention and the feed-forward block.
        layer_norm_epsilon: epsilon of both layer normalisations (the
            tutorial's 1e-6, not Keras' default 1e-3).
        **kwargs: standard layer arguments (``name``, ``dtype``...).

    Call arguments:
        inputs: ``(batch, seq_len, d_model)``.
        attention_mask: optional boolean keep-mask broadcastable to
            ``(batch, seq_len, seq_len)``, e.g. :func:`padding_mask` of the
            token ids (``(batch, 1, seq_len)``).
        training: Python bool, whether dropout is active.

    Returns:
        ``(batch, seq_len, d_model)``.
    """

    def __init__(self, d_model, num_heads, dff, rate=0.1, layer_norm_epsilon=1e-6, **kwargs):
        super().__init__(d_model, num_heads, dff, rate, layer_norm_epsilon, **kwargs)
        self.mha = self._attention("mha")
        self.ffn_hidden, self.ffn_output = self._feed_forward()
        self.layernorm1, self.layernorm2 = self._layer_norms(2)
        self.dropout1, self.dropout2 = self._dropouts(2)

    def build(self, input_shape):
        input_shape = _tuple(input_shape)
        self.mha.build(input_shape, input_shape)
        self._build_feed_forward(input_shape)
        self.layernorm1.build(input_shape)
        self.layernorm2.build(input_shape)

    def call(self, inputs, attention_mask=None, training=None):
        attended = self.mha(query=inputs, value=inputs, key=inputs, attention_mask=attention_mask, training=training)
        out1 = self.layernorm1(inputs + self.dropout1(attended, training=training))
        ffn = self.ffn_output(self.ffn_hidden(out1))
        return self.layernorm2(out1 + self.dropout2(ffn, training=training))


@keras.saving.register_keras_serializable(package="modern")
class TransformerDecoderLayer(_TransformerBlock):
    """Post-norm Transformer decoder block of the tutorial (``DecoderLayer``).

    Masked self-attention, cross-attention over the encoder output (queries
    from the decoder, keys and values from the encoder), then the feed-forward
    block; each followed by dropout, a residual connection and layer
    normalisation.

    Sublayers: ``mha1`` (self), ``mha2`` (cross), ``ffn_hidden``,
    ``ffn_output``, ``layernorm1``..``layernorm3``, ``dropout1``..``dropout3``.

    Args:
        d_model: model width.
        num_heads: attention heads; must divide ``d_model``.
        dff: width of the feed-forward hidden layer.
        rate: dropout rate.
        layer_norm_epsilon: epsilon of the layer normalisations (1e-6).
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: ``(batch, tar_len, d_model)``.
        encoder_outputs: ``(batch, inp_len, d_model)``.
        self_attention_mask: optional boolean keep-mask broadcastable to
            ``(batch, tar_len, tar_len)``, e.g. :func:`padding_mask` of the
            target ids.
        cross_attention_mask: optional boolean keep-mask broadcastable to
            ``(batch, tar_len, inp_len)``, e.g. :func:`padding_mask` of the
            input ids.
        use_causal_mask: block attention to later target positions (default
            ``True``). Combined with ``self_attention_mask`` by logical AND,
            which reproduces the tutorial's combined look-ahead mask. Pass
            ``False`` to use ``self_attention_mask`` alone (a tutorial call
            with ``look_ahead_mask=None`` had no causal masking at all).
        training: Python bool, whether dropout is active.
        return_attention_scores: also return both attention weight blocks.

    Returns:
        ``(batch, tar_len, d_model)``; with ``return_attention_scores`` a
        tuple ``(outputs, self_attention_weights (batch, heads, tar_len,
        tar_len), cross_attention_weights (batch, heads, tar_len, inp_len))``,
        the tutorial's ``(out3, attn_weights_block1, attn_weights_block2)``.
    """

    def __init__(self, d_model, num_heads, dff, rate=0.1, layer_norm_epsilon=1e-6, **kwargs):
        super().__init__(d_model, num_heads, dff, rate, layer_norm_epsilon, **kwargs)
        self.mha1 = self._attention("mha1")
        self.mha2 = self._attention("mha2")
        self.ffn_hidden, self.ffn_output = self._feed_forward()
        self.layernorm1, self.layernorm2, self.layernorm3 = self._layer_norms(3)
        self.dropout1, self.dropout2, self.dropout3 = self._dropouts(3)

    def build(self, inputs_shape, encoder_outputs_shape):
        inputs_shape = _tuple(inputs_shape)
        encoder_outputs_shape = _tuple(encoder_outputs_shape)
        self.mha1.build(inputs_shape, inputs_shape)
        self.mha2.build(inputs_shape, encoder_outputs_shape)
        self._build_feed_forward(inputs_shape)
        for norm in (self.layernorm1, self.layernorm2, self.layernorm3):
            norm.build(inputs_shape)

    def call(
        self,
        inputs,
        encoder_outputs,
        self_attention_mask=None,
        cross_attention_mask=None,
        use_causal_mask=True,
        training=None,
        return_attention_scores=False,
    ):
        attn1 = self.mha1(
            query=inputs,
            value=inputs,
            key=inputs,
            attention_mask=self_attention_mask,
            use_causal_mask=use_causal_mask,
            return_attention_scores=return_attention_scores,
            training=training,
        )
        attn1, block1 = attn1 if return_attention_scores else (attn1, None)
        out1 = self.layernorm1(self.dropout1(attn1, training=training) + inputs)

        attn2 = self.mha2(
            query=out1,
            value=encoder_outputs,
            key=encoder_outputs,
            attention_mask=cross_attention_mask,
            return_attention_scores=return_attention_scores,
            training=training,
        )
        attn2, block2 = attn2 if return_attention_scores else (attn2, None)
        out2 = self.layernorm2(self.dropout2(attn2, training=training) + out1)

        ffn = self.ffn_output(self.ffn_hidden(out2))
        out3 = self.layernorm3(self.dropout3(ffn, training=training) + out2)
        if return_attention_scores:
            return out3, block1, block2
        return out3

    def cross_attention_cache(self, encoder_outputs):
        """Keys and values of the cross-attention over an encoder output.

        They depend only on the encoder output, so incremental decoding
        computes them once per source sequence and hands them to every
        :meth:`decode_step`.

        Args:
            encoder_outputs: ``(batch, inp_len, d_model)``.

        Returns:
            a pair ``(key, value)``, each ``(batch, inp_len, heads, key_dim)``:
            the projections ``mha2`` computes inside :meth:`call`.
        """
        return self.mha2._key_dense(encoder_outputs), self.mha2._value_dense(encoder_outputs)

    def decode_step(
        self,
        inputs,
        position,
        self_attention_cache,
        cross_attention_cache,
        self_attention_mask,
        cross_attention_mask=None,
    ):
        """:meth:`call` for the one new position of an incremental decoding (inference).

        Only the new token is projected: its self-attention key and value are
        written into the cache at ``position`` (``keras.ops.slice_update``),
        and its query attends over the whole cache under
        ``self_attention_mask``, which must block the slots after ``position``
        (see :func:`cached_causal_padding_mask`). Blocked logits get the
        additive mask value, so their weights are exactly 0 and the output and
        weights equal row ``position`` of :meth:`call` on the ids so far with
        the causal mask, up to float rounding. Same sublayers and weights as
        :meth:`call`; dropout is off (``training=False``).

        Args:
            inputs: ``(batch, 1, d_model)``, the new position's input.
            position: int scalar tensor, its index in the cache.
            self_attention_cache: ``(key, value)``, each ``(batch, cache_len,
                heads, key_dim)``; slots before ``position`` hold the keys and
                values of the earlier positions.
            cross_attention_cache: :meth:`cross_attention_cache` of the
                encoder output.
            self_attention_mask: boolean keep-mask broadcastable to ``(batch,
                1, cache_len)``; required, since without it the query would
                also see the empty slots.
            cross_attention_mask: optional boolean keep-mask broadcastable to
                ``(batch, 1, inp_len)``, e.g. :func:`padding_mask` of the
                input ids.

        Returns:
            a tuple ``(outputs (batch, 1, d_model), (key, value) updated
            cache, self_attention_weights (batch, heads, 1, cache_len),
            cross_attention_weights (batch, heads, 1, inp_len))``.
        """
        key_cache, value_cache = self_attention_cache
        # (batch, position, head, depth): one new slot along the sequence axis.
        start = ops.concatenate(
            [ops.zeros((1,), "int32"), ops.reshape(ops.cast(position, "int32"), (1,)), ops.zeros((2,), "int32")]
        )
        key_cache = ops.slice_update(key_cache, start, self.mha1._key_dense(inputs))
        value_cache = ops.slice_update(value_cache, start, self.mha1._value_dense(inputs))
        # The attention core of `call` (the additive mask), on the cache instead of the full sequence.
        attn1, block1 = self.mha1._compute_attention(
            self.mha1._query_dense(inputs), key_cache, value_cache, self_attention_mask,
            return_attention_scores=True,
        )
        out1 = self.layernorm1(self.mha1._output_dense(attn1) + inputs)

        cross_key, cross_value = cross_attention_cache
        attn2, block2 = self.mha2._compute_attention(
            self.mha2._query_dense(out1), cross_key, cross_value, cross_attention_mask,
            return_attention_scores=True,
        )
        out2 = self.layernorm2(self.mha2._output_dense(attn2) + out1)

        ffn = self.ffn_output(self.ffn_hidden(out2))
        out3 = self.layernorm3(ffn + out2)
        return out3, (key_cache, value_cache), block1, block2


class _EmbeddingStack(keras.layers.Layer):
    """Shared part of the two stacks: embedding * sqrt(d_model) + positions."""

    def __init__(
        self, num_layers, d_model, num_heads, dff, vocab_size, maximum_position_encoding, rate, layer_norm_epsilon, **kwargs
    ):
        super().__init__(**kwargs)
        self.num_layers = int(num_layers)
        self.d_model, self.num_heads, self.dff, self.rate, self.layer_norm_epsilon = _sizes(
            d_model, num_heads, dff, rate, layer_norm_epsilon
        )
        self.maximum_position_encoding = int(maximum_position_encoding)
        self.embedding = keras.layers.Embedding(
            int(vocab_size), self.d_model, dtype=self.dtype_policy, name="embedding"
        )
        self.dropout = keras.layers.Dropout(self.rate, dtype=self.dtype_policy, name="dropout")
        # A constant, rebuilt from the config on load; never a weight.
        self._position_table = positional_encoding(self.maximum_position_encoding, self.d_model)

    def _embed(self, token_ids, training):
        seq_len = ops.shape(token_ids)[1]
        if isinstance(seq_len, int):
            if seq_len > self.maximum_position_encoding:
                raise ValueError(
                    f"{self.name}: sequence length {seq_len} exceeds maximum_position_encoding="
                    f"{self.maximum_position_encoding}"
                )
            positions = ops.convert_to_tensor(self._position_table[:seq_len], dtype=self.compute_dtype)
        else:
            # Symbolic length (a traced graph, or shape inference): gather the
            # rows, which keeps the dynamic dimension for broadcasting.
            table = ops.convert_to_tensor(self._position_table, dtype=self.compute_dtype)
            positions = ops.take(table, ops.arange(seq_len), axis=0)
        return self.dropout(self._scale_and_add_positions(token_ids, positions), training=training)

    def _embed_at(self, token_ids, position):
        """:meth:`_embed` of one token at a (tensor) position, without dropout (inference)."""
        table = ops.convert_to_tensor(self._position_table, dtype=self.compute_dtype)
        positions = ops.take(table, ops.reshape(ops.cast(position, "int32"), (1,)), axis=0)
        return self._scale_and_add_positions(token_ids, positions)

    def _scale_and_add_positions(self, token_ids, positions):
        x = self.embedding(token_ids)
        # sqrt in float32, as the tutorial's tf.math.sqrt(tf.cast(d_model, tf.float32)).
        x = x * ops.sqrt(ops.cast(self.d_model, x.dtype))
        return x + positions[None, :, :]

    def _blocks(self, block_class, prefix):
        """The stack's ``num_layers`` blocks, named ``{prefix}_0`` .. ``{prefix}_{N-1}``."""
        return [
            block_class(
                self.d_model,
                self.num_heads,
                self.dff,
                rate=self.rate,
                layer_norm_epsilon=self.layer_norm_epsilon,
                dtype=self.dtype_policy,
                name=f"{prefix}_{i}",
            )
            for i in range(self.num_layers)
        ]

    def get_config(self):
        config = super().get_config()
        config.update(_sizes_config(self))
        config.update({"num_layers": self.num_layers, "maximum_position_encoding": self.maximum_position_encoding})
        return config


@keras.saving.register_keras_serializable(package="modern")
class TransformerEncoder(_EmbeddingStack):
    """Token embedding plus sinusoidal positions, then ``num_layers`` encoder blocks.

    The tutorial's ``Encoder``: ``x = Embedding(ids) * sqrt(d_model) +
    PE[:seq_len]``, dropout, then :class:`TransformerEncoderLayer` blocks.

    Sublayers: ``embedding``, ``encoder_layer_0`` .. ``encoder_layer_{N-1}``
    (attribute ``encoder_layers``), ``dropout``.

    Args:
        num_layers: number of encoder blocks.
        d_model: model width.
        num_heads: attention heads.
        dff: feed-forward hidden width.
        input_vocab_size: vocabulary size of the embedding.
        maximum_position_encoding: rows of the position table (the longest
            input sequence).
        rate: dropout rate.
        layer_norm_epsilon: epsilon of the layer normalisations (1e-6).
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: int token ids ``(batch, seq_len)``.
        attention_mask: optional boolean keep-mask for the self-attention,
            broadcastable to ``(batch, seq_len, seq_len)``; typically
            :func:`padding_mask` of ``inputs``. ``None`` means no masking (as a
            tutorial call with ``mask=None``).
        training: Python bool, whether dropout is active.

    Returns:
        ``(batch, seq_len, d_model)``.
    """

    def __init__(
        self,
        num_layers,
        d_model,
        num_heads,
        dff,
        input_vocab_size,
        maximum_position_encoding,
        rate=0.1,
        layer_norm_epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(
            num_layers, d_model, num_heads, dff, input_vocab_size, maximum_position_encoding,
            rate, layer_norm_epsilon, **kwargs,
        )
        self.input_vocab_size = int(input_vocab_size)
        self.encoder_layers = self._blocks(TransformerEncoderLayer, "encoder_layer")

    def build(self, input_shape):
        input_shape = _tuple(input_shape)
        self.embedding.build(input_shape)
        for layer in self.encoder_layers:
            layer.build(input_shape + (self.d_model,))

    def call(self, inputs, attention_mask=None, training=None):
        x = self._embed(inputs, training)
        for layer in self.encoder_layers:
            x = layer(x, attention_mask=attention_mask, training=training)
        return x

    def compute_output_spec(self, inputs, attention_mask=None, training=None):
        # Declared rather than traced: tracing would run the position-table
        # length check on placeholder lengths (torch fills unknown dims with
        # arbitrary sizes when it traces).
        return keras.KerasTensor(tuple(inputs.shape) + (self.d_model,), dtype=self.compute_dtype)

    def get_config(self):
        config = super().get_config()
        config["input_vocab_size"] = self.input_vocab_size
        return config


@keras.saving.register_keras_serializable(package="modern")
class TransformerDecoder(_EmbeddingStack):
    """Target embedding plus positions, then ``num_layers`` decoder blocks.

    The tutorial's ``Decoder``. Sublayers: ``embedding``, ``decoder_layer_0``
    .. ``decoder_layer_{N-1}`` (attribute ``decoder_layers``), ``dropout``.

    Args:
        num_layers: number of decoder blocks.
        d_model: model width.
        num_heads: attention heads.
        dff: feed-forward hidden width.
        target_vocab_size: vocabulary size of the embedding.
        maximum_position_encoding: rows of the position table.
        rate: dropout rate.
        layer_norm_epsilon: epsilon of the layer normalisations (1e-6).
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: int target ids ``(batch, tar_len)``.
        encoder_outputs: ``(batch, inp_len, d_model)``.
        self_attention_mask: optional boolean keep-mask broadcastable to
            ``(batch, tar_len, tar_len)``, typically :func:`padding_mask` of
            ``inputs``.
        cross_attention_mask: optional boolean keep-mask broadcastable to
            ``(batch, tar_len, inp_len)``, typically :func:`padding_mask` of
            the encoder's ids.
        use_causal_mask: block later target positions (default ``True``); see
            :class:`TransformerDecoderLayer`.
        training: Python bool, whether dropout is active.
        return_attention_scores: also return the attention weights.

    Returns:
        ``(batch, tar_len, d_model)``; with ``return_attention_scores`` a tuple
        ``(outputs, attention_weights)`` where the dict has the tutorial's
        keys ``decoder_layer{i}_block1`` (self-attention) and
        ``decoder_layer{i}_block2`` (cross-attention), ``i`` counting from 1.
    """

    def __init__(
        self,
        num_layers,
        d_model,
        num_heads,
        dff,
        target_vocab_size,
        maximum_position_encoding,
        rate=0.1,
        layer_norm_epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(
            num_layers, d_model, num_heads, dff, target_vocab_size, maximum_position_encoding,
            rate, layer_norm_epsilon, **kwargs,
        )
        self.target_vocab_size = int(target_vocab_size)
        self.decoder_layers = self._blocks(TransformerDecoderLayer, "decoder_layer")

    def build(self, inputs_shape, encoder_outputs_shape):
        inputs_shape = _tuple(inputs_shape)
        self.embedding.build(inputs_shape)
        for layer in self.decoder_layers:
            layer.build(inputs_shape + (self.d_model,), encoder_outputs_shape)

    def call(
        self,
        inputs,
        encoder_outputs,
        self_attention_mask=None,
        cross_attention_mask=None,
        use_causal_mask=True,
        training=None,
        return_attention_scores=False,
    ):
        x = self._embed(inputs, training)
        attention_weights = {}
        for i, layer in enumerate(self.decoder_layers, start=1):
            x = layer(
                x,
                encoder_outputs,
                self_attention_mask=self_attention_mask,
                cross_attention_mask=cross_attention_mask,
                use_causal_mask=use_causal_mask,
                training=training,
                return_attention_scores=return_attention_scores,
            )
            if return_attention_scores:
                x, block1, block2 = x
                attention_weights[f"decoder_layer{i}_block1"] = block1
                attention_weights[f"decoder_layer{i}_block2"] = block2
        if return_attention_scores:
            return x, attention_weights
        return x

    def cross_attention_caches(self, encoder_outputs):
        """Every block's :meth:`TransformerDecoderLayer.cross_attention_cache`.

        Args:
            encoder_outputs: ``(batch, inp_len, d_model)``.

        Returns:
            a list with one ``(key, value)`` pair per block, each
            ``(batch, inp_len, heads, d_model // heads)``.
        """
        return [layer.cross_attention_cache(encoder_outputs) for layer in self.decoder_layers]

    def decode_step(
        self,
        token_ids,
        position,
        self_attention_caches,
        cross_attention_caches,
        self_attention_mask,
        cross_attention_mask=None,
    ):
        """:meth:`call` for one new target token, with per-block key/value caches (inference).

        The token is embedded as :meth:`call` embeds position ``position``
        (embedding times ``sqrt(d_model)`` plus that row of the position
        table), then goes through every block's
        :meth:`TransformerDecoderLayer.decode_step`. Run once per position
        ``0, 1, 2...`` with the caches it returns, this gives the rows of
        :meth:`call` on the whole target sequence (causal mask), each computed
        once instead of at every step.

        Args:
            token_ids: int ids ``(batch, 1)``, the token at ``position``.
            position: int scalar tensor.
            self_attention_caches: one ``(key, value)`` pair per block, each
                ``(batch, cache_len, heads, d_model // heads)``; start from
                zeros.
            cross_attention_caches: :meth:`cross_attention_caches` of the
                encoder output.
            self_attention_mask: boolean keep-mask ``(batch, 1, cache_len)``:
                :func:`cached_causal_padding_mask` of the ids decoded so far.
            cross_attention_mask: optional boolean keep-mask broadcastable to
                ``(batch, 1, inp_len)``, :func:`padding_mask` of the input ids.

        Returns:
            a tuple ``(outputs (batch, 1, d_model), updated caches (a list of
            pairs), attention_weights)``; the dict has the keys of
            :meth:`call`, with one query row per block:
            ``decoder_layer{i}_block1`` ``(batch, heads, 1, cache_len)`` and
            ``decoder_layer{i}_block2`` ``(batch, heads, 1, inp_len)``.
        """
        x = self._embed_at(token_ids, position)
        caches, attention_weights = [], {}
        blocks = zip(self.decoder_layers, self_attention_caches, cross_attention_caches)
        for i, (layer, cache, cross_cache) in enumerate(blocks, start=1):
            x, cache, block1, block2 = layer.decode_step(
                x, position, cache, cross_cache, self_attention_mask, cross_attention_mask
            )
            caches.append(cache)
            attention_weights[f"decoder_layer{i}_block1"] = block1
            attention_weights[f"decoder_layer{i}_block2"] = block2
        return x, caches, attention_weights

    def compute_output_spec(
        self,
        inputs,
        encoder_outputs,
        self_attention_mask=None,
        cross_attention_mask=None,
        use_causal_mask=True,
        training=None,
        return_attention_scores=False,
    ):
        # Declared rather than traced, as in TransformerEncoder.
        return _decoder_output_spec(
            inputs.shape, encoder_outputs.shape, self.d_model, self.num_heads, self.num_layers,
            self.compute_dtype, return_attention_scores,
        )

    def get_config(self):
        config = super().get_config()
        config["target_vocab_size"] = self.target_vocab_size
        return config


def _decoder_output_spec(tar_shape, enc_shape, d_model, num_heads, num_layers, dtype, return_attention_scores):
    """Output spec of :class:`TransformerDecoder` (and of the model's decoder half)."""
    batch, tar_len = tar_shape[0], tar_shape[1]
    outputs = keras.KerasTensor((batch, tar_len, d_model), dtype=dtype)
    if not return_attention_scores:
        return outputs
    weights = {}
    for i in range(1, num_layers + 1):
        weights[f"decoder_layer{i}_block1"] = keras.KerasTensor((batch, num_heads, tar_len, tar_len), dtype=dtype)
        weights[f"decoder_layer{i}_block2"] = keras.KerasTensor((batch, num_heads, tar_len, enc_shape[1]), dtype=dtype)
    return outputs, weights
