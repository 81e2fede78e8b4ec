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
``name``, ``trainable`` and ``dtype`` back to the constructor: when ``__init__``
has no ``**kwargs`` at all (the 2021 TensorFlow tutorial's ``super().__init__()``)
it is added to the signature and appended to the ``super().__init__`` call. A
schedule's config holds only its own arguments (the base class has none).

When the arguments do not all map back (stored under another name, used only to
build sub-layers, transformed, reassigned later), the constructor arguments are
recorded as passed, right after ``super().__init__``::

    self._constructor_config = {"num_layers": num_layers, "d_model": d_model}

    def get_config(self):
        config = super().get_config()
        config.update(self._constructor_config)
        return config

(``return dict(self._constructor_config)`` for a schedule). That is what Keras 3
would have recorded itself for plain values; a value that is not (a layer, a
tensor) still fails at save time, as before. For a subclassed model whose
``call`` takes a required ``training`` (or ``mask``), the flag gets a ``None``
default: Keras 3 builds a reloaded model by running ``call`` on its inputs alone,
and ``load_model`` otherwise leaves the weights unloaded with only a warning
(a ``call`` that needs other arguments too is reported for the same reason).

Reported, and the class left as it is: ``*args`` or positional-only parameters;
no ``super().__init__`` call, or one nested in a block; a parameter rebound
before it (the value passed in is gone); a ``**kwargs`` that is not passed on, or
base-class arguments a saved config would pass a second time
(``super().__init__(name="enc")``); a parameter named like a base config entry
(``name``, ``trainable``, ``dtype``) that does not go to the base class.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import ClassInfo, FileContext
from migrate.rewrite.hooks import CLASS, Hook, RuleSpec, Site, Triggers
from migrate.rewrite.index import MODEL_TARGETS, keras_base, kind_of
from migrate.rewrite.names import iter_statements
from migrate.rewrite.walk import iter_nodes, used_names

_SERIALIZABLE = ("activations", "initializers", "regularizers", "constraints")
_CONFIG_ATTR = "_constructor_config"  # the constructor arguments as passed
_CALL_FLAGS = ("training", "mask")
_BASE_KEYS = ("name", "trainable", "dtype", "activity_regularizer")  # in Layer.get_config()

SPEC = RuleSpec(
    ids=("KM309",),
    # the class with get_config added goes on to KM312 (register_serializable)
    hooks=(Hook(CLASS, chain=True),),
    triggers=Triggers(names=frozenset({"Layer", "Model", "LearningRateSchedule"})),
)


def _is_model(ctx: FileContext, info: ClassInfo) -> bool:
    """Whether the class derives from ``keras.Model`` (through imports, aliases or local classes)."""
    return keras_base(ctx, info, lambda target: target in MODEL_TARGETS or None) is not None


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


def _base_init(small: cst.BaseSmallStatement, bases: list[str]) -> cst.Call | None:
    """``small`` as a ``super().__init__(...)`` (or ``Base.__init__(self, ...)``) call, else None."""
    if not isinstance(small, cst.Expr) or not isinstance(small.value, cst.Call):
        return None
    call = small.value
    func = call.func
    if not (isinstance(func, cst.Attribute) and func.attr.value == "__init__"):
        return None
    owner = func.value
    if isinstance(owner, cst.Call) and isinstance(owner.func, cst.Name) and owner.func.value == "super":
        return call
    if isinstance(owner, (cst.Name, cst.Attribute)) and FileContext.code(owner) in bases:
        return call
    return None


def _super_init(fn: cst.FunctionDef, bases: list[str]) -> cst.Call | None:
    """The first base-class ``__init__`` call of ``__init__``, at any depth."""
    for stmt in iter_statements(fn.body.body if isinstance(fn.body, cst.IndentedBlock) else []):
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            call = _base_init(small, bases)
            if call is not None:
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


def _names(value: cst.BaseExpression | None, cache: dict[int, set[str]]) -> set[str]:
    """Identifiers in ``value`` (only used to word a finding)."""
    if value is None:
        return set()
    key = id(value)
    if key not in cache:
        cache[key] = used_names(value)
    return cache[key]


def _bound(statements: list[cst.BaseStatement]) -> set[str]:
    """Every plain name a block of statements binds (assignments, loops, ``with``/``except``
    targets, imports, nested ``def``/``class``, ``del``). Comprehension targets count too: a
    superset only makes the rule report more often."""
    names: set[str] = set()

    def target(node: cst.BaseExpression) -> None:
        if isinstance(node, cst.Name):
            names.add(node.value)
        elif isinstance(node, (cst.Tuple, cst.List)):
            for e in node.elements:
                target(e.value)
        elif isinstance(node, cst.StarredElement):
            target(node.value)

    for stmt in statements:
        for node in iter_nodes(stmt):
            kind = type(node)
            if kind in _TARGET_HOLDERS:
                target(node.target)  # type: ignore[attr-defined]
            elif kind is cst.AsName:  # with ... as x, except E as x, import a as x
                if isinstance(node.name, (cst.Name, cst.Tuple, cst.List)):
                    target(node.name)
            elif kind is cst.ImportAlias:
                if node.asname is None:
                    names.add(FileContext.code(node.name).split(".")[0])
            elif kind is cst.FunctionDef or kind is cst.ClassDef:
                names.add(node.name.value)
    return names


_TARGET_HOLDERS = frozenset({cst.AssignTarget, cst.AugAssign, cst.AnnAssign, cst.For, cst.CompFor,
                             cst.NamedExpr, cst.Del})


def _append(items: list, new: cst.CSTNode, opening: cst.BaseParenthesizableWhitespace) -> list:
    """``items + [new]``, keeping a trailing comma last; a one-per-line list (the whitespace after
    its opening parenthesis is ``opening``) stays one per line."""
    if items and isinstance(items[-1].comma, cst.Comma):
        sep = items[-2].comma if len(items) > 1 and isinstance(items[-2].comma, cst.Comma) \
            else cst.Comma(whitespace_after=opening if isinstance(opening, cst.ParenthesizedWhitespace)
                           else cst.SimpleWhitespace(" "))
        return [*items[:-1], items[-1].with_changes(comma=sep), new.with_changes(comma=items[-1].comma)]
    return [*items, new]


def _init_call_at(fn: cst.FunctionDef, at: tuple[int, int]) -> cst.Call | None:
    """The ``X.__init__(...)`` call at statement ``at[0]``, small statement ``at[1]`` of ``fn``.

    Positions come from the original tree: the other rules rewrite names inside a
    statement (``KL.Layer`` becomes ``keras.layers.Layer``) but add no statement to it."""
    body = fn.body.body  # type: ignore[union-attr]
    line = body[at[0]] if at[0] < len(body) else None
    if not isinstance(line, cst.SimpleStatementLine) or at[1] >= len(line.body):
        return None
    small = line.body[at[1]]
    if isinstance(small, cst.Expr) and isinstance(small.value, cst.Call) \
            and isinstance(small.value.func, cst.Attribute) and small.value.func.attr.value == "__init__":
        return small.value
    return None


def _with_kwargs(fn: cst.FunctionDef, at: tuple[int, int]) -> cst.FunctionDef:
    """``fn`` with ``**kwargs`` in its signature and appended to its base-class ``__init__`` call."""
    ps = fn.params
    star = cst.Param(name=cst.Name("kwargs"), star="**")
    if ps.kwonly_params:
        last = _append(list(ps.kwonly_params), star, fn.whitespace_before_params)
        ps = ps.with_changes(kwonly_params=last[:-1])
    elif ps.params:
        last = _append(list(ps.params), star, fn.whitespace_before_params)
        ps = ps.with_changes(params=last[:-1])
    else:
        last = [star]
    ps = ps.with_changes(star_kwarg=last[-1])
    call = _init_call_at(fn, at)
    assert call is not None
    body = list(fn.body.body)  # type: ignore[union-attr]
    line = body[at[0]]
    assert isinstance(line, cst.SimpleStatementLine)
    smalls = list(line.body)
    args = _append(list(call.args), cst.Arg(value=cst.Name("kwargs"), star="**"), call.whitespace_before_args)
    smalls[at[1]] = smalls[at[1]].with_changes(value=call.with_changes(args=args))
    body[at[0]] = line.with_changes(body=smalls)
    return fn.with_changes(params=ps, body=fn.body.with_changes(body=body))


def _capture_statement(ctx: FileContext, params: list[str]) -> cst.BaseStatement:
    unit = ctx.default_indent
    pairs = [f'"{p}": {p}' for p in params]
    one = f"self.{_CONFIG_ATTR} = {{{', '.join(pairs)}}}\n"
    if len(one) + 2 * len(unit) <= 100:
        text = one
    else:
        text = f"self.{_CONFIG_ATTR} = {{\n" + "".join(f"{unit}{p},\n" for p in pairs) + "}\n"
    return ctx.statement(text)


def _docstring_end(body: list[cst.BaseStatement]) -> int:
    first = body[0] if body else None
    if isinstance(first, cst.SimpleStatementLine) and len(first.body) == 1 and isinstance(first.body[0], cst.Expr) \
            and isinstance(first.body[0].value, (cst.SimpleString, cst.ConcatenatedString)):
        return 1
    return 0


def on_class(ctx: FileContext, site: Site) -> cst.ClassDef | None:
    info = site.cls
    original: cst.ClassDef = site.original
    updated: cst.ClassDef = site.updated
    if info is None or not ctx.enabled("KM309"):
        return None
    kind = kind_of(ctx, info)
    if kind is None:
        return None
    methods = _methods(original)
    init = methods.get("__init__")
    if init is None or "get_config" in methods or not isinstance(updated.body, cst.IndentedBlock) \
            or not isinstance(init.body, cst.IndentedBlock):
        return None
    ps = init.params
    params = [p.name.value for p in (*ps.posonly_params, *ps.params, *ps.kwonly_params)][1:]
    if not params:
        return None
    name = info.name
    blockers: list[str] = []
    if ps.posonly_params[1:] or isinstance(ps.star_arg, cst.Param):
        blockers.append("positional-only or *args parameters")
    stores = _Stores(methods)
    bases = [b.value.value if isinstance(b.value, cst.Name) else FileContext.code(b.value) for b in original.bases]
    super_call = _super_init(init, bases)
    forwarded: set[str] = set()
    positional: set[str] = set()
    extra: list[str] = []  # base-class arguments a saved config could pass a second time
    kwargs_forwarded = False
    other_star = False
    if super_call is not None:
        explicit_self = not (isinstance(super_call.func, cst.Attribute) and isinstance(super_call.func.value, cst.Call))
        for i, a in enumerate(super_call.args):
            if a.star == "**" and isinstance(a.value, cst.Name) and isinstance(ps.star_kwarg, cst.Param) \
                    and a.value.value == ps.star_kwarg.name.value:
                kwargs_forwarded = True
            elif a.star:
                other_star = True
                extra.append(FileContext.code(a.value).join((a.star, "")))
            elif a.keyword is not None and isinstance(a.value, cst.Name) and a.keyword.value == a.value.value \
                    and a.keyword.value in params:
                forwarded.add(a.keyword.value)
            else:
                if a.keyword is None and isinstance(a.value, cst.Name):
                    positional.add(a.value.value)
                if not (explicit_self and i == 0):
                    extra.append(FileContext.code(a).strip().rstrip(","))
    body = list(init.body.body)
    # where the super().__init__ found above is, when it is a statement of __init__'s own block
    super_at = next(((i, j) for i, stmt in enumerate(body) if isinstance(stmt, cst.SimpleStatementLine)
                     for j, x in enumerate(stmt.body) if isinstance(x, cst.Expr) and x.value is super_call), None)
    super_index = super_at[0] if super_at is not None else None

    # A layer needs **kwargs: Keras 3 passes name, trainable and dtype back to the constructor.
    add_kwargs = kind == "layer" and not kwargs_forwarded
    if add_kwargs:
        if super_call is None:
            blockers.append("__init__ does not call super().__init__, which would get name, trainable and "
                            "dtype back from the config")
        elif isinstance(ps.star_kwarg, cst.Param):
            blockers.append(f"__init__ does not forward **{ps.star_kwarg.name.value} to the base class, which "
                            "gets name, trainable and dtype back from the config")
        elif other_star:
            blockers.append("super().__init__ gets " + ", ".join(e for e in extra if e.startswith("*"))
                            + " where the constructor's **kwargs would go")
        elif super_index is None:
            blockers.append("super().__init__ is not a statement of its own in __init__, so **kwargs "
                            "(name, trainable, dtype from the config) cannot be passed on to it")
        elif "kwargs" in used_names(init):
            blockers.append("the name kwargs is already used in __init__, so **kwargs cannot be added")
        elif extra:
            blockers.append("super().__init__ gets " + ", ".join(extra) + ", which a saved config would "
                            "pass again through **kwargs")

    # The verbatim path: every argument maps back to an attribute (or the base config).
    entries: list[tuple[str, str]] = []
    unmapped: list[str] = []
    names: dict[int, set[str]] = {}
    rebound_in_init = _bound(body)
    for p in params:
        if kind == "layer" and p in forwarded:
            continue
        stored = [a for a in stores.init_order if isinstance(stores.init_value[a], cst.Name)
                  and stores.init_value[a].value == p]  # type: ignore[union-attr]
        serial = [(a, m) for a in stores.init_order
                  if (m := _serializer(ctx, stores.init_value[a], p)) is not None]
        if (stored or serial) and p in rebound_in_init:
            unmapped.append(f"{p} (reassigned in __init__)")  # self.p may hold a changed value
        elif p in stored and stores.count.get(p, 0) == 1:
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
            users = [a for a in stores.init_order if p in _names(stores.init_value[a], names)]
            unmapped.append(f"{p} (used to build self.{users[0]})" if users else f"{p} (not stored)")

    # Otherwise the capture path: the arguments as passed, recorded right after super().__init__.
    captured: list[str] = []
    insert_at = 0
    if unmapped and not blockers:
        captured = [p for p in params if not (kind == "layer" and p in forwarded and p in _BASE_KEYS)]
        if kind == "layer":
            clash = [p for p in captured if p in _BASE_KEYS]
            if clash:
                blockers.append(", ".join(clash) + " would clash with the base class's config entry of that "
                                f"name (pass it on as super().__init__({clash[0]}={clash[0]}))")
        if super_call is not None and super_index is None:
            blockers.append("super().__init__ is not a statement of its own in __init__, so the arguments "
                            "cannot be recorded right after it")
        else:  # a layer has its super().__init__ here; a schedule may have none
            insert_at = super_index + 1 if super_index is not None else _docstring_end(body)
            rebound = [p for p in params if p in _bound(body[:insert_at])]
            if rebound:
                blockers.append(", ".join(rebound) + " reassigned before super().__init__, so the value "
                                "passed in is gone")
        if kind == "layer" and extra and not add_kwargs:
            blockers.append("super().__init__ gets " + ", ".join(extra) + ", which a saved config would "
                            "pass again through **kwargs")
        # (the substring test spares walking the class in the usual case)
        if _CONFIG_ATTR in stores.count \
                or (_CONFIG_ATTR in ctx.source_text and _CONFIG_ATTR in used_names(original)):
            blockers.append(f"self.{_CONFIG_ATTR} is already used")

    if blockers:
        if unmapped:
            blockers.append("arguments not stored as-is: " + ", ".join(unmapped))
        plain = " (Keras 3 can rebuild it only from plain-valued constructor arguments)" if kind == "layer" else ""
        ctx.report("KM309", original,
                   f"{name}: no get_config could be written ({'; '.join(blockers)}); write one by hand to save "
                   f"and reload it{plain}", fixed=False)
        return None

    new_init = _find_init(updated)
    if new_init is None or (super_at is not None and _init_call_at(new_init[1], super_at) is None):
        return None  # not the __init__ analysed above (never seen: a safeguard)
    index, fn = new_init
    if add_kwargs:
        assert super_at is not None
        fn = _with_kwargs(fn, super_at)
    kwargs_note = " (**kwargs added to __init__ and passed on to the base class)" if add_kwargs else ""
    if captured:
        fn_body = list(fn.body.body)  # type: ignore[union-attr]
        fn_body.insert(insert_at, _capture_statement(ctx, captured))
        fn = fn.with_changes(body=fn.body.with_changes(body=fn_body))
        func = _capture_function(ctx, kind)
        message = (f"{name}: get_config added from the constructor arguments as passed, recorded in "
                   f"self.{_CONFIG_ATTR}: {', '.join(captured)}{kwargs_note}; Keras 3 needs it to save and "
                   "reload the object (an argument that is not a plain value, e.g. a layer, still fails at "
                   "save time)")
    elif entries or kind != "layer":
        func = _function(ctx, kind, entries)
        message = (f"{name}: get_config added for {', '.join(p for p, _ in entries)}{kwargs_note} (Keras 3 needs "
                   "it to save and reload the object)")
    elif add_kwargs:
        func = None  # every argument goes to the base class, whose config has it
        message = f"{name}: **kwargs added to __init__ and passed on to the base class, which gets name, " \
                  "trainable and dtype back from the config"
    else:
        return None  # every argument goes to the base class, whose config has it
    members = list(updated.body.body)
    members[index] = fn
    if func is not None:
        members.append(func)
        if kind == "layer" and _is_model(ctx, info) and not {"build", "build_from_config"} & methods.keys():
            note, others = _default_call_flags(members)
            message += note
            if others:
                ctx.report("KM309", original,
                           f"{name}: call takes {', '.join(others)} besides its inputs, so Keras 3 cannot build "
                           "the reloaded model by running call on its inputs alone and load_model leaves the "
                           "weights unloaded (a warning only); give them defaults or write build_from_config",
                           fixed=False)
    ctx.report("KM309", original, message, fixed=True)
    return updated.with_changes(body=updated.body.with_changes(body=members))


def _default_call_flags(members: list[cst.BaseStatement]) -> tuple[str, list[str]]:
    """Give ``training``/``mask`` of a subclassed model's ``call`` a ``None`` default, in place.

    A reloaded model is built by running ``call`` on its first input alone; a required
    ``training`` makes that fail and ``load_model`` then leaves the weights unloaded
    (a warning, no error). Callers that pass the flag see no change. Returns a note for
    the finding ("" when nothing was changed) and the other required parameters, which
    block the build (then nothing is changed).
    """
    at = next((i for i in reversed(range(len(members))) if isinstance(members[i], cst.FunctionDef)
               and members[i].name.value == "call"), None)  # type: ignore[attr-defined]
    if at is None:
        return "", []
    fn = members[at]
    assert isinstance(fn, cst.FunctionDef)
    ps = fn.params
    positional = list(ps.params)[1:]  # after self
    required = [p for p in (*positional[1:], *ps.kwonly_params) if p.default is None]
    others = [p.name.value for p in required if p.name.value not in _CALL_FLAGS]
    if ps.posonly_params or not positional or not required or others:
        return "", others
    none = {"default": cst.Name("None"), "equal": cst.AssignEqual(whitespace_before=cst.SimpleWhitespace(""),
                                                                  whitespace_after=cst.SimpleWhitespace(""))}
    fix = [p.name.value for p in required]
    ps = ps.with_changes(
        params=[p.with_changes(**none) if p.name.value in fix else p for p in ps.params],
        kwonly_params=[p.with_changes(**none) if p.name.value in fix else p for p in ps.kwonly_params])
    members[at] = fn.with_changes(params=ps)
    return (f"; {'/'.join(fix)} of call defaulted to None, since Keras 3 builds a reloaded model by running "
            "call on its inputs alone"), []


def _find_init(node: cst.ClassDef) -> tuple[int, cst.FunctionDef] | None:
    found = None
    for i, stmt in enumerate(node.body.body):  # type: ignore[union-attr]
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value == "__init__":
            found = (i, stmt)
    return found


def _capture_function(ctx: FileContext, kind: str) -> cst.FunctionDef:
    unit = ctx.default_indent
    if kind == "layer":
        text = (f"def get_config(self):\n{unit}config = super().get_config()\n"
                f"{unit}config.update(self.{_CONFIG_ATTR})\n{unit}return config\n")
    else:  # a schedule: its base class has no config
        text = f"def get_config(self):\n{unit}return dict(self.{_CONFIG_ATTR})\n"
    func = ctx.statement(text)
    assert isinstance(func, cst.FunctionDef)
    return func.with_changes(leading_lines=[cst.EmptyLine(indent=False)])


def _function(ctx: FileContext, kind: str, entries: list[tuple[str, str]]) -> cst.FunctionDef:
    # Continuation lines inside the braces are relative to the block libcst renders them in.
    unit = ctx.default_indent
    items = (["**super().get_config()"] if kind == "layer" else []) + [f'"{p}": {v}' for p, v in entries]
    lines = "".join(f"{unit * 2}{item},\n" for item in items)
    text = f"def get_config(self):\n{unit}return {{\n{lines}{unit}}}\n"
    if any(v.startswith("keras.") for _, v in entries):
        ctx.needs.add("keras")
    func = ctx.statement(text)
    assert isinstance(func, cst.FunctionDef)
    return func.with_changes(leading_lines=[cst.EmptyLine(indent=False)])
