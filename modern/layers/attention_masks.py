"""Attention masks of the 2021 tutorial Transformer as Keras keep-masks.

Keras 3 masks are boolean "keep" masks (``True`` = may attend); the
tutorial built float "block" masks (``1.0`` = blocked) with an extra head
axis. :func:`attention_mask_from_legacy` converts one into the other; the
other functions build from token ids the masks the tutorial's
``create_masks`` built, and the one of a decoding step over a key/value
cache.
"""

from __future__ import annotations

from keras import ops

__all__ = ["attention_mask_from_legacy", "cached_causal_padding_mask", "causal_padding_mask", "padding_mask"]


def padding_mask(token_ids, pad_id=0):
    """Keep-mask over the keys of a padded id sequence.

    Args:
        token_ids: int tensor ``(batch, seq_len)``.
        pad_id: the padding id (the tutorial uses 0).

    Returns:
        bool tensor ``(batch, 1, seq_len)``, ``True`` where the token is not
        padding; it broadcasts over query positions as an ``attention_mask``.
        The tutorial's ``create_padding_mask`` is its float inverse with an
        extra head axis.
    """
    token_ids = ops.convert_to_tensor(token_ids)
    keep = ops.not_equal(token_ids, ops.cast(pad_id, token_ids.dtype))
    return ops.expand_dims(keep, axis=1)


def causal_padding_mask(token_ids, pad_id=0):
    """Decoder self-attention keep-mask: causal and not padding.

    Query ``i`` may attend to key ``j`` when ``j <= i`` and token ``j`` is not
    padding: the boolean inverse of the tutorial's
    ``maximum(create_padding_mask(tar), create_look_ahead_mask(len))``.

    Args:
        token_ids: int tensor ``(batch, seq_len)``.
        pad_id: the padding id.

    Returns:
        bool tensor ``(batch, seq_len, seq_len)``.
    """
    keep = padding_mask(token_ids, pad_id)
    length = ops.shape(keep)[-1]
    positions = ops.arange(length)
    causal = ops.greater_equal(ops.expand_dims(positions, 1), ops.expand_dims(positions, 0))
    return ops.logical_and(ops.expand_dims(causal, 0), keep)


def cached_causal_padding_mask(token_ids, position, pad_id=0):
    """Keep-mask of one decoding position over a fixed-length key/value cache.

    Row ``position`` of :func:`causal_padding_mask`: the query at
    ``position`` may attend to cache slot ``j`` when ``j <= position`` and
    token ``j`` is not padding. Slots after ``position`` hold no key yet (or a
    stale one); they are blocked like the tutorial's look-ahead positions, so
    with the additive mask their weights are exactly 0 and a cache of any
    length gives the weights of the exact-length call.

    Args:
        token_ids: int tensor ``(batch, cache_len)``, the ids decoded so far
            at their positions (whatever follows ``position`` is ignored).
        position: int scalar tensor (or Python int), the query's position.
        pad_id: the padding id.

    Returns:
        bool tensor ``(batch, 1, cache_len)``: the ``attention_mask`` of a
        one-token query over the cache.
    """
    keep = padding_mask(token_ids, pad_id)
    slots = ops.arange(ops.shape(keep)[-1], dtype="int32")
    seen = ops.less_equal(slots, ops.cast(position, "int32"))
    return ops.logical_and(keep, seen)


def attention_mask_from_legacy(mask):
    """Convert a tutorial (additive, 1.0 = blocked) mask into a Keras keep-mask.

    Accepts the shapes the tutorial builds: ``(batch, 1, 1, seq_k)`` padding
    masks, ``(batch, 1, seq_q, seq_k)`` combined look-ahead masks (the size-1
    head axis is dropped) and ``(seq_q, seq_k)`` look-ahead masks (kept as is;
    it broadcasts over the batch).

    Args:
        mask: float array or tensor, 1.0 where attention is blocked.

    Returns:
        bool tensor, ``True`` where attention is allowed, broadcastable to
        ``(batch, seq_q, seq_k)``; ``None`` for ``None``.
    """
    if mask is None:
        return None
    mask = ops.convert_to_tensor(mask)
    if len(mask.shape) == 4:
        if mask.shape[1] != 1:
            raise ValueError(
                "a legacy mask of rank 4 must have a head axis of size 1 (it is broadcast over heads), "
                f"got {mask.shape}"
            )
        mask = ops.squeeze(mask, axis=1)
    elif len(mask.shape) not in (2, 3):
        raise ValueError(f"a legacy attention mask has rank 2, 3 or 4, got shape {mask.shape}")
    return ops.less(ops.cast(mask, "float32"), 0.5)
