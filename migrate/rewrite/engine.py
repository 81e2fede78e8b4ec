"""Files in, results out: discovery, reading, parsing, the rule pipeline, atomic writes.

Every input yields exactly one ``FileResult`` (a symbolic link whose target is
rewritten under its own name yields none of its own). A file is written only
when the whole pipeline succeeded on it and the new code parses; it is written
to a temporary file in the same directory and moved into place with
``os.replace``, so an interrupted run never leaves a half-written file. A file
that does not parse (or cannot be read or decoded, or changed or vanished
while it was being rewritten) is reported and left byte-for-byte as it was.

``process`` runs one file; ``workers`` runs it in worker processes, so that a
crash or a stall of libcst's native parser fails that file and not the run.
"""

from __future__ import annotations

import difflib
import gc
import os
import sys
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from migrate.rewrite.context import Options
from migrate.rewrite.findings import FileResult
from migrate.rewrite.notebook import rewrite_notebook

# RewriteError is defined in ``source`` and re-exported here, where callers have always found it.
from migrate.rewrite.source import (
    DEFAULT_MAX_BYTES,
    RewriteError,
    Stamp,
    python_parse_error,
    read_source,
)

SUFFIXES = (".py", ".ipynb")
SKIP_DIRS = {".git", ".hg", ".svn", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache",
             ".pytest_cache", "node_modules", ".ipynb_checkpoints", "build", "dist"}


@dataclass(frozen=True)
class Task:
    path: str
    output: str | None  # None: in place
    options: Options
    write: bool  # False for --diff / --check
    want_diff: bool
    max_bytes: int = DEFAULT_MAX_BYTES  # a larger input is refused unread (--max-size)


def discover(paths: Iterable[str], output: str | None) -> tuple[list[tuple[str, str | None]], list[FileResult]]:
    """(source, destination) pairs to rewrite, and results for inputs that are not rewritten.

    Directories are walked without following symbolic links to directories. A
    symbolic link to a file is kept as a link: its target is rewritten (once, however
    many links point at it) when it lies inside the tree being rewritten (the
    directory given, or the directory of a file given), and is otherwise reported as
    skipped, so that ``migrate rewrite`` never writes outside what it was asked to.
    An input that does not exist is a failed result.
    """
    pairs: list[tuple[str, str | None]] = []
    results: list[FileResult] = []
    seen: set[str] = set()  # real paths already queued

    def add(src: str, tree: str, root: str, dst: str | None, mirror: bool) -> None:
        """Queue ``src`` found under ``root`` (whose real path is ``tree``).

        ``dst``: where -o writes it; ``mirror``: -o mirrors the tree, so a link's target
        goes to the target's own place in the mirror.
        """
        real = os.path.realpath(src)
        if not os.path.islink(src):
            if real not in seen:
                seen.add(real)
                pairs.append((src, dst))
            return
        if not os.path.exists(real):
            results.append(FileResult(src, "skipped",
                                      error=f"broken symbolic link (to {os.readlink(src)}); left as it is"))
            return
        if not _within(real, tree):
            results.append(FileResult(src, "skipped",
                                      error=f"symbolic link to {real}, outside the tree being rewritten; "
                                            "left as it is (rewrite the target itself if you mean to)"))
            return
        if real in seen:
            return
        seen.add(real)
        # The target, by its path inside the tree as the user wrote the tree's root.
        target = os.path.join(root, os.path.relpath(real, tree))
        if mirror and output is not None:
            dst = str(Path(output) / os.path.relpath(real, tree))
        pairs.append((target, dst))

    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            tree = os.path.realpath(p)
            links: list[tuple[str, str | None]] = []
            for root, dirs, files in os.walk(p):
                dirs[:] = sorted(d for d in dirs if d not in SKIP_DIRS and not d.startswith("."))
                for name in sorted(files):
                    if name.endswith(SUFFIXES):
                        src = Path(root) / name
                        dst = str(Path(output) / src.relative_to(p)) if output is not None else None
                        if os.path.islink(src):
                            links.append((str(src), dst))  # after the regular files: a target is found by its own name
                        else:
                            add(str(src), tree, str(p), dst, True)
            for src, dst in links:
                add(src, tree, str(p), dst, True)
        elif p.exists() or p.is_symlink():
            dst = None
            if output is not None:
                out = Path(output)
                dst = str(out / p.name) if out.is_dir() else str(out)
            parent = p.parent
            add(str(p), os.path.realpath(parent), str(parent), dst, False)
        else:
            results.append(FileResult(str(p), "failed", error="no such file or directory"))
    return pairs, results


