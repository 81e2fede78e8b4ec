"""Regenerate the legacy checkpoints: ``python -m legacy_ref.artefacts [--out DIR]``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parents[2] / "tests" / "fixtures" / "legacy"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m legacy_ref.artefacts", description=__doc__)
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help=f"directory (default: {DEFAULT_DIR})")
    args = parser.parse_args(argv)

    from legacy_ref.artefacts import builtin, keras22, resume, tutorial

    args.out.mkdir(parents=True, exist_ok=True)
    for module in (keras22, tutorial, builtin, resume):
        for path in module.write_artefacts(args.out):
            size = sum(p.stat().st_size for p in path.rglob("*")) if path.is_dir() else path.stat().st_size
            print(f"wrote {path} ({size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
