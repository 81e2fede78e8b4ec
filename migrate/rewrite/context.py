"""Per-file state shared by the rules: options, imports, emitted needs, findings."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import libcst as cst

from migrate.rewrite.names import canonical, dotted_name, resolve
from migrate.rewrite.render import render
from migrate.rewrite.catalog import RULES_BY_ID, SAFE

_OPS_REF = re.compile(r"(?<![\w.])ops\.")
_EXPR_CACHE: dict[str, tuple[cst.BaseExpression, frozenset[str]]] = {}
_EXPR_CACHE_SIZE = 8192
_STATEMENT_CACHE: dict[tuple[str, str], cst.BaseStatement] = {}
#: nodes that need no parentheses next to `.`, `[` or an operator
ATOMS = (cst.Name, cst.Attribute, cst.Call, cst.Subscript, cst.Integer, cst.Float,
          cst.SimpleString, cst.ConcatenatedString, cst.FormattedString, cst.List, cst.Tuple,
          cst.Dict, cst.Set, cst.Ellipsis, cst.ListComp, cst.SetComp, cst.DictComp)


@dataclass
class Options:
    """What the user asked for; identical for every file of a run."""

    select: frozenset[str] = frozenset()
    ignore: frozenset[str] = frozenset()
    todo_comments: bool = False
    source: str = "auto"  # "auto" | "keras-2.2" | "tf-keras-2"
    #: per file (resolved path): Keras/TensorFlow names it imports from other modules of the tree
    #: being rewritten (``names.tree_imports``; ``from bert4keras.backend import K`` is keras.backend)
    tree_imports: dict[str, dict[str, str]] = field(default_factory=dict)

    def enabled(self, rule: str) -> bool:
        if self.select and rule not in self.select:
            return False
        return rule not in self.ignore


@dataclass
class RawFinding:
    rule: str
    node: cst.CSTNode | None
    message: str
    fixed: bool
    line: int = 0  # set when the node has no position (synthesised code)
    stmt: cst.CSTNode | None = None  # the innermost mapped statement holding `node` (see transform._positions)


@dataclass
class ClassInfo:
    name: str
    bases: list[str]
    call_params: list[str] | None = None  # parameters of `call` after self
    call_has_varargs: bool = False
    attr_types: dict[str, str] = field(default_factory=dict)  # self.x = Cls(...)
    list_attr_types: dict[str, str] = field(default_factory=dict)  # self.x = [Cls(...) ...]
    call_step_param: str | None = None


class FileContext:
    """Everything the rules of one file share."""

    def __init__(self, options: Options, imports: dict[str, str], source_text: str) -> None:
        self.options = options
        self.imports = imports
        self.source_text = source_text
        self.findings: list[RawFinding] = []
        self.needs: set[str] = set()
        self.classes: dict[str, ClassInfo] = {}  # by name: the last class of that name, any depth
        self.class_at: dict[int, ClassInfo] = {}  # by id() of its ClassDef: exactly that class
        self.var_types: dict[str, str] = {}  # module/function names bound once to Cls(...)
        self.optimizer_names: set[str] = set()
        self.metric_names: set[str] = set()
        self.checkpoint_names: set[str] = set()
        bound_ops = imports.get("ops")
        self.ops_prefix = "ops"
        if (bound_ops is not None and bound_ops != "keras.ops") or re.search(
                r"^\s*ops\s*=|def ops\b|class ops\b", source_text, re.M):
            self.ops_prefix = "keras.ops"
        self.source = options.source
        if self.source == "auto":
            self.source = detect_source(imports)
        self.pending_stack: list[list[RawFinding]] = []
        #: the innermost statement being transformed that has a known line span (set by the rule applier)
        self.current_stmt: cst.CSTNode | None = None
        self.default_indent = "    "  # the module's indentation unit (set by transform_module)
        #: the file as reported (a notebook cell: ``nb.ipynb[cell 3]``; set by transform_module)
        self._path = ""
        #: names other modules of the tree import from this file (``Options.tree_imports``): their
        #: imports stay even when the file itself no longer uses them
        self.exported: frozenset[str] = frozenset()
        #: Keras names a module of the tree replaced with its own (``names.tree_imports``, "#patched")
        self.patched: dict[str, str] = {}
        #: facts rules record about names of the current function scope (KM204: ranks of tensors bound by
        #: ``x = K.reshape(...)``); a new dict per function, set by the applier. The fast path never skips
        #: a statement that mentions one of these names, so a rebinding is always seen.
        self.ranks: dict[str, int] = {}
        #: the enclosing ``FunctionDef`` nodes as parsed, innermost last (maintained by the applier)
        self.functions: list[cst.CSTNode] = []
        #: per-file state of rules that collect across nodes, under the rule module's name
        self.rule_state: dict[str, Any] = {}

    @property
    def path(self) -> str:
        return self._path

    @path.setter
    def path(self, value: str) -> None:
        """Set by ``transform_module`` before the index is built: the moment the file's names
        re-exported by other modules of the tree (``Options.tree_imports``) join its imports."""
        self._path = value
        if self.options.tree_imports and value:
            resolved = str(Path(value).resolve())
            self.add_tree_imports(self.options.tree_imports.get(resolved, {}))
            self.exported = frozenset(self.options.tree_imports.get(f"{resolved}#exported", ()))
            if self.exported or resolved in self.options.tree_imports:
                # It imports from, or is imported by, modules of the tree: it sees their patches.
                self.patched = self.options.tree_imports.get("#patched", {})

    def add_tree_imports(self, extra: dict[str, str]) -> None:
        """Names this file imports from modules of the tree, resolved to Keras/TensorFlow names.

        They replace the file's own entries (``K``: ``bert4keras.backend.K``) and add the
        names a star import brings; the dialect is then detected again, as if the file
        imported Keras itself."""
        if not extra:
            return
        self.imports.update(extra)
        if self.options.source == "auto":
            self.source = detect_source(self.imports)

    # -- findings -----------------------------------------------------------
    def enabled(self, rule: str) -> bool:
        return self.options.enabled(rule)

    def report(self, rule: str, node: cst.CSTNode | None, message: str, fixed: bool, todo: bool = True) -> None:
        """Record a finding. ``todo=False``: never a TODO comment, for findings about the whole
        file rather than the spot (an unknown Keras dialect: the fix is a rerun with ``--from``;
        the codemod's own output of tf.keras code reads as that dialect, and a comment
        added only on the second run would break idempotence)."""
        f = RawFinding(rule, node, message, fixed, stmt=self.current_stmt)
        self.findings.append(f)
        if not fixed and todo and self.pending_stack:
            self.pending_stack[-1].append(f)

    @staticmethod
    def is_safe(rule: str) -> bool:
        info = RULES_BY_ID.get(rule)
        return info is None or info.tier == SAFE

    # -- names ---------------------------------------------------------------
    def qualified(self, node: cst.BaseExpression) -> str | None:
        """Canonical legacy qualified name (``tensorflow.keras`` folded to ``keras``)."""
        raw = self.qualified_raw(node)
        return None if raw is None else raw[0]

    def qualified_raw(self, node: cst.BaseExpression) -> tuple[str, bool] | None:
        q = resolve(node, self.imports)
        if q is None:
            return None
        folded = canonical(q)
        if self.patched:
            # A Keras name that a module of the tree replaced with its own (``K.where = where``).
            name = folded[0]
            while name:
                if name in self.patched:
                    return self.patched[name] + folded[0][len(name):], False
                name = name.rpartition(".")[0]
        return folded

    # -- code ------------------------------------------------------------------
    @staticmethod
    def code(node: cst.CSTNode) -> str:
        return render(node)

    def arg_code(self, node: cst.BaseExpression, atom: bool) -> str:
        text = self.code(node).strip()
        if atom and not isinstance(node, ATOMS):
            return f"({text})"
        if isinstance(node, cst.Name) or not node.lpar:
            return text
        return text

    def expr(self, text: str) -> cst.BaseExpression:
        """Parse generated code, recording the imports it needs (``keras``, ``ops``, ``compat``).

        Parsed texts are cached per process: libcst nodes are immutable, so one node
        may stand in several places, and a template skeleton is parsed only once.
        """
        if self.ops_prefix != "ops":
            text = _OPS_REF.sub("keras.ops.", text)
        cached = _EXPR_CACHE.get(text)
        if cached is None:
            needs = frozenset(n for n, hit in (("keras", "keras." in text),
                                               ("ops", _OPS_REF.search(text) is not None),
                                               ("compat", "compat." in text)) if hit)
            cached = (cst.parse_expression(text), needs)
            if len(_EXPR_CACHE) < _EXPR_CACHE_SIZE:
                _EXPR_CACHE[text] = cached
        self.needs.update(cached[1])
        return cached[0]

    def statement(self, text: str) -> cst.BaseStatement:
        """Parse a generated statement in this file's indentation (cached per process like ``expr``)."""
        key = (text, self.default_indent)
        node = _STATEMENT_CACHE.get(key)
        if node is None:
            node = cst.parse_statement(text, cst.PartialParserConfig(default_indent=self.default_indent))
            if len(_STATEMENT_CACHE) < _EXPR_CACHE_SIZE:
                _STATEMENT_CACHE[key] = node
        return node

    def ops_text(self, text: str) -> str:
        """``text`` with ``ops.`` spelled as this file must spell it."""
        return _OPS_REF.sub("keras.ops.", text) if self.ops_prefix != "ops" else text

    def is_keras(self, node: cst.BaseExpression, *names: str) -> bool:
        q = self.qualified(node)
        return q is not None and q in names

    def dotted(self, node: cst.BaseExpression) -> str | None:
        return dotted_name(node)


_KERAS22_MARKERS = (
    "keras.engine", "keras.layers.core", "keras.layers.recurrent", "keras.layers.merge",
    "keras.layers.wrappers", "keras.layers.convolutional", "keras.layers.pooling",
    "keras.layers.normalization", "keras.layers.embeddings", "keras.layers.advanced_activations",
    "keras.utils.np_utils", "keras.utils.generic_utils", "keras.legacy", "keras.backend",
    "keras.layers.cudnn_recurrent", "keras.utils.data_utils",
)


def detect_source(imports: dict[str, str]) -> str:
    """``keras-2.2`` when the standalone package is used with a 2.2-only marker,
    ``tf-keras-2`` when Keras comes through TensorFlow, else ``unknown``."""
    values = list(imports.values())
    standalone = [v for v in values if v == "keras" or v.startswith("keras.")]
    if any(v.startswith(m) for v in standalone for m in _KERAS22_MARKERS):
        return "keras-2.2"
    if any(canonical(v)[1] for v in values):
        return "tf-keras-2"
    if standalone:
        return "unknown"
    return "tf-keras-2"
