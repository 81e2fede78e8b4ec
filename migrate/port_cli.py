"""The ``migrate port`` subcommand: argument parsing, exit codes, signals, noise.

Exit codes: 0 ported (or a complete ``--dry-run`` plan); 2 the port failed
(bad source, mismatch, failed verification, OUT problems) -- nothing is
written at OUT; 130, 143, 129 interrupted by SIGINT, SIGTERM, SIGHUP -- the
temporary files are removed and nothing is written at OUT. Every failure is
one ``migrate port: error:`` line on stderr.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import Any

# Signals that end a port; each leaves with 128 + its number, as a shell does.
HANDLED_SIGNALS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name)
)
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.IGNORECASE)
_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}


def parse_size(text: str) -> int:
    """``--max-weight-bytes``: a byte count, optionally with K, M, G or T (binary units)."""
    match = _SIZE.match(text)
    if match is None:
        raise argparse.ArgumentTypeError(f"{text!r} is not a size (e.g. 8G, 500M, 1073741824)")
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


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
    port.add_argument("--root", metavar="NAME",
                      help="a TF checkpoint holding several models (tf.train.Checkpoint(generator=g, "
                           "discriminator=d)): the saved object that is the model to port, e.g. generator or "
                           "gan/generator; the other objects' weights are dropped")
    port.add_argument("--legacy", dest="legacy_spec", metavar="SPEC",
                      help="legacy/program.py:factory, your unmodified legacy code (run on tf_keras), building the "
                           "legacy model for --verify when SOURCE does not define it")
    port.add_argument("--legacy-path", metavar="DIR",
                      help="directory where published legacy libraries are installed (e.g. pip install --no-deps "
                           "--target DIR keras-bert): --verify runs them there, on tf_keras, as the file's own classes")
    port.add_argument("--into", metavar="LIBRARY", choices=("keras-hub",),
                      help="keras-hub: port a keras-bert 0.89 or keras-gpt-2 0.17 full-model file into "
                           "keras_hub.models.BertBackbone / GPT2Backbone instead of modern layers; refuses what the "
                           "backbone cannot express; --verify proves the map against the library on tf_keras and "
                           "prints where keras-hub computes a different function (layer-norm epsilon) and by how "
                           "much; output heads the backbone lacks are dropped and listed; a file with optimizer "
                           "state needs --no-optimizer")
    port.add_argument("--verify", action="store_true",
                      help="run a fixed input through the legacy and the ported model; fail above --atol")
    port.add_argument("--atol", type=float, default=1e-5, help="--verify tolerance (default 1e-5)")
    port.add_argument("--verify-training", type=int, default=None, metavar="K",
                      help="after writing OUT, train K random batches in the legacy checkpoint (tf_keras) and in OUT; "
                           "exit 1 if a loss differs by more than --rtol or a weight after K steps by more than --atol "
                           "(a full-model HDF5 SOURCE saved with its optimizer state)")
    port.add_argument("--rtol", type=float, default=1e-5,
                      help="--verify-training: relative tolerance on each step's loss (default 1e-5)")
    port.add_argument("--dry-run", action="store_true", help="print the plan (source -> target [transform]) and stop")
    port.add_argument("--report", metavar="FILE.json", help="write the plan, dropped optimizer state and figures as JSON")
    port.add_argument("--force", action="store_true", help="overwrite an existing OUT (never SOURCE itself)")
    port.add_argument("--no-optimizer", action="store_true",
                      help="drop the legacy optimizer state (slots, counter) instead of porting it into the .keras "
                           "file's compiled optimizer; a mismatch in it is then only a warning")
    port.add_argument("--max-weight-bytes", type=parse_size, default=None, metavar="SIZE",
                      help="refuse a SOURCE whose weights declare more than SIZE bytes in all (default 8G; "
                           "a port holds a few copies in memory); accepts K, M, G, T")


class Interrupted(BaseException):
    """A handled signal arrived. A ``BaseException`` so that no ``except
    Exception`` in Keras or TensorFlow swallows it on its way out."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum: int, frame: FrameType | None) -> None:
    # Only the first signal unwinds; a second one (Ctrl-C pressed again)
    # must not interrupt the clean-up the first one started.
    if not getattr(_on_signal, "fired", False):
        _on_signal.fired = True  # type: ignore[attr-defined]
        raise Interrupted(signum)


class _SignalGuard:
    """Turns SIGINT, SIGTERM and SIGHUP into :class:`Interrupted` while a port runs."""

    def __enter__(self) -> "_SignalGuard":
        self.previous: dict[int, Any] = {}
        _on_signal.fired = False  # type: ignore[attr-defined]
        if threading.current_thread() is threading.main_thread():
            for signum in HANDLED_SIGNALS:
                self.previous[signum] = signal.signal(signum, _on_signal)
        return self

    def __exit__(self, *exc_info: object) -> None:
        for signum, handler in self.previous.items():
            signal.signal(signum, handler)


