"""The committed golden arrays are what the legacy code produces today.

Regenerates every case from ``legacy_ref`` on CPU and compares with
``tests/goldens``: inputs and weights exactly, outputs to 1e-6 (trained cases to
1e-5, see ``legacy_ref.goldens.compare``). A failure
means either the legacy reference changed (regenerate with
``python -m legacy_ref.goldens`` and review the diff) or the goldens were
edited by hand.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from legacy_ref.goldens import FAMILIES, GoldenCase, all_cases
from legacy_ref.goldens.compare import compare_case, compare_cases

GOLDEN_DIR = Path(__file__).resolve().parents[1] / "goldens"


@pytest.fixture(scope="module")
def fresh_cases() -> dict[str, GoldenCase]:
    return all_cases()


@pytest.mark.slow
def test_committed_goldens_match_a_fresh_run(fresh_cases: dict[str, GoldenCase]) -> None:
    problems = compare_cases(fresh_cases, GOLDEN_DIR)
    assert not problems, "\n".join(problems)


def test_every_family_has_goldens() -> None:
    for family in FAMILIES:
        assert list(GOLDEN_DIR.glob(f"{family}_*.npz")), f"no golden files for {family}"


def test_goldens_are_small_and_data_only() -> None:
    for path in GOLDEN_DIR.glob("*.npz"):
        assert path.stat().st_size < 400_000, f"{path.name} is too large for a golden"
        case = GoldenCase.load(path)  # allow_pickle=False inside: object arrays would fail
        assert case.outputs, f"{path.name} has no outputs"
        json.dumps(case.config)


def test_comparison_catches_a_changed_output(fresh_cases: dict[str, GoldenCase]) -> None:
    name, case = next(iter(sorted(fresh_cases.items())))
    tampered = GoldenCase(case.config, dict(case.inputs), dict(case.weights), dict(case.outputs))
    key = next(iter(tampered.outputs))
    tampered.outputs[key] = np.asarray(tampered.outputs[key]) + 1e-4
    problems = compare_case(name, tampered, case)
    assert any(key in line for line in problems)
