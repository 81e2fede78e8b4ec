"""``migrate verify OLD.py NEW.py``: does the rewritten program compute what the legacy one did?

A migration is proven by running both programs, not by reading them. This
command takes the user's *unmodified* legacy program (OLD) and its rewritten
Keras 3 version (NEW), builds the model each one's factory returns, gives the
NEW model the OLD model's weights, feeds both the same inputs and compares
every output, and, when they differ, the activations layer by layer so that
the first layer that computes something else is named.

How each side runs:

* OLD runs in a child process on tf_keras (``TF_USE_LEGACY_KERAS=1``, so a
  library's ``from tensorflow import keras`` means tf_keras; a ``.py`` file is
  executed through :mod:`legacy_ref.shim`, so its own ``import keras`` means
  tf_keras too). The child builds the model, writes its weights as a tf_keras
  weights-only HDF5 file, runs the inputs and writes the outputs and each
  layer's activations as ``.npz`` arrays. Nothing the legacy program does can
  reach this process's Keras 3 state, and a crash there (a factory calling
  ``sys.exit``, a segfault) is one error line here.
* NEW runs here on Keras 3. The legacy weights file is read as data
  (:mod:`migrate.weights.h5`) and paired with the NEW model's variables by the
  same planner as ``migrate port --model`` (:func:`migrate.weights.plan.plan_by_layers`:
  layer names, else the order of layers with weights; every shape checked).

The inputs are derived from the NEW model's input specs by
:func:`migrate.weights.writer.probe_inputs` (seeded; integer inputs drawn in
``[1, vocab)`` of the smallest ``Embedding``, floats otherwise; an input that
feeds an ``Embedding`` gets ids below its ``input_dim``), or read from
``--inputs batch.npz`` (arrays named like the model's inputs, or in order).

Both programs are the user's own code and running them is what was asked;
nothing else is executed: the weights file is plain arrays, every ``.npz`` is
loaded with ``allow_pickle=False``, and nothing is unpickled or loaded with
``safe_mode=False``.

Exit status: 0 every output within ``--atol``; 1 an output above it (the first
differing layer is named); 2 an error (one line naming the file, the factory
and what to do).

:func:`verify_programs` is the function behind the command, for test suites
that verify many programs (``tests/realworld`` can call it per case).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from migrate.weights.errors import PortError, one_line

if TYPE_CHECKING:
    import numpy as np

DEFAULT_ATOL = 1e-5
# Files exchanged with the legacy child, inside a temporary directory that the
# parent owns and removes.
REQUEST = "request.json"
INPUTS = "inputs.npz"
WEIGHTS = "legacy_weights.h5"
OUTPUTS = "outputs.npz"
META = "meta.json"
ERROR = "error.json"  # the name migrate.weights.verify.raise_child_failure reads
# Layer activations larger than this (elements) are not kept for the
# layer-by-layer search; the outputs are always compared.
MAX_ACTIVATION_ELEMENTS = 1 << 24


# ---------------------------------------------------------------------------
# The request and the result
# ---------------------------------------------------------------------------


@dataclass
class VerifyRequest:
    """What to verify.

    Attributes:
        old: the legacy program: ``path.py``, ``path.py:factory``, ``pkg.mod``
            or ``pkg.mod:factory``.
        new: the rewritten program, in the same forms.
        factory: the factory's name where ``old``/``new`` do not name one.
        factory_args: keyword arguments for both factories (JSON data).
        inputs: an ``.npz`` file with the inputs, or ``None`` to derive them.
        atol: the largest absolute difference accepted on any output.
        report: where to write the JSON report, or ``None``.
        old_path: directories put first on ``sys.path`` for OLD (where the
            legacy libraries it imports live); OLD's own directory always is.
        new_path: the same for NEW (the rewritten libraries).
    """

    old: str
    new: str
    factory: str | None = None
    factory_args: dict[str, Any] = field(default_factory=dict)
    inputs: Path | None = None
    atol: float = DEFAULT_ATOL
    report: Path | None = None
    old_path: list[Path] = field(default_factory=list)
    new_path: list[Path] = field(default_factory=list)


@dataclass
class OutputDiff:
    index: int
    name: str
    shape: list[int]
    max_abs_diff: float


@dataclass
class LayerDiff:
    """One legacy layer against the NEW layer paired with it (``max_abs_diff`` is
    ``inf`` where the shapes differ)."""

    old: str
    new: str
    layer_class: str
    max_abs_diff: float


@dataclass
class VerifyResult:
    old: str
    new: str
    atol: float
    inputs: list[dict[str, Any]]
    weights_transferred: int
    outputs: list[OutputDiff]
    layers: list[LayerDiff] = field(default_factory=list)
    first_differing_layer: LayerDiff | None = None
    layer_note: str | None = None

    @property
    def max_abs_diff(self) -> float:
        return max((o.max_abs_diff for o in self.outputs), default=0.0)

    @property
    def ok(self) -> bool:
        return all(o.max_abs_diff <= self.atol for o in self.outputs)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["ok"] = self.ok
        data["max_abs_diff"] = self.max_abs_diff
        # JSON has no infinity: a shape mismatch is written as null.
        for entry in data["layers"] + ([data["first_differing_layer"]] if data["first_differing_layer"] else []):
            if entry["max_abs_diff"] == float("inf"):
                entry["max_abs_diff"] = None
        return data


# ---------------------------------------------------------------------------
# Specs and inputs
# ---------------------------------------------------------------------------


def factory_spec(program: str, factory: str | None, what: str) -> str:
    """``program`` as the ``module_or_file:factory`` form :func:`migrate.weights.inputs.load_factory` takes."""
    _, sep, name = program.rpartition(":")
    # A Windows drive letter or a bare path is not a factory name.
    if sep and name and name.isidentifier():
        return program
    if not factory:
        raise PortError(program, f"{what}: which factory builds the model? pass --factory NAME (or {program}:NAME)")
    return f"{program}:{factory}"


def _spec_file(spec: str) -> Path | None:
    module_part = spec.rpartition(":")[0]
    return Path(module_part) if module_part.endswith(".py") else None


def _check_program_file(spec: str, what: str) -> None:
    """A ``.py`` program exists and parses, before any TensorFlow start-up."""
    file = _spec_file(spec)
    if file is None:
        return
    if not file.is_file():
        raise PortError(file, f"{what}: no such file")
    try:
        source = file.read_bytes()
        compile(source, str(file), "exec", dont_inherit=True)
    except SyntaxError as exc:
        raise PortError(f"{file}:{exc.lineno or '?'}", f"{what}: does not parse ({exc.msg}); fix the file "
                        "(for NEW: run `migrate rewrite` on the legacy program again)") from exc
    except (OSError, ValueError) as exc:
        raise PortError(file, f"{what}: cannot be read ({one_line(exc)})") from exc


def read_inputs(path: Path, model: Any) -> Any:
    """The inputs from an ``.npz`` file, in the model's input order.

    Arrays named like the model's inputs are taken by name; otherwise there
    must be exactly one array per input, taken in file order.
    """
    import numpy as np

    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: np.array(data[name]) for name in data.files}
    except FileNotFoundError:
        raise PortError(path, "--inputs: no such file") from None
    except (OSError, ValueError) as exc:
        raise PortError(path, f"--inputs: not a readable .npz of plain arrays ({one_line(exc)})") from exc
    names = [str(getattr(t, "name", "")).split(":")[0] for t in (getattr(model, "inputs", None) or [])]
    if names and all(name in arrays for name in names):
        ordered = [arrays[name] for name in names]
    elif not names or len(arrays) == len(names):
        ordered = list(arrays.values())
    else:
        raise PortError(path, f"--inputs: holds {sorted(arrays)} but the model takes {len(names)} inputs {names}; "
                              "name the arrays like the inputs or give one per input")
    if not ordered:
        raise PortError(path, "--inputs: holds no arrays")
    declared = getattr(model, "_inputs_struct", None)
    return ordered[0] if len(ordered) == 1 and not isinstance(declared, (list, tuple)) else ordered


def embedded_vocab(model: Any, tensor: Any) -> int | None:
    """The smallest ``input_dim`` of the Embedding layers that take ``tensor`` directly, if any."""
    import keras

    sizes = [
        layer.input_dim for layer in getattr(model, "layers", [])
        if isinstance(layer, keras.layers.Embedding)
        for node in getattr(layer, "_inbound_nodes", [])
        if any(t is tensor for t in getattr(node, "input_tensors", []))
    ]
    return min(sizes) if sizes else None


def derived_inputs(model: Any) -> Any:
    """Seeded inputs from the model's input specs (:func:`migrate.weights.writer.probe_inputs`).

    An input that feeds an ``Embedding`` gets token ids in ``[1, input_dim)``
    of that Embedding even where it is declared float (Keras 2 programs often
    wrote ``Input(shape=(None,))`` before an ``Embedding``): normal floats
    would be negative ids, which the legacy lookup refuses.
    """
    import numpy as np

    from migrate.weights.writer import PROBE_SEED, probe_inputs

    probe = probe_inputs(model)
    arrays = _as_list(probe)
    rng = np.random.default_rng(PROBE_SEED + 1)
    for i, tensor in enumerate(list(getattr(model, "inputs", None) or [])[: len(arrays)]):
        vocab = embedded_vocab(model, tensor)
        if vocab is not None:
            arrays[i] = rng.integers(1, max(2, vocab), size=arrays[i].shape).astype(arrays[i].dtype)
    return arrays if isinstance(probe, (list, tuple)) else arrays[0]


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, (list, tuple)) else [value]


def _flat_outputs(value: Any) -> list[np.ndarray]:
    """A model's or a layer's outputs as a flat list of NumPy arrays."""
    import numpy as np

    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [a for v in value for a in _flat_outputs(v)]
    if value is None:
        return []
    if hasattr(value, "numpy"):
        value = value.numpy()
    else:
        try:
            from keras import ops

            value = ops.convert_to_numpy(value)
        except ImportError:
            pass
    return [np.asarray(value)]


def _max_abs(a: np.ndarray, b: np.ndarray) -> float:
    import numpy as np

    if a.shape != b.shape:
        return float("inf")
    if not a.size:
        return 0.0
    diff = np.abs(a.astype(np.float64) - b.astype(np.float64))
    # A NaN on one side only is a difference; NaN on both is the same computation.
    both_nan = np.isnan(a.astype(np.float64)) & np.isnan(b.astype(np.float64))
    diff = np.where(both_nan, 0.0, diff)
    return float(np.nanmax(np.where(np.isnan(diff), np.inf, diff)))


# ---------------------------------------------------------------------------
# The legacy side (child process)
# ---------------------------------------------------------------------------


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # The child runs only the legacy program: there, tf.keras must be
    # tf_keras (the libraries of the era say `from tensorflow import keras`).
    env["TF_USE_LEGACY_KERAS"] = "1"
    return env


def _run_legacy(jobs: list[dict[str, Any]], work: Path) -> subprocess.CompletedProcess[str]:
    """Run the OLD factories of ``jobs`` on tf_keras in one child; each job's files go to its ``dir``.

    One child for all of them: a batch of programs pays for one TensorFlow
    start-up. Each job's inputs must already be in ``<dir>/inputs.npz``.
    """
    (work / REQUEST).write_text(json.dumps({"jobs": jobs}))
    return subprocess.run(
        [sys.executable, "-m", "migrate.program_verify", "--legacy-child", str(work)],
        env=_child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, errors="replace",
    )


def _legacy_layer_outputs(model: Any) -> tuple[list[Any], list[tuple[Any, Any]]]:
    """The layers of a functional tf_keras model whose output can be tapped, with those outputs."""
    layers, taps = [], []
    for layer in getattr(model, "layers", []):
        if type(layer).__name__ == "InputLayer":
            continue
        try:
            output = layer.output  # raises for a layer called at several places
        except (AttributeError, RuntimeError, ValueError):
            continue
        layers.append(layer)
        taps.append(output)
    return layers, taps


def legacy_child(work: Path) -> int:
    """The legacy side: ``python -m migrate.program_verify --legacy-child WORKDIR``.

    Runs every job of ``WORKDIR/request.json`` in turn; a job that fails writes
    its one-line error to its own directory and the others carry on.
    """
    # What the libraries' era accepted and tf_keras removed (legacy_ref.era): this
    # process runs nothing but legacy programs, so the era's API is put back here.
    from legacy_ref import era

    try:
        era.install()
    except ImportError:  # no tf_keras: each job says so below
        pass
    status = 0
    for job in json.loads((work / REQUEST).read_text())["jobs"]:
        status |= _legacy_job(job, Path(job["dir"]))
    return status


def _legacy_job(job: dict[str, Any], out: Path) -> int:
    """One OLD factory: build, save its weights, run the inputs, tap its layers (files in ``out``)."""
    import numpy as np

    spec = job["spec"]
    try:
        import functools

        from migrate.weights.inputs import call_factory, load_factory

        file = _spec_file(spec)
        # As `python OLD.py` would: the program's directory is importable.
        added = ([str(file.resolve().parent)] if file is not None else []) + job.get("paths", [])
        sys.path[:0] = [entry for entry in added if entry not in sys.path]
        factory = load_factory(spec, "OLD", legacy=True)
        model = call_factory(functools.partial(factory, **job["factory_args"]), spec, "OLD")
        import tensorflow as tf
        import tf_keras

        if not isinstance(model, tf_keras.Model):
            raise PortError(spec, f"OLD: the factory returned {type(model).__name__}, not a tf_keras model; OLD "
                                  "must be the unmodified legacy program (Keras 2 / tf.keras code). Here OLD's own "
                                  ".py file and `from tensorflow import keras` mean tf_keras, but a package's "
                                  "`import keras` means Keras 3: give OLD as a .py file")
        with np.load(out / INPUTS, allow_pickle=False) as data:
            arrays = [np.array(data[f"input_{i}"]) for i in range(int(data["count"]))]
        feed: Any = [tf.constant(a) for a in arrays] if job["inputs_is_list"] else tf.constant(arrays[0])
        if not model.weights:
            model(feed, training=False)  # a subclassed model has its variables only once called
        # The weights (stateful layers' state too) as they are when the outputs
        # are computed: NEW is given exactly these before its own run.
        model.save_weights(str(out / WEIGHTS))
        outputs = _flat_outputs(model(feed, training=False))
        saved: dict[str, np.ndarray] = {f"output_{i}": o for i, o in enumerate(outputs)}
        layers_meta: list[dict[str, Any]] = []
        layers, taps = _legacy_layer_outputs(model) if getattr(model, "_is_graph_network", False) else ([], [])
        layer_error = None
        values: list[Any] = []
        if layers:
            try:
                tapped = tf_keras.Model(model.inputs, taps)(_as_list(feed), training=False)
                values = tapped if len(taps) > 1 else [tapped]
            except Exception as exc:  # the outputs above still stand; only the search by layer is lost
                layer_error = f"OLD's layer activations could not be tapped ({type(exc).__name__}: {one_line(exc)})"
            for i, (layer, value) in enumerate(zip(layers, values)):
                arrays_i = _flat_outputs(value)
                if sum(a.size for a in arrays_i) > MAX_ACTIVATION_ELEMENTS:
                    continue
                for j, array in enumerate(arrays_i):
                    saved[f"act_{i}_{j}"] = array
                layers_meta.append({"index": i, "name": layer.name, "class": type(layer).__name__,
                                    "count": len(arrays_i), "weights": bool(layer.weights)})
        np.savez(out / OUTPUTS, **saved)
        names = list(getattr(model, "output_names", None) or [])
        (out / META).write_text(json.dumps({
            "outputs": len(outputs), "output_names": names, "layers": layers_meta, "layer_error": layer_error,
            "subclassed": not getattr(model, "_is_graph_network", False),
        }))
        return 0
    except PortError as exc:
        error = {"path": exc.path, "detail": exc.detail}
    except (Exception, SystemExit) as exc:  # the legacy program or tf_keras failed
        error = {"path": spec, "detail": f"OLD: running it on tf_keras failed ({type(exc).__name__}: {one_line(exc)})"}
    (out / ERROR).write_text(json.dumps(error))
    return 2


# ---------------------------------------------------------------------------
# The Keras 3 side (this process) and the comparison
# ---------------------------------------------------------------------------


def _modern_layer_outputs(model: Any, inputs: Any) -> dict[str, list[np.ndarray]]:
    """Each tappable layer's activations of a functional Keras 3 model, by layer name."""
    import keras

    layers, taps = [], []
    for layer in model.layers:
        if isinstance(layer, keras.layers.InputLayer):
            continue
        try:
            output = layer.output
        except (AttributeError, RuntimeError, ValueError):
            continue
        layers.append(layer)
        taps.append(output)
    if not layers:
        return {}
    # The tap model takes its inputs as the list model.inputs is.
    tapped = keras.Model(model.inputs, taps)(_as_list(inputs), training=False)
    values = tapped if len(taps) > 1 else [tapped]
    return {layer.name: _flat_outputs(value) for layer, value in zip(layers, values)}


