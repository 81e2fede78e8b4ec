"""Per-epoch learning-rate callbacks as Keras 3 schedules that save inside the ``.keras`` file.

Legacy programs changed the rate with ``LearningRateScheduler(fn)``, where
``fn(epoch[, lr])`` is a small pure function of the epoch: the "step decay"
and "exponential decay" of the blog posts, the Keras docs' "keep, then
``lr * exp(-k)``". The callback sets ``optimizer.lr`` at the start of each
epoch, so the rate is a function of the step through ``epoch = step //
steps_per_epoch``; written as a ``LearningRateSchedule`` it is evaluated
inside the train step, saved with the optimizer in the ``.keras`` file and
restored with it (a callback is not saved at all, so a resumed run would
otherwise start again at the first rate).

* :class:`StepDecay`: ``initial * drop ** floor((1 + epoch) / epochs_drop)``;
* :class:`EpochExponentialDecay`: ``initial * exp(-k * epoch)``;
* :class:`HoldThenExponentialDecay`: ``initial`` for ``hold_epochs`` epochs,
  then times ``exp(-k)`` per epoch (the Keras ``LearningRateScheduler`` docs);
* :func:`from_epoch_function`: any other pure function of the epoch, sampled
  per epoch into the built-in ``PiecewiseConstantDecay`` (exact, and loads
  without this package).

Not a schedule: ``ReduceLROnPlateau`` lowers the rate when a *monitored
metric* stops improving, which no function of the step can know in advance;
keep it as a callback (``keras.callbacks.ReduceLROnPlateau``, with a float
``learning_rate``, not a schedule). A ``LearningRateScheduler`` whose
function reads anything but the epoch and the current rate (the loss, a
global, a random number) is not a schedule either.

``steps_per_epoch`` must be the number of batches per epoch of the legacy
run (``ceil(samples / batch_size)``): the legacy callback changed the rate
at epoch boundaries, whatever the step count.
"""

from __future__ import annotations

import math

import keras
from keras import ops


def _epoch(step, steps_per_epoch):
    # Integer division in float32 is exact for steps below 2**24.
    return ops.floor(ops.cast(step, "float32") / float(steps_per_epoch))


def _check_steps(steps_per_epoch):
    if int(steps_per_epoch) < 1:
        raise ValueError(f"steps_per_epoch must be a positive integer (batches per epoch), got {steps_per_epoch}")
    return int(steps_per_epoch)


@keras.saving.register_keras_serializable(package="modern")
class StepDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``initial_learning_rate * drop ** floor((1 + epoch) / epochs_drop)``, per step.

    The "step decay" passed to ``LearningRateScheduler`` in the widely
    copied blog posts (``initial_lrate * math.pow(drop, math.floor((1 +
    epoch) / epochs_drop))``); note the ``1 +``: with ``epochs_drop=10`` the
    first drop happens at epoch 9 (0-based), as in the legacy function.

    Args:
        initial_learning_rate: the rate of epoch 0.
        drop: the factor per drop.
        epochs_drop: epochs between drops.
        steps_per_epoch: batches per epoch of the run.

    Call arguments:
        step: the optimizer step (0 for the first batch).

    Returns:
        The rate, a float32 scalar tensor.
    """

    def __init__(self, initial_learning_rate, drop, epochs_drop, steps_per_epoch):
        self.initial_learning_rate = float(initial_learning_rate)
        self.drop = float(drop)
        self.epochs_drop = float(epochs_drop)
        self.steps_per_epoch = _check_steps(steps_per_epoch)

    def __call__(self, step):
        epoch = _epoch(step, self.steps_per_epoch)
        drops = ops.floor((1.0 + epoch) / self.epochs_drop)
        return self.initial_learning_rate * ops.power(self.drop, drops)

    def get_config(self):
        return {
            "initial_learning_rate": self.initial_learning_rate,
            "drop": self.drop,
            "epochs_drop": self.epochs_drop,
            "steps_per_epoch": self.steps_per_epoch,
        }


@keras.saving.register_keras_serializable(package="modern")
class EpochExponentialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``initial_learning_rate * exp(-k * epoch)``, per step.

    The "exponential decay" of the blog posts' ``LearningRateScheduler``
    (``initial_lrate * exp(-k * epoch)``). Keras 3's ``ExponentialDecay``
    with ``staircase=True`` is the same curve written as
    ``initial * exp(-k) ** epoch``; this class keeps the legacy arithmetic.

    Args:
        initial_learning_rate: the rate of epoch 0.
        k: the decay constant per epoch.
        steps_per_epoch: batches per epoch of the run.
    """

    def __init__(self, initial_learning_rate, k, steps_per_epoch):
        self.initial_learning_rate = float(initial_learning_rate)
        self.k = float(k)
        self.steps_per_epoch = _check_steps(steps_per_epoch)

    def __call__(self, step):
        epoch = _epoch(step, self.steps_per_epoch)
        return self.initial_learning_rate * ops.exp(-self.k * epoch)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "k": self.k,
                "steps_per_epoch": self.steps_per_epoch}


