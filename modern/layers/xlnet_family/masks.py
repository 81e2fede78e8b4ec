"""keras-trans-mask's ``CreateMask`` and ``RestoreMask``: a padding mask made from token ids.

keras-xlnet pads with a token id other than 0 (its tokenizer's ``<pad>`` is
5), so it cannot use an embedding's ``mask_zero``; it makes the mask from the
ids with ``CreateMask`` and hangs it on the token embeddings with
``RestoreMask``. Both carry no weights.
"""

from __future__ import annotations

import keras
from keras import ops

PACKAGE = "modern.xlnet_family"


@keras.saving.register_keras_serializable(package=PACKAGE)
class CreateMask(keras.layers.Layer):
    """Zeros shaped like ``inputs``, masked where ``inputs != mask_value``.

    The output values are never read (keras-xlnet only takes the mask on to
    ``RestoreMask``); they are zeros of the input's dtype, as in the library.

    Args:
        mask_value: the value that marks padding.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: any tensor (token ids).

    Returns:
        ``zeros_like(inputs)``, with the mask ``inputs != mask_value``.
    """

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value
        self.supports_masking = True

    def call(self, inputs, mask=None):
        return ops.zeros_like(inputs)

    def compute_mask(self, inputs, mask=None):
        return ops.not_equal(inputs, ops.cast(self.mask_value, inputs.dtype))

    def compute_output_shape(self, input_shape):
        return tuple(input_shape)

    def get_config(self):
        config = super().get_config()
        config["mask_value"] = self.mask_value
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class RestoreMask(keras.layers.Layer):
    """``inputs[0]`` passed on with the mask of ``inputs[1]``.

    Call arguments:
        inputs: ``[values, masked]``.
        mask: filled by Keras; ``mask[1]`` becomes the output mask.

    Returns:
        A copy of ``values``.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def call(self, inputs, mask=None):
        return inputs[0] + 0

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[1]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])


__all__ = ["CreateMask", "RestoreMask"]
