"""KM415: a Keras 2 optimizer written with ``get_updates`` -> Keras 3 ``build`` + ``update_step``.

Keras 2 custom optimizers (the warmup/cosine Adams of blog posts, keras-bert's
and keras-radam's Keras 2 versions) subclass ``keras.optimizers.Optimizer``
and build the whole update graph in ``get_updates(self, loss, params)``.
Keras 3 never calls it: an optimizer there creates its per-variable state in
``build(var_list)`` and updates one variable in ``update_step(gradient,
variable, learning_rate)``, and owns ``iterations`` and the learning rate.

The common shape is converted (it is what Keras 2.2's own Adam looked like)::

    def get_updates(self, loss, params):
        grads = self.get_gradients(loss, params)             # dropped: Keras 3 passes the gradient
        self.updates = [K.update_add(self.iterations, 1)]    # dropped: Keras 3 counts the step
        t = K.cast(self.iterations, K.floatx()) + 1          # kept, per variable ("prelude")
        lr_t = self.lr * ...                                 # self.lr -> learning_rate
        ms = [K.zeros(K.int_shape(p)) for p in params]      # -> build: add_variable_from_reference
        self.weights = [self.iterations] + ms                # dropped: Keras 3 tracks its variables
        for p, g, m in zip(params, grads, ms):               # -> update_step's body
            m_t = ...
            self.updates.append(K.update(m, m_t))            # -> self.assign(m, m_t)
            if getattr(p, 'constraint', None) is not None:   # dropped: Keras 3 applies constraints
                new_p = p.constraint(new_p)                  #   after update_step, the same way
            self.updates.append(K.update(p, new_p))
        return self.updates

Why it is exact: the prelude reads ``self.iterations`` before this step's
increment, as Keras 3's ``update_step`` sees it; the slots start at zero as
``K.zeros`` did; each ``K.update`` becomes the same assignment through the
optimizer (``self.assign``, which every backend supports, JAX's stateless
step included); ``learning_rate`` is what ``self.lr`` held. In ``__init__``
the ``self.iterations = K.variable(...)`` and ``self.lr = K.variable(lr)``
lines go (Keras 3 creates both), ``lr`` is given to ``super().__init__`` as
``learning_rate`` (``kwargs.pop("learning_rate", lr)``, so a config saved by
Keras 3, which holds ``learning_rate``, reloads), and ``self.lr`` elsewhere
in the class becomes ``self.learning_rate``.

Anything else in ``get_updates`` (slots built in an ``if``, several loops,
reads of ``self.updates`` or ``loss``) is reported with what to write, and
the class is left as it was. A class named like a published library
optimizer also gets a pointer to the ready :mod:`modern.optimizers` class.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, CLASS, Hook, Order, RuleSpec, Site, Triggers
from migrate.rewrite.index import keras_base
from migrate.rewrite.names import dotted_name

RULE = "KM415"

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CLASS, chain=True), Hook(CALL, names=("keras.backend.zeros",))),
    triggers=Triggers(methods=frozenset({"get_updates"}), names=frozenset({"get_updates"})),
    before=(Order("register_serializable", "KM312 decorates the class as converted here (a replacement would "
                  "otherwise end the dispatch before it)"),
            Order("backend_ctor", "a K.zeros slot list of get_updates becomes build()'s slots here; KM210 "
                  "would report its dtype for code that is about to go")),
    after=tuple(Order(rule, "that rule acts on layer and model classes, this one on optimizer classes only; "
                      "no class is both") for rule in ("mask_argument", "multi_output_subclass", "build_shape_list",
                                                       "get_config")),
)

#: Published library optimizers that modern.optimizers has ready, by class name.
READY = {
    "AdamWarmup": "modern.optimizers.AdamWarmup (keras-bert's rule)",
    "RAdam": "modern.optimizers.RAdam (keras-rectified-adam's rule)",
    "Lookahead": "modern.optimizers.Lookahead(inner_optimizer, sync_period, slow_step)",
}

_WHAT_TO_WRITE = (
    "write build(self, var_list) creating each per-variable slot with self.add_variable_from_reference(v, name), "
    "and update_step(self, gradient, variable, learning_rate) updating one variable with self.assign/assign_add/"
    "assign_sub; drop self.iterations/self.lr/self.updates/self.weights (Keras 3 owns them) and pass "
    "learning_rate= to super().__init__"
)
_UPDATES = {"update": "assign", "update_add": "assign_add", "update_sub": "assign_sub",
            "assign": "assign", "assign_add": "assign_add", "assign_sub": "assign_sub"}


class _NotRecognised(Exception):
    """The method does not have the converted shape; the message says where."""


def is_keras2_optimizer(ctx: FileContext, site: Site) -> bool:
    info = site.cls
    if info is None:
        return False
    return keras_base(ctx, info, lambda target: target == "keras.optimizers.Optimizer" or None) is not None


def on_call(ctx: FileContext, site: Site) -> cst.BaseExpression | None:
    """``K.zeros`` of a slot list (``ms = [K.zeros(K.int_shape(p)) for p in params]``) in a Keras 2 optimizer.

    The class hook turns the whole list into ``build()``'s slots; this claims
    the call first (an identical copy: the code is unchanged if the class is
    not converted after all), so the rewrite counts the ``K`` reference as
    gone and drops an import no longer used in the same run.
    """
    if not ctx.enabled(RULE) or not is_keras2_optimizer(ctx, site):
        return None
    small = _simple(ctx.current_stmt) if isinstance(ctx.current_stmt, cst.SimpleStatementLine) else None
    if small is None or not isinstance(small, cst.Assign) or not isinstance(small.value, cst.ListComp):
        return None
    comp = small.value
    if comp.elt is not site.original or not isinstance(comp.for_in.iter, cst.Name):
        return None
    if _slot_list(small, comp.for_in.iter.value) is None:
        return None
    return site.updated.deep_clone()


def _methods(cls: cst.ClassDef) -> dict[str, cst.FunctionDef]:
    return {s.name.value: s for s in cls.body.body if isinstance(s, cst.FunctionDef)}


def on_class(ctx: FileContext, site: Site) -> cst.ClassDef | None:
    if not ctx.enabled(RULE) or not is_keras2_optimizer(ctx, site):
        return None
    cls: cst.ClassDef = site.updated
    methods = _methods(cls)
    if "get_updates" not in methods:
        return None
    name = cls.name.value
    ready = READY.get(name)
    hint = f"; {name} is ready as {ready}" if ready else ""
    try:
        build, update_step = _convert_get_updates(ctx, methods["get_updates"])
        init = _convert_init(ctx, methods.get("__init__"))
    except _NotRecognised as why:
        ctx.report(RULE, site.original, f"Keras 2 optimizer {name}.get_updates is not converted ({why}): "
                   f"{_WHAT_TO_WRITE}{hint}", fixed=False)
        return None
    body: list[cst.BaseStatement] = []
    for statement in cls.body.body:
        if statement is methods["get_updates"]:
            body += [build, update_step]
        elif init is not None and statement is methods.get("__init__"):
            body.append(init)
        else:
            body.append(statement)
    new = cls.with_changes(body=cls.body.with_changes(body=body))
    new = new.visit(_Rename({"lr": "learning_rate"}, skip=(update_step,)))
    ctx.report(RULE, site.original, f"Keras 2 optimizer {name}: get_updates -> build + update_step "
               f"(Keras 3 owns iterations and the learning rate){hint}", fixed=True)
    return new


# -- __init__ -------------------------------------------------------------------------------------

def _assigned_self_attr(statement: cst.CSTNode) -> str | None:
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        small = statement.body[0]
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target = dotted_name(small.targets[0].target)
            if target is not None and target.startswith("self.") and target.count(".") == 1:
                return target[5:]
    return None


def _convert_init(ctx: FileContext, init: cst.FunctionDef | None) -> cst.FunctionDef | None:
    if init is None:
        raise _NotRecognised("no __init__ creating self.lr")
    found: dict[str, cst.BaseExpression] = {}

    def strip(statements):
        kept = []
        for statement in statements:
            attr = _assigned_self_attr(statement)
            if attr in ("iterations", "lr", "learning_rate"):
                if attr != "iterations":
                    value = statement.body[0].value
                    if not isinstance(value, cst.Call) or not value.args:
                        raise _NotRecognised(f"self.{attr} is not a K.variable(...)")
                    found["lr"] = value.args[0].value
                continue
            if isinstance(statement, cst.With):
                inner = strip(statement.body.body)
                if inner:
                    kept.append(statement.with_changes(body=statement.body.with_changes(body=inner)))
                continue
            kept.append(statement)
        return kept

    body = strip(init.body.body)
    if "lr" not in found:
        raise _NotRecognised("__init__ does not set self.lr = K.variable(lr)")
    lr = found["lr"]
    lr_code = ctx.arg_code(lr, atom=False)
    done = False
    out = []
    for statement in body:
        call = _super_init_call(statement)
        if call is not None and not done:
            if any(a.keyword is not None and a.keyword.value == "learning_rate" for a in call.args):
                raise _NotRecognised("super().__init__ already has learning_rate=")
            has_kwargs = any(a.star == "**" for a in call.args)
            value = (f'kwargs.pop("learning_rate", {lr_code})' if has_kwargs and lr_code != "learning_rate"
                     else lr_code)
            if has_kwargs and not any(a.star == "**" and dotted_name(a.value) == "kwargs" for a in call.args):
                raise _NotRecognised("super().__init__ passes keyword arguments not named kwargs")
            arg = cst.Arg(keyword=cst.Name("learning_rate"), value=cst.parse_expression(value),
                          equal=cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                                whitespace_after=cst.SimpleWhitespace("")))
            args = [arg.with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))] + list(call.args) \
                if call.args else [arg]
            new_call = call.with_changes(args=args)
            statement = statement.visit(_ReplaceNode(call, new_call))
            done = True
        out.append(statement)
    if not done:
        raise _NotRecognised("__init__ does not call super().__init__")
    return init.with_changes(body=init.body.with_changes(body=out))


def _super_init_call(statement: cst.CSTNode) -> cst.Call | None:
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        small = statement.body[0]
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call):
            func = small.value.func
            if (isinstance(func, cst.Attribute) and func.attr.value == "__init__" and isinstance(func.value, cst.Call)
                    and dotted_name(func.value.func) == "super"):
                return small.value
    return None


class _ReplaceNode(cst.CSTTransformer):
    def __init__(self, old: cst.CSTNode, new: cst.CSTNode) -> None:
        self.old, self.new = old, new

    def on_leave(self, original, updated):  # type: ignore[no-untyped-def, override]
        return self.new if original is self.old else updated


class _Rename(cst.CSTTransformer):
    """``self.<old>`` -> ``self.<new>`` (the class's other methods: ``self.lr`` is ``learning_rate`` in Keras 3)."""

    def __init__(self, names: dict[str, str], skip: tuple[cst.CSTNode, ...] = ()) -> None:
        self.names, self.skip = names, skip

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return not any(node is s for s in self.skip)

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        if dotted_name(updated.value) == "self" and updated.attr.value in self.names:
            return updated.with_changes(attr=cst.Name(self.names[updated.attr.value]))
        return updated


class _ToArgument(cst.CSTTransformer):
    """``self.lr``/``self.learning_rate`` -> the ``learning_rate`` argument of ``update_step``."""

    def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
        if dotted_name(updated) in ("self.lr", "self.learning_rate"):
            return cst.Name("learning_rate")
        return updated


# -- get_updates ----------------------------------------------------------------------------------

def _names_in(node: cst.CSTNode) -> set[str]:
    found: set[str] = set()

    class Collect(cst.CSTVisitor):
        def visit_Name(self, name: cst.Name) -> None:
            found.add(name.value)

    node.visit(Collect())
    return found


def _is_iteration_increment(ctx: FileContext, expr: cst.BaseExpression) -> bool:
    update = _update_call(ctx, expr)
    return update is not None and update[0] == "assign_add" and dotted_name(update[1]) == "self.iterations"


def _update_call(ctx: FileContext, expr: cst.BaseExpression) -> tuple[str, cst.BaseExpression, cst.BaseExpression] | None:
    """``K.update(x, v)``, ``x.assign(v)``, ``tf.assign(x, v)``, ... -> (method, x, v)."""
    if not isinstance(expr, cst.Call):
        return None
    func = expr.func
    positional = [a.value for a in expr.args if a.keyword is None and not a.star]
    qualified = ctx.qualified(func) or dotted_name(func) or ""
    last = qualified.rsplit(".", 1)[-1]
    # Two positional arguments inside get_updates: K.update* under any alias the
    # imports may not resolve (``KB = tf.keras.backend``), tf.assign, state_ops.assign.
    if last in _UPDATES and len(positional) == 2 and "." in qualified:
        return _UPDATES[last], positional[0], positional[1]
    if isinstance(func, cst.Attribute) and func.attr.value in ("assign", "assign_add", "assign_sub") \
            and len(positional) == 1:
        return func.attr.value, func.value, positional[0]
    return None


def _simple(statement: cst.BaseStatement) -> cst.BaseSmallStatement | None:
    if isinstance(statement, cst.SimpleStatementLine) and len(statement.body) == 1:
        return statement.body[0]
    return None


def _slot_list(small: cst.BaseSmallStatement, params: str) -> tuple[str, str] | None:
    """``ms = [K.zeros(<shape of p>) for p in params]`` -> ("ms", "p")."""
    if not (isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name)):
        return None
    comp = small.value
    if not isinstance(comp, cst.ListComp) or comp.for_in.inner_for_in is not None or comp.for_in.ifs:
        return None
    if dotted_name(comp.for_in.iter) != params or not isinstance(comp.for_in.target, cst.Name):
        return None
    element = comp.elt
    if not isinstance(element, cst.Call) or (dotted_name(element.func) or "").rsplit(".", 1)[-1] != "zeros":
        return None
    variable = comp.for_in.target.value
    if not element.args or variable not in _names_in(element.args[0].value):
        return None  # a slot not shaped like its variable (Keras 2.2's (1,) vhat placeholders)
    return small.targets[0].target.value, variable


