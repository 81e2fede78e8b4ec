"""KM211: Keras 2 random ops to ``keras.random`` (rows in ``tables.RANDOM_OPS``).

Same distributions and defaults. What differs is the seed: ``K.random_normal(shape,
seed=42)`` was a TF op with an op-level seed, drawing a fresh sample on every call
in a reproducible sequence; ``keras.random.normal(shape, seed=42)`` returns the same
sample on every call. Seedless calls (a fresh draw each time on both sides) are
rewritten; a call with a seed is reported with what to do (a
``keras.random.SeedGenerator(seed)`` created once and passed as ``seed``).
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, Order, RuleSpec, Site, owned
from migrate.rewrite.tables import RANDOM_OPS
from migrate.rewrite.templating import BindError, absent, bind, head, render

RULE = "KM211"
_PREFIX = "keras.backend."

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CALL, names=tuple(_PREFIX + fn for fn in RANDOM_OPS)),),
    before=(Order("backend", "the random ops depend on their seed argument (a seeded call is reported), "
                  "which a template row cannot express"),),
)


def on_call(ctx: FileContext, site: Site) -> cst.BaseExpression | object:
    return owned(_rewrite(site.qualified[len(_PREFIX):], ctx, site.original, site.updated))


def _rewrite(fn: str, ctx: FileContext, original: cst.Call, updated: cst.Call) -> cst.BaseExpression | None:
    if not ctx.enabled(RULE):
        return None
    params, template = RANDOM_OPS[fn]
    try:
        bound = bind(params, updated.args)
    except BindError as exc:
        ctx.report(RULE, original, f"K.{fn}(...) not converted: {exc}", fixed=False)
        return None
    seed = bound.pop("seed", None)
    target = head(ctx, template)
    if not absent(seed):
        ctx.report(RULE, original,
                   f"K.{fn}(seed=...) drew a new sample on every call; {target}(seed=<int>) repeats the same one: "
                   "create seed_gen = keras.random.SeedGenerator(seed) once and pass seed=seed_gen", fixed=False)
        return None
    new = render(ctx, template, params, bound)
    ctx.report(RULE, original, f"K.{fn} -> {target} (same distribution, a fresh draw on every call)", fixed=True)
    return new
