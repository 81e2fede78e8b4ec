"""KM309: a ``get_config`` for Keras layers, models and schedules that take constructor arguments.

Keras 3 saves a layer as its class plus ``get_config()`` and rebuilds it with
``cls(**config)``. Without an override it can only record constructor arguments
that are plain values (numbers, strings, ``None``), and a learning-rate schedule
cannot be saved at all. For a class deriving (through imports, aliases or a class
of the same module) from a Keras layer, model or ``LearningRateSchedule`` whose
``__init__`` takes arguments and which defines no ``get_config``, the rule adds

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "activation": keras.activations.serialize(self.activation),
        }

when every argument maps back exactly:

* stored verbatim, ``self.units = units``, and never assigned again in the class;
* stored through ``keras.activations.get(arg)`` (or ``initializers``,
  ``regularizers``, ``constraints``): written back with the matching
  ``keras.<module>.serialize``;
* forwarded to the base class by keyword under its own name
  (``super().__init__(name=name)``): the base config has it.

A layer must also forward ``**kwargs`` to the base class, since Keras 3 passes
``name``, ``trainable`` and ``dtype`` back to the constructor. A schedule's
config holds only its own arguments (the base class has none).

Anything else (an argument stored under another name, transformed, reassigned
after ``__init__``, not stored, passed on positionally) is reported and the class
is left as it is: a ``get_config`` that silently drops an argument would rebuild
a different object.
"""

from __future__ import annotations

import re

import libcst as cst

from migrate.rewrite.context import ClassInfo, FileContext
from migrate.rewrite.names import iter_statements
from migrate.rewrite.rules.imports import map_name

_SERIALIZABLE = ("activations", "initializers", "regularizers", "constraints")
_MODEL_TARGETS = ("keras.Model", "keras.models.Model", "keras.Sequential", "keras.models.Sequential")
_SCHEDULE = "keras.optimizers.schedules.LearningRateSchedule"
_IDENT = re.compile(r"[^\W\d]\w*")


def kind_of(ctx: FileContext, info: ClassInfo, depth: int = 0) -> str | None:
    """``"layer"`` (layers and models), ``"schedule"`` or None, from the class's bases."""
    for base in info.bases:
        if base.startswith("keras."):
            target = map_name(base)[0] or base
            if target.startswith("keras.layers.") or target in _MODEL_TARGETS:
                return "layer"
            if target == _SCHEDULE:
                return "schedule"
        parent = ctx.classes.get(base)
        if parent is not None and parent is not info and depth < 10:
            kind = kind_of(ctx, parent, depth + 1)
            if kind is not None:
                return kind
    return None


def _methods(node: cst.ClassDef) -> dict[str, cst.FunctionDef]:
    body = node.body
    if not isinstance(body, cst.IndentedBlock):
        return {}
    return {s.name.value: s for s in body.body if isinstance(s, cst.FunctionDef)}


