"""KC104: a learning-rate schedule and a callback both setting the learning rate.

An optimizer built with ``learning_rate=<LearningRateSchedule>`` computes the rate
from its step on every update. A callback that also sets it
(``LearningRateScheduler``, ``ReduceLROnPlateau``, or the program's own callback
assigning ``self.model.optimizer.lr``/``learning_rate``) fights the schedule: on
tf.keras 2 the callback's value was silently overwritten or replaced the schedule
(depending on the callback), on Keras 3 the assignment raises mid-training. Either
way the rate is not what the program reads as.

Flagged at the callback in ``model.fit(callbacks=[...])`` when ``model`` was
compiled, in the same module, with an optimizer whose ``learning_rate`` is a
schedule (a ``keras.optimizers.schedules`` class or the module's own
``LearningRateSchedule`` subclass), followed through simple assignments. Also
flagged: code that sets ``opt.lr``/``opt.learning_rate`` on such an optimizer.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from migrate.check.program import (
    ClassInfo,
    Instance,
    Optimizer,
    Program,
    Scope,
    argument,
)

IDS = ("KC104",)

_LR_CALLBACKS = frozenset({"LearningRateScheduler", "ReduceLROnPlateau"})
_LR_ATTRS = frozenset({"lr", "learning_rate"})


def run(prog: Program) -> Iterator[tuple[str, ast.AST, str]]:
    scheduled: dict[int, ast.AST] = {}  # id(model value's node) -> the schedule-holding optimizer
    for scope in prog.scopes:
        for call in scope.nodes():
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "compile":
                opt_node = argument(call, 0, "optimizer")
                opt = prog.value(opt_node, scope) if opt_node is not None else None
                if isinstance(opt, Optimizer) and opt.schedule is not None:
                    scheduled[_identity(prog, scope, call.func.value)] = opt.node
    for scope in prog.scopes:
        for node in scope.nodes():
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "fit":
                opt_call = scheduled.get(_identity(prog, scope, node.func.value))
                if opt_call is None:
                    continue
                callbacks = argument(node, None, "callbacks")
                if isinstance(callbacks, ast.Name):
                    found = prog.lookup(callbacks.id, scope, scope.line_of(node))
                    callbacks = found[0] if found is not None else None
                if not isinstance(callbacks, (ast.List, ast.Tuple)):
                    continue
                for cb in callbacks.elts:
                    what = _sets_lr(prog, scope, cb)
                    if what:
                        yield ("KC104", cb,
                               (f"{what} sets the learning rate of an optimizer that already follows a schedule "
                               f"(line {opt_call.lineno}): keep one of the two (drop the callback, or give the "
                               "optimizer a float rate)"))
            elif isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Attribute) and t.attr in _LR_ATTRS:
                        opt = prog.value(t.value, scope)
                        if isinstance(opt, Optimizer) and opt.schedule is not None:
                            yield ("KC104", t,
                                   (f"sets .{t.attr} of an optimizer built with a learning-rate schedule "
                                   f"(line {opt.node.lineno}): the schedule and this assignment fight; keep one"))


def _identity(prog: Program, scope: Scope, receiver: ast.AST) -> int:
    """What a ``model`` receiver stands for: the node that made it, else its name in this scope."""
    value = prog.value(receiver, scope)
    node = getattr(value, "node", None)
    if node is not None:
        return id(node)
    return hash((id(scope), ast.dump(receiver)))


def _sets_lr(prog: Program, scope: Scope, cb: ast.AST) -> str | None:
    if isinstance(cb, ast.Call) and prog.api(cb.func) in _LR_CALLBACKS:
        return prog.api(cb.func)
    value = prog.value(cb, scope)
    if isinstance(value, Instance) and _callback_sets_lr(value.cls):
        return f"callback {value.cls.name}"
    return None


def _callback_sets_lr(cls: ClassInfo) -> bool:
    for method in cls.methods.values():
        for node in method.nodes():
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                if any(_is_optimizer_lr(t) for t in targets):
                    return True
            if isinstance(node, ast.Call):
                func = node.func
                if isinstance(func, ast.Attribute) and func.attr == "assign" and _is_optimizer_lr(func.value):
                    return True
                name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
                if name == "set_value" and node.args and _is_optimizer_lr(node.args[0]):
                    return True
    return False


def _is_optimizer_lr(node: ast.AST) -> bool:
    """``<...>.optimizer.lr`` / ``<...>.optimizer.learning_rate``."""
    return (isinstance(node, ast.Attribute) and node.attr in _LR_ATTRS and isinstance(node.value, ast.Attribute)
            and node.value.attr == "optimizer")
