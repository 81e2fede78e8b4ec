"""Training state: the legacy optimizer's slots and counter into a compiled Keras 3 optimizer.

A checkpoint taken in the middle of training holds, besides the weights, the
optimizer's state: Adam's moments ``m``/``v`` (and ``vhat``), SGD's momentum,
and the iteration counter that drives bias correction and learning-rate
schedules. Keras 3 saves the variables of a compiled, built optimizer in a
``.keras`` file, so a port that fills them resumes training where the legacy
run stopped. Where the legacy optimizer's state is found:

* HDF5 full-model files: ``training_config`` (the optimizer's class and
  config, as data) and the ``optimizer_weights`` group. tf_keras names its
  arrays ``Adam/iter:0`` and ``Adam/<weight name>/m:0``; Keras 2.2.4 names
  them ``training/Adam/Variable_3:0``, so only their order says what they are
  (the layouts are in :data:`migrate.weights.optimizer_tables.OPTIMIZERS`).
* TF object checkpoints: ``<variable path>/.OPTIMIZER_SLOT/optimizer/m`` and
  the optimizer's own ``optimizer/iter``, ``optimizer/beta_1``, ... A
  checkpoint records neither the optimizer's class nor its ``epsilon`` nor a
  learning-rate schedule (code, not variables), so the Keras 3 optimizer comes
  from ``--model``'s factory, which compiles the model with it; the recorded
  hyper-parameters are checked against it.

Which legacy class becomes which Keras 3 class, with which arguments and why
the update rule is the same, is data in :mod:`migrate.weights.optimizer_tables`.
Each slot follows its weight through the weight plan (the same transform: a
slot has its weight's shape, and the transforms only move elements), so a map
that splits attention heads splits their moments too.

Every problem is one :class:`~migrate.weights.errors.PortError` line; the port
then writes nothing (``--no-optimizer`` turns it into a warning and drops the
state).
"""

from __future__ import annotations

import importlib
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from migrate.weights.errors import PortError
from migrate.weights.optimizer_tables import KERAS_SCHEDULES, OPTIMIZERS, OptimizerRow, row_for
from migrate.weights.source import SourceWeight, WeightSource

# <variable path>/.OPTIMIZER_SLOT/<optimizer path>/<slot>; the optimizer path has
# several parts when the optimizer is tracked under the model
# (``tf.train.Checkpoint(model=compiled)``: ``.../.OPTIMIZER_SLOT/model/optimizer/m``).
_SLOT_KEY = re.compile(r"^(?P<var>.+?)/\.OPTIMIZER_SLOT/(?P<opt>.+)/(?P<slot>[^/]+)$")
# Hyper-parameters tf_keras' OptimizerV2 checkpoints as variables; compared
# with the Keras 3 optimizer's (float32 rounding allowed).
_CHECKPOINT_HYPERS = ("learning_rate", "beta_1", "beta_2", "rho", "momentum", "decay")
_RELATIVE_TOLERANCE = 1e-6
NO_OPTIMIZER_HINT = "pass --no-optimizer to port the weights alone (training then restarts its optimizer)"


class OptimizerNotGiven(PortError):
    """A TF checkpoint's optimizer state, with no compiled ``--model`` optimizer to take it.

    Not a mismatch: the checkpoint lacks what would say which Keras 3
    optimizer to build (class, epsilon, schedule). The port goes on without
    the state and says so in a ``note:`` line.
    """


@dataclass(frozen=True)
class SlotPair:
    """One legacy optimizer array into one Keras 3 optimizer variable."""

    source: SourceWeight
    target: Any  # a keras.Variable of the optimizer
    target_name: str
    transform: str = "identity"


