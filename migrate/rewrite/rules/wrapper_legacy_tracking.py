"""KM320: a ``Wrapper`` subclass's Keras 2 weight bookkeeping, converted to Keras 3's tracking.

keras-multi-head's ``MultiHead`` (and wrappers written after it) subclasses
``keras.layers.Wrapper``, makes per-head copies of its template layer in ``build``
and tells Keras 2 which weights it has by overriding the tracking properties::

    @property
    def trainable_weights(self):
        weights = self._trainable_weights[:]
        for layer in self.layers:
            weights += layer.trainable_weights
        return weights

plus ``non_trainable_weights``, ``updates``, ``losses`` and the per-input
``get_updates_for``/``get_losses_for``. Keras 3 has none of the private lists
(``AttributeError: ... no attribute '_trainable_weights'``) and no per-input
updates or losses; it tracks the layer's own variables and those of every sublayer
assigned to an attribute (a list of layers included), in assignment order, which is
what these properties computed by hand. The rule, for a class deriving from
``keras.layers.Wrapper`` (through imports, aliases, the ``try``/``except`` fallback
between its spellings, or a class of the module):

1. deletes a ``@property`` ``trainable_weights``/``non_trainable_weights``/``weights``/
   ``updates``/``losses`` whose body only adds up Keras 2's private lists
   (``self._trainable_weights``, ``self._non_trainable_weights``, ``self._updates``,
   ``self._losses``) and the same property of sublayers (``for layer in self.layers``);
2. deletes ``get_updates_for``/``get_losses_for`` when nothing else in the class
   calls them;
3. keeps the template out of the weights when the properties left it out and
   ``build`` makes its own copies of it: Keras 3's ``Wrapper`` tracks ``self.layer``
   and its ``build`` builds it, so the layer would have the template's weights as
   well (6 where Keras 2 saved 4 for two ``Dense`` heads: "Weight count mismatch").
   ``self.layer.build(...)`` statements in ``build`` are removed and
   ``super().build(input_shape)`` becomes ``keras.layers.Layer.build(self, input_shape)``
   (Keras 3's ``Layer.build`` only marks the layer built). The template stays unbuilt:
   tracked, but with no variables, so the weights are the copies' in Keras 2's order
   and count, for ``load_weights`` of a legacy file and in a ``.keras`` file. This is
   done only when every other use of ``self.layer`` reads its configuration (its class,
   ``get_config()``, ``name``, ``supports_masking``, its ``call`` as a function to
   inspect, ``type``/``copy`` of it, the argument to ``super().__init__``); a template
   whose weights are used is reported;
4. in ``get_config``, a sublayer's configuration written in Keras 2's serialized form,
   ``{'class_name': layer.__class__.__name__, 'config': layer.get_config()}``, becomes
   ``keras.layers.serialize(layer)``: Keras 3's ``keras.layers.deserialize`` (in the
   class's ``from_config``) cannot find a built-in class from that form ("Could not
   locate class 'Dense'"). Keras 3's form also carries the sublayer's build
   configuration, so a reloaded copy is built when it is deserialized; statements
   ``<sublayer>.build(...)`` in ``build`` are then guarded by ``if not <sublayer>.built:``
   (as Keras 3's own ``Wrapper.build`` guards its template), since building a built
   Keras 3 layer again fails. A fresh copy is built exactly as before.

Anything else that reads the private lists, overrides the properties differently, or
uses the per-input methods is reported with what to write instead.
"""

from __future__ import annotations

from collections.abc import Callable

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CLASS, Hook, Order, RuleSpec, Site, Triggers
from migrate.rewrite.index import keras_base, layer_class_members
from migrate.rewrite.names import dotted_name

RULE = "KM320"

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CLASS, chain=True),),
    # A Wrapper reached through a module-level alias (the try/except fallback) is not an imported name.
    triggers=Triggers(names=frozenset({"Wrapper"})),
    before=(Order("mask_argument", "deletes members and edits build()/get_config(); the rules that add methods "
                  "and complete the class (KM313, KM314, KM316, KM318, KM309, KM312) see the class as converted"),),
)

