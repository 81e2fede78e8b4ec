"""Optimizers that reproduce the legacy training updates on every Keras 3 backend."""

import keras
from keras import ops


@keras.saving.register_keras_serializable(package="modern")
class LegacyAdam(keras.optimizers.Adam):
    """``keras.optimizers.Adam`` that updates embeddings as the legacy Adam did, on every backend.

    The Adam update of Keras 3 is the one of Keras 2.2 and of
    ``tf_keras.optimizers.legacy.Adam`` (``ResourceApplyAdam``): ``m += (g -
    m)(1 - beta_1)``, ``v += (g^2 - v)(1 - beta_2)``, ``var -= lr *
    sqrt(1 - beta_2^t) / (1 - beta_1^t) * m / (sqrt(v) + epsilon)`` with
    ``t = iterations + 1`` and the "epsilon hat" added to the *uncorrected*
    ``sqrt(v)``; the defaults (``beta_1=0.9``, ``beta_2=0.999``,
    ``epsilon=1e-7``) agree too. One thing differs: on the TensorFlow
    backend an ``Embedding``'s gradient arrives as ``tf.IndexedSlices`` with
    one slice per token, and Keras 3's Adam squares those slices *before*
    summing repeated token ids, so a token seen ``k`` times in a batch gets
    ``v`` from ``sum(g_i^2)`` instead of ``(sum g_i)^2`` and a different
    (larger) step. The legacy optimizers summed repeated ids first, as Keras
    3 does on jax and torch (dense gradients). This class densifies such a
    gradient before the update (``g + 0.0`` -- an exact identity for dense
    gradients on every backend), so all backends follow the legacy update.

    Arguments, defaults and config are those of ``keras.optimizers.Adam``.
    """

    def update_step(self, gradient, variable, learning_rate):
        # On TF, adding a scalar to tf.IndexedSlices returns the dense sum of
        # the slices with repeated indices accumulated (what the legacy
        # optimizers applied); for dense gradients it changes nothing.
        super().update_step(ops.add(gradient, 0.0), variable, learning_rate)


def _densify(gradient):
    # tf.IndexedSlices + 0.0 is the dense sum of the slices (repeated ids
    # accumulated); a no-op on dense gradients and on jax/torch.
    return ops.add(gradient, 0.0)


def _inverse_time_decay(optimizer, lr, dtype):
    """OptimizerV2's ``decay`` argument: ``lr / (1 + decay * iterations)`` (``_decayed_lr``)."""
    if optimizer.decay <= 0.0:
        return lr
    iterations = ops.cast(optimizer.iterations, dtype)
    return lr / (1.0 + ops.cast(optimizer.decay, dtype) * iterations)


