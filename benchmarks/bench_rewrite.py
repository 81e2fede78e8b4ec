"""Throughput of ``migrate rewrite`` against the floor of any libcst tool and against tf_upgrade_v2.

Generates a tree that looks like a real code base holding legacy Keras, then
measures in one run on this machine:

* ``migrate rewrite TREE -o OUT`` with all workers (lines/s, wall clock, CLI included);
* libcst parse-only over the same files with the same worker count (lines/s);
  the two alternate ``--repeat`` times (default 3) and the best of each is kept,
  which steadies the ratio on a shared machine;
* ``tf_upgrade_v2 --intree TREE --outtree OUT2`` (lines/s), or why it failed;
* the start-up time of ``migrate --help`` (median of several runs);
* a row for the published legacy libraries installed by ``./dev`` in
  ``<venv>/realworld`` (their top-level packages, as ``tests/realworld/harness.py``
  copies them for the real-world suite): ``migrate rewrite`` over a copy of them
  and libcst parse-only of the same files, alternating and best of ``--repeat``
  like the generated tree. Where they are not installed the row is skipped and
  says why; ``--no-real`` skips it, ``--real-files N`` keeps only the first N
  files (sorted by path; the smoke test's limit).

The generated tree (``--mix realistic``, the default), per 20 files:

* 12 ordinary modules with no Keras at all (60 %): CSV record types, an argparse
  CLI, regex text normalisation, NumPy statistics, pytest tests, a thread-safe
  cache, and scikit-learn-like estimators (whose ``fit``/``predict``/``save``
  methods and ``re.compile`` calls use the very words the rules look for);
* 5 mixed modules (25 %): one of those ordinary modules with a legacy section
  appended, as code bases grow: a Keras 2.2 model builder and training loop
  (``Adam(lr=..., decay=...)``, ``fit_generator``, ``ModelCheckpoint``,
  ``save_weights``), a tf.keras 2021 layer and learning-rate callback
  (``tf.keras.backend.set_value``), or a Keras 2.2 masked-mean layer (``K.*``);
* 3 fully legacy programs (15 %): the seed-style legacy programs of
  ``tests/fixtures/programs`` and ``examples/legacy`` (Keras 2.2 classifiers,
  2021 tf.keras Transformer),
  with their names varied.

Module sizes vary (4 to 11 repeated blocks per ordinary module). ``--mix legacy``
generates only the fixture programs (every statement is legacy code: the worst
case for the codemod). The tree's composition is printed with the figures.

Usage: python benchmarks/bench_rewrite.py [--files N] [--jobs N] [--mix realistic|legacy] [--repeat N]
                                         [--no-tf-upgrade] [--no-real] [--real-files N]
Prints figures only; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = (ROOT / "tests" / "fixtures" / "programs", ROOT / "examples" / "legacy")
BIN = Path(sys.executable).parent


# --------------------------------------------------------------------------------------
# Templates of the generated tree. `__N__` is the file number, `__K__` the block number.
# --------------------------------------------------------------------------------------

RECORDS = '''"""Record types and CSV loading for dataset __N__."""
from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

log = logging.getLogger(__name__)

'''
RECORDS_BLOCK = '''

@dataclass
class Row__K__:
    """One row of table __K__ (dataset __N__)."""

    ident: int
    name: str
    score: float = 0.0
    tags: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, raw: dict[str, str]) -> "Row__K__":
        tags = [t.strip() for t in raw.get("tags", "").split(";") if t.strip()]
        return cls(int(raw["id"]), raw["name"].strip(), float(raw.get("score") or 0.0), tags)

    def to_dict(self) -> dict[str, object]:
        return {"id": self.ident, "name": self.name, "score": self.score, "tags": ";".join(self.tags)}


def read_rows__K__(path: Path) -> Iterator[Row__K__]:
    with path.open(newline="", encoding="utf-8") as fh:
        for lineno, raw in enumerate(csv.DictReader(fh), start=2):
            try:
                yield Row__K__.from_dict(raw)
            except (KeyError, ValueError) as exc:
                log.warning("%s:%d: skipped (%s)", path, lineno, exc)


def summarise__K__(rows: Iterable[Row__K__]) -> dict[str, float]:
    scores = [r.score for r in rows]
    if not scores:
        return {"count": 0, "mean": 0.0, "max": 0.0}
    return {"count": len(scores), "mean": sum(scores) / len(scores), "max": max(scores)}
'''

CLI = '''"""Command-line entry point of tool __N__."""
from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time

log = logging.getLogger("tool__N__")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tool__N__", description=__doc__)
    parser.add_argument("--verbose", "-v", action="count", default=0)
    sub = parser.add_subparsers(dest="command")
'''
CLI_BLOCK = '''    cmd__K__ = sub.add_parser("step__K__", help="run step __K__")
    cmd__K__.add_argument("inputs", nargs="+")
    cmd__K__.add_argument("--limit", type=int, default=__K__ * 10)
    cmd__K__.add_argument("--out", default=os.path.join("out", "step__K__.json"))
'''
CLI_TAIL = '''    return parser


def run_step(name: str, inputs: list[str], limit: int, out: str) -> int:
    started = time.monotonic()
    results = []
    for path in inputs[:limit]:
        if not os.path.exists(path):
            log.error("%s: no such file", path)
            return 2
        with open(path, encoding="utf-8") as fh:
            results.append({"path": path, "lines": sum(1 for _ in fh)})
    os.makedirs(os.path.dirname(out) or ".", exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        json.dump({"step": name, "results": results}, fh, indent=2)
    log.info("%s done in %.2fs", name, time.monotonic() - started)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.WARNING - 10 * args.verbose)
    if args.command is None:
        build_parser().print_help()
        return 0
    return run_step(args.command, args.inputs, args.limit, args.out)


if __name__ == "__main__":
    sys.exit(main())
'''

TEXT = '''"""Text normalisation helpers (corpus __N__)."""
import re
import unicodedata
from collections import Counter

_SPACES = re.compile(r"\\s+")
_PUNCT = re.compile(r"[^\\w\\s]")
'''
TEXT_BLOCK = '''

def normalise__K__(text, lower=True):
    """Strip accents, collapse spaces and drop punctuation (variant __K__)."""
    text = unicodedata.normalize("NFKD", text)
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _PUNCT.sub(" ", text)
    text = _SPACES.sub(" ", text).strip()
    return text.lower() if lower else text


def vocabulary__K__(lines, min_count=__K__ + 1):
    counts = Counter()
    for line in lines:
        counts.update(normalise__K__(line).split())
    words = sorted(w for w, c in counts.items() if c >= min_count)
    return {w: i + 2 for i, w in enumerate(words)}


def encode__K__(line, vocab, max_len=64):
    ids = [vocab.get(w, 1) for w in normalise__K__(line).split()][:max_len]
    return ids + [0] * (max_len - len(ids))
'''

NUMERIC = '''"""Small numerical routines (module __N__)."""
import math

import numpy as np
'''
NUMERIC_BLOCK = '''

def moving_average__K__(x, window=__K__ + 2):
    x = np.asarray(x, dtype="float64")
    if window <= 1 or x.size < window:
        return x.copy()
    kernel = np.ones(window) / window
    return np.convolve(x, kernel, mode="valid")


def zscore__K__(x, eps=1e-8):
    x = np.asarray(x, dtype="float64")
    return (x - x.mean()) / (x.std() + eps)


class RunningStats__K__:
    """Welford's running mean and variance."""

    def __init__(self):
        self.n = 0
        self.mean = 0.0
        self.m2 = 0.0

    def update(self, value):
        self.n += 1
        delta = value - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (value - self.mean)

    @property
    def std(self):
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0
'''

TESTS = '''"""Tests for helpers of package __N__."""
import math

