"""Keras 3 ports of keras-xlnet's layers (with keras-transformer-xl's and keras-trans-mask's).

``keras_xlnet.build_xlnet`` builds XLNet from the layers below and from the
CyberZHG layers :mod:`modern.layers.bert_family` already ports
(``EmbeddingRet``, ``EmbeddingSim``, ``LayerNormalization``, ``FeedForward``
and the tanh ``gelu``). Each port takes the library's constructor arguments
and call form, keeps its weight names, and equals the library on tf_keras
given the same weights (``tests/modern/test_xlnet_family.py``, goldens made
by ``legacy_ref/artefacts/xlnet_family.py`` from the real libraries).
Registered for ``.keras`` files as ``"modern.xlnet_family>ClassName"``.

=========================================  =========================================
library class                              port
=========================================  =========================================
``CreateMask``, ``RestoreMask``            :class:`CreateMask`, :class:`RestoreMask`
(keras-trans-mask)
``Memory`` (keras-transformer-xl)          :class:`Memory` (stateful: see its module)
``RelativeBias`` (keras-transformer-xl)    :class:`RelativeBias`
``PositionalEmbedding``                    :class:`PositionalEmbedding`
``RelativeSegmentEmbedding``               :class:`RelativeSegmentEmbedding`
``SegmentBias``                            :class:`SegmentBias`
``MaskEmbedding``                          :class:`MaskEmbedding`
``PermutationMask``                        :class:`PermutationMask`
``RelativePartialMultiHeadSelfAttention``  :class:`RelativePartialMultiHeadSelfAttention`
=========================================  =========================================
"""

from modern.layers.xlnet_family.attention import RelativePartialMultiHeadSelfAttention
from modern.layers.xlnet_family.embeddings import (
    MaskEmbedding,
    PositionalEmbedding,
    RelativeBias,
    RelativeSegmentEmbedding,
    SegmentBias,
)
from modern.layers.xlnet_family.masks import CreateMask, RestoreMask
from modern.layers.xlnet_family.memory import Memory
from modern.layers.xlnet_family.permutation import PermutationMask

__all__ = [
    "CreateMask",
    "MaskEmbedding",
    "Memory",
    "PermutationMask",
    "PositionalEmbedding",
    "RelativeBias",
    "RelativePartialMultiHeadSelfAttention",
    "RelativeSegmentEmbedding",
    "RestoreMask",
    "SegmentBias",
]
