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


def _positive(text: str) -> float:
    """An argparse type: a number above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a positive number, not {text}")
    return value


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
    rw.add_argument("--diff", action="store_true", help="print unified diffs; write nothing")
    rw.add_argument("--check", action="store_true",
                    help="write nothing; name each file that would change and exit 1 if any would "
                         "(with --diff: show the diffs too)")
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
    rw.add_argument("--timeout", type=_positive, default=60.0, metavar="SECONDS",
                    help="time limit per file; a file over it fails and the run goes on (default: 60)")
    rw.add_argument("--max-size", type=_positive, default=32.0, metavar="MB",
                    help="larger files are not read and fail (default: 32)")
    rw.add_argument("-q", "--quiet", action="store_true", help="print only the summary line")
    rw.add_argument("--no-progress", action="store_true", help="never show the progress display")

    rl = sub.add_parser("rules", help="list every rule: id, tier, description, its module and what it hooks",
                        description="List the rewrite rules.")
    rl.add_argument("--json", action="store_true", help="machine-readable output")

    from migrate.port_cli import add_port_parser

    add_port_parser(sub)
    from migrate.program_verify import add_verify_parser

    add_verify_parser(sub)
    from migrate.check.driver import add_check_parser

    add_check_parser(sub)
    return parser


def cmd_rules(args: argparse.Namespace) -> int:
    """``migrate rules``: every rule id with its tier and description, the module that implements it
    and what that module hooks (read from the rule registry without importing libcst)."""
    from migrate.rewrite.catalog import FAMILIES, RULES
    from migrate.rewrite.registry import declared

    owner = {rule_id: r for r in declared() for rule_id in r.spec.ids}
    if args.json:
        out = []
        for info in RULES:
            r = owner.get(info.id)
            entry: dict[str, object] = {"id": info.id, "name": info.name, "tier": info.tier,
                                        "description": info.description}
            if r is not None:
                entry["module"] = r.module
                entry["hooks"] = [_hook_json(h) for h in r.spec.hooks]
                entry["before"] = [{"rule": o.rule, "reason": o.reason} for o in r.spec.before]
                entry["after"] = [{"rule": o.rule, "reason": o.reason} for o in r.spec.after]
            out.append(entry)
        print(json.dumps(out, indent=2))
        return 0
    family = None
    for info in RULES:
        if info.id[:3] != family:
            family = info.id[:3]
            print(f"# {family}xx {FAMILIES.get(family, '')}")
        print(f"{info.id}  {info.tier:<6}  {info.name:<26} {info.description}")
        r = owner.get(info.id)
        if r is not None:
            hooks = "; ".join(_hook_text(h) for h in r.spec.hooks)
            order = [f"before {o.rule}" for o in r.spec.before] + [f"after {o.rule}" for o in r.spec.after]
            print(f"{'':15}rules/{r.name}.py: {hooks}" + (f" ({', '.join(order)})" if order else ""))
    return 0


def _hook_json(hook: object) -> dict[str, object]:
    from dataclasses import asdict

    data = asdict(hook)  # type: ignore[call-overload]
    return {k: v for k, v in data.items() if v or k == "kind"}


def _hook_text(hook: object) -> str:
    """``call keras.backend.batch_dot``, ``call .add_weight()``, ``attribute .lr``, ``every class``, ..."""
    h = hook  # a hooks.Hook; typed loosely so that the CLI module does not import it at start-up
    what = [*h.names, *(p + "*" for p in h.prefixes)]  # type: ignore[attr-defined]
    if h.kind == "call":  # type: ignore[attr-defined]
        what += [f".{m}()" for m in h.methods]  # type: ignore[attr-defined]
        if h.unresolved:  # type: ignore[attr-defined]
            what.append("any unresolved callee")
    else:
        what += [f".{m}" for m in h.methods]  # type: ignore[attr-defined]
    text = (h.kind + " " + ", ".join(what)) if what else f"every {h.kind}"  # type: ignore[attr-defined]
    return text + (" [check]" if h.check else "")  # type: ignore[attr-defined]


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
    """``migrate rewrite``; Ctrl-C at any point ends it with one line and exit status 130."""
    try:
        return _rewrite(args)
    except KeyboardInterrupt:
        # Before any file was handed out (discovery, start-up) or while printing the report.
        print("migrate: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `migrate rewrite --diff ... | head`: the reader has gone, so be quiet
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


def _rewrite(args: argparse.Namespace) -> int:
    from pathlib import Path

    from migrate.rewrite.catalog import expand_selection
    from migrate.rewrite.context import Options
    from migrate.rewrite.engine import Task, default_jobs, discover, is_tty
    from migrate.rewrite.workers import Runner

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
    # Names one module of the tree re-exports to others (`from bert4keras.backend import K`).
    from migrate.rewrite.names import tree_imports

    max_bytes = int(args.max_size * 1024 * 1024)
    options.tree_imports = tree_imports((src for src, _ in pairs), max_bytes)
    write = not (args.diff or args.check)
    tasks = [Task(src, dst, options, write, args.diff, max_bytes) for src, dst in pairs]
    jobs = args.jobs if args.jobs > 0 else default_jobs()
    progress = _Progress(enabled=not args.no_progress and not args.quiet and is_tty() and len(tasks) > 1)
    runner = Runner(tasks, jobs, args.timeout, progress)
    done = 0
    interrupted = False
    try:
        for res in runner:
            results.append(res)
            done += 1
            if res.diff:
                progress.close()
                sys.stdout.write(res.diff)
    except KeyboardInterrupt:
        interrupted = True
        finished = runner.stop()  # what the workers finished (and wrote) before they stopped
        results.extend(finished)
        done += len(finished)
    finally:
        runner.close()
    progress.close()
    return _report(args, results, write, done, len(tasks), interrupted)


def _report(args: argparse.Namespace, results: list, write: bool, done: int, total: int,
            interrupted: bool) -> int:
    """Print what happened (failures, findings, the files --check would change, the summary); the exit status."""
    from migrate.rewrite.findings import write_report

    findings = [f for r in results for f in r.findings]
    if not args.quiet:
        for r in results:
            if r.status == "failed":
                print(f"{r.path}: error: {r.error}", file=sys.stderr)
            elif r.status == "skipped":
                print(f"{r.path}: skipped: {r.error}", file=sys.stderr)
        for f in findings:
            if not f.fixed:
                print(f.format())
        if args.check:
            # One line per file, as black and ruff print them: what a pre-commit hook shows the user.
            for r in results:
                if r.status == "changed":
                    print(f"would rewrite {r.path}")
    if args.report and not write_report(args.report, results, "migrate"):
        return 2
    changed = sum(r.status == "changed" for r in results)
    unchanged = sum(r.status == "unchanged" for r in results)
    failed = sum(r.status == "failed" for r in results)
    skipped = sum(r.status == "skipped" for r in results)
    need = sum(not f.fixed for f in findings)
    verb = "would change" if not write else "changed"
    summary = (f"{changed} file{'s' if changed != 1 else ''} {verb}, {unchanged} unchanged, {failed} failed"
               + (f", {skipped} skipped" if skipped else "")
               + f"; {len(findings)} finding{'s' if len(findings) != 1 else ''} ({len(findings) - need} fixed, "
               f"{need} need review)")
    if interrupted:
        summary = (f"migrate: interrupted after {done} of {total} files (the rest were not touched); "
                   + summary)
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
    if args.command in ("check", "doctor"):
        from migrate.check.driver import cmd_check

        return cmd_check(args)
    if args.command == "port":
        from migrate.port_cli import cmd_port

        return cmd_port(args)
    if args.command == "verify" and args.batch is not None:
        from migrate.verify_batch import cmd_verify_batch

        return cmd_verify_batch(args)
    if args.command == "verify":
        from migrate.program_verify import cmd_verify

        return cmd_verify(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