_WRAPPER = "keras.layers.Wrapper"
#: Keras 2 tracking properties such wrappers override (Keras 3 computes them from what it tracks).
_PROPERTIES = frozenset({"trainable_weights", "non_trainable_weights", "weights", "updates", "losses"})
_WEIGHT_PROPERTIES = frozenset({"trainable_weights", "non_trainable_weights", "weights"})
#: Keras 2's private lists behind those properties; a Keras 3 layer has none of them.
_PRIVATE_LISTS = frozenset({"_trainable_weights", "_non_trainable_weights", "_updates", "_losses"})
#: Keras 2's per-input bookkeeping; Keras 3 layers have no such methods.
_PER_INPUT = frozenset({"get_updates_for", "get_losses_for"})
#: Calls a property body may make and still only add up lists.
_LIST_CALLS = frozenset({"hasattr", "list", "len"})
_LIST_METHODS = frozenset({"append", "extend"})
#: Nodes a property body that only adds up lists consists of (tokens and whitespace aside).
_PLAIN_NODES = (cst.Name, cst.Attribute, cst.Call, cst.Arg, cst.Subscript, cst.SubscriptElement, cst.Slice,
                cst.Index, cst.Integer, cst.SimpleString, cst.List, cst.Element, cst.ListComp, cst.CompFor,
                cst.BinaryOperation, cst.UnaryOperation, cst.AugAssign, cst.Assign, cst.AssignTarget, cst.Return,
                cst.Expr, cst.For, cst.If, cst.Else, cst.IndentedBlock, cst.SimpleStatementLine, cst.Pass)
_SEMANTIC = (cst.BaseExpression, cst.BaseSmallStatement, cst.BaseCompoundStatement, cst.BaseSuite,
             cst.SimpleStatementLine, cst.Arg, cst.BaseSlice, cst.SubscriptElement, cst.BaseElement, cst.CompFor,
             cst.AssignTarget, cst.Else)
#: What may be read from the template when the copies hold the weights: its configuration, never its state.
_TEMPLATE_READS = frozenset({"__class__", "get_config", "name", "supports_masking"})
_COPY_CALLS = frozenset({"type", "copy", "deepcopy", "copy.copy", "copy.deepcopy", "isinstance"})
_COPY_METHODS = ("from_config", "deserialize", "__class__")

_DELETE_PROPERTY = ("delete it: Keras 3 tracks the variables of the layer and of every sublayer assigned to an "
                    "attribute (lists of layers included), in assignment order")
_TEMPLATE_FIX = ("remove `self.layer.build(...)` from build() and call `keras.layers.Layer.build(self, input_shape)` "
                 "instead of `super().build(input_shape)`, so the template stays unbuilt (no weights), if the "
                 "template's own weights are not needed")


def _is_property(fn: cst.FunctionDef) -> bool:
    return any(isinstance(d.decorator, cst.Name) and d.decorator.value == "property" for d in fn.decorators)


def _is_self_attr(node: cst.CSTNode, attr: str | None = None) -> bool:
    return (isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == "self"
            and (attr is None or node.attr.value == attr))


class _ListSum(cst.CSTVisitor):
    """Whether a property body only adds up private lists and sublayers' properties.

    ``private``: it reads a Keras 2 private list; ``containers``: the ``self.<name>``
    sublayer containers it reads (``layers``, ``layer``); ``plain``: nothing else.
    """

    def __init__(self) -> None:
        self.private = False
        self.plain = True
        self.containers: set[str] = set()

    def on_visit(self, node: cst.CSTNode) -> bool:
        if not self.plain:
            return False
        if isinstance(node, _SEMANTIC) and not isinstance(node, _PLAIN_NODES):
            self.plain = False
            return False
        if _not_a_list_sum(node):
            self.plain = False
        elif isinstance(node, cst.Call):
            func = node.func
            if isinstance(func, cst.Name):
                self.plain = func.value in _LIST_CALLS
            elif isinstance(func, cst.Attribute):
                self.plain = func.attr.value in _LIST_METHODS and isinstance(func.value, cst.Name) \
                    and func.value.value != "self"
            else:
                self.plain = False
        elif isinstance(node, cst.Attribute):
            self._attribute(node)
        return self.plain

    def _attribute(self, node: cst.Attribute) -> None:
        attr = node.attr.value
        if _is_self_attr(node):
            if attr in _PRIVATE_LISTS:
                self.private = True
            elif attr.startswith("_") or attr in _PROPERTIES:
                self.plain = False
            else:
                self.containers.add(attr)
        elif attr not in _PROPERTIES and attr not in _LIST_METHODS:
            self.plain = False  # a sublayer's (or anything's) other attribute


