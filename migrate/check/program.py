"""A static reading of one Keras program: imports, scopes, assignments, and what a name holds.

Nothing is executed. Python's ``ast`` is enough: the checks only look, and a whole
tree is read in a second or two. The reading is deliberately simple and
conservative:

* A name holds what its latest plain assignment *before the statement that uses it*
  gave it (``x = Dense(10)(x)`` chains work; loops and branches are read as straight
  code). A name bound by tuple unpacking, ``for``, ``with``, ``import`` or a
  parameter holds nothing known (parameters are followed through call sites only
  by the mask check, which needs it).
* ``self.attr`` inside a method holds what ``self.attr = ...`` gave it in the class
  (one assignment only; two different ones make it unknown).
* A call of a function or class defined in the module holds what that function
  (or the class's ``call``) returns, when every ``return`` agrees.

A value is one of the small dataclasses below, or ``None`` (unknown). Every check
flags only what a known value proves; unknown means silent.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

# Top-level modules whose names are Keras's (``tensorflow.keras``, ``tf_keras``, ``keras``)
# or re-export Keras's own (``bert4keras.backend.keras``). ``modern`` is this project's.
_KERAS_ROOTS = ("keras", "tensorflow", "tf_keras", "modern")

# -- values ----------------------------------------------------------------------------

#: Final activations: what a tensor's last operation was. ``other`` is a known activation
#: that is neither (relu, tanh); checks treat it like unknown.
SOFTMAX, SIGMOID, LINEAR, OTHER = "softmax", "sigmoid", "linear", "other"


@dataclass(frozen=True)
class Tensor:
    act: str  # SOFTMAX | SIGMOID | LINEAR | OTHER
    origin: ast.AST  # the call that applied it (the line a message points to)


@dataclass(frozen=True)
class Layer:
    cls: str
    act: str | None  # the activation it applies; None when not known
    node: ast.Call
    passthrough: bool = False  # Dropout, Flatten, ...: the output keeps the input's activation


@dataclass(frozen=True)
class Model:
    act: str | None  # final activation of its (single) output
    origin: ast.AST | None  # where that activation is applied
    node: ast.AST  # the call that made it (its identity)


@dataclass(frozen=True)
class Loss:
    kind: str  # "scce" | "cce" | "bce"
    from_logits: bool | None
    node: ast.AST
    label: str  # how the program spells it, for messages


@dataclass(frozen=True)
class Schedule:
    node: ast.AST


@dataclass(frozen=True)
class Optimizer:
    schedule: Schedule | None
    node: ast.Call


@dataclass(frozen=True)
class Instance:
    """An object of a class defined in the module (a layer, callback, ...)."""

    cls: ClassInfo
    node: ast.Call


Value = Tensor | Layer | Model | Loss | Schedule | Optimizer | Instance | None

# -- what Keras names mean -------------------------------------------------------------------

#: Layers whose output is their input's activation unchanged.
PASSTHROUGH = frozenset({"Dropout", "Flatten", "Reshape", "Permute", "SpatialDropout1D", "SpatialDropout2D",
                         "SpatialDropout3D", "GaussianNoise", "GaussianDropout", "AlphaDropout",
                         "ActivityRegularization"})
#: Layers with an ``activation`` argument that defaults to linear.
LINEAR_BY_DEFAULT = frozenset({"Dense", "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose",
                               "Conv3DTranspose", "SeparableConv1D", "SeparableConv2D", "DepthwiseConv2D",
                               "DepthwiseConv1D", "EinsumDense", "Convolution1D", "Convolution2D"})
#: Loss classes and functions with ``from_logits``, by their Keras name.
LOSS_CLASSES = {"SparseCategoricalCrossentropy": "scce", "CategoricalCrossentropy": "cce",
                "BinaryCrossentropy": "bce", "BinaryFocalCrossentropy": "bce",
                "CategoricalFocalCrossentropy": "cce"}
LOSS_FUNCTIONS = {"sparse_categorical_crossentropy": "scce", "categorical_crossentropy": "cce",
                  "binary_crossentropy": "bce", "binary_focal_crossentropy": "bce",
                  "categorical_focal_crossentropy": "cce"}
#: TensorFlow's losses that take logits, with the position of ``logits``.
TF_LOGIT_LOSSES = {"softmax_cross_entropy_with_logits": 1, "softmax_cross_entropy_with_logits_v2": 1,
                   "sparse_softmax_cross_entropy_with_logits": 1, "sigmoid_cross_entropy_with_logits": 1}
SCHEDULE_CLASSES = frozenset({"ExponentialDecay", "PiecewiseConstantDecay", "PolynomialDecay", "InverseTimeDecay",
                              "CosineDecay", "CosineDecayRestarts", "LearningRateSchedule"})
OPTIMIZERS = frozenset({"SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "Adadelta", "Adamax", "Nadam", "Ftrl",
                        "Lion", "Adafactor", "LossScaleOptimizer"})


def literal_bool(node: ast.AST | None) -> bool | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, bool):
        return node.value
    return None


def number(node: ast.AST | None) -> float | None:
    """The value of a numeric literal (``-1e9``, ``1e4``, ``float('-inf')``), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = number(node.operand)
        if inner is not None:
            return -inner if isinstance(node.op, ast.USub) else inner
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "float"
            and len(node.args) == 1 and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)):
        try:
            return float(node.args[0].value)
        except ValueError:
            return None
    return None


