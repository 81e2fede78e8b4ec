"""The 2021 TensorFlow tutorial "Transformer model for language understanding".

This module is the *legacy reference* for the tutorial's subclassed Transformer:
it reproduces the 2021 tf.keras code's structure, attribute names, call
conventions and numerics, running on ``tf_keras`` (the Keras 2 API) so that it
still works on TensorFlow 2.16+ where ``tf.keras`` is Keras 3. It never imports
``keras`` and never sets ``TF_USE_LEGACY_KERAS``.

Why the details matter:

* **Attribute names are checkpoint keys.** A ``tf.train.Checkpoint`` names every
  variable by the attribute path that reaches it from the saved root, e.g.
  ``transformer/encoder/enc_layers/0/mha/wq/kernel/.ATTRIBUTES/VARIABLE_VALUE``.
  ``enc_layers``/``dec_layers`` are plain Python lists (tracked as list
  wrappers, hence the ``/0/``), and the feed-forward block is a ``Sequential``
  whose Dense layers appear as ``ffn/layer_with_weights-0`` and
  ``ffn/layer_with_weights-1``.
* **Positional ``training`` and ``mask``.** The 2021 code calls its sublayers as
  ``layer(x, training, mask)``; Keras 2 accepted that, Keras 3 does not in the
  same way. It is kept verbatim here because that is what the codemod rewrites.
* **Masks are additive.** A mask holds 1.0 where attention must be *blocked*
  (the opposite of Keras 3's boolean "keep" masks); it is multiplied by -1e9 and
  added to the logits before the softmax, so blocked weights are ~0, not exactly 0
  unless they underflow (they do in float32: exp(-1e9) == 0).
* **The Noam schedule needs a float step.** ``CustomSchedule.__call__`` applies
  ``tf.math.rsqrt`` to the step; with an integer step (what Keras 3 optimizers
  and the new tf_keras optimizers pass) it raises. The 2021 optimizer (now
  ``tf_keras.optimizers.legacy.Adam``) passes ``float(iterations)``, and since
  ``iterations`` is 0 on the first update, the very first step has a learning
  rate of exactly 0 (Adam's moments still update).

Everything below the "helpers" banner is not tutorial code: small utilities the
golden and artefact producers (and the tests) share.
"""

from __future__ import annotations

import os
import tempfile
from collections import deque
from typing import Any, Callable

import numpy as np
import tensorflow as tf
import tf_keras

__all__ = [
    "get_angles",
    "positional_encoding",
    "create_padding_mask",
    "create_look_ahead_mask",
    "create_masks",
    "scaled_dot_product_attention",
    "MultiHeadAttention",
    "point_wise_feed_forward_network",
    "EncoderLayer",
    "DecoderLayer",
    "Encoder",
    "Decoder",
    "Transformer",
    "CustomSchedule",
    "loss_function",
    "accuracy_function",
    "make_optimizer",
    "make_train_step",
    "make_checkpoint_manager",
    "greedy_decode",
    "named_variables",
    "checkpoint_keys",
    "variable_checkpoint_name",
]


# ---------------------------------------------------------------------------
# Positional encoding and masks
# ---------------------------------------------------------------------------


