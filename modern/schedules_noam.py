"""The Noam learning-rate schedule of "Attention is all you need" (the 2021 tutorial's ``CustomSchedule``)."""

from __future__ import annotations

import keras
from keras import ops

__all__ = ["NoamSchedule"]


@keras.saving.register_keras_serializable(package="modern")
class NoamSchedule(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warmup, then inverse-square-root decay.

    ``lr(step) = d_model ** -0.5 * min(step ** -0.5, step * warmup_steps ** -1.5)``:
    rises linearly for ``warmup_steps`` steps, peaks at
    ``(d_model * warmup_steps) ** -0.5`` and then decays as ``step ** -0.5``.
    ``lr(0) == 0``.

    Unlike the tutorial's ``CustomSchedule``, the step may be an integer: Keras 3
    optimizers (and the non-legacy ``tf_keras`` ones) pass their integer
    ``iterations``, on which the 2021 ``tf.math.rsqrt(step)`` fails. The step
    is cast to float32 first, which is what the 2021 optimizer did before
    calling the schedule, so the values are the tutorial's.

    Both the 2021 optimizer and Keras 3 optimizers evaluate the schedule at the
    iteration count *before* the update, so the first update uses ``lr(0) ==
    0`` in both (Adam's moments are still updated by it).

    Args:
        d_model: model width; the peak learning rate scales as
            ``d_model ** -0.5``.
        warmup_steps: number of linear warmup steps (4000 in the paper and
            the tutorial).

    Call arguments:
        step: the optimizer step, integer or float scalar (or tensor of
            steps).

    Returns:
        float32 learning rate(s), the shape of ``step``.

    Example:

    >>> optimizer = keras.optimizers.Adam(NoamSchedule(128), beta_1=0.9, beta_2=0.98, epsilon=1e-9)
    """

    def __init__(self, d_model, warmup_steps=4000):
        super().__init__()
        if int(d_model) <= 0 or int(warmup_steps) <= 0:
            raise ValueError(f"d_model and warmup_steps must be positive, got {d_model}, {warmup_steps}")
        self.d_model = int(d_model)
        self.warmup_steps = int(warmup_steps)

    def __call__(self, step):
        step = ops.cast(step, "float32")
        decay = ops.rsqrt(step)  # inf at step 0, which the minimum discards
        # The 2021 code multiplied by a Python float (warmup ** -1.5), which
        # TensorFlow rounds to float32 first; do the same explicitly.
        warmup = ops.multiply(step, ops.cast(self.warmup_steps**-1.5, "float32"))
        return ops.multiply(ops.rsqrt(ops.cast(self.d_model, "float32")), ops.minimum(decay, warmup))

    def get_config(self):
        return {"d_model": self.d_model, "warmup_steps": self.warmup_steps}
