"""KM325: attributes a layer's ``__init__`` sets on ``self`` before the base ``__init__``, set after it.

Keras 2 code often configures the layer first and calls the base constructor last
(keras-multi-head's ``MultiHead``)::

    def __init__(self, layer, layer_num=1, **kwargs):
        self.layer = layer
        self.layers = []
        self.layer_num = layer_num
        self.supports_masking = self.layer.supports_masking
        super(MultiHead, self).__init__(self.layer, **kwargs)

tf_keras and Keras 3 on TensorFlow or JAX accept that. On Keras 3's torch backend a
layer is a ``torch.nn.Module``, and a Module refuses a Module (a sublayer) as an
attribute before its own ``__init__`` ran: "AttributeError: cannot assign module before
Module.__init__() call". The rule, in ``__init__`` of a layer or model class of the
module whose base ``__init__`` call (``super().__init__(...)``,
``super(Cls, self).__init__(...)``, ``Base.__init__(self, ...)``) is a statement of the
method's body, rewrites the statements before that call:

* ``self.X = v`` (chained and tuple targets too) becomes ``self_X = v``, a local;
  reads of ``self.X`` after it, there and in the base call's arguments, read the local;
* right after the base call, ``self.X = self_X`` for each such attribute, in the order
  the block first set them (Keras 3 tracks sublayers in assignment order, and the
  weights follow it);
* except for the attributes the base ``__init__`` itself sets, whatever the subclass
  set before (``_OVERWRITTEN``, measured on tf_keras and on Keras 3): setting them
  again would change what the layer is. Their pre-call value only fed the block and the
  call; ``self.X = <value without calls>`` of one of them that nothing reads is
  deleted (a value with a call stays as the local, since the call may check an argument).

It leaves the class as written and reports, with the line and what to write, whatever
it cannot convert exactly: an attribute set only on some paths (``if`` without the
same attribute in every branch that goes on to the call; a branch ending in ``raise``
or ``return`` does not) or inside a loop, ``try`` or ``with``; a property of the class; ``del self.X``;
``self.X op= v`` or a read of ``self.X`` before the block set it while the block sets it;
``self`` itself, or a method of it, used after the block set an attribute (the callee
may read the attribute); a lambda or nested function reading ``self``; a base class
whose ``__init__`` the module defines, or a concrete Keras layer (its ``__init__`` sets
attributes of its own); and the attributes on which tf_keras and Keras 3 differ
(``_DIFFERENT``).
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CLASS, Hook, Order, RuleSpec, Site
from migrate.rewrite.index import MODEL_TARGETS, keras_base, rewritable_layer_class
from migrate.rewrite.names import dotted_name
from migrate.rewrite.walk import iter_nodes, used_names

RULE = "KM325"

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CLASS, chain=True),),
    after=(Order("get_config", "KM309 reads `self.x = x` in __init__ to write get_config; it sees them as "
                 "written"),
           Order("wrapper_legacy_tracking", "KM320 checks how __init__ uses the template `self.layer`; it sees "
                 "it as written"),
           Order("tensor_aug_assign", "KM324 edits call() only, this rule __init__ only; any order gives the "
                 "same class")),
    before=(Order("optimizer_get_updates", "the optimizer-class rules and the registration come after the "
                  "layer-class rules"),),
)

#: Attributes the base ``__init__`` sets whatever a subclass set before calling it, by the
#: kind of base that sets them, with what it sets. Measured (a subclass setting a sentinel
#: before ``super().__init__``, then reading it back) on tf_keras 2.x and on Keras 3 alike.
_OVERWRITTEN: dict[str, tuple[str, str]] = {
    "supports_masking": ("layer", "whether the class overrides compute_mask"),
    "trainable": ("layer", "the trainable= keyword (default True)"),
    "built": ("layer", "False"),
    "activity_regularizer": ("layer", "the activity_regularizer= keyword"),
    "layer": ("wrapper", "the layer passed to Wrapper.__init__"),
    "run_eagerly": ("model", "False"),
    "train_function": ("model", "None"),
    "test_function": ("model", "None"),
    "predict_function": ("model", "None"),
}
#: Attributes on which tf_keras's and Keras 3's base ``__init__`` differ (same measurement):
#: which value the layer should have is the user's decision.
_DIFFERENT: dict[str, str] = {
    "stateful": "tf_keras's Layer.__init__ resets it to False, Keras 3's keeps the value set before",
    "name": "tf_keras refuses it before Layer.__init__, Keras 3's sets it from name=",
    "input_spec": "tf_keras refuses it before Layer.__init__, Keras 3's resets it to None",
}
#: Bases whose ``__init__`` is known to set only the attributes above, by kind.
_KINDS = {"keras.layers.Layer": "layer", "keras.layers.Wrapper": "wrapper"}
#: What evaluating an expression may do beyond reading values: a dropped assignment's value keeps
#: its local (and runs) when it contains one of them (``keras.regularizers.get(x)`` checks ``x``).
_EFFECTS = (cst.Call, cst.Subscript, cst.Await, cst.Yield, cst.NamedExpr, cst.Lambda)
_WHAT_TO_WRITE = ("bind the values to local names before the base __init__ call, pass those, and set the "
                  "attributes on self after it (a torch Module refuses a sublayer before its own __init__)")


class _Review(Exception):
    """The block cannot be converted exactly: ``node`` (as rewritten so far; the finding goes on the method)."""


def _kind(target: str) -> str | None:
    if target in MODEL_TARGETS[:2]:
        return "model"
    if target in _KINDS:
        return _KINDS[target]
    return f"concrete:{target}" if target.startswith("keras.") else None


def _mentions(node: cst.CSTNode, name: str) -> bool:
    return name in used_names(node)


def _has(node: cst.CSTNode, kinds: tuple[type, ...]) -> bool:
    return any(isinstance(n, kinds) for n in iter_nodes(node))


class _Block:
    """Rewrites the statements before the base call; raises ``_Review`` for what it cannot."""

    def __init__(self, me: str, taken: set[str]) -> None:
        self.me = me  # the name of the method's first parameter
        self.taken = taken
        self.local: dict[str, str] = {}  # attribute -> local, in the order first set
        self.read: set[str] = set()  # attributes whose local something reads

    def _self_attr(self, node: cst.CSTNode) -> str | None:
        if isinstance(node, cst.Attribute) and isinstance(node.value, cst.Name) and node.value.value == self.me:
            return node.attr.value
        return None

    def _local_of(self, attr: str) -> str:
        if attr not in self.local:
            name = f"self_{attr}"
            while name in self.taken:
                name += "_"
            self.taken.add(name)
            self.local[attr] = name
        return self.local[attr]

    # -- expressions --------------------------------------------------------
    def reads(self, node: cst.CSTNode, definite: set[str], bare: bool = True) -> cst.CSTNode:
        block = self

        class _Reads(cst.CSTTransformer):
            def on_visit(self, n: cst.CSTNode) -> bool:
                if isinstance(n, (cst.Lambda, cst.FunctionDef, cst.ClassDef)):
                    if _mentions(n, block.me):
                        raise _Review(f"a {type(n).__name__.lower()} reads `{block.me}` before the base __init__: "
                                      "it would see the attributes only once they are set")
                    return False
                if isinstance(n, cst.Call) and block.local:
                    attr = block._self_attr(n.func)
                    if attr is not None and attr not in block.local:
                        raise _Review(f"`{block.me}.{attr}(...)` is called after the block set attributes the "
                                      "method may read")
                return True

            def leave_Attribute(self, original: cst.Attribute, updated: cst.Attribute) -> cst.BaseExpression:
                attr = block._self_attr(updated)
                if attr is None or attr not in block.local:
                    return updated
                if attr not in definite:
                    raise _Review(f"`{block.me}.{attr}` is read where the block may not have set it yet")
                block.read.add(attr)
                return cst.Name(block.local[attr], lpar=updated.lpar, rpar=updated.rpar)

        out = node.visit(_Reads())
        # A bare `self` left (passed to a function) lets the callee read what the block set.
        if bare and block.local and self._bare_self(out):
            raise _Review(f"`{self.me}` is passed on after the block set attributes the callee may read")
        return out

    def _bare_self(self, node: cst.CSTNode) -> bool:
        me = self.me
        found = False

        class _Bare(cst.CSTVisitor):
            def visit_Attribute(self, n: cst.Attribute) -> bool:
                # self.x: an attribute, handled by the reads
                return not (isinstance(n.value, cst.Name) and n.value.value == me)

            def visit_Call(self, n: cst.Call) -> bool:
                # super(Cls, self): the base call's own use of self
                return not (isinstance(n.func, cst.Name) and n.func.value == "super")

            def visit_Name(self, n: cst.Name) -> None:
                nonlocal found
                found = found or n.value == me

        node.visit(_Bare())
        return found

    def target(self, node: cst.BaseAssignTargetExpression, definite: set[str], bound: list[str]) -> cst.CSTNode:
        attr = self._self_attr(node)
        if attr is not None:
            bound.append(attr)
            return cst.Name(self._local_of(attr), lpar=node.lpar, rpar=node.rpar)  # type: ignore[attr-defined]
        if isinstance(node, (cst.Tuple, cst.List)):
            elements = [e.with_changes(value=self.target(e.value, definite, bound)) for e in node.elements]
            return node.with_changes(elements=elements)
        if isinstance(node, cst.StarredElement):
            return node.with_changes(value=self.target(node.value, definite, bound))
        return self.reads(node, definite)  # self.x[i] = v, obj.y = v: reads of what they store into

    # -- statements ---------------------------------------------------------
    def small(self, stmt: cst.BaseSmallStatement, definite: set[str]) -> cst.BaseSmallStatement:
        if isinstance(stmt, cst.Assign):
            value = self.reads(stmt.value, definite)
            bound: list[str] = []
            targets = [t.with_changes(target=self.target(t.target, definite, bound)) for t in stmt.targets]
            definite.update(bound)
            return stmt.with_changes(targets=targets, value=value)
        if isinstance(stmt, cst.AnnAssign):
            attr = self._self_attr(stmt.target)
            if attr is not None and stmt.value is None:
                raise _Review(f"`{self.me}.{attr}` is annotated without a value")
            value = self.reads(stmt.value, definite) if stmt.value is not None else None
            bound = []
            target = self.target(stmt.target, definite, bound)
            definite.update(bound)
            return stmt.with_changes(target=target, value=value)
        if isinstance(stmt, cst.AugAssign):
            attr = self._self_attr(stmt.target)
            if attr is not None and attr not in definite:
                op = cst.Module([]).code_for_node(stmt.operator).strip()
                raise _Review(f"`{self.me}.{attr} {op} ...` updates a value the block did not set")
            value = self.reads(stmt.value, definite)
            if attr is not None:
                self.read.add(attr)
                return stmt.with_changes(target=cst.Name(self.local[attr]), value=value)
            return stmt.with_changes(target=self.reads(stmt.target, definite), value=value)
        if isinstance(stmt, cst.Del) and _mentions(stmt, self.me):
            raise _Review(f"`del {self.me}.…` before the base __init__")
        return self.reads(stmt, definite)  # type: ignore[return-value]

    def block(self, body: list[cst.BaseStatement], definite: set[str]) -> list[cst.BaseStatement]:
        out: list[cst.BaseStatement] = []
        for stmt in body:
            if isinstance(stmt, cst.SimpleStatementLine):
                out.append(stmt.with_changes(body=[self.small(s, definite) for s in stmt.body]))
            elif isinstance(stmt, cst.If):
                out.append(self.branch(stmt, definite))
            elif _mentions(stmt, self.me):
                raise _Review(f"a `{type(stmt).__name__.lower()}` statement uses `{self.me}` before the base "
                              "__init__ (its attributes may be set on some runs only)")
            else:
                out.append(stmt)
        return out

    def branch(self, stmt: cst.If, definite: set[str]) -> cst.If:
        test = self.reads(stmt.test, definite)
        then = set(definite)
        body = stmt.body.with_changes(body=self.block(list(stmt.body.body), then))
        other = set(definite)
        orelse = stmt.orelse
        if isinstance(orelse, cst.If):
            orelse = self.branch(orelse, other)
        elif isinstance(orelse, cst.Else):
            orelse = orelse.with_changes(body=orelse.body.with_changes(body=self.block(list(orelse.body.body), other)))
        # A branch that ends in raise/return never reaches the base call: it constrains nothing.
        live = [names for names, branch in ((then, stmt.body), (other, stmt.orelse)) if not _exits(branch)]
        definite.clear()
        definite.update(set.intersection(*live) if live else then | other)
        return stmt.with_changes(test=test, body=body, orelse=orelse)


def _exits(branch: cst.CSTNode | None) -> bool:
    """Whether a branch (a suite, ``else``, ``elif``) always ends in ``raise`` or ``return``."""
    if branch is None:
        return False
    if isinstance(branch, cst.If):
        return _exits(branch.body) and _exits(branch.orelse)
    if isinstance(branch, cst.Else):
        return _exits(branch.body)
    last = branch.body[-1] if isinstance(branch, cst.IndentedBlock) and branch.body else None
    if isinstance(last, cst.If):
        return _exits(last)
    return isinstance(last, cst.SimpleStatementLine) and isinstance(last.body[-1], (cst.Raise, cst.Return))


def _base_call(stmt: cst.CSTNode, me: str) -> bool:
    """Whether ``stmt`` contains ``super().__init__``, ``super(C, self).__init__`` or ``Base.__init__(self, ...)``."""
    found = False

    class _Find(cst.CSTVisitor):
        def visit_Call(self, n: cst.Call) -> None:
            nonlocal found
            func = n.func
            if not (isinstance(func, cst.Attribute) and func.attr.value == "__init__"):
                return
            owner = func.value
            through_super = isinstance(owner, cst.Call) and isinstance(owner.func, cst.Name) \
                and owner.func.value == "super"
            # Base.__init__(self, ...): any class's __init__ that initializes self
            explicit = dotted_name(owner) is not None and bool(n.args) and isinstance(n.args[0].value, cst.Name) \
                and n.args[0].value.value == me
            found = found or through_super or explicit

    stmt.visit(_Find())
    return found


def _sets_self(body: list[cst.BaseStatement], me: str) -> bool:
    found = False

    class _Find(cst.CSTVisitor):
        def visit_FunctionDef(self, n: cst.FunctionDef) -> bool:
            return False

        def visit_Lambda(self, n: cst.Lambda) -> bool:
            return False

        def _target(self, t: cst.CSTNode) -> None:
            nonlocal found
            if isinstance(t, cst.Attribute) and isinstance(t.value, cst.Name) and t.value.value == me:
                found = True
            elif isinstance(t, (cst.Tuple, cst.List)):
                for e in t.elements:
                    self._target(e.value)

        def visit_AssignTarget(self, n: cst.AssignTarget) -> None:
            self._target(n.target)

        def visit_AnnAssign(self, n: cst.AnnAssign) -> None:
            self._target(n.target)

        def visit_AugAssign(self, n: cst.AugAssign) -> None:
            self._target(n.target)

    for stmt in body:
        stmt.visit(_Find())
    return found


def _module_init(ctx: FileContext, name: str, depth: int = 0) -> str | None:
    """The first class of the module above ``name`` that defines (or may define) ``__init__``."""
    info = ctx.classes.get(name)
    inits: dict[str, bool] = ctx.rule_state.get(__name__, {})
    for base in info.bases if info is not None else ():
        if base in ctx.classes and depth < 10:
            if inits.get(base, True):  # not seen yet (defined below): unknown
                return base
            found = _module_init(ctx, base, depth + 1)
            if found:
                return found
    return None


def on_class(ctx: FileContext, site: Site) -> cst.ClassDef | None:
    info = site.cls
    updated: cst.ClassDef = site.updated
    members = list(updated.body.body) if isinstance(updated.body, cst.IndentedBlock) else []
    index = next((i for i, m in enumerate(members) if isinstance(m, cst.FunctionDef) and m.name.value == "__init__"),
                 None)
    if info is not None:  # which classes define __init__, for their subclasses below
        ctx.rule_state.setdefault(__name__, {})[info.name] = index is not None
    if index is None or not rewritable_layer_class(ctx, site, RULE):
        return None
    init: cst.FunctionDef = members[index]  # type: ignore[assignment]
    original = next((m for m in site.original.body.body
                     if isinstance(m, cst.FunctionDef) and m.name.value == "__init__"), init)
    params = init.params.params
    if not params or not isinstance(init.body, cst.IndentedBlock):
        return None
    me = params[0].name.value
    body = list(init.body.body)
    at = next((i for i, s in enumerate(body) if _base_call(s, me)), None)
    if at is None or not _sets_self(body[:at], me):
        return None
    call = body[at]
    label = f"{info.name}.__init__"

    def review(why: str, at_node: cst.CSTNode = original) -> None:
        ctx.report(RULE, at_node, f"{label}: {why}; it sets attributes on {me} before the base __init__, which a "
                   f"torch Module refuses for a sublayer: {_WHAT_TO_WRITE}", fixed=False)

    if not (isinstance(call, cst.SimpleStatementLine) and len(call.body) == 1 and isinstance(call.body[0], cst.Expr)
            and isinstance(call.body[0].value, cst.Call) and isinstance(call.body[0].value.func, cst.Attribute)
            and call.body[0].value.func.attr.value == "__init__"):
        review("the base __init__ call is not a statement of its own")
        return None
    kind = keras_base(ctx, info, _kind)
    parent = _module_init(ctx, info.name)
    if parent is not None:
        review(f"its base {parent} defines __init__ (it may read or set these attributes)")
        return None
    if kind is None or kind.startswith("concrete:"):
        review(f"the base {kind.split(':', 1)[1] if kind else 'class'} sets attributes of its own in __init__")
        return None
    block = _Block(me, used_names(init))
    # Findings name the statement as parsed when the other rules kept the method's statements.
    parsed = list(original.body.body) if isinstance(original.body, cst.IndentedBlock) else []
    lines = parsed[:at + 1] if next((i for i, s in enumerate(parsed) if _base_call(s, me)), None) == at \
        else [original] * (at + 1)
    definite: set[str] = set()
    before: list[cst.BaseStatement] = []
    first: dict[str, int] = {}  # attribute -> the statement that first sets it
    for i, stmt in enumerate(body[:at + 1]):
        try:
            if i < at:
                before += block.block([stmt], definite)
                first.update({a: i for a in block.local if a not in first})
                continue
            maybe = [a for a in block.local if a not in definite]
            if maybe:
                raise _Review(f"`{me}.{maybe[0]}` is set on some paths only")
            expr = call.body[0]
            base_call: cst.Call = expr.value  # type: ignore[assignment]
            # Base.__init__(self, ...): its own self is the call's business; any other is passed on
            explicit = not isinstance(base_call.func.value, cst.Call)  # type: ignore[attr-defined]
            if block.local and any(block._bare_self(a) for a in base_call.args[int(explicit):]):
                raise _Review(f"`{me}` is passed to the base __init__ after the block set attributes it may read")
            new_call = call.with_changes(body=[expr.with_changes(value=block.reads(base_call, definite, bare=False))])
        except _Review as why:
            review(str(why), lines[i])  # the finding is on the statement it is about
            return None
    properties = {m.name.value for m in members if isinstance(m, cst.FunctionDef) and any(
        dotted_name(d.decorator) in ("property", f"{m.name.value}.setter") for d in m.decorators)}
    setters = [a for a in block.local if a in properties]
    if setters:
        review(f"`{me}.{setters[0]}` is a property of the class: its setter would run after the base __init__, "
               "not before", lines[first[setters[0]]])
        return None
    differ = [a for a in block.local if a in _DIFFERENT]
    if differ:
        review(f"`{me}.{differ[0]}`: {_DIFFERENT[differ[0]]}", lines[first[differ[0]]])
        return None
    kinds = {"layer", kind}
    dropped = [a for a in block.local if a in _OVERWRITTEN and _OVERWRITTEN[a][0] in kinds]
    before = [s for s in before if not _unread_pure(s, block, dropped)]
    after = [cst.SimpleStatementLine(body=[cst.Assign(
        targets=[cst.AssignTarget(target=cst.Attribute(value=cst.Name(me), attr=cst.Name(attr)))],
        value=cst.Name(local))]) for attr, local in block.local.items() if attr not in dropped]
    members[index] = init.with_changes(body=init.body.with_changes(body=[*before, new_call, *after, *body[at + 1:]]))
    moved = ", ".join(f"{me}.{a}" for a in block.local if a not in dropped) or "none"
    note = "".join(f"; {me}.{a} not set again: the base __init__ sets it ({_OVERWRITTEN[a][1]}) in tf_keras and "
                   "Keras 3" for a in dropped)
    ctx.report(RULE, original, f"{label}: attributes set before the base __init__ bound to locals and set after it "
               f"({moved}): a torch Module refuses a sublayer before its own __init__{note}", fixed=True)
    return updated.with_changes(body=updated.body.with_changes(body=members))


def _unread_pure(stmt: cst.BaseStatement, block: _Block, dropped: list[str]) -> bool:
    """``self_X = <value without calls>`` (a top-level line) for an attribute not set again and never read."""
    if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1 and isinstance(stmt.body[0], cst.Assign)):
        return False
    assign = stmt.body[0]
    if len(assign.targets) != 1 or _has(assign.value, _EFFECTS):
        return False
    target = assign.targets[0].target
    return any(isinstance(target, cst.Name) and target.value == block.local[a] and a not in block.read for a in dropped)