def _layer_pairs(plan: Any, model: Any, legacy_names: list[str], modern_names: list[str]) -> dict[str, str]:
    """Legacy layer name -> NEW layer name: by the weight plan's pairs, then equal names, then order.

    Layers with weights are paired exactly as their weights were; layers
    without weights by name, and those left over (auto-generated names drift
    between runs: ``add_3`` vs ``add``) in order when as many remain on each side.
    """
    from migrate.weights.targets import layer_weights

    owner = {id(v): name for name, variables in layer_weights(model).items() for v in variables}
    pairs: dict[str, str] = {}
    for item in plan.assignments:
        target = owner.get(id(item.target))
        if target is not None and item.source.layer:
            pairs[item.source.layer] = target
    taken = set(pairs.values())
    for name in legacy_names:
        if name not in pairs and name in modern_names and name not in taken:
            pairs[name] = name
            taken.add(name)
    left_old = [n for n in legacy_names if n not in pairs]
    left_new = [n for n in modern_names if n not in taken]
    if len(left_old) == len(left_new):
        pairs.update(zip(left_old, left_new))
    return pairs


@dataclass
class _Prepared:
    """One request with NEW's model built and the inputs chosen, ready for OLD's run."""

    request: VerifyRequest
    old: str
    new: str
    model: Any
    inputs: Any
    described: list[dict[str, Any]]


