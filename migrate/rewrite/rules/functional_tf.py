"""KM305: raw TensorFlow ops on symbolic tensors in functional model code.

Keras 3 symbolic tensors (``keras.Input``) cannot go through ``tf.*`` ops. In a
function (or module) that calls ``Input``, each ``tf.*`` tensor op with a 1:1
``keras.ops`` form (``tables.FUNCTIONAL_TF_OPS``) is rewritten; the others are
reported. Whether a scope is functional is known only at its end, so the
candidates are collected during the pass and applied when the scope closes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TypeVar

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, FUNCTION, MODULE, Hook, RuleSpec, Site
from migrate.rewrite.tables import FUNCTIONAL_TF_OPS
from migrate.rewrite.templating import BindError, bind, render

_OP_PREFIXES = ("tensorflow.math.", "tensorflow.nn.", "tensorflow.linalg.")
_NOT_OPS = ("tensorflow.train", "tensorflow.data", "tensorflow.function", "tensorflow.TensorSpec",
            "tensorflow.GradientTape", "tensorflow.random", "tensorflow.config", "tensorflow.io",
            "tensorflow.saved_model", "tensorflow.summary", "tensorflow.distribute", "tensorflow.device",
            "tensorflow.print", "tensorflow.Module", "tensorflow.Variable", "tensorflow.constant",
            "tensorflow.TensorArray", "tensorflow.compat", "tensorflow.errors", "tensorflow.test",
            "tensorflow.debugging", "tensorflow.experimental", "tensorflow.keras", "tensorflow.estimator",
            "tensorflow.get_logger", "tensorflow.autograph")

N = TypeVar("N", bound=cst.CSTNode)

_INPUTS = ("keras.layers.Input", "keras.Input")
_ENGINE = "keras.engine."  # keras.engine.topology.Input, keras.engine.input_layer.Input

SPEC = RuleSpec(
    ids=("KM305",),
    hooks=(
        # calls only collect: a scope is functional once it calls Input, known at its end
        Hook(CALL, prefixes=("tensorflow.", _ENGINE), names=_INPUTS, check=True),
        # the end of a function or of the module: the collected calls are rewritten or reported
        Hook(FUNCTION, chain=True),
        Hook(MODULE, chain=True),
    ),
)
_STATE = "functional_tf"


def _scopes(ctx: FileContext) -> FunctionalScopes:
    scopes = ctx.rule_state.get(_STATE)
    if scopes is None:
        scopes = ctx.rule_state[_STATE] = FunctionalScopes(ctx)
    return scopes


def on_call(ctx: FileContext, site: Site) -> None:
    qualified: str = site.qualified  # type: ignore[assignment]
    if qualified.startswith("tensorflow."):
        _scopes(ctx).candidate(qualified, site.original, site.updated)
    if qualified in _INPUTS or (qualified.startswith(_ENGINE) and qualified.endswith(".Input")):
        _scopes(ctx).mark()


def on_function(ctx: FileContext, site: Site) -> cst.FunctionDef | None:
    scopes: FunctionalScopes | None = ctx.rule_state.get(_STATE)
    if scopes is None:
        return None
    new = scopes.leave(site.updated, key=id(site.original))
    return None if new is site.updated else new


def on_module(ctx: FileContext, site: Site) -> cst.Module | None:
    scopes: FunctionalScopes | None = ctx.rule_state.get(_STATE)
    if scopes is None:
        return None
    new = scopes.leave(site.updated, key=None)
    return None if new is site.updated else new


@dataclass
class _Scope:
    functional: bool = False
    candidates: list[tuple[str, cst.Call, cst.Call, cst.CSTNode | None]] = field(default_factory=list)


def _is_tensor_op(qualified: str) -> bool:
    if qualified.startswith(_NOT_OPS):
        return False
    rest = qualified[len("tensorflow."):]
    return "." not in rest or qualified.startswith(_OP_PREFIXES)


class FunctionalScopes:
    """The candidates and the Input marker of each open scope: functions by their node, the module as None."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self.scopes: dict[int | None, _Scope] = {}

    def _current(self) -> _Scope:
        functions = self.ctx.functions
        key = id(functions[-1]) if functions else None
        scope = self.scopes.get(key)
        if scope is None:
            scope = self.scopes[key] = _Scope()
        return scope

    def mark(self) -> None:
        self._current().functional = True

    def candidate(self, qualified: str, original: cst.Call, updated: cst.Call) -> None:
        if _is_tensor_op(qualified):
            self._current().candidates.append((qualified, original, updated, self.ctx.current_stmt))

    def leave(self, node: N, key: int | None) -> N:
        """``node`` (the scope ending) with its candidates rewritten if the scope is functional."""
        scope = self.scopes.pop(key, None)
        if scope is None or not scope.functional or not self.ctx.enabled("KM305"):
            return node
        replacements: dict[int, cst.BaseExpression] = {}
        saved_stmt = self.ctx.current_stmt
        for qualified, original, updated, stmt in scope.candidates:
            self.ctx.current_stmt = stmt  # findings are placed by the statement that holds them
            row = FUNCTIONAL_TF_OPS.get(qualified)
            short = "tf." + qualified[len("tensorflow."):]
            if row is None:
                self.ctx.report("KM305", original,
                                f"{short} on a symbolic tensor fails in Keras 3: use keras.ops or wrap it in a Layer",
                                fixed=False)
                continue
            params, template = row
            try:
                bound = bind(params, updated.args)
            except BindError as exc:
                self.ctx.report("KM305", original, f"{short} not converted: {exc}", fixed=False)
                continue
            extra = [k for k in bound if "{" + k not in template and k != "name"]
            if extra:
                self.ctx.report("KM305", original, f"{short}({', '.join(extra)}=...) has no keras.ops form",
                                fixed=False)
                continue
            replacements[id(updated)] = render(self.ctx, template, params, bound)
            self.ctx.report("KM305", original, f"{short} in functional code -> keras.ops", fixed=True)
        self.ctx.current_stmt = saved_stmt
        if replacements:
            node = node.visit(_Replace(replacements))  # type: ignore[assignment]
        return node


class _Replace(cst.CSTTransformer):
    """Swap nodes by identity in one pass (``deep_replace`` would rebuild the tree each time)."""

    def __init__(self, replacements: dict[int, cst.BaseExpression]) -> None:
        super().__init__()
        self.replacements = replacements

    def on_leave(self, original_node, updated_node):  # type: ignore[no-untyped-def]
        new = self.replacements.get(id(original_node))
        return new if new is not None else updated_node
