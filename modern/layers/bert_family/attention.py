"""Attention layers of keras-self-attention and keras-multi-head, called the legacy way.

Keras 2 users called these layers on a tensor or on a *list* ``[query, key,
value]`` (the form a saved model_config keeps, and the form keras-transformer's
decoder uses), with list masks. These ports take both forms, so a rebuilt
legacy graph calls them exactly as it was saved. Masked keys get the legacy
finite penalty (``-10000``) through :func:`modern.layers.attention.legacy_attention_bias`
and the attention runs through :func:`modern.layers.attention.legacy_attention`,
the kernels the Keras-2.2 ports already use.
"""

from __future__ import annotations

import keras
from keras import ops

from modern.layers._weight_options import weight_options_config
from modern.layers.bert_family._weights import library_weight, set_projection_options
from modern.layers.attention import LEGACY_MASK_VALUE, legacy_attention, legacy_attention_bias

PACKAGE = "modern.bert_family"


def _query_key_value(inputs):
    if isinstance(inputs, (list, tuple)):
        query, key, value = inputs
        return query, key, value
    return inputs, inputs, inputs


def _masks(mask):
    """``(query mask, key mask)`` from a single mask or a legacy ``[q, k, v]`` list."""
    if isinstance(mask, (list, tuple)):
        return mask[0], mask[1]
    return mask, mask


