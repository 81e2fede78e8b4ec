"""Drive the Keras 2.2.4 examples tier of the real-world suite (issue 12).

The 42 example scripts ship in Keras 2.2.4's source distribution; ``./dev``'s set-up
fetches it from the registry once and keeps ``examples/`` in ``<venv>/keras-2.2.4``
(they are never committed). For one run:

1. a copy of the scripts is rewritten by the real CLI, as a user runs it on Keras 2.2.4
   code: ``migrate rewrite --from keras-2.2 --report``; its findings are counted per
   script;
2. the unmodified scripts run as the legacy oracle (``run_examples legacy``, with
   ``TF_USE_LEGACY_KERAS=1``: ``keras`` means Keras 2.2.4 on tf_keras). The oracle's
   outputs are cached under ``<venv>/keras-2.2.4/oracle/<example>-<key>/``, the key
   hashing what decides them (the script, the runner, the stand-ins, the 2.2.4 shim,
   tf_keras's and TensorFlow's versions), so they are made once and never committed;
3. the rewritten scripts run on Keras 3 (``run_examples modern``).

Several scripts share one process (one TensorFlow import), in ``jobs`` parallel groups.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from tests.realworld.harness import process_env

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
EXAMPLES = Path(sys.prefix) / "keras-2.2.4" / "examples"
ORACLE_CACHE = Path(sys.prefix) / "keras-2.2.4" / "oracle"
# A group of scripts with one TensorFlow import; each script also has its own alarm.
PROCESS_TIMEOUT_S = 900

# Examples that cannot run here at all, and why (the table prints these).
CANNOT_RUN: dict[str, str] = {
    "conv_filter_visualization": "needs VGG16's ImageNet weights (a download that is not on the package registry)",
    "deep_dream": "needs InceptionV3's ImageNet weights and an input image (not on the package registry)",
    "neural_style_transfer": "needs VGG19's ImageNet weights and two input images (not on the package registry)",
    "neural_doodle": "needs VGG19's ImageNet weights and four input images (not on the package registry)",
    "image_ocr": "needs cairocffi (and the Cairo library) to draw its training images; not installed",
    "mnist_sklearn_wrapper": "needs scikit-learn and keras.wrappers.scikit_learn (tf_keras has no wrappers); "
                             "not installed",
    "lstm_seq2seq_restore": "trains nothing: restores s2s.h5, which only lstm_seq2seq's full run writes",
    "lstm_stateful": "needs pandas (its data is a pandas rolling mean); not installed",
    "mnist_swwae": "raises by itself on TensorFlow ('can only run with the Theano backend': a gradient of a "
                   "gradient)",
    "cifar10_cnn_tfaugment2d": "written for TensorFlow 1 (tf.random_uniform, tf.contrib-era image ops in a Lambda); "
                               "fails on TensorFlow 2 before Keras is involved",
    "mnist_dataset_api": "written for TensorFlow 1 (Dataset.make_one_shot_iterator, compile(target_tensors=...)): "
                         "fails on TensorFlow 2 before Keras is involved",
    "mnist_tfrecord": "written for TensorFlow 1 (tensorflow.contrib, queue runners, sessions): fails on "
                      "TensorFlow 2 at import",
}


def names() -> list[str]:
    return sorted(path.stem for path in EXAMPLES.glob("*.py"))


def missing() -> str | None:
    """Why the tier cannot run here, or None. ``./dev`` fetches the examples."""
    if not EXAMPLES.is_dir():
        return f"Keras 2.2.4's examples are not in {EXAMPLES} (./dev test fetches them)"
    return None


@dataclass
class Row:
    example: str
    fixed: int = 0
    review: int = 0
    review_notes: list[str] = field(default_factory=list)
    legacy: dict[str, Any] = field(default_factory=dict)
    record: dict[str, Any] = field(default_factory=dict)
    cannot_run: str | None = None

    @property
    def green(self) -> bool:
        r = self.record
        return bool(r.get("predict") and r.get("fit") and r.get("roundtrip")) and "error" not in r


def _env(legacy: bool) -> dict[str, str]:
    return process_env(legacy)


def _oracle_dir(name: str) -> Path:
    digest = hashlib.sha256((EXAMPLES / f"{name}.py").read_bytes())
    for path in (HERE / "run_examples.py", HERE / "standins.py", ROOT / "legacy_ref" / "keras224.py"):
        digest.update(path.read_bytes())
    digest.update(metadata.version("tf_keras").encode())
    digest.update(metadata.version("tensorflow").encode())
    return ORACLE_CACHE / f"{name}-{digest.hexdigest()[:12]}"


def rewrite(work: Path) -> tuple[Path, dict[str, Any]]:
    """A ``migrate rewrite --from keras-2.2`` copy of the scripts, and its report."""
    rewritten = work / "rewritten"
    shutil.copytree(EXAMPLES, rewritten)
    report = work / "rewrite-report.json"
    done = subprocess.run(
        [str(Path(sys.executable).parent / "migrate"), "rewrite", "--from", "keras-2.2", "--jobs", "1",
         "--report", str(report), str(rewritten)],
        capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S, env=_env(legacy=False),
    )
    # Exit 1 means findings that need a human: those are rows of the table, not errors.
    if done.returncode not in (0, 1):
        raise RuntimeError(f"migrate rewrite failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    return rewritten, json.loads(report.read_text())


def _run_group(side: str, jobs: list[dict[str, str]], work: Path, tag: str) -> str:
    spec = work / f"jobs-{side}-{tag}.json"
    spec.write_text(json.dumps(jobs))
    done = subprocess.run(
        [sys.executable, "-m", "tests.realworld.keras_examples.run_examples", side, str(spec)],
        capture_output=True, text=True, timeout=PROCESS_TIMEOUT_S, env=_env(legacy=side == "legacy"), cwd=ROOT,
    )
    lines = done.stderr.strip().splitlines() or ["no output"]
    errors = [line for line in lines if "Error" in line.split(":", 1)[0]]  # ``ValueError: ...``, not warnings
    return f"exit {done.returncode}: {(errors or lines)[-1]}"


def _read(path: Path, name: str, died: str) -> dict[str, Any]:
    if path.exists():
        return json.loads(path.read_text())
    # The process died before this example: its last words are the error.
    return {"example": name, "failed_stage": "process", "error": died}


def _group(tag: str, group: list[str], rewritten: Path, work: Path) -> dict[str, tuple[dict, dict]]:
    dirs = {name: _oracle_dir(name) for name in group}  # once: the key must not move during the run
    todo = [name for name in group if not (dirs[name] / "record.json").exists()]
    died = "the legacy process did not run"
    if todo:
        for name in todo:
            # Only this key's directory: another run (a second pytest session) may be writing
            # an older key's outputs right now; old keys are left for the user to delete.
            shutil.rmtree(dirs[name], ignore_errors=True)
        died = _run_group("legacy", [{"name": n, "script": str(EXAMPLES / f"{n}.py"), "oracle": str(dirs[n]),
                                      "out": str(dirs[n])} for n in todo], work, tag)
    legacy = {name: _read(dirs[name] / "record.json", name, died) for name in group}
    ready = [name for name in group if legacy[name].get("ok")]
    modern_died = "the Keras 3 process did not run"
    if ready:
        modern_died = _run_group("modern", [{"name": n, "script": str(rewritten / f"{n}.py"),
                                             "oracle": str(dirs[n]), "out": str(work / "modern" / n)}
                                            for n in ready], work, tag)
    out = {}
    for name in group:
        if name in ready:
            record = _read(work / "modern" / name / "record.json", name, modern_died)
        else:
            record = {"example": name, "failed_stage": f"legacy oracle ({legacy[name].get('failed_stage')})",
                      "error": legacy[name].get("error")}
        out[name] = (legacy[name], record)
    return out


def _findings(report: dict[str, Any], rewritten: Path) -> dict[str, tuple[int, int, list[str]]]:
    out: dict[str, tuple[int, int, list[str]]] = {}
    for finding in report["findings"]:
        name = Path(finding["path"]).stem
        fixed, review, notes = out.get(name, (0, 0, []))
        if finding["fixed"]:
            out[name] = (fixed + 1, review, notes)
        else:
            notes.append(f"{name}.py:{finding['line']}: {finding['rule']} {finding['message']}")
            out[name] = (fixed, review + 1, notes)
    return out


def run(work: Path, jobs: int = 2, only: list[str] | None = None) -> list[Row]:
    """The whole tier in ``work``: one row per example, in name order."""
    rewritten, report = rewrite(work)
    findings = _findings(report, rewritten)
    wanted = [n for n in names() if only is None or n in only]
    runnable = [n for n in wanted if n not in CANNOT_RUN]
    groups = [runnable[i::jobs] for i in range(jobs)]
    results: dict[str, tuple[dict, dict]] = {}
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for part in pool.map(lambda ig: _group(str(ig[0]), ig[1], rewritten, work), enumerate(groups)):
            results.update(part)
    rows = []
    for name in wanted:
        fixed, review, notes = findings.get(name, (0, 0, []))
        legacy, record = results.get(name, ({}, {}))
        rows.append(Row(name, fixed, review, notes, legacy, record, CANNOT_RUN.get(name)))
    return rows


def _mark(record: dict[str, Any], stage: str, key: str) -> str:
    if record.get(key):
        return "ok"
    if record.get("failed_stage") == stage or key in record:
        return "FAIL"
    return "-"


def table(rows: list[Row]) -> str:
    """The examples table in Markdown, then every red row's exact error."""
    head = ("| example | findings fixed / review | legacy oracle | build | load | max diff | fit "
            "| .keras round trip |")
    lines = [head, "|" + "---|" * 8]
    for row in rows:
        r = row.record
        if row.cannot_run:
            lines.append(f"| {row.example} | {row.fixed} / {row.review} | cannot run: {row.cannot_run} "
                         "| - | - | - | - | - |")
            continue
        oracle = "ok" if row.legacy.get("ok") else "FAIL"
        diff = f"{r['max_diff']:.1e}" if "max_diff" in r else "-"
        if "max_diff" in r and not r.get("predict"):
            diff += " FAIL"
        build = "ok" if r.get("build") else ("FAIL" if row.legacy.get("ok") else "-")
        trip = _mark(r, "round trip", "roundtrip")
        if "roundtrip_diff" in r and not r.get("roundtrip"):
            trip += f" ({r['roundtrip_diff']:.1e} off)"
        lines.append(f"| {row.example} | {row.fixed} / {row.review} | {oracle} | {build} | {_mark(r, 'load', 'load')} "
                     f"| {diff} | {_mark(r, 'fit', 'fit')} | {trip} |")
    errors = [f"- {row.example} ({row.record.get('failed_stage')}): `{row.record['error']}`"
              for row in rows if "error" in row.record]
    if errors:
        lines += ["", "Red rows:", *errors]
    return "\n".join(lines)
