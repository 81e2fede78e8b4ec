"""Notebooks (``.ipynb``) cell by cell, without nbformat.

Only code cells are rewritten. IPython syntax that is not Python (``%magic``,
``!shell``, ``obj?``, ``x = !cmd``) is swapped for a placeholder line before
parsing and restored afterwards; a cell starting with a ``%%`` cell magic is
left alone. Imports are resolved across the whole notebook (an import in cell
1 covers a use in cell 9), and an added import goes into the first cell that
needs it. Outputs, metadata and markdown are kept exactly; the JSON is written
back with the file's own indentation and only when a cell changed.
"""

from __future__ import annotations

import json
import re
from typing import Any

from migrate.rewrite.context import Options
from migrate.rewrite.source import RewriteError, python_parse_error

_MAGIC = re.compile(r"^\s*(%|!|\?)|^[^#'\"]*\?\s*$|^\s*[\w.,\s]+=\s*[!%]")
_MARK = "pass  # migrate-ipython-line-{}"


def _detect_indent(text: str) -> int | str | None:
    for line in text.splitlines()[1:3]:
        stripped = line.lstrip(" \t")
        if stripped and len(stripped) != len(line):
            ws = line[: len(line) - len(stripped)]
            return "\t" if ws.startswith("\t") else len(ws)
    return None


def _protect(source: str) -> tuple[str, dict[int, str]] | None:
    if source.lstrip().startswith("%%"):
        return None
    saved: dict[int, str] = {}
    out = []
    for i, line in enumerate(source.split("\n")):
        if _MAGIC.match(line):
            indent = line[: len(line) - len(line.lstrip())]
            saved[i] = line
            out.append(indent + _MARK.format(i))
        else:
            out.append(line)
    return "\n".join(out), saved


def _restore(code: str, saved: dict[int, str]) -> str:
    lines = code.split("\n")
    for j, line in enumerate(lines):
        m = re.search(r"pass  # migrate-ipython-line-(\d+)$", line)
        if m and int(m.group(1)) in saved:
            lines[j] = saved[int(m.group(1))]
    return "\n".join(lines)


def _json_kind(value: object) -> str:
    kinds = {list: "a list", str: "a string", int: "a number", float: "a number", bool: "a boolean"}
    return kinds.get(type(value), "null" if value is None else type(value).__name__)


def rewrite_notebook(source: bytes, path: str, options: Options) -> tuple[bytes, list, int]:
    import libcst as cst

    from migrate.rewrite.names import collect_imports
    from migrate.rewrite.transform import finish_imports, transform_module

    try:
        text = source.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise RewriteError(f"notebook is not UTF-8 JSON ({exc.reason} at byte {exc.start})") from None
    if not text.strip():
        return source, [], 0
    try:
        nb: dict[str, Any] = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RewriteError(f"not valid notebook JSON (line {exc.lineno}: {exc.msg})") from None
    if not isinstance(nb, dict):
        raise RewriteError(f"not a notebook: the JSON holds {_json_kind(nb)} where a notebook holds an object "
                           "with a 'cells' list (nbformat 4); notebook left untouched")
    cells = nb.get("cells")
    if not isinstance(cells, list):
        raise RewriteError("not a notebook: no 'cells' list (nbformat 4 expected)")

    # (cell index, parsed body, its text, protected magics, source was a list); libcst's
    # module.code gives back the text it parsed, so the text is kept rather than rendered.
    parsed: list[tuple[int, Any, str, dict[int, str], bool] | None] = []
    all_imports: dict[str, str] = {}
    for index, cell in enumerate(cells):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            parsed.append(None)
            continue
        src = cell.get("source", "")
        as_list = isinstance(src, list)
        code = "".join(src) if as_list else str(src)
        prot = _protect(code)
        if prot is None:
            parsed.append(None)
            continue
        body, saved = prot
        # Python's parser first, for its line numbers and because it refuses cheaply what crashes libcst.
        problem = python_parse_error(body)
        if problem is not None:
            raise RewriteError(f"cell {index + 1}, {problem.replace('the file was', 'the notebook was')}")
        try:
            module = cst.parse_module(body)
        except cst.ParserSyntaxError as exc:
            raise RewriteError(f"cell {index + 1}, line {exc.raw_line}: does not parse ({exc.message}); "
                               "notebook left untouched") from None
        all_imports.update(collect_imports(module))
        parsed.append((index, module, body, saved, as_list))

    findings: list = []
    imported: dict[str, str] = {}
    changed = False
    total_lines = 0
    outcomes = []
    refs: dict[str, int] = {}
    for entry in parsed:
        if entry is None:
            continue
        index, module, body, saved, as_list = entry
        outcome = transform_module(module, options, f"{path}[cell {index + 1}]", imports_override=all_imports,
                                   source_text=body, finish=False)
        outcomes.append((entry, outcome))
        for alias, n in (outcome.alias_refs or {}).items():
            refs[alias] = refs.get(alias, 0) + n
    # an alias imported in one cell may be used in another: drop it only if no cell uses it
    unused = frozenset(a for a, n in refs.items() if n <= 0)
    for entry, outcome in outcomes:
        index, module, body, saved, as_list = entry
        new_module = finish_imports(outcome.module, outcome.needs, imported, unused)
        imported.update(collect_imports(new_module))
        findings.extend(outcome.findings)
        total_lines += body.count("\n") + 1
        if new_module is module:
            continue
        new_body = new_module.code
        if new_body == body:
            continue
        new_code = _restore(new_body, saved)
        cell = cells[index]
        if as_list:
            cell["source"] = new_code.splitlines(keepends=True)
        else:
            cell["source"] = new_code
        changed = True
    if not changed:
        return source, findings, total_lines
    indent = _detect_indent(text)
    out = json.dumps(nb, indent=indent, ensure_ascii=False)
    if text.endswith("\n"):
        out += "\n"
    return out.encode("utf-8"), findings, total_lines