def _not_a_list_sum(node: cst.CSTNode) -> bool:
    """An operation other than ``+``, ``+=``, ``not`` and the whole-list slice ``[:]``."""
    return ((isinstance(node, cst.BinaryOperation) and not isinstance(node.operator, cst.Add))
            or (isinstance(node, cst.AugAssign) and not isinstance(node.operator, cst.AddAssign))
            or (isinstance(node, cst.UnaryOperation) and not isinstance(node.operator, cst.Not))
            or (isinstance(node, cst.Slice) and bool(node.lower or node.upper or node.step)))


def _list_sum(fn: cst.FunctionDef) -> _ListSum:
    visitor = _ListSum()
    fn.body.visit(visitor)
    return visitor


def _any_attribute(node: cst.CSTNode, wanted: Callable[[cst.Attribute], bool]) -> bool:
    """Whether some ``<expr>.<name>`` in ``node`` satisfies ``wanted``."""
    found = False

    class Finder(cst.CSTVisitor):
        def visit_Attribute(self, inner: cst.Attribute) -> bool:
            nonlocal found
            found = found or wanted(inner)
            return not found

    node.visit(Finder())
    return found


def _reads_private(fn: cst.FunctionDef) -> bool:
    return _any_attribute(fn, lambda a: _is_self_attr(a) and a.attr.value in _PRIVATE_LISTS)


def _parents(root: cst.CSTNode) -> dict[int, cst.CSTNode]:
    out: dict[int, cst.CSTNode] = {}
    stack = [root]
    while stack:
        node = stack.pop()
        for child in node.children:
            out[id(child)] = node
            stack.append(child)
    return out


def _template_uses(ctx: FileContext, methods: list[cst.FunctionDef]) -> list[str]:
    """The uses of ``self.layer`` in ``methods`` that need its weights (as code, for the finding)."""
    bad: list[str] = []

    class Uses(cst.CSTVisitor):
        def __init__(self, fn: cst.FunctionDef) -> None:
            super().__init__()
            self.parents = _parents(fn)
            self.in_build = fn.name.value == "build"

        def visit_Attribute(self, node: cst.Attribute) -> None:
            if _is_self_attr(node, "layer") and not _config_read(node, self.parents, self.in_build):
                bad.append(ctx.code(self.parents.get(id(node), node)).strip())

    for fn in methods:
        fn.visit(Uses(fn))
    return bad


def _config_read(node: cst.Attribute, parents: dict[int, cst.CSTNode], in_build: bool) -> bool:
    parent = parents.get(id(node))
    if isinstance(parent, cst.AssignTarget):
        return True
    if isinstance(parent, cst.Attribute) and parent.value is node:
        attr = parent.attr.value
        grand = parents.get(id(parent))
        called = isinstance(grand, cst.Call) and grand.func is parent
        if attr in _TEMPLATE_READS:
            return True
        if attr == "call":
            return not called  # the function inspected (has_arg(self.layer.call, 'training')), not run
        if attr == "build":
            return called and in_build and isinstance(parents.get(id(grand)), cst.Expr)  # removed below
        return False
    if isinstance(parent, cst.Arg):
        call = parents.get(id(parent))
        if not isinstance(call, cst.Call):
            return False
        name = dotted_name(call.func) or ""
        if name in _COPY_CALLS or name.rpartition(".")[2] == "serialize":
            return True
        func = call.func  # super().__init__(self.layer, **kwargs)
        return isinstance(func, cst.Attribute) and func.attr.value == "__init__" and isinstance(func.value, cst.Call) \
            and dotted_name(func.value.func) == "super"
    return False


