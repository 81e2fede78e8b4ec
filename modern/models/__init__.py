"""Keras 3 rebuilds of the legacy models, with the legacy layer names."""

from modern.models.classifier import LegacyAdam, build_transformer_classifier

__all__ = ["LegacyAdam", "build_transformer_classifier"]
