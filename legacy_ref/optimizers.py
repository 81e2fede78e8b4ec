"""The legacy custom optimizers and learning-rate callbacks, run on tf_keras: training trajectories.

This is the numerical reference for :mod:`modern.optimizers` and the epoch
schedules of :mod:`modern.schedules_epoch`. It is meant to run as a script in a
subprocess with ``TF_USE_LEGACY_KERAS=1`` (so that ``tensorflow.keras``, which
the libraries import, is ``tf_keras``)::

    TF_USE_LEGACY_KERAS=1 python -m legacy_ref.optimizers CASES.json OUT.npz

``CASES.json`` is a list of cases (see :func:`run_case`); for each case the
same small model (fixed initial weights, fixed batches) is trained for a few
steps with ``train_on_batch``, and ``OUT.npz`` receives the model's initial
weights, the batches, and per case the loss of every step, the weights after
the last step and the learning rate each step used (for callbacks).

The shim (documented here because it is the only thing between the published
code and the runtime):

* keras-bert 0.89's ``AdamWarmup`` and keras-rectified-adam 0.20's ``RAdam``
  subclass ``tensorflow.keras.optimizers.Optimizer``, which in their era
  (TensorFlow 2.0-2.10) was ``OptimizerV2`` (``_set_hyper``,
  ``_resource_apply_dense``). Since TF 2.11 that name is the new optimizer,
  which has none of that API. :func:`library_optimizer` imports the library
  while that one attribute of ``tf_keras``'s ``optimizers`` module points at
  ``tf_keras.optimizers.legacy.Optimizer`` (the ``OptimizerV2`` class itself),
  then puts it back. Nothing else of the libraries is touched.
* The libraries live in ``<venv>/realworld`` (installed with ``--no-deps`` by
  ``./dev``), which is not on ``sys.path``; this script appends it, in its own
  process only.
"""

from __future__ import annotations

import importlib
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

#: Where ``./dev`` installs the published legacy libraries.
REALWORLD = Path(sys.prefix) / "realworld"

#: The model every trajectory trains: 4 inputs -> Dense(5, tanh) -> Dense(3), MSE.
INPUTS, HIDDEN, OUTPUTS, BATCH = 4, 5, 3, 8


def problem(steps: int, seed: int = 0) -> dict[str, np.ndarray]:
    """The fixed initial weights and per-step batches (float32) all trajectories share."""
    rng = np.random.RandomState(seed)
    return {
        "kernel_0": rng.uniform(-0.7, 0.7, (INPUTS, HIDDEN)).astype("float32"),
        "bias_0": rng.uniform(-0.1, 0.1, (HIDDEN,)).astype("float32"),
        "kernel_1": rng.uniform(-0.7, 0.7, (HIDDEN, OUTPUTS)).astype("float32"),
        "bias_1": rng.uniform(-0.1, 0.1, (OUTPUTS,)).astype("float32"),
        "x": rng.normal(size=(steps, BATCH, INPUTS)).astype("float32"),
        "y": rng.normal(size=(steps, BATCH, OUTPUTS)).astype("float32"),
    }


def initial_weights(data: dict[str, np.ndarray]) -> list[np.ndarray]:
    return [data["kernel_0"], data["bias_0"], data["kernel_1"], data["bias_1"]]


def library_optimizer(spec: str) -> Any:
    """The optimizer class ``module:Class`` of an installed legacy library, imported through the shim."""
    import tf_keras

    module_name, _, class_name = spec.partition(":")
    if str(REALWORLD) not in sys.path:
        sys.path.append(str(REALWORLD))
    # What `from tensorflow.keras.optimizers import ...` reads (tf_keras' public
    # v2 API module, not `tf_keras.optimizers`).
    namespace = importlib.import_module("tensorflow.keras.optimizers")
    saved = namespace.Optimizer
    # The libraries bind `Optimizer` at import time (`from tensorflow.keras.optimizers
    # import Optimizer`), so the name only has to be right while they import.
    namespace.Optimizer = tf_keras.optimizers.legacy.Optimizer
    try:
        module = importlib.import_module(module_name)
    finally:
        namespace.Optimizer = saved
    cls = getattr(module, class_name)
    if not issubclass(cls, tf_keras.optimizers.legacy.Optimizer):
        raise RuntimeError(f"{spec} was imported before the shim (it is not an OptimizerV2); "
                           "import it only through legacy_ref.optimizers.library_optimizer")
    return cls


