"""Weight-port throughput against a plain h5py copy, and the port's peak memory.

Generates, in a temporary directory that is removed afterwards, a legacy
Keras 2 HDF5 weights file of about ``--mb`` MiB: a stack of ``Dense(width)``
layers, laid out exactly as ``tf_keras``'s ``model.save_weights('w.h5')``
writes it (root attribute ``layer_names``, per-layer ``weight_names``,
datasets ``<layer>/<layer>/kernel:0``; the layout is checked against a small
file written by ``tf_keras`` itself before anything is measured). The file is
written with h5py directly, one layer at a time, which is much faster and
lighter than building a 500 MB ``tf_keras`` model.

Then, in fresh child processes (so that their memory figures are their own):

1. import everything, note the resident set size (the interpreter baseline);
2. build the same-architecture Keras 3 model, note the resident set size
   (baseline + the model's variables);
3. reset the peak counter (``/proc/self/clear_refs``) and port once
   (``read_h5`` -> ``plan_by_layers`` -> ``apply_plan``), then read the peak
   (``VmHWM``): that is the port's peak memory;
4. time, round-robin over ``--reps`` repetitions after one warm-up each:
   the plain h5py copy of the same datasets into a new HDF5 file (read each,
   write it: the reference), an h5py read of every dataset (no write), and
   the port into the built model.

The first child runs with the default allocator settings (what a user gets).
The second repeats steps 1-3 with glibc's mmap threshold pinned, so that
freed blocks go back to the OS at once, and then takes one tensor apart: the
peak memory of each step of assigning the largest weight (h5py read,
conversion to a tensor, variable assign) and of two proposed fixes. Two more
children run whole ports with those fixes (``--no-candidate`` skips them):
row blocks assigned in place into the TF variable, and an aligned read handed
to TensorFlow without a copy (DLPack). They are kept here as they were
measured: the row blocks have since been applied in ``migrate/weights/plan.py``
(``_assign_in_row_blocks``: identity transforms over ``BLOCK_BYTES`` = 32 MiB),
so the first candidate now measures close to the current port; the DLPack one
is in this file only.

Finally the whole ``migrate port SOURCE --to OUT.keras --model factory.py:build``
CLI runs in a subprocess (start-up, port, ``.keras`` write, reload and
compare), with its wall time and peak RSS (``wait4``), and ``--dry-run`` for
its fixed costs.

The checkpoint is read from the page cache in every measurement (it was just
written; the machine has RAM to spare), so the figures compare CPU and memory
work, not disk speed.

Usage: python benchmarks/bench_port.py [--mb 500] [--reps N] [--no-cli] [--no-candidate] [--quick]
Prints figures only; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

MIB = 2**20
KERAS_VERSION = "2.21.0"  # what tf_keras 2.21 writes; the layout check compares the type, not this value
INPUT_LAYER = "input_1"
RESULT_TAG = "BENCH_PORT_RESULT "


# --------------------------------------------------------------------------
# The legacy file
# --------------------------------------------------------------------------


def auto_width(mb: float) -> int:
    """The widest power-of-two Dense (at most 4096) that still gives at least 4 layers (8 x 64 MiB for 500 MiB)."""
    width = 4096
    while width > 16 and mb * MIB / (width * width * 4) < 4:
        width //= 2
    return width


def layer_count(mb: float, width: int) -> int:
    return max(1, round(mb * MIB / ((width * width + width) * 4)))


def layer_names(layers: int) -> list[str]:
    return [f"dense_{i}" for i in range(layers)]


def _string_attr(group: Any, name: str, values: list[str]) -> None:
    import h5py
    import numpy as np

    if values:
        group.attrs.create(name, values, dtype=h5py.string_dtype("ascii"))
    else:
        # tf_keras stores an empty list as an empty float64 array.
        group.attrs[name] = np.asarray([])


def write_legacy_h5(path: Path, layers: int, width: int, seed: int = 0) -> int:
    """Write the ``save_weights`` layout of ``Input((width,)) -> Dense(width) x layers``; return the bytes of weights."""
    import h5py
    import numpy as np

    rng = np.random.default_rng(seed)
    names = layer_names(layers)
    total = 0
    with h5py.File(path, "w") as handle:
        scalar = h5py.string_dtype("ascii")
        handle.attrs.create("backend", "tensorflow", dtype=scalar)
        handle.attrs.create("keras_version", KERAS_VERSION, dtype=scalar)
        _string_attr(handle, "layer_names", [INPUT_LAYER, *names])
        _string_attr(handle.create_group(INPUT_LAYER), "weight_names", [])
        for name in names:
            group = handle.create_group(name)
            _string_attr(group, "weight_names", [f"{name}/kernel:0", f"{name}/bias:0"])
            inner = group.create_group(name)
            # One layer in memory at a time; scaled like a Glorot init so the numbers are ordinary.
            kernel = rng.random((width, width), dtype=np.float32)
            kernel -= 0.5
            kernel *= np.float32(2.0 * np.sqrt(3.0 / width))
            inner.create_dataset("kernel:0", data=kernel)
            inner.create_dataset("bias:0", data=rng.random(width, dtype=np.float32) - np.float32(0.5))
            total += kernel.nbytes + width * 4
            del kernel
        _string_attr(handle.create_group("top_level_model_weights"), "weight_names", [])
    return total


def _layout(path: Path, ignore_values: tuple[str, ...] = ("keras_version",)) -> list[tuple]:
    """The structure of an HDF5 file: groups, attributes (with their stored types) and datasets, no data."""
    import h5py
    import numpy as np

    entries: list[tuple] = []

    def attrs(obj: Any) -> None:
        for key in sorted(obj.attrs):
            stored = obj.attrs.get_id(key)
            value = obj.attrs[key]
            shown = "<ignored>" if key in ignore_values else (
                [v.decode() if isinstance(v, bytes) else str(v) for v in np.atleast_1d(value)]
            )
            entries.append((obj.name, "attr", key, str(stored.dtype), stored.shape,
                            type(stored.get_type()).__name__, str(h5py.check_string_dtype(stored.dtype)), shown))

    def visit(name: str, obj: Any) -> None:
        if isinstance(obj, h5py.Dataset):
            entries.append((obj.name, "dataset", str(obj.dtype), obj.shape, obj.chunks, obj.compression))
        else:
            entries.append((obj.name, "group"))
        attrs(obj)

    with h5py.File(path, "r") as handle:
        attrs(handle)
        handle.visititems(visit)
    return sorted(entries, key=repr)


def check_layout(directory: Path) -> str:
    """Write a 2-layer file with tf_keras and with :func:`write_legacy_h5`; refuse to go on if they differ."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tf_keras

    width, layers = 8, 2
    reference = directory / "layout_tf_keras.h5"
    ours = directory / "layout_h5py.h5"
    tf_keras.backend.clear_session()
    inputs = tf_keras.Input((width,), name=INPUT_LAYER)
    x = inputs
    for name in layer_names(layers):
        x = tf_keras.layers.Dense(width, name=name)(x)
    tf_keras.Model(inputs, x).save_weights(str(reference), save_format="h5")
    write_legacy_h5(ours, layers, width)
    expected, got = _layout(reference), _layout(ours)
    reference.unlink()
    ours.unlink()
    if expected != got:
        diff = [e for e in expected if e not in got][:5], [g for g in got if g not in expected][:5]
        raise SystemExit(f"generated HDF5 layout differs from tf_keras's save_weights: only tf_keras {diff[0]}, "
                         f"only ours {diff[1]}")
    return f"layout identical to tf_keras {tf_keras.__version__} save_weights ({len(expected)} entries compared)"


