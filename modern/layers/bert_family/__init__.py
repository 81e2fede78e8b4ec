"""Keras 3 ports of the CyberZHG layer family (keras-bert and the libraries under it).

keras-self-attention, keras-multi-head, keras-layer-normalization,
keras-pos-embd, keras-position-wise-feed-forward, keras-embed-sim,
keras-transformer, keras-bert and keras-gpt-2 build their models from the
layers below. Each port takes the library's constructor arguments and its
call form (lists such as ``[q, k, v]`` included), keeps the library's weight
names and order, and equals the library on tf_keras given the same weights
(``tests/modern/test_bert_family.py``, goldens made by
``legacy_ref/artefacts/bert_family.py`` from the real libraries). Registered
for ``.keras`` files as ``"modern.bert_family>ClassName"``.

==============================  =================================================
library class                   port
==============================  =================================================
``TokenEmbedding``,             :class:`TokenEmbedding`
``EmbeddingRet``
``EmbeddingSimilarity``,        :class:`EmbeddingSimilarity`
``EmbeddingSim``
``TaskEmbedding``               :class:`TaskEmbedding`
``PositionEmbedding``           :class:`PositionEmbedding`
``TrigPosEmbedding``            :class:`TrigPosEmbedding`
``SeqSelfAttention``            :class:`SeqSelfAttention`
``ScaledDotProductAttention``   :class:`ScaledDotProductAttention`
``MultiHeadAttention``          :class:`MultiHeadAttention`
``LayerNormalization``          :class:`modern.layers.LegacyLayerNormalization`
                                (same function, weights ``gamma``/``beta``;
                                exported here as ``LayerNormalization``)
``FeedForward``                 :class:`FeedForward`
``Masked``, ``Extract``         :class:`Masked`, :class:`Extract`
``MultiHead`` (wrapper)         :class:`MultiHead`
``gelu`` (tanh)                 :func:`gelu_tanh` (``keras.activations.gelu``
                                with ``approximate=True``; *not* Keras 3's
                                default ``gelu``)
==============================  =================================================
"""

from modern.layers.bert_family.activations import gelu_tanh
from modern.layers.bert_family.attention import MultiHeadAttention, ScaledDotProductAttention, SeqSelfAttention
from modern.layers.bert_family.embeddings import EmbeddingSimilarity, TaskEmbedding, TokenEmbedding
from modern.layers.bert_family.feed_forward import FeedForward
from modern.layers.bert_family.helpers import Extract, Masked
from modern.layers.bert_family.multi_head import MultiHead
from modern.layers.bert_family.position import PositionEmbedding, TrigPosEmbedding
from modern.layers.normalization import LegacyLayerNormalization as LayerNormalization

__all__ = [
    "EmbeddingSimilarity",
    "Extract",
    "FeedForward",
    "LayerNormalization",
    "Masked",
    "MultiHead",
    "MultiHeadAttention",
    "PositionEmbedding",
    "ScaledDotProductAttention",
    "SeqSelfAttention",
    "TaskEmbedding",
    "TokenEmbedding",
    "TrigPosEmbedding",
    "gelu_tanh",
]