def _convert_get_updates(ctx: FileContext, method: cst.FunctionDef) -> tuple[cst.FunctionDef, cst.FunctionDef]:
    params_list = method.params.params
    if len(params_list) != 3 or method.params.star_kwarg is not None or method.params.star_arg not in (None,
                                                                                                     cst.MaybeSentinel.DEFAULT):
        raise _NotRecognised("get_updates(self, loss, params) expected")
    loss, params = params_list[1].name.value, params_list[2].name.value
    grads: str | None = None
    slots: dict[str, str] = {}  # list name -> its comprehension variable
    prelude: list[cst.BaseStatement] = []
    loop: cst.For | None = None
    statements = list(method.body.body)
    # A docstring is not code.
    if statements and isinstance(_simple(statements[0]), cst.Expr) and isinstance(
            _simple(statements[0]).value, (cst.SimpleString, cst.ConcatenatedString)):  # type: ignore[union-attr]
        statements = statements[1:]
    for index, statement in enumerate(statements):
        small = _simple(statement)
        if loop is not None:
            if isinstance(small, cst.Return) and dotted_name(small.value) == "self.updates":
                if index != len(statements) - 1:
                    raise _NotRecognised("code after return")
                continue
            raise _NotRecognised(f"code after the update loop, line {ctx.code(statement).strip()[:40]!r}")
        if isinstance(statement, cst.For):
            loop = statement
            continue
        if small is None:
            raise _NotRecognised(f"a compound statement before the update loop ({ctx.code(statement).strip()[:40]!r})")
        if isinstance(small, cst.Assign) and len(small.targets) == 1:
            target = dotted_name(small.targets[0].target)
            value = small.value
            if isinstance(value, cst.Call) and dotted_name(value.func) == "self.get_gradients":
                if not isinstance(small.targets[0].target, cst.Name):
                    raise _NotRecognised("the gradients are not bound to one name")
                grads = small.targets[0].target.value
                continue
            if target == "self.updates":
                if not isinstance(value, cst.List) or not all(_is_iteration_increment(ctx, e.value)
                                                              for e in value.elements):
                    raise _NotRecognised("self.updates starts with more than the iteration increment")
                continue
            if target == "self.weights":
                continue
            slot = _slot_list(small, params)
            if slot is not None:
                slots[slot[0]] = slot[1]
                continue
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) and \
                dotted_name(small.value.func) == "self.updates.append" and \
                _is_iteration_increment(ctx, small.value.args[0].value):
            continue
        used = _names_in(statement)
        if {params, loss, *slots} & used or (grads is not None and grads in used) or "updates" in used:
            raise _NotRecognised(f"{ctx.code(statement).strip()[:50]!r} uses the parameters, the gradients or the "
                                 "updates outside the update loop")
        if "weights" in used and "self" in used:
            raise _NotRecognised("self.weights is read")
        prelude.append(statement)
    if loop is None or grads is None:
        raise _NotRecognised("no `for ... in zip(params, grads, ...)` update loop")
    targets, sources = _loop_binding(loop)
    if sources[:2] != [params, grads] or any(s not in slots for s in sources[2:]) or len(set(sources)) != len(sources):
        raise _NotRecognised("the update loop is not over zip(params, grads, <slot lists>)")
    if set(slots) - set(sources[2:]):
        raise _NotRecognised("a slot list is not in the update loop")
    body = _loop_body(ctx, loop, targets[0])
    indent = ctx.default_indent
    build_lines = ["def build(self, var_list):", f"{indent}if self.built:", f"{indent}{indent}return",
                   f"{indent}super().build(var_list)"]
    step_lines = [f"{targets[0]}, {targets[1]} = variable, gradient"] if targets[0] != "variable" or \
        targets[1] != "gradient" else []
    for slot_list, target in zip(sources[2:], targets[2:]):
        build_lines.append(f"{indent}self._{slot_list} = [self.add_variable_from_reference(v, {target!r}) "
                           "for v in var_list]")
        step_lines.append(f"{target} = self._{slot_list}[self._get_variable_index(variable)]")
    build = cst.parse_statement("\n".join(build_lines) + "\n")
    assert isinstance(build, cst.FunctionDef)
    head = [cst.parse_statement(line + "\n") for line in step_lines]
    converted = [s.visit(_ToArgument()) for s in prelude] + body
    update_step = cst.parse_statement("def update_step(self, gradient, variable, learning_rate):\n    pass\n")
    assert isinstance(update_step, cst.FunctionDef)
    update_step = update_step.with_changes(body=update_step.body.with_changes(body=head + converted),
                                           leading_lines=method.leading_lines)
    build = build.with_changes(leading_lines=method.leading_lines)
    return build, update_step