def _check_request(request: VerifyRequest) -> tuple[str, str]:
    """The OLD and NEW factory specs, checked before any TensorFlow start-up."""
    if not (request.atol >= 0):
        raise PortError("--atol", f"must be a number >= 0, not {request.atol}")
    # A factory named on one side only (OLD.py NEW.py:build) is taken for both.
    named = [name for _, sep, name in (p.rpartition(":") for p in (request.old, request.new))
             if sep and name.isidentifier()]
    factory = request.factory or (named[0] if named else None)
    old = factory_spec(request.old, factory, "OLD")
    new = factory_spec(request.new, factory, "NEW")
    _check_program_file(old, "OLD")
    _check_program_file(new, "NEW")
    if request.report is not None:
        from migrate.weights.writer import check_writable_dir

        check_writable_dir(request.report, "--report")
    return old, new


def _prepare(request: VerifyRequest, old: str, new: str) -> _Prepared:
    """Build NEW's model here on Keras 3 and choose the inputs (derived from it or read)."""
    import functools

    import keras

    from migrate.weights.inputs import call_factory, load_factory
    from migrate.weights.writer import PROBE_SEED

    # NEW's directory and --new-path stay importable while its factory runs
    # (a factory may import inside its body), as `python NEW.py` would have them.
    new_file = _spec_file(new)
    added = [str(p.resolve()) for p in ([new_file.parent] if new_file else []) + list(request.new_path)]
    sys.path[:0] = added
    try:
        factory = load_factory(new, "NEW")
        model = call_factory(functools.partial(factory, **request.factory_args), new, "NEW")
    finally:
        for entry in added:
            if entry in sys.path:
                sys.path.remove(entry)
    if not isinstance(model, keras.Model):
        raise PortError(new, f"NEW: the factory returned {type(model).__name__}, not a keras.Model; NEW must be the "
                             "rewritten (Keras 3) program")
    if request.inputs is not None:
        inputs = read_inputs(request.inputs, model)
        origin = f"from {request.inputs}"
    else:
        inputs = derived_inputs(model)
        origin = f"generated from the input specs (seed {PROBE_SEED})"
    described = [{"shape": list(a.shape), "dtype": str(a.dtype), "origin": origin} for a in _as_list(inputs)]
    try:
        model(inputs, training=False)  # builds a subclassed model's variables
    except Exception as exc:
        raise PortError(new, f"NEW: the model does not run on the inputs {[(d['shape'], d['dtype']) for d in described]} "
                             f"({type(exc).__name__}: {one_line(exc)}); pass --inputs batch.npz") from exc
    return _Prepared(request, old, new, model, inputs, described)


