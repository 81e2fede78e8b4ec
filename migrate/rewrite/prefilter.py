"""Cheap checks that let the engine do less work on code with nothing to rewrite.

Every rule fires only on code that spells out one of a small set of words: a
name imported from ``keras``/``tensorflow`` (``K``, ``tf``, ``Dense``), a Keras
method or attribute name (``fit_generator``, ``lr``, ``add_weight``,
``save_weights``), a base class (``Layer``, ``LearningRateSchedule``) or a name
the module itself binds to one of its own layer classes. Two levels use that:

* ``may_need_rewrite``: a byte scan of the whole file. A file without any
  trigger word cannot change and yields no finding, so it is only checked for
  syntax (with Python's own parser) and never parsed with libcst.
* ``Relevance``: for a file that does go through the pipeline, the line span of
  every statement (from Python's ``ast``, mapped onto the libcst statements) and
  the lines holding a trigger word. The rule applier skips a statement whose
  span holds none, so libcst neither visits nor rebuilds it.

Both are supersets by construction: a word in a comment or a string only costs
time. The words come from the rules themselves: each rule module declares its
trigger words (``hooks.Triggers``) and the registry collects them, so a rule
keyed on a new attribute or method name says so in its own ``SPEC``. The
equivalence test (``tests/migrate/test_fast_path.py``) compares the fast
pipeline with the plain one on the fixtures and on generated snippets.
"""

from __future__ import annotations

import ast
import re
import warnings
from bisect import bisect_left
from collections.abc import Iterable

import libcst as cst

from migrate.rewrite.names import iter_statements
from migrate.rewrite.registry import trigger_words

_WORDS = trigger_words()

#: Attribute and method names some rule acts on whatever the receiver is (KM403 ``fit_generator``,
#: KM302 ``add_weight``, KM402 ``lr``, KM501 ``save_weights``, ...).
METHOD_WORDS: frozenset[str] = _WORDS.methods

#: Call keywords some rule acts on (``fit``/``compile`` are only touched when one of these is passed,
#: so the keywords, not the common method names, are the trigger words).
CALL_KEYWORDS: frozenset[str] = _WORDS.keywords

#: Bare names that make a class a Keras layer/model/schedule for the rules (``__call__``:
#: KM408 edits that method of a schedule class, which the file names anyway).
CLASS_WORDS: frozenset[str] = _WORDS.names

#: Attribute names that count only together, one of each group in a statement (KM208 ``shape[i].value``).
TOGETHER: tuple[frozenset[str], ...] = _WORDS.together

#: Prefixes of imported names the rules resolve (``tensorflow.keras`` folds onto ``keras``).
IMPORT_ROOTS: tuple[str, ...] = ("keras", "tensorflow")

_GAP = rb"(?:[ \t\f\r\n\\]|#[^\r\n]*)*"  # what may stand between `.` and an attribute name


def _alternatives(words: Iterable[str]) -> bytes:
    return b"|".join(re.escape(w).encode() for w in sorted(words))


_FILE_TRIGGER = re.compile(
    rb"keras|tensorflow"
    + rb"|\b(?:" + _alternatives((CLASS_WORDS | CALL_KEYWORDS) - _WORDS.statement_only) + rb")\b"
    + rb"|\." + _GAP + rb"(?:" + _alternatives(METHOD_WORDS - _WORDS.statement_only) + rb")\b")
_TOGETHER = tuple(re.compile(rb"\." + _GAP + rb"(?:" + _alternatives(group) + rb")\b") for group in TOGETHER)
_NEWLINE = re.compile(r"\r\n|\r|\n")
_LONE_CR = re.compile(r"\r(?!\n)")


def may_need_rewrite(source: bytes) -> bool:
    """False only when no rule can fire anywhere in ``source``."""
    if _FILE_TRIGGER.search(source) is not None:
        return True
    return bool(_TOGETHER) and all(p.search(source) is not None for p in _TOGETHER)


def compiles(source: bytes) -> bool:
    """Whether Python compiles ``source`` (cheaper than ``parse_ast`` when no tree is needed).

    False also for code that parses but does not compile (``return`` outside a
    function): the caller then asks libcst, whose verdict stands.
    """
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            compile(source, "<migrate>", "exec", dont_inherit=True)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return False
    return True


