"""keras-migrate: move legacy Keras code and checkpoints to Keras 3, verified."""

__version__ = "0.1.0"