import pytest
'''
TESTS_BLOCK = '''

def test_addition__K__():
    values = [__K__, __K__ + 1, __K__ + 2]
    assert sum(values) == 3 * __K__ + 3
    assert max(values) - min(values) == 2


@pytest.mark.parametrize("n", [1, 2, __K__ + 3])
def test_factorial__K__(n):
    assert math.factorial(n) == math.prod(range(1, n + 1))


class TestWindow__K__:
    def setup_method(self):
        self.items = list(range(__K__ + 5))

    def test_slices(self):
        pairs = list(zip(self.items, self.items[1:]))
        assert all(b - a == 1 for a, b in pairs)

    def test_empty(self):
        assert list(zip([], [])) == []
'''

SERVICE = '''"""A small caching service layer (service __N__)."""
from __future__ import annotations

import functools
import hashlib
import json
import threading
import time
from typing import Any, Callable
'''
SERVICE_BLOCK = '''

class Cache__K__:
    """Thread-safe TTL cache for service __K__ lookups."""

    def __init__(self, ttl: float = 60.0, max_items: int = 1024) -> None:
        self.ttl = ttl
        self.max_items = max_items
        self._data: dict[str, tuple[float, Any]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def key(*parts: object) -> str:
        blob = json.dumps(parts, sort_keys=True, default=str).encode("utf-8")
        return hashlib.sha1(blob).hexdigest()

    def get(self, key: str) -> Any | None:
        with self._lock:
            item = self._data.get(key)
            if item is None or item[0] < time.monotonic():
                self._data.pop(key, None)
                return None
            return item[1]

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            if len(self._data) >= self.max_items:
                oldest = min(self._data, key=lambda k: self._data[k][0])
                del self._data[oldest]
            self._data[key] = (time.monotonic() + self.ttl, value)


def cached__K__(cache: Cache__K__) -> Callable:
    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def inner(*args: object) -> Any:
            k = cache.key(fn.__name__, *args)
            hit = cache.get(k)
            if hit is None:
                hit = fn(*args)
                cache.put(k, hit)
            return hit
        return inner
    return wrap
'''

# Ordinary modules that happen to use the words the rules look for (`fit`, `save`, `compile`).
ESTIMATORS = '''"""Classical baselines with a scikit-learn-like interface (module __N__)."""
import pickle

import numpy as np
'''
ESTIMATORS_BLOCK = '''

class Ridge__K__:
    def __init__(self, alpha=1.0):
        self.alpha = alpha
        self.coef_ = None

    def fit(self, x, y):
        x = np.asarray(x, dtype="float64")
        gram = x.T @ x + self.alpha * np.eye(x.shape[1])
        self.coef_ = np.linalg.solve(gram, x.T @ np.asarray(y, dtype="float64"))
        return self

    def predict(self, x):
        return np.asarray(x, dtype="float64") @ self.coef_

    def save(self, path):
        with open(path, "wb") as fh:
            pickle.dump({"alpha": self.alpha, "coef": self.coef_}, fh)


def evaluate_baseline__K__(x, y, alpha=0.1 * __K__):
    model = Ridge__K__(alpha).fit(x[:-10], y[:-10])
    err = model.predict(x[-10:]) - y[-10:]
    return float(np.sqrt(np.mean(err ** 2)))
'''

ORDINARY = [(RECORDS, RECORDS_BLOCK, ""), (CLI, CLI_BLOCK, CLI_TAIL), (TEXT, TEXT_BLOCK, ""),
            (NUMERIC, NUMERIC_BLOCK, ""), (TESTS, TESTS_BLOCK, ""), (SERVICE, SERVICE_BLOCK, ""),
            (ESTIMATORS, ESTIMATORS_BLOCK, "")]

# Legacy Keras sections dropped into otherwise ordinary modules.
MIXED_SECTIONS = [
'''

# --- model used by the nightly job (written for Keras 2.2) ---------------------------
from keras import backend as K
from keras.layers import Input, Embedding, LSTM, Dense, Dropout
from keras.models import Model
from keras.optimizers import Adam
from keras.callbacks import ModelCheckpoint


def build_tagger__N__(vocab_size, units=64, classes=__K__ + 2):
    inp = Input(shape=(None,))
    x = Embedding(vocab_size, units, mask_zero=True)(inp)
    x = LSTM(units, return_sequences=False)(x)
    x = Dropout(0.2)(x)
    out = Dense(classes, activation="softmax")(x)
    model = Model(inp, out)
    model.compile(optimizer=Adam(lr=1e-3, decay=1e-4), loss="categorical_crossentropy")
    return model


def train_tagger__N__(model, gen, steps):
    ckpt = ModelCheckpoint("tagger__N__.h5", save_best_only=True)
    model.fit_generator(gen, steps, epochs=3, callbacks=[ckpt], workers=2)
    model.save_weights("tagger__N__.h5")
    return K.get_value(model.optimizer.lr)
''',
'''

# --- tf.keras (2021) helpers ----------------------------------------------------------
import tensorflow as tf


class Scale__N__(tf.keras.layers.Layer):
    def __init__(self, factor=__K__.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, x, training=None):
        return x * self.factor


def lr_callback__N__(model, epoch):
    new_lr = tf.keras.backend.get_value(model.optimizer.lr) * 0.5 ** (epoch // 10)
    tf.keras.backend.set_value(model.optimizer.lr, new_lr)
    return new_lr
''',
'''

# --- custom Keras 2.2 layer kept next to its data code ----------------------------------
from keras import backend as K
from keras.engine.topology import Layer


class MaskedMean__N__(Layer):
    def __init__(self, axis=1, **kwargs):
        super(MaskedMean__N__, self).__init__(**kwargs)
        self.axis = axis
        self.supports_masking = True

    def call(self, x, mask=None):
        if mask is None:
            return K.mean(x, axis=self.axis)
        m = K.cast(K.expand_dims(mask), K.floatx())
        return K.sum(x * m, axis=self.axis) / (K.sum(m, axis=self.axis) + K.epsilon())

    def compute_output_shape(self, input_shape):
        return input_shape[:self.axis] + input_shape[self.axis + 1:]

    def compute_mask(self, inputs, mask=None):
        return None
''',
]


def _ordinary(i: int) -> str:
    head, block, tail = ORDINARY[i % len(ORDINARY)]
    blocks = 4 + (i * 7) % 8
    text = head + "".join(block.replace("__K__", str(k)) for k in range(blocks)) + tail
    return text.replace("__N__", str(i))


def _legacy(i: int, sources: list[str]) -> str:
    text = sources[i % len(sources)]
    # vary names so that files are not identical
    return text.replace("SEQ_LEN", f"SEQ_LEN_{i}").replace("D_MODEL", f"D_MODEL_{i}")


def generate_tree(dest: Path, files: int, mix: str = "realistic") -> dict[str, list[int]]:
    """Write the tree; return {kind: [files, lines]}."""
    sources = [p.read_text(encoding="utf-8") for p in sorted(p for d in FIXTURES for p in d.glob("*.py"))]
    stats: dict[str, list[int]] = {"ordinary": [0, 0], "mixed": [0, 0], "legacy": [0, 0]}
    for i in range(files):
        slot = i % 20
        if mix == "legacy" or slot < 3:
            kind, text = "legacy", _legacy(i, sources)
        elif slot < 8:
            section = MIXED_SECTIONS[i % len(MIXED_SECTIONS)].replace("__K__", str(i % 5))
            kind, text = "mixed", _ordinary(i) + section.replace("__N__", str(i))
        else:
            kind, text = "ordinary", _ordinary(i)
        sub = dest / f"pkg{i % 10}" / f"sub{i % 7}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"module_{i}.py").write_text(text, encoding="utf-8")
        stats[kind][0] += 1
        stats[kind][1] += text.count("\n")
    return stats


def _parse(path: str) -> int:
    import libcst as cst

    with open(path, "rb") as fh:
        cst.parse_module(fh.read())
    return 1


def parse_only(paths: list[str], jobs: int) -> float:
    start = time.perf_counter()
    chunk = max(1, len(paths) // (jobs * 4))
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        sum(pool.map(_parse, paths, chunksize=chunk))
    return time.perf_counter() - start


def run_migrate(tree: Path, out: Path, jobs: int) -> float:
    start = time.perf_counter()
    proc = subprocess.run([str(BIN / "migrate"), "rewrite", str(tree), "-o", str(out), "-j", str(jobs), "-q"],
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"migrate failed ({proc.returncode}): {proc.stderr[-2000:]}")
    print(f"  migrate summary: {proc.stderr.strip().splitlines()[-1]}")
    return elapsed


def run_tf_upgrade(tree: Path, out: Path) -> tuple[float | None, str]:
    exe = shutil.which("tf_upgrade_v2", path=str(BIN)) or shutil.which("tf_upgrade_v2")
    if exe is None:
        return None, "tf_upgrade_v2 not found on PATH"
    report = out.parent / "tf_upgrade_report.txt"
    start = time.perf_counter()
    proc = subprocess.run([exe, "--intree", str(tree), "--outtree", str(out), "--reportfile", str(report)],
                          capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        return None, f"exit {proc.returncode}: {' | '.join(tail)}"
    return elapsed, "ok"


def startup(runs: int = 7) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([str(BIN / "migrate"), "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def real_library_tree(dest: Path, limit: int = 0) -> tuple[list[str], int, str] | str:
    """Copy the installed real libraries' packages to ``dest``: (paths, lines, what), or why not.

    The copy is ``tests/realworld/harness.py``'s own, so this row rewrites exactly
    the packages the real-world suite rewrites (``tests`` and ``demo`` left out).
    With ``limit`` only the first ``limit`` files (sorted by path) are kept.
    """
    if str(ROOT) not in sys.path:  # run as a script, sys.path[0] is benchmarks/
        sys.path.insert(0, str(ROOT))
    from tests.realworld import harness  # numpy and the case table; no TensorFlow

    if not harness.INSTALLED.is_dir():
        return f"{harness.INSTALLED} is absent (./dev installs the libraries there)"
    libs = harness.libraries()
    absent = [f"{lib.dist}=={lib.version}" for lib in libs if not lib.dist_info.is_dir()]
    if absent:
        return f"not installed in {harness.INSTALLED}: {', '.join(absent)} (./dev installs them)"
    harness.copy_packages(dest)
    paths = sorted(dest.rglob("*.py"))
    what = f"{len(libs)} libraries, {sum(len(lib.packages) for lib in libs)} packages"
    if 0 < limit < len(paths):
        for path in paths[limit:]:
            path.unlink()
        what += f"; first {limit} of {len(paths)} files (--real-files)"
        paths = paths[:limit]
    lines = sum(p.read_bytes().count(b"\n") for p in paths)
    return [str(p) for p in paths], lines, what


def time_pair(tree: Path, paths: list[str], out: Path, jobs: int, repeat: int) -> tuple[float, float]:
    """Best parse-only and best ``migrate rewrite`` time over ``repeat`` alternating runs."""
    out.mkdir(parents=True, exist_ok=True)
    t_parse = t_migrate = float("inf")
    for i in range(max(1, repeat)):
        t_parse = min(t_parse, parse_only(paths, jobs))
        t_migrate = min(t_migrate, run_migrate(tree, out / f"out_migrate{i}", jobs))
    return t_parse, t_migrate


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--mix", choices=("realistic", "legacy"), default="realistic")
    parser.add_argument("--no-tf-upgrade", action="store_true", help="skip the tf_upgrade_v2 comparison")
    parser.add_argument("--repeat", type=int, default=3,
                        help="time parse-only and migrate this many times each, alternating; keep the best")
    parser.add_argument("--no-real", action="store_true",
                        help="skip the row of the real libraries installed in <venv>/realworld")
    parser.add_argument("--real-files", type=int, default=0, metavar="N",
                        help="real-library row: only the first N files (default: all)")
    args = parser.parse_args(argv)
    shown = sys.argv[1:] if argv is None else argv
    print("command: " + " ".join(["python", "benchmarks/bench_rewrite.py", *shown]))
    with tempfile.TemporaryDirectory(prefix="bench_rewrite_") as tmp:
        tree = Path(tmp) / "tree"
        stats = generate_tree(tree, args.files, args.mix)
        lines = sum(v[1] for v in stats.values())
        paths = [str(p) for p in sorted(tree.rglob("*.py"))]
        print(f"tree ({args.mix}): {len(paths)} files, {lines} lines; workers: {args.jobs}")
        for kind, (n, k) in stats.items():
            if n:
                print(f"  {kind:<9}: {n:4d} files, {k:7d} lines")
        t_parse, t_migrate = time_pair(tree, paths, Path(tmp), args.jobs, args.repeat)
        t_tfu, why = (None, "skipped (--no-tf-upgrade)") if args.no_tf_upgrade else run_tf_upgrade(
            tree, Path(tmp) / "out_tfu")
        t_start = startup()
        real: tuple[list[str], int, str] | str = "skipped (--no-real)"
        if not args.no_real:
            real_tree = Path(tmp) / "real"
            real = real_library_tree(real_tree, args.real_files)
            if not isinstance(real, str):
                print(f"real libraries ({real[2]}): {len(real[0])} files, {real[1]} lines; workers: {args.jobs}")
                real_times = time_pair(real_tree, real[0], Path(tmp) / "real_out", args.jobs, args.repeat)
    best = f", best of {args.repeat}" if args.repeat > 1 else ""
    print(f"libcst parse-only   : {lines / t_parse:10.0f} lines/s  ({t_parse:.2f} s{best})")
    print(f"migrate rewrite     : {lines / t_migrate:10.0f} lines/s  ({t_migrate:.2f} s{best}, CLI start-up included)")
    print(f"  ratio to parse-only: {t_parse / t_migrate:.2f} (goal >= 0.5)")
    if t_tfu is not None:
        print(f"tf_upgrade_v2       : {lines / t_tfu:10.0f} lines/s  ({t_tfu:.2f} s, single process)")
        print(f"  migrate / tf_upgrade_v2: {t_tfu / t_migrate:.2f}x")
    else:
        print(f"tf_upgrade_v2       : {why}")
    print(f"migrate --help start-up: {t_start * 1000:.0f} ms (median of 7; goal < 300 ms)")
    figures = {"lines": lines, "parse_s": t_parse, "migrate_s": t_migrate, "startup_s": t_start}
    if isinstance(real, str):
        print(f"real libraries      : {real}")
        return figures
    real_lines, (r_parse, r_migrate) = real[1], real_times
    print(f"real libraries, libcst parse-only: {real_lines / r_parse:10.0f} lines/s  ({r_parse:.2f} s{best})")
    print(f"real libraries, migrate rewrite  : {real_lines / r_migrate:10.0f} lines/s  "
          f"({r_migrate:.2f} s{best}, CLI start-up included)")
    print(f"  real libraries, ratio to parse-only: {r_parse / r_migrate:.2f}")
    figures.update(real_lines=real_lines, real_parse_s=r_parse, real_migrate_s=r_migrate)
    return figures


if __name__ == "__main__":
    main()
