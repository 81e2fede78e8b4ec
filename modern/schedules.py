"""Warmup + hold + cosine-decay learning rate, as a Keras 3 schedule and as a callback.

Keras 3 port of ``cosine_decay_with_warmup`` and ``WarmUpCosineDecayScheduler``
from the 2021 transformer-classifier blog post (the widely copied
``warmup_cosine_decay_scheduler.py``). With ``w = warmup_steps``,
``h = hold_base_rate_steps``, ``T = total_steps``, ``base =
learning_rate_base`` and step ``t`` (0 for the first batch):

* ``t > T``: ``0.0``;
* ``w > 0`` and ``t < w``: ``warmup_learning_rate + t * (base -
  warmup_learning_rate) / w`` (linear warmup);
* ``h > 0`` and ``t <= w + h``: ``base`` (the step ``w + h`` is held too);
* otherwise ``0.5 * base * (1 + cos(pi * (t - w - h) / (T - w - h)))``.

Prefer :class:`WarmUpCosineDecay` (``Adam(learning_rate=WarmUpCosineDecay(...))``):
it is evaluated inside the train step from ``optimizer.iterations`` and
needs no host round trip. :class:`WarmUpCosineDecayCallback` keeps the legacy
callback style for code that reads ``callback.learning_rates``.
"""

from __future__ import annotations

import math

import keras
import numpy as np
from keras import ops


def _check_arguments(learning_rate_base, total_steps, warmup_learning_rate, warmup_steps, hold_base_rate_steps):
    """Raise the legacy ``ValueError`` s, at construction instead of at the first step."""
    if total_steps < warmup_steps:
        raise ValueError("total_steps must be larger or equal to warmup_steps.")
    if warmup_steps > 0 and learning_rate_base < warmup_learning_rate:
        # The legacy formula checks this only when there is a warmup.
        raise ValueError("learning_rate_base must be larger or equal to warmup_learning_rate.")
    if total_steps == warmup_steps + hold_base_rate_steps:
        # The legacy formula divides by total - warmup - hold: the callback
        # raised ZeroDivisionError on its first batch (NaN with numpy steps).
        raise ValueError(
            "total_steps must differ from warmup_steps + hold_base_rate_steps "
            f"({total_steps} == {warmup_steps} + {hold_base_rate_steps}): the cosine phase would "
            "divide by zero (the legacy formula raised ZeroDivisionError)."
        )


def warmup_cosine_value(
    step,
    learning_rate_base,
    total_steps,
    warmup_learning_rate=0.0,
    warmup_steps=0,
    hold_base_rate_steps=0,
):
    """The legacy rate at one integer ``step``, in Python float64, operation for operation.

    Same arithmetic as the legacy numpy ``cosine_decay_with_warmup`` for a
    scalar step, so the callback sets exactly the legacy values. Arguments
    as in :class:`WarmUpCosineDecay`; arguments are not validated here.

    Returns:
        The learning rate as a Python float.
    """
    if step > total_steps:
        return 0.0
    if warmup_steps > 0 and step < warmup_steps:
        slope = (learning_rate_base - warmup_learning_rate) / warmup_steps
        return slope * step + warmup_learning_rate
    if hold_base_rate_steps > 0 and step <= warmup_steps + hold_base_rate_steps:
        return float(learning_rate_base)
    decay_span = float(total_steps - warmup_steps - hold_base_rate_steps)
    progress = math.pi * (step - warmup_steps - hold_base_rate_steps) / decay_span
    return 0.5 * learning_rate_base * (1 + math.cos(progress))


