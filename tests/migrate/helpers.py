"""Shared helpers for the codemod tests."""

from __future__ import annotations

import textwrap

from migrate.rewrite.context import Options
from migrate.rewrite.engine import rewrite_python
from migrate.rewrite.findings import Finding


def rw(src: str, **options: object) -> tuple[str, list[Finding]]:
    """Rewrite dedented ``src``; return the new code and the findings."""
    code = textwrap.dedent(src).lstrip("\n")
    opts = Options(**options)  # type: ignore[arg-type]
    new, findings, _ = rewrite_python(code.encode("utf-8"), "t.py", opts)
    return new.decode("utf-8"), findings


def rules_of(findings: list[Finding], fixed: bool | None = None) -> set[str]:
    return {f.rule for f in findings if fixed is None or f.fixed == fixed}


def assert_fixed_point(src: str, **options: object) -> str:
    """Rewrite twice; the second run must change nothing."""
    once, _ = rw(src, **options)
    twice, _ = rw(once, **options)
    assert twice == once, f"not idempotent:\n--- first\n{once}\n--- second\n{twice}"
    return once
