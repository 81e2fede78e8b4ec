"""Keras 3 ports of the Keras-2.2 attention layers (``ScaledDotProductAttention``,
``MultiHeadAttention`` of the CyberZHG ``keras-multi-head`` family, as copied
into the 2021 transformer-classifier blog post).

Both reproduce the legacy masking exactly: masked or future keys get a
*finite* additive penalty (``-10000`` by default), not ``-inf`` and not a
boolean mask. In float32 ``exp(-10000)`` is exactly 0, so ordinary rows are
unchanged, and a row whose keys are all masked still gets the softmax of its
unmasked logits (shifted by the penalty) instead of NaN or zeros -- which is
what models trained with the legacy layer saw.
"""

from __future__ import annotations

import keras
from keras import ops

from modern.layers._attention_kernel import attention
from modern.layers._weight_options import weight_options, weight_options_config

# The legacy layers' penalty for masked and future keys.
LEGACY_MASK_VALUE = -10000.0


def _key_padding_mask(mask, query_mask=None, value_mask=None, key_mask=None, key_given=False):
    """Pick the mask of the keys among the masks Keras or the caller passed.

    Keras fills ``mask`` when the layer is called with one tensor and
    ``<arg>_mask`` when it is called with several; the legacy layers only
    ever used the mask of the keys.
    """
    if isinstance(mask, (list, tuple)):
        # Legacy list form [query_mask, key_mask, value_mask].
        mask = mask[1]
    if key_given and key_mask is not None:
        return key_mask
    if value_mask is not None:
        return value_mask
    return mask


def legacy_attention_bias(query_len, key_len, key_padding_mask=None, causal=False, mask_value=LEGACY_MASK_VALUE):
    """The additive logits bias of the legacy attention, ``(batch|1, 1, q_len, k_len)`` or ``None``.

    ``mask_value * [key_index > query_index]`` when ``causal`` (indices
    compared as they are, as the legacy ``history_only`` did, also for
    different lengths) plus ``mask_value * (1 - key_padding_mask)`` broadcast
    over queries. Each term is exactly the legacy ``10000.0 * (...)``, so
    adding it to the logits rounds exactly as the legacy subtraction did.

    Args:
        query_len: query length (int or scalar tensor).
        key_len: key length (int or scalar tensor).
        key_padding_mask: optional ``(batch, key_len)`` mask, true/1 = keep.
        causal: add the future-key penalty.
        mask_value: the (negative) additive penalty.

    Returns:
        A float32 tensor broadcastable to ``(batch, heads, q_len, k_len)``,
        or ``None`` when there is nothing to mask.
    """
    bias = None
    if causal:
        future = ops.arange(key_len)[None, :] > ops.arange(query_len)[:, None]
        bias = (mask_value * ops.cast(future, "float32"))[None, None, :, :]
    if key_padding_mask is not None:
        keep = ops.cast(key_padding_mask, "float32")
        padding = (mask_value * (1.0 - keep))[:, None, None, :]
        bias = padding if bias is None else bias + padding
    return bias


def legacy_attention(query, key, value, bias=None, return_attention_scores=False):
    """Softmax attention on ``(batch, seq, heads, head_dim)`` tensors with an additive bias.

    Logits are ``q . k / sqrt(head_dim)`` (the legacy scaling) plus
    ``bias``; the computation is :func:`modern.layers._attention_kernel.attention`
    (the backend's fused attention where it has one, batched ``matmul`` on
    TensorFlow; explicit weights when they are to be returned).

    Args:
        query: ``(batch, q_len, heads, head_dim)``.
        key: ``(batch, k_len, heads, head_dim)``.
        value: ``(batch, k_len, heads, value_dim)``.
        bias: optional additive bias broadcastable to
            ``(batch, heads, q_len, k_len)``, see :func:`legacy_attention_bias`.
        return_attention_scores: also return the softmax weights.

    Returns:
        ``(batch, q_len, heads, value_dim)``, and with
        ``return_attention_scores`` the weights ``(batch, heads, q_len, k_len)``.
    """
    return attention(query, key, value, bias=bias, return_attention_scores=return_attention_scores)


