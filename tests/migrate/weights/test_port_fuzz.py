"""Fuzzing ``migrate port`` with mutated real legacy files (issue 10).

Hypothesis takes a bundled legacy HDF5 file of ``tests/fixtures/legacy`` and
applies a few mutations a damaged or hostile file could carry: attributes
(``layer_names``, ``weight_names``, ``model_config``, ...), dataset shapes
and dtypes, chunking and compression (unwritten chunks, zip bombs), links
(soft, external, hard-link cycles), weight names, group structure,
truncation, and edits of the ``model_config`` JSON. For each case the port
must end in one of two ways, within a time and memory bound:

* success: OUT exists and is a ``.keras`` archive (the writer reloaded it
  with ``safe_mode=True`` and compared it with the ported model);
* a :class:`PortError` whose message is one line (what the CLI prints as its
  single ``migrate port: error:`` line), and nothing at OUT.

Never another exception (which the CLI would show as an "internal error"),
never a temporary file left beside OUT. The cases run in-process through
:func:`run_port` (what ``migrate port`` calls, minus argument parsing), and
a few fixed ones as real ``migrate port`` processes. A second property
damages the bundled TF checkpoint (index, data and state file) the same way.

Seeded (``derandomize``) so that CI sees the same cases every run; the
number of cases is bounded so that the test takes about a minute on two
cores. ``MIGRATE_FUZZ_EXAMPLES=500`` runs more, still deterministically.
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any, Callable

import h5py
import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from migrate.weights.errors import PortError
from migrate.weights.port import PortRequest, run_port
from migrate.weights.tf_checkpoint import read_tf_checkpoint

ROOT = Path(__file__).resolve().parents[3]
LEGACY = ROOT / "tests" / "fixtures" / "legacy"
FACTORIES = ROOT / "tests" / "fixtures" / "port_models.py"
MIGRATE = [sys.executable, "-c", "import sys; from migrate.cli import main; sys.exit(main())"]

# (file, extra request fields): the full-model files rebuild themselves from
# their model_config; the weights-only file goes into the modern classifier.
SOURCES: list[tuple[str, dict[str, Any]]] = [
    ("tfkeras_builtin.model.h5", {}),
    ("keras22_classifier.model.h5", {}),
    ("keras22_classifier_weights.h5", {"model_spec": f"{FACTORIES}:modern_classifier", "map_name": "keras22"}),
]
# The small tf.keras model ports in about a second, the Keras 2.2 classifier
# in about five: it is drawn more often, to try more cases per minute.
WEIGHTED_SOURCES = [SOURCES[0]] * 3 + SOURCES[1:]
EXAMPLES = int(os.environ.get("MIGRATE_FUZZ_EXAMPLES", "40"))
# A hang guard, not a benchmark: a warm port of these files takes a few
# seconds, but the CI machine may be shared.
CASE_SECONDS = 90.0
# Peak resident memory may grow by at most this over the whole run: every
# bomb must be refused before it allocates.
RSS_GROWTH_BYTES = 1 << 30

pytestmark = pytest.mark.slow


# -- mutations: each takes the open file and a hypothesis draw -------------------


def _datasets(f: h5py.File) -> list[str]:
    names: list[str] = []
    f.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Dataset) else None)
    return sorted(names)


def _groups(f: h5py.File) -> list[str]:
    names: list[str] = []
    f.visititems(lambda name, item: names.append(name) if isinstance(item, h5py.Group) else None)
    return sorted(names)


ATTR_VALUES = st.one_of(
    st.text(max_size=40),
    st.binary(max_size=40),
    st.integers(-(2**40), 2**40),
    st.lists(st.text(max_size=12), max_size=6),
    st.lists(st.binary(max_size=12), min_size=1, max_size=6),
    st.just(np.zeros((0,), "S1")),
    st.just(np.arange(6, dtype="int64").reshape(2, 3)),
    st.just(b"\xff\xfe\x00garbage"),
)


def mutate_attribute(f: h5py.File, draw: Callable) -> str:
    """Set, replace or delete an attribute that the reader looks at."""
    groups = ["/"] + _groups(f)
    target = f[draw(st.sampled_from(groups))]
    name = draw(st.sampled_from(["layer_names", "weight_names", "model_config", "keras_version", "backend",
                                 "training_config", "layer_names0", "weight_names0"]))
    if draw(st.booleans()) and name in target.attrs:
        del target.attrs[name]
        return f"del attr {target.name}@{name}"
    value = draw(ATTR_VALUES)
    try:
        target.attrs[name] = value
    except (ValueError, TypeError):  # h5py cannot store it as given (NULs in a str)
        target.attrs[name] = np.void(bytes(value) if isinstance(value, bytes) else str(value).encode())
    return f"attr {target.name}@{name}={value!r:.60}"


def mutate_list_attribute(f: h5py.File, draw: Callable) -> str:
    """Shuffle, drop, duplicate or invent entries of layer_names / weight_names."""
    holders = [g for g in ["/", "model_weights"] + _groups(f) if g in f and
               ("layer_names" in f[g].attrs or "weight_names" in f[g].attrs)]
    group = f[draw(st.sampled_from(holders))]
    name = "layer_names" if "layer_names" in group.attrs else "weight_names"
    values = list(np.atleast_1d(group.attrs[name]))
    op = draw(st.sampled_from(["drop", "dup", "invent", "reverse", "empty", "split"]))
    if op == "drop" and values:
        values.pop(draw(st.integers(0, len(values) - 1)))
    elif op == "dup" and values:
        values = values + values
    elif op == "invent":
        values.insert(0, draw(st.sampled_from([b"ghost", b"", b"../..", b"/", b"model_weights", b"a/b:0"])))
    elif op == "reverse":
        values = values[::-1]
    elif op == "empty":
        values = []
    elif op == "split" and values:
        del group.attrs[name]
        half = len(values) // 2
        group.attrs[f"{name}0"] = np.array(values[:half] or [b""], dtype="S")
        group.attrs[f"{name}1"] = np.array(values[half:], dtype="S")
        return f"split {group.name}@{name}"
    group.attrs[name] = np.array(values, dtype="S") if values else np.zeros((0,), "S1")
    return f"{op} {group.name}@{name}"


def mutate_dataset(f: h5py.File, draw: Callable) -> str:
    """Replace a dataset: other shape, dtype, chunking, compression or none of its chunks."""
    name = draw(st.sampled_from(_datasets(f)))
    old = f[name]
    shape = tuple(old.shape)
    op = draw(st.sampled_from(["shape", "dtype", "scalar", "chunked", "gzip", "unwritten", "partial", "huge",
                               "bomb", "string", "empty"]))
    data: Any = old[()] if old.size < 1 << 16 else None
    del f[name]
    if op == "shape":
        shape = tuple(draw(st.lists(st.integers(0, 40), min_size=0, max_size=4)))
        f.create_dataset(name, data=np.ones(shape, "float32"))
    elif op == "dtype":
        dtype = draw(st.sampled_from(["float16", "float64", "int8", "uint64", "bool", "complex64", "int32"]))
        f.create_dataset(name, data=np.asarray(data).astype(dtype))
    elif op == "scalar":
        f.create_dataset(name, data=np.float32(1.5))
    elif op in ("chunked", "gzip"):
        if not shape:
            f.create_dataset(name, data=data)
        else:
            f.create_dataset(name, data=data, chunks=True, compression="gzip" if op == "gzip" else None)
    elif op in ("unwritten", "partial"):
        big = draw(st.booleans())
        decl = ((2**22,) + shape[1:]) if (big and shape) else shape
        if not decl:
            decl = (1,)
        # Small chunks: the test writes one of them, never the declared size.
        chunks = (max(1, min(decl[0] // 2, 1024)),) + decl[1:]
        d = f.create_dataset(name, shape=decl, dtype="float32", chunks=chunks)
        if op == "partial" and decl[0] > 1:
            d[: chunks[0]] = 1.0
        return f"{op} {name} {decl}"
    elif op == "huge":
        f.create_dataset(name, shape=(2**33,) + shape[1:], dtype="float32", chunks=(2**16,) + shape[1:])
    elif op == "bomb":
        rows = 2**16
        f.create_dataset(name, data=np.zeros((rows,) + shape[1:], "float32"), compression="gzip",
                         chunks=(rows,) + shape[1:])
    elif op == "string":
        f.create_dataset(name, data=np.array([b"x"] * max(1, shape[0] if shape else 1), dtype="S1"))
    elif op == "empty":
        f.create_dataset(name, shape=shape, dtype="float32")  # contiguous, never written
    return f"{op} {name} {shape}"


def mutate_links(f: h5py.File, draw: Callable) -> str:
    """Soft, external and hard links, including cycles and exponential DAGs."""
    groups = _groups(f)
    group = f[draw(st.sampled_from(groups))]
    op = draw(st.sampled_from(["soft", "external", "cycle", "dag", "alias", "dangling"]))
    tag = len(group)  # a fresh name in this group
    if op == "soft":
        group[f"linked{tag}"] = h5py.SoftLink("/" + draw(st.sampled_from(groups)))
    elif op == "external":
        group[f"linked{tag}"] = h5py.ExternalLink("/etc/passwd", "/x")
    elif op == "cycle":
        group[f"up{tag}"] = f["/"]  # a hard link back to the root
    elif op == "dag":
        chain = [group.create_group(f"dag{tag}_{i}") for i in range(30)]
        for upper, lower in zip(chain, chain[1:]):
            upper["a"] = lower
            upper["b"] = lower
    elif op == "alias":
        # Two names for one dataset: two weights read the same bytes.
        name = draw(st.sampled_from(_datasets(f)))
        group[f"alias{tag}:0"] = f[name]
    elif op == "dangling":
        group[f"gone{tag}"] = h5py.SoftLink("/does/not/exist")
    return f"{op} link in {group.name}"


def mutate_structure(f: h5py.File, draw: Callable) -> str:
    """Delete, move or replace groups and datasets; rename weights."""
    op = draw(st.sampled_from(["del_group", "del_dataset", "group_to_dataset", "dataset_to_group", "rename",
                               "move"]))
    if op in ("del_group", "group_to_dataset"):
        name = draw(st.sampled_from(_groups(f)))
        del f[name]
        if op == "group_to_dataset":
            f[name] = np.ones(3, "float32")
    elif op in ("del_dataset", "dataset_to_group", "rename", "move"):
        name = draw(st.sampled_from(_datasets(f)))
        if op == "rename":
            f.move(name, name + "_renamed")
        elif op == "move":
            f.move(name, name.rsplit("/", 1)[-1] + "_top")
        else:
            del f[name]
            if op == "dataset_to_group":
                f.create_group(name)
    return f"{op} {name}"


def mutate_config(f: h5py.File, draw: Callable) -> str:
    """Edits of the model_config JSON a damaged or hostile file could carry."""
    if "model_config" not in f.attrs:
        return "no model_config"
    raw = f.attrs["model_config"]
    try:
        config = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    except (ValueError, UnicodeDecodeError):
        return "model_config not JSON (left as is)"
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict) \
            or not isinstance(config["config"].get("layers", []), list):
        return "model_config not a model (left as is)"
    layers = [layer for layer in config["config"].get("layers", []) if isinstance(layer, dict)]
    op = draw(st.sampled_from(["class", "units", "drop_key", "layers_type", "deep", "inbound", "dtype",
                               "name", "text"]))
    layer = draw(st.sampled_from(layers)) if layers else {}
    if op == "class" and layer:
        layer["class_name"] = draw(st.sampled_from(["Dense", "Conv2D", "Lambda", "Nope", "", "Model"]))
    elif op == "units" and layer:
        key = draw(st.sampled_from(["units", "input_dim", "output_dim", "num_heads", "key_dim", "rate"]))
        layer.setdefault("config", {})[key] = draw(st.one_of(st.integers(-3, 2**40), st.floats(allow_nan=True),
                                                             st.text(max_size=5), st.none()))
    elif op == "drop_key" and layer:
        layer.pop(draw(st.sampled_from(["config", "class_name", "name", "inbound_nodes"])), None)
    elif op == "layers_type":
        config.setdefault("config", {})["layers"] = draw(st.sampled_from([None, "x", [1, 2], {}, [["a"]]]))
    elif op == "deep":
        nested: Any = {}
        for _ in range(draw(st.integers(50, 3000))):
            nested = {"config": nested}
        layer.setdefault("config", {})["kernel_initializer"] = nested
    elif op == "inbound" and layer:
        layer["inbound_nodes"] = draw(st.sampled_from([[[["ghost", 0, 0, {}]]], "x", [[["x"]]], [[]]]))
    elif op == "dtype" and layer:
        layer.setdefault("config", {})["dtype"] = draw(st.sampled_from(["float16", "int8", "string", "nope", 3]))
    elif op == "name" and layer:
        layer["name"] = draw(st.sampled_from(["", "a/b", layers[0].get("name", "x"), "x" * 300]))
    elif op == "text":
        f.attrs["model_config"] = draw(st.sampled_from(["", "{", "[]", "null", "1", '{"class_name": 1}']))
        return "model_config text"
    f.attrs["model_config"] = json.dumps(config)
    return f"config {op}"


MUTATIONS = [mutate_attribute, mutate_list_attribute, mutate_dataset, mutate_links, mutate_structure,
             mutate_config]


# -- the property -----------------------------------------------------------------


def _peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def check_case(source: Path, out: Path, extra: dict[str, Any]) -> str:
    """Run one port; return "ok" or "error: ..."; fail the test on anything else."""
    request = PortRequest(source=source, out=out, **extra)
    started = time.perf_counter()
    stdout, stderr = io.StringIO(), io.StringIO()
    try:
        run_port(request, out=stdout, err=stderr)
    except PortError as exc:
        message = str(exc)
        assert "\n" not in message and message.strip(), repr(message)
        assert not out.exists(), f"{out} left behind after: {message}"
        outcome = f"error: {message}"
    else:
        assert out.is_file(), "a successful port must write OUT"
        with zipfile.ZipFile(out) as archive:
            assert "config.json" in archive.namelist()
        outcome = "ok"
    elapsed = time.perf_counter() - started
    assert elapsed < CASE_SECONDS, f"{elapsed:.1f} s"
    leftovers = [p.name for p in out.parent.iterdir() if p != out]
    assert not leftovers, f"temporary files left beside OUT: {leftovers}"
    return outcome


@pytest.fixture(scope="module")
def baseline_rss(tmp_path_factory: pytest.TempPathFactory) -> int:
    """Peak memory after one clean port: imports and the first model build
    (tens of seconds cold) are then out of the per-case bounds."""
    work = tmp_path_factory.mktemp("warm")
    name, extra = SOURCES[0]
    run_port(PortRequest(source=LEGACY / name, out=work / "warm.keras", **extra), out=io.StringIO(), err=io.StringIO())
    return _peak_rss()


@pytest.fixture(scope="module")
def tally() -> dict[str, int]:
    counts = {"cases": 0, "ok": 0, "error": 0}
    started = time.perf_counter()
    yield counts
    print(f"\nport fuzz: {counts['cases']} cases, {counts['ok']} ported, {counts['error']} refused with one line, "
          f"{time.perf_counter() - started:.0f} s")


def test_mutated_legacy_files(tmp_path_factory: pytest.TempPathFactory, baseline_rss: int,
                              tally: dict[str, int]) -> None:
    # No shrinking: a failing case names its mutations in the message, and a
    # shrink would multiply the run time of a failing CI job.
    @settings(max_examples=EXAMPLES, derandomize=True, deadline=None, database=None, print_blob=True,
              phases=[Phase.explicit, Phase.generate],
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(data=st.data())
    def case(data: st.DataObject) -> None:
        work = tmp_path_factory.mktemp("fuzz")
        name, extra = data.draw(st.sampled_from(WEIGHTED_SOURCES), label="source")
        path = work / name
        shutil.copy(LEGACY / name, path)
        steps = data.draw(st.lists(st.sampled_from(MUTATIONS), min_size=1, max_size=3), label="mutations")
        # Links last: a walk of the file by the next mutation would follow them.
        steps.sort(key=lambda mutation: mutation is mutate_links)
        notes = []
        with h5py.File(path, "a") as f:
            for mutation in steps:
                try:
                    notes.append(mutation(f, data.draw))
                except (OSError, RuntimeError, ValueError, TypeError, KeyError) as exc:
                    # h5py could not craft this one (a name taken, a value it
                    # cannot store): a limit of the harness, not of the port.
                    notes.append(f"{mutation.__name__} not applied ({exc})")
        # Hypothesis favours small integers: 7 (not 0) keeps truncation at
        # about one case in ten, and cuts past the superblock say more.
        if data.draw(st.integers(0, 9), label="truncate?") == 7:
            size = path.stat().st_size
            cut = data.draw(st.integers(min(512, size - 1), size - 1), label="cut at")
            with open(path, "r+b") as handle:
                handle.truncate(cut)
            notes.append(f"truncated at {cut} of {size}")
        out_dir = work / "out"
        out_dir.mkdir()
        try:
            outcome = check_case(path, out_dir / "ported.keras", extra)
        except BaseException as exc:
            raise AssertionError(f"{name}: {'; '.join(notes)}: {type(exc).__name__}: {exc}") from exc
        if os.environ.get("MIGRATE_FUZZ_LOG"):
            print(f"{name}: {'; '.join(notes)} -> {outcome[:200]}")
        tally["cases"] += 1
        tally["ok" if outcome == "ok" else "error"] += 1
        assert _peak_rss() - baseline_rss < RSS_GROWTH_BYTES, notes
        shutil.rmtree(work)

    case()


# Fixed cases through the real command: the exit status, one stderr line, no traceback.
PROCESS_CASES = {
    "unwritten_chunks": lambda f: (f.__delitem__("model_weights/embed/embed/embeddings:0"),
                                   f.create_dataset("model_weights/embed/embed/embeddings:0", shape=(2**22, 16),
                                                    dtype="float32", chunks=(4096, 16))),
    "hard_link_cycle": lambda f: f["model_weights"].__setitem__("up", f["/"]),
    "layer_names_garbage": lambda f: f["model_weights"].attrs.__setitem__("layer_names", b"\xff\xfe"),
}


@pytest.mark.parametrize("case", sorted(PROCESS_CASES))
def test_mutated_file_through_the_command(case: str, tmp_path: Path) -> None:
    path = tmp_path / "builtin.h5"
    shutil.copy(LEGACY / "tfkeras_builtin.model.h5", path)
    with h5py.File(path, "a") as f:
        PROCESS_CASES[case](f)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    done = subprocess.run([*MIGRATE, "port", str(path), "--to", str(out_dir / "x.keras")], capture_output=True,
                          text=True, cwd=ROOT, timeout=300)
    lines = done.stderr.strip().splitlines()
    if done.returncode == 0:
        assert (out_dir / "x.keras").is_file() and not lines, done.stderr
    else:
        assert done.returncode == 2 and len(lines) == 1 and lines[0].startswith("migrate port: error:"), done.stderr
        assert not list(out_dir.iterdir())


# -- TF checkpoints: damaged index, data and state files -----------------------------

TUTORIAL_CKPT = LEGACY / "tutorial_ckpt"
CKPT_FILES = ["ckpt-2.index", "ckpt-2.data-00000-of-00001", "checkpoint"]


@settings(max_examples=int(os.environ.get("MIGRATE_FUZZ_EXAMPLES", "40")), derandomize=True, deadline=None,
          database=None, phases=[Phase.explicit, Phase.generate], suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_damaged_tf_checkpoints_read_or_fail_in_one_line(data: st.DataObject) -> None:
    """Flipped bits, zeroed runs and truncation in a CheckpointManager directory:
    reading the catalogue and every model variable ends in data or in a
    one-line :class:`PortError` (TensorFlow's own errors and checksums)."""
    with tempfile.TemporaryDirectory() as work:
        directory = Path(work) / "ckpt"
        shutil.copytree(TUTORIAL_CKPT, directory)
        target = directory / data.draw(st.sampled_from(CKPT_FILES), label="file")
        raw = bytearray(target.read_bytes())
        op = data.draw(st.sampled_from(["flip", "zero", "truncate", "garbage"]), label="op")
        if op == "flip":
            for _ in range(data.draw(st.integers(1, 8), label="flips")):
                raw[data.draw(st.integers(0, len(raw) - 1))] ^= 1 << data.draw(st.integers(0, 7))
        elif op == "zero":
            start = data.draw(st.integers(0, len(raw) - 1), label="at")
            raw[start:start + 64] = bytes(len(raw[start:start + 64]))
        elif op == "truncate":
            raw = raw[: data.draw(st.integers(0, len(raw) - 1), label="cut at")]
        else:
            raw = bytearray(data.draw(st.binary(min_size=1, max_size=200), label="garbage"))
        target.write_bytes(bytes(raw))
        started = time.perf_counter()
        try:
            with read_tf_checkpoint(directory) as source:
                for weight in source.weights:
                    weight.read()
        except PortError as exc:
            assert "\n" not in str(exc), str(exc)
        assert time.perf_counter() - started < CASE_SECONDS
