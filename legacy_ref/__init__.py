"""The legacy code, kept runnable as the numerical reference.

Everything here runs on ``tf_keras`` (the official Keras 2 package), imported
under its own name, so importing ``legacy_ref`` never changes what
``import keras`` means for the rest of the process (that stays Keras 3).

Submodules:

* :mod:`legacy_ref.keras22` -- the Keras-2.2-style custom layers, the
  transformer-encoder text classifier and the warmup-cosine learning-rate
  schedule and callback of the 2021 blog post.
* :mod:`legacy_ref.tutorial` -- the 2021 TensorFlow "Transformer model for
  language understanding" tutorial: subclassed tf.keras Transformer, Noam
  schedule, masked loss, ``tf.function`` train step, object checkpoints and
  greedy decoding.
* :mod:`legacy_ref.artefacts` -- the legacy checkpoints (HDF5, TF object
  checkpoint) made by running that code; inputs for the weight porter.
* :mod:`legacy_ref.goldens` -- golden ``.npz`` arrays (inputs, weights by
  legacy name, outputs) that ``modern`` is compared against.
"""