@dataclass
class OptimizerPlan:
    """The legacy optimizer, the Keras 3 one built for the model, and their pairs.

    Attributes:
        legacy: the legacy class and where its state came from, for messages.
        optimizer: the Keras 3 optimizer, built on the model's trainable
            variables (not yet filled).
        summary: the Keras 3 class and its arguments, for ``--dry-run``.
        pairs: legacy slot arrays -> Keras 3 slot variables.
        iterations: the legacy iteration counter, when the source has one.
        consumed: every legacy optimizer array this plan read or checked.
        loss: the legacy loss to compile with (a built-in loss name), if any.
        user_compiled: the model was compiled by ``--model``'s factory.
        notes: what the summary line should say besides the counts.
    """

    legacy: str
    optimizer: Any
    summary: str
    pairs: list[SlotPair] = field(default_factory=list)
    iterations: SourceWeight | None = None
    consumed: list[SourceWeight] = field(default_factory=list)
    loss: str | None = None
    user_compiled: bool = False
    notes: list[str] = field(default_factory=list)

    def describe(self) -> list[str]:
        """The plan as ``--dry-run`` lines, in the form of the weight pairs."""
        lines = [f"optimizer: {self.legacy} -> {self.summary}"]
        lines += [
            f"{p.source.name} {list(p.source.shape)} -> {p.target_name} {list(p.target.shape)}"
            + ("" if p.transform == "identity" else f" [{p.transform}]")
            for p in self.pairs
        ]
        if self.iterations is not None:
            lines.append(f"{self.iterations.name} {list(self.iterations.shape)} -> iterations")
        lines += [f"optimizer note: {note}" for note in self.notes]
        return lines

    def apply(self, model: Any, path: str) -> int:
        """Fill the slots and the counter, compile the model with the optimizer; return the step."""
        from modern.weight_maps.transforms import apply_transform

        for pair in self.pairs:
            value = apply_transform(pair.transform, pair.source.read(), tuple(int(d) for d in pair.target.shape),
                                    what=f"{pair.source.name} -> {pair.target_name}")
            pair.target.assign(value.astype(pair.target.dtype, copy=False))
        step = 0
        if self.iterations is not None:
            raw = np.asarray(self.iterations.read())
            if raw.size != 1 or not np.isfinite(raw).all() or float(raw.reshape(())) < 0:
                raise PortError(path, f"optimizer counter {self.iterations.name!r} holds {raw.reshape(-1)[:3]}, not a "
                                      f"step count; {NO_OPTIMIZER_HINT}")
            step = int(raw.reshape(()))
            self.optimizer.iterations.assign(step)
        if not self.user_compiled:
            model.compile(optimizer=self.optimizer, loss=self.loss)
        return step


def _load_class(spec: str) -> type:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _close(a: float, b: float) -> bool:
    # Legacy hyper-parameters were float32 variables: 0.9 comes back as 0.8999999762.
    return math.isclose(float(a), float(b), rel_tol=_RELATIVE_TOLERANCE, abs_tol=1e-12)


def _training_config(source: WeightSource) -> dict[str, Any] | None:
    raw = source.metadata.get("training_config")
    if raw is None:
        return None
    try:
        parsed = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise PortError(source.path, f"training_config is not valid JSON ({exc}); {NO_OPTIMIZER_HINT}") from exc
    return parsed if isinstance(parsed, dict) else None


def _schedule(path: str, value: dict[str, Any]) -> Any:
    """A Keras built-in schedule from its saved config; any other schedule is code and refused."""
    import keras

    name = value.get("class_name")
    config = value.get("config")
    if name not in KERAS_SCHEDULES or not isinstance(config, dict) or not all(
        isinstance(v, (int, float, bool, str, list, type(None))) for v in config.values()
    ):
        raise PortError(path, f"the legacy optimizer ran on the learning-rate schedule {name!r}, which is code a port "
                              "never runs: compile --model's model with its Keras 3 equivalent (e.g. "
                              f"modern.schedules.WarmUpCosineDecay, modern.schedules_noam.NoamSchedule), or "
                              f"{NO_OPTIMIZER_HINT}")
    config = {k: v for k, v in config.items() if k != "name"}
    return getattr(keras.optimizers.schedules, name)(**config)