@keras.saving.register_keras_serializable(package="modern")
class HoldThenExponentialDecay(keras.optimizers.schedules.LearningRateSchedule):
    """The Keras docs' scheduler: keep the rate for ``hold_epochs`` epochs, then ``lr * exp(-k)`` each epoch.

    The legacy function (``return lr if epoch < hold else lr * exp(-k)``)
    reads the rate back from the optimizer each epoch, so its value at epoch
    ``e >= hold_epochs`` is ``initial * exp(-k) ** (e - hold_epochs + 1)``,
    rounded to float32 once per epoch on the way; this class evaluates the
    closed form (within a relative 1e-6 of the legacy values over hundreds
    of epochs).

    Args:
        initial_learning_rate: the optimizer's rate when training starts.
        hold_epochs: epochs kept at the initial rate.
        k: the decay constant per epoch after that.
        steps_per_epoch: batches per epoch of the run.
    """

    def __init__(self, initial_learning_rate, hold_epochs, k, steps_per_epoch):
        self.initial_learning_rate = float(initial_learning_rate)
        self.hold_epochs = int(hold_epochs)
        self.k = float(k)
        self.steps_per_epoch = _check_steps(steps_per_epoch)

    def __call__(self, step):
        epoch = _epoch(step, self.steps_per_epoch)
        decays = ops.maximum(epoch - float(self.hold_epochs) + 1.0, 0.0)
        return self.initial_learning_rate * ops.exp(-self.k * decays)

    def get_config(self):
        return {"initial_learning_rate": self.initial_learning_rate, "hold_epochs": self.hold_epochs,
                "k": self.k, "steps_per_epoch": self.steps_per_epoch}


def from_epoch_function(function, steps_per_epoch, epochs, initial_learning_rate=None):
    """Any pure per-epoch rate function as a built-in ``PiecewiseConstantDecay``.

    ``function`` is what was given to ``LearningRateScheduler``: ``fn(epoch)``
    or ``fn(epoch, lr)``; it is called here once per epoch, with the rate the
    previous epoch used (``initial_learning_rate`` for epoch 0), exactly as
    the legacy callback did, and the values become the pieces. After
    ``epochs`` the last rate is kept. The function is not saved, only its
    values, so the ``.keras`` file loads with Keras 3 alone.

    Args:
        function: the legacy per-epoch function (pure: same epoch, same rate).
        steps_per_epoch: batches per epoch of the run.
        epochs: how many epochs to sample (the run's ``epochs``).
        initial_learning_rate: the optimizer's rate before epoch 0; required
            when ``function`` takes the current rate.

    Returns:
        A ``keras.optimizers.schedules.PiecewiseConstantDecay``.
    """
    steps_per_epoch = _check_steps(steps_per_epoch)
    if int(epochs) < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs}")
    def float32(value):
        # The legacy callback stored the rate in a float32 variable and read it back.
        return float(ops.convert_to_numpy(ops.cast(value, "float32")))

    values = []
    rate = None if initial_learning_rate is None else float32(initial_learning_rate)
    for epoch in range(int(epochs)):
        # As tf_keras' LearningRateScheduler: fn(epoch, lr), and on TypeError
        # the older fn(epoch).
        try:
            value = function(epoch, rate)
        except TypeError:
            value = function(epoch)
        try:
            finite = math.isfinite(float(value))
        except (TypeError, ValueError):
            finite = False
        if not finite:
            raise ValueError(f"the epoch function returned {value!r} for epoch {epoch}; it must return a finite float")
        rate = float32(value)
        values.append(rate)
    if len(values) == 1:
        values.append(values[0])
    boundaries = [steps_per_epoch * (epoch + 1) - 1 for epoch in range(len(values) - 1)]
    return keras.optimizers.schedules.PiecewiseConstantDecay(boundaries, values)


__all__ = ["EpochExponentialDecay", "HoldThenExponentialDecay", "StepDecay", "from_epoch_function"]
