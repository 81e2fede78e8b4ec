"""The CyberZHG family's ``gelu``: the tanh approximation, under a name Keras 3 cannot mistake.

keras-transformer (and keras-bert, keras-gpt-2, keras-xlnet through it)
defines ``gelu(x) = 0.5 x (1 + tanh(sqrt(2 / pi) (x + 0.044715 x^3)))`` and
registers it as the custom object ``"gelu"``. A file saved by those libraries
therefore says ``"activation": "gelu"``, which every Keras 3 deserializer
reads as ``keras.activations.gelu`` with ``approximate=False`` -- the *exact*
``0.5 x (1 + erf(x / sqrt(2)))``, another function. The difference is at most
about 4.7e-4 (near ``|x| = 2``; measured in
``tests/modern/test_bert_family.py::test_gelu_differs_from_keras_default``),
far above the 1e-5 migration tolerance, and it grows through every layer of a
deep model.

Keras 3's built-in ``keras.activations.gelu(x, approximate=True)`` computes
the same tanh formula, so :func:`gelu_tanh` is that built-in; it exists to be
*registered* under its own name (``"modern.bert_family>gelu_tanh"``), so a
``.keras`` file keeps saying which gelu it means.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="modern.bert_family")
def gelu_tanh(x):
    """The tanh approximation of GELU, as the CyberZHG libraries computed it.

    ``0.5 * x * (1 + tanh(sqrt(2 / pi) * (x + 0.044715 * x**3)))``, which is
    ``keras.activations.gelu(x, approximate=True)``. Not Keras 3's default
    ``gelu`` (``approximate=False``, the erf form).

    Args:
        x: input tensor.

    Returns:
        A tensor of the same shape and dtype.
    """
    return ops.gelu(x, approximate=True)


__all__ = ["gelu_tanh"]
