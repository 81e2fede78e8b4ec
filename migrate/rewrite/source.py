"""Reading an input file and deciding whether Python can read it, before libcst sees it.

Both guard the worker processes from hostile inputs:

* ``read_source`` reads only a regular file, and at most ``limit`` bytes of it: a
  FIFO would block the read forever, a character device (``/dev/zero`` behind a
  ``.py`` name) would never end, and a huge file would exhaust memory in libcst.
* ``python_parse_error`` asks Python's own parser first. It refuses cheaply what
  would crash or stall libcst's native parser (more than 200 nested brackets make
  Python say "too many nested parentheses"; about 1,500 of them segfault libcst),
  and it gives the line that Python reports, which is the one a user's editor and
  ``python file.py`` show.

``RewriteError`` lives here (not in ``engine``) so that ``engine`` and ``notebook``
can both use it without importing each other.
"""

from __future__ import annotations

import errno
import io
import os
import stat
import tokenize
import warnings
from dataclasses import dataclass

#: Default bound on the size of one input file (``--max-size`` raises it).
DEFAULT_MAX_BYTES = 32 * 1024 * 1024


class RewriteError(Exception):
    """A file could not be processed; the message says why and what to do."""


@dataclass(frozen=True)
class Stamp:
    """What identifies the version of a file that was read (to notice a change before writing)."""

    device: int
    inode: int
    size: int
    mtime_ns: int

    @classmethod
    def of(cls, st: os.stat_result) -> Stamp:
        return cls(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def read_source(path: str, limit: int = DEFAULT_MAX_BYTES) -> tuple[bytes, Stamp]:
    """The bytes of the regular file ``path`` and its stamp. Raises ``RewriteError`` otherwise.

    The file is opened non-blocking, so that opening a FIFO returns at once, and the
    kind is taken from the open descriptor (``fstat``), so that nothing can swap the
    file between the check and the read. At most ``limit + 1`` bytes are read even
    if the file grows meanwhile.
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except FileNotFoundError:
        raise RewriteError("no longer exists (deleted or moved during the run); nothing written") from None
    except OSError as exc:
        if exc.errno == errno.ENXIO:  # a socket, or a FIFO opened for writing elsewhere
            raise RewriteError("not a regular file; skipped") from None
        raise RewriteError(f"cannot read: {exc.strerror or exc}") from None
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode):
            raise RewriteError(f"not a regular file ({_kind(st.st_mode)}); skipped, nothing read")
        if st.st_size > limit:
            raise RewriteError(f"{_mib(st.st_size)} is over the size limit of {_mib(limit)}; "
                               "raise it with --max-size MB if this file is really Python source")
        chunks: list[bytes] = []
        size = 0
        while True:
            try:
                chunk = os.read(fd, min(1 << 20, limit + 1 - size))
            except BlockingIOError:  # pragma: no cover - regular files never block
                continue
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                raise RewriteError(f"grew over the size limit of {_mib(limit)} while being read; "
                                   "raise it with --max-size MB")
        return b"".join(chunks), Stamp.of(st)
    except OSError as exc:
        raise RewriteError(f"cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISFIFO, "a FIFO"), (stat.S_ISCHR, "a character device"),
                       (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"),
                       (stat.S_ISDIR, "a directory")):
        if test(mode):
            return name
    return "not a plain file"


def _mib(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def python_parse_error(source: bytes | str) -> str | None:
    """Why Python's parser refuses ``source`` (a message with Python's line), or None if it parses.

    ``bytes`` are decoded as Python does (BOM, coding cookie, else UTF-8); a file
    that cannot be decoded gets a message that says how to fix the encoding.
    """
    import ast

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences and the like are not errors
            ast.parse(source)
    except SyntaxError as exc:
        if isinstance(source, bytes):
            decode_problem = _decode_problem(source)
            if decode_problem is not None:
                return decode_problem
        if "null bytes" in str(exc.msg):
            return "contains NUL bytes, which Python source cannot; is this really a Python file?"
        where = f"line {exc.lineno}:{exc.offset}: " if exc.lineno else ""
        return (f"{where}does not parse ({exc.msg}); fix the syntax so that "
                "`python -m py_compile` accepts it (the file was left untouched)")
    except (RecursionError, MemoryError):
        # Python's parser ran out of its own stack: libcst's would crash or take minutes.
        return ("too deeply nested for Python's parser (thousands of nested operators or brackets); "
                "file left untouched, split the expression to rewrite it")
    except (ValueError, OverflowError) as exc:  # pragma: no cover - defensive: ast.parse raises SyntaxError
        return f"does not parse ({exc}); file left untouched"
    return None


def _decode_problem(source: bytes) -> str | None:
    """A message when ``source`` cannot be decoded the way Python decodes it, else None."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        source.decode(encoding)
    except (SyntaxError, UnicodeDecodeError, LookupError) as exc:
        return (f"cannot decode: {exc}; save the file as UTF-8 "
                "(or declare its encoding with a coding cookie)")
    return None