def _legacy_job_for(prepared: _Prepared, out: Path) -> dict[str, Any]:
    """The child's job for one prepared request; its inputs are written to ``out``."""
    import numpy as np

    out.mkdir()
    arrays = _as_list(prepared.inputs)
    np.savez(out / INPUTS, count=len(arrays), **{f"input_{i}": a for i, a in enumerate(arrays)})
    return {"spec": prepared.old, "factory_args": prepared.request.factory_args, "dir": str(out),
            "paths": [str(p.resolve()) for p in prepared.request.old_path],
            "inputs_is_list": isinstance(prepared.inputs, (list, tuple))}


def _finish(prepared: _Prepared, out: Path) -> VerifyResult:
    """Give NEW the weights OLD's run left in ``out``, run it and compare outputs and layers."""
    import numpy as np

    from migrate.weights.inputs import read_source
    from migrate.weights.plan import apply_plan, plan_by_layers

    old, new, model, inputs = prepared.old, prepared.new, prepared.model, prepared.inputs
    meta: dict[str, Any] = json.loads((out / META).read_text())
    with read_source(out / WEIGHTS) as source:
        plan = plan_by_layers(source, model)
        try:
            apply_plan(plan, old)
        except PortError as exc:
            raise PortError(new, "NEW: its model does not take OLD's weights ("
                            + exc.detail.removesuffix("; see --dry-run")
                            + "); the rewritten layers must keep the legacy layer names or order") from exc
    with np.load(out / OUTPUTS, allow_pickle=False) as data:
        legacy = {name: np.array(data[name]) for name in data.files}
    modern_outputs = _flat_outputs(model(inputs, training=False))
    if len(modern_outputs) != meta["outputs"]:
        raise PortError(new, f"NEW: the model has {len(modern_outputs)} outputs, OLD's has {meta['outputs']}")
    names = meta["output_names"] if len(meta["output_names"]) == len(modern_outputs) else []
    outputs = [
        OutputDiff(i, names[i] if names else f"output_{i}", list(out_.shape), _max_abs(legacy[f"output_{i}"], out_))
        for i, out_ in enumerate(modern_outputs)
    ]
    result = VerifyResult(old, new, prepared.request.atol, prepared.described, len(plan.assignments), outputs)
    _compare_layers(result, plan, model, inputs, meta, legacy)
    return result


