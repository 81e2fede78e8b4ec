"""Findings and per-file results: plain data, picklable across worker processes."""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass, field


@dataclass
class Finding:
    """One spot the codemod rewrote or could not rewrite.

    ``fixed`` is True when the rewrite was applied; ``safe`` is the rule tier.
    A finding that is not fixed needs a human.
    """

    rule: str
    path: str
    line: int
    column: int
    message: str
    safe: bool
    fixed: bool

    def format(self) -> str:
        state = "fixed" if self.fixed else "needs review"
        return f"{self.path}:{self.line}:{self.column}: {self.rule} {self.message} [{state}]"

    def to_json(self) -> dict[str, object]:
        d = asdict(self)
        d["tier"] = "safe" if self.safe else "unsafe"
        return d


@dataclass
class FileResult:
    """The outcome for one input file. Every input yields exactly one."""

    path: str
    status: str  # "changed" | "unchanged" | "failed" | "skipped" (a link out of the tree: ``error`` says why)
    findings: list[Finding] = field(default_factory=list)
    error: str = ""
    diff: str = ""
    lines: int = 0
    written_to: str = ""

    @property
    def needs_human(self) -> bool:
        return any(not f.fixed for f in self.findings)


def write_report(path: str, results: list[FileResult], prog: str) -> bool:
    """Write the ``--report`` JSON (each file with its status, every finding); False, with one
    line on stderr, when it cannot be written. ``migrate rewrite`` and ``migrate check`` share it."""
    from migrate import __version__

    payload = {
        "version": __version__,
        "files": [{"path": r.path, "status": r.status, "error": r.error} for r in results],
        "findings": [f.to_json() for r in results for f in r.findings],
    }
    try:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(payload, fh, indent=2)
            fh.write("\n")
    except OSError as exc:
        print(f"{prog}: error: cannot write report {path}: {exc.strerror}", file=sys.stderr)
        return False
    return True
