"""A tf.keras 2.x model made only of built-in layers, saved the two legacy ways.

Not every legacy model has hand-written layers: many 2021-era programs used
tf.keras's own ``MultiHeadAttention`` and ``LayerNormalization``. This small
functional classifier is saved by tf_keras as a full-model HDF5 file and as a
SavedModel directory, the two formats such users hold.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import tf_keras as keras_legacy

__all__ = ["BUILTIN_ARGS", "H5_FILE", "SAVEDMODEL_DIR", "build_builtin_model", "write_artefacts"]

H5_FILE = "tfkeras_builtin.model.h5"
SAVEDMODEL_DIR = "tfkeras_builtin_savedmodel"
BUILTIN_ARGS: dict[str, Any] = {"vocab_size": 30, "max_len": 10, "model_dim": 16, "num_heads": 2, "num_class": 3}
SEED = 2021


def build_builtin_model(
    vocab_size: int, max_len: int, model_dim: int, num_heads: int, num_class: int, keras_module: Any = keras_legacy
) -> Any:
    """Embedding -> built-in MultiHeadAttention (self) -> residual + LayerNormalization
    -> Dense(relu) -> GlobalAveragePooling1D -> Dense(softmax).

    Built with tf_keras by default (the legacy model); pass ``keras_module=keras``
    for the same architecture as a user would write it in Keras 3, which is
    what a port of the SavedModel fills.
    """
    layers = keras_module.layers
    tokens = layers.Input(shape=(max_len,), dtype="int32", name="tokens")
    x = layers.Embedding(vocab_size, model_dim, name="embed")(tokens)
    attended = layers.MultiHeadAttention(num_heads=num_heads, key_dim=model_dim // num_heads, name="mha")(x, x)
    x = layers.LayerNormalization(epsilon=1e-6, name="norm")(layers.Add(name="residual")([x, attended]))
    x = layers.Dense(2 * model_dim, activation="relu", name="hidden")(x)
    x = layers.GlobalAveragePooling1D(name="pool")(x)
    probs = layers.Dense(num_class, activation="softmax", name="probs")(x)
    return keras_module.Model(tokens, probs, name="builtin_classifier")


def write_artefacts(out_dir: Path) -> list[Path]:
    """Write the full-model HDF5 file and the SavedModel directory; return their paths."""
    out_dir = Path(out_dir)
    keras_legacy.backend.clear_session()
    keras_legacy.utils.set_random_seed(SEED)
    model = build_builtin_model(**BUILTIN_ARGS)
    rng = np.random.default_rng(SEED)
    # Non-trivial weights (biases and LayerNorm too), so a port that misses
    # one cannot pass by luck.
    model.set_weights([rng.normal(0.0, 0.3, w.shape).astype("float32") for w in model.get_weights()])
    model.compile(optimizer=keras_legacy.optimizers.legacy.Adam(1e-3), loss="sparse_categorical_crossentropy")
    tokens = rng.integers(1, BUILTIN_ARGS["vocab_size"], size=(8, BUILTIN_ARGS["max_len"])).astype("int32")
    labels = rng.integers(0, BUILTIN_ARGS["num_class"], size=(8,)).astype("int32")
    model.fit(tokens, labels, epochs=1, batch_size=4, verbose=0, shuffle=False)
    h5_path, saved_path = out_dir / H5_FILE, out_dir / SAVEDMODEL_DIR
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        model.save(str(h5_path), save_format="h5")
    model.save(str(saved_path), save_format="tf")
    return [h5_path, saved_path]
