"""The attention core both attention families share: ``softmax(q k^T * scale + bias) v``.

``keras.ops.dot_product_attention`` is the right call where the backend has
a fused kernel (jax and torch: cuDNN / flash / SDPA kernels on GPUs, XLA
fusions on CPUs). TensorFlow has none: its ``dot_product_attention`` is two
``tf.einsum`` calls in the ``(batch, seq, heads, depth)`` layout, which the
oneDNN build of TensorFlow runs as ``_MklEinsum`` with internal relayouts,
forward and backward. On that backend the same arithmetic is cheaper as the
legacy layers wrote it: heads moved in front of the sequence axis, then
batched ``matmul`` (``BatchMatMulV2``). Measured on the benchmark sizes
(``benchmarks/README.md``): about 30 % less time for the attention core,
forward and backward.

Both forms compute the same products in float32 and the same softmax; they
differ only in the summation order inside the kernels (differences of a few
ulps, far below the 1e-5 the goldens allow).
"""

from __future__ import annotations

import keras
from keras import ops


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