class _LegacyRuleOptimizer(keras.optimizers.Optimizer):
    """Shared plumbing of the optimizers that reproduce a legacy library's Adam variant.

    Their ``weight_decay`` is the legacy *coupled* one (``wd * var`` added to
    the update before it is scaled by the step size), not Keras 3's decoupled
    ``var -= lr * wd * var``, so it is kept out of the base class (which
    would apply its own decay as well) and saved by this class's config.
    """

    def __init__(self, learning_rate, beta_1, beta_2, epsilon, weight_decay, amsgrad, decay, name, **kwargs):
        super().__init__(learning_rate=learning_rate, name=name, **kwargs)
        self.beta_1 = float(beta_1)
        self.beta_2 = float(beta_2)
        # The libraries said `epsilon or K.epsilon()`: 0 and None both meant 1e-7.
        self.epsilon = float(epsilon or keras.config.epsilon())
        self.legacy_weight_decay = float(weight_decay)
        self.amsgrad = bool(amsgrad)
        self.decay = float(decay)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # Slot names follow Keras 3's Adam, so ported Adam-style state lands alike.
        self._momentums, self._velocities = self.add_optimizer_variables(var_list, ["momentum", "velocity"])
        if self.amsgrad:
            self._velocity_hats = self.add_optimizer_variables(var_list, "velocity_hat")

    def _step_constants(self, gradient, variable, learning_rate):
        """What both legacy rules compute first, in the variable's dtype, as OptimizerV2 did.

        Returns ``(gradient, lr, beta_1, beta_2, local_step, beta_1_power,
        beta_2_power)``: the densified gradient, the rate after ``decay``,
        the betas as float32 constants (the legacy hyper variables), ``t =
        iterations + 1`` and ``beta^t``.
        """
        dtype = variable.dtype
        gradient = ops.cast(_densify(gradient), dtype)
        lr = _inverse_time_decay(self, ops.cast(learning_rate, dtype), dtype)
        beta_1 = ops.cast(self.beta_1, dtype)
        beta_2 = ops.cast(self.beta_2, dtype)
        local_step = ops.cast(self.iterations + 1, dtype)
        return gradient, lr, beta_1, beta_2, local_step, ops.power(beta_1, local_step), ops.power(beta_2, local_step)

    def _apply_update(self, variable, lr, update):
        """``var -= lr * (update + weight_decay * var)``: the libraries' coupled decay, when set."""
        if self.legacy_weight_decay > 0.0:
            update = update + ops.cast(self.legacy_weight_decay, variable.dtype) * variable
        self.assign_sub(variable, lr * update)

    def _moments(self, gradient, variable, beta_1, beta_2):
        """``m = b1*m + (1-b1)*g``, ``v = b2*v + (1-b2)*g^2``, as the libraries wrote them."""
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        m_t = beta_1 * m + (1.0 - beta_1) * gradient
        v_t = beta_2 * v + (1.0 - beta_2) * ops.square(gradient)
        self.assign(m, m_t)
        self.assign(v, v_t)
        return index, m_t, v_t

    def get_config(self):
        config = super().get_config()
        config.update({
            "beta_1": self.beta_1,
            "beta_2": self.beta_2,
            "epsilon": self.epsilon,
            "weight_decay": self.legacy_weight_decay,
            "amsgrad": self.amsgrad,
            "decay": self.decay,
        })
        return config


