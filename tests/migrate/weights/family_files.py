"""What the no-code port tests of a library family share: the family's legacy files, made
once by the libraries themselves, and the port/load/compare steps.

``legacy_ref/artefacts/<family>.py test-files DIR`` runs the published libraries (from
``<venv>/realworld``, installed by ``./dev``) on tf_keras in a subprocess
(``TF_USE_LEGACY_KERAS=1``) and writes their full-model files with the libraries' own
outputs. They are cached under ``<venv>/<family>-family-files/<key>``, the key hashing
what decides them, and written to a ``.partial-<pid>`` directory first, so that an
interrupted run never leaves a half-made cache behind.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from migrate.cli import main as migrate_main

ROOT = Path(__file__).resolve().parents[3]
LIBRARIES = Path(sys.prefix) / "realworld"


def family_files(family: str, needs: str, last_file: str, extra_key_files: tuple[Path, ...] = ()) -> Path:
    """The cached directory of ``family``'s legacy files, made first if absent.

    Args:
        family: ``bert`` or ``xlnet``: ``legacy_ref/artefacts/<family>_family.py`` makes them.
        needs: the package under ``<venv>/realworld`` without which the test skips.
        last_file: the file the script writes last (its presence means complete).
        extra_key_files: other files whose bytes decide the outputs (era shims).
    """
    if not (LIBRARIES / needs).is_dir():
        pytest.skip(f"{needs} is not installed in {LIBRARIES} (./dev installs tests/realworld/libraries.txt there)")
    script = ROOT / "legacy_ref" / "artefacts" / f"{family}_family.py"
    parts = [script.read_bytes(), *(path.read_bytes() for path in extra_key_files), metadata.version("tf_keras").encode()]
    parts += sorted(p.name.encode() for p in LIBRARIES.glob("*.dist-info"))
    out = Path(sys.prefix) / f"{family}-family-files" / hashlib.sha256(b"\0".join(parts)).hexdigest()[:16]
    if not (out / last_file).exists():
        partial = out.parent / f"{out.name}.partial-{os.getpid()}"
        shutil.rmtree(partial, ignore_errors=True)
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
        completed = subprocess.run(
            [sys.executable, "-m", f"legacy_ref.artefacts.{family}_family", "--legacy-path", str(LIBRARIES),
             "test-files", str(partial)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600,
        )
        assert completed.returncode == 0, completed.stderr[-3000:]
        shutil.rmtree(out, ignore_errors=True)
        partial.rename(out)
    return out


def run_on_backend(backend: str, code: str, *args: Path) -> list[str]:
    """Run ``code`` (``python -c``, ``args`` as ``sys.argv[1:]``) in a fresh process on another
    Keras 3 backend (a backend is fixed per process); its stdout lines. It must succeed."""
    env = {**os.environ, "KERAS_BACKEND": backend, "TF_CPP_MIN_LOG_LEVEL": "3"}
    env.pop("TF_USE_LEGACY_KERAS", None)
    completed = subprocess.run([sys.executable, "-c", code, *map(str, args)], cwd=ROOT, env=env,
                               capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout.strip().splitlines()


def port(source: Path, out: Path, *extra: str) -> int:
    return migrate_main(["port", str(source), "--to", str(out), *extra])


def load(path: Path) -> Any:
    import keras

    import modern  # noqa: F401  (registers the ports)

    return keras.saving.load_model(path, safe_mode=True)


def max_diff(actual: Any, expected: Any) -> float:
    return float(np.max(np.abs(np.asarray(actual, dtype=np.float64) - expected)))
