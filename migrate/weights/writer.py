"""Write a ported model as a ``.keras`` file, verified, atomically.

The model is saved to a temporary file next to OUT, reloaded with
``safe_mode=True`` (no lambdas, no arbitrary code), checked to give the same
outputs as the in-memory model on a fixed probe input, and only then moved
into place with ``os.replace``. Any failure removes the temporary file, so a
failed port leaves nothing at OUT.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from migrate.weights.errors import PortError

PROBE_SEED = 1234
PROBE_LENGTH = 8


def check_out(out: Path | None, force: bool) -> None:
    """OUT must be a new ``.keras`` file (or ``force``) in an existing directory."""
    if out is None:
        raise PortError("--to", "an output .keras path is required (or use --dry-run)")
    if out.suffix != ".keras":
        raise PortError(out, "the output must end in .keras (the Keras 3 file format)")
    if not out.parent.is_dir():
        raise PortError(out, f"directory {out.parent} does not exist; create it first")
    if out.exists() and not force:
        raise PortError(out, "exists; pass --force to overwrite it")


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
    return first_output(model(inputs, training=False))


def write_keras_file(
    model: Any, out: Path, *, force: bool = False, atol: float = 0.0, custom_objects: dict[str, Any] | None = None
) -> float:
    """Save ``model`` to ``out`` via a verified temporary file; return the reload diff.

    Raises:
        PortError: OUT exists (without ``force``), its directory does not
            exist, or the reloaded file does not reproduce the model.
    """
    import keras

    out = Path(out)
    check_out(out, force)
    handle, temp_name = tempfile.mkstemp(prefix=f".{out.stem}.", suffix=".keras", dir=out.parent)
    os.close(handle)
    temp = Path(temp_name)
    try:
        probe = probe_inputs(model)
        expected = predict(model, probe)
        model.save(temp)
        reloaded = keras.saving.load_model(temp, custom_objects=custom_objects, safe_mode=True)
        diff = float(np.max(np.abs(expected - predict(reloaded, probe)), initial=0.0))
        del reloaded
        if not diff <= atol:
            raise PortError(out, f"the saved file does not reproduce the model (max abs diff {diff:.3g}); nothing written")
        os.replace(temp, out)
    except PortError:
        raise
    except Exception as exc:
        raise PortError(out, f"saving or reloading the ported model failed ({type(exc).__name__}: {exc}); nothing written") from exc
    finally:
        temp.unlink(missing_ok=True)
    return diff