def _within(path: str, tree: str) -> bool:
    """Whether the real path ``path`` lies inside the real directory ``tree``."""
    try:
        return os.path.commonpath([path, tree]) == tree
    except ValueError:  # different drives (Windows)
        return False


def _decode_error(path: str, exc: Exception) -> str:
    return f"cannot decode: {exc}; save the file as UTF-8 (or declare its encoding with a coding cookie)"


def _refuse_what_python_refuses(source: bytes) -> None:
    """Raise ``RewriteError`` with Python's own message and line when Python cannot parse ``source``.

    libcst never sees such a file: its native parser crashes on about 1,500 nested
    brackets (Python stops at 200) and its line numbers for a syntax error can
    differ from the ones ``python`` and editors show. Code that parses but does not
    compile (``return`` outside a function) goes on to libcst, which accepts it.
    """
    problem = python_parse_error(source)
    if problem is not None:
        raise RewriteError(problem)


def rewrite_python(source: bytes, path: str, options: Options, *, fast: bool = True) -> tuple[bytes, list, int]:
    """Rewrite Python source bytes. Raises ``RewriteError`` with a message naming what to do.

    ``fast`` (the default) takes the short cuts of ``prefilter``: a file in which no
    rule can fire is only compiled by Python (libcst decides when that fails); statements with
    nothing to rewrite are skipped; an unchanged file is not rendered again; the
    output is re-parsed by Python's parser (libcst's when Python's cannot read the
    input either). ``fast=False`` runs the plain pipeline; both give the same result.
    """
    import libcst as cst

    from migrate.rewrite.render import render
    from migrate.rewrite.transform import transform_module

    tree = None
    if fast:
        from migrate.rewrite.prefilter import compiles, may_need_rewrite, parse_ast

        # A file that reaches Keras only through another module of the tree may not say "keras".
        if not may_need_rewrite(source) and not options.tree_imports.get(str(Path(path).resolve())):
            if compiles(source):
                return source, [], source.count(b"\n")
            _refuse_what_python_refuses(source)
        else:
            tree = parse_ast(source)
            if tree is None:
                _refuse_what_python_refuses(source)
    else:
        _refuse_what_python_refuses(source)
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        raise RewriteError(f"line {exc.raw_line}:{exc.raw_column}: does not parse ({exc.message}); "
                           "fix the syntax (the file was left untouched)") from None
    except (UnicodeDecodeError, LookupError) as exc:
        raise RewriteError(_decode_error(path, exc)) from None
    except SyntaxError as exc:  # raised by the encoding detection, e.g. Latin-1 bytes without a cookie
        raise RewriteError(_decode_error(path, exc)) from None
    text = _source_text(source, module) if fast else module.code
    outcome = transform_module(module, options, path, source_text=text, fast=fast, tree=tree)
    new_module = outcome.module
    if fast and new_module is module:
        return source, outcome.findings, text.count("\n")
    # Lines that come out of the rules as the very nodes parsed are copied from the source.
    verbatim = outcome.relevance.verbatim(module) if fast and outcome.relevance is not None else None
    new_code = render(new_module, new_module, verbatim) if fast else new_module.code
    if outcome.unused_aliases and _still_referenced(new_code, outcome.unused_aliases):
        # Safety net: an alias counted as unused is still in the code; keep its import.
        from migrate.rewrite.transform import finish_imports

        assert outcome.unfinished is not None
        new_module = finish_imports(outcome.unfinished, outcome.needs)
        new_code = render(new_module, new_module, verbatim) if fast else new_module.code
    new_bytes = new_code.encode(new_module.encoding)
    if new_bytes != source:
        _check_parses(new_bytes, fast and tree is not None)
    return new_bytes, outcome.findings, text.count("\n")


_WARM_UP = b"from keras import backend as K\nimport json\nx = K.sum(json.loads('[1]'))\n"


def warm_up() -> None:
    """Import everything the pipeline needs, by rewriting a tiny legacy snippet (cheap when done)."""
    rewrite_python(_WARM_UP, "<warm-up>", Options())


def _source_text(source: bytes, module: object) -> str:
    """The module's text without rendering it (libcst round-trips the bytes exactly)."""
    try:
        text = source.decode(module.encoding)  # type: ignore[attr-defined]
    except (UnicodeDecodeError, LookupError):
        return module.code  # type: ignore[attr-defined,no-any-return]
    return text[1:] if text.startswith("\ufeff") else text