def _loop_binding(loop: cst.For) -> tuple[list[str], list[str]]:
    target, iterable = loop.target, loop.iter
    if not (isinstance(target, cst.Tuple) and all(isinstance(e.value, cst.Name) for e in target.elements)):
        raise _NotRecognised("the update loop does not unpack plain names")
    if not (isinstance(iterable, cst.Call) and dotted_name(iterable.func) == "zip"
            and all(isinstance(a.value, cst.Name) and a.keyword is None and not a.star for a in iterable.args)):
        raise _NotRecognised("the update loop is not over zip(...) of names")
    if loop.orelse is not None:
        raise _NotRecognised("the update loop has an else")
    names = [e.value.value for e in target.elements]  # type: ignore[attr-defined]
    sources = [a.value.value for a in iterable.args]  # type: ignore[attr-defined]
    if len(names) != len(sources) or len(names) < 2:
        raise _NotRecognised("the update loop unpacks a different number of names than it zips")
    return names, sources


class _LoopBody(cst.CSTTransformer):
    """``self.updates.append(<update>)`` -> ``self.assign...(...)``; constraint re-application dropped."""

    def __init__(self, ctx: FileContext, param: str) -> None:
        self.ctx, self.param = ctx, param

    def leave_SimpleStatementLine(self, original, updated):  # type: ignore[no-untyped-def]
        small = _simple(updated)
        if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) \
                and dotted_name(small.value.func) == "self.updates.append" and len(small.value.args) == 1:
            update = _update_call(self.ctx, small.value.args[0].value)
            if update is None:
                raise _NotRecognised(f"{self.ctx.code(updated).strip()[:50]!r} is not an update")
            method, target, value = update
            call = cst.Call(func=cst.parse_expression(f"self.{method}"),
                            args=[cst.Arg(target, comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                                  cst.Arg(value)])
            return updated.with_changes(body=[cst.Expr(call)])
        return updated

    def leave_If(self, original, updated):  # type: ignore[no-untyped-def]
        code = self.ctx.code(original.test)
        if "constraint" in code and self.param in _names_in(original.test):
            # Keras 3 applies variable.constraint after update_step, as this did before the update.
            return cst.RemovalSentinel.REMOVE
        return updated



class _Leftover(cst.CSTVisitor):
    def visit_Attribute(self, node: cst.Attribute) -> None:
        if dotted_name(node) in ("self.updates", "self.weights", "self.get_gradients"):
            raise _NotRecognised(f"{dotted_name(node)} is used inside the update loop other than by append")


def _loop_body(ctx: FileContext, loop: cst.For, param: str) -> list[cst.BaseStatement]:
    body = loop.body.visit(_LoopBody(ctx, param)).visit(_ToArgument())
    assert isinstance(body, cst.IndentedBlock)
    body.visit(_Leftover())
    if not body.body:
        raise _NotRecognised("the update loop updates nothing")
    return list(body.body)
