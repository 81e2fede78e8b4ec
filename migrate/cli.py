"""Command-line entry point: ``migrate``.

Start-up stays light: subcommands import their heavy dependencies
(libcst, TensorFlow, Keras) only when they run; ``--help`` and ``rules``
import neither.

Exit codes of ``migrate rewrite``: 0 done; 1 changes pending (``--check``) or
findings that need a human; 2 a file failed (did not parse, could not be read
or written); 130 interrupted.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

from migrate import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="migrate",
        description="Move legacy Keras 2.2 / tf.keras 2.x code and checkpoints to Keras 3.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    rw = sub.add_parser(
        "rewrite",
        help="rewrite legacy Keras programs (.py, .ipynb) to Keras 3",
        description="Rewrite legacy Keras programs to Keras 3 in place (files and directories, recursively).",
    )
    rw.add_argument("paths", nargs="+", metavar="PATH", help="files or directories (.py and .ipynb)")
    mode = rw.add_mutually_exclusive_group()
    mode.add_argument("--diff", action="store_true", help="print unified diffs; write nothing")
    mode.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 if anything would change")
    rw.add_argument("-o", "--output", metavar="OUT",
                    help="write to OUT instead of in place (a file for one input file, else a directory tree)")
    rw.add_argument("-j", "--jobs", type=int, default=0, metavar="N", help="worker processes (default: all cores)")
    rw.add_argument("--select", nargs="+", metavar="RULE", help="only these rule ids or prefixes (e.g. KM2 KM401)")
    rw.add_argument("--ignore", nargs="+", metavar="RULE", help="skip these rule ids or prefixes")
    rw.add_argument("--report", metavar="FILE.json", help="write every finding as JSON")
    rw.add_argument("--todo-comments", action="store_true",
                    help="mark spots that need a human with '# TODO(migrate RULE): ...'")
    rw.add_argument("--from", dest="source", choices=("auto", "keras-2.2", "tf-keras-2"), default="auto",
                    help="legacy dialect (default: detected from the imports)")
    rw.add_argument("-q", "--quiet", action="store_true", help="print only the summary line")
    rw.add_argument("--no-progress", action="store_true", help="never show the progress display")

    rl = sub.add_parser("rules", help="list every rule with its id, tier and description",
                        description="List the rewrite rules.")
    rl.add_argument("--json", action="store_true", help="machine-readable output")

    from migrate.port_cli import add_port_parser

    add_port_parser(sub)
    return parser


def cmd_rules(args: argparse.Namespace) -> int:
    from migrate.rewrite.catalog import FAMILIES, RULES

    if args.json:
        print(json.dumps([{"id": r.id, "name": r.name, "tier": r.tier, "description": r.description}
                          for r in RULES], indent=2))
        return 0
    family = None
    for r in RULES:
        if r.id[:3] != family:
            family = r.id[:3]
            print(f"# {family}xx {FAMILIES.get(family, '')}")
        print(f"{r.id}  {r.tier:<6}  {r.name:<26} {r.description}")
    return 0


class _Progress:
    """A one-line counter on stderr, shown only on a terminal and after a moment."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.start = time.monotonic()
        self.shown = False

    def __call__(self, done: int, total: int) -> None:
        if not self.enabled:
            return
        if not self.shown and time.monotonic() - self.start < 0.5:
            return
        self.shown = True
        sys.stderr.write(f"\rmigrate: {done}/{total} files")
        sys.stderr.flush()

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\r" + " " * 40 + "\r")
            sys.stderr.flush()


def cmd_rewrite(args: argparse.Namespace) -> int:
    from pathlib import Path

    from migrate.rewrite.context import Options
    from migrate.rewrite.engine import Task, default_jobs, discover, is_tty, run
    from migrate.rewrite.catalog import expand_selection

    try:
        select = frozenset(expand_selection(args.select))
        ignore = frozenset(expand_selection(args.ignore))
    except ValueError as exc:
        print(f"migrate: error: {exc}", file=sys.stderr)
        return 2
    options = Options(select=select, ignore=ignore, todo_comments=args.todo_comments, source=args.source)
    if args.output and len(args.paths) > 1:
        print("migrate: error: -o/--output takes one input file or directory", file=sys.stderr)
        return 2
    if args.output and Path(args.paths[0]).is_dir() and Path(args.output).is_file():
        print("migrate: error: -o/--output must be a directory when the input is a directory", file=sys.stderr)
        return 2
    pairs, results = discover(args.paths, args.output)
    write = not (args.diff or args.check)
    tasks = [Task(src, dst, options, write, args.diff) for src, dst in pairs]
    jobs = args.jobs if args.jobs > 0 else default_jobs()
    progress = _Progress(enabled=not args.no_progress and not args.quiet and is_tty() and len(tasks) > 1)
    interrupted = False
    try:
        for res in run(tasks, jobs, progress):
            results.append(res)
            if res.diff:
                progress.close()
                sys.stdout.write(res.diff)
    except KeyboardInterrupt:
        interrupted = True
    progress.close()

    findings = [f for r in results for f in r.findings]
    if not args.quiet:
        for r in results:
            if r.status == "failed":
                print(f"{r.path}: error: {r.error}", file=sys.stderr)
        for f in findings:
            if not f.fixed:
                print(f.format())
    if args.report:
        payload = {
            "version": __version__,
            "files": [{"path": r.path, "status": r.status, "error": r.error} for r in results],
            "findings": [f.to_json() for f in findings],
        }
        try:
            with open(args.report, "w", encoding="utf-8") as fh:
                json.dump(payload, fh, indent=2)
                fh.write("\n")
        except OSError as exc:
            print(f"migrate: error: cannot write report {args.report}: {exc.strerror}", file=sys.stderr)
            return 2
    changed = sum(r.status == "changed" for r in results)
    unchanged = sum(r.status == "unchanged" for r in results)
    failed = sum(r.status == "failed" for r in results)
    need = sum(not f.fixed for f in findings)
    verb = "would change" if not write else "changed"
    summary = (f"{changed} file{'s' if changed != 1 else ''} {verb}, {unchanged} unchanged, {failed} failed; "
               f"{len(findings)} finding{'s' if len(findings) != 1 else ''} ({len(findings) - need} fixed, "
               f"{need} need review)")
    if interrupted:
        summary = f"interrupted after {len(results)} of {len(tasks)} files; " + summary
    print(summary, file=sys.stderr)
    if interrupted:
        return 130
    if failed:
        return 2
    if (args.check and changed) or need:
        return 1
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    if args.command == "rules":
        return cmd_rules(args)
    if args.command == "rewrite":
        return cmd_rewrite(args)
    if args.command == "port":
        from migrate.port_cli import cmd_port

        return cmd_port(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