def get_angles(pos: np.ndarray, i: np.ndarray, d_model: int) -> np.ndarray:
    """Angle ``pos / 10000^(2*(i//2)/d_model)`` for every (position, depth) pair.

    Depth indices ``2k`` and ``2k+1`` share one rate, so that the sine (even
    index) and cosine (odd index) of a pair rotate at the same frequency. The
    2021 code divides by ``np.float32(d_model)``; numpy promotes the integer
    numerator with it to float64, so the table is computed in float64 and only
    cast to float32 at the end -- the same here.
    """
    exponent = (2 * (i // 2)) / np.float32(d_model)
    return pos * (1.0 / np.power(10000, exponent))


def positional_encoding(position: int, d_model: int) -> tf.Tensor:
    """Sinusoidal position table of shape ``(1, position, d_model)``, float32.

    ``PE[p, 2k] = sin(p / 10000^(2k/d_model))`` and
    ``PE[p, 2k+1] = cos(p / 10000^(2k/d_model))``. The leading axis of size 1
    lets ``Encoder``/``Decoder`` add ``pos_encoding[:, :seq_len, :]`` to a batch.
    """
    angles = get_angles(
        np.arange(position)[:, np.newaxis], np.arange(d_model)[np.newaxis, :], d_model
    )
    table = np.empty_like(angles)
    table[:, 0::2] = np.sin(angles[:, 0::2])
    table[:, 1::2] = np.cos(angles[:, 1::2])
    return tf.cast(table[np.newaxis, ...], dtype=tf.float32)


def create_padding_mask(seq: tf.Tensor) -> tf.Tensor:
    """1.0 where ``seq`` holds the pad id 0, else 0.0; shape ``(batch, 1, 1, seq_len)``.

    The two inserted axes broadcast the mask over heads and query positions
    when it is added to attention logits of shape ``(batch, heads, q, k)``.
    """
    is_pad = tf.cast(tf.math.equal(seq, 0), tf.float32)
    return is_pad[:, tf.newaxis, tf.newaxis, :]


def create_look_ahead_mask(size: Any) -> tf.Tensor:
    """``(size, size)`` float mask with 1.0 strictly above the diagonal.

    Row ``i`` (a query position) blocks keys ``j > i``: a position may attend to
    itself and the past only. Built as ``1 - lower_triangular(ones)``.
    """
    lower = tf.linalg.band_part(tf.ones((size, size)), -1, 0)
    return 1 - lower


def create_masks(inp: tf.Tensor, tar: tf.Tensor) -> tuple[tf.Tensor, tf.Tensor, tf.Tensor]:
    """The three masks of one Transformer call, as the 2021 ``create_masks``.

    Returns ``(enc_padding_mask, look_ahead_mask, dec_padding_mask)``:

    * ``enc_padding_mask`` ``(batch, 1, 1, inp_len)``: encoder self-attention.
    * ``look_ahead_mask`` ``(batch, 1, tar_len, tar_len)``: decoder
      self-attention; the element-wise maximum of the target's padding mask and
      the look-ahead mask, so a position is blocked if it is in the future *or*
      is padding.
    * ``dec_padding_mask`` ``(batch, 1, 1, inp_len)``: decoder cross-attention
      over the encoder output; the same values as ``enc_padding_mask``.
    """
    enc_padding_mask = create_padding_mask(inp)
    dec_padding_mask = create_padding_mask(inp)
    look_ahead = create_look_ahead_mask(tf.shape(tar)[1])
    dec_target_padding_mask = create_padding_mask(tar)
    combined = tf.maximum(dec_target_padding_mask, look_ahead)
    return enc_padding_mask, combined, dec_padding_mask


# ---------------------------------------------------------------------------
# Attention
# ---------------------------------------------------------------------------


def scaled_dot_product_attention(
    q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, mask: tf.Tensor | None
) -> tuple[tf.Tensor, tf.Tensor]:
    """``softmax(q k^T / sqrt(d_k) + mask * -1e9) v``.

    Args:
        q: ``(..., seq_len_q, depth)``.
        k: ``(..., seq_len_k, depth)``.
        v: ``(..., seq_len_k, depth_v)``.
        mask: float, broadcastable to ``(..., seq_len_q, seq_len_k)``, 1.0 where
            a key is blocked; or ``None``.

    Returns:
        ``(output (..., seq_len_q, depth_v), weights (..., seq_len_q, seq_len_k))``.
    """
    logits = tf.matmul(q, k, transpose_b=True)
    depth = tf.cast(tf.shape(k)[-1], tf.float32)
    logits = logits / tf.math.sqrt(depth)
    if mask is not None:
        # Additive masking: -1e9 rather than -inf, so a fully masked row yields
        # a uniform distribution instead of NaN.
        logits += mask * -1e9
    weights = tf.nn.softmax(logits, axis=-1)
    return tf.matmul(weights, v), weights


class MultiHeadAttention(tf_keras.layers.Layer):
    """The tutorial's multi-head attention (not ``tf_keras.layers.MultiHeadAttention``).

    Four ``Dense(d_model)`` projections: ``wq``, ``wk``, ``wv`` for the inputs
    and ``dense`` for the concatenated heads. Head ``h`` uses columns
    ``h*depth:(h+1)*depth`` of each input projection, ``depth = d_model //
    num_heads`` -- the fact a weight port needs to reshape kernels
    ``(d_model, d_model) -> (d_model, heads, depth)``.

    Call arguments (note the order, *value first*): ``v``, ``k``, ``q``
    ``(batch, len, features)`` and ``mask`` (additive, or ``None``).

    Returns:
        ``(output (batch, q_len, d_model), weights (batch, heads, q_len, k_len))``.
    """

    def __init__(self, d_model: int, num_heads: int) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.d_model = d_model
        assert d_model % self.num_heads == 0
        self.depth = d_model // self.num_heads

        self.wq = tf_keras.layers.Dense(d_model)
        self.wk = tf_keras.layers.Dense(d_model)
        self.wv = tf_keras.layers.Dense(d_model)
        self.dense = tf_keras.layers.Dense(d_model)

    def split_heads(self, x: tf.Tensor, batch_size: tf.Tensor) -> tf.Tensor:
        """``(batch, len, d_model) -> (batch, heads, len, depth)``."""
        x = tf.reshape(x, (batch_size, -1, self.num_heads, self.depth))
        return tf.transpose(x, perm=[0, 2, 1, 3])

    def call(self, v, k, q, mask):  # noqa: D102 - documented on the class
        batch_size = tf.shape(q)[0]

        q = self.split_heads(self.wq(q), batch_size)
        k = self.split_heads(self.wk(k), batch_size)
        v = self.split_heads(self.wv(v), batch_size)

        attended, weights = scaled_dot_product_attention(q, k, v, mask)

        # Back to (batch, q_len, heads, depth), then heads side by side.
        attended = tf.transpose(attended, perm=[0, 2, 1, 3])
        concat = tf.reshape(attended, (batch_size, -1, self.d_model))
        return self.dense(concat), weights


def point_wise_feed_forward_network(d_model: int, dff: int) -> tf_keras.Sequential:
    """``Dense(dff, relu)`` then ``Dense(d_model)``, applied at every position.

    A ``Sequential``, so its checkpoint keys are ``layer_with_weights-0/...`` and
    ``layer_with_weights-1/...`` rather than layer names.
    """
    return tf_keras.Sequential(
        [
            tf_keras.layers.Dense(dff, activation="relu"),
            tf_keras.layers.Dense(d_model),
        ]
    )


# ---------------------------------------------------------------------------
# Encoder / decoder layers and stacks
# ---------------------------------------------------------------------------


class EncoderLayer(tf_keras.layers.Layer):
    """Post-norm encoder block: ``LN(x + MHA(x))`` then ``LN(out1 + FFN(out1))``.

    Attributes (checkpoint keys): ``mha``, ``ffn``, ``layernorm1``,
    ``layernorm2`` (``epsilon=1e-6``, not Keras's default 1e-3), ``dropout1``,
    ``dropout2``.

    Call arguments: ``x`` ``(batch, len, d_model)``, ``training`` (positional in
    the 2021 code), ``mask`` (additive padding mask or ``None``).
    """

    def __init__(self, d_model: int, num_heads: int, dff: int, rate: float = 0.1) -> None:
        super().__init__()
        self.mha = MultiHeadAttention(d_model, num_heads)
        self.ffn = point_wise_feed_forward_network(d_model, dff)

        self.layernorm1 = tf_keras.layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = tf_keras.layers.LayerNormalization(epsilon=1e-6)

        self.dropout1 = tf_keras.layers.Dropout(rate)
        self.dropout2 = tf_keras.layers.Dropout(rate)

    def call(self, x, training, mask):  # noqa: D102
        attn_output, _ = self.mha(x, x, x, mask)
        attn_output = self.dropout1(attn_output, training=training)
        out1 = self.layernorm1(x + attn_output)

        ffn_output = self.dropout2(self.ffn(out1), training=training)
        return self.layernorm2(out1 + ffn_output)


class DecoderLayer(tf_keras.layers.Layer):
    """Post-norm decoder block: masked self-attention, cross-attention, FFN.

    Attributes: ``mha1`` (self-attention), ``mha2`` (queries from the decoder,
    keys/values from the encoder output), ``ffn``, ``layernorm1..3``
    (``epsilon=1e-6``), ``dropout1..3``.

    Call arguments: ``x`` ``(batch, tar_len, d_model)``, ``enc_output``
    ``(batch, inp_len, d_model)``, ``training``, ``look_ahead_mask``,
    ``padding_mask`` -- all positional in the 2021 code.

    Returns:
        ``(out, block1_weights (batch, heads, tar, tar), block2_weights (batch, heads, tar, inp))``.
    """

    def __init__(self, d_model: int, num_heads: int, dff: int, rate: float = 0.1) -> None:
        super().__init__()
        self.mha1 = MultiHeadAttention(d_model, num_heads)
        self.mha2 = MultiHeadAttention(d_model, num_heads)

        self.ffn = point_wise_feed_forward_network(d_model, dff)

        self.layernorm1 = tf_keras.layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = tf_keras.layers.LayerNormalization(epsilon=1e-6)
        self.layernorm3 = tf_keras.layers.LayerNormalization(epsilon=1e-6)

        self.dropout1 = tf_keras.layers.Dropout(rate)
        self.dropout2 = tf_keras.layers.Dropout(rate)
        self.dropout3 = tf_keras.layers.Dropout(rate)

    def call(self, x, enc_output, training, look_ahead_mask, padding_mask):  # noqa: D102
        attn1, weights_block1 = self.mha1(x, x, x, look_ahead_mask)
        attn1 = self.dropout1(attn1, training=training)
        out1 = self.layernorm1(attn1 + x)

        # Argument order is (v, k, q): values and keys come from the encoder.
        attn2, weights_block2 = self.mha2(enc_output, enc_output, out1, padding_mask)
        attn2 = self.dropout2(attn2, training=training)
        out2 = self.layernorm2(attn2 + out1)

        ffn_output = self.dropout3(self.ffn(out2), training=training)
        out3 = self.layernorm3(ffn_output + out2)
        return out3, weights_block1, weights_block2


class Encoder(tf_keras.layers.Layer):
    """Token embedding, scaled by ``sqrt(d_model)``, plus positions, then N blocks.

    Attributes: ``embedding`` (``Embedding(input_vocab_size, d_model)``),
    ``pos_encoding`` (a constant, not a variable: absent from checkpoints),
    ``enc_layers`` (a Python list of ``EncoderLayer``), ``dropout``.

    Call arguments: ``x`` int token ids ``(batch, len)``, ``training``, ``mask``.
    ``len`` must not exceed ``maximum_position_encoding``.
    """

    def __init__(
        self,
        num_layers: int,
        d_model: int,
        num_heads: int,
        dff: int,
        input_vocab_size: int,
        maximum_position_encoding: int,
        rate: float = 0.1,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.num_layers = num_layers

        self.embedding = tf_keras.layers.Embedding(input_vocab_size, d_model)
        self.pos_encoding = positional_encoding(maximum_position_encoding, self.d_model)

        self.enc_layers = [EncoderLayer(d_model, num_heads, dff, rate) for _ in range(num_layers)]
        self.dropout = tf_keras.layers.Dropout(rate)

    def call(self, x, training, mask):  # noqa: D102
        seq_len = tf.shape(x)[1]

        x = self.embedding(x)
        x *= tf.math.sqrt(tf.cast(self.d_model, tf.float32))
        x += self.pos_encoding[:, :seq_len, :]

        x = self.dropout(x, training=training)
        for i in range(self.num_layers):
            x = self.enc_layers[i](x, training, mask)
        return x


class Decoder(tf_keras.layers.Layer):
    """Target embedding plus positions, then N ``DecoderLayer`` blocks.

    Attributes: ``embedding``, ``pos_encoding``, ``dec_layers`` (a Python list),
    ``dropout``.

    Call arguments: ``x`` int ids ``(batch, tar_len)``, ``enc_output``,
    ``training``, ``look_ahead_mask``, ``padding_mask``.

    Returns:
        ``(x (batch, tar_len, d_model), attention_weights)`` where the dict has
        keys ``decoder_layer{i}_block1`` / ``decoder_layer{i}_block2``, ``i``
        counting from 1.
    """

    def __init__(
        self,
        num_layers: int,
        d_model: int,
        num_heads: int,
        dff: int,
        target_vocab_size: int,
        maximum_position_encoding: int,
        rate: float = 0.1,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.num_layers = num_layers

        self.embedding = tf_keras.layers.Embedding(target_vocab_size, d_model)
        self.pos_encoding = positional_encoding(maximum_position_encoding, d_model)

        self.dec_layers = [DecoderLayer(d_model, num_heads, dff, rate) for _ in range(num_layers)]
        self.dropout = tf_keras.layers.Dropout(rate)

    def call(self, x, enc_output, training, look_ahead_mask, padding_mask):  # noqa: D102
        seq_len = tf.shape(x)[1]
        attention_weights: dict[str, tf.Tensor] = {}

        x = self.embedding(x)
        x *= tf.math.sqrt(tf.cast(self.d_model, tf.float32))
        x += self.pos_encoding[:, :seq_len, :]

        x = self.dropout(x, training=training)
        for i in range(self.num_layers):
            x, block1, block2 = self.dec_layers[i](
                x, enc_output, training, look_ahead_mask, padding_mask
            )
            attention_weights[f"decoder_layer{i + 1}_block1"] = block1
            attention_weights[f"decoder_layer{i + 1}_block2"] = block2
        return x, attention_weights


class Transformer(tf_keras.Model):
    """Encoder, decoder and a final ``Dense(target_vocab_size)`` producing logits.

    Attributes: ``encoder``, ``decoder``, ``final_layer``. Saved under
    ``transformer=`` in a ``tf.train.Checkpoint``, its variables are
    ``transformer/encoder/...``, ``transformer/decoder/...`` and
    ``transformer/final_layer/{kernel,bias}``.

    Call arguments: ``inputs = [inp, tar]`` (int ids, 0 is padding) and
    ``training``. The three masks are derived from the ids inside the call.

    Returns:
        ``(logits (batch, tar_len, target_vocab_size), attention_weights)``.
    """

    def __init__(
        self,
        num_layers: int,
        d_model: int,
        num_heads: int,
        dff: int,
        input_vocab_size: int,
        target_vocab_size: int,
        pe_input: int,
        pe_target: int,
        rate: float = 0.1,
    ) -> None:
        super().__init__()
        self.encoder = Encoder(num_layers, d_model, num_heads, dff, input_vocab_size, pe_input, rate)
        self.decoder = Decoder(num_layers, d_model, num_heads, dff, target_vocab_size, pe_target, rate)
        self.final_layer = tf_keras.layers.Dense(target_vocab_size)

    def call(self, inputs, training):  # noqa: D102
        # Keras models prefer every input in the first argument, hence the pair.
        inp, tar = inputs
        enc_padding_mask, look_ahead_mask, dec_padding_mask = self.create_masks(inp, tar)

        enc_output = self.encoder(inp, training, enc_padding_mask)
        dec_output, attention_weights = self.decoder(
            tar, enc_output, training, look_ahead_mask, dec_padding_mask
        )
        return self.final_layer(dec_output), attention_weights

    def create_masks(self, inp, tar):
        """The 2021 code's mask builder (a method there); see :func:`create_masks`."""
        return create_masks(inp, tar)


# ---------------------------------------------------------------------------
# Optimisation
# ---------------------------------------------------------------------------


class CustomSchedule(tf_keras.optimizers.schedules.LearningRateSchedule):
    """Noam schedule: ``d_model^-0.5 * min(step^-0.5, step * warmup_steps^-1.5)``.

    Rises linearly for ``warmup_steps`` steps, peaks at ``step == warmup_steps``
    with ``(d_model * warmup_steps)^-0.5``, then decays as ``step^-0.5``. At
    step 0 it is ``min(inf, 0) == 0``.

    2021 behaviour kept on purpose: ``step`` must be a floating tensor. With an
    integer step ``tf.math.rsqrt`` raises ``InvalidArgumentError`` (Rsqrt has no
    int64 kernel). The optimizer of the time passed ``float(iterations)``; the
    codemod casts the step for Keras 3.

    ``self.d_model`` is the float32 *tensor* of ``d_model`` (the 2021 code
    overwrote the int with its cast); the int is kept for ``get_config``.
    """

    def __init__(self, d_model: int, warmup_steps: int = 4000) -> None:
        super().__init__()
        self._d_model_arg = d_model
        self.d_model = tf.cast(d_model, tf.float32)
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        arg1 = tf.math.rsqrt(step)
        arg2 = step * (self.warmup_steps**-1.5)
        return tf.math.rsqrt(self.d_model) * tf.math.minimum(arg1, arg2)

    def get_config(self) -> dict[str, Any]:
        # Not in the 2021 code (which could therefore not be serialised);
        # added so the schedule can be rebuilt from its arguments.
        return {"d_model": int(self._d_model_arg), "warmup_steps": self.warmup_steps}


# Module-level as in the tutorial: per-token losses, masked and averaged below.
loss_object = tf_keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction="none")


def loss_function(real: tf.Tensor, pred: tf.Tensor) -> tf.Tensor:
    """Mean cross-entropy over the non-padding positions (``real != 0``).

    The sum of masked per-token losses divided by the number of real tokens,
    i.e. every token weighs the same regardless of its sentence's length.
    """
    mask = tf.math.logical_not(tf.math.equal(real, 0))
    per_token = loss_object(real, pred)
    mask = tf.cast(mask, dtype=per_token.dtype)
    per_token *= mask
    return tf.reduce_sum(per_token) / tf.reduce_sum(mask)


def accuracy_function(real: tf.Tensor, pred: tf.Tensor) -> tf.Tensor:
    """Fraction of non-padding positions where ``argmax(pred) == real``."""
    hits = tf.equal(real, tf.argmax(pred, axis=2))
    mask = tf.math.logical_not(tf.math.equal(real, 0))
    hits = tf.cast(tf.math.logical_and(mask, hits), dtype=tf.float32)
    mask = tf.cast(mask, dtype=tf.float32)
    return tf.reduce_sum(hits) / tf.reduce_sum(mask)


def make_optimizer(d_model: int, warmup_steps: int = 4000) -> tf_keras.optimizers.legacy.Adam:
    """The 2021 optimizer: Adam(beta_1=0.9, beta_2=0.98, epsilon=1e-9) on the Noam schedule.

    ``tf_keras.optimizers.legacy.Adam`` is the 2021 ``tf.keras.optimizers.Adam``
    (OptimizerV2). It evaluates the schedule at ``float32(iterations)`` *before*
    incrementing, so step ``n`` (1-based) uses ``lr(n - 1)`` and the first
    update has learning rate 0. Its slots are named ``m`` and ``v`` in
    checkpoints (``.../.OPTIMIZER_SLOT/optimizer/m``).
    """
    return tf_keras.optimizers.legacy.Adam(
        CustomSchedule(d_model, warmup_steps), beta_1=0.9, beta_2=0.98, epsilon=1e-9
    )


train_step_signature = [
    tf.TensorSpec(shape=(None, None), dtype=tf.int64),
    tf.TensorSpec(shape=(None, None), dtype=tf.int64),
]


def make_train_step(
    transformer: Transformer, optimizer: tf_keras.optimizers.Optimizer
) -> tuple[Callable[[tf.Tensor, tf.Tensor], tf.Tensor], tf_keras.metrics.Mean, tf_keras.metrics.Mean]:
    """Build the tutorial's ``tf.function`` train step for ``transformer``.

    The step takes ``(inp, tar)`` int64 ``(batch, len)`` (the input signature
    keeps one trace for every batch and sequence length), feeds ``tar[:, :-1]``
    to the decoder and scores the predictions against ``tar[:, 1:]`` (teacher
    forcing), with ``training=True``, and applies the gradients.

    Returns:
        ``(train_step, train_loss, train_accuracy)``: the two ``Mean`` metrics
        accumulate as in the tutorial. Unlike the 2021 function, ``train_step``
        also returns the batch loss (the 2021 one returned nothing), so goldens
        can record per-step losses.
    """
    train_loss = tf_keras.metrics.Mean(name="train_loss")
    train_accuracy = tf_keras.metrics.Mean(name="train_accuracy")

    @tf.function(input_signature=train_step_signature)
    def train_step(inp, tar):
        tar_inp = tar[:, :-1]
        tar_real = tar[:, 1:]

        with tf.GradientTape() as tape:
            predictions, _ = transformer([inp, tar_inp], training=True)
            loss = loss_function(tar_real, predictions)

        gradients = tape.gradient(loss, transformer.trainable_variables)
        optimizer.apply_gradients(zip(gradients, transformer.trainable_variables))

        train_loss(loss)
        train_accuracy(accuracy_function(tar_real, predictions))
        return loss

    return train_step, train_loss, train_accuracy


def make_checkpoint_manager(
    transformer: Transformer,
    optimizer: tf_keras.optimizers.Optimizer,
    directory: str | os.PathLike[str],
    max_to_keep: int = 5,
) -> tuple[tf.train.Checkpoint, tf.train.CheckpointManager]:
    """``tf.train.Checkpoint(transformer=..., optimizer=...)`` and its manager.

    As in 2021, if ``directory`` already holds a checkpoint the latest one is
    restored into the objects (deferred: variables not created yet are filled
    when they are). The restore status is not asserted, like the tutorial.
    """
    ckpt = tf.train.Checkpoint(transformer=transformer, optimizer=optimizer)
    manager = tf.train.CheckpointManager(ckpt, os.fspath(directory), max_to_keep=max_to_keep)
    if manager.latest_checkpoint:
        ckpt.restore(manager.latest_checkpoint)
    return ckpt, manager


# ---------------------------------------------------------------------------
# Inference
# ---------------------------------------------------------------------------


def greedy_decode(
    transformer: Transformer,
    encoder_input: Any,
    start_id: int,
    end_id: int,
    max_length: int = 20,
) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """The tutorial ``Translator``'s greedy loop, on token ids (no tokenizer).

    Starting from ``[start_id]``, run the whole model on the ids so far
    (``training=False``), append the argmax of the last position's logits, and
    stop after ``max_length`` predictions or once ``end_id`` is predicted (the
    end id is kept). Batch size 1, like the tutorial's ``predicted_id == end``
    test.

    As in 2021, the returned attention weights come from one more call on
    ``output[:, :-1]``: the decoder input that produced the final token.

    Args:
        encoder_input: int ids ``(1, inp_len)`` (or ``(inp_len,)``).

    Returns:
        ``(output (1, n) int64 with n <= max_length + 1, attention_weights)``.
    """
    encoder_input = tf.convert_to_tensor(encoder_input, dtype=tf.int64)
    if encoder_input.shape.rank == 1:
        encoder_input = encoder_input[tf.newaxis]

    # A TensorArray of shape-(1,) rows, stacked and transposed to (1, n), as the
    # tutorial does (it needed TensorArray to be traceable by tf.function).
    output_array = tf.TensorArray(dtype=tf.int64, size=0, dynamic_size=True)
    output_array = output_array.write(0, tf.constant([start_id], dtype=tf.int64))

    for i in range(max_length):
        output = tf.transpose(output_array.stack())
        predictions, _ = transformer([encoder_input, output], training=False)
        predicted_id = tf.argmax(predictions[:, -1:, :], axis=-1)  # (1, 1)
        output_array = output_array.write(i + 1, predicted_id[0])
        if int(predicted_id[0, 0]) == end_id:
            break

    output = tf.transpose(output_array.stack())
    _, attention_weights = transformer([encoder_input, output[:, :-1]], training=False)
    return output, attention_weights


# ---------------------------------------------------------------------------
# Helpers (not tutorial code): checkpoint names of variables
# ---------------------------------------------------------------------------

_VALUE_SUFFIX = "/.ATTRIBUTES/VARIABLE_VALUE"


def checkpoint_keys(root: tf.Module, root_name: str = "saved") -> dict[str, tuple[int, ...]]:
    """Variable keys and shapes of ``tf.train.Checkpoint(root_name=root)``.

    Saves to a temporary directory and lists it: the ground truth for names.
    Keys are returned relative to ``root`` (prefix and value suffix dropped);
    the object graph, save counter and optimizer slots are left out.
    """
    with tempfile.TemporaryDirectory() as tmp:
        path = tf.train.Checkpoint(**{root_name: root}).save(os.path.join(tmp, "ckpt"))
        listed = tf.train.list_variables(path)
    prefix = root_name + "/"
    keys: dict[str, tuple[int, ...]] = {}
    for key, shape in listed:
        if not key.startswith(prefix) or not key.endswith(_VALUE_SUFFIX):
            continue
        if "/.OPTIMIZER_SLOT/" in key:
            continue
        keys[key[len(prefix) : -len(_VALUE_SUFFIX)]] = tuple(shape)
    return keys


def named_variables(root: tf.Module) -> dict[str, tf.Variable]:
    """Every variable under ``root`` by its object-checkpoint path.

    Walks the object graph breadth-first in the saver's child order, keeping the
    first (shortest) path to each variable -- the rule the checkpoint writer
    uses -- and checks the result against an actual save, so a mismatch raises
    instead of producing wrongly named goldens.
    """
    view = tf.train.TrackableView(root)
    found: dict[str, tf.Variable] = {}
    seen: set[int] = {id(root)}
    queue: deque[tuple[Any, str]] = deque([(root, "")])
    while queue:
        obj, path = queue.popleft()
        for name, child in view.children(obj).items():
            if id(child) in seen:
                continue
            seen.add(id(child))
            # Object names are escaped in keys: "/" -> ".S", "." -> "..".
            escaped = name.replace(".", "..").replace("/", ".S")
            child_path = f"{path}/{escaped}" if path else escaped
            if isinstance(child, tf.Variable):
                found[child_path] = child
            else:
                queue.append((child, child_path))
    expected = checkpoint_keys(root)
    if set(found) != set(expected):
        raise RuntimeError(
            "object-graph walk disagrees with the checkpoint: "
            f"only walked {sorted(set(found) - set(expected))}, "
            f"only saved {sorted(set(expected) - set(found))}"
        )
    return dict(sorted(found.items()))


def variable_checkpoint_name(root: tf.Module, variable: tf.Variable) -> str:
    """The checkpoint path (relative to ``root``) of one of its variables."""
    for name, var in named_variables(root).items():
        if var is variable:
            return name
    raise KeyError(f"{variable.name} is not reachable from {root!r}")