@keras.saving.register_keras_serializable(package="modern")
class AdamWarmup(_LegacyRuleOptimizer):
    """Adam with linear warmup then linear decay: keras-bert's ``AdamWarmup``, as a Keras 3 optimizer.

    The update of keras-bert 0.89's ``keras_bert.optimizers.AdamWarmup``
    (``warmup_v2.py``), step for step. With ``t = iterations + 1``:

    * ``lr = learning_rate / (1 + decay * iterations)`` (OptimizerV2's
      ``decay``; a ``LearningRateSchedule`` is evaluated first);
    * ``lr = lr * t / warmup_steps`` while ``t <= warmup_steps``, else
      ``min_lr + (lr - min_lr) * (1 - min(t, decay_steps) / decay_steps)``;
    * ``lr = lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)`` (bias correction);
    * ``m = beta_1 m + (1 - beta_1) g``, ``v = beta_2 v + (1 - beta_2) g^2``;
    * ``update = m / (sqrt(v) + epsilon)`` -- epsilon is added to the
      *uncorrected* ``sqrt(v)`` ("epsilon hat", as Keras' Adam);
    * ``update += weight_decay * var`` when ``weight_decay > 0`` (coupled:
      the decay is scaled by the bias-corrected step size too);
    * ``var -= lr * update``.

    ``amsgrad=True`` keeps a ``velocity_hat`` slot and divides by
    ``sqrt(max(velocity_hat, v))``, but, as in keras-bert, the slot is never
    written, so it stays 0 and the update is the plain one; this class
    reproduces that rather than "fixing" it, so numbers do not move.
    keras-bert's ``weight_decay_pattern`` is accepted and saved, but its
    OptimizerV2 version never read it (every weight is decayed), and neither
    does this class.

    Gradients are densified first (see :class:`LegacyAdam`); keras-bert's
    sparse path squared repeated-id slices separately, this follows its dense
    rule.

    Args:
        decay_steps: the rate reaches ``min_lr`` at this step (counting from 1).
        warmup_steps: the rate grows linearly to ``learning_rate`` over these steps.
        min_lr: the rate after ``decay_steps``.
        learning_rate: peak rate, a float or a ``LearningRateSchedule``.
        beta_1, beta_2, epsilon: Adam's constants (``epsilon=None`` or 0
            means ``keras.config.epsilon()``, as keras-bert's ``epsilon or
            K.epsilon()``).
        weight_decay: coupled L2 decay added to the update.
        weight_decay_pattern: kept for config compatibility; unused (see above).
        amsgrad: see above.
        decay: OptimizerV2's inverse-time decay of the rate per iteration.
        name, **kwargs: as for ``keras.optimizers.Optimizer`` (``clipnorm``, ...).
    """

    def __init__(
        self,
        decay_steps,
        warmup_steps,
        min_lr=0.0,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        weight_decay=0.0,
        weight_decay_pattern=None,
        amsgrad=False,
        decay=0.0,
        name="adam_warmup",
        **kwargs,
    ):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, amsgrad, decay, name, **kwargs)
        self.decay_steps = float(decay_steps)
        self.warmup_steps = float(warmup_steps)
        self.min_lr = float(min_lr)
        self.weight_decay_pattern = None if weight_decay_pattern is None else list(weight_decay_pattern)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        gradient, lr, beta_1, beta_2, local_step, beta_1_power, beta_2_power = self._step_constants(
            gradient, variable, learning_rate)
        decay_steps = ops.cast(self.decay_steps, dtype)
        warmup_steps = ops.cast(self.warmup_steps, dtype)
        min_lr = ops.cast(self.min_lr, dtype)
        lr = ops.where(
            local_step <= warmup_steps,
            lr * (local_step / warmup_steps),
            min_lr + (lr - min_lr) * (1.0 - ops.minimum(local_step, decay_steps) / decay_steps),
        )
        lr = lr * ops.sqrt(1.0 - beta_2_power) / (1.0 - beta_1_power)
        index, m_t, v_t = self._moments(gradient, variable, beta_1, beta_2)
        if self.amsgrad:
            # keras-bert computes max(vhat, v) but never assigns vhat.
            v_t = ops.maximum(self._velocity_hats[index], v_t)
        self._apply_update(variable, lr, m_t / (ops.sqrt(v_t) + ops.cast(self.epsilon, dtype)))

    def get_config(self):
        config = super().get_config()
        config.update({
            "decay_steps": self.decay_steps,
            "warmup_steps": self.warmup_steps,
            "min_lr": self.min_lr,
            "weight_decay_pattern": self.weight_decay_pattern,
        })
        return config


