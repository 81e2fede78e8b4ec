"""KC101: logits fed to a cross-entropy that expects probabilities, and the reverse.

Keras's cross-entropies take probabilities unless ``from_logits=True``. Given
logits (a ``Dense`` with no activation), ``from_logits=False`` clips them into
``[eps, 1 - eps]`` and takes their log: the loss is finite, training runs, and the
gradients are wrong (``Sparse``/``CategoricalCrossentropy`` also renormalise the
raw scores as if they were probabilities). Given probabilities (a final softmax or
sigmoid), ``from_logits=True`` applies a second softmax: the loss stays near
``log(n)`` and learning crawls. Neither raises.

Where the loss meets the model's output, statically:

* ``model.compile(loss=...)`` with the loss as a name (``'sparse_categorical_crossentropy'``),
  a function (``keras.losses.binary_crossentropy``) or an object built here or
  anywhere in the module (``loss_object = SparseCategoricalCrossentropy(...)``);
* a loss function of the module given to ``compile(loss=masked_loss)``: Keras calls it
  with the model's output, so its ``y_pred`` parameter holds that;
* a custom training loop: ``loss_object(y, model(x))``, ``loss_fn(y, predictions)``
  with ``predictions = model(x, training=True)``, ``keras.losses.*_crossentropy(y, p,
  from_logits=...)`` and ``tf.nn.*_cross_entropy_with_logits(labels, logits=p)``.

The model's output activation comes from ``program``: a functional chain, a
``Sequential`` list (or its ``add`` calls), or a subclassed model's ``call``.
Only a known final activation (softmax, sigmoid, or none at all) is compared; a
relu, a custom layer or anything unresolved says nothing. A function's parameter
(``loss_function(real, pred)``) holds what the module's calls pass for it.

Keras 3 on the TensorFlow backend rescues one case by itself: a ``Dense(...,
activation="softmax")`` output given to ``SparseCategoricalCrossentropy(from_logits=True)``
is replaced by the logits under it, with a warning (the loss then equals the fixed
program's). On jax and torch the loss is wrong (``tests/migrate/check/test_numeric.py``),
so the case is reported whatever the backend.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator

from migrate.check.program import (
    LINEAR,
    LOSS_FUNCTIONS,
    SIGMOID,
    SOFTMAX,
    TF_LOGIT_LOSSES,
    Loss,
    Model,
    Program,
    Scope,
    Tensor,
    argument,
    keras_node_text,
    literal_bool,
)

IDS = ("KC101",)


def run(prog: Program) -> Iterator[tuple[str, ast.AST, str]]:
    for scope in prog.scopes:
        for node in scope.nodes():
            if not isinstance(node, ast.Call):
                continue
            if isinstance(node.func, ast.Attribute) and node.func.attr == "compile":
                yield from _compile(prog, scope, node)
            else:
                yield from _loss_call(prog, scope, node)


def _compile(prog: Program, scope: Scope, call: ast.Call) -> Iterator[tuple[str, ast.AST, str]]:
    model = prog.value(call.func.value, scope)  # type: ignore[attr-defined]
    if not isinstance(model, Model) or model.act is None:
        return
    loss_node = argument(call, 1, "loss")
    loss = prog.value(loss_node, scope) if loss_node is not None else None
    if isinstance(loss, Loss):
        hit = mismatch(model.act, loss.from_logits)
        if hit:
            yield "KC101", loss_node, _message(prog, hit, model.act, model.origin, loss.label)  # type: ignore[misc]


def _loss_call(prog: Program, scope: Scope, call: ast.Call) -> Iterator[tuple[str, ast.AST, str]]:
    name = prog.api(call.func)
    if name in TF_LOGIT_LOSSES:
        logits = argument(call, TF_LOGIT_LOSSES[name], "logits")
        out = prog.value(logits, scope) if logits is not None else None
        if isinstance(out, Tensor) and mismatch(out.act, True):
            yield "KC101", logits, _message(prog, "probabilities", out.act, out.origin, f"tf.nn.{name}")  # type: ignore[misc]
        return
    if name in LOSS_FUNCTIONS:
        flag = argument(call, 2, "from_logits")
        from_logits = literal_bool(flag) if flag is not None else False
        label = name
    else:
        if name is not None or not call.args:
            return
        loss = prog.value(call.func, scope)
        if not isinstance(loss, Loss):
            return
        from_logits, label = loss.from_logits, loss.label
    y_pred = argument(call, 1, "y_pred", "output")
    out = prog.value(y_pred, scope) if y_pred is not None else None
    if isinstance(out, Tensor):
        hit = mismatch(out.act, from_logits)
        if hit:
            yield "KC101", y_pred, _message(prog, hit, out.act, out.origin, label)  # type: ignore[misc]


def mismatch(act: str, from_logits: bool | None) -> str | None:
    """``"logits"`` (logits into a probability loss), ``"probabilities"`` (the reverse) or None."""
    if from_logits is False and act == LINEAR:
        return "logits"
    if from_logits is True and act in (SOFTMAX, SIGMOID):
        return "probabilities"
    return None


def _message(prog: Program, kind: str, act: str, origin: ast.AST | None, loss: str) -> str:
    where = ""
    if origin is not None and hasattr(origin, "lineno"):
        where = f" (`{keras_node_text(origin, prog.source)}`, line {origin.lineno})"
    if kind == "logits":
        return (f"logits fed to {loss}, which expects probabilities: the output has no activation{where}; "
                "pass from_logits=True to the loss (or end the model with a softmax/sigmoid)")
    return (f"{act} probabilities fed to {loss} with from_logits=True{where}: the {act} is applied twice; "
            "drop the final activation or pass from_logits=False")
