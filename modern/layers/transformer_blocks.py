"""Encoder and decoder blocks of the 2021 tutorial Transformer (``EncoderLayer``, ``DecoderLayer``).

Post-norm blocks: attention (:class:`AdditiveMaskMultiHeadAttention`), then
the point-wise feed-forward network, each followed by dropout, a residual
connection and layer normalisation. ``training`` is a keyword argument (the
2021 code passed it positionally).
"""

from __future__ import annotations

import keras

from modern.layers.additive_mask_attention import AdditiveMaskMultiHeadAttention

__all__ = ["TransformerDecoderLayer", "TransformerEncoderLayer"]


def _tuple(shape):
    return tuple(None if d is None else int(d) for d in shape)


class _TransformerBlock(keras.layers.Layer):
    """Shared part of the encoder and decoder blocks: sizes, sublayer factories, config.

    The factories give the sublayers their stable names (the weight paths a
    port fills); the subclasses create them in the tutorial's order.
    """

    def __init__(self, d_model, num_heads, dff, rate, layer_norm_epsilon, **kwargs):
        super().__init__(**kwargs)
        if d_model % num_heads:
            raise ValueError(f"num_heads={num_heads} must divide d_model={d_model}")
        self.d_model = int(d_model)
        self.num_heads = int(num_heads)
        self.dff = int(dff)
        self.rate = float(rate)
        self.layer_norm_epsilon = float(layer_norm_epsilon)

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
        config.update(
            {
                "d_model": self.d_model,
                "num_heads": self.num_heads,
                "dff": self.dff,
                "rate": self.rate,
                "layer_norm_epsilon": self.layer_norm_epsilon,
            }
        )
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
        return self.mha2.key_dense(encoder_outputs), self.mha2.value_dense(encoder_outputs)

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
        # The attention of `call` (the additive mask), on the caches instead of the full sequences.
        attn1, block1, self_attention_cache = self.mha1(
            query=inputs,
            value=inputs,
            key=inputs,
            attention_mask=self_attention_mask,
            return_attention_scores=True,
            cache=self_attention_cache,
            cache_update_index=position,
        )
        out1 = self.layernorm1(attn1 + inputs)

        attn2, block2, _ = self.mha2(
            query=out1,
            value=None,
            attention_mask=cross_attention_mask,
            return_attention_scores=True,
            cache=cross_attention_cache,
        )
        out2 = self.layernorm2(attn2 + out1)

        ffn = self.ffn_output(self.ffn_hidden(out2))
        out3 = self.layernorm3(ffn + out2)
        return out3, self_attention_cache, block1, block2

