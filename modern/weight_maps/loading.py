"""The one engine that pairs legacy weights with modern variables through a weight map.

The part of loading that does not depend on the legacy family: naming the
modern variables relative to their layer, matching
:class:`~modern.weight_maps.transforms.WeightRule` rows against the legacy
weights' names and shapes (:func:`match_rules`), and the all-or-nothing
assignment of a legacy weight dict (:func:`assign_by_rules`). ``migrate
port`` builds its plans on the same :func:`match_rules` (it reads the arrays
lazily from the checkpoint instead of holding them in a dict), so the tests
that load goldens and the porter pair weights in exactly one way. Each family
(:mod:`modern.weight_maps.keras22`, :mod:`modern.weight_maps.tutorial`)
keeps its own ``modern_variables`` and ``load_legacy_weights``, which know
how that family names its weights and picks its rows, and calls these.

Nothing here imports TensorFlow or the legacy code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from modern.weight_maps.transforms import WeightRule, apply_transform, transform_fits

__all__ = ["PortReport", "RuleMatch", "assign_by_rules", "match_rules", "variables_by_relative_path"]


@dataclass
class PortReport:
    """What a ``load_legacy_weights`` call did.

    Attributes:
        assigned: ``(source, target, transform)`` of every weight filled.
        unmatched_sources: legacy weights no rule reads.
        unfilled_targets: modern variables no legacy weight filled.
    """

    assigned: list[tuple[str, str, str]] = field(default_factory=list)
    unmatched_sources: list[str] = field(default_factory=list)
    unfilled_targets: list[str] = field(default_factory=list)

    @property
    def complete(self) -> bool:
        return not (self.unmatched_sources or self.unfilled_targets)


@dataclass
class RuleMatch:
    """How a weight map's rows meet one set of legacy weights and modern variables.

    Attributes:
        pairs: ``(source name, target name, variable, transform)`` of every
            row whose source exists, whose target exists and whose shapes fit
            through the transform, in row order.
        missing_sources: rows whose legacy weight is absent (source names).
        missing_targets: ``(source name, target name)`` of rows whose modern
            variable is absent.
        misfits: ``(source name, target name, transform, source shape,
            target shape)`` of rows whose shapes do not fit.
        unmatched_sources: legacy weights no row reads.
        unfilled_targets: modern variables (by the map's names) no row fills.
    """

    pairs: list[tuple[str, str, Any, str]] = field(default_factory=list)
    missing_sources: list[str] = field(default_factory=list)
    missing_targets: list[tuple[str, str]] = field(default_factory=list)
    misfits: list[tuple[str, str, str, tuple[int, ...], tuple[int, ...]]] = field(default_factory=list)
    unmatched_sources: list[str] = field(default_factory=list)
    unfilled_targets: list[str] = field(default_factory=list)


def match_rules(
    rules: Iterable[WeightRule],
    source_shapes: Mapping[str, tuple[int, ...]],
    targets: Mapping[str, Any],
    *,
    source_prefix: str = "",
) -> RuleMatch:
    """Pair rows with legacy weights (by name and shape) and modern variables; read nothing.

    Args:
        rules: concrete rows, without placeholders.
        source_shapes: legacy weight shapes by legacy name.
        targets: modern variables by the names the rows use.
        source_prefix: prepended to every row's source name.
    """
    match = RuleMatch()
    used: set[str] = set()
    filled: set[str] = set()
    for rule in rules:
        source = source_prefix + rule.source
        if rule.target not in targets:
            match.missing_targets.append((source, rule.target))
            continue
        if source not in source_shapes:
            match.missing_sources.append(source)
            continue
        variable = targets[rule.target]
        source_shape = tuple(int(d) for d in source_shapes[source])
        target_shape = tuple(int(d) for d in variable.shape)
        used.add(source)
        filled.add(rule.target)
        if not transform_fits(rule.transform, source_shape, target_shape):
            match.misfits.append((source, rule.target, rule.transform, source_shape, target_shape))
            continue
        match.pairs.append((source, rule.target, variable, rule.transform))
    match.unmatched_sources = sorted(name for name in source_shapes if name not in used)
    match.unfilled_targets = [path for path in targets if path not in filled]
    return match


def variables_by_relative_path(target: Any, relative_path: Callable[[str], str]) -> dict[str, Any]:
    """``target``'s variables keyed by ``relative_path(variable.path)``.

    Args:
        target: a built layer or model.
        relative_path: turns a Keras 3 ``variable.path`` into the path the
            weight map's targets use (it may raise for a path it cannot name).

    Raises:
        ValueError: two variables get the same relative path.
    """
    by_path: dict[str, Any] = {}
    for variable in target.weights:
        path = relative_path(variable.path)
        if path in by_path:
            raise ValueError(f"two variables of {target.name!r} share the relative path {path!r}")
        by_path[path] = variable
    return by_path


def assign_by_rules(
    target: Any,
    weights: Mapping[str, Any],
    rules: Iterable[WeightRule],
    targets: Mapping[str, Any],
    *,
    source_prefix: str = "",
    strict: bool = True,
    no_variable_hint: str = "",
    what: str = "port",
) -> PortReport:
    """Assign legacy arrays to modern variables row by row, all or nothing.

    Each row's legacy array goes through the row's transform, which checks
    it has exactly the target variable's shape. In strict mode nothing is
    assigned unless every row found its source, every variable is filled and
    no legacy weight is left over, so a failed port never leaves a
    half-loaded layer.

    Args:
        target: the built layer or model (named in messages).
        weights: legacy arrays by legacy name.
        rules: concrete rows, without placeholders.
        targets: ``target``'s variables by relative path (the family's
            ``modern_variables``).
        source_prefix: prepended to every row's source name.
        strict: raise on any unmatched source or unfilled target; with
            ``False`` assign what matched and report the rest.
        no_variable_hint: appended to the message when a row names a
            variable ``target`` lacks (what the caller knows about why).
        what: how the incomplete-port message names the port
            (``"port"``, ``"port of a legacy Encoder"``).

    Returns:
        A :class:`PortReport`.

    Raises:
        ValueError: before anything is assigned, when a legacy array does
            not fit its variable (named both), when a row names a variable
            ``target`` lacks, or, strict, when the port is incomplete (the
            weights concerned are listed).
    """
    match = match_rules(rules, {name: np.shape(value) for name, value in weights.items()}, targets,
                        source_prefix=source_prefix)
    if match.missing_targets:
        source, path = match.missing_targets[0]
        raise ValueError(
            f"weight map row {source} -> {path}: {type(target).__name__} {target.name!r} has no "
            f"variable {path!r}{no_variable_hint}"
        )
    if match.misfits:
        source, path, transform, source_shape, target_shape = match.misfits[0]
        raise ValueError(f"{source} -> {path}: {transform} cannot map shape {source_shape} onto {target_shape}")
    report = PortReport(unmatched_sources=match.unmatched_sources, unfilled_targets=match.unfilled_targets)
    missing = match.missing_sources
    if strict and (missing or report.unmatched_sources or report.unfilled_targets):
        parts = []
        if missing:
            parts.append(f"legacy weights the map expects but the dict lacks: {missing}")
        if report.unmatched_sources:
            parts.append(f"legacy weights no rule reads: {report.unmatched_sources}")
        if report.unfilled_targets:
            parts.append(f"modern variables left unfilled: {report.unfilled_targets}")
        raise ValueError(
            f"incomplete {what} into {type(target).__name__} {target.name!r}: "
            + "; ".join(parts)
            + " (nothing was assigned)"
        )
    pending = []
    for source, path, variable, transform in match.pairs:
        value = apply_transform(transform, np.asarray(weights[source]), tuple(variable.shape), what=f"{source} -> {path}")
        pending.append((variable, value))
        report.assigned.append((source, path, transform))
    for variable, value in pending:
        variable.assign(value.astype(variable.dtype, copy=False))
    return report
