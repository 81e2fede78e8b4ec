"""bert4keras's piecewise-linear learning rate as a Keras 3 schedule.

bert4keras's ``extend_with_piecewise_linear_lr(Optimizer)`` multiplies the
learning rate by ``piecewise_linear(iterations, lr_schedule)``, where
``lr_schedule`` is a dict such as ``{1000: 1, 2000: 0.1}``: from step 0 to
1000 the multiplier grows linearly from 0 to 1, from 1000 to 2000 it falls
linearly to 0.1, and it stays at 0.1 after that (with ``from_zero`` a point
``(0, 0.0)`` is added in front unless the dict has a step 0). In Keras 3 the
same rate is a schedule: ``Adam(learning_rate=PiecewiseLinearDecay(lr,
lr_schedule))``, evaluated at the step count before the update, which is
what bert4keras read from ``iterations``.
"""

from __future__ import annotations

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="modern")
class PiecewiseLinearDecay(keras.optimizers.schedules.LearningRateSchedule):
    """``learning_rate * piecewise_linear(step, schedule)``, bert4keras's multiplier, per step.

    The multiplier is evaluated as bert4keras's ``piecewise_linear`` did, in
    float32: for each point ``(t_i, x_i)`` in step order, from ``t >= t_i``
    on, ``x_i + (x_{i+1} - x_i) / (t_{i+1} - t_i) * (t - t_i)`` (the slope a
    Python float), the last point's value held after it.

    Args:
        learning_rate: the rate the multiplier scales.
        schedule: ``{step: multiplier}`` points (keys may be strings of
            integers, as a JSON config holds them).
        from_zero: start at ``(0, 0.0)`` when the schedule has no step 0.

    Call arguments:
        step: the optimizer step.

    Returns:
        The rate, a float32 scalar tensor.
    """

    def __init__(self, learning_rate, schedule, from_zero=True):
        if not schedule:
            raise ValueError("schedule must have at least one {step: multiplier} point")
        self.learning_rate = float(learning_rate)
        self.schedule = {int(step): float(value) for step, value in schedule.items()}
        self.from_zero = bool(from_zero)

    def multiplier(self, step):
        """bert4keras's ``piecewise_linear(step, schedule, from_zero)``."""
        points = sorted(self.schedule.items())
        if self.from_zero and points[0][0] != 0:
            points = [(0, 0.0)] + points
        t = ops.cast(step, "float32")
        x = ops.ones_like(t) * points[0][1]
        for i, (t_begin, x_here) in enumerate(points):
            previous = x
            if i != len(points) - 1:
                slope = (points[i + 1][1] - x_here) / (points[i + 1][0] - t_begin)
                x = x_here + slope * (t - t_begin)
            else:
                x = ops.ones_like(t) * x_here
            x = ops.where(t >= t_begin, x, previous)
        return x

    def __call__(self, step):
        return self.learning_rate * self.multiplier(step)

    def get_config(self):
        return {"learning_rate": self.learning_rate, "schedule": {str(k): v for k, v in self.schedule.items()},
                "from_zero": self.from_zero}


__all__ = ["PiecewiseLinearDecay"]
