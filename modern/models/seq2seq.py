"""The 2021 tutorial's sequence-to-sequence Transformer as a Keras 3 model.

:class:`Seq2SeqTransformer` is the tutorial's ``Transformer`` (encoder,
decoder, final ``Dense`` producing logits), and :func:`greedy_decode` its
``Translator`` loop on token ids. Both are numerically equal to the legacy
code given the same weights (see ``tests/modern/test_tutorial_transformer.py``);
legacy checkpoints load through :mod:`modern.weight_maps.tutorial`.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

from modern.layers.seq2seq import (
    TransformerDecoder,
    TransformerEncoder,
    _decoder_output_spec,
    _sizes,
    _sizes_config,
    padding_mask,
)

__all__ = ["Seq2SeqTransformer", "greedy_decode"]


@keras.saving.register_keras_serializable(package="modern")
class Seq2SeqTransformer(keras.Model):
    """Encoder-decoder Transformer of the 2021 TensorFlow tutorial.

    Masks are derived from the token ids inside the call, with 0 as the
    padding id, exactly as the tutorial's ``create_masks``: the encoder
    self-attention and the decoder cross-attention skip padded input tokens;
    the decoder self-attention is causal and skips padded target tokens.

    Sublayers (weight paths): ``encoder`` (:class:`TransformerEncoder`),
    ``decoder`` (:class:`TransformerDecoder`), ``final_layer``
    (``Dense(target_vocab_size)``).

    Args:
        num_layers: number of encoder and of decoder blocks.
        d_model: model width.
        num_heads: attention heads; must divide ``d_model``.
        dff: feed-forward hidden width.
        input_vocab_size: source vocabulary size.
        target_vocab_size: target vocabulary size (the logits' width).
        pe_input: longest source sequence (rows of the encoder's position
            table).
        pe_target: longest target sequence.
        rate: dropout rate.
        layer_norm_epsilon: epsilon of the layer normalisations (1e-6).
        **kwargs: standard model arguments (``name``, ``dtype``...).

    Call arguments:
        inputs: a pair ``(inp, tar)`` of int token ids ``(batch, inp_len)``
            and ``(batch, tar_len)``; 0 is padding.
        training: Python bool, whether dropout is active.
        return_attention_scores: also return the decoder's attention weights.

    Returns:
        logits ``(batch, tar_len, target_vocab_size)``; with
        ``return_attention_scores`` a tuple ``(logits, attention_weights)``,
        the dict keyed ``decoder_layer{i}_block1`` / ``decoder_layer{i}_block2``
        as in the tutorial (which always returned the pair).

    Example:

    >>> model = Seq2SeqTransformer(2, 16, 4, 32, 40, 45, 50, 50)
    >>> logits = model((np.ones((2, 9), "int32"), np.ones((2, 7), "int32")))
    >>> tuple(logits.shape)
    (2, 7, 45)
    """

    def __init__(
        self,
        num_layers,
        d_model,
        num_heads,
        dff,
        input_vocab_size,
        target_vocab_size,
        pe_input,
        pe_target,
        rate=0.1,
        layer_norm_epsilon=1e-6,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.num_layers = int(num_layers)
        self.d_model, self.num_heads, self.dff, self.rate, self.layer_norm_epsilon = _sizes(
            d_model, num_heads, dff, rate, layer_norm_epsilon
        )
        self.input_vocab_size = int(input_vocab_size)
        self.target_vocab_size = int(target_vocab_size)
        self.pe_input = int(pe_input)
        self.pe_target = int(pe_target)

        # Both stacks share the model's sizes; they differ in vocabulary and position table.
        shared = {"rate": self.rate, "layer_norm_epsilon": self.layer_norm_epsilon, "dtype": self.dtype_policy}
        stack = (self.num_layers, self.d_model, self.num_heads, self.dff)
        self.encoder = TransformerEncoder(*stack, self.input_vocab_size, self.pe_input, name="encoder", **shared)
        self.decoder = TransformerDecoder(*stack, self.target_vocab_size, self.pe_target, name="decoder", **shared)
        self.final_layer = keras.layers.Dense(self.target_vocab_size, dtype=self.dtype_policy, name="final_layer")

    def build(self, input_shape):
        inp_shape, tar_shape = (tuple(s) for s in input_shape)
        self.encoder.build(inp_shape)
        self.decoder.build(tar_shape, inp_shape + (self.d_model,))
        self.final_layer.build(tar_shape + (self.d_model,))

    def encode(self, inp, training=None):
        """Run the encoder on source ids with their padding mask.

        Args:
            inp: int ids ``(batch, inp_len)``.
            training: Python bool, whether dropout is active.

        Returns:
            ``(batch, inp_len, d_model)``.
        """
        return self.encoder(inp, attention_mask=padding_mask(inp), training=training)

    def decode(self, tar, encoder_outputs, inp, training=None, return_attention_scores=False):
        """Run the decoder and the final layer on target ids.

        Args:
            tar: int target ids ``(batch, tar_len)``.
            encoder_outputs: :meth:`encode` of ``inp``.
            inp: the source ids (for the cross-attention padding mask).
            training: Python bool, whether dropout is active.
            return_attention_scores: also return the attention weights dict.

        Returns:
            logits, or ``(logits, attention_weights)``.
        """
        decoded = self.decoder(
            tar,
            encoder_outputs,
            self_attention_mask=padding_mask(tar),
            cross_attention_mask=padding_mask(inp),
            use_causal_mask=True,
            training=training,
            return_attention_scores=return_attention_scores,
        )
        if return_attention_scores:
            decoded, attention_weights = decoded
            return self.final_layer(decoded), attention_weights
        return self.final_layer(decoded)

    def call(self, inputs, training=None, return_attention_scores=False):
        inp, tar = inputs
        encoded = self.encode(inp, training=training)
        return self.decode(tar, encoded, inp, training=training, return_attention_scores=return_attention_scores)

    def compute_output_spec(self, inputs, training=None, return_attention_scores=False):
        # Declared rather than traced (see TransformerEncoder.compute_output_spec).
        inp, tar = inputs
        spec = _decoder_output_spec(
            tar.shape, inp.shape, self.d_model, self.num_heads, self.num_layers, self.compute_dtype,
            return_attention_scores,
        )
        logits_shape = tuple(tar.shape) + (self.target_vocab_size,)
        if return_attention_scores:
            return keras.KerasTensor(logits_shape, dtype=self.compute_dtype), spec[1]
        return keras.KerasTensor(logits_shape, dtype=self.compute_dtype)

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            "num_layers": self.num_layers,
            **_sizes_config(self),
            "input_vocab_size": self.input_vocab_size,
            "target_vocab_size": self.target_vocab_size,
            "pe_input": self.pe_input,
            "pe_target": self.pe_target,
        }

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        if isinstance(config.get("dtype"), dict):
            config["dtype"] = keras.saving.deserialize_keras_object(config["dtype"])
        return cls(**config)


class _DecodeProbe(keras.Model):
    """``(inp, tar) -> (logits, attention weights)`` of a wrapped model.

    Exists so that :func:`greedy_decode` can go through ``predict_on_batch``,
    Keras' backend-agnostic compiled inference path (one trace per shape
    instead of op-by-op execution, which is slow on jax). It shares the wrapped
    model's variables and is never saved.
    """

    def __init__(self, transformer):
        super().__init__(name="greedy_decode_probe")
        self.transformer = transformer

    def call(self, inputs, training=False):
        inp, tar = inputs
        encoded = self.transformer.encode(inp, training=False)
        return self.transformer.decode(tar, encoded, inp, training=False, return_attention_scores=True)


class _ProbeHolder:
    """Keeps a model's probe on the model without Keras tracking or saving it.

    Keras tracks (and ``.keras`` files save) layers held directly or in
    lists/dicts; a plain object is neither. The model -> holder -> probe ->
    model cycle is freed with the model, unlike a module-level cache, whose
    entry would keep the model alive through the probe.
    """

    def __init__(self, probe):
        self.probe = probe


def _probe(model):
    holder = getattr(model, "_greedy_decode_probe", None)
    if not isinstance(holder, _ProbeHolder):
        holder = _ProbeHolder(_DecodeProbe(model))
        model._greedy_decode_probe = holder
    return holder.probe


def greedy_decode(model, encoder_input, start_id, end_id, max_length=20):
    """Greedy decoding on token ids: the tutorial ``Translator``'s loop.

    Starting from ``[start_id]``, run the model on the ids so far
    (``training=False``), append the argmax of the last position's logits, and
    stop once ``end_id`` has been predicted (it is kept) or after
    ``max_length`` predictions. As in the tutorial, the attention weights are
    those of the call on ``output[:, :-1]``, the decoder input that produced
    the final token.

    The decoder input has a fixed length ``max_length + 1``, zero-padded after
    the ids so far, so every step has the same shapes and runs compiled
    (``predict_on_batch``: one trace for the whole loop). Position ``i`` only
    sees positions ``<= i`` (causal mask) and the padding is masked with
    weights that are exactly 0, so logits and attention weights are the
    tutorial's exact-length ones up to float rounding. When ``start_id`` is
    the padding id 0 the padding would change what the first position attends
    to, so the loop then runs on exact-length ids, as the tutorial did.

    Args:
        model: a :class:`Seq2SeqTransformer` (anything with its ``encode`` /
            ``decode`` methods).
        encoder_input: int ids ``(1, inp_len)`` or ``(inp_len,)``; batch size 1,
            like the tutorial.
        start_id: id the output starts with.
        end_id: id that stops the decoding.
        max_length: maximum number of predicted tokens.

    Returns:
        ``(ids, attention_weights)``: ``ids`` an int32 NumPy array ``(1, n)``
        with ``n <= max_length + 1`` (the start id first), and the attention
        weights of the final call as NumPy arrays by the tutorial's keys
        ``decoder_layer{i}_block1`` ``(1, heads, n - 1, n - 1)`` and
        ``decoder_layer{i}_block2`` ``(1, heads, n - 1, inp_len)``; the last
        layer's ``block2`` is the tutorial's attention plot.
    """
    encoder_input = np.asarray(ops.convert_to_numpy(encoder_input)).astype("int32")
    if encoder_input.ndim == 1:
        encoder_input = encoder_input[None, :]
    if encoder_input.ndim != 2 or encoder_input.shape[0] != 1:
        raise ValueError(f"greedy_decode works on one sequence (batch size 1), got shape {encoder_input.shape}")
    max_length = int(max_length)
    probe = _probe(model)
    fixed_shape = int(start_id) != 0

    def run(ids):
        padded = ids if not fixed_shape else np.pad(ids, ((0, 0), (0, max_length + 1 - ids.shape[1])))
        logits, attention = probe.predict_on_batch((encoder_input, padded))
        return np.asarray(logits), attention

    output = np.asarray([[int(start_id)]], dtype="int32")
    for _ in range(max_length):
        logits, _ = run(output)
        predicted = int(np.argmax(logits[0, output.shape[1] - 1]))
        output = np.concatenate([output, np.asarray([[predicted]], dtype="int32")], axis=1)
        if predicted == end_id:
            break

    n = output.shape[1] - 1
    _, attention = run(output[:, :-1])
    attention = {
        key: np.asarray(value)[:, :, :n, :n] if key.endswith("_block1") else np.asarray(value)[:, :, :n, :]
        for key, value in attention.items()
    }
    return output, attention
