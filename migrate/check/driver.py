"""``migrate check`` (alias ``doctor``): run the KC1xx pitfall checks over files, trees and notebooks.

Report only: nothing is written except the ``--report`` JSON. Each file is read
(``rewrite.source.read_source``: regular files only, bounded size), parsed with
Python's ``ast`` and read once into a ``Program``; every selected check module
then looks at it. A notebook's code cells are joined into one program (a loss
built in cell 2 meets the model compiled in cell 5) and findings are placed back
in their cell. A file that does not parse fails with one line naming the file and
line; the other files are still checked.

Exit status: 0 nothing found, 1 findings, 2 a file failed (or a usage error).
Startup imports neither TensorFlow nor libcst (notebooks import the rewrite's
IPython-line handling, which brings libcst).
"""

from __future__ import annotations

import argparse
import ast
import importlib
import json
import sys
import warnings
from collections.abc import Iterator
from types import ModuleType

from migrate.check.catalog import (
    CHECKS,
    CHECKS_BY_ID,
    FAMILY_DESCRIPTION,
    expand_selection,
)
from migrate.rewrite.findings import FileResult, Finding, write_report
from migrate.rewrite.source import (
    DEFAULT_MAX_BYTES,
    RewriteError,
    python_parse_error,
    read_source,
)

#: One module per check; each has ``IDS`` and ``run(program)`` yielding (id, node, message).
CHECK_MODULES = ("logits_loss", "padded_softmax", "mask_polarity", "lr_twice", "accuracy_logits")


class CheckError(Exception):
    """A file could not be checked; the message names the line when there is one."""


def modules() -> Iterator[ModuleType]:
    for name in CHECK_MODULES:
        yield importlib.import_module(f"migrate.check.{name}")


def check_source(source: bytes | str, path: str, selected: frozenset[str] | None = None) -> list[Finding]:
    """The findings of the selected checks (all when ``selected`` is None) on one Python source."""
    from migrate.check.program import Program

    tree = _parse(source)
    text = source if isinstance(source, str) else _text(source)
    return _run(Program(tree, path, text), path, selected, lambda line: (path, line))


def _text(source: bytes) -> str:
    """The source as text for quoting it in messages (as Python decodes it; empty when it cannot)."""
    import io
    import tokenize

    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        return source.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError):
        return ""


def _parse(source: bytes | str) -> ast.Module:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(source)
    except SyntaxError as exc:
        if exc.lineno:
            raise CheckError(f"{exc.lineno}: does not parse ({exc.msg}); fix the syntax to check it") from None
        raise CheckError(python_parse_error(source) or f"does not parse ({exc.msg})") from None
    except (RecursionError, MemoryError, ValueError):
        raise CheckError(python_parse_error(source) or "does not parse") from None


def _run(program: object, path: str, selected: frozenset[str] | None, place: object) -> list[Finding]:
    findings: list[Finding] = []
    seen: set[tuple[str, int, int]] = set()
    for module in modules():
        if selected is not None and not set(module.IDS) & selected:
            continue
        for rule, node, message in module.run(program):
            if selected is not None and rule not in selected:
                continue
            where, line = place(node.lineno)  # type: ignore[attr-defined,operator]
            key = (rule, node.lineno, node.col_offset)  # type: ignore[attr-defined]
            if key in seen:
                continue
            seen.add(key)
            findings.append(Finding(rule, where, line, node.col_offset + 1,  # type: ignore[attr-defined]
                                    message, safe=False, fixed=False))
    findings.sort(key=lambda f: (f.path, f.line, f.column, f.rule))
    return findings


