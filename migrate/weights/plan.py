"""A port plan: which source weight fills which live Keras 3 variable, and how.

Plans are made three ways, all ending in the same :class:`PortPlan`:

* :func:`plan_by_layers` -- HDF5 sources into a model of the same architecture:
  layers are paired by name (or, when no names match, by order among layers
  with weights), weights inside a layer by order;
* :func:`plan_by_object_paths` -- TF checkpoints into a model of the same
  architecture: object-graph paths are matched (see
  :mod:`migrate.weights.targets`), below the saved object chosen as the
  model (:func:`resolve_root`; ``--root``);
* :func:`plan_by_rules` -- legacy layers into their ``modern`` equivalents
  through the declarative weight maps of :mod:`modern.weight_maps`, paired by
  the same :func:`modern.weight_maps.loading.match_rules` that the ``modern``
  loaders use.

Nothing is read while planning: shapes come from the source catalogue, and
every pair's shape is checked against the transform's result shape.
Metric state (the ``total``/``count`` of a ``Mean``, the confusion counts of
``AUC``, ... found by :func:`metric_state`) that no model variable takes is
dropped, as optimizer state is: it is training bookkeeping, and Keras 3 keeps
metrics out of ``model.weights``.
:func:`apply_plan` then reads one source array at a time, transforms it and
assigns it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from migrate.weights.errors import PortError
from migrate.weights.source import SourceWeight, WeightSource
from migrate.weights.targets import layer_weights, object_paths


# The variables a tf_keras metric creates (``add_weight`` names in
# tf_keras/src/metrics), as whole sets: an object holding exactly one of
# these sets and nothing else is a metric's state. Whole sets, not single
# names, so that a layer's own variable that happens to be called ``count``
# (tf_keras' Normalization keeps mean, variance *and* count) is never taken
# for one.
METRIC_VARIABLE_SETS: tuple[frozenset[str], ...] = tuple(frozenset(names) for names in (
    ("total", "count"),  # Mean, MeanMetricWrapper (Accuracy, MAE, ...), MeanTensor, RootMeanSquaredError
    ("total",),  # Sum
    ("accumulator",),  # TruePositives, FalseNegatives, ...
    ("true_positives", "false_positives"),  # Precision
    ("true_positives", "false_negatives"),  # Recall
    ("true_positives", "true_negatives", "false_positives", "false_negatives"),  # AUC, *AtRecall, *AtSpecificity
    ("true_positives", "false_positives", "false_negatives", "intermediate_weights"),  # F1Score, FBetaScore
    ("total_confusion_matrix",), ("total_cm",),  # MeanIoU and the IoU family
    ("squared_sum", "sum", "residual", "num_samples"),  # R2Score
))


def metric_state(names: Iterable[str]) -> set[str]:
    """The weight names among ``names`` that are a Keras metric's state.

    ``names`` are slash-separated paths (object-graph paths of a TF
    checkpoint, HDF5 weight names without ``:0``). A weight is metric state
    when its parent object holds no child object and its variables are
    exactly one of :data:`METRIC_VARIABLE_SETS`, e.g. ``gen_loss/total`` and
    ``gen_loss/count`` of a ``Mean`` saved beside the model, or
    ``model/loss_tracker/total`` of a subclassed model's loss tracker.
    """
    names = list(names)
    leaves: dict[str, set[str]] = {}
    for name in names:
        parent, _, leaf = name.rpartition("/")
        leaves.setdefault(parent, set()).add(leaf)
    with_children = {parent for parent in leaves for other in leaves if other.startswith(f"{parent}/")}
    metric_parents = {parent for parent, found in leaves.items()
                      if parent and parent not in with_children and frozenset(found) in METRIC_VARIABLE_SETS}
    return {name for name in names if name.rpartition("/")[0] in metric_parents}


@dataclass(frozen=True)
class Assignment:
    source: SourceWeight
    target: Any  # a keras.Variable
    target_name: str
    transform: str = "identity"


@dataclass
class PortPlan:
    """The complete pairing of a source with a model.

    Attributes:
        assignments: every (source, target, transform) pair, in source order.
        unmatched_sources: source weights nothing will read.
        unfilled_targets: model variables nothing will fill, by name.
        dropped: optimizer state, counters, metric state and the weights of
            saved objects other than the model, dropped from the source.
        dropped_why: why an entry of ``dropped`` was dropped, where the plan
            knows better than "optimizer state or counter" (metric state,
            another saved object), by name.
        problems: shape mismatches and other reasons the plan cannot run.
    """

    assignments: list[Assignment] = field(default_factory=list)
    unmatched_sources: list[SourceWeight] = field(default_factory=list)
    unfilled_targets: list[str] = field(default_factory=list)
    dropped: list[tuple[str, tuple[int, ...]]] = field(default_factory=list)
    dropped_why: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.problems or self.unmatched_sources or self.unfilled_targets)

    def describe(self) -> list[str]:
        """The plan as lines for ``--dry-run``."""
        lines = [
            f"{a.source.name} {list(a.source.shape)} -> {a.target_name} {list(a.target.shape)}"
            + ("" if a.transform == "identity" else f" [{a.transform}]")
            for a in self.assignments
        ]
        lines += [f"unmatched source: {w.name} {list(w.shape)}" for w in self.unmatched_sources]
        lines += [f"unfilled target: {name}" for name in self.unfilled_targets]
        lines += [f"dropped: {name} {list(shape)}" + (f" ({self.dropped_why[name]})" if name in self.dropped_why else "")
                  for name, shape in self.dropped]
        lines += [f"problem: {p}" for p in self.problems]
        return lines

    def raise_if_incomplete(self, path: str) -> None:
        if self.complete:
            return
        parts = []
        if self.problems:
            parts.append("; ".join(self.problems[:5]) + (" ..." if len(self.problems) > 5 else ""))
        if self.unmatched_sources:
            names = ", ".join(f"{w.name} {list(w.shape)}" for w in self.unmatched_sources[:8])
            more = f" (+{len(self.unmatched_sources) - 8} more)" if len(self.unmatched_sources) > 8 else ""
            parts.append(f"source weights with no target: {names}{more}")
        if self.unfilled_targets:
            names = ", ".join(self.unfilled_targets[:8])
            more = f" (+{len(self.unfilled_targets) - 8} more)" if len(self.unfilled_targets) > 8 else ""
            parts.append(f"model variables with no source: {names}{more}")
        raise PortError(path, "checkpoint does not match the model: " + " | ".join(parts) + "; see --dry-run")

    def drop(self, weight: SourceWeight, why: str) -> None:
        self.dropped.append((weight.name, weight.shape))
        self.dropped_why[weight.name] = why


def _new_plan(source: WeightSource) -> PortPlan:
    return PortPlan(dropped=list(source.dropped), dropped_why=dict(source.metadata.get("dropped_why", {})))


def _shape_of(variable: Any) -> tuple[int, ...]:
    return tuple(int(d) for d in variable.shape)


def _pair(plan: PortPlan, source: SourceWeight, variable: Any, name: str, transform: str = "identity") -> None:
    from modern.weight_maps.transforms import transform_fits

    if not transform_fits(transform, source.shape, _shape_of(variable)):
        plan.problems.append(
            f"shape mismatch: {source.name} has shape {list(source.shape)}, {name} needs {list(_shape_of(variable))}"
            + ("" if transform == "identity" else f" via {transform}")
        )
        return
    plan.assignments.append(Assignment(source, variable, name, transform))


def plan_by_layers(source: WeightSource, model: Any) -> PortPlan:
    """Pair an HDF5 source with a same-architecture model, layer by layer."""
    plan = _new_plan(source)
    targets = layer_weights(model)
    by_layer: dict[str, list[SourceWeight]] = {}
    for weight in source.weights:
        by_layer.setdefault(weight.layer, []).append(weight)
    source_layers = [name for name in source.layer_order if by_layer.get(name)]
    if not set(source_layers) & set(targets):
        # Names differ wholesale (auto-generated names such as dense_3): fall
        # back to the order of layers with weights, which Keras 2's own
        # load_weights used for HDF5 files.
        if len(source_layers) != len(targets):
            plan.problems.append(
                f"no layer names in common and {len(source_layers)} source layers with weights "
                f"vs {len(targets)} model layers with weights"
            )
            return plan
        pairs = list(zip(source_layers, targets))
    else:
        pairs = [(name, name) for name in source_layers if name in targets]
        left_sources = [name for name in source_layers if name not in targets]
        left_targets = [name for name in targets if name not in by_layer]
        if len(left_sources) == len(left_targets):
            # Auto-generated names drift between sessions (embedding vs
            # embedding_1); the remaining layers pair up in order, and every
            # pair's shapes are still checked.
            pairs += list(zip(left_sources, left_targets))
        else:
            plan.unmatched_sources += [w for name in left_sources for w in by_layer[name]]
            plan.unfilled_targets += [v.path for name in left_targets for v in targets[name]]
    for source_layer, target_layer in pairs:
        sources, variables = by_layer[source_layer], targets[target_layer]
        if len(sources) != len(variables):
            plan.problems.append(
                f"layer {source_layer!r} has {len(sources)} weights in the source but {len(variables)} in the model"
            )
            continue
        for weight, variable in zip(sources, variables):
            _pair(plan, weight, variable, variable.path)
    return plan


# ``--root .``: the checkpoint's own root is the model (``model.save_weights``
# in the TF format, a SavedModel of the model).
ROOT_ITSELF = "."
METRIC_DROPPED = "metric state"


def _children_of(names: Iterable[str], prefix: str) -> list[str]:
    """Saved objects directly below ``prefix`` that hold weights (a bare variable is no object)."""
    return sorted({rest.split("/", 1)[0] for name in names if name.startswith(prefix)
                   for rest in [name[len(prefix):]] if "/" in rest})


def resolve_root(source: WeightSource, model: Any, root: str | None) -> str:
    """The saved object of a TF checkpoint that is the model, as a path prefix (``""``: the root itself).

    A ``tf.train.Checkpoint`` names each object it was given
    (``tf.train.Checkpoint(generator=g, discriminator=d, generator_optimizer=...)``),
    so one checkpoint may hold several models. Optimizers, counters and
    metric state never count as models. Without ``root``: the checkpoint's
    own root when ``model``'s paths match its keys directly, else its only
    saved object; with several, the user must choose and the port stops.

    Args:
        root: ``--root``: a saved object's name, a nested path
            (``gan/generator``), ``.`` for the root itself, or ``None``.

    Raises:
        PortError: several candidates and no ``root``, or ``root`` names no
            saved object; the message lists the candidates.
    """
    names = [w.name for w in source.weights]
    models = [name for name in names if name not in metric_state(names)]
    if root is not None:
        wanted = root.strip().strip("/")
        if wanted in (ROOT_ITSELF, ""):
            return ""
        if any(name.startswith(f"{wanted}/") for name in models):
            return wanted
        parts = wanted.split("/")
        known = ""
        for part in parts[:-1]:
            if not any(name.startswith(f"{known}{part}/") for name in models):
                break
            known += f"{part}/"
        inside = f"{known.rstrip('/')!r} holds" if known else "its saved objects with weights are"
        raise PortError(source.path, f"--root {root}: the checkpoint has no saved object {wanted!r} holding weights; "
                                     f"{inside}: {', '.join(_children_of(models, known)) or 'none'}")
    targets = object_paths(model)

    def fits(prefix: str, deeper: bool = False) -> bool:
        # Does the model take some weight below ``prefix`` by its relative
        # path (``deeper``: relative to an object further down)?
        for name in models:
            if name.startswith(prefix):
                parts = name[len(prefix):].split("/")
                if any("/".join(parts[k:]) in targets for k in (range(1, len(parts)) if deeper else (0,))):
                    return True
        return False

    if fits(""):
        return ""
    heads = _children_of(models, "")
    if len(heads) > 1:
        raise _several(source, heads)
    if not heads:
        return ""
    # One saved object: it is the model (as the root was always taken), or
    # it only wraps the models (tf.train.Checkpoint(gan=tf.train.Checkpoint(
    # generator=g, discriminator=d))); follow single children down to the
    # object the model fits, and stop where the objects branch.
    level = heads[0]
    while not fits(f"{level}/"):
        children = _children_of(models, f"{level}/")
        if len(children) == 1:
            level = f"{level}/{children[0]}"
        elif children and fits(f"{level}/", deeper=True):
            raise _several(source, [f"{level}/{child}" for child in children])
        else:
            return heads[0]  # the model fits nothing: the plan lists what does not match
    return level


def _several(source: WeightSource, candidates: list[str]) -> PortError:
    return PortError(source.path, f"holds several saved objects that may be the model: {', '.join(candidates)}; "
                                  "pass --root NAME to choose the one to port (--root . if the checkpoint's root is "
                                  "the model itself); the others' weights are dropped")


def plan_by_object_paths(source: WeightSource, model: Any, root: str | None = None) -> PortPlan:
    """Pair a TF object checkpoint with a same-architecture model by attribute path.

    Args:
        root: the saved object that is the model, as :func:`resolve_root`
            returns it (``generator`` for ``tf.train.Checkpoint(generator=g,
            ...)``; ``""`` for the checkpoint's root); resolved here when
            ``None``. Weights outside it are dropped as another saved
            object's, and metric state no variable takes is dropped too.
    """
    plan = _new_plan(source)
    targets = object_paths(model)
    if root is None:
        root = resolve_root(source, model, None)
    prefix = f"{root}/" if root else ""
    metrics = metric_state(w.name for w in source.weights)
    filled: set[int] = set()
    for weight in source.weights:
        relative = weight.name[len(prefix):] if weight.name.startswith(prefix) else None
        variable = targets.get(relative) if relative is not None else None
        if variable is None:
            if weight.name in metrics:
                plan.drop(weight, METRIC_DROPPED)
            elif relative is None:
                plan.drop(weight, f"another saved object; the model is {root or ROOT_ITSELF!r}")
            else:
                plan.unmatched_sources.append(weight)
            continue
        filled.add(id(variable))
        _pair(plan, weight, variable, relative)
    plan.unfilled_targets += [v.path for v in model.weights if id(v) not in filled]
    return plan


def plan_by_rules(
    source: WeightSource,
    model: Any,
    rules: Iterable[Any],
    *,
    source_prefix: str = "",
    target_lookup: Callable[[Any], dict[str, Any]] | None = None,
) -> PortPlan:
    """Pair source weights with model variables through ``modern`` weight-map rows.

    Args:
        rules: :class:`modern.weight_maps.WeightRule` rows, already formatted
            for the repeated blocks of this model.
        source_prefix: prepended to every rule's source name.
        target_lookup: returns the model's variables by the names the rules
            use; by default each variable's ``path`` relative to the model.
    """
    from modern.weight_maps.loading import match_rules

    plan = _new_plan(source)
    if target_lookup is None:
        strip = f"{model.name}/"
        targets = {v.path[len(strip):] if v.path.startswith(strip) else v.path: v for v in model.weights}
    else:
        targets = target_lookup(model)
    sources = source.by_name()
    # The same pairing as modern.weight_maps' loaders (one engine); only the
    # reading differs: here arrays stay in the checkpoint until apply_plan.
    match = match_rules(rules, {name: weight.shape for name, weight in sources.items()}, targets,
                        source_prefix=source_prefix)
    plan.problems += [f"weight map names model variable {target!r}, which the model lacks"
                      for _, target in match.missing_targets]
    plan.problems += [f"weight map expects source weight {name!r}, which the checkpoint lacks"
                      for name in match.missing_sources]
    plan.problems += [
        f"shape mismatch: {name} has shape {list(source_shape)}, {target} needs {list(target_shape)}"
        + ("" if transform == "identity" else f" via {transform}")
        for name, target, transform, source_shape, target_shape in match.misfits
    ]
    filled = {id(variable) for _, _, variable, _ in match.pairs}
    filled |= {id(targets[target]) for _, target, _, _, _ in match.misfits}
    plan.assignments += [Assignment(sources[name], variable, target, transform)
                         for name, target, variable, transform in match.pairs]
    read = set(match.unmatched_sources)
    plan.unmatched_sources += [w for w in source.weights if w.name in read]
    plan.unfilled_targets += [v.path for v in model.weights if id(v) not in filled]
    return plan


# Weights larger than this stream into their variable in row blocks of about
# this size (TensorFlow backend, identity transform, a source that can read
# rows): a whole-tensor assign would hold the NumPy array *and* the tensor
# TensorFlow converts it to, two copies of the largest weight.
BLOCK_BYTES = 32 << 20


def _assign_whole(item: Assignment) -> None:
    from modern.weight_maps.transforms import apply_transform

    array = item.source.read()
    value = apply_transform(item.transform, array, _shape_of(item.target), what=f"{item.source.name} -> {item.target_name}")
    item.target.assign(value.astype(item.target.dtype, copy=False))


def _streams(item: Assignment) -> bool:
    import keras

    shape = _shape_of(item.target)
    return (
        item.transform == "identity"
        and item.source.read_rows is not None
        and item.source.nbytes > BLOCK_BYTES
        and len(shape) >= 1
        and shape[0] > 1
        and keras.backend.backend() == "tensorflow"
    )


def _assign_in_row_blocks(item: Assignment) -> None:
    """Fill a TensorFlow variable in place, ``BLOCK_BYTES`` of rows at a time."""
    import tensorflow as tf

    assert item.source.read_rows is not None
    shape = _shape_of(item.target)
    rows = max(1, BLOCK_BYTES // max(1, item.source.nbytes // shape[0]))
    handle = item.target.value.handle
    tail = list(shape[1:])
    for begin in range(0, shape[0], rows):
        end = min(shape[0], begin + rows)
        block = np.ascontiguousarray(item.source.read_rows(begin, end), dtype=item.target.dtype)
        # The raw op writes the rows into the variable's own buffer; slicing
        # the variable and assigning would copy the whole variable per block.
        tf.raw_ops.ResourceStridedSliceAssign(
            ref=handle, begin=[begin] + [0] * len(tail), end=[end] + tail, strides=[1] * len(shape), value=block
        )


def apply_plan(plan: PortPlan, path: str, progress: Callable[[int, int], None] | None = None) -> None:
    """Read, transform and assign every pair; at most one source array in memory at a time."""
    plan.raise_if_incomplete(path)
    total = len(plan.assignments)
    for done, item in enumerate(plan.assignments, 1):
        if _streams(item):
            _assign_in_row_blocks(item)
        else:
            _assign_whole(item)
        if progress is not None:
            progress(done, total)
