"""What a rule module declares about itself, and what its hook functions receive.

Every module in ``migrate/rewrite/rules/`` holds one rule (one or a few ids of
``catalog.RULES``) and declares, as data, a module-level ``SPEC``:

* its ids;
* its hooks: which kind of node it acts on (:data:`CALL`, :data:`REFERENCE`, ...)
  and which of those nodes: qualified names (``names``, exact) or name prefixes
  (``prefixes``), resolved through the file's imports and aliases, method or
  attribute names (``methods``), or every node of the kind;
* its trigger words (:class:`Triggers`), from which the fast path's pre-filter
  is built (``prefilter.py``);
* its ordering constraints against other rules (:class:`Order`, each with the
  reason), where two rules could act on the same node.

For each kind it hooks, the module exposes one function named after the kind
(``on_call``, ``on_reference``, ...), all with the signature
``(ctx: FileContext, site: Site) -> result``. The registry (``registry.py``)
finds the modules, checks the declarations, orders the rules and builds the
dispatch tables; the applier (``transform.py``) walks the tree once and, for
each node, runs the hooks that match it.

A hook returns:

* ``None``: not this rule's business, or nothing to change; the next hook runs;
* a new node: the replacement. It ends the dispatch for this node unless the
  hook is declared ``chain=True``, in which case later hooks see it as
  ``site.updated``;
* :data:`KEEP`: this rule owns the node and leaves it as it is; no later
  rewriting hook runs on it (e.g. ``K.batch_dot`` with unknown ranks must not
  fall through to the generic backend rule, which would call it unsupported).

A hook declared ``check=True`` only reports: it runs on every node it matches,
whatever the rewriting hooks before it returned, and its result is ignored.

This module is core: it imports no rule module and no libcst.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from migrate.rewrite.context import ClassInfo

#: ``libcst.Call`` (on leave). Matched by the callee's qualified name (``names``/``prefixes``), by the
#: method name of a callee ``<expr>.<method>`` that imports do not resolve (``methods``), by any such
#: unresolved callee (``unresolved=True``), or every call (none of these). Returns an expression.
CALL: Final = "call"
#: An outermost ``libcst.Attribute`` chain resolved through imports (``K.sum``, ``tf.keras.layers.Dense``),
#: matched by its qualified name; ``site.called`` says whether it is the callee of a call.
REFERENCE: Final = "reference"
#: Any ``libcst.Attribute``, inner links of chains included, matched by its attribute name (``methods``).
ATTRIBUTE: Final = "attribute"
#: A statement line holding one ``import``/``from ... import``. Returns a list of statement lines.
IMPORT: Final = "import"
#: ``libcst.ClassDef`` (on leave); ``site.cls`` is its ``ClassInfo``, ``site.top_level`` whether it is
#: importable by name (not nested in a class or function).
CLASS: Final = "class"
#: ``libcst.FunctionDef`` (on leave); ``site.cls`` is the class it is a method of (None for a function
#: nested in another function or outside classes).
FUNCTION: Final = "function"
#: ``libcst.Module`` (on leave): the end of the module scope.
MODULE: Final = "module"
#: ``libcst.Assign`` (on leave): for rules that record facts about local names in ``ctx.ranks``.
ASSIGN: Final = "assign"

KINDS: Final = (CALL, REFERENCE, ATTRIBUTE, IMPORT, CLASS, FUNCTION, MODULE, ASSIGN)


class _Keep:
    """The type of :data:`KEEP` (a single instance, compared by identity)."""

    _instance: _Keep | None = None

    def __new__(cls) -> _Keep:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "KEEP"


#: A hook's answer "this node is mine; leave it unchanged and run no later rewriting hook on it".
KEEP: Final = _Keep()


def owned(replacement: Any) -> Any:
    """``replacement``, or :data:`KEEP` when it is None: for a hook that owns every node it matches."""
    return KEEP if replacement is None else replacement


@dataclass(frozen=True)
class Hook:
    """One kind of node a rule acts on, and which nodes of that kind.

    With none of ``names``, ``prefixes``, ``methods`` and ``unresolved`` the hook
    sees every node of its kind.
    """

    kind: str
    names: tuple[str, ...] = ()  # exact canonical qualified names (``tensorflow.keras`` folded onto ``keras``)
    prefixes: tuple[str, ...] = ()  # qualified-name prefixes, written as compared (``"keras.backend."``)
    methods: tuple[str, ...] = ()  # CALL: unresolved ``<expr>.<name>(...)``; ATTRIBUTE: ``<expr>.<name>``
    unresolved: bool = False  # CALL: every call whose callee imports do not resolve
    check: bool = False  # reports only: always runs on what it matches, result ignored
    chain: bool = False  # a replacement is handed on to later hooks instead of ending the dispatch

    @property
    def matches_all(self) -> bool:
        return not (self.names or self.prefixes or self.methods or self.unresolved)


@dataclass(frozen=True)
class Triggers:
    """Words whose presence in the source means the rule may fire (the fast path's pre-filter).

    Names imported from ``keras``/``tensorflow`` are trigger words for every rule
    and need not be listed; list what a rule keys on besides them.
    """

    methods: frozenset[str] = frozenset()  # attribute/method names after a ``.`` (``fit_generator``, ``lr``)
    keywords: frozenset[str] = frozenset()  # call keywords (``nb_epoch``, ``workers``)
    names: frozenset[str] = frozenset()  # bare names (base classes such as ``Layer``)
    #: groups that must all appear in one statement (any word of each group), e.g. ``shape`` and ``value``
    together: tuple[frozenset[str], ...] = ()
    #: words that count inside a file but do not on their own make a file worth parsing, because the
    #: rule also needs another trigger word in the file (``restore`` needs a tensorflow import)
    statement_only: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Order:
    """"Run before/after rule ``rule`` (a module name in ``rules/``)", with the reason."""

    rule: str
    reason: str


@dataclass(frozen=True)
class RuleSpec:
    """What one rule module declares (its module-level ``SPEC``)."""

    ids: tuple[str, ...]
    hooks: tuple[Hook, ...]
    triggers: Triggers = field(default_factory=Triggers)
    before: tuple[Order, ...] = ()
    after: tuple[Order, ...] = ()


class Site:
    """What a hook gets to know about the node it is called on.

    ``original``: the node as parsed (findings point at it); ``updated``: the node
    with its children already rewritten (what a replacement is built from).
    """

    __slots__ = ("original", "updated", "qualified", "via_tf", "called", "cls", "top_level")

    def __init__(self, original: Any, updated: Any, qualified: str | None = None, via_tf: bool = False,
                 called: bool = False, cls: ClassInfo | None = None, top_level: bool = False) -> None:
        self.original = original
        self.updated = updated
        #: CALL: the callee's canonical qualified name; REFERENCE: the chain's (None: not resolved)
        self.qualified = qualified
        #: the name was reached through ``tensorflow.keras`` (or another TF prefix)
        self.via_tf = via_tf
        #: REFERENCE: the chain is the callee of a call
        self.called = called
        #: CALL: the innermost enclosing class; CLASS: this class; FUNCTION: the class it is a method of
        self.cls = cls
        #: CLASS: defined at module level (importable by name)
        self.top_level = top_level
