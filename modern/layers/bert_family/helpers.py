"""keras-bert's small graph layers: ``Masked`` (the masked-LM output mask) and ``Extract``."""

from __future__ import annotations

import keras
from keras import ops

PACKAGE = "modern.bert_family"


@keras.saving.register_keras_serializable(package=PACKAGE)
class Masked(keras.layers.Layer):
    """Passes ``inputs[0]`` on with the mask ``(inputs[1] != 0) & mask[0]``.

    keras-bert puts it on the masked-LM output so the loss counts only the
    positions marked in its ``Input-Masked`` input.

    Args:
        return_masked: also return that mask as a float tensor.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: ``[values, marks (batch, seq)]``.
        mask: filled by Keras.

    Returns:
        ``values`` (a copy), or ``[values, mask as float]``.
    """

    def __init__(self, return_masked=False, **kwargs):
        super().__init__(**kwargs)
        self.return_masked = bool(return_masked)
        self.supports_masking = True

    def _mask(self, inputs, mask):
        marked = ops.not_equal(inputs[1], 0)
        previous = None if mask is None else mask[0]
        return marked if previous is None else ops.logical_and(marked, ops.cast(previous, "bool"))

    def call(self, inputs, mask=None):
        output = inputs[0] + 0
        if self.return_masked:
            return [output, ops.cast(self._mask(inputs, mask), output.dtype)]
        return output

    def compute_mask(self, inputs, mask=None):
        masked = self._mask(inputs, mask)
        return [masked, None] if self.return_masked else masked

    def compute_output_shape(self, input_shape):
        values, marks = input_shape
        return [tuple(values), tuple(marks)] if self.return_masked else tuple(values)

    def get_config(self):
        config = super().get_config()
        config["return_masked"] = self.return_masked
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class Extract(keras.layers.Layer):
    """``x[:, index]``: one position of a sequence (keras-bert's ``[CLS]`` for NSP); no mask.

    Args:
        index: the position.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: ``(batch, seq, ...)``.

    Returns:
        ``(batch, ...)``.
    """

    def __init__(self, index, **kwargs):
        super().__init__(**kwargs)
        self.index = int(index)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        return inputs[:, self.index]

    def compute_mask(self, inputs, mask=None):
        return None

    def compute_output_shape(self, input_shape):
        return (input_shape[0],) + tuple(input_shape[2:])

    def get_config(self):
        config = super().get_config()
        config["index"] = self.index
        return config


__all__ = ["Extract", "Masked"]