def _copies_template(build: cst.FunctionDef) -> bool:
    """build() makes a layer from the template: ``self.layer.__class__.from_config(...)``, ``copy.copy(self.layer)``,
    ``type(self.layer)(...)``, ``keras.layers.deserialize(keras.layers.serialize(self.layer))``, ..."""
    found = False

    class Finder(cst.CSTVisitor):
        def visit_Call(self, node: cst.Call) -> None:
            nonlocal found
            name = dotted_name(node.func) or ""
            copying = (name in _COPY_CALLS and name not in ("type", "isinstance")) or \
                name.endswith(_COPY_METHODS) or isinstance(node.func, cst.Call) or \
                (isinstance(node.func, cst.Attribute) and node.func.attr.value in _COPY_METHODS)
            if copying and _mentions_template(node):
                found = True

    build.visit(Finder())
    return found


def _mentions_template(node: cst.CSTNode) -> bool:
    return _any_attribute(node, lambda a: _is_self_attr(a, "layer"))


def _is_super_build(func: cst.BaseExpression, bases: set[str]) -> bool:
    """``super().build``, ``super(Cls, self).build`` or ``<Base>.build`` for a base of the class."""
    if not (isinstance(func, cst.Attribute) and func.attr.value == "build"):
        return False
    head = func.value
    if isinstance(head, cst.Call):
        return dotted_name(head.func) == "super"
    return (dotted_name(head) or "") in bases


class _BuildEdits(cst.CSTTransformer):
    """The edits of build(): the template left unbuilt (3.) and/or sublayer builds guarded (4.)."""

    def __init__(self, ctx: FileContext, bases: set[str], unbuild_template: bool, guard: bool) -> None:
        super().__init__()
        self.ctx = ctx
        self.bases = bases
        self.unbuild_template = unbuild_template
        self.guard = guard
        self.removed = 0
        self.redirected = 0
        self.guarded: list[str] = []
        self._redirect_here = False

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        return node.name.value == "build"  # not into nested functions

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> None:
        self._redirect_here = False

    def leave_Call(self, original_node: cst.Call, updated_node: cst.Call) -> cst.BaseExpression:
        if self.unbuild_template and _is_super_build(updated_node.func, self.bases):
            args = list(updated_node.args)
            if isinstance(updated_node.func, cst.Attribute) and isinstance(updated_node.func.value, cst.Call):
                args = [cst.Arg(cst.Name("self"), comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))),
                        *args]
            self.redirected += 1
            self._redirect_here = True
            return updated_node.with_changes(func=self.ctx.expr("keras.layers.Layer.build"), args=args)
        return updated_node

    def leave_SimpleStatementLine(self, original_node: cst.SimpleStatementLine,
                                  updated_node: cst.SimpleStatementLine) -> object:
        call = _expression_call(updated_node)
        if call is not None and isinstance(call.func, cst.Attribute) and call.func.attr.value == "build":
            target = call.func.value
            if self.unbuild_template and _is_self_attr(target, "layer"):
                self.removed += 1
                return cst.RemoveFromParent()
            if self.guard and ((isinstance(target, cst.Name) and target.value != "self") or _is_self_attr(target)):
                code = self.ctx.code(target).strip()
                self.guarded.append(code)
                inner = updated_node.with_changes(leading_lines=())
                return cst.If(test=self.ctx.expr(f"not {code}.built"), body=cst.IndentedBlock(body=[inner]),
                              leading_lines=updated_node.leading_lines)
        if self._redirect_here:
            self._redirect_here = False
            note = cst.EmptyLine(indent=True, comment=cst.Comment(
                "# Keras 3's Wrapper.build would build the template self.layer too; the copies hold the weights"))
            return updated_node.with_changes(leading_lines=[*updated_node.leading_lines, note])
        return updated_node

    def leave_IndentedBlock(self, original_node: cst.IndentedBlock,
                            updated_node: cst.IndentedBlock) -> cst.IndentedBlock:
        if not updated_node.body:  # its only statement was the template's build
            return updated_node.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
        return updated_node


