"""The main job on the bundled example.

Runs the legacy reference on its bundled legacy checkpoints and prints what
it produced:

1. the Keras-2.2 transformer text classifier (seed 003 style), loaded on
   ``tf_keras`` from a full-model legacy HDF5 file with its custom layers,
   classifying a few token sequences;
2. the 2021 tutorial Transformer, restored from a ``tf.train.CheckpointManager``
   directory, greedy-decoding a token sequence.

Usage: ``./dev example`` (or ``.venv/bin/python examples/run_example.py``).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LEGACY = ROOT / "tests" / "fixtures" / "legacy"


def classifier() -> None:
    from legacy_ref.artefacts.keras22 import MODEL_FILE, load_full_model

    path = LEGACY / MODEL_FILE
    model = load_full_model(path, compile=False)
    max_len = model.input_shape[1]
    tokens = np.random.default_rng(0).integers(1, 50, size=(3, max_len)).astype("int32")
    tokens[1, max_len // 2 :] = 0  # a padded sentence
    probabilities = model.predict(tokens, verbose=0)
    print(f"[1] Keras-2.2 classifier from {path.relative_to(ROOT)} ({len(model.layers)} layers, "
          f"{model.count_params()} parameters)")
    for row, p in zip(tokens, probabilities):
        shown = ", ".join(f"{v:.4f}" for v in p)
        print(f"    tokens {row.tolist()} -> class {int(p.argmax())}, probabilities [{shown}]")


def translator() -> None:
    import tensorflow as tf

    from legacy_ref import tutorial
    from legacy_ref.artefacts.tutorial import CKPT_DIR, build_artefact_model

    directory = LEGACY / CKPT_DIR
    model = build_artefact_model()
    checkpoint = tf.train.Checkpoint(transformer=model)
    latest = tf.train.latest_checkpoint(str(directory))
    checkpoint.restore(latest).expect_partial()
    encoder_input = tf.constant([[1, 7, 12, 5, 30, 2]], dtype=tf.int64)
    ids, attention = tutorial.greedy_decode(model, encoder_input, start_id=1, end_id=2, max_length=10)
    args = json.loads((directory / "model_args.json").read_text())["args"]
    print(f"[2] 2021 tutorial Transformer restored from {Path(latest).relative_to(ROOT)} "
          f"(num_layers={args['num_layers']}, d_model={args['d_model']})")
    print(f"    encoder input {encoder_input.numpy()[0].tolist()} -> greedy output {ids.numpy()[0].tolist()}")
    last = sorted(attention)[-1]
    print(f"    attention weights {last}: shape {tuple(attention[last].shape)}")


def main() -> int:
    start = time.perf_counter()
    classifier()
    translator()
    print(f"done in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
