"""Rendering libcst nodes to text without libcst's per-node context managers.

``Module.code`` goes through ``CodegenState.record_syntactic_position``, a
generator-based context manager entered for every node; only position
metadata needs it. These states return one reusable null context instead, which
makes rendering a third cheaper. The text is identical (``tests/migrate/test_fast_path.py``).

``render`` can also *splice*: a simple statement line that comes out of the rule
pipeline as the very node that was parsed is written as its source text instead
of being rendered token by token (``prefilter.Relevance.verbatim`` says which
lines can be taken verbatim and gives their text).
"""

from __future__ import annotations

from contextlib import nullcontext

import libcst as cst
from libcst._nodes.internal import CodegenState

_NULL = nullcontext()


class FastState(CodegenState):
    """``CodegenState`` whose position hooks cost one call and nothing else."""

    def record_syntactic_position(  # type: ignore[no-untyped-def,override]
            self, node, *, start_node=None, end_node=None):
        return _NULL


class _Spliced(Exception):
    """Raised inside a spliced statement's body to skip rendering it (see ``SplicingState``)."""


def _refuse(node: object) -> None:
    raise _Spliced


class SplicingState(FastState):
    """``FastState`` that writes the small statements of chosen lines as given text.

    libcst renders a ``SimpleStatementLine`` as its leading lines, the indentation,
    then, inside ``record_syntactic_position(line)``, its small statements, then
    its trailing whitespace. For a line in ``verbatim`` this state adds the text
    there and makes the first small statement's ``before_codegen`` raise; the
    context manager swallows that, so libcst goes straight on to the trailing
    whitespace. The normal path pays one dictionary look-up per statement.
    """

    def __init__(self, verbatim: dict[int, str], **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self.verbatim = verbatim

    def record_syntactic_position(  # type: ignore[no-untyped-def,override]
            self, node, *, start_node=None, end_node=None):
        text = self.verbatim.get(id(node))
        if text is None:
            return _NULL
        self.tokens.append(text)
        return _Skip(self)


class _Skip:
    __slots__ = ("state",)

    def __init__(self, state: SplicingState) -> None:
        self.state = state

    def __enter__(self) -> None:
        self.state.before_codegen = _refuse  # type: ignore[method-assign]

    def __exit__(self, kind: type | None, value: object, tb: object) -> bool:
        del self.state.before_codegen
        return kind is _Spliced


def render(node: cst.CSTNode, module: cst.Module | None = None, verbatim: dict[int, str] | None = None) -> str:
    """The code of ``node`` (``module`` supplies the indentation and newline; default 4 spaces, ``\\n``).

    ``verbatim`` maps ``id(SimpleStatementLine)`` to the source text of its small
    statements; those lines are spliced in as that text. The caller keeps the parsed
    tree alive while rendering, so the ids stay unique.
    """
    options = {"default_indent": module.default_indent if module is not None else " " * 4,
               "default_newline": module.default_newline if module is not None else "\n"}
    state = SplicingState(verbatim, **options) if verbatim else FastState(**options)  # type: ignore[arg-type]
    node._codegen(state)
    return "".join(state.tokens)
