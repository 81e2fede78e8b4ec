"""The layers and functions of the 2021 TensorFlow tutorial Transformer, in Keras 3: one namespace.

Keras 3 equivalents of the tutorial's ``MultiHeadAttention``, ``EncoderLayer``,
``DecoderLayer``, ``Encoder`` and ``Decoder`` (see ``legacy_ref.tutorial``),
numerically equal to them given the same weights, on every backend.

What changes from the 2021 code, and why the numbers do not:

* **Attention is ``keras.layers.MultiHeadAttention``'s** (its projections,
  variables and call signature). The tutorial's fused
  ``Dense(d_model)`` projections ``wq``/``wk``/``wv``/``dense`` are Keras'
  per-head ``EinsumDense`` kernels once reshaped (head ``h`` owns columns
  ``h * depth:(h + 1) * depth``); the weight map in
  :mod:`modern.weight_maps.tutorial` does the reshapes.
* **Masks are boolean "keep" masks** (``True`` = may attend), Keras 3's
  convention, instead of the tutorial's float "block" masks (``1.0`` =
  blocked). :func:`attention_mask_from_legacy` converts one into the other.
  The decoder's look-ahead mask is ``use_causal_mask=True`` combined with the
  target padding mask (their logical AND is exactly the tutorial's
  ``maximum(padding, look_ahead)`` inverted).
* **Masking stays additive** (``-1e9`` added to blocked logits), so a query
  whose keys are all blocked attends uniformly as in the tutorial, where stock
  Keras 3 attention gives it zero weights: see
  :mod:`modern.layers.additive_mask_attention`.
* **The position table** is computed in float64 NumPy and cast to float32 as
  the tutorial does, so it is bit-identical; it is a constant, not a weight.
* **``training`` is a keyword argument** everywhere (the 2021 code passed it
  positionally).

The family lives in one module per layer or small group; this module is its
one namespace (and the import path earlier versions had):

=============================================  ===========================================
:mod:`modern.layers.additive_mask_attention`   :class:`AdditiveMaskMultiHeadAttention`,
                                               :func:`scaled_dot_product_attention`
:mod:`modern.layers.attention_masks`           :func:`padding_mask`,
                                               :func:`causal_padding_mask`,
                                               :func:`cached_causal_padding_mask`,
                                               :func:`attention_mask_from_legacy`
:mod:`modern.layers.transformer_blocks`        :class:`TransformerEncoderLayer`,
                                               :class:`TransformerDecoderLayer`
:mod:`modern.layers.transformer_stacks`        :class:`TransformerEncoder`,
                                               :class:`TransformerDecoder`,
                                               :func:`positional_encoding`
=============================================  ===========================================
"""

from modern.layers.additive_mask_attention import AdditiveMaskMultiHeadAttention, scaled_dot_product_attention
from modern.layers.attention_masks import (
    attention_mask_from_legacy,
    cached_causal_padding_mask,
    causal_padding_mask,
    padding_mask,
)
from modern.layers.transformer_blocks import TransformerDecoderLayer, TransformerEncoderLayer
from modern.layers.transformer_stacks import TransformerDecoder, TransformerEncoder, positional_encoding

__all__ = [
    "AdditiveMaskMultiHeadAttention",
    "TransformerDecoder",
    "TransformerDecoderLayer",
    "TransformerEncoder",
    "TransformerEncoderLayer",
    "attention_mask_from_legacy",
    "cached_causal_padding_mask",
    "causal_padding_mask",
    "padding_mask",
    "positional_encoding",
    "scaled_dot_product_attention",
]
