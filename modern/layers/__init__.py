"""Keras 3 layers equivalent to the legacy ones (``keras.ops`` only, every backend)."""

from modern.layers.attention import ActivatedMultiHeadAttention, ScaledDotProductAttention
from modern.layers.normalization import LegacyLayerNormalization
from modern.layers.position import SinusoidalPositionEmbedding

__all__ = [
    "ActivatedMultiHeadAttention",
    "LegacyLayerNormalization",
    "ScaledDotProductAttention",
    "SinusoidalPositionEmbedding",
]