def argument(call: ast.Call, position: int | None, *names: str) -> ast.expr | None:
    """The argument passed by one of ``names`` or at ``position`` (None: not passed)."""
    for kw in call.keywords:
        if kw.arg in names:
            return kw.value
    if position is not None and position < len(call.args) and not any(
            isinstance(a, ast.Starred) for a in call.args[: position + 1]):
        return call.args[position]
    return None


# -- scopes ------------------------------------------------------------------------------


@dataclass(eq=False)
class ClassInfo:
    name: str
    node: ast.ClassDef
    bases: list[ast.expr]
    methods: dict[str, Scope] = field(default_factory=dict)
    attrs: dict[str, list[tuple[ast.expr, Scope, int]]] = field(default_factory=dict)


@dataclass(eq=False)
class Scope:
    """A module body or a function body (nested functions are their own scopes)."""

    node: ast.AST
    parent: Scope | None
    cls: ClassInfo | None = None
    params: list[str] = field(default_factory=list)
    assigns: dict[str, list[tuple[int, ast.expr | None]]] = field(default_factory=dict)
    statements: list[ast.stmt] = field(default_factory=list)  # every statement, nested blocks included
    stmt_line: dict[int, int] = field(default_factory=dict)  # id(node) -> line of its statement
    returns: list[ast.expr | None] = field(default_factory=list)
    own: list[ast.AST] = field(default_factory=list)  # what nodes() gives, collected once while reading

    @property
    def name(self) -> str:
        return getattr(self.node, "name", "<module>")

    def nodes(self) -> list[ast.AST]:
        """Every node of this scope (not those of nested functions), statement by statement in source order."""
        return self.own

    def line_of(self, node: ast.AST) -> int:
        return self.stmt_line.get(id(node), getattr(node, "lineno", 0))

    def bind(self, name: str, line: int, value: ast.expr | None) -> None:
        self.assigns.setdefault(name, []).append((line, value))


_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


def _own_nodes(stmt: ast.AST) -> Iterator[ast.AST]:
    """The nodes of one statement, without entering nested blocks' statements or definitions."""
    stack: list[ast.AST] = [stmt]
    while stack:
        node = stack.pop()
        yield node
        for name, value in ast.iter_fields(node):
            if name in ("body", "orelse", "finalbody", "handlers", "cases") and isinstance(node, ast.stmt):
                continue
            if name in ("decorator_list", "returns", "args") and isinstance(node, _NESTED):
                continue
            items = value if isinstance(value, list) else [value]
            for item in reversed(items):
                if isinstance(item, ast.AST) and not isinstance(item, _NESTED):
                    stack.append(item)