def program_optimizer(path: str, class_name: str) -> Any:
    """A Keras 2 ``get_updates`` optimizer class defined in a legacy program, on tf_keras.

    The program runs through :func:`legacy_ref.shim.load_legacy_program`, with
    one change: ``keras.optimizers.Optimizer`` is tf_keras'
    ``optimizer_v1.Optimizer`` (the Keras 2.2 base class: ``get_updates``,
    ``get_gradients``, ``self.updates``), not ``OptimizerV2``. tf_keras calls
    ``get_updates`` only in TF1 graph mode, so :func:`main` disables eager
    execution for a run holding such cases.
    """
    import tf_keras
    from tf_keras.src.optimizers import optimizer_v1

    from legacy_ref.shim import load_legacy_program

    # The shim reads tf_keras.optimizers.legacy.Optimizer when it loads a program.
    legacy = tf_keras.optimizers.legacy
    saved = legacy.Optimizer
    legacy.Optimizer = optimizer_v1.Optimizer
    try:
        module = load_legacy_program(path, "legacy_optimizer_program")
    finally:
        legacy.Optimizer = saved
    return getattr(module, class_name)


def _optimizer(case: dict[str, Any]) -> Any:
    import tf_keras

    spec = case["legacy"]
    if spec.startswith("program:"):
        path, _, class_name = spec.removeprefix("program:").rpartition(":")
        return program_optimizer(path, class_name)(**case.get("kwargs", {}))
    if spec.startswith("tf_keras:"):
        cls = getattr(tf_keras.optimizers.legacy, spec.partition(":")[2])
    else:
        cls = library_optimizer(spec)
    return cls(**case.get("kwargs", {}))


def _epoch_function(case: dict[str, Any]) -> Any:
    """The per-epoch learning-rate functions people passed to ``LearningRateScheduler``.

    Written as the blog posts and the Keras docs wrote them (a pure function of
    the epoch, Python floats); ``case["function"]`` names one, ``case["args"]``
    gives its constants.
    """
    args = case["args"]
    kind = case["function"]
    if kind == "step_decay":
        # initial * drop ** floor((1 + epoch) / epochs_drop)
        def step_decay(epoch, lr=None):
            return args["initial"] * math.pow(args["drop"], math.floor((1 + epoch) / args["epochs_drop"]))
        return step_decay
    if kind == "exp_decay":
        # initial * exp(-k * epoch)
        def exp_decay(epoch, lr=None):
            return args["initial"] * math.exp(-args["k"] * epoch)
        return exp_decay
    if kind == "keep_then_exp":
        # The Keras docs' scheduler: keep lr for `hold` epochs, then lr * exp(-k) each epoch.
        def scheduler(epoch, lr):
            if epoch < args["hold"]:
                return lr
            return lr * math.exp(-args["k"])
        return scheduler
    raise ValueError(f"unknown epoch function {kind!r}")


def _train_with_lookahead(model: Any, x: np.ndarray, y: np.ndarray, sync_period: int, slow_step: float) -> list[float]:
    """keras-lookahead 0.9's rule around the model's (real, tf_keras) optimizer.

    keras-lookahead's ``Lookahead`` is a Keras 2 ``get_updates`` optimizer for
    standalone Keras 2.2 graph mode; it is not installed here and has no
    OptimizerV2 version to run on tf_keras, so its update (the Keras 2.2 branch
    of its ``get_updates``) is stated here, in float32, around the wrapped
    optimizer's own step: slow weights start as copies of the weights; after
    step ``t`` (from 1) with ``t % sync_period == 0``, ``slow = slow +
    slow_step * (w - slow)`` and ``w = slow``.
    """
    slow = [np.array(w, np.float32) for w in model.get_weights()]
    alpha = np.float32(slow_step)
    losses = []
    for i in range(x.shape[0]):
        losses.append(float(model.train_on_batch(x[i], y[i])))
        if (i + 1) % sync_period == 0:
            slow = [s + alpha * (w - s) for s, w in zip(slow, model.get_weights())]
            model.set_weights(slow)
    return losses


def piecewise_linear_values(schedule: dict[str, float], steps: int, from_zero: bool = True) -> np.ndarray:
    """bert4keras 0.11's own ``backend.piecewise_linear`` (its lr multiplier) at steps ``0..steps-1``.

    bert4keras picks its Keras at import from ``TF_KERAS``; with ``TF_KERAS=1``
    (set here, for this process) it uses ``tf.keras``, which is tf_keras in
    this subprocess.
    """
    import tensorflow as tf

    os.environ["TF_KERAS"] = "1"
    if str(REALWORLD) not in sys.path:
        sys.path.append(str(REALWORLD))
    from bert4keras.backend import piecewise_linear

    points = {int(step): value for step, value in schedule.items()}
    return np.asarray([float(piecewise_linear(tf.constant(t, "int64"), points, from_zero)) for t in range(steps)])