class _WarningSummary:
    """Collects Python warnings during a port and prints them as one note.

    Warnings raised by Keras about the user's model (or by their factory)
    are theirs to judge, but one line per warning, repeated per layer,
    buries the result. A user who asked for warnings (``-W``,
    ``PYTHONWARNINGS``) sees them as usual.
    """

    def __init__(self) -> None:
        import warnings

        self.enabled = not sys.warnoptions
        self._context = warnings.catch_warnings(record=True) if self.enabled else None
        self.caught: list[Any] = []

    def __enter__(self) -> "_WarningSummary":
        # The filters in force stay (DeprecationWarnings from library
        # internals remain ignored, as without migrate); only the printing
        # is replaced by recording.
        if self._context is not None:
            self.caught = self._context.__enter__()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._context is not None:
            self._context.__exit__(*exc_info)

    def print(self) -> None:
        if not self.caught:
            return
        kinds: dict[tuple[str, str], int] = {}
        for item in self.caught:
            key = (item.category.__name__, " ".join(str(item.message).split())[:160])
            kinds[key] = kinds.get(key, 0) + 1
        (category, message), count = max(kinds.items(), key=lambda kv: kv[1])
        total = len(self.caught)
        print(f"migrate port: note: {total} Python warning{'s' if total != 1 else ''} from Keras or your code "
              f"during the port, most often ({count}x) {category}: {message} -- run with PYTHONWARNINGS=default "
              "to see each", file=sys.stderr)


def cmd_port(args: argparse.Namespace) -> int:
    # TensorFlow's oneDNN CPU allocator keeps freed buffers: building a model
    # and streaming a checkpoint into it then peaks well above the model's
    # own size. Off by default for ports (set it to 1 to override); it only
    # takes effect when TensorFlow is not imported yet.
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    from migrate.weights.errors import PortError, one_line
    from migrate.weights.port import PortRequest, run_port
    from migrate.weights.writer import WRITTEN, remove_temp_files

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
        no_optimizer=args.no_optimizer,
        root=args.root,
    )
    if args.max_weight_bytes is not None:
        request.max_weight_bytes = args.max_weight_bytes
    if args.legacy_path:
        if not Path(args.legacy_path).is_dir():
            print(f"migrate port: error: --legacy-path: {args.legacy_path} is not a directory", file=sys.stderr)
            return 2
        from migrate.weights.legacy_oracle import LEGACY_PATH_ENV

        # Inherited by the --verify child (migrate.weights.legacy_oracle).
        os.environ[LEGACY_PATH_ENV] = str(Path(args.legacy_path).resolve())
    if request.out is not None:
        WRITTEN.discard(request.out)  # an earlier port in this process does not count
    summary = _WarningSummary()
    try:
        with _SignalGuard(), summary:
            if args.verify_training is not None and (args.verify_training < 1 or args.dry_run):
                raise PortError("--verify-training", "takes a number of steps >= 1 and a written file (not --dry-run)")
            if args.verify_training is not None and args.into:
                raise PortError("--verify-training", "does not apply with --into keras-hub (a backbone has no heads to train)")
            if args.verify_training is not None:
                from migrate.weights.training_check import check_training_source, verify_training

                check_training_source(request)
                steps, rtol = args.verify_training, args.rtol
                # Run on the staged file, before it is moved to OUT: a port that
                # trains differently leaves nothing written.
                request.before_commit = lambda staged: verify_training(request, staged, steps, rtol)
            try:
                if args.into:
                    from migrate.weights.keras_hub_port import check_request, run_into_keras_hub

                    check_request(request, args.into)
                    run_into_keras_hub(request)
                else:
                    run_port(request)
            finally:
                remove_temp_files()
    except PortError as exc:
        summary.print()
        print(f"migrate port: error: {exc}", file=sys.stderr)
        return exc.exit_code
    except (Interrupted, KeyboardInterrupt) as exc:
        remove_temp_files()
        signum = exc.signum if isinstance(exc, Interrupted) else signal.SIGINT
        name = signal.Signals(signum).name
        if request.out is not None and request.out in WRITTEN:
            # The signal came after the port was complete: say so.
            done = f"{request.out} was already written and is complete"
        else:
            done = "nothing written" + (f" at {request.out}" if request.out else "")
        print(f"migrate port: error: interrupted by {name}; temporary files removed, {done}", file=sys.stderr)
        return 128 + int(signum)
    except SystemExit as exc:
        # Reached only if user code called sys.exit somewhere we do not wrap.
        print(f"migrate port: error: {args.source}: user code called sys.exit({exc.code!r}) during the port; "
              "nothing written", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"migrate port: error: {args.source}: out of memory; nothing written (a smaller "
              "--max-weight-bytes refuses such a source up front)", file=sys.stderr)
        return 2
    except Exception as exc:
        if os.environ.get("MIGRATE_DEBUG"):
            raise
        print(f"migrate port: error: {args.source}: internal error ({type(exc).__name__}: {one_line(exc)}); "
              "nothing written; please report it (MIGRATE_DEBUG=1 shows the traceback)", file=sys.stderr)
        return 2
    summary.print()
    return 0