FACTORY = '''"""Keras 3 model with the architecture of the benchmark's legacy file (generated by bench_port.py)."""

import keras

LAYERS = {layers}
WIDTH = {width}


def build():
    inputs = keras.Input((WIDTH,), name="{input_layer}")
    x = inputs
    for i in range(LAYERS):
        x = keras.layers.Dense(WIDTH, name=f"dense_{{i}}")(x)
    return keras.Model(inputs, x)
'''


def write_factory(path: Path, layers: int, width: int) -> None:
    path.write_text(FACTORY.format(layers=layers, width=width, input_layer=INPUT_LAYER), encoding="utf-8")


# --------------------------------------------------------------------------
# Child process: memory and in-process throughput
# --------------------------------------------------------------------------


def _status_kib(field: str) -> int:
    with open("/proc/self/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise KeyError(field)


def rss() -> int:
    """Current resident set size in bytes."""
    return _status_kib("VmRSS") * 1024


def peak() -> int:
    """Peak resident set size in bytes since start or the last :func:`reset_peak`."""
    return _status_kib("VmHWM") * 1024


def reset_peak() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: ``echo 5 > /proc/self/clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as handle:
            handle.write("5")
    except OSError:
        return False
    return True


def h5_copy(source: Path, dest: Path, names: list[str]) -> None:
    """The reference: read every dataset into memory and write it to a new HDF5 file."""
    import h5py

    with h5py.File(source, "r") as src, h5py.File(dest, "w") as dst:
        for name in names:
            array = src[name][()]
            dst.create_dataset(name, data=array)
            del array


def h5_read(source: Path, names: list[str]) -> None:
    import h5py

    with h5py.File(source, "r") as src:
        for name in names:
            array = src[name][()]
            del array


def child(args: argparse.Namespace) -> None:
    """Runs in a fresh interpreter; prints one JSON line tagged ``RESULT_TAG``."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    result: dict[str, Any] = {}
    result["rss_start"] = rss()
    import h5py
    import keras
    import numpy as np
    import tensorflow as tf

    import migrate.weights.plan  # noqa: F401 -- imported before the baseline is taken
    from migrate.weights.h5 import read_h5

    source_path = Path(args.child)
    workdir = source_path.parent
    factory_path = workdir / "factory.py"
    namespace: dict[str, Any] = {}
    exec(compile(factory_path.read_text(encoding="utf-8"), str(factory_path), "exec"), namespace)  # noqa: S102 -- our own generated file

    # Warm the import-time lazy paths (TF op registration, h5py plugins)
    # with a tiny model, so the baseline is the interpreter's, not first-use costs.
    tiny = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4)])
    tiny.layers[0].kernel.assign(np.zeros((4, 4), "float32"))
    del tiny
    result["rss_baseline"] = rss()

    model = namespace["build"]()
    result["model_bytes"] = int(sum(np.prod(v.shape) * np.dtype(v.dtype).itemsize for v in model.weights))
    result["rss_built"] = rss()
    result["peak_after_build"] = peak()

    result["peak_reset"] = reset_peak()
    result["peak_before_port"] = peak()
    start = time.perf_counter()
    with read_h5(source_path) as source:
        result["checkpoint_bytes"] = source.nbytes
        result["largest_tensor_bytes"] = max(w.nbytes for w in source.weights)
    port_once(source_path, model, args.impl)
    result["first_port_s"] = time.perf_counter() - start
    result["peak_port"] = peak()
    result["rss_after_port"] = rss()

    # Check that the port landed (the last layer, whole).
    with h5py.File(source_path, "r") as handle:
        last = model.layers[-1]
        for variable, weight in ((last.kernel, "kernel"), (last.bias, "bias")):
            if not np.array_equal(np.asarray(variable.numpy()), handle[f"{last.name}/{last.name}/{weight}:0"][()]):
                raise SystemExit(f"port check failed ({args.impl}): {last.name}/{weight} differs from the file")

    if args.timings:
        result["seconds"] = timings(args, source_path, model)
    if args.anatomy:
        result["anatomy"] = anatomy(source_path, model, np, tf)
    print(RESULT_TAG + json.dumps(result), flush=True)


PORT_LABELS = {
    "apply_plan": "port (read_h5 + plan_by_layers + apply_plan)",
    "chunked": "candidate port: row blocks, in-place slice assign",
    "dlpack": "candidate port: aligned read, zero-copy DLPack assign",
}
BLOCK_BYTES = 4 * MIB


def port_once(source_path: Path, model: Any, impl: str) -> None:
    """One whole port: the project's ``apply_plan``, or the row-block candidate (a proposed fix)."""
    from migrate.weights.h5 import read_h5
    from migrate.weights.plan import apply_plan, plan_by_layers

    with read_h5(source_path) as source:
        plan = plan_by_layers(source, model)
        if impl == "apply_plan":
            apply_plan(plan, str(source_path))
        elif impl == "chunked":
            chunked_apply(plan, source_path)
        else:
            dlpack_apply(plan, source_path)


def chunked_apply(plan: Any, source_path: Path) -> None:
    """Proposed fix, for measurement only: fill each TF variable in place, ``BLOCK_BYTES`` of rows at a time.

    ``tf.Variable[a:b].assign`` is an in-place strided-slice assign, so
    outside the variables only one block (its NumPy read and its tensor copy)
    is ever alive instead of two whole tensors. HDF5 datasets are sliced by
    the same rows (h5py reads just those). TensorFlow backend, identity
    transforms only: enough to show the memory and time it would give.
    """
    import h5py
    import numpy as np

    plan.raise_if_incomplete(str(source_path))
    with h5py.File(source_path, "r") as handle:
        for item in plan.assignments:
            if item.transform != "identity":
                raise SystemExit(f"the candidate only handles identity transforms, not {item.transform}")
            dset = handle[f"{item.source.layer}/{item.source.name}:0"]
            target = item.target.value  # the tf.Variable behind the Keras variable
            if dset.ndim == 0 or dset.nbytes <= BLOCK_BYTES:
                target.assign(np.asarray(dset[()]).astype(item.target.dtype, copy=False))
                continue
            rows = max(1, BLOCK_BYTES // (dset.nbytes // dset.shape[0]))
            for begin in range(0, dset.shape[0], rows):
                block = np.asarray(dset[begin:begin + rows]).astype(item.target.dtype, copy=False)
                assign_rows(target, begin, block)


def aligned_empty(shape: tuple[int, ...], dtype: Any, align: int = 64) -> Any:
    """An uninitialised NumPy array whose data starts on an ``align``-byte boundary (TF's Eigen needs 64)."""
    import numpy as np

    nbytes = int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
    raw = np.empty(nbytes + align, np.uint8)
    offset = (-raw.ctypes.data) % align
    return raw[offset:offset + nbytes].view(dtype).reshape(shape)


def dlpack_apply(plan: Any, source_path: Path) -> None:
    """Proposed fix, for measurement only: read into an aligned buffer and give it to TF without a copy.

    ``tf.convert_to_tensor(ndarray)`` (inside ``keras.Variable.assign``) copies
    the array; ``tf.experimental.dlpack.from_dlpack`` wraps it instead, and
    ``AssignVariableOp`` then takes that buffer over (the variable's old
    buffer is freed), so one tensor is in flight, not two. The buffer must be
    64-byte aligned (TF's kernels assume it; a plain ``np.empty`` of this size
    is 16-byte aligned and TF aborts on it), fresh for every weight (the
    variable keeps it) and of the variable's dtype. TensorFlow backend,
    identity transforms only.
    """
    import h5py
    import numpy as np
    import tensorflow as tf

    plan.raise_if_incomplete(str(source_path))
    with h5py.File(source_path, "r") as handle:
        for item in plan.assignments:
            if item.transform != "identity":
                raise SystemExit(f"the candidate only handles identity transforms, not {item.transform}")
            dset = handle[f"{item.source.layer}/{item.source.name}:0"]
            if np.dtype(dset.dtype) != np.dtype(item.target.dtype):
                raise SystemExit("the candidate only handles weights already in the variable's dtype")
            buffer = aligned_empty(dset.shape, dset.dtype)
            if buffer.size:
                dset.read_direct(buffer)
            item.target.value.assign(tf.experimental.dlpack.from_dlpack(buffer.__dlpack__()))
            del buffer


def assign_rows(variable: Any, begin: int, block: Any) -> None:
    """``variable[begin:begin + len(block)] = block`` in place.

    The raw op, not ``variable[a:b].assign``: that one first *reads* the
    slice, and a leading-axis slice of a TF tensor aliases the variable's
    buffer, so the assign sees a shared buffer and copies the whole variable
    (copy-on-write) for every block -- with oneDNN off, 16 full copies of a
    64 MiB kernel.
    """
    import tensorflow as tf

    tf.raw_ops.ResourceStridedSliceAssign(
        ref=variable.handle, begin=[begin], end=[begin + block.shape[0]], strides=[1], value=block
    )


def timings(args: argparse.Namespace, source_path: Path, model: Any) -> dict[str, list[float]]:
    """Seconds of the copy, the read and the port, round-robin over ``args.reps`` after one warm-up each."""
    workdir = source_path.parent
    names = [f"{n}/{n}/{w}:0" for n in layer_names(args.layers) for w in ("kernel", "bias")]

    def do_copy() -> None:
        dest = workdir / "copy.h5"
        h5_copy(source_path, dest, names)
        dest.unlink()

    def do_read() -> None:
        h5_read(source_path, names)

    def do_port() -> None:
        port_once(source_path, model, args.impl)

    candidates = {"h5py copy (read + write)": do_copy, "h5py read only": do_read, PORT_LABELS[args.impl]: do_port}
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for fn in candidates.values():
        fn()  # warm-up
    for _ in range(args.reps):
        for name, fn in candidates.items():
            start = time.perf_counter()
            fn()
            samples[name].append(time.perf_counter() - start)
    return samples


def anatomy(source_path: Path, model: Any, np: Any, tf: Any) -> dict[str, int]:
    """Peak memory above the current RSS of each step of porting the largest weight, in bytes."""
    import h5py

    layer = model.layers[-1]
    variable = layer.kernel
    key = f"{layer.name}/{layer.name}/kernel:0"
    figures: dict[str, int] = {}

    def measure(label: str, fn: Any) -> Any:
        import gc

        gc.collect()
        reset_peak()
        before = rss()
        value = fn()
        figures[label] = peak() - before
        return value

    with h5py.File(source_path, "r") as handle:
        dset = handle[key]
        figures["tensor_bytes"] = int(dset.size * dset.dtype.itemsize)
        array = measure("h5py dset[()] (the read)", lambda: dset[()])
        measure("np.asarray + astype(copy=False)", lambda: np.asarray(array).astype("float32", copy=False))
        measure("tf.convert_to_tensor(array)", lambda: tf.convert_to_tensor(array))
        measure("keras variable.assign(array)", lambda: variable.assign(array))
        measure("tf.Variable.assign(array) (Keras 3's _value)", lambda: variable.value.assign(array))
        measure("read + keras variable.assign, array dropped", lambda: variable.assign(dset[()]))
        del array

        def chunked() -> None:
            # Candidate fix: fill the TF variable row-block by row-block, so
            # only one block is ever in flight outside the variable.
            target = variable.value
            rows = dset.shape[0]
            step = max(1, rows // 16)
            for begin in range(0, rows, step):
                assign_rows(target, begin, dset[begin:begin + step])

        measure("candidate: row blocks of 1/16, in-place strided-slice assign", chunked)

        def zero_copy() -> None:
            buffer = aligned_empty(dset.shape, dset.dtype)
            dset.read_direct(buffer)
            variable.value.assign(tf.experimental.dlpack.from_dlpack(buffer.__dlpack__()))

        measure("candidate: aligned read_direct + DLPack assign (no TF copy)", zero_copy)
    if not np.array_equal(variable.numpy(), h5py.File(source_path, "r")[key][()]):
        raise SystemExit("anatomy: the candidate assigns did not reproduce the kernel")
    return figures


# --------------------------------------------------------------------------
# Parent
# --------------------------------------------------------------------------


def run_cli(source: Path, workdir: Path, dry_run: bool) -> tuple[float, int, str]:
    """Wall seconds, peak RSS (bytes) and the last output line of ``migrate port``."""
    exe = Path(sys.executable).parent / "migrate"
    command = [str(exe)] if exe.exists() else [sys.executable, "-m", "migrate.cli"]
    out = workdir / "ported.keras"
    command += ["port", str(source), "--model", f"{workdir / 'factory.py'}:build"]
    command += ["--dry-run"] if dry_run else ["--to", str(out), "--force"]
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    with open(workdir / "cli.out", "w+", encoding="utf-8") as stdout, open(workdir / "cli.err", "w+", encoding="utf-8") as stderr:
        start = time.perf_counter()
        proc = subprocess.Popen(command, stdout=stdout, stderr=stderr, env=env)
        # wait4 reaps this very child and returns its own rusage (its peak RSS).
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        stdout.seek(0)
        stderr.seek(0)
        output, errors = stdout.read(), stderr.read()
    maxrss = usage.ru_maxrss * 1024  # KiB on Linux
    if proc.returncode != 0:
        raise SystemExit(f"migrate port failed ({proc.returncode}): {errors[-2000:]}")
    if out.exists():
        out.unlink()
    lines = [line for line in output.splitlines() if line.strip()]
    return elapsed, maxrss, (lines[-1] if lines else "")


# glibc raises its mmap threshold (up to 32 MiB) every time a large block is
# freed, after which freed tensors stay in the heap and count in the RSS; with
# the threshold pinned, every block above it is returned to the OS when freed,
# so the peak counter sees each step's own allocations.
PINNED_MALLOC = {"MALLOC_MMAP_THRESHOLD_": str(128 * 1024)}


def run_child(args: argparse.Namespace, source: Path, layers: int, *, timed: bool, anatomy_run: bool,
              pinned: bool, impl: str = "apply_plan") -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", str(source), "--layers", str(layers),
               "--reps", str(args.reps), "--impl", impl]
    command += ["--timings"] if timed else []
    command += ["--anatomy"] if anatomy_run else []
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if pinned:
        env.update(PINNED_MALLOC)
    else:
        for key in PINNED_MALLOC:
            env.pop(key, None)
    proc = subprocess.run(command, capture_output=True, text=True, env=env, cwd=str(ROOT))
    for line in proc.stdout.splitlines():
        if line.startswith(RESULT_TAG):
            return json.loads(line[len(RESULT_TAG):])
    raise SystemExit(f"benchmark child failed ({proc.returncode}): {proc.stderr[-3000:]}")


def _mib(value: float) -> str:
    return f"{value / MIB:8.1f} MiB"


def report(args: argparse.Namespace, runs: dict[str, dict[str, Any]], cli: dict[str, Any] | None, size: int) -> None:
    child_result = next(r for r in runs.values() if "seconds" in r)
    pinned = runs["pinned malloc"]
    print("")
    print(f"checkpoint: {child_result['checkpoint_bytes'] / MIB:.1f} MiB in {args.layers_used} Dense layers of "
          f"{args.width_used}x{args.width_used} float32 (largest tensor {child_result['largest_tensor_bytes'] / MIB:.1f} MiB)")
    print("")
    print(f"{'throughput (median of ' + str(args.reps) + ', warm page cache)':<60} {'seconds':>9} {'MiB/s':>9}")
    print("-" * 80)
    ratios: list[tuple[str, float]] = []
    for label, run in runs.items():
        if "seconds" not in run:
            continue
        print(f"[child: {label}]")
        seconds = {name: statistics.median(values) for name, values in run["seconds"].items()}
        for name, value in seconds.items():
            print(f"  {name:<58} {value:>9.3f} {size / MIB / value:>9.1f}")
        print(f"  {'first port (the memory run)':<58} {run['first_port_s']:>9.3f} {size / MIB / run['first_port_s']:>9.1f}")
        port_name = next(name for name in seconds if name in PORT_LABELS.values())
        ratios.append((port_name, seconds["h5py copy (read + write)"] / seconds[port_name]))
    copy_s = statistics.median(child_result["seconds"]["h5py copy (read + write)"])
    if cli is not None:
        print("[subprocesses]")
        print(f"  {'migrate port CLI (start-up + port + .keras write + reload)':<58} {cli['wall']:>9.3f} "
              f"{size / MIB / cli['wall']:>9.1f}")
        print(f"  {'migrate port --dry-run (start-up, read, build, plan)':<58} {cli['dry_wall']:>9.3f}")
        rest = cli["wall"] - cli["dry_wall"]
        print(f"  {'CLI minus dry-run (assign + write + reload)':<58} {rest:>9.3f} {size / MIB / rest:>9.1f}")
    print("")
    for index, (name, ratio) in enumerate(ratios):
        tag = "RATIO port/copy throughput" if index == 0 else f"RATIO [{name}]/copy throughput"
        print(f"{tag}: {ratio:.2f}  (goal >= 0.5: {'MET' if ratio >= 0.5 else 'NOT MET'})")
    if cli is not None:
        print(f"RATIO cli/copy throughput: {copy_s / cli['wall']:.3f}  (whole CLI incl. start-up and .keras write)")

    ckpt = child_result["checkpoint_bytes"]
    largest = child_result["largest_tensor_bytes"]
    print("")
    print("memory of the port (fresh child processes; VmRSS / VmHWM from /proc/self/status; the peak counter is "
          "reset just before the port)")
    print(f"{'':<44}" + "".join(f"{label:>22}" for label in runs))

    def line(label: str, key: Any) -> None:
        values = [key(r) if callable(key) else r[key] for r in runs.values()]
        print(f"  {label:<42}" + "".join(f"{value / MIB:>18.1f} MiB" for value in values))

    line("interpreter baseline (all imported)", "rss_baseline")
    line("after building the Keras 3 model", "rss_built")
    line("  = model above baseline", lambda r: r["rss_built"] - r["rss_baseline"])
    line("peak during the port", "peak_port")
    line("  = peak above baseline", lambda r: r["peak_port"] - r["rss_baseline"])
    line("  = peak above the built model (in flight)", lambda r: r["peak_port"] - r["rss_built"])
    line("RSS after the port", "rss_after_port")
    print(f"  (the model's variables are {child_result['model_bytes'] / MIB:.1f} MiB; peak counter reset: "
          f"{all(r['peak_reset'] for r in runs.values())}; pinned malloc: {PINNED_MALLOC})")
    for label, run in runs.items():
        above = run["peak_port"] - run["rss_baseline"]
        flight = run["peak_port"] - run["rss_built"]
        print(f"MEMORY [{label}] port peak above interpreter baseline: {above / MIB:.1f} MiB = {above / ckpt:.2f}x "
              f"the checkpoint (goal <= 1.25x: {'MET' if above <= 1.25 * ckpt else 'NOT MET'}); in flight above the "
              f"built model: {flight / MIB:.1f} MiB = {flight / largest:.2f}x the largest tensor")
    if cli is not None:
        print(f"MEMORY migrate port CLI peak RSS: {cli['maxrss'] / MIB:.1f} MiB = {cli['maxrss'] / ckpt:.2f}x the "
              f"checkpoint (whole process: imports, model, port, .keras save and reload)")
    print("")
    figures = dict(pinned["anatomy"])
    tensor = figures.pop("tensor_bytes")
    print(f"anatomy of one tensor (largest kernel, {tensor / MIB:.1f} MiB; pinned malloc; peak above the RSS just "
          "before each step):")
    for label, value in figures.items():
        print(f"  {label:<62} {value / MIB:8.1f} MiB = {value / tensor:5.2f}x the tensor")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=500.0, help="checkpoint size in MiB (default 500)")
    parser.add_argument("--width", type=int, default=0,
                        help="Dense width (default: the widest power of two <= 4096 giving >= 4 layers)")
    parser.add_argument("--reps", type=int, default=5, help="timed repetitions; the median is reported (default 5)")
    parser.add_argument("--no-cli", action="store_true", help="skip the migrate port CLI measurement")
    parser.add_argument("--quick", action="store_true",
                        help="smoke-test settings: --mb 8 --reps 1 --no-cli, one child process for everything")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (prints its path)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--layers", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--anatomy", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--timings", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--impl", choices=sorted(PORT_LABELS), default="apply_plan", help=argparse.SUPPRESS)
    parser.add_argument("--no-candidate", action="store_true",
                        help="skip the runs of the two proposed ports (two more child processes)")
    args = parser.parse_args(argv)
    if args.quick:
        args.mb, args.reps, args.no_cli, args.no_candidate = 8.0, 1, True, True
    return args