def _hyper_values(path: str, row: OptimizerRow, config: dict[str, Any]) -> dict[str, Any]:
    """The Keras 3 constructor arguments from a legacy optimizer config (defaults of its dialect)."""
    import keras

    # Keras 2.2.4 configs say 'lr'; tf_keras says 'learning_rate'.
    keras22 = "lr" in config and "learning_rate" not in config
    values: dict[str, Any] = {}
    for hyper in row.hypers:
        found = next((config[name] for name in hyper.legacy if name in config), None)
        if found is None:
            found = hyper.keras22_default if keras22 else hyper.tf_keras_default
            if found is None:
                # A required argument of the class (AdamWarmup's decay_steps): no default to assume.
                raise PortError(path, f"its {row.legacy} optimizer config lacks {hyper.legacy[0]!r}, which the class "
                                      f"requires; {NO_OPTIMIZER_HINT}")
        if isinstance(found, dict):
            found = _schedule(path, found)
        values[hyper.keras3] = found
    decay = float(config.get("decay", 0.0) or 0.0)
    if decay:
        # Legacy lr / (1 + decay * iterations) at the counter before its
        # increment, which is the step Keras 3 hands a schedule.
        if not isinstance(values.get("learning_rate"), (int, float)):
            raise PortError(path, f"the legacy optimizer combines decay={decay} with a schedule, which Keras 3 cannot "
                                  f"express; {NO_OPTIMIZER_HINT}")
        values["learning_rate"] = keras.optimizers.schedules.InverseTimeDecay(
            float(values["learning_rate"]), decay_steps=1, decay_rate=decay)
    return values


def _refusal(row: OptimizerRow, config: dict[str, Any]) -> str | None:
    """Why the row's class is not ported with this legacy config, or ``None``."""
    if row.refused is None:
        return None
    if row.refused_unless is not None and config.get(row.refused_unless):
        return None
    return row.refused


def _summary(optimizer: Any) -> str:
    import keras

    config = optimizer.get_config()
    shown = {k: v for k, v in config.items() if k in ("learning_rate", "beta_1", "beta_2", "epsilon", "amsgrad",
                                                       "momentum", "nesterov", "rho", "centered")}
    if isinstance(config.get("learning_rate"), dict):
        shown["learning_rate"] = config["learning_rate"].get("class_name", "schedule")
    return f"{keras.saving.get_registered_name(type(optimizer))}({', '.join(f'{k}={v}' for k, v in shown.items())})"


def _check_user_optimizer(path: str, row: OptimizerRow, optimizer: Any, values: dict[str, Any]) -> None:
    """A compiled ``--model`` optimizer must be the row's class with the legacy hyper-parameters."""
    assert row.base is not None
    if not isinstance(optimizer, _load_class(row.base)):
        raise PortError(path, f"the legacy optimizer is {row.legacy} but --model's model is compiled with "
                              f"{type(optimizer).__name__}; compile it with {row.keras3 or row.base} or "
                              f"{NO_OPTIMIZER_HINT}")
    for name, value in values.items():
        mine = getattr(optimizer, name, None)
        if name == "learning_rate" or mine is None or isinstance(value, (dict, str)) or not isinstance(mine, (int, float, bool)):
            # A learning rate is whatever the user's schedule or callback sets.
            continue
        if isinstance(value, bool) or isinstance(mine, bool):
            same = bool(value) == bool(mine)
        else:
            same = _close(mine, value)
        if not same:
            raise PortError(path, f"the legacy {row.legacy} has {name}={value}, --model's optimizer {name}={mine}; "
                                  f"compile it with {name}={value} or {NO_OPTIMIZER_HINT}")


def _user_optimizer(model: Any) -> Any | None:
    return getattr(model, "optimizer", None) if getattr(model, "compiled", False) else None


def _slot_variables(optimizer: Any) -> dict[str, Any]:
    return {variable.name: variable for variable in optimizer.variables}


def _slot_name(model_variable: Any, suffix: str) -> str:
    # Keras 3's add_variable_from_reference names a slot after its variable.
    return f"{model_variable.path.replace('/', '_')}_{suffix}"


