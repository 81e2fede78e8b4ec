"""keras-xlnet's ``PermutationMask``: which keys each position may attend to, in factorisation order.

Query position ``j`` of the segment may see key ``i`` of the segment when
``i <= order[j]``, and always sees the memory. ``order`` is:

==============================  ================================================
case                            order[j]
==============================  ================================================
inference, directional          ``j`` (causal)
inference, bidirectional        ``j + seq_len`` (everything)
training, ``enabled``           ``p[j]`` for one random permutation ``p`` of the
                                positions, the same for every row of the batch
training, not ``enabled``       as in inference
==============================  ================================================

The content stream gets that mask; the query stream the same without the
diagonal (a position never sees its own token). Training draws ``p`` from
the layer's own seed generator (the library used TensorFlow's stateful
``random_shuffle``); a draw cannot equal the library's, the distribution does.
"""

from __future__ import annotations

import keras
from keras import ops

PACKAGE = "modern.xlnet_family"


@keras.saving.register_keras_serializable(package=PACKAGE)
class PermutationMask(keras.layers.Layer):
    """The content and query attention masks of XLNet's two-stream attention.

    Args:
        enabled: draw a random factorisation order in training.
        directional: a one-directional model (causal in inference).
        seed: seed of the training draws (``None``: unseeded).
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: ``[hidden (batch, seq, units), memory (batch, mem, units)]``.
        training: draw a permutation (when ``enabled``).

    Returns:
        ``[content mask, query mask]``, each ``(batch, seq, mem + seq)`` of
        0.0/1.0; no masks.
    """

    def __init__(self, enabled=True, directional=True, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.enabled = bool(enabled)
        self.directional = bool(directional)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)
        self.supports_masking = True

    def call(self, inputs, training=None):
        hidden, memory = inputs
        batch, seq_len, mem_len = ops.shape(hidden)[0], ops.shape(hidden)[1], ops.shape(memory)[1]
        positions = ops.arange(seq_len)
        if training and self.enabled:
            order = keras.random.shuffle(positions, axis=0, seed=self.seed_generator)
        elif self.directional:
            order = positions
        else:
            order = positions + seq_len
        content = ops.cast(positions[None, :] <= order[:, None], self.compute_dtype)  # (query j, key i)
        query = content * (1.0 - ops.eye(seq_len, dtype=self.compute_dtype))
        seen_memory = ops.ones((batch, seq_len, mem_len), dtype=self.compute_dtype)
        rows = ops.ones((batch, 1, 1), dtype=self.compute_dtype)
        return [ops.concatenate([seen_memory, rows * content[None]], axis=-1),
                ops.concatenate([seen_memory, rows * query[None]], axis=-1)]

    def compute_mask(self, inputs, mask=None):
        return [None, None]

    def compute_output_shape(self, input_shape):
        hidden, memory = input_shape
        keys = None if hidden[1] is None or memory[1] is None else hidden[1] + memory[1]
        return [(hidden[0], hidden[1], keys)] * 2

    def get_config(self):
        config = super().get_config()
        config.update(enabled=self.enabled, directional=self.directional, seed=self.seed)
        return config


__all__ = ["PermutationMask"]