@keras.saving.register_keras_serializable(package="modern")
class WarmUpCosineDecay(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup, optional hold at the peak, then one cosine decay to zero.

    Keras 3 schedule equal to the legacy ``cosine_decay_with_warmup`` at
    every integer step (see the module docstring for the formula), usable
    as ``keras.optimizers.Adam(learning_rate=WarmUpCosineDecay(...))``. The
    optimizer evaluates it at ``optimizer.iterations``, i.e. step 0 for the
    first batch, as the legacy callback did with ``global_step_init=0``.

    It is computed in float32 (the optimizer's dtype, and the only float
    type on every backend), in a form chosen so float32 loses no accuracy
    near the end of the decay: ``0.5 * base * (1 + cos(pi * p))`` is
    evaluated as ``base * sin(pi / 2 * (T - t) / (T - w - h)) ** 2`` (the
    same value; ``1 + cos`` would cancel catastrophically as ``p -> 1``).
    The result agrees with the float64 legacy values to a relative 1e-6.

    Args:
        learning_rate_base: peak learning rate.
        total_steps: number of steps of the whole schedule; the rate is 0
            after it.
        warmup_learning_rate: rate at step 0 of the linear warmup.
        warmup_steps: length of the linear warmup (0 for none).
        hold_base_rate_steps: steps held at ``learning_rate_base`` after
            the warmup (0 for none).

    Call arguments:
        step: the optimizer step, integer or float, scalar tensor or number.

    Returns:
        The learning rate, a float32 scalar tensor.

    Raises:
        ValueError: at construction, for the arguments the legacy formula
            rejected (``total_steps < warmup_steps``;
            ``learning_rate_base < warmup_learning_rate`` with a warmup) and
            for ``total_steps == warmup_steps + hold_base_rate_steps``
            (where the legacy formula divided by zero).
    """

    def __init__(
        self,
        learning_rate_base,
        total_steps,
        warmup_learning_rate=0.0,
        warmup_steps=0,
        hold_base_rate_steps=0,
    ):
        _check_arguments(learning_rate_base, total_steps, warmup_learning_rate, warmup_steps, hold_base_rate_steps)
        self.learning_rate_base = float(learning_rate_base)
        self.total_steps = int(total_steps)
        self.warmup_learning_rate = float(warmup_learning_rate)
        self.warmup_steps = int(warmup_steps)
        self.hold_base_rate_steps = int(hold_base_rate_steps)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        base = self.learning_rate_base
        warmup, hold, total = self.warmup_steps, self.hold_base_rate_steps, self.total_steps
        # (T - t) and the span are small integers, exact in float32, so the
        # only roundings are one division, one multiply, sin and the square.
        remaining = (float(total) - step) / float(total - warmup - hold)
        rate = base * ops.square(ops.sin((math.pi / 2.0) * remaining))
        if hold > 0:
            rate = ops.where(step > float(warmup + hold), rate, base)
        if warmup > 0:
            slope = (base - self.warmup_learning_rate) / warmup
            rate = ops.where(step < float(warmup), slope * step + self.warmup_learning_rate, rate)
        return ops.where(step > float(total), 0.0, rate)

    def get_config(self):
        return {
            "learning_rate_base": self.learning_rate_base,
            "total_steps": self.total_steps,
            "warmup_learning_rate": self.warmup_learning_rate,
            "warmup_steps": self.warmup_steps,
            "hold_base_rate_steps": self.hold_base_rate_steps,
        }


class WarmUpCosineDecayCallback(keras.callbacks.Callback):
    """Sets the warmup-cosine learning rate before every batch (legacy callback style).

    Keras 3 port of the legacy ``WarmUpCosineDecayScheduler``: at the start
    of each training batch it writes the rate for ``global_step`` into
    ``model.optimizer.learning_rate`` (the legacy
    ``K.set_value(model.optimizer.lr, lr)``); at the end of the batch it
    advances ``global_step`` and appends the rate the batch used to
    ``learning_rates`` (as the float32 the optimizer holds, like the legacy
    ``K.get_value`` read-back). The rates are computed in float64 exactly as
    the legacy numpy formula did (:func:`warmup_cosine_value`).

    The optimizer must have a plain (variable) learning rate, not a
    schedule. On the JAX backend the model state is synchronised before each
    write (``model.jax_state_sync()``), since ``fit`` otherwise keeps the
    optimizer state outside the variables for a whole epoch; that costs a
    host sync per batch, which :class:`WarmUpCosineDecay` avoids.

    Args:
        learning_rate_base: peak learning rate.
        total_steps: number of steps of the whole schedule.
        global_step_init: starting step, e.g. when resuming training.
        warmup_learning_rate: rate at step 0 of the linear warmup.
        warmup_steps: length of the linear warmup.
        hold_base_rate_steps: steps held at the peak after the warmup.
        verbose: if > 0, print the rate set at each batch.

    Raises:
        ValueError: at construction, as :class:`WarmUpCosineDecay`.
    """

    def __init__(
        self,
        learning_rate_base,
        total_steps,
        global_step_init=0,
        warmup_learning_rate=0.0,
        warmup_steps=0,
        hold_base_rate_steps=0,
        verbose=0,
    ):
        super().__init__()
        _check_arguments(learning_rate_base, total_steps, warmup_learning_rate, warmup_steps, hold_base_rate_steps)
        self.learning_rate_base = learning_rate_base
        self.total_steps = total_steps
        self.global_step = global_step_init
        self.warmup_learning_rate = warmup_learning_rate
        self.warmup_steps = warmup_steps
        self.hold_base_rate_steps = hold_base_rate_steps
        self.verbose = verbose
        self.learning_rates = []
        self._current_rate = None

    def rate(self, step):
        """The learning rate this callback sets at ``step`` (a Python float)."""
        return warmup_cosine_value(
            step,
            self.learning_rate_base,
            self.total_steps,
            self.warmup_learning_rate,
            self.warmup_steps,
            self.hold_base_rate_steps,
        )

    def on_train_batch_begin(self, batch, logs=None):
        rate = self.rate(self.global_step)
        sync = getattr(self.model, "jax_state_sync", None)
        if sync is not None:
            # JAX fit holds the optimizer state outside the variables; write
            # it back first so that the loop re-reads it with the new rate.
            sync()
        try:
            self.model.optimizer.learning_rate = rate
        except TypeError as error:
            raise TypeError(
                "WarmUpCosineDecayCallback sets optimizer.learning_rate, but the optimizer was built "
                "with a LearningRateSchedule; give it a float learning rate, or drop this callback and "
                "pass WarmUpCosineDecay(...) as the optimizer's learning_rate."
            ) from error
        self._current_rate = rate
        if self.verbose > 0:
            print(f"\nBatch {self.global_step + 1:05d}: setting learning rate to {rate}.")

    def on_train_batch_end(self, batch, logs=None):
        self.global_step = self.global_step + 1
        # The value the float32 optimizer variable held, without reading the
        # variable back: JAX fit may have detached its value for the epoch.
        self.learning_rates.append(float(np.float32(self._current_rate)))


__all__ = ["WarmUpCosineDecay", "WarmUpCosineDecayCallback", "warmup_cosine_value"]
