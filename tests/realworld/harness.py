"""Drive the real-world suite: oracle, rewrite, modern side, one row per case.

The libraries live in ``<venv>/realworld`` (installed by ``./dev``'s set-up from
``libraries.txt``). For one run:

1. both an unmodified copy and a ``migrate rewrite`` copy of their top-level packages are
   made in a work directory (the rewrite is the real CLI, as a user runs it, with
   ``--report``; its findings are counted per library);
2. per library, the legacy oracle runs in a subprocess with ``TF_USE_LEGACY_KERAS=1``;
   its outputs are cached under ``<venv>/realworld-oracle/<dist>-<version>-<key>/``,
   where the key hashes what decides them (the case definitions, the runner, tf_keras's
   version), so they are made once per library version and never committed;
3. per library, the modern side runs in a fresh Keras 3 subprocess.

Libraries run in parallel (``jobs`` workers; each one is a TensorFlow process, so more
workers than cores only adds memory).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from tests.realworld.cases import CASES, cases_of
from tests.realworld.run_case import slug

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
LIBRARIES_FILE = HERE / "libraries.txt"
INSTALLED = Path(sys.prefix) / "realworld"
ORACLE_CACHE = Path(sys.prefix) / "realworld-oracle"
# A whole library (TensorFlow import plus a few tiny models) takes seconds; this only
# stops a hung process from hanging the suite.
PROCESS_TIMEOUT_S = 600


@dataclass(frozen=True)
class Library:
    dist: str
    version: str

    @property
    def dist_info(self) -> Path:
        return INSTALLED / f"{self.dist.replace('-', '_')}-{self.version}.dist-info"

    @property
    def packages(self) -> list[str]:
        """The library's own top-level packages. Several also ship ``tests`` and
        ``demo`` packages (keras-bert, keras-gpt-2, ...), which are not their code, would
        shadow ours and clash with each other."""
        names = (self.dist_info / "top_level.txt").read_text().split()
        return [name for name in names if name not in ("tests", "demo")]


def libraries() -> list[Library]:
    out = []
    for line in LIBRARIES_FILE.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            dist, version = line.split("==")
            out.append(Library(dist.strip(), version.strip()))
    return out


def missing() -> str | None:
    """Why the suite cannot run here, or None. ``./dev`` installs the libraries."""
    absent = [f"{lib.dist}=={lib.version}" for lib in libraries() if not lib.dist_info.is_dir()]
    deps = Path(sys.prefix) / "realworld-deps"
    for line in (HERE / "library-deps.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line and not (deps / f"{line.split('==')[0]}-{line.split('==')[1]}.dist-info").is_dir():
            absent.append(f"{line} (in {deps})")
    if absent:
        return f"{', '.join(absent)} not installed in {INSTALLED} (./dev test installs them)"
    return None


@dataclass
class Row:
    """One line of the table."""

    library: str
    model: str
    fixed: int = 0
    review: int = 0
    review_notes: list[str] = field(default_factory=list)
    record: dict[str, Any] = field(default_factory=dict)
    #: this case's entry of the ``migrate verify --batch`` report (:func:`verify_cases`)
    verify: dict[str, Any] = field(default_factory=dict)

    @property
    def green(self) -> bool:
        r = self.record
        return bool(r.get("predict") and r.get("fit") and r.get("roundtrip")) and "error" not in r


def process_env(legacy: bool) -> dict[str, str]:
    """The environment of one side's process: CPU, TensorFlow backend, one thread pool,
    tf_keras for the legacy side; also used by the Keras 2.2.4 examples tier."""
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    env["CUDA_VISIBLE_DEVICES"] = ""  # CPU, float32 (DESIGN.md section 6)
    env["KERAS_BACKEND"] = "tensorflow"
    # One thread pool per process: the libraries run side by side already.
    env.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    env.setdefault("TF_NUM_INTEROP_THREADS", "1")
    if legacy:
        env["TF_USE_LEGACY_KERAS"] = "1"
    else:
        env.pop("TF_USE_LEGACY_KERAS", None)
    env["PYTHONPATH"] = str(ROOT)
    return env


def _env(legacy: bool) -> dict[str, str]:
    env = process_env(legacy)
    # bert4keras's own switch to tf.keras (its backend module then puts `tf.keras` in
    # sys.modules['keras']); no other library reads it.
    env["TF_KERAS"] = "1"
    return env


def _oracle_key(lib: Library) -> str:
    digest = hashlib.sha256()
    for path in (HERE / "cases.py", HERE / "run_case.py"):
        digest.update(path.read_bytes())
    digest.update(metadata.version("tf_keras").encode())
    digest.update(metadata.version("tensorflow").encode())
    return digest.hexdigest()[:12]


def copy_packages(dest: Path) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    for lib in libraries():
        for package in lib.packages:
            shutil.copytree(INSTALLED / package, dest / package, ignore=shutil.ignore_patterns("__pycache__"))


def rewrite(work: Path) -> tuple[Path, Path, dict[str, Any]]:
    """An unmodified and a rewritten copy of every library's packages, and the report."""
    original, rewritten = work / "legacy", work / "rewritten"
    copy_packages(original)
    copy_packages(rewritten)
    report = work / "rewrite-report.json"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "migrate"), "rewrite", "--jobs", "1", "--report", str(report),
         str(rewritten)],
        capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S, env=_env(legacy=False),
    )
    # Exit 1 means findings that need a human: those are rows of the table, not errors.
    if done.returncode not in (0, 1):
        raise RuntimeError(f"migrate rewrite failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return original, rewritten, json.loads(report.read_text())


def oracle(lib: Library, original: Path) -> Path:
    cache = ORACLE_CACHE / f"{lib.dist}-{lib.version}-{_oracle_key(lib)}"
    if (cache / ".done").exists():
        return cache
    shutil.rmtree(cache, ignore_errors=True)
    cache.mkdir(parents=True)
    done = subprocess.run(
        [sys.executable, "-m", "tests.realworld.run_case", "legacy", lib.dist, str(original), str(cache)],
        capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S, env=_env(legacy=True), cwd=ROOT,
    )
    if not all((cache / slug(case) / "legacy.json").exists() for case in cases_of(lib.dist)):
        raise RuntimeError(f"legacy oracle for {lib.dist} died ({done.returncode}): {done.stderr.strip()[-2000:]}")
    (cache / ".done").touch()
    return cache


def modern(lib: Library, rewritten: Path, oracle_dir: Path, work: Path) -> dict[str, dict[str, Any]]:
    out = work / "modern" / lib.dist
    out.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(
        [sys.executable, "-m", "tests.realworld.run_case", "modern", lib.dist, str(rewritten), str(out),
         str(oracle_dir)],
        capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S, env=_env(legacy=False), cwd=ROOT,
    )
    records = {}
    for case in cases_of(lib.dist):
        result = out / slug(case) / "modern.json"
        if result.exists():
            records[case.key] = json.loads(result.read_text())
        else:  # the process died before this case: its last words are the error
            tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
            records[case.key] = {"case": case.key, "failed_stage": "import", "error": f"exit {done.returncode}: {tail}"}
    return records


#: Libraries whose rewritten code is backend-neutral (Keras 3 and ``keras.ops`` only on
#: the path of their cases), so the suite runs them on jax and torch too. The others call
#: TensorFlow ops directly after the rewrite: keras-transformer-xl's and keras-xlnet's
#: relative attention (``tf`` in rel_multi_head.py, permutation.py, attention.py) and
#: bert4keras (its backend module and ``keras.engine``); measured: they fail on jax and torch.
BACKEND_NEUTRAL = ("keras-layer-normalization", "keras-position-wise-feed-forward", "keras-pos-embd",
                   "keras-embed-sim", "keras-self-attention", "keras-multi-head", "keras-transformer", "keras-bert",
                   "keras-gpt-2", "keras-rectified-adam")


def modern_on_backends(work: Path, backends: tuple[str, ...] = ("jax", "torch")) -> dict[str, dict[str, Any]]:
    """After :func:`run` in ``work``: the rewritten backend-neutral libraries on other Keras 3
    backends against the same oracle, one process per backend (all its libraries in one Keras
    import), the backends side by side. Returns ``{"<backend>:<case key>": record}``."""
    neutral = [lib for lib in libraries() if lib.dist in BACKEND_NEUTRAL]
    procs = {}
    for backend in backends:
        jobs = [{"library": lib.dist, "out": str(work / backend / lib.dist), "oracle": str(oracle(lib, work / "legacy"))}
                for lib in neutral]
        spec = work / f"backend-{backend}.json"
        spec.write_text(json.dumps(jobs))
        env = dict(_env(legacy=False), KERAS_BACKEND=backend, OMP_NUM_THREADS="1")
        procs[backend] = subprocess.Popen(
            [sys.executable, "-m", "tests.realworld.run_case", "modern-many", str(work / "rewritten"), str(spec)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT)
    records: dict[str, dict[str, Any]] = {}
    for backend, proc in procs.items():
        try:
            _, stderr = proc.communicate(timeout=PROCESS_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, stderr = proc.communicate()
        tail = (stderr.strip().splitlines() or ["no output"])[-1]
        for lib in neutral:
            for case in cases_of(lib.dist):
                result = work / backend / lib.dist / slug(case) / "modern.json"
                records[f"{backend}:{case.key}"] = (json.loads(result.read_text()) if result.exists() else
                                                    {"case": case.key, "failed_stage": "import",
                                                     "error": f"exit {proc.returncode}: {tail}"})
    return records


def verify_cases(work: Path) -> dict[str, dict[str, Any]]:
    """After :func:`run` in ``work``: every case through ``migrate verify --batch``, as a user runs it.

    The program is ``case_program.py`` (the case's builder, Keras-agnostic): OLD on
    tf_keras with the unmodified library copy, NEW on Keras 3 with the rewritten one,
    both fed the oracle's batch. One ``migrate verify`` process and one tf_keras child
    for all cases. Returns ``{case key: the command's report entry}`` (``"error"`` where
    the program failed); the command's exit status and last stderr line are under
    ``"_command"``.
    """
    inputs = work / "verify-inputs"
    inputs.mkdir(exist_ok=True)
    entries = []
    for lib in libraries():
        oracle_dir = oracle(lib, work / "legacy")
        for case in cases_of(lib.dist):
            data_file = oracle_dir / slug(case) / "oracle.npz"
            if not data_file.exists():  # the oracle failed on it: its row says why
                continue
            with np.load(data_file, allow_pickle=False) as data:
                xs = {name: data[name] for name in data.files if name.startswith("x")}
            np.savez(inputs / f"{slug(case)}-{lib.dist}.npz", **xs)
            entries.append({"name": case.key, "old": str(HERE / "case_program.py"), "new": str(HERE / "case_program.py"),
                            "factory": "build", "factory_args": {"case": case.key},
                            "inputs": str(inputs / f"{slug(case)}-{lib.dist}.npz")})
    batch, report = work / "verify-batch.json", work / "verify-report.json"
    batch.write_text(json.dumps(entries, indent=1))
    deps = str(Path(sys.prefix) / "realworld-deps")
    done = subprocess.run(
        [str(Path(sys.executable).parent / "migrate"), "verify", "--batch", str(batch), "--report", str(report),
         "--old-path", str(work / "legacy"), "--old-path", deps, "--new-path", str(work / "rewritten"),
         "--new-path", deps],
        capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S, env=_env(legacy=False), cwd=ROOT,
    )
    records: dict[str, dict[str, Any]] = {}
    if report.exists():
        records = {entry["name"]: entry for entry in json.loads(report.read_text())["programs"]}
    tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
    records["_command"] = {"returncode": done.returncode, "stderr": tail, "stdout": done.stdout[-4000:]}
    return records


def _findings(report: dict[str, Any], rewritten: Path) -> dict[str, tuple[int, int, list[str]]]:
    """Per library: fixed count, needs-review count and the needs-review lines."""
    owner = {package: lib.dist for lib in libraries() for package in lib.packages}
    out: dict[str, tuple[int, int, list[str]]] = {lib.dist: (0, 0, []) for lib in libraries()}
    for finding in report["findings"]:
        rel = Path(finding["path"]).resolve().relative_to(rewritten.resolve())
        dist = owner[rel.parts[0]]
        fixed, review, notes = out[dist]
        if finding["fixed"]:
            out[dist] = (fixed + 1, review, notes)
        else:
            notes.append(f"{rel}:{finding['line']}: {finding['rule']} {finding['message']}")
            out[dist] = (fixed, review + 1, notes)
    return out


def run(work: Path, jobs: int = 2) -> list[Row]:
    """The whole suite in ``work``: one row per case, in ``CASES`` order."""
    original, rewritten, report = rewrite(work)
    findings = _findings(report, rewritten)

    def one(lib: Library) -> dict[str, dict[str, Any]]:
        return modern(lib, rewritten, oracle(lib, original), work)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results: dict[str, dict[str, Any]] = {}
        for records in pool.map(one, libraries()):
            results.update(records)
    verified = verify_cases(work)
    command = verified.pop("_command")
    rows = []
    for case in CASES:
        fixed, review, notes = findings[case.library]
        verify = verified.get(case.key) or {"error": f"not in the report (migrate verify exit {command['returncode']}: "
                                                    f"{command['stderr']})"}
        rows.append(Row(case.library, case.name, fixed, review, notes, results[case.key], verify))
    return rows


def _mark(record: dict[str, Any], stage: str, key: str) -> str:
    if record.get(key):
        return "ok"
    if record.get("failed_stage") == stage:
        return "FAIL"
    if key in record:
        return "FAIL"
    return "-"


def _roundtrip(record: dict[str, Any]) -> str:
    mark = _mark(record, "round trip", "roundtrip")
    if "roundtrip_diff" in record and not record.get("roundtrip"):
        mark += f" ({record['roundtrip_diff']:.1e} off)"
    return mark


def _verified(row: Row) -> str:
    """The ``migrate verify`` column: equal (its largest output difference) or why not."""
    v = row.verify
    if "error" in v or "max_abs_diff" not in v:
        return "FAIL"
    return f"{'ok' if v.get('ok') else 'FAIL'} ({v['max_abs_diff']:.1e})"


def table(rows: list[Row]) -> str:
    """The issue-12 table in Markdown, then every red row's exact error."""
    head = ("| library | model | findings fixed / review | import | build | load | max diff | fit | .keras round trip "
            "| migrate verify |")
    lines = [head, "|" + "---|" * 10]
    for row in rows:
        r = row.record
        imported = "FAIL" if r.get("failed_stage") in ("import", "legacy oracle") else "ok"
        diff = f"{r['max_diff']:.1e}" if "max_diff" in r else "-"
        if "max_diff" in r and not r.get("predict"):
            diff += " FAIL"
        lines.append(
            f"| {row.library} | {row.model} | {row.fixed} / {row.review} | {imported} | {_mark(r, 'build', 'build')} "
            f"| {_mark(r, 'load', 'load')} | {diff} | {_mark(r, 'fit', 'fit')} | {_roundtrip(r)} | {_verified(row)} |"
        )
    errors = [f"- {row.library} {row.model} ({row.record.get('failed_stage')}): `{row.record['error']}`"
              for row in rows if "error" in row.record]
    errors += [f"- {row.library} {row.model} (migrate verify): `{row.verify['error']}`"
               for row in rows if "error" in row.verify]
    if errors:
        lines += ["", "Red rows:", *errors]
    notes = {row.library: row.review_notes for row in rows if row.review_notes}
    if notes:
        lines += ["", "Findings that need review:"]
        lines += [f"- {lib}: {note}" for lib, lib_notes in notes.items() for note in lib_notes]
    return "\n".join(lines)
