"""Keras 3 layers equivalent to the legacy ones (``keras.ops`` only, every backend).

One module per public layer or small group of layers:

* the Keras-2.2 seed layers: :mod:`~modern.layers.attention`,
  :mod:`~modern.layers.normalization`, :mod:`~modern.layers.position`;
* the 2021 tutorial Transformer: :mod:`~modern.layers.additive_mask_attention`,
  :mod:`~modern.layers.attention_masks`, :mod:`~modern.layers.transformer_blocks`,
  :mod:`~modern.layers.transformer_stacks` (all of them also in the family's
  namespace :mod:`~modern.layers.seq2seq`).

``_attention_kernel`` holds the attention core both families share and the
one speed hook Keras lacks (see its docstring).

The CyberZHG family (keras-bert and the libraries under it) lives in its own
namespace, :mod:`modern.layers.bert_family`, because its class names
(``MultiHeadAttention``, ``LayerNormalization``...) clash with Keras's and
with the Keras-2.2 ports; importing this package registers it.
"""

from modern.layers import bert_family, xlnet_family
from modern.layers.attention import ActivatedMultiHeadAttention, ScaledDotProductAttention
from modern.layers.normalization import LegacyLayerNormalization
from modern.layers.position import SinusoidalPositionEmbedding
from modern.layers.seq2seq import (
    AdditiveMaskMultiHeadAttention,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
    attention_mask_from_legacy,
    cached_causal_padding_mask,
    causal_padding_mask,
    padding_mask,
    positional_encoding,
    scaled_dot_product_attention,
)

__all__ = [
    "ActivatedMultiHeadAttention",
    "AdditiveMaskMultiHeadAttention",
    "LegacyLayerNormalization",
    "ScaledDotProductAttention",
    "SinusoidalPositionEmbedding",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "bert_family",
    "xlnet_family",
    "attention_mask_from_legacy",
    "cached_causal_padding_mask",
    "causal_padding_mask",
    "padding_mask",
    "positional_encoding",
    "scaled_dot_product_attention",
]