def plan_optimizer(source: WeightSource, model: Any, weight_plan: Any) -> OptimizerPlan | None:
    """Pair the source's optimizer state with a Keras 3 optimizer for ``model``.

    Returns ``None`` when the source carries no optimizer state at all
    (a weights-only file, a SavedModel without one).

    Raises:
        PortError: the legacy optimizer is unknown, refused (its rule differs
            in Keras 3), its hyper-parameters or schedule cannot be carried
            over, or a slot has no place (or the wrong shape) in the Keras 3
            optimizer.
    """
    path = source.path
    problems = source.metadata.get("optimizer_problems")
    if problems:
        raise PortError(path, f"{problems[0]}: the optimizer state is damaged; {NO_OPTIMIZER_HINT}")
    training = _training_config(source)
    optimizer_config = training.get("optimizer_config") if training else None
    if not source.optimizer_weights and optimizer_config is None:
        return None
    user = _user_optimizer(model)
    if source.format.startswith("keras-h5"):
        if not isinstance(optimizer_config, dict) or not isinstance(optimizer_config.get("config"), dict):
            raise PortError(path, f"has optimizer_weights but no optimizer in training_config; {NO_OPTIMIZER_HINT}")
        class_name = str(optimizer_config.get("class_name", "")).removeprefix("Custom>")
        config = optimizer_config["config"]
        if config.get("is_legacy_optimizer") is False:
            raise PortError(path, f"its optimizer is tf_keras' new (non-legacy) {class_name}, whose saved variables "
                                  f"are not read yet; {NO_OPTIMIZER_HINT}")
        row = row_for(class_name)
        if row is None:
            raise PortError(path, f"its optimizer {class_name!r} has no Keras 3 mapping (known: "
                                  f"{', '.join(r.legacy for r in OPTIMIZERS)}); {NO_OPTIMIZER_HINT}")
        # Refusals first: a refused class's other settings are beside the point.
        refusal = _refusal(row, config)
        if refusal is not None or row.keras3 is None:
            raise PortError(path, f"optimizer {row.legacy} is not ported: {refusal}; {NO_OPTIMIZER_HINT}")
        values = _hyper_values(path, row, config)
        if user is not None:
            _check_user_optimizer(path, row, user, values)
            decay = float(config.get("decay", 0.0) or 0.0)
            if decay and not isinstance(user.get_config().get("learning_rate"), dict):
                raise PortError(path, f"the legacy {row.legacy} decays its learning rate (decay={decay}) but --model's "
                                      "optimizer has a constant one; compile it with learning_rate="
                                      f"keras.optimizers.schedules.InverseTimeDecay(lr, 1, {decay}) or {NO_OPTIMIZER_HINT}")
            optimizer = user
        else:
            optimizer = _load_class(row.keras3)(**values)
        legacy = f"{row.legacy} (training_config)"
    else:
        if user is None:
            raise OptimizerNotGiven(path, "a TF checkpoint records neither its optimizer's class nor its epsilon nor its "
                                  "learning-rate schedule: compile --model's model with the Keras 3 optimizer to "
                                  "resume with (e.g. modern.optimizers.LegacyAdam(NoamSchedule(d_model), beta_2=0.98, "
                                  f"epsilon=1e-9) for the 2021 tutorial), or {NO_OPTIMIZER_HINT}")
        candidates = [r for r in OPTIMIZERS if r.base is not None and isinstance(user, _load_class(r.base))]
        if not candidates:
            raise PortError(path, f"--model's model is compiled with {type(user).__name__}, which has no legacy "
                                  f"counterpart here; {NO_OPTIMIZER_HINT}")
        row = candidates[0]
        optimizer = user
        values = {}
        legacy = f"{row.legacy} (checkpoint slots, --model's optimizer)"
    loss = training.get("loss") if training else None
    result = OptimizerPlan(legacy=legacy, optimizer=optimizer, summary="", user_compiled=user is not None,
                           loss=loss if isinstance(loss, str) else None)
    if training and loss is not None and not isinstance(loss, str) and user is None:
        result.notes.append("the legacy loss is not a built-in name; compiled without a loss (pass loss= to compile)")
    if training and training.get("metrics") and user is None:
        result.notes.append("the legacy metrics are not compiled (compile again with metrics=... to track them)")
    optimizer.build(model.trainable_variables)
    result.summary = _summary(optimizer)
    if source.format.startswith("keras-h5"):
        _pair_h5(result, row, source, model, weight_plan, values)
    else:
        _pair_checkpoint(result, row, source, model, weight_plan)
    _check_filled(result, row, model, path)
    return result