def verify_many(requests: list[VerifyRequest],
                progress: Callable[[int, VerifyRequest], None] | None = None) -> list[VerifyResult | PortError]:
    """Verify several programs with one tf_keras child; one result or error per request, in order.

    An error in one request (a factory that raises, weights that do not fit)
    is that request's :class:`PortError`; the others are still verified. Only
    a missing TensorFlow raises, before anything runs. ``progress(i, request)``
    is called as each NEW model is built.
    """
    from migrate.weights.errors import require_tensorflow

    results: list[VerifyResult | PortError | None] = [None] * len(requests)
    checked: dict[int, tuple[str, str]] = {}
    for i, request in enumerate(requests):
        try:
            checked[i] = _check_request(request)
        except PortError as exc:
            results[i] = exc
    if not checked:
        return [r for r in results if r is not None]
    require_tensorflow(next(iter(checked.values()))[0], "migrate verify (OLD runs on tf_keras)")
    from migrate.weights.quiet import quiet_tensorflow

    quiet_tensorflow()
    prepared: dict[int, _Prepared] = {}
    for i, (old, new) in checked.items():
        if progress is not None:
            progress(i, requests[i])
        try:
            prepared[i] = _prepare(requests[i], old, new)
        except PortError as exc:
            results[i] = exc
    with tempfile.TemporaryDirectory(prefix="migrate-verify-") as workdir:
        work = Path(workdir)
        jobs = {i: _legacy_job_for(p, work / f"program-{i}") for i, p in prepared.items()}
        if jobs:
            from migrate.weights.verify import raise_child_failure

            completed = _run_legacy(list(jobs.values()), work)
            for i, job in jobs.items():
                out = Path(job["dir"])
                try:
                    # A job with neither its meta data nor its own error: the
                    # child died on it (or before it); its last words say why.
                    raise_child_failure(out, META, 0 if (out / META).exists() else completed.returncode or 1,
                                        completed.stderr, prepared[i].old,
                                        "OLD: the legacy program's process on tf_keras failed",
                                        "; run the factory by hand on tf_keras to see why")
                    results[i] = _finish(prepared[i], out)
                except PortError as exc:
                    results[i] = exc
    return [r for r in results if r is not None]


