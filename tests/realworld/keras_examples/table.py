"""Print the Keras 2.2.4 examples table (issue 12) in Markdown:

    .venv/bin/python -m tests.realworld.keras_examples.table [--jobs N] [EXAMPLE ...]

Runs the tier (cached legacy oracles, a fresh ``migrate rewrite --from keras-2.2``, the
Keras 3 side) in a temporary directory and prints one row per example script, then the
exact error of every red row; benchmarks/README.md keeps a copy.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.realworld.keras_examples.harness import missing, run, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="process groups run side by side (default 2)")
    parser.add_argument("examples", nargs="*", help="only these examples (default: all)")
    args = parser.parse_args(argv)
    reason = missing()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="keras-examples-") as work:
        rows = run(Path(work), jobs=args.jobs, only=args.examples or None)
    print(table(rows))
    ran = [r for r in rows if not r.cannot_run]
    print(f"\n{sum(r.green for r in ran)} of {len(ran)} runnable examples green "
          f"({len(rows) - len(ran)} cannot run) in {time.perf_counter() - start:.0f} s")
    return 0 if all(r.green for r in ran) else 1


if __name__ == "__main__":
    sys.exit(main())