def _assignments_by_source(weight_plan: Any) -> dict[str, Any]:
    return {a.source.name: a for a in weight_plan.assignments}


def _add_pair(result: OptimizerPlan, path: str, slot_source: SourceWeight, assignment: Any, suffix: str,
              slots: dict[str, Any]) -> None:
    from modern.weight_maps.transforms import transform_fits

    target = slots.get(_slot_name(assignment.target, suffix))
    if target is None:
        state = "not trainable" if not assignment.target.trainable else f"has no '{suffix}' slot in this optimizer"
        raise PortError(path, f"optimizer slot {slot_source.name!r} belongs to {assignment.target_name}, which {state}; "
                              f"{NO_OPTIMIZER_HINT}")
    target_shape = tuple(int(d) for d in target.shape)
    if not transform_fits(assignment.transform, slot_source.shape, target_shape):
        raise PortError(path, f"optimizer slot {slot_source.name!r} has shape {list(slot_source.shape)}, "
                              f"optimizer/{target.name} needs {list(target_shape)}; the optimizer state does not belong to "
                              f"these weights: {NO_OPTIMIZER_HINT}")
    # By the slot's own name: the optimizer's name (its path prefix) is
    # uniquified per process ("legacy_adam_1") and says nothing here.
    result.pairs.append(SlotPair(slot_source, target, f"optimizer/{target.name}", assignment.transform))
    result.consumed.append(slot_source)


def _set_iterations(result: OptimizerPlan, path: str, weight: SourceWeight) -> None:
    if weight.shape not in ((), (1,)):
        raise PortError(path, f"optimizer counter {weight.name!r} has shape {list(weight.shape)}, not a scalar; "
                              f"{NO_OPTIMIZER_HINT}")
    result.iterations = weight
    result.consumed.append(weight)


def _pair_h5(result: OptimizerPlan, row: OptimizerRow, source: WeightSource, model: Any, weight_plan: Any,
             values: dict[str, Any]) -> None:
    path = source.path
    slots = _slot_variables(result.optimizer)
    by_source = _assignments_by_source(weight_plan)
    suffixes = dict(row.slots)
    named: list[tuple[SourceWeight, str | None, str | None]] = []
    for weight in source.optimizer_weights:
        head, _, rest = weight.name.partition("/")
        if rest == "iter":
            named.append((weight, None, None))
            continue
        variable, _, slot = rest.rpartition("/")
        named.append((weight, variable, slot) if variable in by_source and slot in suffixes else (weight, "", ""))
    if all(variable != "" for _, variable, _ in named):
        # tf_keras layout: Adam/iter, Adam/<weight name>/<slot>.
        for weight, variable, slot in named:
            if variable is None:
                _set_iterations(result, path, weight)
            else:
                assert slot is not None
                _add_pair(result, path, weight, by_source[variable], suffixes[slot], slots)
        result.legacy += ", tf_keras names"
        return
    _pair_by_order(result, row, source, weight_plan, values, slots)


def _pair_by_order(result: OptimizerPlan, row: OptimizerRow, source: WeightSource, weight_plan: Any,
                   values: dict[str, Any], slots: dict[str, Any]) -> None:
    """Keras 2.2.4: ``[iterations] + slot_1 per weight + slot_2 per weight ...`` in weight order."""
    path = source.path
    if not row.keras22_order:
        raise PortError(path, f"its {row.legacy} optimizer_weights are not named by weight and the Keras 2.2.4 layout "
                              f"of {row.legacy} is not known here; {NO_OPTIMIZER_HINT}")
    trainable = [a for a in weight_plan.assignments if a.target.trainable]
    per_weight = [name for name in row.keras22_order if name != "iterations"]
    expected = len(per_weight) * len(trainable) + ("iterations" in row.keras22_order)
    weights = list(source.optimizer_weights)
    if len(weights) != expected:
        raise PortError(path, f"its {len(weights)} optimizer_weights do not fit Keras 2.2.4's {row.legacy} layout "
                              f"({' + '.join(row.keras22_order)} for {len(trainable)} trainable weights = {expected}); "
                              f"{NO_OPTIMIZER_HINT}")
    if "iterations" in row.keras22_order:
        _set_iterations(result, path, weights.pop(0))
    suffixes = dict(row.slots)
    for slot in per_weight:
        block, weights = weights[:len(trainable)], weights[len(trainable):]
        if not any(_slot_name(a.target, suffixes[slot]) in slots for a in trainable):
            # State the rule never reads: Keras 2.2.4 keeps shape-(1,) vhat
            # placeholders without amsgrad, and SGD moments with momentum=0.
            result.consumed += block
            continue
        for weight, assignment in zip(block, trainable):
            _add_pair(result, path, weight, assignment, suffixes[slot], slots)
    result.legacy += ", Keras 2.2.4 order"


