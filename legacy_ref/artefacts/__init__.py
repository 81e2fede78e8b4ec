"""Legacy checkpoints made by running the legacy reference.

``python -m legacy_ref.artefacts [--out DIR]`` writes, into ``tests/fixtures/legacy``
by default:

* from :mod:`legacy_ref.artefacts.keras22`: a weights-only Keras 2 HDF5 file and a
  full-model HDF5 file (with ``model_config``) of a small seed-003 classifier;
* from :mod:`legacy_ref.artefacts.tutorial`: a ``tf.train.CheckpointManager``
  directory holding a small tutorial Transformer after a few training steps;
* from :mod:`legacy_ref.artefacts.builtin`: a tf.keras 2.x model of built-in
  layers only (``MultiHeadAttention`` included) as full-model HDF5 and SavedModel.

Everything is reproducible from fixed seeds and kept well under 1 MB per file.
"""
