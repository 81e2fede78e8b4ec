"""The initializer, regularizer and constraint arguments of a layer's weights.

Keras layers take three constructor arguments per weight
(``kernel_initializer``, ``kernel_regularizer``, ``kernel_constraint``, ...),
deserialise them in the constructor and serialise them again in
``get_config``. The layers of :mod:`modern.layers` that own weights do both
through these two functions, so the handling is the same everywhere.
"""

from __future__ import annotations

import keras

_KINDS = (
    ("initializer", keras.initializers),
    ("regularizer", keras.regularizers),
    ("constraint", keras.constraints),
)


def weight_options(initializer, regularizer, constraint):
    """Deserialise one weight's options.

    Args:
        initializer: an initializer, its name or its config.
        regularizer: a regularizer, its name or its config, or ``None``.
        constraint: a constraint, its name or its config, or ``None``.

    Returns:
        ``(initializer, regularizer, constraint)`` as Keras objects (``None``
        stays ``None``).
    """
    return keras.initializers.get(initializer), keras.regularizers.get(regularizer), keras.constraints.get(constraint)


def weight_options_config(layer, *weights):
    """The ``get_config`` entries of the options of ``layer``'s weights.

    Args:
        layer: a layer with attributes ``<weight>_initializer``,
            ``<weight>_regularizer`` and ``<weight>_constraint``.
        *weights: the weight names (``"kernel"``, ``"bias"``).

    Returns:
        A dict of the serialised options, keyed like the constructor
        arguments, initializers first, then regularizers, then constraints.
    """
    config = {}
    for kind, module in _KINDS:
        for weight in weights:
            key = f"{weight}_{kind}"
            config[key] = module.serialize(getattr(layer, key))
    return config
