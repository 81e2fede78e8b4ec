"""Published legacy libraries, end to end (issue 12): oracle, rewrite, Keras 3, equal.

One test per case of ``cases.CASES``. The whole suite runs once per session (the
libraries in parallel subprocesses, see ``harness``); each test then checks its row:
built from the rewritten library on Keras 3, loaded with the legacy weights, within
1e-5 of the legacy oracle, trained one step, and reloaded from ``.keras`` with no
``custom_objects`` and ``safe_mode=True`` to the same predictions. Every case also goes
through the user-facing command, ``migrate verify --batch`` (``case_program.py`` as the
program, the unmodified and the rewritten library copies as OLD's and NEW's paths), and
must verify equal.

The backend-neutral libraries (``harness.BACKEND_NEUTRAL``) are also run on jax and torch
against the same oracle, one process per backend, after the TensorFlow rows.

A row that is known to stay red is an ``xfail(strict=True)`` whose reason is the exact
error and why; when a fix turns it green the strict xfail fails, so the list cannot go
stale. The same rows are printed by ``python -m tests.realworld.table``.
"""

from __future__ import annotations

import pytest

from pathlib import Path
from typing import Any

from tests.realworld.cases import CASES, Case
from tests.realworld.harness import BACKEND_NEUTRAL, Row, missing, modern_on_backends, run, table

pytestmark = [pytest.mark.slow, pytest.mark.skipif(missing() is not None, reason=str(missing()))]

# case key -> why it is still red (kept in step with benchmarks/README.md).
KNOWN_RED: dict[str, str] = {}


@pytest.fixture(scope="session")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("realworld")


@pytest.fixture(scope="session")
def rows(work: Path) -> dict[str, Row]:
    result = run(work, jobs=2)
    print("\n" + table(result))
    return {f"{row.library}:{row.model}": row for row in result}


@pytest.fixture(scope="session")
def backend_records(work: Path, rows: dict[str, Row]) -> dict[str, dict[str, Any]]:
    return modern_on_backends(work)


# "<backend>:<case key>" -> why it is still red on that backend (TensorFlow passes).
KNOWN_RED_ON_BACKENDS: dict[str, str] = {}


@pytest.mark.parametrize("case", CASES, ids=[case.key for case in CASES])
def test_case(case: Case, rows: dict[str, Row], request: pytest.FixtureRequest) -> None:
    if case.key in KNOWN_RED:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_RED[case.key], strict=True))
    row = rows[case.key]
    record = row.record
    assert "error" not in record, f"{record.get('failed_stage')}: {record.get('error')}"
    assert record["max_diff"] <= 1e-5, f"max diff {record['max_diff']:.2e} against the legacy oracle"
    assert record["fit"], "non-finite predictions after one training step"
    assert record["roundtrip_diff"] <= 1e-5, f".keras round trip changed predictions by {record['roundtrip_diff']:.2e}"


@pytest.mark.parametrize("case", CASES, ids=[case.key for case in CASES])
def test_case_through_migrate_verify(case: Case, rows: dict[str, Row]) -> None:
    """The same case as a user checks a program on the library: ``migrate verify --batch`` (one
    command for all cases) builds it on tf_keras with the library as published and on Keras 3
    with the rewritten copy, transfers the weights and compares on the oracle's batch."""
    verify = rows[case.key].verify
    assert "error" not in verify, verify["error"]
    assert verify["ok"] and verify["max_abs_diff"] <= 1e-5, (
        f"max abs diff {verify['max_abs_diff']:.2e}; first differing layer: {verify['first_differing_layer']}")
    # Functional models all: the command also compared them layer by layer.
    assert verify["layers"] and all(layer["max_abs_diff"] is not None and layer["max_abs_diff"] <= 1e-5
                                    for layer in verify["layers"]), verify["layers"]


BACKEND_CASES = [(backend, case) for backend in ("jax", "torch") for case in CASES if case.library in BACKEND_NEUTRAL]


@pytest.mark.parametrize(("backend", "case"), BACKEND_CASES, ids=[f"{b}:{c.key}" for b, c in BACKEND_CASES])
def test_case_on_backend(backend: str, case: Case, backend_records: dict[str, dict[str, Any]],
                         request: pytest.FixtureRequest) -> None:
    """The same row on jax and torch: the rewritten library is backend-neutral (``keras.ops``)."""
    key = f"{backend}:{case.key}"
    if key in KNOWN_RED_ON_BACKENDS:
        request.applymarker(pytest.mark.xfail(reason=KNOWN_RED_ON_BACKENDS[key], strict=True))
    record = backend_records[key]
    assert "error" not in record, f"{record.get('failed_stage')}: {record.get('error')}"
    assert record["max_diff"] <= 1e-5, f"max diff {record['max_diff']:.2e} against the legacy oracle"
    assert record["fit"], "non-finite predictions after one training step"
    assert record["roundtrip_diff"] <= 1e-5, f".keras round trip changed predictions by {record['roundtrip_diff']:.2e}"
