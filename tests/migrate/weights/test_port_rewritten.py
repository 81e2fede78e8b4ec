"""The legacy artefacts port into models built by *rewritten* legacy code.

The bundled legacy programs in ``examples/legacy`` are rewritten with
``migrate rewrite``; the checkpoints made by ``legacy_ref`` then port into the
models those rewritten programs build (``--model rewritten.py:build_model``)
and match the legacy model within 1e-5.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrate.cli import main

ROOT = Path(__file__).resolve().parents[3]
LEGACY_CODE = ROOT / "examples" / "legacy"
LEGACY = ROOT / "tests" / "fixtures" / "legacy"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rewritten(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rewritten")
    # Exit 1: the translator keeps one finding for a human (its legacy
    # tf.train.Checkpoint restore, pointing at `migrate port`).
    assert main(["rewrite", str(LEGACY_CODE), "-o", str(out), "-q"]) in (0, 1)
    return out


@pytest.mark.parametrize(
    "source, extra",
    [
        ("keras22_classifier.model.h5", []),
        # The unmodified legacy program builds the legacy model (on tf_keras).
        ("keras22_classifier_weights.h5", ["--legacy", f"{LEGACY_CODE / 'classifier.py'}:build_model"]),
    ],
)
def test_classifier_checkpoints_into_the_rewritten_program(rewritten: Path, tmp_path: Path, source: str, extra: list[str]) -> None:
    out, report = tmp_path / "classifier.keras", tmp_path / "report.json"
    code = main(["port", str(LEGACY / source), "--to", str(out), "--model", f"{rewritten / 'classifier.py'}:build_model",
                 "--verify", "--report", str(report), *extra])
    assert code == 0
    data = json.loads(report.read_text())
    assert data["verify_max_abs_diff"] <= 1e-5
    # By structure: the rewritten layers keep the legacy weight names.
    assert {"source": "t1_att1/t1_att1_Wq", "target": "t1_att1/t1_att1_Wq"}.items() <= {
        k: v for a in data["assignments"] if a["source"] == "t1_att1/t1_att1_Wq" for k, v in a.items()
    }.items()
