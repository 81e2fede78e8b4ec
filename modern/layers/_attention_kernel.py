"""The attention core both attention families share, and the speed work Keras has no hook for.

This module is the one place where ``modern`` departs from plain Keras
calls for speed. Everything in it is public Keras API (``keras.ops``,
``keras.layers.EinsumDense`` subclassed through its public ``call``); no
private Keras attribute or ``keras.src`` module is used anywhere in
``modern``.

**The attention core**, ``softmax(q k^T / sqrt(depth) + bias) v``.
``keras.ops.dot_product_attention`` is the right call where the backend has
a fused kernel (jax and torch: cuDNN / flash / SDPA kernels on GPUs, XLA
fusions on CPUs). TensorFlow has none: its ``dot_product_attention`` is two
``tf.einsum`` calls in the ``(batch, seq, heads, depth)`` layout, which the
oneDNN build of TensorFlow runs as ``_MklEinsum`` with internal relayouts,
forward and backward. On that backend the same arithmetic is cheaper as the
legacy layers wrote it: heads moved in front of the sequence axis, then
batched ``matmul`` (``BatchMatMulV2``). Measured at the benchmark sizes
(``benchmarks/ab_modern_parts.py --only kernels``): about 25 % less time
for the attention core, forward and backward. Both forms compute the same
products in float32 and the same softmax; they differ only in the summation
order inside the kernels (differences of a few ulps, far below the 1e-5 the
goldens allow).

**The projections** (:class:`FlatMatmulEinsumDense`). The hook Keras lacks:
``keras.layers.MultiHeadAttention`` creates its projections as plain
``EinsumDense`` inside its ``build`` and offers no argument or method to
choose their class, and its attention core can only be replaced by
overriding its private ``_compute_attention``. Using it would therefore mean
either private overrides or swapping ``__class__`` on the built sublayers.
Instead, :class:`~modern.layers.additive_mask_attention.AdditiveMaskMultiHeadAttention`
builds its four projections itself as :class:`FlatMatmulEinsumDense`, with
``MultiHeadAttention``'s equations, names and variables, so weight paths
and ``.keras`` files are those of the stock layer.
"""

from __future__ import annotations

import math

import keras
from keras import ops


def attention(query, key, value, bias=None, return_attention_scores=False, flash_attention=None):
    """``softmax(q k^T / sqrt(depth) + bias) v`` on ``(batch, seq, heads, depth)`` tensors.

    Without ``return_attention_scores`` (and with equal key and value
    depths, which jax's fused kernel requires) this is
    :func:`dot_product_attention`: the backend's fused kernel, batched
    ``matmul`` on TensorFlow. Otherwise the weights are computed explicitly
    in the legacy layers' order of operations (product, division by
    ``sqrt(depth)``, bias, softmax) and can be returned.

    Args:
        query: ``(batch, q_len, heads, depth)``.
        key: ``(batch, k_len, heads, depth)``.
        value: ``(batch, k_len, heads, value_depth)``.
        bias: optional additive logits bias broadcastable to
            ``(batch, heads, q_len, k_len)``.
        return_attention_scores: also return the weights
            ``(batch, heads, q_len, k_len)``.
        flash_attention: passed on to ``keras.ops.dot_product_attention``.

    Returns:
        ``(batch, q_len, heads, value_depth)``, and with
        ``return_attention_scores`` also the weights.
    """
    depth = query.shape[-1]
    if not return_attention_scores and value.shape[-1] == depth:
        return dot_product_attention(
            query, key, value, bias=bias, scale=1.0 / math.sqrt(depth), flash_attention=flash_attention
        )
    # The legacy layers divide by sqrt(float(depth)); do the same, not a multiply.
    logits = ops.einsum("btnh,bsnh->bnts", query, key) / ops.sqrt(ops.cast(depth, query.dtype))
    if bias is not None:
        logits = logits + ops.cast(bias, logits.dtype)
    if logits.shape[-1] == 1:
        # One key: the softmax is exactly 1 (Keras warns about a size-1 softmax
        # axis, and greedy decoding legitimately starts with one token).
        weights = ops.ones_like(logits)
    else:
        weights = ops.softmax(logits, axis=-1)
    output = ops.einsum("bnts,bsnh->btnh", weights, value)
    return (output, weights) if return_attention_scores else output


