"""What each legacy optimizer becomes in Keras 3, as data (read by :mod:`migrate.weights.optimizer_state`).

Every row was checked against the installed sources: ``tf_keras/src/optimizers/legacy/*.py``
(the tf.keras 2.x ``OptimizerV2`` classes, whose dense updates are the fused
``ResourceApply*`` kernels), Keras 2.2.4's ``keras/optimizers.py`` (quoted in
the reasons) and ``keras/src/optimizers/*.py`` of Keras 3. A row maps only
where the update rule is the same; otherwise it carries the reason it is
refused, and ``migrate port`` says that reason in its one error line.

Slots: the legacy slot name (tf_keras ``add_slot`` names, also the last
component of an HDF5 ``optimizer_weights`` entry and of a TF checkpoint's
``.OPTIMIZER_SLOT/<optimizer>/<slot>`` key) -> the suffix Keras 3 gives the
slot variable (``add_optimizer_variables(var_list, "<suffix>")`` names it
``<variable path with _>_<suffix>``).
"""

from __future__ import annotations

from dataclasses import dataclass

# Keras 2.2.4's K.epsilon(): the value its optimizers took for epsilon=None.
KERAS22_EPSILON = 1e-7


@dataclass(frozen=True)
class Hyper:
    """One constructor argument of the Keras 3 optimizer.

    Attributes:
        keras3: the Keras 3 argument name.
        legacy: its names in legacy configs and checkpoints (Keras 2.2.4 said
            ``lr``; tf_keras says ``learning_rate`` and accepts ``lr``).
        keras22_default: the Keras 2.2.4 default, used when a Keras 2.2.4
            config lacks the key.
        tf_keras_default: the tf_keras legacy default.
        why: why the value carries over as it does.
    """

    keras3: str
    legacy: tuple[str, ...]
    keras22_default: float | bool | None
    tf_keras_default: float | bool | None
    why: str


@dataclass(frozen=True)
class OptimizerRow:
    """A legacy optimizer class and its Keras 3 counterpart.

    Attributes:
        legacy: the class name stored in ``training_config``.
        keras3: ``module:Class`` of the Keras 3 optimizer to build, or ``None``
            when refused.
        base: ``module:Class`` a user's own compiled optimizer must be an
            instance of (``--model`` compiled with it).
        slots: legacy slot name -> Keras 3 slot suffix.
        keras22_order: the layout of a Keras 2.2.4 ``optimizer_weights`` list,
            which names its arrays by order only (``iterations`` once, each
            slot name once per trainable weight, in weight order).
        hypers: the constructor arguments that carry over.
        refused: why the rule differs, when the class is not ported.
        refused_unless: a hyper-parameter that, when non-zero, makes the rule
            match after all (``refused`` then applies only where it is 0).
        why: why the mapping is exact.
    """

    legacy: str
    keras3: str | None
    base: str | None
    slots: tuple[tuple[str, str], ...] = ()
    keras22_order: tuple[str, ...] = ()
    hypers: tuple[Hyper, ...] = ()
    refused: str | None = None
    refused_unless: str | None = None
    why: str = ""


_LR_WHY = "the learning rate the legacy optimizer held when saved (a callback may have set it)"

