"""Errors of the weight porter; each names the file and the weight or layer."""

from __future__ import annotations

# An exception text quoted inside one of our messages is cut here: Keras and
# TensorFlow errors can run to pages (a whole layer list, a C++ stack).
QUOTE_LIMIT = 300


def one_line(text: object, limit: int = QUOTE_LIMIT) -> str:
    """``text`` (often a third-party exception) as one line of at most ``limit`` characters.

    Keras and TensorFlow exception texts span several lines (argument dumps,
    indented tracebacks); pasted into our ``migrate port: error:`` line they
    would break the one-line promise and bury the part that matters.
    """
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 3].rstrip() + "..."


class PortError(Exception):
    """A port cannot go on. The message is one line for the user: it names the
    file, the weight or layer at fault, and what to do about it."""

    exit_code = 2

    def __init__(self, path: object, message: str) -> None:
        self.path = one_line(path, limit=1000)
        # Whatever a caller pasted in (an exception text with newlines), the
        # message stays one line.
        self.detail = " ".join(str(message).split())
        super().__init__(f"{self.path}: {self.detail}")


class UnsafeSourceError(PortError):
    """The source file contains something a port never follows or executes
    (external links, external or virtual datasets, absurd shapes, code)."""


TENSORFLOW_EXTRA = "pip install 'keras-migrate[tensorflow]'"


def require_tensorflow(path: object, what: str) -> None:
    """Fail with one line naming the extra when ``what`` needs TensorFlow and tf_keras.

    keras-migrate itself needs only Keras 3 (any backend): TensorFlow and
    tf_keras come with its ``tensorflow`` extra, for TF checkpoints and for
    running the legacy model (``--verify``, ``--legacy``).
    """
    import importlib.util

    missing = [name for name in ("tensorflow", "tf_keras") if importlib.util.find_spec(name) is None]
    if missing:
        raise PortError(path, f"{what} needs {' and '.join(missing)}, which keras-migrate installs with its "
                              f"'tensorflow' extra: {TENSORFLOW_EXTRA}")
