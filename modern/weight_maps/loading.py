"""Filling a built modern layer or model from a legacy weight dict through a weight map.

The part of loading that does not depend on the legacy family: naming the
modern variables relative to their layer, and the all-or-nothing assignment
of :class:`~modern.weight_maps.transforms.WeightRule` rows. Each family
(:mod:`modern.weight_maps.keras22`, :mod:`modern.weight_maps.tutorial`)
keeps its own ``modern_variables`` and ``load_legacy_weights``, which know
how that family names its weights and picks its rows, and calls these.

Nothing here imports TensorFlow or the legacy code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from modern.weight_maps.transforms import WeightRule, apply_transform

__all__ = ["PortReport", "assign_by_rules", "variables_by_relative_path"]


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
    report = PortReport()
    pending: list[tuple[Any, np.ndarray]] = []
    used: set[str] = set()
    filled: set[str] = set()
    missing: list[str] = []
    for rule in rules:
        source = source_prefix + rule.source
        if rule.target not in targets:
            raise ValueError(
                f"weight map row {source} -> {rule.target}: {type(target).__name__} {target.name!r} has no "
                f"variable {rule.target!r}{no_variable_hint}"
            )
        if source not in weights:
            missing.append(source)
            continue
        variable = targets[rule.target]
        value = apply_transform(
            rule.transform, np.asarray(weights[source]), tuple(variable.shape), what=f"{source} -> {rule.target}"
        )
        pending.append((variable, value))
        used.add(source)
        filled.add(rule.target)
        report.assigned.append((source, rule.target, rule.transform))

    report.unmatched_sources = sorted(name for name in weights if name not in used)
    report.unfilled_targets = [path for path in targets if path not in filled]
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
    for variable, value in pending:
        variable.assign(value.astype(variable.dtype, copy=False))
    return report