OPTIMIZERS: tuple[OptimizerRow, ...] = (
    OptimizerRow(
        legacy="Adam",
        keras3="modern.optimizers:LegacyAdam",
        base="keras.optimizers:Adam",
        slots=(("m", "momentum"), ("v", "velocity"), ("vhat", "velocity_hat")),
        # keras 2.2.4: self.weights = [self.iterations] + ms + vs + vhats (vhats
        # are shape-(1,) placeholders unless amsgrad).
        keras22_order=("iterations", "m", "v", "vhat"),
        hypers=(
            Hyper("learning_rate", ("learning_rate", "lr"), 0.001, 0.001, _LR_WHY),
            Hyper("beta_1", ("beta_1",), 0.9, 0.9, "same meaning in all three"),
            Hyper("beta_2", ("beta_2",), 0.999, 0.999, "same meaning in all three"),
            Hyper("epsilon", ("epsilon",), KERAS22_EPSILON, 1e-7,
                  "Keras 2.2.4's epsilon=None meant K.epsilon() = 1e-7; all three add it to the uncorrected "
                  "sqrt(v) ('epsilon hat'), so the value carries over unchanged"),
            Hyper("amsgrad", ("amsgrad",), False, False, "vhat = max(vhat, v) and the step uses vhat in all three"),
        ),
        why="m, v (and vhat) updates and lr_t = lr*sqrt(1-b2^t)/(1-b1^t) with t = iterations+1 are the same in "
            "Keras 2.2.4, tf_keras ResourceApplyAdam and Keras 3 Adam; LegacyAdam also sums repeated embedding "
            "ids before squaring on TensorFlow, as the legacy optimizers did",
    ),
    OptimizerRow(
        legacy="SGD",
        keras3="keras.optimizers:SGD",
        base="keras.optimizers:SGD",
        slots=(("momentum", "momentum"),),
        # keras 2.2.4: self.weights = [self.iterations] + moments
        keras22_order=("iterations", "momentum"),
        hypers=(
            Hyper("learning_rate", ("learning_rate", "lr"), 0.01, 0.01, _LR_WHY),
            Hyper("momentum", ("momentum",), 0.0, 0.0, "accum = momentum*accum - lr*g; var += accum in all three"),
            Hyper("nesterov", ("nesterov",), False, False, "var += momentum*accum - lr*g in all three"),
        ),
        why="Keras 2.2.4 SGD, tf_keras ResourceApplyKerasMomentum and Keras 3 SGD keep the same velocity",
    ),
    OptimizerRow(
        legacy="RMSprop",
        keras3="keras.optimizers:RMSprop",
        base="keras.optimizers:RMSprop",
        slots=(("rms", "velocity"), ("momentum", "momentum"), ("mg", "average_gradient")),
        hypers=(
            Hyper("learning_rate", ("learning_rate", "lr"), 0.001, 0.001, _LR_WHY),
            Hyper("rho", ("rho",), 0.9, 0.9, "same meaning in all three"),
            Hyper("momentum", ("momentum",), 0.0, 0.0, "mom = momentum*mom + lr*g/sqrt(rms+eps) with momentum"),
            Hyper("epsilon", ("epsilon",), KERAS22_EPSILON, 1e-7, "inside the sqrt when momentum > 0 (both)"),
            Hyper("centered", ("centered",), False, False, "denominator rms - mg^2 + eps in both"),
        ),
        # Only with momentum > 0: tf_keras then calls ResourceApply(Centered)RMSProp,
        # whose epsilon sits inside the sqrt as in Keras 3.
        refused="without momentum the legacy RMSprop divides by sqrt(rms) + epsilon (tf_keras "
                "legacy/rmsprop.py, Keras 2.2.4), Keras 3 by sqrt(rms + epsilon): a different step",
        refused_unless="momentum",
        why="with momentum > 0 tf_keras uses ResourceApplyRMSProp, the rule of Keras 3 RMSprop",
    ),
    OptimizerRow(
        legacy="Adagrad",
        keras3=None,
        base=None,
        refused="the legacy Adagrad divides by sqrt(accumulator) + epsilon (tf_keras ResourceApplyAdagradV2, "
                "Keras 2.2.4), Keras 3 by sqrt(accumulator + epsilon): a different step",
    ),
    OptimizerRow(
        legacy="Adadelta",
        keras3="keras.optimizers:Adadelta",
        base="keras.optimizers:Adadelta",
        slots=(("accum_grad", "accumulated_grad"), ("accum_var", "accumulated_delta_var")),
        # keras 2.2.4: self.weights = accumulators + delta_accumulators (no counter)
        keras22_order=("accum_grad", "accum_var"),
        hypers=(
            # Keras 2.2.4's Adadelta default lr was 1.0; tf_keras' and Keras 3's is 0.001.
            Hyper("learning_rate", ("learning_rate", "lr"), 1.0, 0.001, _LR_WHY + "; Keras 2.2.4's default was 1.0"),
            Hyper("rho", ("rho",), 0.95, 0.95, "same meaning in all three"),
            Hyper("epsilon", ("epsilon",), KERAS22_EPSILON, 1e-7, "sqrt(x + epsilon) on both accumulators in all three"),
        ),
        why="tf_keras ResourceApplyAdadelta and Keras 3 Adadelta: update = sqrt(accum_var+eps)/sqrt(accum_grad+eps)*g, "
            "var -= lr*update, same accumulators",
    ),
    OptimizerRow(
        legacy="Nadam",
        keras3=None,
        base=None,
        refused="the legacy Nadam keeps its momentum-schedule product outside its slots (tf_keras 'm_cache', Keras "
                "2.2.4 'm_schedule') and it is not shown to equal Keras 3 Nadam's 'u_product'; not ported",
    ),
    OptimizerRow(
        legacy="Adamax",
        keras3=None,
        base=None,
        refused="not compared with Keras 3 Adamax yet; not ported",
    ),
)