def verify_programs(request: VerifyRequest) -> VerifyResult:
    """Verify NEW against OLD; raises :class:`PortError` on any error (nothing written then).

    For a suite that verifies many programs, :func:`verify_many` runs them all
    with one tf_keras child::

        results = verify_many([VerifyRequest(
            old="work/old/case.py:build", new="work/new/case.py:build",
            old_path=[Path("work/legacy")], new_path=[Path("work/rewritten")]), ...])
        result.ok, result.max_abs_diff, result.first_differing_layer, result.to_json()

    NEW's modules stay imported in this process afterwards (as after any
    import): verify programs whose libraries share module names in separate
    processes, or drop them from ``sys.modules`` in between.
    """
    (result,) = verify_many([request])
    if isinstance(result, PortError):
        raise result
    return result


def _compare_layers(result: VerifyResult, plan: Any, model: Any, inputs: Any, meta: dict[str, Any],
                    legacy: dict[str, np.ndarray]) -> None:
    if meta["subclassed"] or not meta["layers"]:
        result.layer_note = meta.get("layer_error") or "OLD's model is subclassed: its layers' activations cannot be tapped"
        return
    try:
        modern = _modern_layer_outputs(model, inputs)
    except Exception as exc:  # a layer Keras 3 cannot re-wire: the outputs still stand
        result.layer_note = f"NEW's layer activations could not be tapped ({type(exc).__name__}: {one_line(exc)})"
        return
    if not modern:
        result.layer_note = "NEW's model is subclassed: its layers' activations cannot be tapped"
        return
    pairs = _layer_pairs(plan, model, [entry["name"] for entry in meta["layers"]], list(modern))
    for entry in meta["layers"]:
        new_name = pairs.get(entry["name"])
        if new_name is None or new_name not in modern:
            continue
        old_values = [legacy[f"act_{entry['index']}_{j}"] for j in range(entry["count"])]
        new_values = modern[new_name]
        if len(old_values) != len(new_values):
            diff = float("inf")
        else:
            diff = max((_max_abs(a, b) for a, b in zip(old_values, new_values)), default=0.0)
        layer = LayerDiff(entry["name"], new_name, entry["class"], diff)
        result.layers.append(layer)
        if result.first_differing_layer is None and not diff <= result.atol:
            result.first_differing_layer = layer


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------


