"""``migrate verify --batch PROGRAMS.json``: many legacy programs against their rewrites at once.

A project rarely has one model: an encoder and a decoder, a model per task, or
(in the real-world suite) one model per published library's builder. Verifying
each with its own ``migrate verify`` starts TensorFlow twice per program; a
batch builds every NEW model in this process and runs every OLD factory in
*one* tf_keras child (:func:`migrate.program_verify.verify_many`).

PROGRAMS.json is a JSON list; each entry is an object with

* ``old``, ``new`` (required): as ``migrate verify``'s OLD and NEW;
* ``name``: what the lines and the report call it (default ``old``);
* ``factory``, ``factory_args`` (an object), ``inputs`` (an ``.npz``),
  ``atol``: as the options of the same names, for this entry only;
* ``old_path``, ``new_path``: lists of directories, added to the options'.

Relative file paths in an entry (``.py`` programs, ``inputs``, the path lists)
are taken from the list's own directory, so a list can sit next to its
programs. The command-line options apply to every entry.

Each program gets its lines (as ``migrate verify`` prints them) and the last
line counts them. Exit status: 0 every program equal, 1 at least one differs
(and none failed), 2 an error in the list itself or in at least one program
(that program's line says which and why; the others are still verified).
``--report`` writes ``{"programs": [...]}`` with one ``migrate verify``
report, or ``{"name", "error"}``, per entry.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from migrate.program_verify import (
    VerifyRequest,
    VerifyResult,
    factory_args,
    print_result,
    run_command,
    verify_many,
    write_report,
)
from migrate.weights.errors import PortError, one_line

#: The keys an entry may have; anything else is refused (a misspelt "factory_arg"
#: would otherwise verify the wrong model silently).
ENTRY_KEYS = frozenset({"old", "new", "name", "factory", "factory_args", "inputs", "atol", "old_path", "new_path"})


def _local(value: str, base: Path) -> str:
    """A ``.py`` program spec or a file path taken from the list's directory when relative."""
    module_part, sep, name = value.rpartition(":")
    if not (sep and name.isidentifier()):
        module_part, sep, name = value, "", ""
    if module_part.endswith((".py", ".npz")) or "/" in module_part:
        path = Path(module_part)
        module_part = str(path if path.is_absolute() else base / path)
    return f"{module_part}{sep}{name}"


def _paths(entry: dict[str, Any], key: str, where: str, base: Path) -> list[Path]:
    value = entry.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise PortError(where, f'"{key}" must be a list of directories')
    return [p if p.is_absolute() else base / p for p in map(Path, value)]


def read_batch(path: Path, args: argparse.Namespace) -> tuple[list[str], list[VerifyRequest]]:
    """The entries of PROGRAMS.json as requests (with the options applied), and their names."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PortError(path, "--batch: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise PortError(path, f"--batch: cannot be read ({one_line(exc)})") from exc
    except json.JSONDecodeError as exc:
        raise PortError(f"{path}:{exc.lineno}", f"--batch: not JSON ({exc.msg})") from exc
    if not isinstance(data, list) or not data:
        raise PortError(path, '--batch: must be a non-empty JSON list of {"old": ..., "new": ...} objects')
    base = path.resolve().parent
    common = factory_args(args.factory_args)
    names, requests = [], []
    for i, entry in enumerate(data):
        where = f"{path} entry {i + 1}"
        if not isinstance(entry, dict):
            raise PortError(where, 'must be an object such as {"old": "old.py", "new": "new.py", "factory": "build"}')
        unknown = sorted(set(entry) - ENTRY_KEYS)
        if unknown:
            raise PortError(where, f"unknown key(s) {unknown}; an entry takes {sorted(ENTRY_KEYS)}")
        for key in ("old", "new"):
            if not isinstance(entry.get(key), str) or not entry[key]:
                raise PortError(where, f'needs "{key}": the {"legacy" if key == "old" else "rewritten"} program')
        args_here = entry.get("factory_args", {})
        if not isinstance(args_here, dict):
            raise PortError(where, '"factory_args" must be an object of keyword arguments')
        atol = entry.get("atol", args.atol)
        if isinstance(atol, bool) or not isinstance(atol, (int, float)):
            raise PortError(where, '"atol" must be a number')
        inputs = entry.get("inputs")
        if inputs is not None and not isinstance(inputs, str):
            raise PortError(where, '"inputs" must be the path of an .npz file')
        names.append(str(entry.get("name") or entry["old"]))
        requests.append(VerifyRequest(
            old=_local(entry["old"], base), new=_local(entry["new"], base),
            factory=entry.get("factory") or args.factory, factory_args={**common, **args_here},
            inputs=Path(_local(inputs, base)) if inputs else Path(args.inputs) if args.inputs else None,
            atol=float(atol),
            old_path=[Path(p) for p in args.old_path] + _paths(entry, "old_path", where, base),
            new_path=[Path(p) for p in args.new_path] + _paths(entry, "new_path", where, base),
        ))
    return names, requests


def cmd_verify_batch(args: argparse.Namespace) -> int:
    """``migrate verify --batch``: exit 0 all equal, 1 one differs, 2 an error."""
    return run_command(lambda: _verify_batch(args), args.batch)


def _verify_batch(args: argparse.Namespace) -> int:
    if args.old is not None or args.new is not None:
        raise PortError("--batch", "give either OLD NEW or --batch PROGRAMS.json, not both")
    names, requests = read_batch(Path(args.batch), args)
    report = Path(args.report) if args.report else None
    if report is not None:
        from migrate.weights.writer import check_writable_dir

        check_writable_dir(report, "--report")
    total = len(requests)

    def progress(i: int, _request: VerifyRequest) -> None:
        print(f"migrate verify: [{i + 1}/{total}] building NEW of {names[i]}", file=sys.stderr, flush=True)

    results = verify_many(requests, progress)
    entries: list[dict[str, Any]] = []
    equal = different = failed = 0
    for i, (name, result) in enumerate(zip(names, results)):
        print(f"[{i + 1}/{total}] {name}")
        if isinstance(result, VerifyResult):
            print_result(result)
            equal += result.ok
            different += not result.ok
            entries.append({"name": name, **result.to_json()})
        else:
            print(f"  error: {result}")
            failed += 1
            entries.append({"name": name, "error": str(result)})
    print(f"{total} programs: {equal} equal, {different} different, {failed} failed")
    if report is not None:
        write_report(report, {"programs": entries})
    return 2 if failed else 1 if different else 0
