"""Running the checks on a program given as text."""

from __future__ import annotations

import textwrap

from migrate.check.driver import check_source


def hits(code: str, select: str | None = None) -> list[tuple[str, int]]:
    """(check id, line) of every finding on ``code`` (dedented), optionally of one check only."""
    found = check_source(textwrap.dedent(code), "prog.py", frozenset({select}) if select else None)
    return [(f.rule, f.line) for f in found]


def line_of(code: str, marker: str) -> int:
    """The 1-based line of ``code`` (dedented) holding ``marker``."""
    lines = textwrap.dedent(code).splitlines()
    matches = [i + 1 for i, text in enumerate(lines) if marker in text]
    assert len(matches) == 1, (marker, matches)
    return matches[0]