def main(argv: list[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    if args.child:
        child(args)
        return {}
    # What `migrate port` does before importing TensorFlow (see migrate/port_cli.py);
    # the child processes inherit it. Set it to 1 to measure with oneDNN on.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", flush=True)

    print("command: " + " ".join(["python", "benchmarks/bench_port.py", *(sys.argv[1:] if argv is None else argv)]))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}; "
          f"python {platform.python_version()}; load average {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    width = args.width or auto_width(args.mb)
    layers = layer_count(args.mb, width)
    args.width_used, args.layers_used = width, layers
    workdir = Path(tempfile.mkdtemp(prefix="bench_port_"))
    try:
        log(check_layout(workdir))
        source = workdir / "legacy_weights.h5"
        size = write_legacy_h5(source, layers, width)
        write_factory(workdir / "factory.py", layers, width)
        log(f"wrote {source.name}: {size / MIB:.1f} MiB of weights, file {source.stat().st_size / MIB:.1f} MiB")
        cli = None
        if not args.no_cli:
            wall, maxrss, last = run_cli(source, workdir, dry_run=False)
            log(f"migrate port: {wall:.2f}s, peak RSS {maxrss / MIB:.0f} MiB: {last}")
            dry_wall, _, _ = run_cli(source, workdir, dry_run=True)
            log(f"migrate port --dry-run: {dry_wall:.2f}s")
            cli = {"wall": wall, "maxrss": maxrss, "dry_wall": dry_wall}
        runs: dict[str, dict[str, Any]] = {}
        if args.quick:
            # One child does everything (the smoke test's time budget).
            runs["pinned malloc"] = run_child(args, source, layers, timed=True, anatomy_run=True, pinned=True)
            log("child (pinned malloc threshold: memory, throughput, anatomy) done")
        else:
            runs["default malloc"] = run_child(args, source, layers, timed=True, anatomy_run=False, pinned=False)
            log("child (default malloc: memory and throughput) done")
            runs["pinned malloc"] = run_child(args, source, layers, timed=False, anatomy_run=True, pinned=True)
            log("child (pinned malloc threshold: memory and anatomy) done")
            if not args.no_candidate:
                for impl, label in (("chunked", "cand. row blocks"), ("dlpack", "cand. DLPack")):
                    runs[label] = run_child(args, source, layers, timed=True, anatomy_run=False, pinned=False,
                                            impl=impl)
                    log(f"child ({PORT_LABELS[impl]}, default malloc: memory and throughput) done")
        report(args, runs, cli, size)
        log("total")
        return {"runs": runs, "cli": cli, "size": size}
    finally:
        if args.keep:
            print(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
