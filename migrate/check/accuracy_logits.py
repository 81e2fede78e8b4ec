"""KC105: binary accuracy on logits.

``binary_accuracy`` (and ``BinaryAccuracy()`` without a threshold) counts
``y_pred > 0.5`` as class 1. On a sigmoid output that is p > 0.5; on logits it is
logit > 0.5, i.e. p > 0.62: every example with a logit in (0, 0.5] is counted
wrong, and the metric no longer matches the loss. ``metrics=['accuracy']``
resolves to binary accuracy when the loss is a binary cross-entropy, so
``'accuracy'`` with ``BinaryCrossentropy(from_logits=True)`` has the same fault.

Flagged in ``model.compile(metrics=...)`` when the metric is a threshold-0.5
binary accuracy and the model's output is known to be linear, or the loss is a
binary cross-entropy with ``from_logits=True``. ``BinaryAccuracy(threshold=0.0)``
is the fix for logits and is never flagged.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from migrate.check.program import LINEAR, Loss, Model, Program, argument, number

IDS = ("KC105",)

_BINARY_NAMES = frozenset({"binary_accuracy", "BinaryAccuracy"})
_AUTO_NAMES = frozenset({"accuracy", "acc"})


def run(prog: Program) -> Iterator[tuple[str, ast.AST, str]]:
    for scope in prog.scopes:
        for call in scope.nodes():
            if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute)
                    and call.func.attr == "compile"):
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
                           "class 0; use keras.metrics.BinaryAccuracy(threshold=0.0)"))


def _thresholds_at_half(prog: Program, metric: ast.AST, binary_loss: bool) -> bool:
    if isinstance(metric, ast.Constant) and isinstance(metric.value, str):
        return metric.value in _BINARY_NAMES or (binary_loss and metric.value in _AUTO_NAMES)
    if isinstance(metric, ast.Call) and prog.api(metric.func) == "BinaryAccuracy":
        threshold = argument(metric, 2, "threshold")
        return threshold is None or number(threshold) == 0.5
    return prog.api(metric) == "binary_accuracy"