class _LegacyMaskedAttention(keras.layers.Layer):
    """What the two legacy attention ports share: arguments, masks and call signature.

    Holds ``causal`` and ``mask_value``, resolves the Keras 3 call (query,
    optional value and key, the masks Keras fills in) into the tensors and
    the additive bias of the legacy masking, and hands them to
    :meth:`_attend`, which each subclass implements.
    """

    def __init__(self, causal=False, mask_value=LEGACY_MASK_VALUE, **kwargs):
        super().__init__(**kwargs)
        self.causal = bool(causal)
        self.mask_value = float(mask_value)
        self.supports_masking = True

    def call(
        self,
        query,
        value=None,
        key=None,
        mask=None,
        query_mask=None,
        value_mask=None,
        key_mask=None,
        return_attention_scores=False,
    ):
        key_given = key is not None
        value = query if value is None else value
        key = value if key is None else key
        padding = _key_padding_mask(mask, query_mask, value_mask, key_mask, key_given)
        bias = legacy_attention_bias(
            ops.shape(query)[1], ops.shape(key)[1], padding, causal=self.causal, mask_value=self.mask_value
        )
        return self._attend(query, value, key, bias, return_attention_scores)

    def _attend(self, query, value, key, bias, return_attention_scores):
        """The attention proper, given the resolved inputs and the additive ``bias``."""
        raise NotImplementedError

    def get_config(self):
        config = super().get_config()
        config.update({"causal": self.causal, "mask_value": self.mask_value})
        return config


@keras.saving.register_keras_serializable(package="modern")
class ScaledDotProductAttention(_LegacyMaskedAttention):
    """Single-head ``softmax(Q K^T / sqrt(d)) V`` with the legacy additive masks.

    Weightless Keras 3 port of the Keras-2.2 ``ScaledDotProductAttention``:
    ``d`` is the query width, masked keys and (with ``causal``) future keys
    get ``mask_value`` added to their logits.

    Legacy call ``layer([q, k, v], mask=[None, key_mask, None])`` becomes
    ``layer(q, v, key=k, key_mask=key_mask)`` (Keras 3 argument order:
    query, value, key); ``layer(x)`` stays ``layer(x)`` and then ``mask`` is
    the key mask. ``history_only=True`` becomes ``causal=True``;
    ``return_attention=True`` becomes the call argument
    ``return_attention_scores=True``.

    Args:
        causal: penalise keys whose index is larger than the query's
            (legacy ``history_only``).
        mask_value: additive penalty for masked and future keys
            (legacy: ``-10000.0``).
        **kwargs: standard layer arguments.

    Call arguments:
        query: ``(batch, q_len, d)``.
        value: ``(batch, k_len, d_v)``; defaults to ``query``.
        key: ``(batch, k_len, d)``; defaults to ``value``.
        mask: key padding mask ``(batch, k_len)`` (true = keep) for a
            self-attention call; filled by Keras from the input's mask.
        query_mask, value_mask, key_mask: per-input masks, filled by Keras
            when several tensors are passed. The key mask (else the value
            mask) masks keys; the query mask only travels on to the output.
        return_attention_scores: also return the weights.

    Returns:
        ``(batch, q_len, d_v)``, and with ``return_attention_scores`` the
        weights ``(batch, q_len, k_len)``.
    """

    def _attend(self, query, value, key, bias, return_attention_scores):
        # A single "head" axis lets the multi-head kernel do the work.
        result = legacy_attention(
            query[:, :, None, :],
            key[:, :, None, :],
            value[:, :, None, :],
            bias=bias,
            return_attention_scores=return_attention_scores,
        )
        if return_attention_scores:
            output, weights = result
            return output[:, :, 0, :], weights[:, 0, :, :]
        return result[:, :, 0, :]


