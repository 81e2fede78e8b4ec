"""Keras 2 HDF5 checkpoints of the seed-003 classifier, made on ``tf_keras``.

:func:`write_artefacts` builds the small classifier of the goldens (vocab 50,
``max_len`` 12, ``model_dim`` 16, 4 heads, 3 blocks, 3 classes, dropout 0.1
as in the blog), fills it with numpy weights from a fixed seed, trains it for
two batches with the warmup-cosine callback (so the Adam slots and
``iterations`` are non-trivial) and writes:

``keras22_classifier_weights.h5``
    ``model.save_weights(path, save_format='h5')``: the Keras 2 weights-only
    layout -- root attributes ``layer_names`` (every layer, weighted or not),
    ``backend`` and ``keras_version``; one group per layer with a
    ``weight_names`` attribute (``'t1_att1/t1_att1_Wq:0'``, ...) and one
    dataset per weight at ``<layer>/<weight name>``. (The name avoids the
    ``.weights.h5`` suffix on purpose: for such names tf_keras writes the
    Keras-3-style layout whatever ``save_format`` says.)
``keras22_classifier.model.h5``
    ``model.save(path, save_format='h5')``: the same layout under a
    ``model_weights`` group, plus root attributes ``model_config`` (JSON
    naming the custom classes ``Position_Embedding``,
    ``MultiHeadAttention`` and ``LayerNorm``) and ``training_config``, and an
    ``optimizer_weights`` group.

:func:`load_full_model` loads the second file back on ``tf_keras``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import tf_keras as keras_legacy

from legacy_ref import keras22
from legacy_ref.goldens.keras22 import CLASSIFIER_ARGS, assign_weights, draw_weights, train_batches

__all__ = ["ARTEFACT_ARGS", "SEED", "WEIGHTS_FILE", "MODEL_FILE", "build_trained_model", "write_artefacts", "load_full_model"]

SEED = 3060
# Not "*.weights.h5": tf_keras 2.21 dispatches on that suffix and writes the
# Keras-3-style object layout (layers/<name>/vars/0), silently ignoring
# save_format='h5' -- and load_weights dispatches the same way on reading.
WEIGHTS_FILE = "keras22_classifier_weights.h5"
MODEL_FILE = "keras22_classifier.model.h5"
ARTEFACT_ARGS: dict[str, Any] = {**CLASSIFIER_ARGS, "num_blocks": 3, "dropout": 0.1}


def build_trained_model(seed: int = SEED) -> keras_legacy.Model:
    """The classifier after two training batches, reproducible from ``seed``.

    Clears the tf_keras session first so that default layer names
    (``embedding``, ``position__embedding``, ``add``...) do not depend on
    what ran before, and seeds TensorFlow so the dropout masks repeat.
    """
    keras_legacy.backend.clear_session()
    keras_legacy.utils.set_random_seed(seed)
    rng = np.random.default_rng(seed)
    model = keras22.build_model(**ARTEFACT_ARGS)
    assign_weights(model, draw_weights(model, rng))
    tokens, labels = train_batches(rng, 2, 4, ARTEFACT_ARGS)
    scheduler = keras22.WarmUpCosineDecayScheduler(
        learning_rate_base=1e-3, total_steps=4, warmup_learning_rate=1e-4, warmup_steps=1
    )
    model.fit(
        tokens.reshape(-1, ARTEFACT_ARGS["max_len"]),
        labels.reshape(-1, ARTEFACT_ARGS["num_class"]),
        batch_size=4,
        epochs=1,
        shuffle=False,
        verbose=0,
        callbacks=[scheduler],
    )
    return model


def write_artefacts(out_dir: Path) -> list[Path]:
    """Write the weights-only and the full-model HDF5 files into ``out_dir``; return their paths."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    model = build_trained_model()
    weights_path = out_dir / WEIGHTS_FILE
    model_path = out_dir / MODEL_FILE
    model.save_weights(str(weights_path), save_format="h5")
    with warnings.catch_warnings():
        # The legacy HDF5 format is the point here, not an accident.
        warnings.filterwarnings("ignore", message=".*HDF5 file via `model.save\\(\\)`", category=UserWarning)
        model.save(str(model_path), save_format="h5")
    return [weights_path, model_path]


def load_full_model(path: str | Path, compile: bool = True) -> keras_legacy.Model:  # noqa: A002
    """Load a full-model HDF5 file written by :func:`write_artefacts` on ``tf_keras``.

    The custom classes are resolved through :func:`legacy_ref.keras22.custom_objects`
    (``MultiHeadAttention`` and ``LayerNormalization`` would otherwise resolve to
    the unrelated built-in layers of the same names).
    """
    return keras_legacy.models.load_model(str(path), custom_objects=keras22.custom_objects(), compile=compile)