def run_case(case: dict[str, Any], data: dict[str, np.ndarray], save_dir: Path | None = None) -> dict[str, np.ndarray]:
    """Train the shared model with one case's optimizer (and callback); return its trajectory.

    A case is ``{"name", "legacy": "module:Class", "tf_keras:Adam" or
    "program:PATH:Class", "kwargs",
    optionally "save_after": N (the model, optimizer state included, is saved
    as ``<OUT without .npz>/<name>.h5`` before step N), "lookahead":
    {"sync_period", "slow_step"}, or "steps_per_epoch", "function", "args"}``;
    with ``"function"`` the
    optimizer is driven by ``tf_keras.callbacks.LearningRateScheduler`` over
    epochs of ``steps_per_epoch`` batches, through ``fit``, as legacy programs did.
    """
    import tensorflow as tf
    import tf_keras

    tf.random.set_seed(0)
    model = tf_keras.Sequential([
        tf_keras.layers.Dense(HIDDEN, activation="tanh", input_shape=(INPUTS,)),
        tf_keras.layers.Dense(OUTPUTS),
    ])
    model.set_weights(initial_weights(data))
    model.compile(optimizer=_optimizer(case), loss="mse")
    x, y = data["x"], data["y"]
    steps = x.shape[0]
    if "lookahead" in case:
        losses = _train_with_lookahead(model, x, y, **case["lookahead"])
        return {"loss": np.asarray(losses, np.float64),
                **{f"weight_{i}": w for i, w in enumerate(model.get_weights())}}
    if "function" not in case:
        losses = []
        for i in range(steps):
            if case.get("save_after") == i and save_dir is not None:
                # The full-model HDF5 file of a run in the middle of training (optimizer
                # state included), as `model.save("m.h5")` wrote it: what `migrate port` reads.
                save_dir.mkdir(parents=True, exist_ok=True)
                model.save(str(save_dir / f"{case['name']}.h5"), save_format="h5")
            losses.append(float(model.train_on_batch(x[i], y[i])))
        return {"loss": np.asarray(losses, np.float64),
                **{f"weight_{i}": w for i, w in enumerate(model.get_weights())}}
    per_epoch = int(case["steps_per_epoch"])
    epochs = steps // per_epoch
    rates: list[float] = []

    class Record(tf_keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            # After LearningRateScheduler's on_epoch_begin: the rate this batch uses.
            rates.append(float(tf_keras.backend.get_value(self.model.optimizer.lr)))

    scheduler = tf_keras.callbacks.LearningRateScheduler(_epoch_function(case))
    for epoch in range(epochs):
        # One fit call per epoch, so epoch e trains on batches e*p .. e*p+p-1 in order.
        part = slice(epoch * per_epoch, (epoch + 1) * per_epoch)
        model.fit(x[part].reshape(-1, INPUTS), y[part].reshape(-1, OUTPUTS), batch_size=BATCH,
                  initial_epoch=epoch, epochs=epoch + 1, shuffle=False, verbose=0,
                  callbacks=[scheduler, Record()])
    return {"lr": np.asarray(rates, np.float64),
            **{f"weight_{i}": w for i, w in enumerate(model.get_weights())}}


def main(argv: list[str]) -> int:
    if os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise SystemExit("legacy_ref.optimizers needs TF_USE_LEGACY_KERAS=1 (tensorflow.keras must be tf_keras)")
    cases_path, out_path, steps = argv[0], argv[1], int(argv[2]) if len(argv) > 2 else 20
    cases = json.loads(Path(cases_path).read_text())
    if any(case["legacy"].startswith("program:") for case in cases):
        import tensorflow as tf

        # Keras 2 get_updates optimizers run in graph mode only (see program_optimizer).
        tf.compat.v1.disable_eager_execution()
    data = problem(steps)
    arrays: dict[str, np.ndarray] = dict(data)
    save_dir = Path(out_path).with_suffix("")
    for case in cases:
        if case["legacy"] == "bert4keras:piecewise_linear":
            arrays[f"{case['name']}/multiplier"] = piecewise_linear_values(case["schedule"], steps,
                                                                            case.get("from_zero", True))
            continue
        for key, value in run_case(case, data, save_dir).items():
            arrays[f"{case['name']}/{key}"] = value
    tmp = Path(out_path).with_suffix(".tmp.npz")
    np.savez(tmp, **arrays)
    os.replace(tmp, out_path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
