"""Print the real-world table (issue 12) in Markdown:

    .venv/bin/python -m tests.realworld.table [--jobs N]

Runs the whole suite (cached legacy oracles, a fresh rewrite, the Keras 3 side) in a
temporary directory and prints one row per case, then the exact error of every red row
and the rewrite findings that still need a human; benchmarks/README.md keeps a copy.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from tests.realworld.harness import missing, run, table


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2, help="libraries run side by side (default 2)")
    args = parser.parse_args(argv)
    reason = missing()
    if reason:
        print(reason, file=sys.stderr)
        return 2
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="realworld-") as work:
        rows = run(Path(work), jobs=args.jobs)
    print(table(rows))
    print(f"\n{sum(r.green for r in rows)} of {len(rows)} rows green in {time.perf_counter() - start:.0f} s")
    return 0 if all(r.green for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