# keras-bert 0.89's AdamWarmup and keras-rectified-adam 0.20's RAdam (OptimizerV2
# subclasses, class names as their get_config saves them): modern.optimizers
# has both with the same update, checked against the libraries on tf_keras
# (tests/modern/test_optimizers_legacy.py). Their slots are Adam's m/v (and
# vhat with amsgrad), named as Keras 3's Adam names them in the modern classes.
# Only tf_keras-named optimizer_weights are read: their Keras 2 (get_updates)
# versions' 2.2.4 order layout is not described here.
_LIBRARY_ADAM_SLOTS = (("m", "momentum"), ("v", "velocity"), ("vhat", "velocity_hat"))
_LIBRARY_WHY = "the class saves its own config (every argument) and the modern class takes the same arguments"


def _library_hypers(*rows: tuple[str, float | bool | None, str]) -> tuple[Hyper, ...]:
    # The libraries exist only for tf.keras 2: no Keras 2.2.4 default differs.
    return tuple(Hyper(name, (name, *(("lr",) if name == "learning_rate" else ())), default, default, why)
                 for name, default, why in rows)


_ADAM_LIKE = (
    ("learning_rate", 0.001, _LR_WHY),
    ("beta_1", 0.9, _LIBRARY_WHY),
    ("beta_2", 0.999, _LIBRARY_WHY),
    # `epsilon or K.epsilon()` in both libraries: 0/None meant 1e-7, as in the modern classes.
    ("epsilon", 1e-7, "added to sqrt(v) as in the library (uncorrected for AdamWarmup, bias-corrected for RAdam)"),
    ("weight_decay", 0.0, "the library's coupled decay (wd * var added to the update), not Keras 3's decoupled one"),
    ("amsgrad", False, _LIBRARY_WHY),
)

LIBRARY_OPTIMIZERS: tuple[OptimizerRow, ...] = (
    OptimizerRow(
        legacy="AdamWarmup",
        keras3="modern.optimizers:AdamWarmup",
        base="modern.optimizers:AdamWarmup",
        slots=_LIBRARY_ADAM_SLOTS,
        hypers=_library_hypers(
            ("decay_steps", None, "linear decay to min_lr ends here (required argument, always saved)"),
            ("warmup_steps", None, "linear warmup length (required argument, always saved)"),
            ("min_lr", 0.0, _LIBRARY_WHY),
            *_ADAM_LIKE,
        ),
        why="modern.optimizers.AdamWarmup is keras-bert's rule step for step (warmup then linear decay, epsilon on "
            "the uncorrected sqrt(v), coupled weight decay, its never-written vhat); `decay` becomes the exact "
            "InverseTimeDecay schedule, which the class applies before the warmup as OptimizerV2's _decayed_lr did",
    ),
    OptimizerRow(
        legacy="RAdam",
        keras3="modern.optimizers:RAdam",
        base="modern.optimizers:RAdam",
        slots=_LIBRARY_ADAM_SLOTS,
        hypers=_library_hypers(
            ("total_steps", 0.0, "the warmup/decay of the rate is on when > 0"),
            ("warmup_proportion", 0.1, _LIBRARY_WHY),
            ("min_lr", 0.0, _LIBRARY_WHY),
            *_ADAM_LIKE,
        ),
        why="modern.optimizers.RAdam is keras-rectified-adam's rule step for step (float32 sma_inf, the sma_t >= 5 "
            "switch, epsilon on the bias-corrected sqrt, coupled weight decay, amsgrad's stored vhat); `decay` "
            "becomes the exact InverseTimeDecay schedule",
    ),
)

OPTIMIZERS = OPTIMIZERS + LIBRARY_OPTIMIZERS

# Legacy Keras schedules whose config Keras 3 reads with the same meaning;
# any other schedule is code and is never deserialised from a file.
KERAS_SCHEDULES = ("ExponentialDecay", "InverseTimeDecay", "PiecewiseConstantDecay", "PolynomialDecay", "CosineDecay")


def row_for(legacy: str) -> OptimizerRow | None:
    """The row of a legacy class name, or ``None`` (an optimizer we know nothing of)."""
    for row in OPTIMIZERS:
        if row.legacy == legacy:
            return row
    return None