def _expression_call(line: cst.SimpleStatementLine) -> cst.Call | None:
    if len(line.body) == 1 and isinstance(line.body[0], cst.Expr) and isinstance(line.body[0].value, cst.Call):
        return line.body[0].value
    return None


class _LegacyLayerConfig(cst.CSTTransformer):
    """``{'class_name': x.__class__.__name__, 'config': x.get_config()}`` -> ``keras.layers.serialize(x)``."""

    def __init__(self, ctx: FileContext) -> None:
        super().__init__()
        self.ctx = ctx
        self.count = 0

    def leave_Dict(self, original_node: cst.Dict, updated_node: cst.Dict) -> cst.BaseExpression:
        entries: dict[str, cst.BaseExpression] = {}
        for element in updated_node.elements:
            if not (isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString)):
                return updated_node
            entries[element.key.evaluated_value] = element.value  # type: ignore[index]
        if set(entries) != {"class_name", "config"}:
            return updated_node
        owner = _class_name_of(entries["class_name"])
        config = entries["config"]
        if owner is None or not (isinstance(config, cst.Call) and not config.args
                                 and isinstance(config.func, cst.Attribute)
                                 and config.func.attr.value == "get_config"
                                 and config.func.value.deep_equals(owner)):
            return updated_node
        self.count += 1
        return cst.Call(func=self.ctx.expr("keras.layers.serialize"), args=[cst.Arg(owner)])


def _class_name_of(value: cst.BaseExpression) -> cst.BaseExpression | None:
    """``x`` for ``x.__class__.__name__`` or ``type(x).__name__``."""
    if not (isinstance(value, cst.Attribute) and value.attr.value == "__name__"):
        return None
    inner = value.value
    if isinstance(inner, cst.Attribute) and inner.attr.value == "__class__":
        return inner.value
    if isinstance(inner, cst.Call) and dotted_name(inner.func) == "type" and len(inner.args) == 1:
        return inner.args[0].value
    return None


def _drop_findings_in(ctx: FileContext, removed: list[cst.CSTNode]) -> None:
    """Findings other rules made inside deleted methods are about code that is gone."""
    gone: set[int] = set()
    for fn in removed:
        stack = [fn]
        while stack:
            node = stack.pop()
            gone.add(id(node))
            stack.extend(node.children)
    ctx.findings[:] = [f for f in ctx.findings
                       if f.rule == RULE or not ((f.node is not None and id(f.node) in gone)
                                                 or (f.stmt is not None and id(f.stmt) in gone))]


