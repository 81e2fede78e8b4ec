"""The ``migrate port`` subcommand: argument parsing and exit codes.

Exit codes: 0 ported (or a complete ``--dry-run`` plan); 2 the port failed
(bad source, mismatch, failed verification, OUT problems) -- nothing is
written at OUT.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def add_port_parser(sub: "argparse._SubParsersAction[argparse.ArgumentParser]") -> None:
    port = sub.add_parser(
        "port",
        help="port a legacy checkpoint (HDF5, TF checkpoint, SavedModel) to a verified .keras file",
        description=(
            "Port legacy weights into a Keras 3 model and save it as a .keras file. SOURCE is a Keras 2.2 or "
            "tf.keras 2.x HDF5 file (weights-only or full model), a TF checkpoint prefix, a CheckpointManager "
            "directory (the latest checkpoint is taken) or a SavedModel directory."
        ),
    )
    port.add_argument("source", metavar="SOURCE", help="legacy checkpoint to read (never executed or unpickled)")
    port.add_argument("--to", dest="out", metavar="OUT.keras", help="the .keras file to write")
    port.add_argument("--model", metavar="SPEC",
                      help="path/to/file.py:factory or package.module:factory returning the Keras 3 model to fill "
                           "(default: rebuilt from a full-model HDF5 file's model_config)")
    port.add_argument("--map", dest="map_name", metavar="NAME",
                      help="a modern weight map (keras22, tutorial) instead of matching by structure")
    port.add_argument("--legacy", dest="legacy_spec", metavar="SPEC",
                      help="legacy/program.py:factory, your unmodified legacy code (run on tf_keras), building the "
                           "legacy model for --verify when SOURCE does not define it")
    port.add_argument("--verify", action="store_true",
                      help="run a fixed input through the legacy and the ported model; fail above --atol")
    port.add_argument("--atol", type=float, default=1e-5, help="--verify tolerance (default 1e-5)")
    port.add_argument("--dry-run", action="store_true", help="print the plan (source -> target [transform]) and stop")
    port.add_argument("--report", metavar="FILE.json", help="write the plan, dropped optimizer state and figures as JSON")
    port.add_argument("--force", action="store_true", help="overwrite an existing OUT")


def cmd_port(args: argparse.Namespace) -> int:
    import os

    # TensorFlow's oneDNN CPU allocator keeps freed buffers: building a model
    # and streaming a checkpoint into it then peaks well above the model's
    # own size. Off by default for ports (set it to 1 to override); it only
    # takes effect when TensorFlow is not imported yet.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    from migrate.weights.errors import PortError
    from migrate.weights.port import PortRequest, run_port

    request = PortRequest(
        source=Path(args.source),
        out=Path(args.out) if args.out else None,
        model_spec=args.model,
        map_name=args.map_name,
        legacy_spec=args.legacy_spec,
        verify=args.verify,
        dry_run=args.dry_run,
        report=Path(args.report) if args.report else None,
        force=args.force,
        atol=args.atol,
    )
    try:
        run_port(request)
    except PortError as exc:
        print(f"migrate port: error: {exc}", file=sys.stderr)
        return exc.exit_code
    return 0