def add_verify_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    parser = sub.add_parser(
        "verify",
        help="run a legacy program (tf_keras) and its rewritten version (Keras 3) with the same weights and inputs; "
             "compare",
        description=(
            "Build the model of OLD (your unmodified legacy program, run on tf_keras in a child process) and of NEW "
            "(its rewritten Keras 3 version), give NEW the OLD model's weights (paired as `migrate port --model` "
            "pairs them), feed both the same inputs and compare every output; on a difference above --atol, name "
            "the first layer whose activations differ. Exit 0 equal within --atol, 1 above it, 2 error."
        ),
    )
    parser.add_argument("old", metavar="OLD", nargs="?",
                        help="the legacy program: path.py, path.py:factory, pkg.mod[:factory]")
    parser.add_argument("new", metavar="NEW", nargs="?", help="the rewritten program, in the same forms")
    parser.add_argument("--batch", metavar="PROGRAMS.json",
                        help="verify several programs (instead of OLD NEW) with one tf_keras process: a JSON list "
                             'of {"old", "new", and optionally "name", "factory", "factory_args", "inputs", "atol", '
                             '"old_path", "new_path"}; relative file paths are taken from the list\'s directory; '
                             "the options below apply to every program. Exit 0 all equal, 1 one differs, 2 an error")
    parser.add_argument("--factory", metavar="NAME", help="the factory that returns the model, in both programs")
    parser.add_argument("--factory-args", metavar="JSON", default=None,
                        help='keyword arguments for both factories, as a JSON object (e.g. \'{"vocab_size": 50}\')')
    parser.add_argument("--inputs", metavar="BATCH.npz",
                        help="the inputs (arrays named like the model's inputs, or one per input in order); "
                             "default: derived from the model's input specs with a fixed seed")
    parser.add_argument("--atol", type=float, default=DEFAULT_ATOL,
                        help=f"largest absolute difference accepted on an output (default {DEFAULT_ATOL:g})")
    parser.add_argument("--report", metavar="FILE.json", help="write the figures (per output, per layer) as JSON")
    parser.add_argument("--old-path", action="append", default=[], metavar="DIR",
                        help="put DIR first on sys.path for OLD (where its legacy libraries live); repeatable")
    parser.add_argument("--new-path", action="append", default=[], metavar="DIR",
                        help="the same for NEW (the rewritten libraries); repeatable")


