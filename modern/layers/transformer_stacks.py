"""Encoder and decoder stacks of the 2021 tutorial Transformer (``Encoder``, ``Decoder``).

Token embedding times ``sqrt(d_model)`` plus the tutorial's sinusoidal
position table, dropout, then ``num_layers`` blocks of
:mod:`modern.layers.transformer_blocks`. The position table is computed in
float64 NumPy and cast to float32 as the tutorial does, so it is
bit-identical; it is a constant rebuilt from the config, not a weight.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from modern.layers.transformer_blocks import TransformerDecoderLayer, TransformerEncoderLayer

__all__ = ["TransformerDecoder", "TransformerEncoder", "positional_encoding"]


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


def _tuple(shape):
    return tuple(None if d is None else int(d) for d in shape)



class _EmbeddingStack(keras.layers.Layer):
    """Shared part of the two stacks: embedding * sqrt(d_model) + positions."""

    def __init__(
        self, num_layers, d_model, num_heads, dff, vocab_size, maximum_position_encoding, rate, layer_norm_epsilon, **kwargs
    ):
        super().__init__(**kwargs)
        self.num_layers = int(num_layers)
        self.d_model = int(d_model)
        self.num_heads = int(num_heads)
        self.dff = int(dff)
        self.rate = float(rate)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
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
        config.update(
            {
                "num_layers": self.num_layers,
                "d_model": self.d_model,
                "num_heads": self.num_heads,
                "dff": self.dff,
                "rate": self.rate,
                "layer_norm_epsilon": self.layer_norm_epsilon,
                "maximum_position_encoding": self.maximum_position_encoding,
            }
        )
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
        batch, tar_len, inp_len = inputs.shape[0], inputs.shape[1], encoder_outputs.shape[1]
        outputs = keras.KerasTensor((batch, tar_len, self.d_model), dtype=self.compute_dtype)
        if not return_attention_scores:
            return outputs
        weights = {}
        for i in range(1, self.num_layers + 1):
            for block, keys in (("block1", tar_len), ("block2", inp_len)):
                shape = (batch, self.num_heads, tar_len, keys)
                weights[f"decoder_layer{i}_{block}"] = keras.KerasTensor(shape, dtype=self.compute_dtype)
        return outputs, weights

    def get_config(self):
        config = super().get_config()
        config["target_vocab_size"] = self.target_vocab_size
        return config