class Program:
    """One parsed module (or the joined code cells of a notebook)."""

    def __init__(self, tree: ast.Module, path: str, source: str = "") -> None:
        self.tree = tree
        self.path = path
        self.source = source
        self.imports: dict[str, str] = {}
        self.star_roots: list[str] = []
        self.functions: dict[str, Scope] = {}
        self.classes: dict[str, ClassInfo] = {}
        self.scopes: list[Scope] = []
        self.module = self._scope(tree, None, None)
        self._memo: dict[tuple[int, int], Value] = {}
        self._busy: set[tuple[int, int]] = set()
        self._sites: dict[int, list[tuple[ast.Call, Scope, int]]] | None = None
        self._indexing = False

    # -- building ---------------------------------------------------------------------

    def _scope(self, node: ast.AST, parent: Scope | None, cls: ClassInfo | None) -> Scope:
        scope = Scope(node, parent, cls)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            a = node.args
            scope.params = [p.arg for p in (*a.posonlyargs, *a.args, *a.kwonlyargs)]
            scope.params += [p.arg for p in (a.vararg, a.kwarg) if p is not None]
        self.scopes.append(scope)
        self._body(scope, node.body if not isinstance(node, ast.Lambda) else [])
        return scope

    def _body(self, scope: Scope, body: list[ast.stmt], cls: ClassInfo | None = None) -> None:
        for stmt in body:
            scope.statements.append(stmt)
            for n in _own_nodes(stmt):
                scope.stmt_line[id(n)] = stmt.lineno
                scope.own.append(n)
            self._statement(scope, stmt, cls)

    def _statement(self, scope: Scope, stmt: ast.stmt, cls: ClassInfo | None) -> None:
        line = stmt.lineno
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
            inner = self._scope(stmt, scope, cls if cls is not None else None)
            scope.bind(stmt.name, line, None)
            if cls is not None:
                cls.methods[stmt.name] = inner
                self._self_attrs(cls, inner)
            elif scope.parent is None:
                self.functions[stmt.name] = inner
            return
        if isinstance(stmt, ast.ClassDef):
            info = ClassInfo(stmt.name, stmt, list(stmt.bases))
            if scope.parent is None:
                self.classes[stmt.name] = info
            scope.bind(stmt.name, line, None)
            self._body(scope, stmt.body, info)  # class-level statements read as part of the enclosing scope
            return
        if isinstance(stmt, (ast.Import, ast.ImportFrom)):
            self._import(stmt)
            for alias in stmt.names:
                if alias.name != "*":
                    scope.bind((alias.asname or alias.name).split(".")[0], line, None)
            return
        if isinstance(stmt, ast.Assign):
            for target in stmt.targets:
                self._target(scope, target, line, stmt.value)
        elif isinstance(stmt, ast.AnnAssign) and stmt.value is not None:
            self._target(scope, stmt.target, line, stmt.value)
        elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
            scope.bind(stmt.target.id, line, ast.BinOp(ast.Name(stmt.target.id, ast.Load()), stmt.op, stmt.value,
                                                       lineno=line, col_offset=stmt.col_offset))
        elif isinstance(stmt, (ast.For, ast.AsyncFor)):
            self._target(scope, stmt.target, line, None)
        elif isinstance(stmt, (ast.With, ast.AsyncWith)):
            for item in stmt.items:
                if item.optional_vars is not None:
                    self._target(scope, item.optional_vars, line, None)
        elif isinstance(stmt, ast.Return):
            scope.returns.append(stmt.value)
        for name in ("body", "orelse", "finalbody"):
            block = getattr(stmt, name, None)
            if isinstance(block, list):
                self._body(scope, block, None)
        for handler in getattr(stmt, "handlers", []) or []:
            if handler.name:
                scope.bind(handler.name, handler.lineno, None)
            self._body(scope, handler.body, None)
        for case in getattr(stmt, "cases", []) or []:
            self._body(scope, case.body, None)

    def _target(self, scope: Scope, target: ast.expr, line: int, value: ast.expr | None) -> None:
        if isinstance(target, ast.Name):
            scope.bind(target.id, line, value)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for elt in target.elts:
                self._target(scope, elt.value if isinstance(elt, ast.Starred) else elt, line, None)
        elif isinstance(target, ast.Starred):
            self._target(scope, target.value, line, None)

    def _self_attrs(self, cls: ClassInfo, method: Scope) -> None:
        for stmt in method.statements:
            if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
                targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
                for t in targets:
                    if (isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                            and t.value.id == "self"):
                        cls.attrs.setdefault(t.attr, []).append((stmt.value, method, stmt.lineno))

    def _import(self, stmt: ast.Import | ast.ImportFrom) -> None:
        if isinstance(stmt, ast.Import):
            for alias in stmt.names:
                if alias.asname:
                    self.imports[alias.asname] = alias.name
                else:
                    root = alias.name.split(".")[0]
                    self.imports[root] = root
            return
        if stmt.level or not stmt.module:
            return  # relative imports: the project's own modules
        for alias in stmt.names:
            if alias.name == "*":
                self.star_roots.append(stmt.module)
            else:
                self.imports[alias.asname or alias.name] = f"{stmt.module}.{alias.name}"

    # -- names ---------------------------------------------------------------------------

    def qualified(self, node: ast.AST) -> str | None:
        """``tf.keras.layers.Dense`` -> ``tensorflow.keras.layers.Dense`` through the imports."""
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        head = self.imports.get(node.id)
        if head is None:
            if node.id in self.module.assigns or node.id in self.classes:
                return None
            keras_star = [m for m in self.star_roots if _is_keras(m)]
            if not keras_star:
                return None
            head = f"{keras_star[0]}.{node.id}"
        return ".".join([head, *reversed(parts)])

    def api(self, node: ast.AST) -> str | None:
        """The Keras/TensorFlow name ``node`` refers to (its last part: ``Dense``, ``softmax``), else None."""
        q = self.qualified(node)
        if q is None or not _is_keras(q):
            return None
        return q.rsplit(".", 1)[-1]

    def local_class(self, node: ast.AST) -> ClassInfo | None:
        if isinstance(node, ast.Name) and node.id in self.classes and node.id not in self.imports:
            return self.classes[node.id]
        return None

    def derives_from(self, cls: ClassInfo, names: frozenset[str], depth: int = 0) -> bool:
        """Whether the module's class ``cls`` subclasses a Keras class named in ``names``."""
        if depth > 8:
            return False
        for base in cls.bases:
            if self.api(base) in names:
                return True
            inner = self.local_class(base)
            if inner is not None and inner is not cls and self.derives_from(inner, names, depth + 1):
                return True
        return False

    # -- values ------------------------------------------------------------------------------

    def lookup(self, name: str, scope: Scope, line: int) -> tuple[ast.expr | None, Scope, int] | None:
        """The expression last assigned to ``name`` before ``line``, in ``scope`` or the module.

        None when the name is bound in a way that holds nothing known (a parameter, a loop
        variable, tuple unpacking, an import) or not bound at all.
        """
        s: Scope | None = scope
        while s is not None:
            entries = s.assigns.get(name)
            if s is scope and entries:
                before = [e for e in entries if e[0] < line]
                if not before:
                    return None  # local to the scope, assigned only further down (a loop): not known
                ln, value = before[-1]
                return (value, s, ln) if value is not None else None
            if s is not scope and entries:
                ln, value = entries[-1]
                return (value, s, ln) if value is not None else None
            if s is scope and name in s.params:
                return None
            s = s.parent
        return None

    # -- call sites: what a parameter is given -------------------------------------------------

    def call_sites(self, fn: Scope) -> list[tuple[ast.Call, Scope, int]]:
        """Calls of ``fn`` in the module, with how many leading parameters they do not pass (``self``).

        A module function ``f(...)``, a method ``self.m(...)`` in its class, and ``call`` of
        the module's own layer classes through an instance (``self.attn(q, k, v, mask)``).
        """
        self._index()
        assert self._sites is not None
        return self._sites.get(id(fn), [])

    def _index(self) -> None:
        if self._sites is not None:
            return
        self._sites = {}
        self._indexing = True
        try:
            for scope in self.scopes:
                for node in scope.nodes():
                    if isinstance(node, ast.Call):
                        self._index_call(node, scope)
        finally:
            self._indexing = False
        self._memo.clear()  # values worked out while indexing did not see parameters yet

    def _index_call(self, node: ast.Call, scope: Scope) -> None:
        assert self._sites is not None
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "compile":
            # compile(loss=f): Keras calls f(y_true, model(x)); index that as a call of f.
            loss = argument(node, 1, "loss")
            if isinstance(loss, ast.Name) and loss.id in self.functions and loss.id not in self.imports:
                y_true = ast.Name("<y_true>", ast.Load())
                y_pred = ast.Call(func.value, [], [])
                implied = ast.Call(ast.Name(loss.id, ast.Load()), [y_true, y_pred], [])
                for made in (y_true, y_pred, implied):
                    ast.copy_location(made, node)
                self._sites.setdefault(id(self.functions[loss.id]), []).append((implied, scope, 0))
        if isinstance(func, ast.Name) and func.id in self.functions and func.id not in self.imports:
            self._sites.setdefault(id(self.functions[func.id]), []).append((node, scope, 0))
            return
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self":
            cls = class_of(scope)
            if cls is not None and func.attr in cls.methods:
                self._sites.setdefault(id(cls.methods[func.attr]), []).append((node, scope, 1))
                return
        if isinstance(func, (ast.Name, ast.Attribute)):
            value = self.value(func, scope)
            if isinstance(value, Instance) and "call" in value.cls.methods:
                self._sites.setdefault(id(value.cls.methods["call"]), []).append((node, scope, 1))

    def arguments_for(self, fn: Scope, param: str) -> list[tuple[ast.expr, Scope, int]]:
        """What the module's calls of ``fn`` pass for ``param``: (expression, caller scope, line).

        Calls that pass nothing for it (its default) or ``None`` are left out.
        """
        if self._indexing:
            return []  # asked while the calls are being indexed: parameters are not known yet
        index = fn.params.index(param)
        out = []
        for call, caller, offset in self.call_sites(fn):
            arg = argument(call, index - offset if index >= offset else None, param)
            if arg is None or (isinstance(arg, ast.Constant) and arg.value is None):
                continue
            out.append((arg, caller, caller.line_of(call)))
        return out

    @staticmethod
    def is_parameter(name: str, scope: Scope, line: int) -> bool:
        """Whether ``name`` at ``line`` is still the value of a parameter of the function ``scope``."""
        return (name in scope.params and isinstance(scope.node, (ast.FunctionDef, ast.AsyncFunctionDef))
                and not any(ln < line for ln, _ in scope.assigns.get(name, [])))

    def value(self, node: ast.AST | None, scope: Scope, line: int | None = None, depth: int = 0) -> Value:
        """What ``node`` (in ``scope``, in the statement at ``line``) holds; None when not known."""
        if node is None or depth > 12:
            return None
        if self._sites is None and not self._indexing:
            self._index()  # before the first value: parameters are read through the calls
        if line is None:
            line = scope.line_of(node)
        key = (id(node), line)
        if key in self._memo:
            return self._memo[key]
        if key in self._busy:
            return None
        self._busy.add(key)
        try:
            result = self._value(node, scope, line, depth + 1)
        finally:
            self._busy.discard(key)
        self._memo[key] = result
        return result

    def _value(self, node: ast.AST, scope: Scope, line: int, depth: int) -> Value:
        if isinstance(node, ast.Name):
            found = self.lookup(node.id, scope, line)
            if found is not None:
                expr, where, at = found
                return self.value(expr, where, at, depth)
            if self.is_parameter(node.id, scope, line):
                # A parameter holds what every call in the module passes for it, when they all agree.
                passed = {self.value(a, s, ln, depth) for a, s, ln in self.arguments_for(scope, node.id)}
                return passed.pop() if len(passed) == 1 else None
            return None
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "self":
            cls = class_of(scope)
            entries = cls.attrs.get(node.attr) if cls is not None else None
            if entries:
                values = {self.value(e, s, ln, depth) for e, s, ln in entries}
                return values.pop() if len(values) == 1 else None
            return None
        if isinstance(node, ast.Call):
            return self._call_value(node, scope, line, depth)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            kind = LOSS_FUNCTIONS.get(node.value)
            if kind is not None:
                return Loss(kind, False, node, repr(node.value))
            return None
        if isinstance(node, ast.Attribute):
            name = self.api(node)
            if name in LOSS_FUNCTIONS:  # loss=keras.losses.binary_crossentropy
                return Loss(LOSS_FUNCTIONS[name], False, node, name)
        return None

    def _call_value(self, call: ast.Call, scope: Scope, line: int, depth: int) -> Value:
        func = call.func
        name = self.api(func)
        if name is not None:
            return self._keras_call(name, call, scope, line, depth)
        cls = self.local_class(func)
        if cls is not None:
            return self._instance(cls, call, scope, depth)
        if isinstance(func, ast.Name) and func.id in self.functions and func.id not in self.imports:
            return self._returns(self.functions[func.id], depth)
        if (isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "self"
                and (owner := class_of(scope)) is not None and func.attr in owner.methods):
            return self._returns(owner.methods[func.attr], depth)
        # Calling an object: a layer, a model, a layer of the module's own classes.
        target_node = func.value if isinstance(func, ast.Attribute) and func.attr in ("predict", "call") else func
        target = self.value(target_node, scope, line, depth)
        if isinstance(target, Layer):
            if target_node is not func:  # layer.call(...) / layer.predict(...): not how layers are used
                return None
            if target.passthrough:
                inner = self.value(call.args[0], scope, line, depth) if call.args else None
                return inner if isinstance(inner, Tensor) else None
            return Tensor(target.act, target.node) if target.act is not None else None
        if isinstance(target, Model):
            return Tensor(target.act, target.origin or call) if target.act is not None else None
        return None

    def _keras_call(self, name: str, call: ast.Call, scope: Scope, line: int, depth: int) -> Value:
        if name in ("softmax", "sigmoid") and call.args:
            return Tensor(SOFTMAX if name == "softmax" else SIGMOID, call)
        if name in LINEAR_BY_DEFAULT:
            act = argument(call, 1 if name == "Dense" else None, "activation")
            return Layer(name, self._activation(act, scope, line, default=LINEAR), call)
        if name == "Activation":
            return Layer(name, self._activation(argument(call, 0, "activation"), scope, line, default=None), call)
        if name == "Softmax":
            return Layer(name, SOFTMAX, call)
        if name in PASSTHROUGH:
            return Layer(name, None, call, passthrough=True)
        if name == "TimeDistributed":
            inner = self.value(argument(call, 0, "layer"), scope, line, depth)
            return inner if isinstance(inner, Layer) else None
        if name in ("Model", "Functional"):
            outputs = argument(call, 1, "outputs")
            if isinstance(outputs, (ast.List, ast.Tuple)):
                outputs = outputs.elts[0] if len(outputs.elts) == 1 else None
            out = self.value(outputs, scope, line, depth) if outputs is not None else None
            if isinstance(out, Tensor):
                return Model(out.act, out.origin, call)
            return Model(None, None, call)
        if name == "Sequential":
            return self._sequential(call, scope, line, depth)
        if name in LOSS_CLASSES:
            flag = argument(call, 0, "from_logits")
            return Loss(LOSS_CLASSES[name], literal_bool(flag) if flag is not None else False, call, name + "(...)")
        if name in SCHEDULE_CLASSES:
            return Schedule(call)
        if name in OPTIMIZERS:
            lr = argument(call, 0, "learning_rate", "lr")
            sched = self.value(lr, scope, line, depth) if lr is not None else None
            return Optimizer(sched if isinstance(sched, Schedule) else None, call)
        if name[:1].isupper():  # any other Keras class: a layer as far as calling it goes
            return Layer(name, None, call)
        return None

    def _activation(self, node: ast.AST | None, scope: Scope, line: int, default: str | None) -> str | None:
        if node is None:
            return default
        if isinstance(node, ast.Constant):
            if node.value is None:
                return LINEAR
            if isinstance(node.value, str):
                return {"softmax": SOFTMAX, "sigmoid": SIGMOID, "linear": LINEAR}.get(node.value, OTHER)
            return None
        name = self.api(node)
        if name in ("softmax", "sigmoid", "linear"):
            return name
        if name in ("relu", "tanh", "elu", "selu", "gelu", "swish", "softplus", "log_softmax"):
            return OTHER
        return None

    def _sequential(self, call: ast.Call, scope: Scope, line: int, depth: int) -> Value:
        layers_arg = argument(call, 0, "layers")
        stack: list[ast.expr] = list(layers_arg.elts) if isinstance(layers_arg, (ast.List, ast.Tuple)) else []
        if layers_arg is not None and not stack:
            return Model(None, None, call)
        # model.add(...) calls on the name this Sequential is assigned to, in the same scope.
        owner = _assigned_name(scope, call)
        if owner is not None:
            for node in scope.nodes():
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr == "add" and isinstance(node.func.value, ast.Name)
                        and node.func.value.id == owner and node.args and scope.line_of(node) > call.lineno):
                    stack.append(node.args[0])
        for item in reversed(stack):
            layer = self.value(item, scope, line, depth)
            if not isinstance(layer, Layer):
                return Model(None, None, call)
            if layer.passthrough:
                continue
            return Model(layer.act, layer.node, call)
        return Model(None, None, call)

    def _instance(self, cls: ClassInfo, call: ast.Call, scope: Scope, depth: int) -> Value:
        if self.derives_from(cls, frozenset({"Model", "Sequential"})) and "call" in cls.methods:
            out = self._returns(cls.methods["call"], depth)
            if isinstance(out, Tensor):
                return Model(out.act, out.origin, call)
            return Model(None, None, call)
        if self.derives_from(cls, frozenset({"LearningRateSchedule"})):
            return Schedule(call)
        return Instance(cls, call)

    def _returns(self, fn: Scope, depth: int) -> Value:
        if not fn.returns:
            return None
        values = set()
        for expr in fn.returns:
            values.add(self.value(expr, fn, fn.line_of(expr) + 1 if expr is not None else 0, depth))
            if len(values) > 1:
                return None
        return values.pop()


def class_of(scope: Scope) -> ClassInfo | None:
    s: Scope | None = scope
    while s is not None:
        if s.cls is not None:
            return s.cls
        s = s.parent
    return None


def _assigned_name(scope: Scope, call: ast.Call) -> str | None:
    for name, entries in scope.assigns.items():
        if any(value is call for _, value in entries):
            return name
    return None


def _is_keras(qualified: str) -> bool:
    root = qualified.split(".")[0]
    return root in _KERAS_ROOTS or "keras" in root


def keras_node_text(node: ast.AST, source: str = "") -> str:
    """Short text of a node for messages (``Dense(10)``): as written when ``source`` is given."""
    text = (ast.get_source_segment(source, node) if source else None) or ast.unparse(node)
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."
