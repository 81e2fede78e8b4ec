"""Resume references: legacy training interrupted at step N, saved, and continued for M steps.

For each bundled program the legacy code on tf_keras trains ``N`` steps,
saves the way its users did, trains ``M`` more steps on fixed batches and
records the losses of those ``M`` steps and the weights after them. A port of
the step-``N`` checkpoint that carries the optimizer state over must continue
with the same losses and end with the same weights
(``tests/migrate/weights/test_resume_parity.py``).

``resume/keras22_step{N}.model.h5``
    the seed-003 classifier (``dropout=0``: dropout masks are per-runtime
    random numbers), legacy Adam driven by the warmup-cosine callback,
    ``model.save(h5)`` after step ``N``.
``resume/keras22.npz``
    ``tokens``/``labels`` of all ``N + M`` steps, ``losses`` of steps
    ``N+1..N+M`` (``train_on_batch``: the loss before each update),
    ``lr`` the rates those steps used, ``weight.<legacy name>`` after them.
``resume/tutorial_ckpt/``
    the 2021 tutorial (``rate=0``), legacy Adam on the Noam schedule,
    ``CheckpointManager.save()`` after step ``N``; ``model_args.json`` names
    the model for ``--verify``.
``resume/tutorial.npz``
    ``inp.<i>``/``tar.<i>`` of all steps (lengths vary), ``losses`` of the
    last ``M``, ``weight.<checkpoint path>`` after them, ``logits_after``
    (``training=False`` on ``inp.0``, ``tar.0[:, :-1]``) after them.

Arrays only (``np.load(..., allow_pickle=False)``); the JSON ``config`` entry
says how they were made.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import tensorflow as tf
import tf_keras as keras_legacy

from legacy_ref import keras22, tutorial as T
from legacy_ref.goldens.keras22 import CLASSIFIER_ARGS, assign_weights, draw_weights, train_batches
from legacy_ref.goldens.tutorial import SMALL

__all__ = ["RESUME_DIR", "N_STEPS", "M_STEPS", "KERAS22_ARGS", "KERAS22_SCHEDULE", "TUTORIAL_ARGS",
           "TUTORIAL_WARMUP", "write_artefacts"]

RESUME_DIR = "resume"
N_STEPS = 3  # trained before the save
M_STEPS = 4  # trained after it, the span the port must reproduce
BATCH = 4
KERAS22_SEED = 3070
TUTORIAL_SEED = 1240
KERAS22_ARGS: dict[str, Any] = {**CLASSIFIER_ARGS, "num_blocks": 2, "dropout": 0.0}
# Warmup over the first two steps, so the save falls inside the cosine part
# and the rate keeps changing after it.
KERAS22_SCHEDULE: dict[str, Any] = {
    "learning_rate_base": 1e-3, "total_steps": N_STEPS + M_STEPS + 1, "warmup_learning_rate": 1e-4, "warmup_steps": 2,
}
TUTORIAL_ARGS: dict[str, Any] = {**SMALL, "rate": 0.0}
TUTORIAL_WARMUP = 4  # the Noam peak lies inside the N + M steps


def _keras22(out: Path) -> list[Path]:
    keras_legacy.backend.clear_session()
    keras_legacy.utils.set_random_seed(KERAS22_SEED)
    rng = np.random.default_rng(KERAS22_SEED)
    model = keras22.build_model(**KERAS22_ARGS)
    assign_weights(model, draw_weights(model, rng))
    tokens, labels = train_batches(rng, N_STEPS + M_STEPS, BATCH, KERAS22_ARGS)
    scheduler = keras22.WarmUpCosineDecayScheduler(**KERAS22_SCHEDULE)
    scheduler.set_model(model)
    losses: list[float] = []
    model_file = out / f"keras22_step{N_STEPS}.model.h5"
    for step in range(N_STEPS + M_STEPS):
        if step == N_STEPS:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*HDF5 file via `model.save\\(\\)`", category=UserWarning)
                model.save(str(model_file), save_format="h5")
        # The calls fit makes around each batch, with the loss before the update.
        scheduler.on_batch_begin(step)
        loss, _ = model.train_on_batch(tokens[step], labels[step])
        scheduler.on_batch_end(step)
        losses.append(float(loss))
    arrays = {
        "tokens": tokens, "labels": labels,
        "losses": np.asarray(losses[N_STEPS:], np.float32),
        "lr": np.asarray(scheduler.learning_rates[N_STEPS:], np.float32),
    }
    for layer in model.layers:
        for weight in layer.weights:
            arrays[f"weight.{weight.name.removesuffix(':0')}"] = weight.numpy()
    config = {"n": N_STEPS, "m": M_STEPS, "args": KERAS22_ARGS, "schedule": KERAS22_SCHEDULE, "seed": KERAS22_SEED,
              "per_step": "scheduler.on_batch_begin(step); train_on_batch(tokens[step], labels[step]); on_batch_end"}
    npz = out / "keras22.npz"
    np.savez(npz, config=np.asarray(json.dumps(config)), **arrays)
    return [model_file, npz]


def _tutorial_batches(rng: np.random.Generator, n: int) -> list[tuple[np.ndarray, np.ndarray]]:
    batches = []
    for _ in range(n):
        inp_len, tar_len = int(rng.integers(6, 10)), int(rng.integers(6, 10))
        inp = np.zeros((BATCH, inp_len), np.int64)
        tar = np.zeros((BATCH, tar_len), np.int64)
        for row in range(BATCH):
            a, b = int(rng.integers(2, inp_len + 1)), int(rng.integers(3, tar_len + 1))
            inp[row, :a] = rng.integers(1, TUTORIAL_ARGS["input_vocab_size"], size=a)
            tar[row, :b] = rng.integers(1, TUTORIAL_ARGS["target_vocab_size"], size=b)
        batches.append((inp, tar))
    return batches


def _tutorial(out: Path) -> list[Path]:
    keras_legacy.backend.reset_uids()
    keras_legacy.utils.set_random_seed(TUTORIAL_SEED)
    rng = np.random.default_rng(TUTORIAL_SEED)
    model = T.Transformer(**TUTORIAL_ARGS)
    model([tf.ones((1, 2), tf.int64), tf.ones((1, 2), tf.int64)], training=False)
    optimizer = T.make_optimizer(TUTORIAL_ARGS["d_model"], TUTORIAL_WARMUP)
    train_step, _, _ = T.make_train_step(model, optimizer)
    batches = _tutorial_batches(rng, N_STEPS + M_STEPS)
    final = out / "tutorial_ckpt"
    losses: list[float] = []
    with tempfile.TemporaryDirectory(dir=out, prefix=".resume-") as tmp:
        work = Path(tmp) / "tutorial_ckpt"
        _, manager = T.make_checkpoint_manager(model, optimizer, work, max_to_keep=1)
        for step, (inp, tar) in enumerate(batches):
            if step == N_STEPS:
                manager.save()
            losses.append(float(train_step(tf.constant(inp), tf.constant(tar))))
        # Without wall-clock times, so regenerating gives the same bytes.
        latest = Path(manager.latest_checkpoint).name
        (work / "checkpoint").write_text(f'model_checkpoint_path: "{latest}"\nall_model_checkpoint_paths: "{latest}"\n')
        info = {"model": "legacy_ref.tutorial.Transformer", "args": TUTORIAL_ARGS,
                "optimizer": {"class": "tf_keras.optimizers.legacy.Adam", "beta_1": 0.9, "beta_2": 0.98, "epsilon": 1e-9,
                              "schedule": {"class": "CustomSchedule", "d_model": TUTORIAL_ARGS["d_model"],
                                           "warmup_steps": TUTORIAL_WARMUP}},
                "steps_before_save": N_STEPS}
        (work / "model_args.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        if final.exists():
            shutil.rmtree(final)
        shutil.move(str(work), final)
    # The function after M steps: the attention key biases get no true
    # gradient (a per-query constant shift of every logit, which softmax
    # ignores), so Adam with epsilon 1e-9 moves them by normalised rounding
    # noise; the logits show that this moves nothing else.
    probe_inp, probe_tar = batches[0]
    logits, _ = model([tf.constant(probe_inp), tf.constant(probe_tar[:, :-1])], training=False)
    arrays: dict[str, np.ndarray] = {"losses": np.asarray(losses[N_STEPS:], np.float32), "logits_after": logits.numpy()}
    for i, (inp, tar) in enumerate(batches):
        arrays[f"inp.{i}"], arrays[f"tar.{i}"] = inp, tar
    for name, variable in T.named_variables(model).items():
        arrays[f"weight.{name}"] = variable.numpy()
    config = {"n": N_STEPS, "m": M_STEPS, "args": TUTORIAL_ARGS, "warmup_steps": TUTORIAL_WARMUP,
              "seed": TUTORIAL_SEED, "per_step": "the tutorial's train_step (teacher forcing), loss before the update"}
    npz = out / "tutorial.npz"
    np.savez(npz, config=np.asarray(json.dumps(config)), **arrays)
    return [final, npz]


def write_artefacts(out_dir: Path) -> list[Path]:
    """Write both resume references into ``out_dir/resume``; return their paths."""
    out = Path(out_dir) / RESUME_DIR
    out.mkdir(parents=True, exist_ok=True)
    return _keras22(out) + _tutorial(out)
