"""Write a ported model as a ``.keras`` file, verified, atomically.

The model is saved to a temporary file next to OUT, reloaded with
``safe_mode=True`` (no lambdas, no arbitrary code), checked to give the same
outputs as the in-memory model on a fixed probe input (:func:`stage_keras_file`),
and only then put in place (:func:`StagedFile.commit`):

* without ``--force`` by ``os.link`` of the temporary file to OUT, which fails
  if OUT exists *at that moment*: of two ports racing to one OUT exactly one
  wins, and the other fails cleanly instead of replacing the first;
* with ``--force`` by ``os.replace``, never onto SOURCE itself.

The file gets the permissions of any new file of the user (``0666 & ~umask``),
not the temporary file's ``0600``. Every temporary file is listed in
:data:`TEMP_FILES` until it is gone, so that a signal handler can remove it
(see :mod:`migrate.port_cli`); any failure removes it too, so a failed port
leaves nothing at OUT.
"""

from __future__ import annotations

import errno
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from migrate.weights.errors import PortError, one_line

PROBE_SEED = 1234
PROBE_LENGTH = 8

# Temporary files this process created and has not yet moved or removed.
TEMP_FILES: set[Path] = set()
# OUT files this process has put in place: a signal that arrives after that
# must not be reported as "nothing written".
WRITTEN: set[Path] = set()


def remove_temp_files() -> None:
    """Remove every temporary file still listed (on a signal or a crash)."""
    for temp in list(TEMP_FILES):
        try:
            temp.unlink(missing_ok=True)
        except OSError:
            pass
        TEMP_FILES.discard(temp)


def new_temp_file(directory: Path, prefix: str, suffix: str) -> Path:
    """An empty temporary file in ``directory``, listed in :data:`TEMP_FILES`."""
    handle, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=directory)
    os.close(handle)
    temp = Path(name)
    TEMP_FILES.add(temp)
    return temp


def drop_temp_file(temp: Path) -> None:
    temp.unlink(missing_ok=True)
    TEMP_FILES.discard(temp)


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (through symlinks, hard links, ``..``)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return os.path.abspath(a) == os.path.abspath(b)


def user_file_mode() -> int:
    """The mode a file the user creates gets: ``0666`` less the umask."""
    # os.umask can only be read by setting it; set it straight back.
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def check_writable_dir(path: Path, what: str) -> None:
    """``path``'s directory exists and takes new files (tried, not guessed).

    ``os.access`` is not enough: as root it says yes to ``/proc``, and it
    knows nothing of read-only mounts or full disks.
    """
    parent = path.parent
    if not parent.is_dir():
        raise PortError(path, f"{what}: directory {parent} does not exist; create it first")
    if path.is_dir():
        raise PortError(path, f"{what}: is a directory; name a file")
    try:
        drop_temp_file(new_temp_file(parent, ".migrate-probe.", ".tmp"))
    except OSError as exc:
        raise PortError(path, f"{what}: cannot create files in {parent} ({exc.strerror or one_line(exc)}); "
                              "choose another directory") from exc


def check_out(out: Path | None, force: bool, source: Path | None = None) -> None:
    """OUT must be a new ``.keras`` file (or ``force``) in a writable directory, and not SOURCE."""
    if out is None:
        raise PortError("--to", "an output .keras path is required (or use --dry-run)")
    if out.suffix != ".keras":
        raise PortError(out, "the output must end in .keras (the Keras 3 file format)")
    if source is not None and (out.exists() or out.is_symlink()) and same_file(out, source):
        raise PortError(out, "is the source checkpoint itself; --to must name a new file (the legacy file is kept)")
    if (out.exists() or out.is_symlink()) and not force:
        # A dangling symlink counts: writing through it would create a file
        # wherever it points.
        raise PortError(out, "exists; pass --force to overwrite it")
    check_writable_dir(out, "--to")