@keras.saving.register_keras_serializable(package="modern")
class RAdam(_LegacyRuleOptimizer):
    """Rectified Adam: keras-rectified-adam 0.20's ``keras_radam.RAdam``, as a Keras 3 optimizer.

    The update of ``keras_radam.RAdam`` (its OptimizerV2 version), step for
    step. With ``t = iterations + 1``:

    * ``lr = learning_rate / (1 + decay * iterations)``;
    * with ``total_steps > 0``: ``w = total_steps * warmup_proportion``,
      ``d = max(total_steps - w, 1)``; ``lr = lr * t / w`` while ``t <= w``,
      else ``lr + (min_lr - lr) / d * min(t - w, d)`` (linear warmup, then
      linear decay to ``min_lr``);
    * ``sma_inf = 2 / (1 - beta_2) - 1``,
      ``sma_t = sma_inf - 2 t beta_2^t / (1 - beta_2^t)``;
    * ``m = beta_1 m + (1 - beta_1) g``, ``m_hat = m / (1 - beta_1^t)``;
      ``v = beta_2 v + (1 - beta_2) g^2`` (with ``amsgrad``,
      ``vhat = max(vhat, v)`` is stored and used instead of ``v``),
      ``v_hat = sqrt(v / (1 - beta_2^t))``;
    * ``r_t = sqrt((sma_t - 4)(sma_t - 2) sma_inf / ((sma_inf - 4)(sma_inf - 2) sma_t))``;
    * ``update = r_t m_hat / (v_hat + epsilon)`` where ``sma_t >= 5``, else
      ``m_hat`` (SGD with momentum while the variance is not tractable) --
      epsilon is added to the *bias-corrected* ``sqrt``, unlike Adam;
    * ``update += weight_decay * var`` when ``weight_decay > 0``;
      ``var -= lr * update``.

    Every constant is taken to float32 before the arithmetic, as the legacy
    hyper-parameter variables were: ``sma_inf`` is then ``2000.03``, not
    ``1999``, which matters in the first steps. Gradients are densified
    first (see :class:`LegacyAdam`); the legacy sparse path updated only the
    rows in the batch, this follows its dense rule.

    Args:
        learning_rate: a float or a ``LearningRateSchedule``.
        beta_1, beta_2, epsilon: as Adam (``epsilon=None`` or 0 means
            ``keras.config.epsilon()``).
        weight_decay: coupled L2 decay added to the update.
        amsgrad: keep ``max(vhat, v)`` and use it for the variance.
        total_steps: enables the warmup/decay of the rate when > 0.
        warmup_proportion: fraction of ``total_steps`` spent warming up.
        min_lr: the rate reached at ``total_steps``.
        decay: OptimizerV2's inverse-time decay of the rate per iteration.
        name, **kwargs: as for ``keras.optimizers.Optimizer``.
    """

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
        weight_decay=0.0,
        amsgrad=False,
        total_steps=0,
        warmup_proportion=0.1,
        min_lr=0.0,
        decay=0.0,
        name="radam",
        **kwargs,
    ):
        super().__init__(learning_rate, beta_1, beta_2, epsilon, weight_decay, amsgrad, decay, name, **kwargs)
        self.total_steps = float(total_steps)
        self.warmup_proportion = float(warmup_proportion)
        self.min_lr = float(min_lr)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        gradient, lr, beta_1, beta_2, local_step, beta_1_power, beta_2_power = self._step_constants(
            gradient, variable, learning_rate)
        if self.total_steps > 0:
            total_steps = ops.cast(self.total_steps, dtype)
            warmup_steps = total_steps * ops.cast(self.warmup_proportion, dtype)
            decay_steps = ops.maximum(total_steps - warmup_steps, 1.0)
            decay_rate = (ops.cast(self.min_lr, dtype) - lr) / decay_steps
            lr = ops.where(
                local_step <= warmup_steps,
                lr * (local_step / warmup_steps),
                lr + decay_rate * ops.minimum(local_step - warmup_steps, decay_steps),
            )
        sma_inf = 2.0 / (1.0 - beta_2) - 1.0
        sma_t = sma_inf - 2.0 * local_step * beta_2_power / (1.0 - beta_2_power)
        index, m_t, v_t = self._moments(gradient, variable, beta_1, beta_2)
        m_corr = m_t / (1.0 - beta_1_power)
        if self.amsgrad:
            vhat = self._velocity_hats[index]
            v_t = ops.maximum(vhat, v_t)
            self.assign(vhat, v_t)
        v_corr = ops.sqrt(v_t / (1.0 - beta_2_power))
        # Negative under the root while sma_t < 4; that branch is not taken.
        r_t = ops.sqrt((sma_t - 4.0) / (sma_inf - 4.0) * (sma_t - 2.0) / (sma_inf - 2.0) * sma_inf / sma_t)
        update = ops.where(sma_t >= 5.0, r_t * m_corr / (v_corr + ops.cast(self.epsilon, dtype)), m_corr)
        self._apply_update(variable, lr, update)

    def get_config(self):
        config = super().get_config()
        config.update({
            "total_steps": self.total_steps,
            "warmup_proportion": self.warmup_proportion,
            "min_lr": self.min_lr,
        })
        return config