def on_class(ctx: FileContext, site: Site) -> cst.ClassDef | None:
    members = layer_class_members(ctx, site, RULE)
    info = site.cls
    if members is None or info is None or keras_base(ctx, info, lambda n: n if n == _WRAPPER else None) is None:
        return None
    original: cst.ClassDef = site.original
    originals = {m.name.value: m for m in original.body.body if isinstance(m, cst.FunctionDef)}  # type: ignore[union-attr]
    name = info.name
    accessors = {d.decorator.value.value for m in members if isinstance(m, cst.FunctionDef) for d in m.decorators
                 if isinstance(d.decorator, cst.Attribute) and isinstance(d.decorator.value, cst.Name)}
    deleted: list[cst.FunctionDef] = []
    kept: list[cst.BaseStatement] = []
    left_out_template = False
    for member in members:
        if not isinstance(member, cst.FunctionDef):
            kept.append(member)
            continue
        method = member.name.value
        at = originals.get(method, site.original)
        if method in _PROPERTIES and _is_property(member) and _reads_private(member):
            body = _list_sum(member)
            if body.plain and method not in accessors:  # a setter of it would lose its property
                deleted.append(member)
                if method in _WEIGHT_PROPERTIES and "layer" not in body.containers:
                    left_out_template = True
                ctx.report(RULE, at, f"{name}.{method}: property over Keras 2's private lists deleted (Keras 3 "
                           "tracks the sublayers itself)", fixed=True)
                continue
            ctx.report(RULE, at, f"{name}.{method} reads Keras 2's private lists, which Keras 3 layers do not have: "
                       f"if it only adds up the sublayers' {method}, {_DELETE_PROPERTY}; otherwise compute it from "
                       f"super().{method} (the own and the sublayers' variables)", fixed=False)
        kept.append(member)
    others = [m for m in kept if isinstance(m, cst.FunctionDef)]
    for member in list(others):
        method = member.name.value
        if method not in _PER_INPUT:
            continue
        callers = [m for m in others if m is not member and _calls(m, method)]
        at = originals.get(method, site.original)
        if callers:
            ctx.report(RULE, at, f"{name}.{method}: Keras 3 layers have no per-input updates or losses; "
                       f"{', '.join(c.name.value for c in callers)} call(s) it: use self.losses (Keras 3 collects "
                       "the sublayers' losses) and delete it", fixed=False)
            continue
        deleted.append(member)
        kept.remove(member)
        ctx.report(RULE, at, f"{name}.{method} deleted: Keras 3 has no per-input updates or losses (self.losses "
                   "collects the sublayers' losses)", fixed=True)
    methods = {m.name.value: m for m in kept if isinstance(m, cst.FunctionDef)}
    changed = bool(deleted)

    # 4. Keras 2's serialized form of a sublayer in get_config.
    guard = False
    if "get_config" in methods:
        configs = _LegacyLayerConfig(ctx)
        new = methods["get_config"].visit(configs)
        if configs.count:
            kept[kept.index(methods["get_config"])] = methods["get_config"] = new  # type: ignore[assignment]
            guard = changed = True
            ctx.report(RULE, originals.get("get_config", original), f"{name}.get_config: a sublayer's Keras 2 config "
                       "dict -> keras.layers.serialize(...) (Keras 3's deserialize needs its module and registered "
                       "name)", fixed=True)

    # 3. The template: unbuilt when the copies hold the weights.
    build = methods.get("build")
    unbuild = False
    if left_out_template:
        uses = _template_uses(ctx, [m for m in kept if isinstance(m, cst.FunctionDef)])
        if build is None or not _copies_template(build) or uses:
            why = (f"uses the template itself ({'; '.join(uses)})" if uses else "does not visibly copy the template "
                   "in build()")
            ctx.report(RULE, originals.get("build", original), f"{name}: its Keras 2 weights left out the template "
                       f"self.layer, which Keras 3's Wrapper tracks and builds, but the class {why}: "
                       f"{_TEMPLATE_FIX}", fixed=False)
        else:
            unbuild = True
    if build is not None and (unbuild or guard):
        bases = {b for b in (dotted_name(base.value) for base in original.bases) if b}
        edits = _BuildEdits(ctx, bases, unbuild, guard)
        new_build = build.visit(edits)
        if edits.removed or edits.redirected or edits.guarded:
            kept[kept.index(build)] = new_build  # type: ignore[arg-type]
            changed = True
        at = originals.get("build", original)
        if edits.removed or edits.redirected:
            ctx.report(RULE, at, f"{name}.build: the template self.layer is left unbuilt (its copies hold the "
                       "weights, as Keras 2 saved them; Keras 3's Wrapper.build would add the template's)", fixed=True)
        if edits.guarded:
            ctx.report(RULE, at, f"{name}.build: {', '.join(edits.guarded)}.build(...) guarded by `if not ...built` "
                       "(a sublayer deserialized from a Keras 3 config is built already)", fixed=True)

    if not changed:
        return None
    _drop_findings_in(ctx, [originals[m.name.value] for m in deleted if m.name.value in originals])
    if not kept:
        kept = [cst.SimpleStatementLine([cst.Pass()])]
    updated: cst.ClassDef = site.updated
    return updated.with_changes(body=updated.body.with_changes(body=kept))


def _calls(fn: cst.FunctionDef, method: str) -> bool:
    return _any_attribute(fn, lambda a: a.attr.value == method)
