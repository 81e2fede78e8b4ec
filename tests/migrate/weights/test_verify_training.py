"""``migrate port --verify-training K``: the written file resumes training as the legacy checkpoint does.

The source is the resume fixture (``legacy_ref/artefacts/resume.py``: the
Keras-2.2 classifier saved by tf_keras after 3 steps of legacy Adam, with its
optimizer state). The legacy side loads it compiled on tf_keras and trains K
random batches; the ported ``.keras`` file trains the same batches on Keras 3.
With the optimizer state ported the losses agree at every step; without it
(``--no-optimizer``) Adam restarts and the check must say so (exit 1).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from migrate.cli import main

RESUME = Path(__file__).resolve().parents[2] / "fixtures" / "legacy" / "resume"
SOURCE = RESUME / "keras22_step3.model.h5"
STEPS = 3

pytestmark = pytest.mark.slow


def _per_step(text: str) -> list[float]:
    match = re.search(r"relative loss diff per step \[([^\]]*)\]", text)
    assert match, text
    return [float(v) for v in match.group(1).split(",")]


def test_the_ported_optimizer_state_trains_on_alike(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "resumed.keras"
    code = main(["port", str(SOURCE), "--to", str(out), "--verify-training", str(STEPS)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    line = next(line for line in captured.out.splitlines() if line.startswith("verified training:"))
    rel = _per_step(line)
    weight_diff = float(re.search(r"max abs weight diff after \d+ steps (\S+)", line).group(1))
    print(f"--verify-training {STEPS} on {SOURCE.name}: {line}")
    assert len(rel) == STEPS and max(rel) <= 1e-5 and weight_diff <= 1e-5
    assert out.is_file()


def test_without_the_optimizer_state_the_divergence_is_reported(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "restarted.keras"
    code = main(["port", str(SOURCE), "--to", str(out), "--no-optimizer", "--verify-training", str(STEPS)])
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("migrate port: error:")]
    assert code == 1 and len(err) == 1, err
    rel = _per_step(err[0])
    # The first loss is taken before any update, so it still agrees; the
    # restarted Adam moves the weights elsewhere from there on.
    assert rel[0] <= 1e-5 and max(rel[1:]) > 1e-3
    assert "trains differently from the legacy checkpoint from step 2" in err[0]
    assert "a fresh LegacyAdam" in err[0] and f"nothing written at {out}" in err[0]
    # The check ran on the staged file: no OUT, and no temporary file left beside it.
    assert list(tmp_path.iterdir()) == []


def test_bad_requests_are_refused_up_front(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "never.keras"
    for args in (["--verify-training", "0"], ["--dry-run", "--verify-training", "2"]):
        assert main(["port", str(SOURCE), "--to", str(out), *args]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("migrate port: error: --verify-training:"), err
    # A weights-only file has no training state to resume from: refused before the port runs.
    weights_only = RESUME.parent / "keras22_classifier_weights.h5"
    assert main(["port", str(weights_only), "--to", str(out), "--verify-training", "2"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--verify-training needs a full-model HDF5 file" in err[0], err
    assert not out.exists()
