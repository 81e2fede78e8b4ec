"""Keras-2.2-era transformer-encoder text classifier (seed 003), on ``tf_keras``.

This module is the numerical reference for a 2021 blog post that assembles a
transformer encoder for text classification from hand-written Keras 2.2.4
layers (themselves adapted from the CyberZHG ``keras-transformer`` family)
plus a warmup-cosine learning-rate callback. Everything here is written
against the Keras 2 API as shipped in ``tf_keras``; it never imports
``keras`` (which is Keras 3 in this environment) and never sets
``TF_USE_LEGACY_KERAS``, so importing it leaves ``import keras`` untouched.

The point is to reproduce the legacy behaviour, quirks included, so that the
Keras 3 port (``modern``) and the weight porter can be checked against it:

* :class:`Position_Embedding` -- fixed sinusoid position encoding with sin/cos
  *interleaved* (the blog's corrected version), added to or concatenated
  before the input. ``sum`` mode silently overwrites ``size``.
* :class:`ScaledDotProductAttention` -- softmax attention with an additive
  ``-10000`` mask (not ``-inf``) and a hand-written softmax.
* :class:`MultiHeadAttention` -- the same activation (``relu`` by default) is
  applied to the Q/K/V projections *and* to the output projection; weights
  are named ``<layer>_Wq`` ... ``<layer>_bo``.
* :class:`LayerNorm` -- the blog's weightless normalisation (no gamma/beta,
  epsilon ``1e-14``); :class:`LayerNormalization` -- the weighted form of the
  source family.
* :func:`build_model` -- the classifier, with the blog's layer names and its
  duplicated residual ``Add``.
* :func:`cosine_decay_with_warmup` / :class:`WarmUpCosineDecayScheduler` --
  the numpy schedule and the per-batch callback that writes
  ``optimizer.lr``.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
import tensorflow as tf
import tf_keras as keras_legacy
from tf_keras import backend as K

__all__ = [
    "Position_Embedding",
    "ScaledDotProductAttention",
    "MultiHeadAttention",
    "LayerNorm",
    "LayerNormalization",
    "transformer_block",
    "build_model",
    "custom_objects",
    "cosine_decay_with_warmup",
    "WarmUpCosineDecayScheduler",
]

Layer = keras_legacy.layers.Layer

# The additive penalty that the legacy attention uses for masked or future
# keys. It is large but finite: exp(-10000) underflows to exactly 0 in
# float32, yet a row whose keys are *all* masked is merely shifted by -10000,
# and the softmax being shift-invariant, it gets (up to float32 rounding of
# logits near -10000) the *unmasked* attention. A port that adds -inf gets
# NaN there, and one that *replaces* masked logits (where(mask, e, -1e9))
# gets a uniform row.
_MASK_PENALTY = 10000.0


# --------------------------------------------------------------------------
# Position embedding
# --------------------------------------------------------------------------


class Position_Embedding(Layer):  # noqa: N801 -- the legacy class name is part of saved configs
    """Fixed sinusoid position encoding (the blog's corrected version).

    For position ``p`` and ``i`` in ``[0, size/2)`` the encoding is
    ``pe[p, 2i] = sin(p / 10000**(2i/size))`` and
    ``pe[p, 2i+1] = cos(p / 10000**(2i/size))``: sin and cos are interleaved
    (the original CSDN code concatenated all cosines before all sines; the
    blog fixes that by stacking on a new last axis and reshaping).

    Positions are built as ``cumsum(ones_like(x[:, :, 0])) - 1`` rather than
    with ``arange`` so that the layer works for a variable sequence length.

    Quirks kept from the legacy code:

    * In ``sum`` mode (and whenever ``size`` is ``None``) ``call`` overwrites
      ``self.size`` with the last dimension of ``x``; a ``size`` given with
      ``mode='sum'`` is ignored.
    * In ``concat`` mode the encoding comes *first*:
      ``concatenate([pe, x], axis=2)``, giving ``size + dim`` features.
    * The layer has no weights and does not support masking.

    Args:
        size: number of encoding features; must be even. Ignored (replaced
            by the input's last dimension) in ``sum`` mode.
        mode: ``'sum'`` (add to ``x``) or ``'concat'`` (prepend to ``x``).
    """

    def __init__(self, size: int | None = None, mode: str = "sum", **kwargs: Any) -> None:
        if mode not in ("sum", "concat"):
            raise ValueError(f"Position_Embedding mode must be 'sum' or 'concat', got {mode!r}")
        self.size = size
        self.mode = mode
        super().__init__(**kwargs)

    def call(self, x: tf.Tensor) -> tf.Tensor:
        if self.size is None or self.mode == "sum":
            self.size = int(x.shape[-1])
        if self.size % 2:
            # The legacy code would fail later in a reshape; say why instead.
            raise ValueError(f"Position_Embedding size must be even, got {self.size}")
        dynamic_shape = K.shape(x)
        batch_size, seq_len = dynamic_shape[0], dynamic_shape[1]
        # Inverse frequencies 1 / 10000^(2i/size), shape (1, size/2).
        two_i = 2.0 * K.arange(self.size // 2, dtype="float32")
        inv_freq = K.expand_dims(1.0 / K.pow(10000.0, two_i / self.size), 0)
        # Positions 0..seq_len-1 per sample, shape (batch, seq, 1).
        positions = K.cumsum(K.ones_like(x[:, :, 0]), 1) - 1.0
        positions = K.expand_dims(positions, 2)
        angles = K.dot(positions, inv_freq)  # (batch, seq, size/2)
        # Interleave: a trailing axis of length 2 holding (sin, cos), then
        # flatten it so that sin lands on even and cos on odd features.
        pair = K.concatenate([K.expand_dims(K.sin(angles), -1), K.expand_dims(K.cos(angles), -1)], axis=-1)
        encoding = K.reshape(pair, (batch_size, seq_len, self.size))
        if self.mode == "sum":
            return encoding + x
        return K.concatenate([encoding, x], axis=2)

    def compute_output_shape(self, input_shape: Sequence[int | None]) -> tuple:
        input_shape = tuple(input_shape)
        if self.mode == "sum":
            return input_shape
        size = self.size if self.size is not None else input_shape[2]
        last = None if input_shape[2] is None else input_shape[2] + size
        return (input_shape[0], input_shape[1], last)

    def get_config(self) -> dict[str, Any]:
        config = {"size": self.size, "mode": self.mode}
        return {**super().get_config(), **config}


# --------------------------------------------------------------------------
# Attention
# --------------------------------------------------------------------------


class ScaledDotProductAttention(Layer):
    r"""``softmax(Q K^T / sqrt(d)) V`` with the legacy additive masks.

    Inputs are either one tensor (used as query, key and value) or a list
    ``[query, key, value]`` of shapes ``(batch, q_len, d)``,
    ``(batch, k_len, d)`` and ``(batch, k_len, d_v)``.

    * ``d`` is the *last dimension of the query*.
    * ``history_only``: logits get ``-10000`` where ``key_index >
      query_index`` (a causal mask; with different lengths the indices are
      compared as they are, without alignment).
    * Mask: when the mask is a list, only ``mask[1]`` (the key mask) is used;
      logits get ``-10000 * (1 - mask)`` broadcast over queries. Masked
      *queries* are still computed.
    * The softmax is written out: ``exp(e - max(e)) / sum(exp(e - max(e)))``.

    After each call ``self.intensity`` holds the masked logits and
    ``self.attention`` the weights ``(batch, q_len, k_len)`` (as in the
    legacy code; in graph construction these are symbolic tensors).

    Args:
        return_attention: if true, return ``[output, attention]``.
        history_only: apply the causal mask described above.
    """

    def __init__(self, return_attention: bool = False, history_only: bool = False, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True
        self.return_attention = return_attention
        self.history_only = history_only
        self.intensity = self.attention = None

    def get_config(self) -> dict[str, Any]:
        config = {"return_attention": self.return_attention, "history_only": self.history_only}
        return {**super().get_config(), **config}

    def compute_output_shape(self, input_shape: Any) -> Any:
        if isinstance(input_shape, list):
            query_shape, key_shape, value_shape = (tuple(s) for s in input_shape)
        else:
            query_shape = key_shape = value_shape = tuple(input_shape)
        output_shape = query_shape[:-1] + value_shape[-1:]
        if self.return_attention:
            return [output_shape, query_shape[:2] + (key_shape[1],)]
        return output_shape

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        # The *query* mask propagates (one output row per query).
        if isinstance(mask, list):
            mask = mask[0]
        if self.return_attention:
            return [mask, None]
        return mask

    def call(self, inputs: Any, mask: Any = None, **kwargs: Any) -> Any:
        if isinstance(inputs, list):
            query, key, value = inputs
        else:
            query = key = value = inputs
        if isinstance(mask, list):
            mask = mask[1]
        depth = K.cast(K.shape(query)[-1], K.floatx())
        logits = K.batch_dot(query, key, axes=2) / K.sqrt(depth)
        if self.history_only:
            query_len, key_len = K.shape(query)[1], K.shape(key)[1]
            key_index = K.expand_dims(K.arange(0, key_len), axis=0)  # (1, k_len)
            query_index = K.expand_dims(K.arange(0, query_len), axis=-1)  # (q_len, 1)
            future = K.cast(key_index > query_index, K.floatx())
            logits -= _MASK_PENALTY * K.expand_dims(future, axis=0)
        if mask is not None:
            key_keep = K.cast(K.expand_dims(mask, axis=-2), K.floatx())  # (batch, 1, k_len)
            logits -= _MASK_PENALTY * (1.0 - key_keep)
        self.intensity = logits
        shifted = K.exp(logits - K.max(logits, axis=-1, keepdims=True))
        self.attention = shifted / K.sum(shifted, axis=-1, keepdims=True)
        output = K.batch_dot(self.attention, value)
        if self.return_attention:
            return [output, self.attention]
        return output


def _fresh_initializer(initializer: Any) -> Any:
    """A new instance of an *unseeded* initializer, so each weight gets its own draw.

    Keras 2.2 drew independent values every time an initializer was called.
    tf_keras instead fixes a random seed per unseeded initializer *instance*
    (and warns), so reusing one instance for ``Wq``, ``Wk``, ``Wv`` and ``Wo``
    would make all same-shaped kernels identical at initialisation. A copy
    built from the config gets its own seed; seeded initializers are
    returned unchanged (they were deterministic in Keras 2.2 too).
    """
    get_config = getattr(initializer, "get_config", None)
    if get_config is None:
        return initializer
    config = get_config()
    if config.get("seed", 0) is not None:
        return initializer
    return initializer.__class__.from_config(config)


class MultiHeadAttention(Layer):
    """Multi-head attention of the legacy classifier.

    ``q, k, v`` are projected with ``Wq/Wk/Wv`` (plus biases), passed through
    ``activation`` (``relu`` by default -- unusual, the paper has none), split
    into ``head_num`` heads, attended with a :class:`ScaledDotProductAttention`
    sub-layer named ``'<name>-Attention'``, merged, projected with ``Wo``
    (plus ``bo``) and passed through ``activation`` *again*.

    Weights are created in ``build`` in the order ``Wq, bq, Wk, bk, Wv, bv,
    Wo, bo`` (biases only with ``use_bias``) and are named
    ``'<name>_Wq'`` etc., so that in a model their variable (and HDF5)
    names are ``'<name>/<name>_Wq:0'``. Shapes: ``W*`` is
    ``(input_dim, feature_dim)``, ``b*`` is ``(feature_dim,)``, ``Wo`` is
    ``(feature_dim, feature_dim)``, where ``feature_dim`` is the last dimension
    of ``v``. Heads are split as ``reshape(b, s, h, d/h) -> transpose(0, 2, 1,
    3) -> reshape(b*h, s, d/h)``: head ``j`` owns features ``[j*d/h,
    (j+1)*d/h)``.

    Masks: a single mask is used for q, k and v; a list is ``[q, k, v]``
    masks. The key mask is tiled per head and applied as ``-10000``; the
    query mask is what ``compute_mask`` propagates.

    Beyond the legacy code (needed to compare per-head weights): after every
    call ``self.attention`` is the attention tensor reshaped to ``(batch,
    head_num, q_len, k_len)`` and ``self.intensity`` the masked logits in the
    same layout; with ``return_attention=True`` the layer returns ``[output,
    attention]``. ``return_attention`` only appears in ``get_config`` when it
    is true, so saved configs of ordinary layers match the legacy ones.

    Args:
        head_num: number of heads; must divide ``feature_dim`` (else
            ``IndexError``, as in the legacy code).
        activation: applied to the Q/K/V projections and to the output.
        use_bias: whether the four projections have biases.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: for the
            projection weights.
        history_only: causal attention (see :class:`ScaledDotProductAttention`).
        return_attention: also return the per-head attention (extension).
    """

    def __init__(
        self,
        head_num: int,
        activation: Any = "relu",
        use_bias: bool = True,
        kernel_initializer: Any = "glorot_normal",
        bias_initializer: Any = "zeros",
        kernel_regularizer: Any = None,
        bias_regularizer: Any = None,
        kernel_constraint: Any = None,
        bias_constraint: Any = None,
        history_only: bool = False,
        return_attention: bool = False,
        **kwargs: Any,
    ) -> None:
        self.supports_masking = True
        self.head_num = head_num
        self.activation = keras_legacy.activations.get(activation)
        self.use_bias = use_bias
        self.kernel_initializer = keras_legacy.initializers.get(kernel_initializer)
        self.bias_initializer = keras_legacy.initializers.get(bias_initializer)
        self.kernel_regularizer = keras_legacy.regularizers.get(kernel_regularizer)
        self.bias_regularizer = keras_legacy.regularizers.get(bias_regularizer)
        self.kernel_constraint = keras_legacy.constraints.get(kernel_constraint)
        self.bias_constraint = keras_legacy.constraints.get(bias_constraint)
        self.history_only = history_only
        self.return_attention = return_attention
        self.Wq = self.Wk = self.Wv = self.Wo = None
        self.bq = self.bk = self.bv = self.bo = None
        self.intensity = self.attention = None
        super().__init__(**kwargs)

    def get_config(self) -> dict[str, Any]:
        config = {
            "head_num": self.head_num,
            "activation": keras_legacy.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "kernel_initializer": keras_legacy.initializers.serialize(self.kernel_initializer),
            "bias_initializer": keras_legacy.initializers.serialize(self.bias_initializer),
            "kernel_regularizer": keras_legacy.regularizers.serialize(self.kernel_regularizer),
            "bias_regularizer": keras_legacy.regularizers.serialize(self.bias_regularizer),
            "kernel_constraint": keras_legacy.constraints.serialize(self.kernel_constraint),
            "bias_constraint": keras_legacy.constraints.serialize(self.bias_constraint),
            "history_only": self.history_only,
        }
        if self.return_attention:
            config["return_attention"] = True
        return {**super().get_config(), **config}

    def compute_output_shape(self, input_shape: Any) -> Any:
        if isinstance(input_shape, list):
            q, _, v = (tuple(s) for s in input_shape)
            output_shape = q[:-1] + (v[-1],)
        else:
            q = output_shape = tuple(input_shape)
        if self.return_attention:
            k_len = input_shape[1][1] if isinstance(input_shape, list) else q[1]
            return [output_shape, (q[0], self.head_num, q[1], k_len)]
        return output_shape

    def compute_mask(self, inputs: Any, input_mask: Any = None) -> Any:
        if isinstance(input_mask, list):
            input_mask = input_mask[0]
        if self.return_attention:
            return [input_mask, None]
        return input_mask

    def _projection(self, name: str, shape: tuple[int, ...], kernel: bool) -> tf.Variable:
        initializer = self.kernel_initializer if kernel else self.bias_initializer
        return self.add_weight(
            shape=shape,
            initializer=_fresh_initializer(initializer),
            regularizer=self.kernel_regularizer if kernel else self.bias_regularizer,
            constraint=self.kernel_constraint if kernel else self.bias_constraint,
            name=f"{self.name}_{name}",
        )

    def build(self, input_shape: Any) -> None:
        if isinstance(input_shape, list):
            q, k, v = input_shape
        else:
            q = k = v = input_shape
        feature_dim = int(v[-1])
        if feature_dim % self.head_num != 0:
            raise IndexError(f"Invalid head number {self.head_num} with the given input dim {feature_dim}")
        # Creation order matters: it is the order of get_weights()/set_weights()
        # and of the HDF5 weight_names attribute.
        self.Wq = self._projection("Wq", (int(q[-1]), feature_dim), kernel=True)
        if self.use_bias:
            self.bq = self._projection("bq", (feature_dim,), kernel=False)
        self.Wk = self._projection("Wk", (int(k[-1]), feature_dim), kernel=True)
        if self.use_bias:
            self.bk = self._projection("bk", (feature_dim,), kernel=False)
        self.Wv = self._projection("Wv", (int(v[-1]), feature_dim), kernel=True)
        if self.use_bias:
            self.bv = self._projection("bv", (feature_dim,), kernel=False)
        self.Wo = self._projection("Wo", (feature_dim, feature_dim), kernel=True)
        if self.use_bias:
            self.bo = self._projection("bo", (feature_dim,), kernel=False)
        super().build(input_shape)

    @staticmethod
    def _reshape_to_batches(x: tf.Tensor, head_num: int) -> tf.Tensor:
        """``(b, s, d) -> (b*h, s, d/h)``; heads become extra batch entries."""
        shape = K.shape(x)
        batch_size, seq_len, feature_dim = shape[0], shape[1], shape[2]
        head_dim = feature_dim // head_num
        x = K.reshape(x, (batch_size, seq_len, head_num, head_dim))
        x = K.permute_dimensions(x, [0, 2, 1, 3])
        return K.reshape(x, (batch_size * head_num, seq_len, head_dim))

    @staticmethod
    def _reshape_from_batches(x: tf.Tensor, head_num: int) -> tf.Tensor:
        """``(b*h, s, d/h) -> (b, s, d)``, the inverse of :meth:`_reshape_to_batches`."""
        shape = K.shape(x)
        batch_heads, seq_len, head_dim = shape[0], shape[1], shape[2]
        x = K.reshape(x, (batch_heads // head_num, head_num, seq_len, head_dim))
        x = K.permute_dimensions(x, [0, 2, 1, 3])
        return K.reshape(x, (batch_heads // head_num, seq_len, head_dim * head_num))

    @staticmethod
    def _reshape_attention_from_batches(x: tf.Tensor, head_num: int) -> tf.Tensor:
        """``(b*h, q, k) -> (b, h, q, k)`` (batch-major, as the heads were split)."""
        shape = K.shape(x)
        return K.reshape(x, (shape[0] // head_num, head_num, shape[1], shape[2]))

    @staticmethod
    def _reshape_mask(mask: tf.Tensor | None, head_num: int) -> tf.Tensor | None:
        """``(b, s) -> (b*h, s)``: each sample's mask repeated once per head."""
        if mask is None:
            return None
        seq_len = K.shape(mask)[1]
        mask = K.tile(K.expand_dims(mask, axis=1), [1, head_num, 1])
        return K.reshape(mask, (-1, seq_len))

    def call(self, inputs: Any, mask: Any = None) -> Any:
        if isinstance(inputs, list):
            q, k, v = inputs
        else:
            q = k = v = inputs
        if isinstance(mask, list):
            q_mask, k_mask, v_mask = mask
        else:
            q_mask = k_mask = v_mask = mask
        q = K.dot(q, self.Wq)
        k = K.dot(k, self.Wk)
        v = K.dot(v, self.Wv)
        if self.use_bias:
            q += self.bq
            k += self.bk
            v += self.bv
        if self.activation is not None:
            q = self.activation(q)
            k = self.activation(k)
            v = self.activation(v)
        # Created on every call, like the legacy code: it has no weights, so
        # only its name ('<name>-Attention') is observable.
        attention_layer = ScaledDotProductAttention(history_only=self.history_only, name=f"{self.name}-Attention")
        y = attention_layer(
            inputs=[
                self._reshape_to_batches(q, self.head_num),
                self._reshape_to_batches(k, self.head_num),
                self._reshape_to_batches(v, self.head_num),
            ],
            mask=[
                self._reshape_mask(q_mask, self.head_num),
                self._reshape_mask(k_mask, self.head_num),
                self._reshape_mask(v_mask, self.head_num),
            ],
        )
        self.intensity = self._reshape_attention_from_batches(attention_layer.intensity, self.head_num)
        self.attention = self._reshape_attention_from_batches(attention_layer.attention, self.head_num)
        y = self._reshape_from_batches(y, self.head_num)
        y = K.dot(y, self.Wo)
        if self.use_bias:
            y += self.bo
        if self.activation is not None:
            y = self.activation(y)
        # Restore the static shape lost in the dynamic reshapes.
        output_shape = K.int_shape(q)[:-1] + K.int_shape(v)[-1:]
        if output_shape[1] is not None:
            y = K.reshape(y, (-1,) + output_shape[1:])
        if self.return_attention:
            return [y, self.attention]
        return y


# --------------------------------------------------------------------------
# Normalisation
# --------------------------------------------------------------------------


def _normalise(inputs: tf.Tensor, epsilon: float) -> tf.Tensor:
    """``(x - mean) / sqrt(var + eps)`` over the last axis (biased variance)."""
    mean = K.mean(inputs, axis=-1, keepdims=True)
    variance = K.mean(K.square(inputs - mean), axis=-1, keepdims=True)
    return (inputs - mean) / K.sqrt(variance + epsilon)


class LayerNorm(Layer):
    """The blog's weightless layer normalisation.

    Accepts the usual gamma/beta arguments but never builds any weight:
    ``gamma`` and ``beta`` stay the Python float ``0.0``. With the defaults
    (``center=True, scale=False``) the output is exactly
    ``(x - mean) / sqrt(var + epsilon)`` (adding ``beta`` adds 0). Setting
    ``scale=True`` would multiply by 0 -- a legacy trap, kept as is.

    ``epsilon`` defaults to ``K.epsilon() ** 2`` = ``1e-14`` (not the 1e-3 or
    1e-6 of other layer norms); it only matters for near-constant rows.

    Args:
        center: add ``beta`` (always 0.0).
        scale: multiply by ``gamma`` (always 0.0).
        epsilon: variance epsilon, default ``1e-14``.
        gamma_initializer, beta_initializer, gamma_regularizer,
        beta_regularizer, gamma_constraint, beta_constraint: stored and
            serialised, never used.
    """

    def __init__(
        self,
        center: bool = True,
        scale: bool = False,
        epsilon: float | None = None,
        gamma_initializer: Any = "ones",
        beta_initializer: Any = "zeros",
        gamma_regularizer: Any = None,
        beta_regularizer: Any = None,
        gamma_constraint: Any = None,
        beta_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True
        self.center = center
        self.scale = scale
        self.epsilon = K.epsilon() * K.epsilon() if epsilon is None else epsilon
        self.gamma_initializer = keras_legacy.initializers.get(gamma_initializer)
        self.beta_initializer = keras_legacy.initializers.get(beta_initializer)
        self.gamma_regularizer = keras_legacy.regularizers.get(gamma_regularizer)
        self.beta_regularizer = keras_legacy.regularizers.get(beta_regularizer)
        self.gamma_constraint = keras_legacy.constraints.get(gamma_constraint)
        self.beta_constraint = keras_legacy.constraints.get(beta_constraint)
        # Never replaced by weights: the legacy class has no build().
        self.gamma, self.beta = 0.0, 0.0

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return mask

    def call(self, inputs: tf.Tensor, **kwargs: Any) -> tf.Tensor:
        outputs = _normalise(inputs, self.epsilon)
        if self.scale:
            outputs *= self.gamma
        if self.center:
            outputs += self.beta
        return outputs

    def get_config(self) -> dict[str, Any]:
        config = {
            "center": self.center,
            "scale": self.scale,
            "epsilon": self.epsilon,
            "gamma_initializer": keras_legacy.initializers.serialize(self.gamma_initializer),
            "beta_initializer": keras_legacy.initializers.serialize(self.beta_initializer),
            "gamma_regularizer": keras_legacy.regularizers.serialize(self.gamma_regularizer),
            "beta_regularizer": keras_legacy.regularizers.serialize(self.beta_regularizer),
            "gamma_constraint": keras_legacy.constraints.serialize(self.gamma_constraint),
            "beta_constraint": keras_legacy.constraints.serialize(self.beta_constraint),
        }
        return {**super().get_config(), **config}


class LayerNormalization(Layer):
    """Weighted layer normalisation of the source family (keras-layer-normalization).

    Same normalisation and epsilon default (``K.epsilon() ** 2`` = ``1e-14``)
    as :class:`LayerNorm`, but ``build`` creates ``gamma`` (ones) and
    ``beta`` (zeros) of shape ``input_shape[-1:]``, named ``'gamma'`` and
    ``'beta'`` (``'<layer>/gamma:0'`` in a model), and the output is
    ``normalised * gamma + beta``.

    Note: the name clashes with the built-in ``LayerNormalization``;
    loading a saved model must pass :func:`custom_objects`.

    Args:
        center: create and add ``beta``.
        scale: create and multiply by ``gamma``.
        epsilon: variance epsilon, default ``1e-14``.
        gamma_initializer, beta_initializer, gamma_regularizer,
        beta_regularizer, gamma_constraint, beta_constraint: for the weights.
    """

    def __init__(
        self,
        center: bool = True,
        scale: bool = True,
        epsilon: float | None = None,
        gamma_initializer: Any = "ones",
        beta_initializer: Any = "zeros",
        gamma_regularizer: Any = None,
        beta_regularizer: Any = None,
        gamma_constraint: Any = None,
        beta_constraint: Any = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.supports_masking = True
        self.center = center
        self.scale = scale
        self.epsilon = K.epsilon() * K.epsilon() if epsilon is None else epsilon
        self.gamma_initializer = keras_legacy.initializers.get(gamma_initializer)
        self.beta_initializer = keras_legacy.initializers.get(beta_initializer)
        self.gamma_regularizer = keras_legacy.regularizers.get(gamma_regularizer)
        self.beta_regularizer = keras_legacy.regularizers.get(beta_regularizer)
        self.gamma_constraint = keras_legacy.constraints.get(gamma_constraint)
        self.beta_constraint = keras_legacy.constraints.get(beta_constraint)
        self.gamma = self.beta = None

    def compute_mask(self, inputs: Any, mask: Any = None) -> Any:
        return mask

    def build(self, input_shape: Any) -> None:
        shape = tuple(input_shape)[-1:]
        if self.scale:
            self.gamma = self.add_weight(
                shape=shape,
                initializer=self.gamma_initializer,
                regularizer=self.gamma_regularizer,
                constraint=self.gamma_constraint,
                name="gamma",
            )
        if self.center:
            self.beta = self.add_weight(
                shape=shape,
                initializer=self.beta_initializer,
                regularizer=self.beta_regularizer,
                constraint=self.beta_constraint,
                name="beta",
            )
        super().build(input_shape)

    def call(self, inputs: tf.Tensor, training: Any = None) -> tf.Tensor:
        outputs = _normalise(inputs, self.epsilon)
        if self.scale:
            outputs *= self.gamma
        if self.center:
            outputs += self.beta
        return outputs

    def get_config(self) -> dict[str, Any]:
        config = {
            "center": self.center,
            "scale": self.scale,
            "epsilon": self.epsilon,
            "gamma_initializer": keras_legacy.initializers.serialize(self.gamma_initializer),
            "beta_initializer": keras_legacy.initializers.serialize(self.beta_initializer),
            "gamma_regularizer": keras_legacy.regularizers.serialize(self.gamma_regularizer),
            "beta_regularizer": keras_legacy.regularizers.serialize(self.beta_regularizer),
            "gamma_constraint": keras_legacy.constraints.serialize(self.gamma_constraint),
            "beta_constraint": keras_legacy.constraints.serialize(self.beta_constraint),
        }
        return {**super().get_config(), **config}


# --------------------------------------------------------------------------
# The classifier
# --------------------------------------------------------------------------


def transformer_block(x: Any, prefix: str, head_num: int, model_dim: int, ffn_dim: int, dropout: float) -> Any:
    """One post-norm encoder block with the blog's layer names.

    ``x -> MHA -> Dropout -> Add(x, .) -> LayerNorm -> Dense(relu) -> Dense
    -> Dropout -> add(., .) -> LayerNorm``. Layer names are
    ``{prefix}_att1, _do1, _add1, _LN1, _fc1, _fc2, _do2, _add2, _LN2``.

    Legacy quirk: the second residual is computed twice. A named
    ``Add(name='{prefix}_add2')`` is called and its output immediately
    overwritten by an unnamed functional ``add([...])``, so the model graph
    contains an extra *unnamed* ``Add`` layer (``add_<n>``) on the path, and
    the named ``{prefix}_add2`` layer is a dead branch that ``Model`` drops
    (it never appears in ``model.layers``). Both have no weights.
    """
    layers = keras_legacy.layers
    attended = MultiHeadAttention(head_num=head_num, name=f"{prefix}_att1")(x)
    attended = layers.Dropout(dropout, name=f"{prefix}_do1")(attended)
    residual1 = layers.Add(name=f"{prefix}_add1")([x, attended])
    normed1 = LayerNorm(name=f"{prefix}_LN1")(residual1)
    hidden = layers.Dense(ffn_dim, activation="relu", name=f"{prefix}_fc1")(normed1)
    projected = layers.Dense(model_dim, name=f"{prefix}_fc2")(hidden)
    projected = layers.Dropout(dropout, name=f"{prefix}_do2")(projected)
    residual2 = layers.Add(name=f"{prefix}_add2")([normed1, projected])
    residual2 = layers.add([normed1, projected])  # overrides the named Add (legacy quirk)
    return LayerNorm(name=f"{prefix}_LN2")(residual2)


def build_model(
    vocab_size: int,
    max_len: int,
    model_dim: int,
    head_num: int,
    num_blocks: int,
    num_class: int = 2,
    ffn_dim: int | None = None,
    dropout: float = 0.1,
    embedding_matrix: np.ndarray | None = None,
    learning_rate: float = 5e-5,
    compile: bool = True,  # noqa: A002 -- mirrors Model.compile, the name users expect
) -> keras_legacy.Model:
    """The blog's transformer-encoder text classifier, with configurable sizes.

    ``Input('inputs', int32, (max_len,)) -> Embedding (default name, no
    mask_zero: token 0 is an ordinary token and no mask flows) ->
    Position_Embedding (sum) -> Dropout -> blocks t1..tN -> Add of the last
    three block outputs (of all of them when there are fewer than three; a
    single block passes through) -> GlobalAveragePooling1D -> Dropout ->
    Dense(num_class, softmax, name='outputs')``.

    The blog's sizes are ``max_len = model_dim = 512``, ``head_num = 8``,
    six blocks, ``ffn_dim = 4 * model_dim``; it compiles with
    ``categorical_crossentropy``, ``metrics=['acc']`` and ``Adam(lr=5e-5)``
    of the Keras 2.2 era, reproduced by ``tf_keras.optimizers.legacy.Adam``
    (epsilon 1e-7, no amsgrad, float-step bias correction).

    Unnamed layers get tf_keras's default names (``embedding``,
    ``position__embedding``, ``dropout``, ``add``...), which depend on the
    session's name counters: call ``tf_keras.backend.clear_session()`` first
    for reproducible names.

    Args:
        vocab_size: rows of the embedding (``len(word_index) + 1`` in the blog).
        max_len: sequence length of the ``inputs`` layer.
        model_dim: embedding and block width.
        head_num: attention heads (must divide ``model_dim``).
        num_blocks: encoder blocks.
        num_class: softmax classes.
        ffn_dim: hidden width of the feed-forward part, default ``4 * model_dim``.
        dropout: rate of every Dropout layer (0.1 in the blog).
        embedding_matrix: optional ``(vocab_size, model_dim)`` initial
            embedding, passed as ``weights=[...]`` like the blog.
        learning_rate: Adam learning rate.
        compile: whether to compile the model.
    """
    if num_blocks < 1:
        raise ValueError(f"num_blocks must be at least 1, got {num_blocks}")
    layers = keras_legacy.layers
    ffn_dim = 4 * model_dim if ffn_dim is None else ffn_dim
    words = layers.Input(shape=(max_len,), name="inputs", dtype="int32")
    embedding_kwargs: dict[str, Any] = {}
    if embedding_matrix is not None:
        embedding_matrix = np.asarray(embedding_matrix)
        if embedding_matrix.shape != (vocab_size, model_dim):
            raise ValueError(
                f"embedding_matrix has shape {embedding_matrix.shape}, expected {(vocab_size, model_dim)}"
            )
        embedding_kwargs["weights"] = [embedding_matrix]
    embeddings = layers.Embedding(vocab_size, model_dim, trainable=True, **embedding_kwargs)(words)
    embeddings = Position_Embedding()(embeddings)
    embeddings = layers.Dropout(dropout)(embeddings)

    block_outputs = []
    x = embeddings
    for index in range(1, num_blocks + 1):
        x = transformer_block(x, f"t{index}", head_num, model_dim, ffn_dim, dropout)
        block_outputs.append(x)
    tail = block_outputs[-3:]
    x = layers.Add()(tail) if len(tail) > 1 else tail[0]
    x = layers.GlobalAveragePooling1D()(x)
    x = layers.Dropout(dropout)(x)
    result = layers.Dense(num_class, activation="softmax", name="outputs")(x)
    model = keras_legacy.Model(inputs=words, outputs=result)
    if compile:
        optimizer = keras_legacy.optimizers.legacy.Adam(learning_rate=learning_rate)
        model.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["acc"])
    return model


def custom_objects() -> dict[str, type]:
    """The custom layer classes by their saved class names, for ``load_model``."""
    return {
        "Position_Embedding": Position_Embedding,
        "ScaledDotProductAttention": ScaledDotProductAttention,
        "MultiHeadAttention": MultiHeadAttention,
        "LayerNorm": LayerNorm,
        "LayerNormalization": LayerNormalization,
    }


# --------------------------------------------------------------------------
# Warmup-cosine learning rate
# --------------------------------------------------------------------------


def cosine_decay_with_warmup(
    global_step: Any,
    learning_rate_base: float,
    total_steps: int,
    warmup_learning_rate: float = 0.0,
    warmup_steps: int = 0,
    hold_base_rate_steps: int = 0,
) -> np.ndarray:
    """The blog's numpy warmup-hold-cosine schedule (SGDR-style, one cycle).

    With ``w = warmup_steps``, ``h = hold_base_rate_steps``, ``T =
    total_steps`` and ``t = global_step``:

    * ``t < w`` (only if ``w > 0``): linear warmup
      ``warmup_lr + t * (base - warmup_lr) / w``;
    * otherwise, if ``h > 0`` and ``t <= w + h``: ``base`` (note ``>`` in
      the legacy test, so step ``w + h`` itself is held);
    * otherwise ``0.5 * base * (1 + cos(pi * (t - w - h) / (T - w - h)))``;
    * ``t > T``: ``0.0`` (at ``t == T`` the cosine gives ~0, not exactly 0).

    Works elementwise on numpy arrays; returns a numpy array (0-d for a
    scalar step), as ``np.where`` does. ``T == w + h`` divides by zero
    exactly as the legacy formula does.

    Raises:
        ValueError: if ``total_steps < warmup_steps``, or, when
            ``warmup_steps > 0``, if ``learning_rate_base <
            warmup_learning_rate`` (checked only then, as in the legacy code).
    """
    if total_steps < warmup_steps:
        raise ValueError("total_steps must be larger or equal to warmup_steps.")
    decay_span = float(total_steps - warmup_steps - hold_base_rate_steps)
    progress = np.pi * (global_step - warmup_steps - hold_base_rate_steps) / decay_span
    rate = 0.5 * learning_rate_base * (1 + np.cos(progress))
    if hold_base_rate_steps > 0:
        rate = np.where(global_step > warmup_steps + hold_base_rate_steps, rate, learning_rate_base)
    if warmup_steps > 0:
        if learning_rate_base < warmup_learning_rate:
            raise ValueError("learning_rate_base must be larger or equal to warmup_learning_rate.")
        slope = (learning_rate_base - warmup_learning_rate) / warmup_steps
        rate = np.where(global_step < warmup_steps, slope * global_step + warmup_learning_rate, rate)
    return np.where(global_step > total_steps, 0.0, rate)


class WarmUpCosineDecayScheduler(keras_legacy.callbacks.Callback):
    """Per-batch callback driving :func:`cosine_decay_with_warmup`.

    ``on_batch_begin`` computes the rate for ``self.global_step`` and writes it
    into the optimizer with ``K.set_value(self.model.optimizer.lr, lr)`` (the
    Keras 2 idiom; ``optimizer.lr`` is the ``learning_rate`` variable of the
    legacy optimizers). ``on_batch_end`` advances ``global_step`` and appends
    the rate read back from the optimizer (a float32 numpy scalar) to
    ``self.learning_rates``, so ``learning_rates[i]`` is the rate step ``i``
    trained with. In ``fit`` the Keras 2 ``on_train_batch_*`` hooks forward to
    these ``on_batch_*`` methods.

    Args:
        learning_rate_base: peak rate.
        total_steps: length of the schedule in batches.
        global_step_init: starting step (e.g. when resuming).
        warmup_learning_rate: rate at step 0.
        warmup_steps: linear warmup length.
        hold_base_rate_steps: steps held at the peak after warmup.
        verbose: print the rate set at each batch when > 0.
    """

    def __init__(
        self,
        learning_rate_base: float,
        total_steps: int,
        global_step_init: int = 0,
        warmup_learning_rate: float = 0.0,
        warmup_steps: int = 0,
        hold_base_rate_steps: int = 0,
        verbose: int = 0,
    ) -> None:
        super().__init__()
        self.learning_rate_base = learning_rate_base
        self.total_steps = total_steps
        self.global_step = global_step_init
        self.warmup_learning_rate = warmup_learning_rate
        self.warmup_steps = warmup_steps
        self.hold_base_rate_steps = hold_base_rate_steps
        self.verbose = verbose
        self.learning_rates: list[Any] = []

    def on_batch_end(self, batch: int, logs: dict | None = None) -> None:
        self.global_step = self.global_step + 1
        self.learning_rates.append(K.get_value(self.model.optimizer.lr))

    def on_batch_begin(self, batch: int, logs: dict | None = None) -> None:
        lr = cosine_decay_with_warmup(
            global_step=self.global_step,
            learning_rate_base=self.learning_rate_base,
            total_steps=self.total_steps,
            warmup_learning_rate=self.warmup_learning_rate,
            warmup_steps=self.warmup_steps,
            hold_base_rate_steps=self.hold_base_rate_steps,
        )
        K.set_value(self.model.optimizer.lr, lr)
        if self.verbose > 0:
            print(f"\nBatch {self.global_step + 1:05d}: setting learning rate to {lr}.")