def check_notebook(source: bytes, path: str, selected: frozenset[str] | None = None) -> list[Finding]:
    """A notebook's code cells as one program; findings say ``path[cell N]:line``."""
    from migrate.check.program import Program
    from migrate.rewrite.notebook import (
        _protect,  # IPython lines -> placeholders, as the rewrite does
    )

    try:
        nb = json.loads(source.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CheckError(f"not a readable notebook ({exc}); nothing checked") from None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        raise CheckError("not a notebook: no 'cells' list (nbformat 4 expected)")
    parts: list[str] = []
    starts: list[tuple[int, int]] = []  # (first line in the joined code, cell number)
    line = 1
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source", "")
        code = "".join(src) if isinstance(src, list) else str(src)
        protected = _protect(code)
        if protected is None:
            continue
        body = protected[0].rstrip("\n") + "\n"
        try:
            _parse(body)
        except CheckError as exc:
            raise CheckError(f"cell {index + 1}, line {exc}") from None
        starts.append((line, index + 1))
        parts.append(body)
        line += body.count("\n")

    def place(at: int) -> tuple[str, int]:
        first, cell = max((s for s in starts if s[0] <= at), default=(1, 1))
        return f"{path}[cell {cell}]", at - first + 1

    joined = "".join(parts)
    return _run(Program(_parse(joined), path, joined), path, selected, place)


def check_file(path: str, selected: frozenset[str] | None, max_bytes: int = DEFAULT_MAX_BYTES) -> FileResult:
    """One file's result: ``checked`` with its findings, or ``failed`` with why. Never raises for bad input."""
    try:
        source, _ = read_source(path, max_bytes)
        if path.endswith(".ipynb"):
            findings = check_notebook(source, path, selected)
        else:
            findings = check_source(source, path, selected)
    except (RewriteError, CheckError) as exc:
        return FileResult(path, "failed", error=str(exc))
    except RecursionError:
        return FileResult(path, "failed", error="too deeply nested to read; not checked")
    except Exception as exc:  # a check bug must not take the batch down
        return FileResult(path, "failed", error=f"internal error {type(exc).__name__}: {exc}; please report")
    return FileResult(path, "checked", findings=findings, lines=source.count(b"\n"))


# -- command line ---------------------------------------------------------------------------


def add_check_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    ck = sub.add_parser(
        "check", aliases=["doctor"],
        help="report numerical pitfalls in Keras programs (logits vs probabilities, masks, learning rates)",
        description="Report, without changing anything, Keras code that runs but computes the wrong numbers "
                    f"(KC1xx: {FAMILY_DESCRIPTION}). Exit 0: nothing found; 1: findings; 2: a file failed.")
    ck.add_argument("paths", nargs="*", metavar="PATH", help="files or directories (.py and .ipynb)")
    ck.add_argument("--select", nargs="+", metavar="CHECK", help="only these check ids or prefixes (e.g. KC101)")
    ck.add_argument("--ignore", nargs="+", metavar="CHECK", help="skip these check ids or prefixes")
    ck.add_argument("--report", metavar="FILE.json", help="write every finding as JSON")
    ck.add_argument("--max-size", type=float, default=32.0, metavar="MB",
                    help="larger files are not read and fail (default: 32)")
    ck.add_argument("--list", action="store_true", help="list the checks and exit")
    ck.add_argument("-q", "--quiet", action="store_true", help="print only the summary line")


def cmd_check(args: argparse.Namespace) -> int:
    from migrate.rewrite.engine import discover

    if args.list:
        for c in CHECKS:
            print(f"{c.id}  {c.name:<22} {c.description}")
        return 0
    if not args.paths:
        print("migrate check: error: give files or directories to check", file=sys.stderr)
        return 2
    try:
        select = expand_selection(args.select) or set(CHECKS_BY_ID)
        selected = frozenset(select - expand_selection(args.ignore))
    except ValueError as exc:
        print(f"migrate check: error: {exc}", file=sys.stderr)
        return 2
    if not args.max_size > 0:
        print("migrate check: error: --max-size must be a positive number", file=sys.stderr)
        return 2
    pairs, results = discover(args.paths, None)
    max_bytes = int(args.max_size * 1024 * 1024)
    try:
        for src, _ in pairs:
            results.append(check_file(src, selected, max_bytes))
    except KeyboardInterrupt:
        print("migrate check: interrupted", file=sys.stderr)
        return 130
    findings = [f for r in results for f in r.findings]
    if not args.quiet:
        for r in results:
            if r.status == "failed":
                where = r.error.split(":", 1)
                if where[0].isdigit():  # "LINE: ..." -> "path:LINE: error: ..."
                    print(f"{r.path}:{where[0]}: error:{where[1]}", file=sys.stderr)
                else:
                    print(f"{r.path}: error: {r.error}", file=sys.stderr)
            elif r.status == "skipped":
                print(f"{r.path}: skipped: {r.error}", file=sys.stderr)
        for f in findings:
            print(f"{f.path}:{f.line}:{f.column}: {f.rule} {f.message}")
    if args.report:
        if not write_report(args.report, results, "migrate check"):
            return 2
    sys.stdout.flush()  # the findings before the summary when both go to one terminal or file
    checked = sum(r.status == "checked" for r in results)
    failed = sum(r.status == "failed" for r in results)
    print(f"{checked} file{'s' if checked != 1 else ''} checked, {failed} failed; "
          f"{len(findings)} finding{'s' if len(findings) != 1 else ''}", file=sys.stderr)
    if failed:
        return 2
    return 1 if findings else 0