@keras.saving.register_keras_serializable(package="modern")
class Lookahead(keras.optimizers.Optimizer):
    """Lookahead around any Keras 3 optimizer: keras-lookahead's ``Lookahead``, as a Keras 3 optimizer.

    The rule of keras-lookahead 0.9 (CyberZHG), after the paper "Lookahead
    Optimizer: k steps forward, 1 step back": the wrapped ("fast") optimizer
    updates the weights every step; a slow copy of each weight starts at the
    weight's value before this optimizer's first step, and after every step ``t``
    (counted from 1) with ``t % sync_period == 0``::

        slow = slow + slow_step * (weight - slow)
        weight = slow

    The wrapped optimizer keeps its own slots, iteration counter and learning
    rate (``learning_rate`` reads and sets the wrapped one's, as the legacy
    ``lr`` property did); the slow weights are this optimizer's ``slow``
    slots, so all of it is saved in a ``.keras`` file and resumes.

    Args:
        optimizer: the wrapped Keras 3 optimizer (an instance, a name, or a
            serialized config).
        sync_period: ``k``, the steps between synchronisations.
        slow_step: ``alpha``, the step of the slow weights toward the fast ones.
        name: the optimizer's name.
    """

    def __init__(self, optimizer, sync_period=5, slow_step=0.5, name="lookahead", **kwargs):
        # The base class's own learning rate is unused: the wrapped optimizer steps.
        super().__init__(learning_rate=0.0, name=name, **kwargs)
        self.inner_optimizer = keras.optimizers.get(optimizer)
        if int(sync_period) < 1:
            raise ValueError(f"sync_period must be a positive integer, got {sync_period}")
        self.sync_period = int(sync_period)
        self.slow_step = float(slow_step)

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self.inner_optimizer.build(var_list)
        # Zeros here; the first step copies the weights in (see below). Keras may
        # build the optimizer in a scope where an assign, or an initializer
        # reading another variable, does not last or cannot run under XLA.
        self._slow_weights = self.add_optimizer_variables(var_list, "slow")

    @property
    def variables(self):
        # Everything that must be saved and, on JAX, threaded through the
        # stateless train step: the slow weights and the wrapped optimizer's state.
        return super().variables + self.inner_optimizer.variables

    @property
    def learning_rate(self):
        return self.inner_optimizer.learning_rate

    @learning_rate.setter
    def learning_rate(self, learning_rate):
        self.inner_optimizer.learning_rate = learning_rate

    def _backend_apply_gradients(self, grads, trainable_variables):
        # The fast step is the wrapped optimizer's whole apply (its clipping,
        # its counter), then the synchronisation on its counter, as the
        # legacy `(iterations + 1) // k * k == iterations + 1`.
        # The legacy slow weights were K.variable(K.get_value(p)): the weights
        # when training started, i.e. before this optimizer's first step.
        first = ops.equal(self.iterations, 0)
        for variable in trainable_variables:
            slow = self._slow_weights[self._get_variable_index(variable)]
            self.assign(slow, ops.where(first, variable.value, slow.value))
        self.inner_optimizer.apply(grads, trainable_variables)
        step = self.inner_optimizer.iterations
        sync = ops.equal(ops.mod(step, self.sync_period), 0)
        for variable in trainable_variables:
            slow = self._slow_weights[self._get_variable_index(variable)]
            # `.value`: the current values (mapped ones inside JAX's stateless scope).
            fast, slow_value = variable.value, slow.value
            slow_t = slow_value + ops.cast(self.slow_step, variable.dtype) * (fast - slow_value)
            self.assign(slow, ops.where(sync, slow_t, slow_value))
            self.assign(variable, ops.where(sync, slow_t, fast))

    def get_config(self):
        return {
            "name": self.name,
            "optimizer": keras.optimizers.serialize(self.inner_optimizer),
            "sync_period": self.sync_period,
            "slow_step": self.slow_step,
        }

    @classmethod
    def from_config(cls, config, custom_objects=None):
        config = dict(config)
        config["optimizer"] = keras.optimizers.deserialize(config["optimizer"], custom_objects=custom_objects)
        return cls(**config)
