"""Keras 3 rebuilds of the legacy models, with the legacy layer names."""

from modern.models.classifier import build_transformer_classifier
from modern.models.seq2seq import Seq2SeqTransformer, greedy_decode
from modern.optimizers import LegacyAdam

__all__ = ["LegacyAdam", "Seq2SeqTransformer", "build_transformer_classifier", "greedy_decode"]
