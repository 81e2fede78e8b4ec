"""What a port reads from the user: SOURCE, and the factories of ``--model``/``--legacy``.

Shared by the porter (:mod:`migrate.weights.port`) and the legacy oracle's
child process (:mod:`migrate.weights.legacy_oracle`), which both open SOURCE
and may run the user's factory; neither imports the other.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from typing import Any, Callable

from migrate.weights.errors import PortError, one_line, require_tensorflow
from migrate.weights.h5 import DEFAULT_MAX_WEIGHT_BYTES, is_hdf5, read_h5
from migrate.weights.source import WeightSource
from migrate.weights.tf_checkpoint import is_tf_checkpoint, read_tf_checkpoint


def read_source(path: Path, max_weight_bytes: int = DEFAULT_MAX_WEIGHT_BYTES) -> WeightSource:
    """Open SOURCE with the reader its format needs."""
    if not path.exists() and not Path(f"{path}.index").exists():
        raise PortError(path, "no such file or directory")
    if path.exists() and not (path.is_file() or path.is_dir()):
        # A FIFO or a device would block or never end.
        raise PortError(path, "is not a regular file or a directory")
    if path.is_file() and is_hdf5(path):
        return read_h5(path, max_weight_bytes)
    if is_tf_checkpoint(path):
        require_tensorflow(path, "reading a TF checkpoint or SavedModel")
        return read_tf_checkpoint(path, max_weight_bytes)
    raise PortError(path, "is neither a Keras HDF5 file, a TF checkpoint nor a SavedModel directory")


def load_factory(spec: str, what: str = "--model", *, legacy: bool = False) -> Callable[[], Any]:
    """Resolve ``path/to/file.py:factory`` or ``package.module:factory``.

    This runs the user's own code (their model definition), never anything
    stored in a checkpoint. With ``legacy``, a file is the user's unmodified
    legacy program and runs on tf_keras through :mod:`legacy_ref.shim`.
    """
    module_part, sep, attr = spec.rpartition(":")
    if not sep or not module_part or not attr:
        raise PortError(spec, f"{what} must be 'path/to/file.py:factory' or 'package.module:factory'")
    if module_part.endswith(".py") and legacy:
        file = Path(module_part)
        if not file.is_file():
            raise PortError(file, f"{what}: no such file")
        from legacy_ref.shim import load_legacy_program

        try:
            module = load_legacy_program(file, name=f"_migrate_legacy_{file.stem}")
        except (Exception, SystemExit) as exc:
            raise PortError(file, f"{what}: running it on tf_keras failed ({_describe(exc)})") from exc
    elif module_part.endswith(".py"):
        file = Path(module_part)
        if not file.is_file():
            raise PortError(file, f"{what}: no such file")
        name = f"_migrate_factory_{abs(hash(file.resolve()))}"
        module_spec = importlib.util.spec_from_file_location(name, file)
        if module_spec is None or module_spec.loader is None:
            raise PortError(file, f"{what}: cannot load this file as a Python module")
        module = importlib.util.module_from_spec(module_spec)
        sys.modules[name] = module
        sys.path.insert(0, str(file.parent.resolve()))
        try:
            module_spec.loader.exec_module(module)
        except (Exception, SystemExit) as exc:
            raise PortError(file, f"{what}: importing it failed ({_describe(exc)})") from exc
        finally:
            sys.path.remove(str(file.parent.resolve()))
    else:
        try:
            module = importlib.import_module(module_part)
        except ImportError as exc:
            raise PortError(module_part, f"{what}: cannot import ({one_line(exc)})") from exc
        except (Exception, SystemExit) as exc:
            raise PortError(module_part, f"{what}: importing it failed ({_describe(exc)})") from exc
    factory = getattr(module, attr, None)
    if not callable(factory):
        raise PortError(spec, f"{what}: {attr!r} is not a callable in {module_part}")
    return factory


def _describe(exc: BaseException) -> str:
    """An exception from the user's code, for one error line."""
    if isinstance(exc, SystemExit):
        return f"it called sys.exit({exc.code!r})"
    return f"{type(exc).__name__}: {one_line(exc)}"


def call_factory(factory: Callable[[], Any], spec: str, what: str) -> Any:
    """Call the user's factory; anything it raises (``sys.exit`` too) becomes one PortError line."""
    try:
        return factory()
    except PortError:
        raise
    # SystemExit too: a factory (or a library under it) calling sys.exit must
    # not decide migrate's exit status. KeyboardInterrupt still interrupts.
    except (Exception, SystemExit) as exc:
        raise PortError(spec, f"{what}: the factory raised {_describe(exc)}") from exc
