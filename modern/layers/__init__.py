"""Keras 3 layers equivalent to the legacy ones (``keras.ops`` only, every backend)."""

from modern.layers import seq2seq
from modern.layers.attention import ActivatedMultiHeadAttention, ScaledDotProductAttention
from modern.layers.normalization import LegacyLayerNormalization
from modern.layers.position import SinusoidalPositionEmbedding

# The seq2seq blocks and functions are public as listed in their module.
from modern.layers.seq2seq import *  # noqa: F401,F403

__all__ = [
    "ActivatedMultiHeadAttention",
    "LegacyLayerNormalization",
    "ScaledDotProductAttention",
    "SinusoidalPositionEmbedding",
    *seq2seq.__all__,
]