@keras.saving.register_keras_serializable(package="modern")
class ActivatedMultiHeadAttention(_LegacyMaskedAttention):
    """Multi-head attention with an activation on every projection (Keras-2.2 port).

    Keras 3 port of the Keras-2.2 ``MultiHeadAttention`` used by the 2021
    transformer-classifier blog post. Unlike ``keras.layers.MultiHeadAttention``
    it applies ``activation`` (``"relu"`` by default, as the legacy layer did)
    to the query, key and value projections *and* to the output projection;
    masks are additive (``mask_value``, legacy ``-10000``) and the logits are
    scaled by ``1 / sqrt(head_dim)``:

    ``q, k, v = act(x_q Wq + bq), act(x_k Wk + bk), act(x_v Wv + bv)``, split
    into ``num_heads`` heads (head ``j`` owns features ``j * head_dim ..
    (j + 1) * head_dim - 1``), ``softmax(q k^T / sqrt(head_dim) + bias) v``
    per head, heads merged, ``y = act(merged Wo + bo)``.

    The attention itself runs through ``keras.ops.dot_product_attention``
    (layout ``(batch, seq, heads, head_dim)``, the masks as its additive
    ``bias``), so fused kernels are used where the backend has them (on
    TensorFlow, which has none, batched ``matmul``, the faster form there); with
    ``return_attention_scores=True`` the weights are computed explicitly.

    Weights (created in ``build``, paths relative to the layer). Each
    projection is a ``keras.layers.Dense`` sublayer with a 2-D kernel laid
    out exactly like the legacy weight, so a port copies arrays unchanged:

    * ``query/kernel`` ``(query_dim, value_dim)`` <- ``<name>_Wq``;
      ``query/bias`` ``(value_dim,)`` <- ``<name>_bq``
    * ``key/kernel`` ``(key_dim, value_dim)`` <- ``<name>_Wk``;
      ``key/bias`` <- ``<name>_bk``
    * ``value/kernel`` ``(value_dim, value_dim)`` <- ``<name>_Wv``;
      ``value/bias`` <- ``<name>_bv``
    * ``attention_output/kernel`` ``(value_dim, value_dim)`` <- ``<name>_Wo``;
      ``attention_output/bias`` <- ``<name>_bo``

    (biases only with ``use_bias``; the rows live in
    :mod:`modern.weight_maps.keras22`). As in the legacy layer the model
    width is the *value* width, which ``num_heads`` must divide, and the
    kernels default to ``glorot_normal`` on their 2-D shapes.

    Legacy call mapping: ``layer(x)`` and ``layer(x, mask=m)`` are unchanged
    (``m`` masks the keys); ``layer([q, k, v])`` becomes
    ``layer(q, v, key=k)``; ``history_only=True`` becomes ``causal=True``;
    ``head_num`` becomes ``num_heads``; legacy ``layer.attention`` becomes
    ``return_attention_scores=True``.

    Args:
        num_heads: number of heads; must divide the value width.
        activation: activation of the four projections (legacy ``"relu"``;
            ``None`` for linear projections).
        use_bias: whether the projections have biases.
        causal: penalise keys whose index is larger than the query's
            (legacy ``history_only``).
        mask_value: additive penalty for masked and future keys
            (legacy ``-10000.0``).
        kernel_initializer: initializer of the four kernels.
        bias_initializer: initializer of the four biases.
        kernel_regularizer: regularizer of the four kernels.
        bias_regularizer: regularizer of the four biases.
        kernel_constraint: constraint of the four kernels.
        bias_constraint: constraint of the four biases.
        **kwargs: standard layer arguments (``name``, ``dtype``...).

    Call arguments:
        query: ``(batch, q_len, query_dim)``.
        value: ``(batch, k_len, value_dim)``; defaults to ``query``
            (self-attention).
        key: ``(batch, k_len, key_dim)``; defaults to ``value``.
        mask: key padding mask ``(batch, k_len)`` (true = keep) for a
            self-attention call; Keras fills it from the input's mask
            (e.g. ``Embedding(mask_zero=True)``). A legacy
            ``[q_mask, k_mask, v_mask]`` list is accepted (its key mask is
            used).
        query_mask, value_mask, key_mask: per-input masks, filled by Keras
            when several tensors are passed. The key mask (else the value
            mask) masks keys; masked *queries* are computed like any other
            (as in the legacy layer) and their mask travels on.
        return_attention_scores: also return the attention weights.

    Returns:
        ``(batch, q_len, value_dim)``, and with ``return_attention_scores``
        the weights ``(batch, num_heads, q_len, k_len)``.

    Example:

    >>> x = keras.random.normal((2, 6, 16))
    >>> ActivatedMultiHeadAttention(num_heads=4)(x).shape
    (2, 6, 16)
    """

    def __init__(
        self,
        num_heads,
        activation="relu",
        use_bias=True,
        causal=False,
        mask_value=LEGACY_MASK_VALUE,
        kernel_initializer="glorot_normal",
        bias_initializer="zeros",
        kernel_regularizer=None,
        bias_regularizer=None,
        kernel_constraint=None,
        bias_constraint=None,
        **kwargs,
    ):
        super().__init__(causal=causal, mask_value=mask_value, **kwargs)
        if int(num_heads) < 1:
            raise ValueError(f"num_heads must be at least 1, got {num_heads!r}")
        self.num_heads = int(num_heads)
        self.activation = keras.activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer, self.kernel_regularizer, self.kernel_constraint = weight_options(
            kernel_initializer, kernel_regularizer, kernel_constraint
        )
        self.bias_initializer, self.bias_regularizer, self.bias_constraint = weight_options(
            bias_initializer, bias_regularizer, bias_constraint
        )

    def _projection(self, units, name):
        # Initializers are rebuilt from their config for every projection so
        # that an unseeded initializer gives each kernel its own draw (the
        # legacy layer drew Wq, Wk, Wv, Wo independently).
        return keras.layers.Dense(
            units,
            activation=self.activation,
            use_bias=self.use_bias,
            kernel_initializer=keras.initializers.get(keras.initializers.serialize(self.kernel_initializer)),
            bias_initializer=keras.initializers.get(keras.initializers.serialize(self.bias_initializer)),
            kernel_regularizer=self.kernel_regularizer,
            bias_regularizer=self.bias_regularizer,
            kernel_constraint=self.kernel_constraint,
            bias_constraint=self.bias_constraint,
            dtype=self.dtype_policy,
            name=name,
        )

    def build(self, query_shape, value_shape=None, key_shape=None):
        value_shape = query_shape if value_shape is None else value_shape
        key_shape = value_shape if key_shape is None else key_shape
        model_dim = value_shape[-1]
        if model_dim is None or model_dim % self.num_heads:
            raise ValueError(
                f"{self.name}: num_heads={self.num_heads} must divide the value width, got {model_dim}"
            )
        self.model_dim = int(model_dim)
        self.head_dim = self.model_dim // self.num_heads
        # Sublayer names are part of the variable paths the weight maps use.
        self.query_dense = self._projection(self.model_dim, "query")
        self.query_dense.build(query_shape)
        self.key_dense = self._projection(self.model_dim, "key")
        self.key_dense.build(key_shape)
        self.value_dense = self._projection(self.model_dim, "value")
        self.value_dense.build(value_shape)
        self.output_dense = self._projection(self.model_dim, "attention_output")
        self.output_dense.build(tuple(query_shape[:-1]) + (self.model_dim,))

    def _split_heads(self, x):
        return ops.reshape(x, (-1, ops.shape(x)[1], self.num_heads, self.head_dim))

    def _attend(self, query, value, key, bias, return_attention_scores):
        q = self._split_heads(self.query_dense(query))
        k = self._split_heads(self.key_dense(key))
        v = self._split_heads(self.value_dense(value))
        result = legacy_attention(q, k, v, bias=bias, return_attention_scores=return_attention_scores)
        attended, weights = result if return_attention_scores else (result, None)
        merged = ops.reshape(attended, (-1, ops.shape(attended)[1], self.model_dim))
        output = self.output_dense(merged)
        if return_attention_scores:
            return output, weights
        return output

    def get_config(self):
        config = super().get_config()
        config.update(
            {
                "num_heads": self.num_heads,
                "activation": keras.activations.serialize(self.activation),
                "use_bias": self.use_bias,
            }
        )
        config.update(weight_options_config(self, "kernel", "bias"))
        return config


__all__ = [
    "LEGACY_MASK_VALUE",
    "ActivatedMultiHeadAttention",
    "ScaledDotProductAttention",
    "legacy_attention",
    "legacy_attention_bias",
]
