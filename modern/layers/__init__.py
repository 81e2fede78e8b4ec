"""Keras 3 layers equivalent to the legacy ones (``keras.ops`` only, every backend)."""

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
    causal_padding_mask,
    padding_mask,
    positional_encoding,
    scaled_dot_product_attention,
)

__all__ = [
    "ActivatedMultiHeadAttention",
    "AdditiveMaskMultiHeadAttention",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "attention_mask_from_legacy",
    "causal_padding_mask",
    "padding_mask",
    "positional_encoding",
    "scaled_dot_product_attention",
    "LegacyLayerNormalization",
    "ScaledDotProductAttention",
    "SinusoidalPositionEmbedding",
]