def parse_ast(source: bytes | str) -> ast.Module | None:
    """Python's own parse of the source, or None when it cannot parse it."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError, OverflowError):
        return None


# ---------------------------------------------------------------------------
# Statement spans: libcst statements <-> ast statements
# ---------------------------------------------------------------------------

_COMPOUND: dict[type, tuple[type, ...]] = {
    cst.FunctionDef: (ast.FunctionDef, ast.AsyncFunctionDef),
    cst.ClassDef: (ast.ClassDef,),
    cst.If: (ast.If,),
    cst.For: (ast.For, ast.AsyncFor),
    cst.While: (ast.While,),
    cst.With: (ast.With, ast.AsyncWith),
    cst.Try: (ast.Try,),
    cst.Match: (ast.Match,),
}
if hasattr(ast, "TryStar"):
    _COMPOUND[cst.TryStar] = (ast.TryStar,)  # type: ignore[attr-defined]


class _Mismatch(Exception):
    pass


#: id(libcst statement) -> (first line incl. decorators, last line, line of its first own token)
Spans = dict[int, tuple[int, int, int]]


def statement_spans(module: cst.Module, tree: ast.Module) -> Spans:
    """Line spans of the statements of ``module``; empty when the two trees do not line up."""
    spans: Spans = {}
    try:
        _map_body(module.body, tree.body, spans)
    except (_Mismatch, AttributeError, IndexError, TypeError):
        return {}
    return spans


def _map_body(stmts: Iterable[cst.BaseStatement], nodes: list[ast.stmt], spans: Spans) -> None:
    j = 0
    for stmt in stmts:
        if isinstance(stmt, cst.SimpleStatementLine):
            k = len(stmt.body)
            group = nodes[j:j + k]
            if len(group) != k or any(isinstance(g, _COMPOUND_AST) for g in group):
                raise _Mismatch
            j += k
            first = group[0].lineno
            spans[id(stmt)] = (first, max(g.end_lineno or first for g in group), first)
            continue
        if j >= len(nodes):
            raise _Mismatch
        node = nodes[j]
        j += 1
        if not isinstance(node, _COMPOUND.get(type(stmt), ())):
            raise _Mismatch
        # a decorator's words all lie on or after its expression's first line
        start = min([node.lineno, *(dec.lineno for dec in getattr(node, "decorator_list", ()))])
        spans[id(stmt)] = (start, node.end_lineno or node.lineno, node.lineno)
        _map_children(stmt, node, spans)
    if j != len(nodes):
        raise _Mismatch


_COMPOUND_AST = tuple(t for ts in _COMPOUND.values() for t in ts)


def _block(suite: cst.BaseSuite) -> list[cst.BaseStatement] | None:
    return list(suite.body) if isinstance(suite, cst.IndentedBlock) else None


def _map_children(stmt: cst.BaseCompoundStatement, node: ast.stmt, spans: Spans) -> None:
    """Map the bodies of a compound statement (one-line suites are left unmapped: visited whole)."""
    if isinstance(stmt, cst.Match):
        return
    body = _block(stmt.body)
    if body is not None:
        _map_body(body, node.body, spans)  # type: ignore[attr-defined]
    if isinstance(stmt, cst.If):
        orelse = stmt.orelse
        if isinstance(orelse, cst.If):
            if len(node.orelse) != 1:  # type: ignore[attr-defined]
                raise _Mismatch
            _map_body([orelse], node.orelse, spans)  # type: ignore[attr-defined]
        elif isinstance(orelse, cst.Else):
            _map_else(orelse, node.orelse, spans)  # type: ignore[attr-defined]
    elif isinstance(stmt, (cst.For, cst.While)):
        if stmt.orelse is not None:
            _map_else(stmt.orelse, node.orelse, spans)  # type: ignore[attr-defined]
    elif isinstance(stmt, (cst.Try, getattr(cst, "TryStar", cst.Try))):
        handlers = node.handlers  # type: ignore[attr-defined]
        if len(handlers) != len(stmt.handlers):
            raise _Mismatch
        for h_cst, h_ast in zip(stmt.handlers, handlers):
            inner = _block(h_cst.body)
            if inner is not None:
                _map_body(inner, h_ast.body, spans)
        if stmt.orelse is not None:
            _map_else(stmt.orelse, node.orelse, spans)  # type: ignore[attr-defined]
        if stmt.finalbody is not None:
            _map_else(stmt.finalbody, node.finalbody, spans)  # type: ignore[attr-defined]


def _map_else(part: cst.Else | cst.Finally, nodes: list[ast.stmt], spans: Spans) -> None:
    inner = _block(part.body)
    if inner is not None:
        _map_body(inner, nodes, spans)


# ---------------------------------------------------------------------------
# Which statements hold a trigger word
# ---------------------------------------------------------------------------


class Relevance:
    """Answers "may a rule fire inside this statement?" from line spans and word lines."""

    def __init__(self, text: str, words: Iterable[str], spans: Spans) -> None:
        self.text = text
        self.spans = spans
        self._starts: list[int] | None = None
        self._lone_cr = "\r" in text and _LONE_CR.search(text) is not None  # old Mac line ends
        words = sorted(set(words))
        self.hot = self._lines_of(words) if words else []
        self._together = [self._lines_of(sorted(group)) for group in TOGETHER]
        self._cache: dict[str, list[int]] = {}

    def _line_starts(self) -> list[int]:
        if self._starts is None:
            text = self.text
            if self._lone_cr:
                self._starts = [0] + [m.end() for m in _NEWLINE.finditer(text)]
            else:
                starts = [0]
                i = text.find("\n")
                while i != -1:
                    starts.append(i + 1)
                    i = text.find("\n", i + 1)
                self._starts = starts
        return self._starts

    def _lines_of(self, words: list[str]) -> list[int]:
        pattern = re.compile(r"(?<![\w])(?:" + "|".join(re.escape(w) for w in words) + r")(?![\w])")
        offsets = [m.start() for m in pattern.finditer(self.text)]
        if not offsets:
            return []
        text = self.text
        if not self._lone_cr:  # count newlines between matches instead of listing every line start
            lines, line, prev = [], 1, 0
            for off in offsets:
                line += text.count("\n", prev, off)
                prev = off
                if not lines or lines[-1] != line:
                    lines.append(line)
            return lines
        starts = self._line_starts()
        lines: list[int] = []
        i = 0
        for off in offsets:  # offsets ascend: walk the line starts once
            while i + 1 < len(starts) and starts[i + 1] <= off:
                i += 1
            if not lines or lines[-1] != i + 1:
                lines.append(i + 1)
        return lines

    @staticmethod
    def _any_in(lines: list[int], start: int, end: int) -> bool:
        i = bisect_left(lines, start)
        return i < len(lines) and lines[i] <= end

    def skippable(self, stmt: cst.CSTNode, live_names: Iterable[str] = ()) -> bool:
        """True when no rule can fire inside ``stmt`` (and it rebinds none of ``live_names``)."""
        span = self.spans.get(id(stmt))
        if span is None:
            return False
        start, end, _ = span
        if self._any_in(self.hot, start, end):
            return False
        if self._together and all(self._any_in(lines, start, end) for lines in self._together):
            return False
        for name in live_names:
            lines = self._cache.get(name)
            if lines is None:
                lines = self._cache[name] = self._lines_of([name])
            if self._any_in(lines, start, end):
                return False
        return True

    def indent(self, line: int) -> str:
        """The leading whitespace of source line ``line`` (1-based)."""
        starts = self._line_starts()
        if line - 1 >= len(starts):
            return ""
        begin = starts[line - 1]
        end = begin
        while end < len(self.text) and self.text[end] in " \t\f":
            end += 1
        return self.text[begin:end]

    def anchor(self, stmt: cst.CSTNode) -> int | None:
        """Line of the first own token of ``stmt`` (the ``def``/``class`` line when decorated)."""
        span = self.spans.get(id(stmt))
        return None if span is None else span[2]

    # -- splicing: unchanged lines written as their source text ---------------------
    def verbatim(self, module: cst.Module) -> dict[int, str]:
        """``id(line) -> source text of its small statements`` for the simple statement lines
        whose text can be cut from the source exactly (see ``_line_text``)."""
        out: dict[int, str] = {}
        newline = module.default_newline
        for stmt in iter_statements(module.body):
            if type(stmt) is cst.SimpleStatementLine:
                # None for a line the spans do not map (nor pin down): it is rendered instead.
                text = self._line_text(stmt, newline)
                if text is not None:
                    out[id(stmt)] = text
        return out

    def _line_text(self, line: cst.SimpleStatementLine, newline: str) -> str | None:
        """The text of ``line``'s small statements (after its indentation, before its trailing
        whitespace), or None when the source does not pin it down.

        Python's parser (3.9 and later) gives each statement the lines of its first and last
        token, grouping parentheses included, so the line runs from its first line's
        indentation to the end of its last line; the cut is taken only when that text ends
        with the line's own trailing whitespace (spaces, comment, newline).
        """
        span = self.spans.get(id(line))
        if span is None or not line.body:
            return None
        first, last, _ = span
        starts = self._line_starts()
        if last >= len(starts):
            return None
        begin = starts[first - 1] + len(self.indent(first))
        segment = self.text[begin:starts[last]]
        ws = line.trailing_whitespace
        trailing = ws.whitespace.value + (ws.comment.value if ws.comment is not None else "") + \
            (ws.newline.value if ws.newline.value is not None else newline)
        if not segment.endswith(trailing):
            return None
        return segment[:len(segment) - len(trailing)]