@keras.saving.register_keras_serializable(package=PACKAGE)
class ScaledDotProductAttention(keras.layers.Layer):
    """``softmax(Q K^T / sqrt(d) - 10000 * masked) V``: keras-self-attention's layer.

    ``d`` is the query width; the key mask (the second of a list of masks,
    or the one mask) and, with ``history_only``, keys after the query get
    ``-10000`` added to their logits. The query mask travels on.

    Args:
        return_attention: also return the weights ``(batch, q_len, k_len)``.
        history_only: causal attention (key index > query index masked).
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: a tensor (self-attention) or ``[query, key, value]``.
        mask: filled by Keras from the inputs' masks.

    Returns:
        ``(batch, q_len, value_dim)``, or ``[output, attention]``.
    """

    def __init__(self, return_attention=False, history_only=False, **kwargs):
        super().__init__(**kwargs)
        self.return_attention = bool(return_attention)
        self.history_only = bool(history_only)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        query, key, value = _query_key_value(inputs)
        _, key_mask = _masks(mask)
        bias = legacy_attention_bias(ops.shape(query)[1], ops.shape(key)[1], key_mask, causal=self.history_only)
        result = legacy_attention(query[:, :, None, :], key[:, :, None, :], value[:, :, None, :], bias=bias,
                                  return_attention_scores=self.return_attention)
        if self.return_attention:
            output, weights = result
            return [output[:, :, 0, :], weights[:, 0, :, :]]
        return result[:, :, 0, :]

    def compute_mask(self, inputs, mask=None):
        query_mask, _ = _masks(mask)
        return [query_mask, None] if self.return_attention else query_mask

    def compute_output_shape(self, input_shape):
        query, key, value = _query_key_value(input_shape) if isinstance(input_shape, list) else (input_shape,) * 3
        output = tuple(query[:-1]) + (value[-1],)
        return [output, tuple(query[:2]) + (key[1],)] if self.return_attention else output

    def get_config(self):
        config = super().get_config()
        config.update({"return_attention": self.return_attention, "history_only": self.history_only})
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class MultiHeadAttention(keras.layers.Layer):
    """keras-multi-head's ``MultiHeadAttention``: activated projections, legacy masks.

    ``q, k, v = act(x_q Wq + bq), act(x_k Wk + bk), act(x_v Wv + bv)``, split
    into ``head_num`` heads (head ``j`` owns features ``j*d/h .. (j+1)*d/h-1``),
    scaled dot-product attention per head (scale ``1/sqrt(d/h)``, key mask
    and ``history_only`` as :class:`ScaledDotProductAttention`), heads merged,
    ``y = act(merged Wo + bo)``. ``d`` is the *value* width.

    Weights carry the library's names, ``<name>_Wq``, ``<name>_bq``, ...,
    ``<name>_Wo``, ``<name>_bo`` (created in that order; biases only with
    ``use_bias``), with the library's shapes: ``Wq (query_dim, d)``,
    ``Wk (key_dim, d)``, ``Wv (d, d)``, ``Wo (d, d)``, biases ``(d,)``.

    Relation to :class:`modern.layers.ActivatedMultiHeadAttention`: the same
    function (that port's legacy layer is a copy of this library's), written
    for Keras 3 calls ``(query, value, key)`` with ``Dense`` sublayers; this
    one keeps the legacy call ``layer([q, k, v])`` and weight names, which
    is what a rebuilt legacy graph needs.

    Args:
        head_num: number of heads; must divide the value width.
        activation: activation of the four projections (legacy default
            ``"relu"``; keras-bert/keras-transformer pass ``None``/linear).
        use_bias: whether the projections have biases.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: for the
            projection weights.
        history_only: causal attention.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: a tensor (self-attention) or ``[query, key, value]``.
        mask: filled by Keras: one mask, or ``[q_mask, k_mask, v_mask]``.

    Returns:
        ``(batch, q_len, d)``, with the query's mask.
    """

    def __init__(self, head_num, activation="relu", use_bias=True, kernel_initializer="glorot_normal",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, history_only=False, **kwargs):
        super().__init__(**kwargs)
        if int(head_num) < 1:
            raise ValueError(f"head_num must be at least 1, got {head_num!r}")
        self.head_num = int(head_num)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        set_projection_options(self, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                               kernel_constraint, bias_constraint)
        self.history_only = bool(history_only)
        self.supports_masking = True

    def build(self, input_shape):
        query, key, value = _query_key_value(input_shape) if isinstance(input_shape, list) else (input_shape,) * 3
        width = value[-1]
        if width is None or width % self.head_num:
            raise ValueError(f"{self.name}: head_num={self.head_num} must divide the value width, got {width}")
        self.width = int(width)
        for letter, rows in (("q", query[-1]), ("k", key[-1]), ("v", value[-1]), ("o", width)):
            setattr(self, f"W{letter}", library_weight(self, f"W{letter}", (int(rows), self.width), "kernel"))
            if self.use_bias:
                setattr(self, f"b{letter}", library_weight(self, f"b{letter}", (self.width,), "bias"))

    def _project(self, x, letter):
        y = ops.matmul(x, getattr(self, f"W{letter}"))
        if self.use_bias:
            y = y + getattr(self, f"b{letter}")
        return y if self.activation is None else self.activation(y)

    def call(self, inputs, mask=None):
        query, key, value = _query_key_value(inputs)
        _, key_mask = _masks(mask)
        head_dim = self.width // self.head_num

        def heads(x):
            return ops.reshape(x, (-1, ops.shape(x)[1], self.head_num, head_dim))

        q, k, v = heads(self._project(query, "q")), heads(self._project(key, "k")), heads(self._project(value, "v"))
        bias = legacy_attention_bias(ops.shape(q)[1], ops.shape(k)[1], key_mask, causal=self.history_only,
                                     mask_value=LEGACY_MASK_VALUE)
        attended = legacy_attention(q, k, v, bias=bias)
        merged = ops.reshape(attended, (-1, ops.shape(attended)[1], self.width))
        return self._project(merged, "o")

    def compute_mask(self, inputs, mask=None):
        return _masks(mask)[0]

    def compute_output_shape(self, input_shape):
        if isinstance(input_shape, list):
            query, _, value = input_shape
            return tuple(query[:-1]) + (value[-1],)
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config.update({
            "head_num": self.head_num,
            "activation": keras.activations.serialize(self.activation),
            "use_bias": self.use_bias,
            "history_only": self.history_only,
        })
        config.update(weight_options_config(self, "kernel", "bias"))
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class SeqSelfAttention(keras.layers.Layer):
    """keras-self-attention's ``SeqSelfAttention``: additive or multiplicative self-attention.

    Emissions ``e[t, t']``:

    * ``additive``: ``Wa . tanh(x_t Wt + x_t' Wx + bh) + ba``;
    * ``multiplicative``: ``x_t Wa x_t'^T + ba``;

    then ``attention_activation`` (if any); with ``attention_width`` (or
    ``history_only``, which sets the width to 1e9 when none is given) keys
    outside the local window (``[t - width//2, t - width//2 + width)``, or
    ``[t - width + 1, t]`` for ``history_only``) get ``-10000``; with a mask,
    ``-10000`` goes to the pairs where *both* the query and the key are
    masked (the library's rule, kept). ``a = softmax(e)``, written out as the
    library did; output ``a . x``. With ``attention_regularizer_weight > 0``
    the layer adds ``weight * sum((a a^T - I)^2) / batch`` to its losses.

    Weights carry the library's names: additive ``<name>_Add_Wt (dim, units)``,
    ``<name>_Add_Wx (dim, units)``, ``<name>_Add_bh (units,)``,
    ``<name>_Add_Wa (units, 1)``, ``<name>_Add_ba (1,)``; multiplicative
    ``<name>_Mul_Wa (dim, dim)``, ``<name>_Mul_ba (1,)``.

    Args:
        units: width of the additive hidden layer.
        attention_width: local window width (``None``: global).
        attention_type: ``"additive"`` or ``"multiplicative"``.
        return_attention: also return ``a``.
        history_only: attend to past and present only.
        kernel_initializer, bias_initializer, kernel_regularizer,
        bias_regularizer, kernel_constraint, bias_constraint: for the weights.
        use_additive_bias: ``bh`` in the additive emission.
        use_attention_bias: ``ba``.
        attention_activation: applied to the emissions.
        attention_regularizer_weight: weight of the attention regularizer.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: ``(batch, seq, dim)``.
        mask: ``(batch, seq)``, filled by Keras.

    Returns:
        ``(batch, seq, dim)``, or ``[output, attention (batch, seq, seq)]``.
    """

    def __init__(self, units=32, attention_width=None, attention_type="additive", return_attention=False,
                 history_only=False, kernel_initializer="glorot_normal", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, kernel_constraint=None, bias_constraint=None,
                 use_additive_bias=True, use_attention_bias=True, attention_activation=None,
                 attention_regularizer_weight=0.0, **kwargs):
        super().__init__(**kwargs)
        if attention_type not in ("additive", "multiplicative"):
            raise ValueError(f"attention_type must be 'additive' or 'multiplicative', got {attention_type!r}")
        self.units = int(units)
        self.history_only = bool(history_only)
        self.attention_width = int(1e9) if history_only and attention_width is None else attention_width
        self.attention_type = attention_type
        self.return_attention = bool(return_attention)
        set_projection_options(self, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                               kernel_constraint, bias_constraint)
        self.use_additive_bias = bool(use_additive_bias)
        self.use_attention_bias = bool(use_attention_bias)
        self.attention_activation = keras.activations.get(attention_activation)
        self.attention_regularizer_weight = float(attention_regularizer_weight)
        self.supports_masking = True

    def build(self, input_shape):
        dim = int(input_shape[-1])
        if self.attention_type == "additive":
            # Creation order Wt, Wx, bh, Wa, ba is the library's weight order.
            self.Wt = library_weight(self, "Add_Wt", (dim, self.units), "kernel")
            self.Wx = library_weight(self, "Add_Wx", (dim, self.units), "kernel")
            if self.use_additive_bias:
                self.bh = library_weight(self, "Add_bh", (self.units,), "bias")
            self.Wa = library_weight(self, "Add_Wa", (self.units, 1), "kernel")
            if self.use_attention_bias:
                self.ba = library_weight(self, "Add_ba", (1,), "bias")
        else:
            self.Wa = library_weight(self, "Mul_Wa", (dim, dim), "kernel")
            if self.use_attention_bias:
                self.ba = library_weight(self, "Mul_ba", (1,), "bias")

    def _emissions(self, x):
        if self.attention_type == "additive":
            hidden = ops.matmul(x, self.Wt)[:, :, None, :] + ops.matmul(x, self.Wx)[:, None, :, :]
            if self.use_additive_bias:
                hidden = hidden + self.bh
            e = ops.squeeze(ops.matmul(ops.tanh(hidden), self.Wa), axis=-1)
        else:
            e = ops.matmul(ops.matmul(x, self.Wa), ops.transpose(x, (0, 2, 1)))
        if self.use_attention_bias:
            e = e + self.ba[0]
        return e

    def call(self, inputs, mask=None):
        e = self._emissions(inputs)
        if self.attention_activation is not None:
            e = self.attention_activation(e)
        length = ops.shape(inputs)[1]
        if self.attention_width is not None:
            width = int(self.attention_width)
            start = ops.arange(length) - ((width - 1) if self.history_only else width // 2)
            keys = ops.arange(length)[None, :]
            inside = ops.logical_and(start[:, None] <= keys, keys < start[:, None] + width)
            e = e - 10000.0 * (1.0 - ops.cast(inside, e.dtype))
        if mask is not None:
            keep = ops.cast(mask, e.dtype)[:, :, None]
            e = e - 10000.0 * ((1.0 - keep) * (1.0 - ops.transpose(keep, (0, 2, 1))))
        e = ops.exp(e - ops.max(e, axis=-1, keepdims=True))
        a = e / ops.sum(e, axis=-1, keepdims=True)
        output = ops.matmul(a, inputs)
        if self.attention_regularizer_weight > 0.0:
            self.add_loss(self.attention_regularizer(a))
        return [output, a] if self.return_attention else output

    def attention_regularizer(self, attention):
        """``weight * sum((a a^T - I)^2) / batch``, the library's penalty on attention that is not one-to-one."""
        batch = ops.cast(ops.shape(attention)[0], attention.dtype)
        eye = ops.eye(ops.shape(attention)[-1], dtype=attention.dtype)
        gram = ops.matmul(attention, ops.transpose(attention, (0, 2, 1)))
        return self.attention_regularizer_weight * ops.sum(ops.square(gram - eye)) / batch

    def compute_mask(self, inputs, mask=None):
        return [mask, None] if self.return_attention else mask

    def compute_output_shape(self, input_shape):
        input_shape = tuple(input_shape)
        if self.return_attention:
            return [input_shape, (input_shape[0], input_shape[1], input_shape[1])]
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update({
            "units": self.units,
            "attention_width": self.attention_width,
            "attention_type": self.attention_type,
            "return_attention": self.return_attention,
            "history_only": self.history_only,
            "use_additive_bias": self.use_additive_bias,
            "use_attention_bias": self.use_attention_bias,
            "attention_activation": keras.activations.serialize(self.attention_activation),
            "attention_regularizer_weight": self.attention_regularizer_weight,
        })
        config.update(weight_options_config(self, "kernel", "bias"))
        return config


__all__ = ["MultiHeadAttention", "ScaledDotProductAttention", "SeqSelfAttention"]
