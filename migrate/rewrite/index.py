"""Pre-pass over statements: classes, their ``call`` signatures and sub-layer attributes.

Walks statements only (no expression traversal) so it stays cheap. Feeds
KM301 (callee ``call`` signatures), KM402 (names bound to optimizers), KM404
(names bound to metrics), KM408 (schedule classes) and KM504 (checkpoints).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import libcst as cst

from migrate.rewrite.context import ClassInfo, FileContext
from migrate.rewrite.names import dotted_name, iter_statements
from migrate.rewrite.symbols import map_name

_OPTIMIZER_PREFIX = "keras.optimizers."
_METRIC_PREFIX = "keras.metrics."


def _ctor_name(value: cst.BaseExpression) -> str | None:
    """``Cls`` for ``Cls(...)``; also for ``[Cls(...) for ...]`` and ``[Cls(...), ...]`` via the caller."""
    if isinstance(value, cst.Call):
        return dotted_name(value.func)
    return None


def _list_ctor(value: cst.BaseExpression) -> str | None:
    if isinstance(value, cst.ListComp):
        return _ctor_name(value.elt)
    if isinstance(value, (cst.List, cst.Tuple)) and value.elements:
        names = {_ctor_name(e.value) for e in value.elements}
        if len(names) == 1:
            return names.pop()
    return None


def _params(fn: cst.FunctionDef) -> tuple[list[str], bool]:
    ps = fn.params
    names = [p.name.value for p in (*ps.posonly_params, *ps.params)]
    if names and names[0] in ("self", "cls"):
        names = names[1:]
    has_var = isinstance(ps.star_arg, cst.Param)
    return names, has_var


def _assignments(body: object) -> list[tuple[cst.BaseExpression, cst.BaseExpression]]:
    out: list[tuple[cst.BaseExpression, cst.BaseExpression]] = []
    for stmt in iter_statements(body):
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Assign) and len(small.targets) == 1:
                    out.append((small.targets[0].target, small.value))
                elif isinstance(small, cst.AnnAssign) and small.value is not None:
                    out.append((small.target, small.value))
    return out


def build_index(ctx: FileContext, module: cst.Module) -> None:
    var_seen: dict[str, set[str]] = {}
    for stmt in iter_statements(module.body):
        if isinstance(stmt, cst.ClassDef):
            info = ClassInfo(stmt.name.value, [])
            for base in stmt.bases:
                info.bases.append(ctx.qualified(base.value) or dotted_name(base.value) or "")
            for item in stmt.body.body:
                if isinstance(item, cst.FunctionDef):
                    if item.name.value == "call":
                        info.call_params, info.call_has_varargs = _params(item)
                    elif item.name.value == "__call__":
                        params, _ = _params(item)
                        info.call_step_param = params[0] if params else None
                    for target, value in _assignments(item.body.body):
                        if (isinstance(target, cst.Attribute) and isinstance(target.value, cst.Name)
                                and target.value.value == "self"):
                            ctor = _ctor_name(value)
                            if ctor:
                                info.attr_types[target.attr.value] = ctor
                            lctor = _list_ctor(value)
                            if lctor:
                                info.list_attr_types[target.attr.value] = lctor
                            _classify(ctx, f"self.{target.attr.value}", value)
            ctx.classes[info.name] = info
            ctx.class_at[id(stmt)] = info
        elif isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if isinstance(small, cst.Assign) and len(small.targets) == 1:
                    target = small.targets[0].target
                    if isinstance(target, cst.Name):
                        ctor = _ctor_name(small.value)
                        var_seen.setdefault(target.value, set()).add(ctor or "")
                        _classify(ctx, target.value, small.value)
    for name, ctors in var_seen.items():
        if len(ctors) == 1:
            ctor = next(iter(ctors))
            if ctor:
                ctx.var_types[name] = ctor


def _classify(ctx: FileContext, name: str, value: cst.BaseExpression) -> None:
    if not isinstance(value, cst.Call):
        return
    q = ctx.qualified(value.func) or ""
    if q.startswith(_OPTIMIZER_PREFIX) and not q.startswith("keras.optimizers.schedules"):
        ctx.optimizer_names.add(name)
    elif q.startswith(_METRIC_PREFIX):
        ctx.metric_names.add(name)
    elif q in ("tensorflow.train.Checkpoint", "tensorflow.train.CheckpointManager"):
        ctx.checkpoint_names.add(name)


def rewritable_layer_class(ctx: FileContext, site: Any, rule: str) -> bool:
    """Whether a CLASS hook of ``rule`` has work at ``site`` (a ``hooks.Site``, not imported
    here: hooks imports this module): the rule is on and the class is a layer class of this
    module with an indented body to edit."""
    info = site.cls
    return (info is not None and ctx.enabled(rule) and isinstance(site.updated.body, cst.IndentedBlock)
            and is_layer_class(ctx, info.name))


def is_layer_class(ctx: FileContext, name: str, depth: int = 0) -> bool:
    """A class of this module that derives (transitively) from a Keras class."""
    info = ctx.classes.get(name)
    if info is None or depth > 10:
        return False
    for base in info.bases:
        if base.startswith("keras.") or base in ("Layer", "Model"):
            return True
        if base in ctx.classes and is_layer_class(ctx, base, depth + 1):
            return True
    return False


def is_schedule_class(ctx: FileContext, info: ClassInfo, depth: int = 0) -> bool:
    for base in info.bases:
        if base.endswith("LearningRateSchedule") and (base.startswith("keras.") or base == "LearningRateSchedule"):
            return True
        parent = ctx.classes.get(base)
        if parent is not None and depth < 10 and is_schedule_class(ctx, parent, depth + 1):
            return True
    return False


# ---------------------------------------------------------------------------
# What Keras class a class derives from (KM309 get_config, KM312 registration)
# ---------------------------------------------------------------------------

T = TypeVar("T")
MODEL_TARGETS = ("keras.Model", "keras.models.Model", "keras.Sequential", "keras.models.Sequential")
_SCHEDULE = "keras.optimizers.schedules.LearningRateSchedule"


def keras_base(ctx: FileContext, info: ClassInfo, classify: Callable[[str], T | None], depth: int = 0) -> T | None:
    """The first non-None ``classify(name)`` over the Keras classes the class derives from.

    Each base is resolved through the imports and aliases (``ctx.qualified``)
    and mapped to its Keras 3 name (``map_name``); a base defined in this
    module is followed to its own bases (at most 10 levels, so a cycle ends).
    """
    for base in info.bases:
        if base.startswith("keras."):
            found = classify(map_name(base)[0] or base)
            if found is not None:
                return found
        parent = ctx.classes.get(base)
        if parent is not None and parent is not info and depth < 10:
            found = keras_base(ctx, parent, classify, depth + 1)
            if found is not None:
                return found
    return None


def layer_or_schedule(target: str) -> str | None:
    """``"layer"`` for a Keras 3 layer or model class name, ``"schedule"`` for ``LearningRateSchedule``, else None."""
    if target.startswith("keras.layers.") or target in MODEL_TARGETS:
        return "layer"
    return "schedule" if target == _SCHEDULE else None


def kind_of(ctx: FileContext, info: ClassInfo) -> str | None:
    """``"layer"`` (layers and models), ``"schedule"`` or None, from the class's bases."""
    return keras_base(ctx, info, layer_or_schedule)


def layer_class_members(ctx: FileContext, site: object, rule: str) -> list[cst.BaseStatement] | None:
    """At a CLASS hook (``site``): the members of the class body when ``rule`` is enabled and the
    class is one of the module's layer classes with an indented body, else None."""
    info = getattr(site, "cls", None)
    updated = getattr(site, "updated", None)
    if (info is None or not ctx.enabled(rule) or not isinstance(updated, cst.ClassDef)
            or not isinstance(updated.body, cst.IndentedBlock) or not is_layer_class(ctx, info.name)):
        return None
    return list(updated.body.body)
