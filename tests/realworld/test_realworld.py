"""Published legacy libraries, end to end (issue 12): oracle, rewrite, Keras 3, equal.

One test per case of ``cases.CASES``. The whole suite runs once per session (the
libraries in parallel subprocesses, see ``harness``); each test then checks its row:
built from the rewritten library on Keras 3, loaded with the legacy weights, within
1e-5 of the legacy oracle, trained one step, and reloaded from ``.keras`` with no
``custom_objects`` and ``safe_mode=True`` to the same predictions.

A row that is known to stay red is an ``xfail(strict=True)`` whose reason is the exact
error and why; when a fix turns it green the strict xfail fails, so the list cannot go
stale. The same rows are printed by ``python -m tests.realworld.table``.
"""

from __future__ import annotations

import pytest

from tests.realworld.cases import CASES, Case
from tests.realworld.harness import Row, missing, run, table

pytestmark = [pytest.mark.slow, pytest.mark.skipif(missing() is not None, reason=str(missing()))]

# case key -> why it is still red (kept in step with benchmarks/README.md).
KNOWN_RED: dict[str, str] = {}


@pytest.fixture(scope="session")
def rows(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Row]:
    result = run(tmp_path_factory.mktemp("realworld"), jobs=2)
    print("\n" + table(result))
    return {f"{row.library}:{row.model}": row for row in result}


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