def _check_parses(new_bytes: bytes, python_can: bool) -> None:
    """Never write code that does not parse: a rule bug is reported, the file left alone."""
    import libcst as cst

    if python_can:
        import ast
        import warnings

        from migrate.rewrite.prefilter import compiles

        if compiles(new_bytes):
            return
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ast.parse(new_bytes)
        except (SyntaxError, ValueError) as exc:
            where = f" at line {exc.lineno}" if isinstance(exc, SyntaxError) and exc.lineno else ""
            raise RewriteError(f"internal error: rewritten code does not parse{where} ({exc}); "
                               "file left untouched, please report") from None
        return
    try:
        cst.parse_module(new_bytes)
    except cst.ParserSyntaxError as exc:  # pragma: no cover - a rule bug; never write it
        raise RewriteError(f"internal error: rewritten code does not parse ({exc.message}); "
                           "file left untouched, please report") from None


def _still_referenced(code: str, aliases: frozenset[str]) -> bool:
    import re

    for alias in aliases:
        for m in re.finditer(rf"(?<![\w.]){re.escape(alias)}\b", code):
            line = code[code.rfind("\n", 0, m.start()) + 1: code.find("\n", m.start())]
            if not re.match(r"\s*(from|import)\s", line) and "#" not in line[: m.start()]:
                return True
    return False


def atomic_write(path: str, data: bytes, mode_from: str | None = None, durable: bool = True) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same directory.

    ``durable``: flush the data to disk before the rename, so that a power cut cannot
    leave an empty file in place of the user's source (an interrupted process never
    can: the rename is atomic either way). Needed when ``path`` is the user's file.
    """
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(path)}.", suffix=".migrate-tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if durable:
                fh.flush()
                os.fsync(fh.fileno())
        src_mode = mode_from if mode_from and os.path.exists(mode_from) else (path if os.path.exists(path) else None)
        if src_mode is not None:
            os.chmod(tmp, os.stat(src_mode).st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector paused while one file is processed.

    A file's trees are freed by reference counting (the pipeline makes no reference
    cycles of them), but while they are being built the collector would walk them
    again and again: about a tenth of the CPU time on dense legacy files. Whatever
    cycles a file does make are collected right after it, with the young generation.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
        gc.collect(0)


def process(task: Task) -> FileResult:
    """Run one file. Never raises for a bad input: the result says what happened."""
    with _collector_paused():
        return _process(task)


def _process(task: Task) -> FileResult:
    path = task.path
    try:
        source, stamp = read_source(path, task.max_bytes)
    except RewriteError as exc:
        return FileResult(path, "failed", error=str(exc))
    try:
        if path.endswith(".ipynb"):
            new, findings, lines = rewrite_notebook(source, path, task.options)
        else:
            new, findings, lines = rewrite_python(source, path, task.options)
    except RewriteError as exc:
        return FileResult(path, "failed", error=str(exc))
    except RecursionError:
        return FileResult(path, "failed", error="too deeply nested to parse; file left untouched")
    except Exception as exc:  # a rule bug must not take the batch down
        return FileResult(path, "failed",
                          error=f"internal error {type(exc).__name__}: {exc}; file left untouched, please report")
    changed = new != source
    result = FileResult(path, "changed" if changed else "unchanged", findings=findings, lines=lines)
    if changed and task.want_diff:
        result.diff = make_diff(path, source, new)
    dest = task.output or path
    if task.write and (changed or task.output is not None):
        if task.output is None:
            problem = _cannot_replace(path, stamp)
            if problem:
                return FileResult(path, "failed", findings=findings, lines=lines, error=problem)
        try:
            # in place, the user's source is replaced: make it durable; a copy under -o need not be
            atomic_write(dest, new, mode_from=path, durable=task.output is None)
        except OSError as exc:
            return FileResult(path, "failed", findings=findings, lines=lines,
                              error=f"cannot write {dest}: {exc.strerror or exc}")
        result.written_to = dest
    return result


def _cannot_replace(path: str, stamp: Stamp) -> str:
    """Why the file read as ``stamp`` must not be replaced now ("" when it may be)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return "deleted or moved during the run; nothing written"
    except OSError as exc:
        return f"cannot check before writing: {exc.strerror or exc}; nothing written"
    if Stamp.of(st) != stamp:
        return "changed on disk during the run; nothing written, run migrate again"
    if not os.access(path, os.W_OK) or not st.st_mode & 0o222:
        return "file is read-only; make it writable or use -o/--output"
    return ""


def make_diff(path: str, old: bytes, new: bytes) -> str:
    a = old.decode("utf-8", errors="replace").splitlines(keepends=True)
    b = new.decode("utf-8", errors="replace").splitlines(keepends=True)
    return "".join(difflib.unified_diff(a, b, fromfile=f"a/{path}", tofile=f"b/{path}"))


def default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - non-Linux
        return os.cpu_count() or 1


def is_tty(stream: object = sys.stderr) -> bool:
    return bool(getattr(stream, "isatty", lambda: False)())
