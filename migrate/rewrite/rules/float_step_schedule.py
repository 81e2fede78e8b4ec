"""KM408: learning-rate schedules whose ``__call__`` needs a float step.

Keras 3 optimizers call the schedule with the integer iteration counter; code
written for TF 2.x OptimizerV2 (which passed a float) fails in ops such as
``tf.math.rsqrt(step)``. A ``step = ops.cast(step, "float32")`` is inserted at
the top of ``__call__`` (after a docstring) of every ``LearningRateSchedule``
subclass in the module. A float step passes through the cast unchanged, so the
rewrite is exact.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import FUNCTION, Hook, Order, RuleSpec, Site, Triggers
from migrate.rewrite.index import is_schedule_class


SPEC = RuleSpec(
    ids=("KM408",),
    hooks=(Hook(FUNCTION),),
    # `__call__` alone does not make a file worth parsing: the schedule's base class is named too
    triggers=Triggers(names=frozenset({"LearningRateSchedule", "__call__"}),
                      statement_only=frozenset({"__call__"})),
    after=(Order("functional_tf", "KM305 replaces tf ops of a functional scope when the function ends; the "
                 "cast goes into the body as KM305 left it"),),
)


def _is_docstring(stmt: cst.BaseStatement) -> bool:
    return (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1
            and isinstance(stmt.body[0], cst.Expr)
            and isinstance(stmt.body[0].value, (cst.SimpleString, cst.ConcatenatedString)))


def _already_cast(stmt: cst.BaseStatement, step: str) -> bool:
    if not isinstance(stmt, cst.SimpleStatementLine) or len(stmt.body) != 1:
        return False
    small = stmt.body[0]
    if not isinstance(small, cst.Assign) or len(small.targets) != 1:
        return False
    target = small.targets[0].target
    value = small.value
    return (isinstance(target, cst.Name) and target.value == step and isinstance(value, cst.Call)
            and isinstance(value.func, (cst.Attribute, cst.Name))
            and (getattr(value.func, "attr", None) or value.func).value == "cast")  # type: ignore[union-attr]


def on_function(ctx: FileContext, site: Site) -> cst.FunctionDef | None:
    info = site.cls
    original: cst.FunctionDef = site.original
    updated: cst.FunctionDef = site.updated
    if info is None or original.name.value != "__call__" or not ctx.enabled("KM408"):
        return None
    if not is_schedule_class(ctx, info):
        return None
    step = info.call_step_param
    if step is None:
        return None
    body = updated.body
    if not isinstance(body, cst.IndentedBlock):
        ctx.report("KM408", original, "one-line __call__: cast `step` to float32 by hand", fixed=False)
        return None
    stmts = list(body.body)
    pos = 1 if stmts and _is_docstring(stmts[0]) else 0
    if pos < len(stmts) and _already_cast(stmts[pos], step):
        return None
    cast = cst.parse_statement(f'{step} = {ctx.ops_prefix}.cast({step}, "float32")\n')
    ctx.needs.add("ops" if ctx.ops_prefix == "ops" else "keras")
    stmts.insert(pos, cast)
    ctx.report("KM408", original,
               f"{info.name}.__call__: `{step}` cast to float32 (Keras 3 passes an integer step)", fixed=True)
    return updated.with_changes(body=body.with_changes(body=stmts))
