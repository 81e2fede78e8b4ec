"""Padding-aware loss and accuracy of the 2021 tutorial Transformer.

Both ignore target positions holding the padding id 0 and average over the
remaining tokens of the whole batch (every real token weighs the same,
whatever its sentence's length), as the tutorial's ``loss_function`` and
``accuracy_function``. Usable directly or in ``model.compile(loss=...,
metrics=[...])``: Keras 3 passes ``y_true`` as float32 there, which is why the
ids are cast back to integers first.
"""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["masked_accuracy", "masked_sparse_categorical_crossentropy"]


def _real_and_mask(real):
    real = ops.cast(ops.convert_to_tensor(real), "int32")
    return real, ops.not_equal(real, 0)


@keras.saving.register_keras_serializable(package="modern")
def masked_sparse_categorical_crossentropy(real, pred):
    """Mean token cross-entropy from logits over the non-padding positions.

    Args:
        real: int target ids ``(batch, seq_len)``; 0 is padding.
        pred: logits ``(batch, seq_len, vocab_size)``.

    Returns:
        float scalar: ``sum(ce * mask) / sum(mask)`` (NaN if every position is
        padding, as in the tutorial).
    """
    real, mask = _real_and_mask(real)
    pred = ops.convert_to_tensor(pred)
    per_token = ops.sparse_categorical_crossentropy(real, pred, from_logits=True)
    mask = ops.cast(mask, per_token.dtype)
    return ops.divide(ops.sum(ops.multiply(per_token, mask)), ops.sum(mask))


def _first_argmax(pred):
    """Index of the largest entry along the last axis, the lowest index among ties, as int32.

    On TensorFlow this is ``top_k(k=1)``, which returns what the tutorial's
    ``tf.argmax`` returns (``-0.0`` equal to ``0.0``, lowest index among
    equal values) in one pass. ``keras.ops.argmax`` there first rewrites
    every ``-0.0`` to order it below ``0.0``: four extra passes over the
    logits (8.6 ms against 4.4 ms for ``top_k`` on the benchmark's
    ``(32, 38, 8000)`` logits alone; a seq2seq ``train_on_batch`` with this
    metric went from 96.8 to 94.7 ms, as the metric partly overlaps the
    backward pass on a second core; ``benchmarks/ab_modern_parts.py``).
    Other backends keep ``keras.ops.argmax``: torch's ``topk`` does not
    promise the lowest index among ties.
    """
    if keras.backend.backend() == "tensorflow":
        _, indices = ops.top_k(pred, k=1, sorted=False)
        return ops.cast(indices[..., 0], "int32")
    return ops.cast(ops.argmax(pred, axis=-1), "int32")


@keras.saving.register_keras_serializable(package="modern")
def masked_accuracy(real, pred):
    """Fraction of non-padding positions where ``argmax(pred) == real``.

    Args:
        real: int target ids ``(batch, seq_len)``; 0 is padding.
        pred: logits or probabilities ``(batch, seq_len, vocab_size)``.

    Returns:
        float32 scalar in ``[0, 1]``.
    """
    real, mask = _real_and_mask(real)
    predicted = _first_argmax(pred)
    hits = ops.cast(ops.logical_and(mask, ops.equal(real, predicted)), "float32")
    return ops.divide(ops.sum(hits), ops.sum(ops.cast(mask, "float32")))