def _pair_checkpoint(result: OptimizerPlan, row: OptimizerRow, source: WeightSource, model: Any,
                     weight_plan: Any) -> None:
    path = source.path
    slots = _slot_variables(result.optimizer)
    by_source = _assignments_by_source(weight_plan)
    suffixes = dict(row.slots)
    for weight in source.optimizer_weights:
        match = _SLOT_KEY.match(weight.name)
        if match is not None:
            assignment = by_source.get(match["var"])
            if assignment is None:
                raise PortError(path, f"optimizer slot {weight.name!r} belongs to {match['var']!r}, which the port does "
                                      f"not fill; {NO_OPTIMIZER_HINT}")
            if match["slot"] not in suffixes:
                raise PortError(path, f"optimizer slot {weight.name!r} is not a slot of {row.legacy} "
                                      f"({', '.join(suffixes)}); --model's optimizer is not the legacy one: "
                                      f"{NO_OPTIMIZER_HINT}")
            _add_pair(result, path, weight, assignment, suffixes[match["slot"]], slots)
            continue
        head, _, hyper = weight.name.rpartition("/")
        if hyper == "iter":
            _set_iterations(result, path, weight)
        elif hyper in _CHECKPOINT_HYPERS and weight.shape == ():
            _check_checkpoint_hyper(result, row, path, weight, hyper)
            result.consumed.append(weight)


def _check_checkpoint_hyper(result: OptimizerPlan, row: OptimizerRow, path: str, weight: SourceWeight,
                            hyper: str) -> None:
    recorded = float(np.asarray(weight.read()).reshape(()))
    optimizer = result.optimizer
    if hyper == "decay":
        if recorded and not isinstance(optimizer.get_config().get("learning_rate"), dict):
            raise PortError(path, f"the legacy optimizer decays its learning rate (decay={recorded}); compile --model's "
                                  f"optimizer with learning_rate=keras.optimizers.schedules.InverseTimeDecay(lr, 1, "
                                  f"{recorded}) or {NO_OPTIMIZER_HINT}")
        return
    if hyper == "learning_rate":
        result.notes.append(f"the legacy learning rate was {recorded:g} (a plain value, no schedule); --model's "
                            "optimizer keeps its own")
        return
    mine = getattr(optimizer, hyper, None)
    if isinstance(mine, (int, float)) and not _close(mine, recorded):
        raise PortError(path, f"the checkpoint's {row.legacy} has {hyper}={recorded:.7g}, --model's optimizer "
                              f"{hyper}={mine}; compile it with {hyper}={recorded:.7g} or {NO_OPTIMIZER_HINT}")


def _check_filled(result: OptimizerPlan, row: OptimizerRow, model: Any, path: str) -> None:
    """Every slot variable of the Keras 3 optimizer gets a legacy value (or training would not resume)."""
    filled = {id(p.target) for p in result.pairs}
    suffixes = [suffix for _, suffix in row.slots]
    slots = _slot_variables(result.optimizer)
    empty = [slots[_slot_name(v, s)].path for v in model.trainable_variables for s in suffixes
             if _slot_name(v, s) in slots and id(slots[_slot_name(v, s)]) not in filled]
    if empty:
        more = f" (+{len(empty) - 4} more)" if len(empty) > 4 else ""
        raise PortError(path, f"the legacy optimizer has no state for {', '.join(empty[:4])}{more}; resuming would "
                              f"restart those moments: {NO_OPTIMIZER_HINT}")
    if result.iterations is None:
        result.notes.append("the source has no iteration counter; training resumes at step 0 of the schedule")
