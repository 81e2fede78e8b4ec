"""KC105: binary accuracy on logits.

``binary_accuracy`` (and ``BinaryAccuracy()`` without a threshold) counts
``y_pred > 0.5`` as class 1. On a sigmoid output that is p > 0.5; on logits it is
logit > 0.5, i.e. p > 0.62: every example with a logit in (0, 0.5] is counted
wrong, and the metric no longer matches the loss. ``metrics=['accuracy']``
resolves to binary accuracy when the loss is a binary cross-entropy, so
``'accuracy'`` with ``BinaryCrossentropy(from_logits=True)`` has the same fault.

Flagged in ``model.compile(metrics=...)`` when the metric is a threshold-0.5
binary accuracy and the model's output is known to be linear, or the loss is a
binary cross-entropy with ``from_logits=True``; and in custom loops, where a
``BinaryAccuracy()`` object (``acc.update_state(y, p)``, ``acc(y, p)``) or
``binary_accuracy(y, p)`` is given a tensor known to be logits.
``BinaryAccuracy(threshold=0.0)`` is the fix for logits and is never flagged.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from migrate.check.program import LINEAR, Layer, Loss, Model, Program, Scope, Tensor, argument, number

IDS = ("KC105",)

_BINARY_NAMES = frozenset({"binary_accuracy", "BinaryAccuracy"})
_AUTO_NAMES = frozenset({"accuracy", "acc"})


_FIX = "use keras.metrics.BinaryAccuracy(threshold=0.0)"


def run(prog: Program) -> Iterator[tuple[str, ast.AST, str]]:
    for scope in prog.scopes:
        for call in scope.nodes():
            if not isinstance(call, ast.Call):
                continue
            if not (isinstance(call.func, ast.Attribute) and call.func.attr == "compile"):
                yield from _loop_metric(prog, scope, call)
                continue
            metrics = argument(call, None, "metrics")
            if metrics is None and len(call.args) > 2 and isinstance(call.args[2], (ast.List, ast.Tuple)):
                metrics = call.args[2]  # tf.keras 2's third positional argument
            if not isinstance(metrics, (ast.List, ast.Tuple)):
                continue
            model = prog.value(call.func.value, scope)
            loss_node = argument(call, 1, "loss")
            loss = prog.value(loss_node, scope) if loss_node is not None else None
            logit_loss = isinstance(loss, Loss) and loss.kind == "bce" and loss.from_logits is True
            linear = isinstance(model, Model) and model.act == LINEAR
            binary_loss = isinstance(loss, Loss) and loss.kind == "bce"
            if not (logit_loss or linear):
                continue
            for metric in metrics.elts:
                if _thresholds_at_half(prog, metric, binary_loss):
                    why = ("the loss takes logits (from_logits=True)" if logit_loss
                           else "the model's output has no activation (logits)")
                    yield ("KC105", metric,
                           (f"accuracy with threshold 0.5 on logits: {why}, so logits in (0, 0.5] count as "
                           f"class 0; {_FIX}"))


def _thresholds_at_half(prog: Program, metric: ast.AST, binary_loss: bool) -> bool:
    if isinstance(metric, ast.Constant) and isinstance(metric.value, str):
        return metric.value in _BINARY_NAMES or (binary_loss and metric.value in _AUTO_NAMES)
    if isinstance(metric, ast.Call) and prog.api(metric.func) == "BinaryAccuracy":
        threshold = argument(metric, 2, "threshold")
        return threshold is None or number(threshold) == 0.5
    return prog.api(metric) == "binary_accuracy"


def _loop_metric(prog: Program, scope: Scope, call: ast.Call) -> Iterator[tuple[str, ast.AST, str]]:
    """``acc.update_state(y, p)`` / ``acc(y, p)`` with ``acc = BinaryAccuracy()``, ``binary_accuracy(y, p)``."""
    name = prog.api(call.func)
    if name == "binary_accuracy":
        threshold = argument(call, 2, "threshold")
    else:
        receiver = call.func.value if isinstance(call.func, ast.Attribute) and call.func.attr == "update_state" \
            else call.func
        if name is not None or (receiver is call.func and isinstance(call.func, ast.Attribute)):
            return
        metric = prog.value(receiver, scope)
        if not (isinstance(metric, Layer) and metric.cls == "BinaryAccuracy"):
            return
        threshold = argument(metric.node, 2, "threshold")
    if threshold is not None and number(threshold) != 0.5:
        return
    y_pred = argument(call, 1, "y_pred")
    out = prog.value(y_pred, scope) if y_pred is not None else None
    if isinstance(out, Tensor) and out.act == LINEAR:
        yield ("KC105", y_pred,  # type: ignore[misc]
               f"binary accuracy with threshold 0.5 given logits (line {out.origin.lineno}, no activation): "
               f"logits in (0, 0.5] count as class 0; {_FIX}")