@dataclass
class StagedFile:
    """A verified ``.keras`` file at a temporary name beside OUT, not yet in place."""

    temp: Path
    out: Path
    force: bool
    source: Path | None
    reload_diff: float

    def commit(self) -> None:
        """Move the file to OUT; ``force`` or not, the check holds at this moment.

        Raises:
            PortError: OUT appeared meanwhile (without ``force``), or OUT is
                now SOURCE, or the file system refused.
        """
        out = self.out
        os.chmod(self.temp, user_file_mode())
        if self.source is not None and (out.exists() or out.is_symlink()) and same_file(out, self.source):
            raise PortError(out, "is the source checkpoint itself; --to must name a new file (the legacy file is kept)")
        try:
            if self.force:
                os.replace(self.temp, out)
            else:
                self._link_exclusively()
        except FileExistsError as exc:
            raise PortError(out, "was created by someone else while this port ran; kept it (pass --force to "
                                 "overwrite it)") from exc
        except OSError as exc:
            raise PortError(out, f"cannot be written ({exc.strerror or one_line(exc)}); nothing written") from exc
        else:
            WRITTEN.add(out)
        finally:
            drop_temp_file(self.temp)

    def _link_exclusively(self) -> None:
        try:
            # A hard link fails if the name exists: the no-clobber check and
            # the placement are one step.
            os.link(self.temp, self.out)
        except OSError as exc:
            if exc.errno not in (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EXDEV, errno.EMLINK):
                raise
            # A file system without hard links: claim the name exclusively,
            # then replace our own empty claim.
            fd = os.open(self.out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            os.close(fd)
            os.replace(self.temp, self.out)

    def discard(self) -> None:
        drop_temp_file(self.temp)


def _embedding_vocab(model: Any) -> int | None:
    import keras

    sizes = [layer.input_dim for layer in model._flatten_layers() if isinstance(layer, keras.layers.Embedding)]
    return min(sizes) if sizes else None


def _probe_array(shape: tuple, dtype: str, vocab: int | None, rng: np.random.Generator) -> np.ndarray:
    concrete = tuple(PROBE_LENGTH if d is None else int(d) for d in shape)
    concrete = (2,) + concrete[1:] if concrete and shape[0] is None else concrete
    if np.dtype(dtype).kind in "iu":
        high = max(2, vocab or 2)
        return rng.integers(1, high, size=concrete).astype(dtype)
    return rng.standard_normal(concrete).astype(dtype)


def probe_inputs(model: Any) -> Any:
    """A fixed input the model accepts, derived from its own input signature.

    Functional models declare their inputs; subclassed models are probed with
    the shapes they were built with (``get_build_config``), integer-typed
    when the model embeds tokens. Token ids are drawn from ``[1, vocab)`` so
    that no position is padding.
    """
    rng = np.random.default_rng(PROBE_SEED)
    vocab = _embedding_vocab(model)
    inputs = getattr(model, "inputs", None)
    try:
        specs = [(tuple(t.shape), str(t.dtype)) for t in inputs] if inputs else None
    except (AttributeError, ValueError):
        specs = None
    if specs is None:
        build = (model.get_build_config() or {}).get("input_shape")
        if build is None:
            raise PortError(model.name, "cannot derive a probe input: the model is not built; build it in --model's factory")
        shapes = build if isinstance(build[0], (list, tuple)) else [build]
        dtype = "int32" if vocab else "float32"
        specs = [(tuple(None if i == 0 else d for i, d in enumerate(s)), dtype) for s in shapes]
    arrays = [_probe_array(shape, dtype, vocab, rng) for shape, dtype in specs]
    # Functional models warn unless the probe has the structure they were
    # built with (a bare tensor or a one-element list); subclassed models
    # take a bare tensor when they have one input.
    declared = getattr(model, "_inputs_struct", None)
    if len(arrays) == 1 and not isinstance(declared, (list, tuple)):
        return arrays[0]
    return arrays


def first_output(value: Any) -> np.ndarray:
    """The model's main output as NumPy (models may return (logits, extras))."""
    from keras import ops

    while isinstance(value, (list, tuple)):
        value = value[0]
    if isinstance(value, dict):
        value = next(iter(value.values()))
    return np.asarray(ops.convert_to_numpy(value))


def predict(model: Any, inputs: Any) -> np.ndarray:
    """The model's main output on ``inputs``, leaving its state as it was.

    Stateful layers (keras-transformer-xl's ``Memory``, stateful RNNs) write
    non-trainable state on every call; the porter's probe calls must not
    change what the ported file holds, nor what the next probe call reads.
    """
    from keras import ops

    state = [(v, ops.convert_to_numpy(v)) for v in getattr(model, "non_trainable_variables", ())]
    try:
        return first_output(model(inputs, training=False))
    finally:
        for variable, value in state:
            variable.assign(value)


def stage_keras_file(
    model: Any, out: Path, *, force: bool = False, atol: float = 0.0,
    custom_objects: dict[str, Any] | None = None, source: Path | None = None, probe: Any = None,
) -> StagedFile:
    """Save ``model`` to a temporary file beside ``out``, reload it and compare.

    Returns the staged file; the caller commits it (or discards it).
    ``probe``: the input to compare on (default: :func:`probe_inputs`, which
    cannot know the value ranges of a model's named inputs, e.g. segment ids).

    Raises:
        PortError: OUT is not acceptable (see :func:`check_out`) or the
            reloaded file does not reproduce the model.
    """
    import keras

    out = Path(out)
    check_out(out, force, source)
    try:
        temp = new_temp_file(out.parent, f".{out.stem}.", ".keras")
    except OSError as exc:
        raise PortError(out, f"cannot create a temporary file beside it ({exc.strerror or one_line(exc)})") from exc
    try:
        probe = probe_inputs(model) if probe is None else probe
        expected = predict(model, probe)
        model.save(temp)
        reloaded = keras.saving.load_model(temp, custom_objects=custom_objects, safe_mode=True)
        diff = float(np.max(np.abs(expected - predict(reloaded, probe)), initial=0.0))
        del reloaded
        if not diff <= atol:
            raise PortError(out, f"the saved file does not reproduce the model (max abs diff {diff:.3g}); nothing written")
    except BaseException as exc:
        drop_temp_file(temp)
        if isinstance(exc, PortError) or not isinstance(exc, Exception):
            raise
        raise PortError(out, f"saving or reloading the ported model failed ({type(exc).__name__}: {one_line(exc)}); "
                             "nothing written") from exc
    return StagedFile(temp, out, force, source, diff)


def write_keras_file(
    model: Any, out: Path, *, force: bool = False, atol: float = 0.0,
    custom_objects: dict[str, Any] | None = None, source: Path | None = None,
) -> float:
    """Save ``model`` to ``out`` via a verified temporary file; return the reload diff.

    Raises:
        PortError: OUT exists (without ``force``, also when it appears while
            saving), is SOURCE, its directory does not exist or takes no new
            files, or the reloaded file does not reproduce the model.
    """
    staged = stage_keras_file(model, out, force=force, atol=atol, custom_objects=custom_objects, source=source)
    staged.commit()
    return staged.reload_diff
