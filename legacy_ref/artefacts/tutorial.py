"""A TF object checkpoint of the 2021 tutorial Transformer, as its users made them.

:func:`write_artefacts` trains a small :class:`legacy_ref.tutorial.Transformer`
for a few steps with the 2021 optimizer (legacy Adam on the Noam schedule) and
saves it with a ``tf.train.CheckpointManager`` exactly as the tutorial did
(``tf.train.Checkpoint(transformer=..., optimizer=...)``), giving the weight
porter a real input::

    tutorial_ckpt/
        checkpoint                         which checkpoint is the latest
        ckpt-1.index, ckpt-1.data-00000-of-00001   after step 1
        ckpt-2.index, ckpt-2.data-00000-of-00001   after step 3 (the latest)
        model_args.json                    constructor arguments and provenance
        probe.npz                          ids and the trained model's logits

``probe.npz`` holds ``inp``, ``tar`` and ``logits`` (``training=False``) of the
latest checkpoint, so a port can be verified without running TensorFlow.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
import tf_keras

from legacy_ref import tutorial as T
from legacy_ref.goldens.tutorial import SMALL

__all__ = ["ARTEFACT_ARGS", "CKPT_DIR", "SEED", "build_artefact_model", "write_artefacts"]

CKPT_DIR = "tutorial_ckpt"
SEED = 1234
WARMUP_STEPS = 10  # short, so three steps visibly move the weights
TRAIN_STEPS = 3
SAVE_AFTER_STEPS = (1, 3)  # -> ckpt-1, ckpt-2

# The small model size of the golden cases, with the tutorial's dropout rate.
ARTEFACT_ARGS: dict[str, Any] = {**SMALL, "rate": 0.1}


def build_artefact_model() -> T.Transformer:
    """The artefact's architecture, with its variables created (untrained values)."""
    model = T.Transformer(**ARTEFACT_ARGS)
    model([tf.ones((1, 2), tf.int64), tf.ones((1, 2), tf.int64)], training=False)
    return model


def _batches(rng: np.random.Generator, n: int, batch: int = 4) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` (inp, tar) int64 batches with trailing zero padding and varied lengths."""
    out = []
    for _ in range(n):
        inp_len, tar_len = int(rng.integers(6, 11)), int(rng.integers(6, 11))
        inp = np.zeros((batch, inp_len), np.int64)
        tar = np.zeros((batch, tar_len), np.int64)
        for row in range(batch):
            a, b = int(rng.integers(2, inp_len + 1)), int(rng.integers(3, tar_len + 1))
            inp[row, :a] = rng.integers(1, ARTEFACT_ARGS["input_vocab_size"], size=a)
            tar[row, :b] = rng.integers(1, ARTEFACT_ARGS["target_vocab_size"], size=b)
        out.append((inp, tar))
    return out


def _write_state_file(directory: Path, prefixes: list[str]) -> None:
    """Rewrite the ``checkpoint`` state file without timestamps.

    ``CheckpointManager`` records wall-clock save times in it, which would make
    the committed artefact change on every regeneration; TensorFlow only needs
    the (relative) paths.
    """
    lines = [f'model_checkpoint_path: "{prefixes[-1]}"']
    lines += [f'all_model_checkpoint_paths: "{p}"' for p in prefixes]
    (directory / "checkpoint").write_text("\n".join(lines) + "\n")


def write_artefacts(out_dir: Path) -> list[Path]:
    """Train the small Transformer for a few steps and save it; return the files.

    Reproducible: seeds Python, numpy and TensorFlow
    (``tf_keras.utils.set_random_seed``) so the initial weights and the dropout
    masks of training are fixed, and restarts Keras's layer-name counters (so
    the files are byte-identical across runs; layers built afterwards may
    reuse auto-generated names, harmless for subclassed models). An existing ``out_dir/tutorial_ckpt`` is
    replaced (restoring from it, as the tutorial's manager would, would make the
    result depend on what was there).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    final = out_dir / CKPT_DIR

    # Keras auto-names layers from process-wide counters ("dense_32"), and the
    # checkpoint's object graph records those names; restarting the counters
    # makes the files byte-identical however many models the process built.
    tf_keras.backend.reset_uids()
    tf_keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    model = build_artefact_model()
    optimizer = T.make_optimizer(ARTEFACT_ARGS["d_model"], WARMUP_STEPS)
    train_step, train_loss, _ = T.make_train_step(model, optimizer)
    batches = _batches(rng, TRAIN_STEPS)

    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".tutorial_ckpt-") as tmp:
        work = Path(tmp) / CKPT_DIR
        _, manager = T.make_checkpoint_manager(model, optimizer, work, max_to_keep=5)
        saved: list[str] = []
        losses: list[float] = []
        for step, (inp, tar) in enumerate(batches, start=1):
            losses.append(float(train_step(tf.constant(inp), tf.constant(tar))))
            if step in SAVE_AFTER_STEPS:
                saved.append(Path(manager.save()).name)
        _write_state_file(work, saved)

        probe_inp, probe_tar = _batches(np.random.default_rng(SEED + 1), 1, batch=2)[0]
        logits, _ = model([probe_inp, probe_tar], training=False)
        np.savez(work / "probe.npz", inp=probe_inp, tar=probe_tar, logits=logits.numpy())

        info = {
            "model": "legacy_ref.tutorial.Transformer",
            "args": ARTEFACT_ARGS,
            "checkpoint_roots": ["transformer", "optimizer"],
            "optimizer": {
                "class": "tf_keras.optimizers.legacy.Adam",
                "beta_1": 0.9,
                "beta_2": 0.98,
                "epsilon": 1e-9,
                "schedule": {"class": "CustomSchedule", "d_model": ARTEFACT_ARGS["d_model"], "warmup_steps": WARMUP_STEPS},
            },
            "seed": SEED,
            "train_steps": TRAIN_STEPS,
            "train_losses": [round(x, 6) for x in losses],
            "checkpoints": {name: step for name, step in zip(saved, SAVE_AFTER_STEPS)},
            "latest": saved[-1],
            "probe": "probe.npz: logits = model([inp, tar], training=False) at the latest checkpoint",
        }
        (work / "model_args.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")

        if final.exists():
            shutil.rmtree(final)
        os.replace(work, final)

    return sorted(p for p in final.iterdir() if p.is_file())
