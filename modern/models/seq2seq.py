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

from modern.layers.attention_masks import cached_causal_padding_mask, padding_mask
from modern.layers.transformer_stacks import TransformerDecoder, TransformerEncoder

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
        self.d_model = int(d_model)
        self.num_heads = int(num_heads)
        self.dff = int(dff)
        self.rate = float(rate)
        self.layer_norm_epsilon = float(layer_norm_epsilon)
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
        logits = keras.KerasTensor(tuple(tar.shape) + (self.target_vocab_size,), dtype=self.compute_dtype)
        if not return_attention_scores:
            return logits
        encoded = keras.KerasTensor(tuple(inp.shape) + (self.d_model,), dtype=self.compute_dtype)
        _, attention_weights = self.decoder.compute_output_spec(tar, encoded, return_attention_scores=True)
        return logits, attention_weights

    def get_config(self):
        return {
            "name": self.name,
            "trainable": self.trainable,
            "dtype": keras.saving.serialize_keras_object(self.dtype_policy),
            "num_layers": self.num_layers,
            "d_model": self.d_model,
            "num_heads": self.num_heads,
            "dff": self.dff,
            "rate": self.rate,
            "layer_norm_epsilon": self.layer_norm_epsilon,
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


class _Probe(keras.Model):
    """A model that runs part of a wrapped :class:`Seq2SeqTransformer` through ``predict_on_batch``.

    It shares the wrapped model's variables, has none of its own and is never
    saved; each subclass names itself (``probe_name``) and defines ``call``.
    """

    probe_name = "probe"

    def __init__(self, transformer):
        super().__init__(name=self.probe_name)
        self.transformer = transformer
        # No state of its own: built, so that Keras does not run it once eagerly to build it.
        self.built = True


class _DecodeProbe(_Probe):
    """``(inp, tar) -> (logits, attention weights)`` of a wrapped model: one full call.

    Exists so that the uncached loop of :func:`greedy_decode` goes through
    ``predict_on_batch``, Keras' backend-agnostic compiled inference path,
    instead of op-by-op execution (slow on jax).
    """

    probe_name = "greedy_decode_probe"

    def call(self, inputs, training=False):
        inp, tar = inputs
        encoded = self.transformer.encode(inp, training=False)
        return self.transformer.decode(tar, encoded, inp, training=False, return_attention_scores=True)


class _EncodeProbe(_Probe):
    """``inp -> [(key, value) per decoder block]``: the part of decoding that never changes.

    Runs the encoder once and projects its output into every block's
    cross-attention keys and values
    (:meth:`TransformerDecoder.cross_attention_caches`).
    """

    probe_name = "greedy_decode_encode_probe"

    def call(self, inp, training=False):
        encoded = self.transformer.encode(inp, training=False)
        return self.transformer.decoder.cross_attention_caches(encoded)


class _DecodeLoopProbe(_Probe):
    """The whole cached greedy loop in one call: ``keras.ops.while_loop`` over decoding steps.

    One ``predict_on_batch`` runs every step (:meth:`TransformerDecoder.decode_step`)
    inside the compiled call, so the per-step costs of a Python loop (a
    ``predict_on_batch`` per token, the caches' round trips through NumPy)
    are paid once. The loop variables are the step index, the ids buffer,
    every block's self-attention key/value caches, every block's attention
    rows (written with ``keras.ops.slice_update``, one query row per step)
    and a ``done`` flag, set by the step that predicts ``end_id``.

    Call arguments:
        inputs: a dict with ``ids`` ``(1, max_length + 1)`` int32 (the start
            id first, zeros after it), ``end_id`` ``(1,)`` int32,
            ``encoder_input`` ``(1, inp_len)`` and ``cross_attention_caches``
            (:class:`_EncodeProbe`'s output).

    Returns:
        ``(ids (1, max_length + 1), steps (1,), attention_weights)``: the ids
        after ``steps`` predictions (zeros after them), and by the keys of
        :meth:`TransformerDecoder.call` the rows of every step, padded to
        ``decoder_layer{i}_block1`` ``(1, heads, max_length, max_length)``
        and ``decoder_layer{i}_block2`` ``(1, heads, max_length, inp_len)``
        (rows and columns from ``steps`` on are zeros).
    """

    probe_name = "greedy_decode_loop_probe"

    def call(self, inputs, training=False):
        decoder = self.transformer.decoder
        ids, encoder_input = inputs["ids"], inputs["encoder_input"]
        end_id = ops.reshape(ops.cast(inputs["end_id"], "int32"), ())
        cross_caches = inputs["cross_attention_caches"]
        cross_mask = padding_mask(encoder_input)
        # Static ints where the shapes are known, tensors where a retraced graph left them open.
        max_length = ops.shape(ids)[1] - 1
        inp_len = ops.shape(encoder_input)[1]
        heads = decoder.num_heads
        dtype = decoder.compute_dtype
        cache_shape = (1, max_length, heads, decoder.d_model // heads)
        self_caches = tuple((ops.zeros(cache_shape, dtype), ops.zeros(cache_shape, dtype)) for _ in cross_caches)
        block1 = tuple(ops.zeros((1, heads, max_length, max_length), dtype) for _ in cross_caches)
        block2 = tuple(ops.zeros((1, heads, max_length, inp_len), dtype) for _ in cross_caches)
        zero = ops.zeros((), "int32")

        def cond(step, ids, done, self_caches, block1, block2):
            return ops.logical_and(ops.less(step, max_length), ops.logical_not(done))

        def body(step, ids, done, self_caches, block1, block2):
            token = ops.take(ids, ops.reshape(step, (1,)), axis=1)
            # The ids so far at their positions; those after `step` are masked as future positions anyway.
            target_ids = ids[:, :-1]
            decoded, caches, attention = decoder.decode_step(
                token,
                step,
                self_caches,
                cross_caches,
                self_attention_mask=cached_causal_padding_mask(target_ids, step),
                cross_attention_mask=cross_mask,
            )
            logits = self.transformer.final_layer(decoded)[0, 0, :]
            predicted = ops.cast(ops.argmax(logits), "int32")
            ids = ops.slice_update(ids, ops.stack([zero, step + 1]), ops.reshape(predicted, (1, 1)))
            row = ops.stack([zero, zero, step, zero])
            block1 = tuple(
                ops.slice_update(buffer, row, ops.cast(attention[f"decoder_layer{i}_block1"], dtype))
                for i, buffer in enumerate(block1, start=1)
            )
            block2 = tuple(
                ops.slice_update(buffer, row, ops.cast(attention[f"decoder_layer{i}_block2"], dtype))
                for i, buffer in enumerate(block2, start=1)
            )
            return step + 1, ids, ops.equal(predicted, end_id), tuple(tuple(c) for c in caches), block1, block2

        step, ids, _, _, block1, block2 = ops.while_loop(
            cond, body, (zero, ops.cast(ids, "int32"), ops.convert_to_tensor(False), self_caches, block1, block2)
        )
        attention_weights = {}
        for i, (rows1, rows2) in enumerate(zip(block1, block2), start=1):
            attention_weights[f"decoder_layer{i}_block1"] = rows1
            attention_weights[f"decoder_layer{i}_block2"] = rows2
        return ids, ops.reshape(step, (1,)), attention_weights


class _ProbeHolder:
    """Keeps a model's probes on the model without Keras tracking or saving them.

    Keras tracks (and ``.keras`` files save) layers held directly or in
    lists/dicts; a plain object is neither. The model -> holder -> probe ->
    model cycle is freed with the model, unlike a module-level cache, whose
    entry would keep the model alive through the probe.
    """

    def __init__(self, model):
        self.full = _DecodeProbe(model)
        self.encode = _EncodeProbe(model)
        # The cached decoding, every step in one call.
        self.loop = _DecodeLoopProbe(model)


def _probes(model):
    holder = getattr(model, "_greedy_decode_probes", None)
    if not isinstance(holder, _ProbeHolder):
        holder = _ProbeHolder(model)
        model._greedy_decode_probes = holder
    return holder


def greedy_decode(model, encoder_input, start_id, end_id, max_length=20):
    """Greedy decoding on token ids: the tutorial ``Translator``'s loop.

    Starting from ``[start_id]``, run the model on the ids so far
    (``training=False``), append the argmax of the last position's logits, and
    stop once ``end_id`` has been predicted (it is kept) or after
    ``max_length`` predictions. As in the tutorial, the attention weights are
    those of a call on ``output[:, :-1]``, the decoder input that produced
    the final token.

    The tutorial re-ran the whole model on the whole prefix at every step.
    Here the encoder runs once, together with every decoder block's
    cross-attention keys and values; each step then runs only the newest
    token through the decoder (:meth:`TransformerDecoder.decode_step`),
    writing its self-attention key and value into per-block caches of
    ``max_length`` slots and attending over them with the tutorial's mask
    (earlier, non-padding positions only; blocked weights are exactly 0).
    That is the same computation, row by row, because position ``i`` of the
    tutorial's causal decoder depends on positions ``<= i`` only: logits and
    attention weights equal the tutorial's up to float rounding. Row ``j`` of
    the returned attention weights is the one computed at step ``j``, which
    replaces the tutorial's extra final call. The steps run in one compiled
    call (``keras.ops.while_loop`` inside one ``predict_on_batch``; one trace
    per decoding length), after one call for the encoder.

    When ``start_id`` is the padding id 0, the first position has no visible
    key and the tutorial spreads its attention uniformly over *every*
    position of the current length, later ones included, so earlier rows
    change as the output grows and nothing can be cached: the loop then
    re-runs the full model on the exact-length ids at every step, as the
    tutorial did.

    Args:
        model: a :class:`Seq2SeqTransformer` (its ``encode``, ``decode``,
            ``decoder`` and ``final_layer`` are used); built here if it is
            not yet.
        encoder_input: int ids ``(1, inp_len)`` or ``(inp_len,)``; batch size 1,
            like the tutorial.
        start_id: id the output starts with.
        end_id: id that stops the decoding.
        max_length: maximum number of predicted tokens; at most the decoder's
            ``maximum_position_encoding`` (``pe_target``).

    Returns:
        ``(ids, attention_weights)``: ``ids`` an int32 NumPy array ``(1, n)``
        with ``n <= max_length + 1`` (the start id first), and the attention
        weights of the decoder input ``ids[:, :-1]`` as NumPy arrays by the
        tutorial's keys ``decoder_layer{i}_block1`` ``(1, heads, n - 1, n - 1)``
        and ``decoder_layer{i}_block2`` ``(1, heads, n - 1, inp_len)``; the last
        layer's ``block2`` is the tutorial's attention plot.
    """
    encoder_input = np.asarray(ops.convert_to_numpy(encoder_input)).astype("int32")
    if encoder_input.ndim == 1:
        encoder_input = encoder_input[None, :]
    if encoder_input.ndim != 2 or encoder_input.shape[0] != 1:
        raise ValueError(f"greedy_decode works on one sequence (batch size 1), got shape {encoder_input.shape}")
    max_length = int(max_length)
    if max_length < 0:
        raise ValueError(f"greedy_decode needs max_length >= 0, got {max_length}")
    limit = model.decoder.maximum_position_encoding
    if max_length > limit:
        raise ValueError(
            f"greedy_decode: max_length={max_length} decoder positions exceed the decoder's "
            f"maximum_position_encoding={limit}; lower max_length or build the model with a larger pe_target"
        )
    if not model.built:
        model.build(((1, None), (1, None)))
    probes = _probes(model)
    if int(start_id) == 0 or max_length == 0:
        # Padding as the start id needs the exact-length loop; with no step to take, it returns
        # the start id and empty weights without tracing a loop over zero-length caches.
        return _decode_exact_length(probes.full, encoder_input, int(start_id), end_id, max_length)
    return _decode_cached(model, probes, encoder_input, int(start_id), end_id, max_length)


def _decode_cached(model, probes, encoder_input, start_id, end_id, max_length):
    """:func:`greedy_decode` with key/value caches (``start_id`` not padding, ``max_length`` > 0): one call."""
    cross_caches = probes.encode.predict_on_batch(encoder_input)
    ids = np.zeros((1, max_length + 1), "int32")
    ids[0, 0] = start_id
    ids, steps, attention = probes.loop.predict_on_batch(
        {
            "ids": ids,
            "end_id": np.asarray([_end_id(end_id, model.final_layer.units)], "int32"),
            "encoder_input": encoder_input,
            "cross_attention_caches": cross_caches,
        }
    )
    n = int(np.asarray(steps).reshape(-1)[0])
    attention_weights = {}
    for i in range(1, model.decoder.num_layers + 1):
        for block, keys in (("block1", n), ("block2", encoder_input.shape[1])):
            key = f"decoder_layer{i}_{block}"
            attention_weights[key] = np.asarray(attention[key])[:, :, :n, :keys]
    return np.asarray(ids, dtype="int32")[:, : n + 1], attention_weights


def _end_id(end_id, vocab_size):
    """``end_id`` as an int32 the loop compares predictions to: -1 when no prediction can equal it."""
    try:
        value = int(end_id)
    except (TypeError, ValueError):
        return -1
    # A prediction is an int in [0, vocab_size); anything else (None, 2.5, a huge int) never stops the loop.
    return value if value == end_id and 0 <= value < vocab_size else -1


def _decode_exact_length(probe, encoder_input, start_id, end_id, max_length):
    """:func:`greedy_decode` without caches: the tutorial's full call on the exact-length ids at every step."""
    output = np.asarray([[start_id]], dtype="int32")
    for _ in range(max_length):
        logits, _ = probe.predict_on_batch((encoder_input, output))
        predicted = int(np.argmax(np.asarray(logits)[0, -1]))
        output = np.concatenate([output, np.asarray([[predicted]], dtype="int32")], axis=1)
        if predicted == end_id:
            break
    _, attention = probe.predict_on_batch((encoder_input, output[:, :-1]))
    return output, {key: np.asarray(value) for key, value in attention.items()}
