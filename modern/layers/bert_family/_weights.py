"""What the bert-family ports with projection weights share: their options and their weight names.

keras-multi-head, keras-self-attention and keras-position-wise-feed-forward
take one set of options for all their kernels and one for all their biases,
and name each weight ``<layer name>_<suffix>`` (``mha_Wq``, ``ff_W1``); a port
that keeps those names keeps the library's HDF5 layout, so a port of a file
pairs weights name for name.
"""

from __future__ import annotations

import keras

from modern.layers._weight_options import weight_options


def set_projection_options(layer, kernel_initializer, bias_initializer, kernel_regularizer, bias_regularizer,
                           kernel_constraint, bias_constraint):
    """Deserialise the kernel and bias options onto ``layer`` (``layer.kernel_initializer``...)."""
    layer.kernel_initializer, layer.kernel_regularizer, layer.kernel_constraint = weight_options(
        kernel_initializer, kernel_regularizer, kernel_constraint
    )
    layer.bias_initializer, layer.bias_regularizer, layer.bias_constraint = weight_options(
        bias_initializer, bias_regularizer, bias_constraint
    )


def library_weight(layer, suffix, shape, kind):
    """A weight of ``layer`` named ``<layer.name>_<suffix>``, with the ``kind`` ("kernel"/"bias") options.

    The initializer is rebuilt from its config for every weight: an unseeded
    one would otherwise give same-shaped weights (``Wq``, ``Wk``...) the same
    draw, where the libraries drew each.
    """
    initializer = keras.initializers.get(keras.initializers.serialize(getattr(layer, f"{kind}_initializer")))
    return layer.add_weight(
        shape=shape, initializer=initializer, regularizer=getattr(layer, f"{kind}_regularizer"),
        constraint=getattr(layer, f"{kind}_constraint"), name=f"{layer.name}_{suffix}",
    )
