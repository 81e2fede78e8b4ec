"""KM321: a layer size that is a NumPy integer is passed as ``int(...)``.

Keras 2 took a NumPy scalar wherever a layer wanted a size: Keras 2.2.4's
reuters_mlp builds ``Dense(num_classes)`` with ``num_classes = np.max(y_train) + 1``
(a ``numpy.int64``). Keras 3 checks ``isinstance(units, int)`` and refuses it:
"Received an invalid value for `units`, expected a positive integer. Received:
units=46". The same holds for ``Embedding``'s ``input_dim``/``output_dim``, the
recurrent layers' ``units``, ``RepeatVector``'s ``n`` and a convolution's integer
``kernel_size`` (``standardize_tuple`` tries ``tuple()`` on it); ``filters`` passes the
check but is wrapped too, so that the layer's config holds a plain int.

The size argument is wrapped in ``int(...)`` when its value is visibly a NumPy scalar
(:func:`_Analysis.numpy_scalar`): a NumPy reduction over a whole array
(``np.max(y)``, ``np.prod(shape)``; no ``axis``), a NumPy integer constructor
(``np.int64(n)``), arithmetic of those with integers (``np.max(y) + 1``), or a name
bound once to such a value in its scope: an assignment in the same function or at
module level, or a parameter of a module-level function that some call in the module
passes such a value (reuters_mlp_relu_vs_selu's ``create_network(num_classes=
num_classes)``). Python's own ``ast`` reads the module for these bindings; a name bound
more than once, by a loop, a tuple, ``global`` or anything else is not followed.

Why ``int(...)`` keeps the numbers: the value was used as a layer size under Keras 2,
which made it an integer itself. tf.keras 2's ``Dense`` does ``int(units)``, its
convolutions and ``RepeatVector`` ``int()`` their sizes, and Keras 2.2.4 handed the
value to TensorFlow shapes, which accept only integral values (``Dimension`` refused
46.5). ``int()`` of a NumPy integer is that integer exactly (NumPy integers are at
most 64 bits, Python ints unbounded), and of an integral NumPy float the same
integer. Only the argument is wrapped, never the binding: ``num_classes`` stays a NumPy
integer for the rest of the program, whose NumPy arithmetic (``uint8`` arrays plus a
NumPy ``int64`` promote differently than plus a Python ``int``) is unchanged.

``to_categorical(y, num_classes)`` is left alone: Keras 3 takes a NumPy integer there.
A module that rebinds ``int`` is reported instead of rewritten.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, Order, RuleSpec, Site
from migrate.rewrite.names import _ast_dotted
from migrate.rewrite.symbols import map_name

RULE = "KM321"

#: Keras 3 layer -> its size parameters, in positional order (a name after a gap is keyword-only here:
#: ``None`` marks a positional slot that is not a size). Only integer sizes Keras 3 checks with
#: ``isinstance(..., int)`` (or ``tuple()``) or keeps in its config.
SIZE_ARGS: dict[str, tuple[str | None, ...]] = {
    "Dense": ("units",),
    "Embedding": ("input_dim", "output_dim"),
    **{name: ("units",) for name in ("LSTM", "GRU", "SimpleRNN", "LSTMCell", "GRUCell", "SimpleRNNCell")},
    "RepeatVector": ("n",),
    **{name: ("filters", "kernel_size") for name in (
        "Conv1D", "Conv2D", "Conv3D", "Conv1DTranspose", "Conv2DTranspose", "Conv3DTranspose",
        "SeparableConv1D", "SeparableConv2D", "ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D")},
    "DepthwiseConv1D": ("kernel_size",),
    "DepthwiseConv2D": ("kernel_size",),
}

#: NumPy functions that reduce a whole array (one positional argument, no keyword) to one scalar.
_REDUCTIONS = frozenset({"max", "amax", "min", "amin", "prod", "product", "sum", "argmax", "argmin", "ptp",
                         "count_nonzero"})
#: NumPy integer types: called on one number they make a NumPy integer scalar.
_INT_TYPES = frozenset({"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "intc",
                        "intp", "int_", "uint", "longlong", "ulonglong", "short", "ushort", "byte", "ubyte"})
#: integer arithmetic: a NumPy integer with an integer stays a NumPy scalar
_INT_OPS = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.Pow)
_MAX_DEPTH = 12

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CALL, prefixes=("keras.layers.",), chain=True),),
    after=(Order("layer_kwargs", "KM306 renames Keras 1 keywords (Dense(output_dim=) -> units=) first, so the "
                 "size is found under its Keras 3 name"),),
    # merge layers have no size argument: the two never change one call; the order only says so
    before=(Order("merge_mask", "no merge layer has a size argument, so either order gives the same code"),),
)

ScopeKey = tuple[str, tuple[str, ...]]  # (innermost enclosing class name or "", enclosing function names)


@dataclass
class _Scope:
    """One function (or the module): what binds each name in it, and its parameters."""

    params: list[str] = field(default_factory=list)  # positional-or-keyword, in order
    kwonly: set[str] = field(default_factory=set)
    defaults: dict[str, ast.expr] = field(default_factory=dict)
    bindings: dict[str, list[ast.expr | None]] = field(default_factory=dict)  # None: not a plain assignment
    module_function: str | None = None  # its name, for a function defined at module level

    def bind(self, name: str, value: ast.expr | None) -> None:
        self.bindings.setdefault(name, []).append(value)


def _target_names(node: ast.expr) -> list[str]:
    if isinstance(node, ast.Name):
        return [node.id]
    if isinstance(node, (ast.Tuple, ast.List)):
        return [n for e in node.elts for n in _target_names(e)]
    if isinstance(node, ast.Starred):
        return _target_names(node.value)
    return []


class _Collect(ast.NodeVisitor):
    """Scopes keyed as the rule applier sees them, and the calls of plain names with their scope."""

    def __init__(self) -> None:
        self.scopes: dict[ScopeKey, _Scope | None] = {("", ()): _Scope()}  # None: two functions share the key
        self.calls: dict[str, list[tuple[ast.Call, ScopeKey]]] = {}
        self.key: ScopeKey = ("", ())
        self.cls = ""

    def _scope(self) -> _Scope | None:
        return self.scopes.get(self.key)

    def _bind(self, name: str, value: ast.expr | None) -> None:
        scope = self._scope()
        if scope is not None:
            scope.bind(name, value)

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            plain = isinstance(target, ast.Name)
            for name in _target_names(target):
                self._bind(name, node.value if plain else None)
        self.generic_visit(node)

    def _bind_target(self, node: ast.AST) -> None:
        for name in _target_names(node.target):  # type: ignore[attr-defined]
            self._bind(name, None)
        self.generic_visit(node)

    visit_AugAssign = visit_AnnAssign = visit_For = visit_AsyncFor = visit_NamedExpr = _bind_target

    def visit_withitem(self, node: ast.withitem) -> None:
        if node.optional_vars is not None:
            for name in _target_names(node.optional_vars):
                self._bind(name, None)
        self.generic_visit(node)

    def visit_ExceptHandler(self, node: ast.ExceptHandler) -> None:
        if node.name:
            self._bind(node.name, None)
        self.generic_visit(node)

    def _imports(self, node: ast.Import | ast.ImportFrom) -> None:
        for alias in node.names:
            self._bind((alias.asname or alias.name).split(".")[0], None)

    visit_Import = visit_ImportFrom = _imports

    def _declared(self, node: ast.Global | ast.Nonlocal) -> None:
        module = self.scopes[("", ())]
        for name in node.names:
            self._bind(name, None)
            if isinstance(node, ast.Global) and module is not None:
                module.bind(name, None)  # the function may bind the module's name

    visit_Global = visit_Nonlocal = _declared

    def visit_Delete(self, node: ast.Delete) -> None:
        for target in node.targets:
            for name in _target_names(target):
                self._bind(name, None)

    def visit_Call(self, node: ast.Call) -> None:
        if isinstance(node.func, ast.Name):
            self.calls.setdefault(node.func.id, []).append((node, self.key))
        self.generic_visit(node)

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self._bind(node.name, None)
        for expr in (*node.bases, *node.keywords, *node.decorator_list):
            self.visit(expr)
        saved, self.cls = self.cls, node.name
        self.key = (node.name, self.key[1])
        for stmt in node.body:
            self.visit(stmt)
        self.cls = saved
        self.key = (saved, self.key[1])

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        self._bind(node.name, None)
        for expr in (*node.decorator_list, *node.args.defaults, *[d for d in node.args.kw_defaults if d]):
            self.visit(expr)
        outer = self.key
        key = (self.cls, (*outer[1], node.name))
        scope = _Scope()
        args = node.args
        scope.params = [a.arg for a in (*args.posonlyargs, *args.args)]
        scope.kwonly = {a.arg for a in args.kwonlyargs}
        positional = [*args.posonlyargs, *args.args]
        for a, default in zip(positional[len(positional) - len(args.defaults):], args.defaults):
            scope.defaults[a.arg] = default
        for a, kw_default in zip(args.kwonlyargs, args.kw_defaults):
            if kw_default is not None:
                scope.defaults[a.arg] = kw_default
        for extra in (args.vararg, args.kwarg):
            if extra is not None:
                scope.bind(extra.arg, None)
        if outer == ("", ()):
            scope.module_function = node.name
        self.scopes[key] = None if key in self.scopes else scope
        self.key = key
        for stmt in node.body:
            self.visit(stmt)
        self.key = outer

    visit_FunctionDef = visit_AsyncFunctionDef = _function

    def visit_Lambda(self, node: ast.Lambda) -> None:
        return None  # its own scope; nothing in it is a layer size of this scope

    def _comprehension(self, node: ast.AST) -> None:
        return None  # its own scope (Python 3); a walrus inside it is not followed either

    visit_ListComp = visit_SetComp = visit_DictComp = visit_GeneratorExp = _comprehension


class _Analysis:
    """Which expressions of one module are visibly NumPy scalars."""

    def __init__(self, tree: ast.Module, imports: dict[str, str]) -> None:
        collect = _Collect()
        collect.visit(tree)
        self.scopes = collect.scopes
        self.calls = collect.calls
        self.imports = imports
        # a module that binds `int` anywhere: the wrapper would not be the builtin
        self.int_rebound = any(s is not None and "int" in s.bindings for s in self.scopes.values())

    def _numpy(self, func: ast.expr) -> str | None:
        """``max`` for ``np.max`` (any alias of ``numpy``), else None."""
        dotted = _ast_dotted(func)
        head, _, rest = (dotted or "").partition(".")
        base = self.imports.get(head)
        qualified = f"{base}.{rest}" if base and rest else base or ""
        return qualified[len("numpy."):] if qualified.startswith("numpy.") else None

    def numpy_scalar(self, node: ast.expr, key: ScopeKey, seen: frozenset[tuple[str, ScopeKey]] = frozenset(),
                     depth: int = 0) -> bool:
        """Whether ``node``, evaluated in scope ``key``, is visibly a NumPy scalar."""
        if depth > _MAX_DEPTH:
            return False
        if isinstance(node, ast.Call):
            name = self._numpy(node.func)
            if name is None or node.keywords or len(node.args) != 1 or isinstance(node.args[0], ast.Starred):
                return False
            if name in _REDUCTIONS:
                return True
            return name in _INT_TYPES and not isinstance(node.args[0], (ast.List, ast.Tuple, ast.ListComp))
        if isinstance(node, ast.BinOp) and isinstance(node.op, _INT_OPS):
            left = self.numpy_scalar(node.left, key, seen, depth + 1)
            right = self.numpy_scalar(node.right, key, seen, depth + 1)
            return (left and (right or _int_literal(node.right))) or (right and _int_literal(node.left))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            return self.numpy_scalar(node.operand, key, seen, depth + 1)
        if isinstance(node, ast.Name):
            if (node.id, key) in seen:
                return False
            return self._name(node.id, key, seen | {(node.id, key)}, depth + 1)
        return False

    def _name(self, name: str, key: ScopeKey, seen: frozenset[tuple[str, ScopeKey]], depth: int) -> bool:
        scope = self.scopes.get(key)
        if scope is None:
            return False
        if key != ("", ()):
            if name in scope.bindings:
                return self._bound_once(scope.bindings[name], key, seen, depth)
            if name in scope.params or name in scope.kwonly:
                return self._parameter(scope, name, key, seen, depth)
            if key[1][:-1]:
                return False  # a nested function: the enclosing function's names are not followed
            key = ("", ())  # a module-level function or a method reads the module's names
        module = self.scopes[("", ())]
        assert module is not None
        return name in module.bindings and self._bound_once(module.bindings[name], key, seen, depth)

    def _bound_once(self, values: list[ast.expr | None], key: ScopeKey, seen: frozenset[tuple[str, ScopeKey]],
                    depth: int) -> bool:
        return len(values) == 1 and values[0] is not None and self.numpy_scalar(values[0], key, seen, depth)

    def _parameter(self, scope: _Scope, name: str, key: ScopeKey, seen: frozenset[tuple[str, ScopeKey]],
                   depth: int) -> bool:
        """A parameter of a module-level function: does its default, or any call of the function in
        the module, give it a NumPy scalar?"""
        module_key: ScopeKey = ("", ())
        if scope.module_function is None:
            return False
        default = scope.defaults.get(name)
        if default is not None and self.numpy_scalar(default, module_key, seen, depth):
            return True
        index = scope.params.index(name) if name in scope.params else None
        for call, where in self.calls.get(scope.module_function, ()):
            given: ast.expr | None = None
            for keyword in call.keywords:
                if keyword.arg == name:
                    given = keyword.value
            if given is None and index is not None:
                positional = call.args[:index + 1]
                if len(positional) > index and not any(isinstance(a, ast.Starred) for a in positional):
                    given = positional[index]
            if given is not None and self.numpy_scalar(given, where, seen, depth):
                return True
        return False


def _int_literal(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and type(node.value) is int


def _analysis(ctx: FileContext) -> _Analysis | None:
    state = ctx.rule_state
    if RULE not in state:
        try:
            tree = ast.parse(ctx.source_text)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            tree = None  # an IPython cell with magics, ...: only the argument itself is looked at
        state[RULE] = _Analysis(tree if tree is not None else ast.Module(body=[], type_ignores=[]), ctx.imports)
    analysis: _Analysis = state[RULE]
    return analysis


def _scope_key(ctx: FileContext, site: Site) -> ScopeKey:
    functions = tuple(f.name.value for f in ctx.functions)
    return (site.cls.name if site.cls is not None and functions else "", functions)


def on_call(ctx: FileContext, site: Site) -> cst.Call | None:
    if not ctx.enabled(RULE) or site.qualified is None:
        return None
    target = map_name(site.qualified)[0]
    if target is None or not target.startswith("keras.layers."):
        return None
    layer = target.rsplit(".", 1)[1]
    sizes = SIZE_ARGS.get(layer)
    if sizes is None:
        return None
    original: cst.Call = site.original
    updated: cst.Call = site.updated
    if len(original.args) != len(updated.args):
        return None  # an earlier rule added or removed arguments: positions no longer line up
    analysis = _analysis(ctx)
    if analysis is None:
        return None
    key = _scope_key(ctx, site)
    args = list(updated.args)
    changed = False
    position = 0
    for i, (written, arg) in enumerate(zip(original.args, args)):
        if written.star:
            break
        if written.keyword is None:
            name = sizes[position] if position < len(sizes) else None
            position += 1
        else:
            keyword = arg.keyword or written.keyword  # as renamed by KM306 (Dense(output_dim=) -> units=)
            name = keyword.value if keyword.value in sizes else None
        if name is None:
            continue
        code = ctx.code(written.value).strip()
        try:
            expr = ast.parse(f"(\n{code}\n)", mode="eval").body
        except SyntaxError:
            continue
        if not analysis.numpy_scalar(expr, key):
            continue
        if analysis.int_rebound:
            ctx.report(RULE, original, f"{layer}({name}={code}): a NumPy integer, which Keras 3 refuses as a size; "
                       "this module rebinds `int`, so pass the builtin int(...) of it by hand", fixed=False)
            continue
        args[i] = arg.with_changes(value=cst.Call(func=cst.Name("int"), args=[cst.Arg(value=arg.value)]))
        ctx.report(RULE, original, f"{layer}({name}={code}): a NumPy integer, which Keras 3 refuses as a size "
                   f"-> int({code}) (the same number)", fixed=True)
        changed = True
    return updated.with_changes(args=args) if changed else None
