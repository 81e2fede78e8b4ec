"""Throughput of ``migrate rewrite`` against the floor of any libcst tool and against tf_upgrade_v2.

Generates a tree of legacy-style code (the two seed-style fixture programs,
renamed and varied), then measures in one run on this machine:

* ``migrate rewrite TREE -o OUT`` with all workers (lines/s, wall clock, CLI included);
* libcst parse-only over the same files with the same worker count (lines/s);
* ``tf_upgrade_v2 --intree TREE --outtree OUT2`` (lines/s), or why it failed;
* the start-up time of ``migrate --help`` (median of several runs).

Usage: python benchmarks/bench_rewrite.py [--files N] [--jobs N]
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
FIXTURES = ROOT / "tests" / "fixtures" / "programs"
BIN = Path(sys.executable).parent


def generate_tree(dest: Path, files: int) -> int:
    sources = [p.read_text(encoding="utf-8") for p in sorted(FIXTURES.glob("*.py"))]
    lines = 0
    for i in range(files):
        text = sources[i % len(sources)]
        # vary names so that files are not identical
        text = text.replace("SEQ_LEN", f"SEQ_LEN_{i}").replace("D_MODEL", f"D_MODEL_{i}")
        sub = dest / f"pkg{i % 10}" / f"sub{i % 7}"
        sub.mkdir(parents=True, exist_ok=True)
        (sub / f"module_{i}.py").write_text(text, encoding="utf-8")
        lines += text.count("\n")
    return lines


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=300)
    parser.add_argument("--jobs", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench_rewrite_") as tmp:
        tree = Path(tmp) / "tree"
        lines = generate_tree(tree, args.files)
        paths = [str(p) for p in sorted(tree.rglob("*.py"))]
        print(f"tree: {len(paths)} files, {lines} lines; workers: {args.jobs}")
        t_parse = parse_only(paths, args.jobs)
        t_migrate = run_migrate(tree, Path(tmp) / "out_migrate", args.jobs)
        t_tfu, why = run_tf_upgrade(tree, Path(tmp) / "out_tfu")
        t_start = startup()
    print(f"libcst parse-only   : {lines / t_parse:10.0f} lines/s  ({t_parse:.2f} s)")
    print(f"migrate rewrite     : {lines / t_migrate:10.0f} lines/s  ({t_migrate:.2f} s, CLI start-up included)")
    print(f"  ratio to parse-only: {t_parse / t_migrate:.2f} (goal >= 0.5)")
    if t_tfu is not None:
        print(f"tf_upgrade_v2       : {lines / t_tfu:10.0f} lines/s  ({t_tfu:.2f} s, single process)")
        print(f"  migrate / tf_upgrade_v2: {t_tfu / t_migrate:.2f}x")
    else:
        print(f"tf_upgrade_v2       : failed: {why}")
    print(f"migrate --help start-up: {t_start * 1000:.0f} ms (median of 7; goal < 300 ms)")


if __name__ == "__main__":
    main()