def _self_attr(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self":
        return node.attr.value
    return None


def _targets(node: cst.BaseExpression) -> list[cst.BaseExpression]:
    if isinstance(node, (cst.Tuple, cst.List)):
        out: list[cst.BaseExpression] = []
        for e in node.elements:
            out.extend(_targets(e.value))
        return out
    return [node]


class _Stores:
    """Every ``self.<attr> = value`` in the class: where, and with what."""

    def __init__(self, methods: dict[str, cst.FunctionDef]) -> None:
        self.count: dict[str, int] = {}
        self.init_value: dict[str, cst.BaseExpression | None] = {}
        self.init_order: list[str] = []
        for name, fn in methods.items():
            for stmt in iter_statements(fn.body.body if isinstance(fn.body, cst.IndentedBlock) else []):
                if not isinstance(stmt, cst.SimpleStatementLine):
                    continue
                for small in stmt.body:
                    self._small(name, small)

    def _small(self, method: str, small: cst.BaseSmallStatement) -> None:
        pairs: list[tuple[cst.BaseExpression, cst.BaseExpression | None]] = []
        if isinstance(small, cst.Assign):
            single = len(small.targets) == 1 and not isinstance(small.targets[0].target, (cst.Tuple, cst.List))
            for t in small.targets:
                for target in _targets(t.target):
                    pairs.append((target, small.value if single else None))
        elif isinstance(small, (cst.AugAssign, cst.AnnAssign)):
            pairs.append((small.target, None if isinstance(small, cst.AugAssign) else small.value))
        for target, value in pairs:
            attr = _self_attr(target)
            if attr is None:
                continue
            self.count[attr] = self.count.get(attr, 0) + 1
            if method == "__init__" and attr not in self.init_value:
                self.init_value[attr] = value
                self.init_order.append(attr)


def _super_init(fn: cst.FunctionDef, bases: list[str]) -> cst.Call | None:
    """The ``super().__init__(...)`` (or ``Base.__init__(self, ...)``) call of ``__init__``."""
    for stmt in iter_statements(fn.body.body if isinstance(fn.body, cst.IndentedBlock) else []):
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if not isinstance(small, cst.Expr) or not isinstance(small.value, cst.Call):
                continue
            call = small.value
            func = call.func
            if not (isinstance(func, cst.Attribute) and func.attr.value == "__init__"):
                continue
            owner = func.value
            if isinstance(owner, cst.Call) and isinstance(owner.func, cst.Name) and owner.func.value == "super":
                return call
            if isinstance(owner, (cst.Name, cst.Attribute)) and FileContext.code(owner) in bases:
                return call
    return None


def _serializer(ctx: FileContext, value: cst.BaseExpression | None, param: str) -> str | None:
    """``activations`` for ``keras.activations.get(param)`` (and the like), else None."""
    if not isinstance(value, cst.Call) or len(value.args) != 1:
        return None
    arg = value.args[0]
    if arg.keyword is not None or arg.star or not (isinstance(arg.value, cst.Name) and arg.value.value == param):
        return None
    q = ctx.qualified(value.func) or ""
    for module in _SERIALIZABLE:
        if q == f"keras.{module}.get":
            return module
    return None


def _names(ctx: FileContext, value: cst.BaseExpression | None, cache: dict[int, set[str]]) -> set[str]:
    """Identifiers in ``value`` (a superset: read from its code; only used to word a finding)."""
    if value is None:
        return set()
    key = id(value)
    if key not in cache:
        cache[key] = set(_IDENT.findall(ctx.code(value)))
    return cache[key]


def rewrite(ctx: FileContext, info: ClassInfo | None, original: cst.ClassDef,
            updated: cst.ClassDef) -> cst.ClassDef | None:
    if info is None or not ctx.enabled("KM309"):
        return None
    kind = kind_of(ctx, info)
    if kind is None:
        return None
    methods = _methods(original)
    init = methods.get("__init__")
    if init is None or "get_config" in methods or not isinstance(updated.body, cst.IndentedBlock):
        return None
    ps = init.params
    params = [p.name.value for p in (*ps.posonly_params, *ps.params, *ps.kwonly_params)][1:]
    if not params:
        return None
    name = info.name
    problems: list[str] = []
    if ps.posonly_params[1:] or isinstance(ps.star_arg, cst.Param):
        problems.append("positional-only or *args parameters")
    stores = _Stores(methods)
    super_call = _super_init(init, [b.value.value if isinstance(b.value, cst.Name) else FileContext.code(b.value)
                                    for b in original.bases])
    forwarded: set[str] = set()
    positional: set[str] = set()
    kwargs_forwarded = False
    if super_call is not None:
        for a in super_call.args:
            if a.star == "**" and isinstance(a.value, cst.Name) and isinstance(ps.star_kwarg, cst.Param) \
                    and a.value.value == ps.star_kwarg.name.value:
                kwargs_forwarded = True
            elif a.keyword is not None and isinstance(a.value, cst.Name) and a.keyword.value == a.value.value:
                forwarded.add(a.keyword.value)
            elif a.keyword is None and not a.star and isinstance(a.value, cst.Name):
                positional.add(a.value.value)
    if kind == "layer" and not kwargs_forwarded:
        problems.append("__init__ does not forward **kwargs to the base class, which gets name, trainable and "
                        "dtype back from the config")
    entries: list[tuple[str, str]] = []
    unmapped: list[str] = []
    names: dict[int, set[str]] = {}
    for p in params:
        if kind == "layer" and p in forwarded:
            continue
        stored = [a for a in stores.init_order if isinstance(stores.init_value[a], cst.Name)
                  and stores.init_value[a].value == p]  # type: ignore[union-attr]
        serial = [(a, m) for a in stores.init_order
                  if (m := _serializer(ctx, stores.init_value[a], p)) is not None]
        if p in stored and stores.count.get(p, 0) == 1:
            entries.append((p, f"self.{p}"))
        elif p in stored:
            unmapped.append(f"{p} (reassigned after __init__)")
        elif serial and stores.count.get(serial[0][0], 0) == 1:
            attr, module = serial[0]
            entries.append((p, f"keras.{module}.serialize(self.{attr})"))
        elif stored:
            unmapped.append(f"{p} (stored as self.{stored[0]})")
        elif p in positional:
            unmapped.append(f"{p} (passed on positionally)")
        else:
            users = [a for a in stores.init_order if p in _names(ctx, stores.init_value[a], names)]
            unmapped.append(f"{p} (used to build self.{users[0]})" if users else f"{p} (not stored)")
    if unmapped:
        problems.append("arguments not stored as-is: " + ", ".join(unmapped))
    if problems:
        plain = " (Keras 3 can rebuild it only from plain-valued constructor arguments)" if kind == "layer" else ""
        ctx.report("KM309", original,
                   f"{name}: no get_config could be written ({'; '.join(problems)}); write one by hand to save "
                   f"and reload it{plain}", fixed=False)
        return None
    if not entries and kind == "layer":
        return None  # every argument goes to the base class, whose config has it
    func = _function(ctx, kind, entries)
    body = updated.body
    new_body = body.with_changes(body=[*body.body, func])
    ctx.report("KM309", original,
               f"{name}: get_config added for {', '.join(p for p, _ in entries)} (Keras 3 needs it to save "
               "and reload the object)", fixed=True)
    return updated.with_changes(body=new_body)


def _function(ctx: FileContext, kind: str, entries: list[tuple[str, str]]) -> cst.FunctionDef:
    # Continuation lines inside the braces are relative to the block libcst renders them in.
    unit = ctx.default_indent
    items = (["**super().get_config()"] if kind == "layer" else []) + [f'"{p}": {v}' for p, v in entries]
    lines = "".join(f"{unit * 2}{item},\n" for item in items)
    text = f"def get_config(self):\n{unit}return {{\n{lines}{unit}}}\n"
    if any(v.startswith("keras.") for _, v in entries):
        ctx.needs.add("keras")
    func = cst.parse_statement(text, cst.PartialParserConfig(default_indent=unit))
    assert isinstance(func, cst.FunctionDef)
    return func.with_changes(leading_lines=[cst.EmptyLine(indent=False)])
