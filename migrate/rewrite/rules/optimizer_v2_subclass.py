"""KM416: a tf.keras 2 ``OptimizerV2`` subclass -> Keras 3 ``build`` + ``update_step``.

tf.keras 2.x optimizers (``tf.keras.optimizers.Optimizer`` before TF 2.11;
keras-bert's ``AdamWarmup``, keras-radam's ``RAdam``, bert4keras's ``Adam``
are written so) keep hyper-parameters with ``_set_hyper``/``_get_hyper``,
make slots in ``_create_slots`` with ``add_slot`` and update one variable in
``_resource_apply_dense(grad, var)`` with ``state_ops.assign``. Keras 3 has
none of those names. The conversion, piece by piece:

* ``__init__``: ``super().__init__(name, **kwargs)`` gets ``learning_rate=``
  (the value of ``_set_hyper('learning_rate', ...)``, with ``kwargs.get('lr',
  ...)`` made a ``pop`` so Keras 3 does not see ``lr``) and ``name=name``;
  ``_set_hyper('decay', self._initial_decay)`` goes (Keras 3 has no
  ``decay``; a ``decay=`` argument then fails loudly at construction instead
  of being ignored); every other ``_set_hyper('x', v)`` becomes ``self.x =
  v`` -- ``weight_decay`` becomes ``self.legacy_weight_decay``, because
  Keras 3's base class would read ``self.weight_decay`` and apply its own
  decoupled decay on top;
* ``_create_slots(var_list)`` becomes ``build(var_list)`` (after
  ``super().build``), ``self.add_slot(var, 'm')`` a variable made with
  ``self.add_variable_from_reference(var, 'm')`` (zeros, like ``add_slot``)
  kept in ``self._legacy_slots`` by slot name and variable index, and
  ``self.get_slot(var, 'm')`` reads it back;
* ``_resource_apply_dense(grad, var)`` becomes ``update_step(grad, var,
  learning_rate)``: ``self._decayed_lr(t)`` is ``ops.cast(learning_rate,
  t)`` (exact without ``decay``), ``self._get_hyper('x', t)`` is
  ``ops.cast(self.x, t)``, ``var.dtype.base_dtype`` is ``var.dtype``,
  ``y = state_ops.assign(x, v, use_locking=...)`` is ``y = v`` then
  ``self.assign(x, y)`` (``assign_sub``/``assign_add`` likewise), TF math
  (``tf.where``, ``math_ops.sqrt``, ``tf.pow``, ...) is ``keras.ops``, and the
  final ``return control_flow_ops.group(*updates)`` goes with the list it
  gathers (Keras 3 needs no group);
* ``_resource_apply_sparse`` and ``set_weights`` go: Keras 3 hands
  ``tf.IndexedSlices`` to ``update_step`` on TensorFlow (the dense rule then
  applies; reported), and has no optimizer ``set_weights`` to adapt;
* ``get_config``: ``self._serialize_hyperparameter('x')`` is ``self.x``;
  the ``learning_rate`` and ``decay`` entries go (the base config holds the
  learning rate, schedule or float, and Keras 3 has no ``decay``).

Anything else OptimizerV2-specific left in the class (``_fallback_apply_state``,
``apply_state``, ``_resource_scatter_add`` in the dense path, ...) is reported
with what to write and the class is left unchanged; a class named like a
library optimizer also gets the ready :mod:`modern.optimizers` class.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CLASS, Hook, Order, RuleSpec, Site, Triggers
from migrate.rewrite.index import keras_base
from migrate.rewrite.names import dotted_name

RULE = "KM416"

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CLASS, chain=True),),
    triggers=Triggers(names=frozenset({"_resource_apply_dense", "_set_hyper"}),
                      methods=frozenset({"_set_hyper", "_get_hyper"})),
    before=(Order("register_serializable", "KM312 decorates the class as converted here"),),
    after=tuple(Order(rule, "that rule acts on layer and model classes (or on get_updates optimizers), this one "
                      "on OptimizerV2 subclasses only; no class is both")
                for rule in ("mask_argument", "multi_output_subclass", "build_shape_list", "get_config",
                             "optimizer_get_updates")),
)

READY = {
    "AdamWarmup": "modern.optimizers.AdamWarmup (keras-bert's rule, checked against it)",
    "RAdam": "modern.optimizers.RAdam (keras-rectified-adam's rule, checked against it)",
}
#: Keras 3 base-class attributes a ``_set_hyper`` name must not take over.
_RENAMED = {"weight_decay": "legacy_weight_decay"}
#: TF math -> keras.ops (the last part of the resolved name).
_OPS = {"where": "where", "sqrt": "sqrt", "square": "square", "pow": "power", "maximum": "maximum",
        "minimum": "minimum", "cast": "cast", "convert_to_tensor": "convert_to_tensor", "exp": "exp",
        "abs": "abs", "sign": "sign", "log": "log", "reduce_sum": "sum", "reduce_mean": "mean"}
_TF_MATH = ("tensorflow.", "tensorflow.python.ops.math_ops.", "tensorflow.math.")
_ASSIGNS = {"assign": "assign", "assign_add": "assign_add", "assign_sub": "assign_sub"}
_WHAT_TO_WRITE = (
    "write build(self, var_list) (slots: self.add_variable_from_reference(var, name)) and update_step(self, "
    "gradient, variable, learning_rate) with self.assign/assign_add/assign_sub; plain attributes for _set_hyper, "
    "ops.cast(self.x, dtype) for _get_hyper, learning_rate= to super().__init__"
)
_FORBIDDEN = ("_fallback_apply_state", "_resource_scatter_add", "_resource_scatter_update", "_hyper", "_slots",
              "_serialize_hyperparameter", "_set_hyper", "_get_hyper", "get_slot", "add_slot", "_decayed_lr",
              "_use_locking", "_initial_decay")


class _NotRecognised(Exception):
    pass


def _is_optimizer_v2(ctx: FileContext, site: Site) -> bool:
    info = site.cls
    if info is None:
        return False

    def classify(target: str) -> bool | None:
        last = target.rsplit(".", 1)[-1]
        return True if target.startswith("keras.") and "optimizer" in target and last in ("Optimizer", "OptimizerV2") \
            else None

    if keras_base(ctx, info, classify):
        return True
    return any(base.endswith("OptimizerV2") for base in info.bases)


def _simple(statement: cst.CSTNode) -> cst.BaseSmallStatement | None:
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        return statement.body[0]
    return None


def _string(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _attr(name: str) -> str:
    return _RENAMED.get(name, name)


def on_class(ctx: FileContext, site: Site) -> cst.ClassDef | None:
    if not ctx.enabled(RULE) or not _is_optimizer_v2(ctx, site):
        return None
    cls: cst.ClassDef = site.updated
    methods = {s.name.value: s for s in cls.body.body if isinstance(s, cst.FunctionDef)}
    if "_resource_apply_dense" not in methods:
        return None
    name = cls.name.value
    hint = f"; {name} is ready as {READY[name]}" if name in READY else ""
    dropped = [m for m in ("_resource_apply_sparse", "set_weights") if m in methods]
    try:
        converter = _Converter(ctx)
        init = converter.init(methods.get("__init__"))
        build = converter.build(methods.get("_create_slots"))
        step = converter.update_step(methods["_resource_apply_dense"])
        config = converter.config(methods.get("get_config"))
        body: list[cst.BaseStatement] = []
        for statement in cls.body.body:
            if isinstance(statement, cst.FunctionDef):
                key = statement.name.value
                if key in dropped:
                    continue
                replacement = {"__init__": init, "_create_slots": build, "_resource_apply_dense": step,
                               "get_config": config}.get(key, statement)
                if replacement is not None:
                    body.append(replacement)
                continue
            body.append(statement)
        new = cls.with_changes(body=cls.body.with_changes(body=body))
        new.visit(_Leftovers(ctx))
    except _NotRecognised as why:
        ctx.report(RULE, site.original, f"OptimizerV2 subclass {name} is not converted ({why}): {_WHAT_TO_WRITE}{hint}",
                   fixed=False)
        return None
    note = f"; dropped {' and '.join(dropped)} (Keras 3 passes sparse gradients to update_step)" if dropped else ""
    ctx.report(RULE, site.original, f"OptimizerV2 subclass {name}: _create_slots/_resource_apply_dense -> build + "
               f"update_step, _set_hyper/_get_hyper -> attributes{note}{hint}", fixed=True)
    return new


class _Leftovers(cst.CSTVisitor):
    """Any OptimizerV2 API left after the conversion means the class had a shape not handled here."""

    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx

    def visit_Attribute(self, node: cst.Attribute) -> None:
        if dotted_name(node.value) == "self" and node.attr.value in _FORBIDDEN:
            raise _NotRecognised(f"self.{node.attr.value} is used where it is not converted")


class _Converter:
    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx
        self.hypers: set[str] = set()

    # -- __init__ ---------------------------------------------------------------------
    def init(self, init: cst.FunctionDef | None) -> cst.FunctionDef:
        if init is None:
            raise _NotRecognised("no __init__")
        learning_rate: cst.BaseExpression | None = None
        body: list[cst.BaseStatement] = []
        super_index = None
        for statement in init.body.body:
            small = _simple(statement)
            call = small.value if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) else None
            if call is not None and dotted_name(call.func) == "self._set_hyper":
                if len(call.args) != 2 or _string(call.args[0].value) is None:
                    raise _NotRecognised("a _set_hyper call without a literal name")
                hyper = _string(call.args[0].value)
                value = call.args[1].value
                if hyper == "learning_rate":
                    learning_rate = _get_to_pop(value)
                elif hyper != "decay":
                    self.hypers.add(hyper)
                    body.append(cst.SimpleStatementLine(
                        body=[cst.Assign(targets=[cst.AssignTarget(cst.parse_expression(f"self.{_attr(hyper)}"))],
                                         value=value)],
                        leading_lines=statement.leading_lines))
                continue
            if call is not None and isinstance(call.func, cst.Attribute) and call.func.attr.value == "__init__" \
                    and isinstance(call.func.value, cst.Call) and dotted_name(call.func.value.func) == "super":
                super_index = len(body)
            body.append(statement)
        if super_index is None or learning_rate is None:
            raise _NotRecognised("__init__ lacks super().__init__(name, ...) or _set_hyper('learning_rate', ...)")
        line = body[super_index]
        call = line.body[0].value  # type: ignore[attr-defined]
        args = list(call.args)
        if args and args[0].keyword is None and not args[0].star:
            # OptimizerV2(name, **kwargs): the name, now a keyword after learning_rate.
            args[0] = args[0].with_changes(keyword=cst.Name("name"), equal=_eq())
        comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
        args = [cst.Arg(keyword=cst.Name("learning_rate"), value=learning_rate, equal=_eq(),
                        comma=comma if args else cst.MaybeSentinel.DEFAULT)] + args
        body[super_index] = line.with_changes(body=[cst.Expr(call.with_changes(args=args))])
        return init.with_changes(body=init.body.with_changes(body=body))

    # -- _create_slots -> build ---------------------------------------------------------
    def build(self, create: cst.FunctionDef | None) -> cst.FunctionDef:
        if create is None:
            raise _NotRecognised("no _create_slots")
        params = create.params.params
        if len(params) != 2:
            raise _NotRecognised("_create_slots(self, var_list) expected")
        var_list = params[1].name.value
        head = cst.parse_module(
            f"def build(self, {var_list}):\n"
            "    if self.built:\n        return\n"
            f"    super().build({var_list})\n"
            "    self._legacy_slots = {}\n").body
        rest = create.body.visit(_AddSlot())
        assert isinstance(rest, cst.IndentedBlock)
        function = head[0]
        assert isinstance(function, cst.FunctionDef)
        return function.with_changes(body=function.body.with_changes(body=list(function.body.body) + list(rest.body)),
                                     leading_lines=create.leading_lines)

    # -- _resource_apply_dense -> update_step ------------------------------------------
    def update_step(self, apply: cst.FunctionDef) -> cst.FunctionDef:
        params = apply.params.params
        if len(params) < 3 or any(p.default is None for p in params[3:]):
            raise _NotRecognised("_resource_apply_dense(self, grad, var) expected")
        grad, var = params[1].name.value, params[2].name.value
        statements = list(apply.body.body)
        group_list = _group_list(statements[-1]) if statements else None
        if group_list is not None:
            statements = statements[:-1]
        body = [s for s in statements if not group_list or not _builds_list(s, group_list)]
        block = apply.body.with_changes(body=body).visit(_StepBody(self.ctx))
        assert isinstance(block, cst.IndentedBlock)
        body = [s for s in block.body if not _is_empty_if(s)]
        head = cst.parse_statement(f"def update_step(self, {grad}, {var}, learning_rate):\n    pass\n")
        assert isinstance(head, cst.FunctionDef)
        return head.with_changes(body=head.body.with_changes(body=body), leading_lines=apply.leading_lines)

    # -- get_config ------------------------------------------------------------------------
    def config(self, method: cst.FunctionDef | None) -> cst.FunctionDef | None:
        if method is None:
            return None
        new = method.visit(_Config())
        assert isinstance(new, cst.FunctionDef)
        return new


def _eq() -> cst.AssignEqual:
    return cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))


def _get_to_pop(value: cst.BaseExpression) -> cst.BaseExpression:
    """``kwargs.get('lr', learning_rate)`` -> ``kwargs.pop(...)``: Keras 3 rejects an ``lr`` keyword."""
    if isinstance(value, cst.Call) and isinstance(value.func, cst.Attribute) and value.func.attr.value == "get" \
            and dotted_name(value.func.value) == "kwargs":
        return value.with_changes(func=value.func.with_changes(attr=cst.Name("pop")))
    return value


def _slot_key(slot: cst.BaseExpression, var: cst.BaseExpression) -> cst.BaseExpression:
    return cst.parse_expression(f"self._legacy_slots[({cst.Module([]).code_for_node(slot)}, "
                                f"self._get_variable_index({cst.Module([]).code_for_node(var)}))]")


class _AddSlot(cst.CSTTransformer):
    """``self.add_slot(var, 'm')`` -> ``self._legacy_slots[('m', index)] = self.add_variable_from_reference(var, 'm')``."""

    def leave_SimpleStatementLine(self, original, updated):  # type: ignore[no-untyped-def]
        small = _simple(updated)
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) \
                and dotted_name(small.value.func) == "self.add_slot":
            args = small.value.args
            if len(args) != 2 or any(a.keyword is not None for a in args):
                raise _NotRecognised("add_slot with an initializer")
            var, slot = args[0].value, args[1].value
            code = cst.Module([]).code_for_node
            statement = cst.parse_statement(
                f"{code(_slot_key(slot, var))} = self.add_variable_from_reference({code(var)}, {code(slot)})\n")
            return statement.with_changes(leading_lines=updated.leading_lines)
        return updated


class _StepBody(cst.CSTTransformer):
    def __init__(self, ctx: FileContext) -> None:
        self.ctx = ctx

    def leave_SimpleStatementLine(self, original, updated):  # type: ignore[no-untyped-def]
        small = _simple(updated)
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            update = self._assign_call(small.value)
            if update is not None:
                method, target, value = update
                code = cst.Module([]).code_for_node
                result = code(small.targets[0].target)
                if method == "assign":
                    first = cst.SimpleStatementLine(body=[small.with_changes(value=value)],
                                                    leading_lines=updated.leading_lines)
                    second = cst.parse_statement(f"self.assign({code(target)}, {result})\n")
                    return cst.FlattenSentinel([first, second])
                return cst.FlattenSentinel([
                    cst.parse_statement(f"self.{method}({code(target)}, {code(value)})\n").with_changes(
                        leading_lines=updated.leading_lines),
                    cst.parse_statement(f"{result} = {code(target)}\n")])
        if isinstance(small, cst.Expr):
            update = self._assign_call(small.value)
            if update is not None:
                method, target, value = update
                code = cst.Module([]).code_for_node
                return cst.parse_statement(f"self.{method}({code(target)}, {code(value)})\n").with_changes(
                    leading_lines=updated.leading_lines)
        return updated

    def _assign_call(self, value: cst.BaseExpression) -> tuple[str, cst.BaseExpression, cst.BaseExpression] | None:
        if not isinstance(value, cst.Call):
            return None
        name = self.ctx.qualified(value.func) or dotted_name(value.func) or ""
        last = name.rsplit(".", 1)[-1]
        positional = [a.value for a in value.args if a.keyword is None and not a.star]
        if last in _ASSIGNS and len(positional) == 2 and ("state_ops" in name or name.startswith("tensorflow.")):
            return _ASSIGNS[last], positional[0], positional[1]
        return None

    def leave_Call(self, original, updated):  # type: ignore[no-untyped-def]
        func = dotted_name(updated.func)
        args = updated.args
        if func == "self._decayed_lr" and len(args) == 1:
            return self.ctx.expr(f"ops.cast(learning_rate, {self.ctx.arg_code(args[0].value, atom=False)})")
        if func == "self._get_hyper" and 1 <= len(args) <= 2 and _string(args[0].value) is not None:
            attr = f"self.{_attr(_string(args[0].value) or '')}"
            if len(args) == 1:
                return cst.parse_expression(attr)
            return self.ctx.expr(f"ops.cast({attr}, {self.ctx.arg_code(args[1].value, atom=False)})")
        if func == "self.get_slot" and len(args) == 2:
            return _slot_key(args[1].value, args[0].value)
        name = self.ctx.qualified(original.func) or ""
        for prefix in _TF_MATH:
            if name.startswith(prefix) and name[len(prefix):] in _OPS:
                target = _OPS[name[len(prefix):]]
                kept = [a for a in updated.args if a.keyword is None or a.keyword.value not in ("name", "use_locking")]
                if any(a.keyword is not None for a in kept):
                    raise _NotRecognised(f"{name} with keyword arguments")
                if kept and len(kept) < len(updated.args):
                    kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
                return updated.with_changes(func=self.ctx.expr(f"ops.{target}"), args=kept)
        return updated

    def leave_Attribute(self, original, updated):  # type: ignore[no-untyped-def]
        if updated.attr.value == "base_dtype" and isinstance(updated.value, cst.Attribute) \
                and updated.value.attr.value == "dtype":
            return updated.value
        return updated


def _group_list(statement: cst.BaseStatement) -> str | None:
    """``return control_flow_ops.group(*updates)`` / ``tf.group(...)``: the name of the list it gathers.

    ``""`` for a group of anything else (``group(*[a, b])``, ``group(a, b)``),
    None for a statement that is not such a return.
    """
    small = _simple(statement)
    if not (isinstance(small, cst.Return) and isinstance(small.value, cst.Call)
            and (dotted_name(small.value.func) or "").rsplit(".", 1)[-1] == "group"):
        return None
    args = small.value.args
    if len(args) == 1 and args[0].star == "*" and isinstance(args[0].value, cst.Name):
        return args[0].value.value
    return ""


def _builds_list(statement: cst.BaseStatement, name: str) -> bool:
    """``updates = [...]`` or ``updates.append(...)``, alone or as the whole body of an ``if``."""
    small = _simple(statement)
    if isinstance(small, cst.Assign) and len(small.targets) == 1 and dotted_name(small.targets[0].target) == name:
        return True
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) \
            and dotted_name(small.value.func) == f"{name}.append":
        return True
    if isinstance(statement, cst.If) and statement.orelse is None and isinstance(statement.body, cst.IndentedBlock):
        return all(_builds_list(s, name) for s in statement.body.body)
    return False


def _is_empty_if(statement: cst.BaseStatement) -> bool:
    return isinstance(statement, cst.If) and isinstance(statement.body, cst.IndentedBlock) and not statement.body.body


class _Config(cst.CSTTransformer):
    """``_serialize_hyperparameter('x')`` -> ``self.x``; the ``learning_rate``/``decay`` entries go."""

    def leave_DictElement(self, original, updated):  # type: ignore[no-untyped-def]
        value = original.value  # before leave_Call below rewrote it
        if isinstance(value, cst.Call) and dotted_name(value.func) == "self._serialize_hyperparameter" \
                and value.args and _string(value.args[0].value) in ("learning_rate", "decay"):
            return cst.RemovalSentinel.REMOVE
        return updated

    def leave_Call(self, original, updated):  # type: ignore[no-untyped-def]
        if dotted_name(updated.func) == "self._serialize_hyperparameter" and len(updated.args) == 1 \
                and _string(updated.args[0].value) is not None:
            return cst.parse_expression(f"self.{_attr(_string(updated.args[0].value) or '')}")
        return updated
