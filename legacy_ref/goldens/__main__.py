"""Regenerate the golden arrays: ``python -m legacy_ref.goldens [--out DIR] [--check]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from legacy_ref.goldens import FAMILIES

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "tests" / "goldens"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m legacy_ref.goldens", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help=f"directory (default: {DEFAULT_DIR})")
    parser.add_argument("--check", action="store_true", help="compare with the files in --out instead of writing")
    parser.add_argument("--only", choices=FAMILIES, action="append", help="run only this family (repeatable)")
    args = parser.parse_args(argv)

    from legacy_ref.goldens import all_cases
    from legacy_ref.goldens.compare import compare_cases

    cases = all_cases(tuple(args.only) if args.only else FAMILIES)
    if args.check:
        problems = compare_cases(cases, args.out, check_stale=not args.only)
        for line in problems:
            print(line)
        print(f"{len(cases)} golden cases checked against {args.out}: {len(problems)} problem(s)")
        return 1 if problems else 0
    args.out.mkdir(parents=True, exist_ok=True)
    for name, case in sorted(cases.items()):
        path = args.out / f"{name}.npz"
        case.save(path)
        print(f"wrote {path} ({path.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
