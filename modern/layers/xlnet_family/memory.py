"""keras-transformer-xl's ``Memory``: the segment-level recurrence state of Transformer-XL and XLNet.

What a saved file holds. ``Memory`` owns one non-trainable variable,
``memory``, of shape ``(batch_size, memory_len + target_len, output_dim)``:
the last ``memory_len + target_len`` positions of the hidden states it was
called on, per batch row. Every call writes it, in training *and* in
inference (the library's ``add_update`` runs on every call), so a file
holds whatever the last call before saving left there: the tail of the last
batch of a training run, or the tail of a stream the user was feeding
segment by segment.

What the port reproduces. The same variable under the same name (the port
copies the file's value exactly, so a stream saved mid-way continues where
it stopped), the same update on every call, and the same read: the output
is the last ``min(memory_len, memory_length)`` positions of the state
*before* the call, where ``memory_length`` is the first element of the
second input (the library reads only ``memory_length[0][0]``). With
``memory_length == 0`` the output is empty and nothing downstream depends
on the state.

The output length depends on a value of the input, not on a shape. That is
fine where shapes may be dynamic: eager calls on every backend, and graphs
on TensorFlow (``fit``/``predict`` there). Under ``jax.jit`` no array may
have a data-dependent length, so on jax call the model eagerly
(``model(x)``, or ``run_eagerly=True`` for ``fit``/``predict``).
"""

from __future__ import annotations

import keras
from keras import ops

PACKAGE = "modern.xlnet_family"


def concrete_int(value):
    """``value`` as a Python int where it is known now (eager), else the tensor itself (a graph)."""
    try:
        return int(ops.convert_to_numpy(value))
    except Exception:  # a symbolic tensor of a TensorFlow graph: keep it dynamic
        return value


@keras.saving.register_keras_serializable(package=PACKAGE)
class Memory(keras.layers.Layer):
    """Keeps the last positions of the sequences it sees and returns the earlier ones.

    Replaces keras-transformer-xl's ``Memory`` (used by keras-xlnet too); see
    the module docstring for what its state is and how the port keeps it.

    Args:
        batch_size: the rows of the state (the largest batch it takes).
        memory_len: the most positions it returns.
        target_len: the longest segment it takes.
        output_dim: the width of the hidden states.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: ``[hidden (batch, seq, output_dim), memory_length (batch, 1)]``.
        mask: the hidden states' mask is passed on.

    Returns:
        ``(batch, min(memory_len, memory_length), output_dim)``: the positions
        before this segment.
    """

    def __init__(self, batch_size, memory_len, target_len, output_dim, **kwargs):
        super().__init__(**kwargs)
        self.batch_size = int(batch_size)
        self.memory_len = int(memory_len)
        self.target_len = int(target_len)
        self.output_dim = int(output_dim)
        self.supports_masking = True

    def build(self, input_shape):
        self.memory = self.add_weight(
            shape=(self.batch_size, self.memory_len + self.target_len, self.output_dim),
            initializer="zeros", trainable=False, name="memory",
        )

    def call(self, inputs, mask=None):
        hidden, memory_length = inputs
        span = self.memory_len + self.target_len
        length = ops.cast(ops.reshape(memory_length, (-1,))[0], "int32")
        batch = ops.shape(hidden)[0]
        seq_len = ops.shape(hidden)[1]
        # Rows past the batch repeat its first row, as the library fills them.
        filler = ops.tile(hidden[0:1], [self.batch_size - batch, 1, 1])
        hidden = ops.cast(hidden, self.memory.dtype)
        rows = ops.concatenate([hidden, ops.cast(filler, self.memory.dtype)], axis=0)
        state = ops.concatenate([ops.convert_to_tensor(self.memory), rows], axis=1)
        state = ops.slice(state, [0, seq_len, 0], [self.batch_size, span, self.output_dim])
        self.memory.assign(state)
        length = concrete_int(length)
        start = ops.maximum(0, span - seq_len - length)
        size = ops.minimum(self.memory_len, length)
        start, size = concrete_int(start), concrete_int(size)
        return ops.slice(state, [0, start, 0], [batch, size, self.output_dim])

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]

    def compute_output_spec(self, inputs, mask=None):
        # The length is a value of the input: unknown until called.
        return keras.KerasTensor((inputs[0].shape[0], None, self.output_dim), dtype=self.compute_dtype)

    def compute_output_shape(self, input_shape):
        return (input_shape[0][0], None, self.output_dim)

    def get_config(self):
        config = super().get_config()
        config.update(batch_size=self.batch_size, memory_len=self.memory_len, target_len=self.target_len,
                      output_dim=self.output_dim)
        return config


__all__ = ["Memory"]
