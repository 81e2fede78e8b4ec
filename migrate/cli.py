"""Command-line entry point: ``migrate``.

Start-up stays light: subcommands import their heavy dependencies
(libcst, TensorFlow, Keras) only when they run.
"""

from __future__ import annotations

import argparse
import sys

from migrate import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="migrate",
        description="Move legacy Keras 2.2 / tf.keras 2.x code and checkpoints to Keras 3.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_subparsers(dest="command", metavar="COMMAND")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