def factory_args(text: str | None) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PortError("--factory-args", f"is not JSON ({exc.msg} at column {exc.colno}); give an object such as "
                                          "'{\"vocab_size\": 50}'") from exc
    if not isinstance(value, dict):
        raise PortError("--factory-args", "must be a JSON object of keyword arguments, e.g. '{\"vocab_size\": 50}'")
    return value


def write_report(path: Path, data: Any) -> None:
    """Write the JSON report whole or not at all (a temporary file, then renamed)."""
    temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        temp.write_text(json.dumps(data, indent=2) + "\n")
        os.replace(temp, path)
    except OSError as exc:
        temp.unlink(missing_ok=True)
        raise PortError(path, f"--report: cannot be written ({exc.strerror or one_line(exc)})") from exc


def print_result(result: VerifyResult) -> None:
    shapes = ", ".join(f"{d['dtype']} {tuple(d['shape'])}" for d in result.inputs)
    print(f"OLD {result.old} (tf_keras) vs NEW {result.new} (Keras 3): {result.weights_transferred} weights "
          f"transferred; inputs {shapes} {result.inputs[0]['origin'] if result.inputs else ''}")
    for out in result.outputs:
        mark = "ok" if out.max_abs_diff <= result.atol else "DIFFERS"
        print(f"  output {out.index} {out.name} {tuple(out.shape)}: max abs diff {out.max_abs_diff:.2e} {mark}")
    if result.ok:
        print(f"equal: every output within --atol {result.atol:g} (max abs diff {result.max_abs_diff:.2e})")
        return
    where = ""
    first = result.first_differing_layer
    if first is not None:
        figure = "its output shape differs" if first.max_abs_diff == float("inf") else \
            f"max abs diff {first.max_abs_diff:.2e}"
        renamed = f" (NEW: {first.new})" if first.new != first.old else ""
        where = f"; first differing layer: {first.old}{renamed} ({first.layer_class}), {figure}"
    elif result.layer_note:
        where = f"; {result.layer_note}"
    print(f"DIFFERENT: max abs diff {result.max_abs_diff:.2e} exceeds --atol {result.atol:g}{where}")


def run_command(body: Callable[[], int], subject: str) -> int:
    """Run a ``migrate verify`` command's body: an error is one line on stderr and exit 2.

    A :class:`PortError` is the user's input (named in its line); anything else
    is an internal failure, named with ``subject`` (``MIGRATE_DEBUG=1`` re-raises
    it with its traceback); Ctrl-C is exit 130.
    """
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    try:
        return body()
    except PortError as exc:
        print(f"migrate verify: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("migrate verify: error: interrupted", file=sys.stderr)
        return 130
    except (Exception, SystemExit) as exc:
        if os.environ.get("MIGRATE_DEBUG"):
            raise
        print(f"migrate verify: error: {subject}: {type(exc).__name__}: {one_line(exc)} (MIGRATE_DEBUG=1 shows the "
              "traceback)", file=sys.stderr)
        return 2


def cmd_verify(args: argparse.Namespace) -> int:
    """``migrate verify``: exit 0 equal, 1 different, 2 error (one line)."""

    def body() -> int:
        if args.old is None or args.new is None:
            raise PortError("OLD NEW", "not given: name the legacy program and its rewrite (migrate verify OLD.py "
                                       "NEW.py --factory NAME), or pass --batch PROGRAMS.json")
        request = VerifyRequest(
            old=args.old, new=args.new, factory=args.factory, factory_args=factory_args(args.factory_args),
            inputs=Path(args.inputs) if args.inputs else None, atol=args.atol,
            report=Path(args.report) if args.report else None,
            old_path=[Path(p) for p in args.old_path], new_path=[Path(p) for p in args.new_path],
        )
        result = verify_programs(request)
        if request.report is not None:
            write_report(request.report, result.to_json())
        print_result(result)
        return 0 if result.ok else 1

    return run_command(body, args.new)


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--legacy-child":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        sys.exit(legacy_child(Path(sys.argv[2])))
    sys.exit("usage: python -m migrate.program_verify --legacy-child WORKDIR (run by `migrate verify`)")
