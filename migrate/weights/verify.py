"""``migrate port --verify``: the legacy model's outputs, computed in a child process.

The legacy model runs on tf_keras in a separate Python process
(:mod:`migrate.weights.legacy_oracle`) that gets only paths and the probe
input and answers with an array or a one-line error. Before it starts, a
full-model source's ``model_config`` is proven plain data here
(:func:`migrate.weights.config.check_legacy_config`), so a file that names
code is refused before any deserializer sees it; the child checks again and
rebuilds inside tf_keras's safe mode. Everything the child writes lives in a
temporary directory that this process removes, so a crash there (tf_keras
failing, a legacy program that exits or segfaults) leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

from migrate.weights.errors import PortError, require_tensorflow
from migrate.weights.legacy_oracle import ERROR, OUTPUTS, PROBE, REQUEST
from migrate.weights.source import WeightSource


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # The child must see tf_keras as the legacy API and Keras 3 as `keras`,
    # whatever the user's shell says.
    env.pop("TF_USE_LEGACY_KERAS", None)
    return env


def raise_child_failure(work: Path, done: str, returncode: int, stderr: str, path: object, what: str,
                        hint: str = "") -> None:
    """Raise the child's own one-line error, or, if it died without one, its last stderr line.

    A child process (the legacy side on tf_keras) writes ``WORK/error.json``
    when it fails knowingly, and ``WORK/<done>`` when it finishes; anything
    else (a segfault, ``os._exit``) is reported with its exit status.
    """
    if (work / ERROR).exists():
        error = json.loads((work / ERROR).read_text())
        raise PortError(error["path"], error["detail"])
    if returncode != 0 or not (work / done).exists():
        tail = [line for line in stderr.splitlines() if line.strip()][-1:] or ["no output"]
        raise PortError(path, f"{what} (exit {returncode}: {tail[0].strip()[:300]}){hint}")


def legacy_outputs(request: Any, source: WeightSource, probe: Any, output_layer: str | None = None) -> np.ndarray:
    """The legacy model's main output on ``probe``, computed on tf_keras in a child process.

    ``output_layer`` (a full-model source only): that layer's output instead.

    Raises:
        UnsafeSourceError: the source's model_config names code (checked here,
            before the child starts).
        PortError: the legacy model could not be built, loaded or run; the
            message is the child's one line.
    """
    if source.model_config is not None and not request.legacy_spec:
        from migrate.weights.config import check_legacy_config

        check_legacy_config(source.model_config, source.path)
    require_tensorflow(source.path, "--verify (the legacy model runs on tf_keras)")
    arrays = probe if isinstance(probe, list) else [probe]
    with tempfile.TemporaryDirectory(prefix="migrate-verify-") as workdir:
        work = Path(workdir)
        np.savez(work / PROBE, count=len(arrays), **{f"probe_{i}": a for i, a in enumerate(arrays)})
        (work / REQUEST).write_text(json.dumps({
            # What the user named (a SavedModel directory, a prefix): read_source
            # tells the format from it, not from the file it resolved to.
            "source": str(Path(request.source).resolve()),
            "legacy_spec": request.legacy_spec,
            "max_weight_bytes": request.max_weight_bytes,
            "probe_is_list": isinstance(probe, list),
            "output_layer": output_layer,
            # The saved object the port chose (--root): the child restores only it.
            "root": source.metadata.get("root"),
        }))
        completed = subprocess.run(
            [sys.executable, "-m", "migrate.weights.legacy_oracle", str(work)],
            env=_child_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, errors="replace",
        )
        raise_child_failure(work, OUTPUTS, completed.returncode, completed.stderr, source.path,
                            "--verify: the legacy model's process on tf_keras failed",
                            "; run without --verify, or check the legacy model with --legacy")
        with np.load(work / OUTPUTS, allow_pickle=False) as data:
            return np.array(data["outputs"])
