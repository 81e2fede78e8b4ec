"""``migrate verify --batch`` against one ``migrate verify`` per program, in the same run.

The programs are the real-world suite's cases (``tests/realworld/case_program.py``
with each case's builder, the oracle's batch as ``--inputs``): the published legacy
libraries installed by ``./dev`` in ``<venv>/realworld``, copied and rewritten into a
temporary directory exactly as ``tests/realworld/harness.py`` does. Both ways run the
real CLI as a subprocess; the figure is the ratio of wall-clock times (separate / batch),
and both must find every program equal.

Usage: python benchmarks/bench_verify_batch.py [--programs N]   (default: all cases)
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.realworld import harness  # noqa: E402  (the repository root is put on sys.path first)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--programs", type=int, default=None, help="only the first N cases")
    args = parser.parse_args()
    why = harness.missing()
    if why:
        print(f"skipped: {why}")
        return 0
    with tempfile.TemporaryDirectory(prefix="bench-verify-") as tmp:
        work = Path(tmp)
        harness.rewrite(work)
        harness.verify_cases(work)  # writes the batch (and the oracles, when not cached)
        entries = json.loads((work / "verify-batch.json").read_text())[: args.programs]
        batch = work / "bench-batch.json"
        batch.write_text(json.dumps(entries))
        deps = str(Path(sys.prefix) / "realworld-deps")
        paths = ["--old-path", str(work / "legacy"), "--old-path", deps,
                 "--new-path", str(work / "rewritten"), "--new-path", deps]
        migrate = str(Path(sys.executable).parent / "migrate")
        env = harness.process_env(legacy=False) | {"TF_KERAS": "1"}  # as the suite runs it

        def timed(command: list[str]) -> tuple[float, int]:
            start = time.perf_counter()
            done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
            return time.perf_counter() - start, done.returncode

        batch_s, batch_rc = timed([migrate, "verify", "--batch", str(batch), *paths])
        separate_s, codes = 0.0, []
        for entry in entries:
            seconds, code = timed([migrate, "verify", entry["old"], entry["new"], "--factory", entry["factory"],
                                   "--factory-args", json.dumps(entry["factory_args"]), "--inputs", entry["inputs"],
                                   *paths])
            separate_s += seconds
            codes.append(code)
    print(f"{len(entries)} programs: --batch {batch_s:.1f} s (exit {batch_rc}); one command each {separate_s:.1f} s "
          f"(exits {sorted(set(codes))}); ratio {separate_s / batch_s:.2f}x")
    return 0 if batch_rc == 0 and set(codes) == {0} else 1


if __name__ == "__main__":
    sys.exit(main())