def dot_product_attention(query, key, value, bias=None, scale=1.0, flash_attention=None):
    """``softmax(q k^T * scale + bias) v`` on ``(batch, seq, heads, depth)`` tensors.

    Args:
        query: ``(batch, q_len, heads, depth)``.
        key: ``(batch, k_len, heads, depth)``.
        value: ``(batch, k_len, heads, depth)``.
        bias: optional additive logits bias broadcastable to
            ``(batch, heads, q_len, k_len)``; cast to the query's dtype.
        scale: multiplier of the logits (``1 / sqrt(depth)``).
        flash_attention: passed on to ``keras.ops.dot_product_attention``
            (ignored on TensorFlow, which has no flash kernel).

    Returns:
        ``(batch, q_len, heads, depth)``.
    """
    if bias is not None:
        bias = ops.cast(bias, query.dtype)
    if keras.backend.backend() != "tensorflow":
        return ops.dot_product_attention(
            query, key, value, bias=bias, scale=scale, flash_attention=flash_attention
        )
    heads_first = (0, 2, 1, 3)
    logits = ops.matmul(ops.transpose(query, heads_first), ops.transpose(key, (0, 2, 3, 1)))
    logits = ops.multiply(logits, ops.cast(scale, logits.dtype))
    if bias is not None:
        logits = ops.add(logits, bias)
    # Softmax in float32 at least, as keras.ops.dot_product_attention does.
    probs_dtype = keras.backend.result_type(logits.dtype, "float32")
    weights = ops.cast(ops.softmax(ops.cast(logits, probs_dtype), axis=-1), value.dtype)
    return ops.transpose(ops.matmul(weights, ops.transpose(value, heads_first)), heads_first)


class FlatMatmulEinsumDense(keras.layers.EinsumDense):
    """``EinsumDense`` whose tensordot-shaped equations run as one 2-D ``matmul`` on TensorFlow.

    ``keras.layers.MultiHeadAttention`` projects with ``EinsumDense``
    equations such as ``abc,cde->abde`` (to heads) and ``abcd,cde->abe``
    (back). On TensorFlow, ``tf.einsum`` runs these as a batch of small
    ``BatchMatMulV2`` products with the kernel broadcast over the batch, and
    its gradients as ``_MklEinsum``; the legacy layers ran the same
    arithmetic as one ``(tokens, d) x (d, d)`` ``MatMul``, which is faster
    (forward and backward). This subclass does that: it flattens the free
    input axes and the contracted axes, multiplies, and restores the shape.
    Other equations, other backends (whose einsum is already a single
    product) and quantized layers (dispatched by Keras to ``quantized_call``)
    keep ``EinsumDense``'s own path. Variables, names and config are
    ``EinsumDense``'s, so weights and ``.keras`` files are unchanged.
    """

    def call(self, inputs, training=None):
        # A string parse per trace (compiled functions trace once), so nothing is stored.
        split = _tensordot_split(self.equation)
        if split is None or keras.backend.backend() != "tensorflow":
            return super().call(inputs, training=training)
        free, contracted = split
        kernel = self.kernel
        new_dims = tuple(kernel.shape[contracted:])
        contracted_size = math.prod(kernel.shape[:contracted])
        free_shape = [ops.shape(inputs)[axis] for axis in range(free)]
        flat = ops.matmul(
            ops.reshape(inputs, (-1, contracted_size)), ops.reshape(kernel, (contracted_size, math.prod(new_dims)))
        )
        x = ops.reshape(flat, (*free_shape, *new_dims))
        if self.bias is not None:
            x = ops.add(x, self.bias)
        if self.activation is not None:
            x = self.activation(x)
        return x


def _tensordot_split(equation):
    """``(free, contracted)`` axis counts if ``equation`` is a plain tensordot, else ``None``.

    A plain tensordot ``<free><contracted>,<contracted><new>-><free><new>``
    contracts the input's trailing axes with the kernel's leading ones, in
    order, and keeps every other axis in place (no ellipsis, no repeats).
    """
    try:
        operands, output = equation.replace(" ", "").split("->")
        inputs, kernel = operands.split(",")
    except ValueError:
        return None
    if "." in equation or len(set(inputs + kernel)) != len(inputs + kernel) - len(set(inputs) & set(kernel)):
        return None
    contracted = [axis for axis in inputs if axis in kernel and axis not in output]
    count = len(contracted)
    if not count or inputs[len(inputs) - count:] != "".join(contracted) or kernel[:count] != "".join(contracted):
        return None
    free = inputs[: len(inputs) - count]
    if output != free + kernel[count:]:
        return None
    return len(free), count

