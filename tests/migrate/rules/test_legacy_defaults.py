"""The table of silent changes (migrate/rewrite/legacy_defaults.py), row by row, on both runtimes.

Every row's probe (tests/migrate/rules/legacy_default_probes.py) runs on tf_keras 2.21 in one
subprocess started with ``TF_USE_LEGACY_KERAS=1`` (as legacy code runs) and on Keras 3 in
this process; the results must be the table's ``tf_keras2`` and ``keras3`` columns. The
Keras 2.2 column, which no installed runtime reproduces, is checked against what the rules
pin (the rule modules' own tests compute the 2.2.4 formulas in numpy where a rule needs it).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from migrate.rewrite import catalog, legacy_defaults
from migrate.rewrite.legacy_defaults import LOUD, PINNED, REPORTED, ROWS, SAME, LegacyDefault
from tests.migrate.rules import legacy_default_probes

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def results() -> tuple[dict[str, str], dict[str, str]]:
    """(tf_keras results, Keras 3 results): the tf_keras subprocess runs while Keras 3 probes here."""
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3", CUDA_VISIBLE_DEVICES="",
               PYTHONPATH=str(ROOT))
    child = subprocess.Popen([sys.executable, "-m", "tests.migrate.rules.legacy_default_probes"], cwd=ROOT,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        import keras

        keras3 = legacy_default_probes.run_all(keras)
        out, err = child.communicate(timeout=600)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    lines = [line for line in out.splitlines() if line.startswith("PROBES ")]
    assert child.returncode == 0 and lines, err[-3000:]
    return json.loads(lines[-1][len("PROBES "):]), keras3


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_row_on_both_runtimes(row: LegacyDefault, results: tuple[dict[str, str], dict[str, str]]) -> None:
    tf_keras_results, keras3_results = results
    assert tf_keras_results[row.probe] == row.tf_keras2, f"{row.id}: tf_keras measured {tf_keras_results[row.probe]!r}"
    assert keras3_results[row.probe] == row.keras3, f"{row.id}: Keras 3 measured {keras3_results[row.probe]!r}"


def test_rows_and_probes_match() -> None:
    assert sorted(r.probe for r in ROWS) == sorted(legacy_default_probes.PROBES)
    assert len({r.id for r in ROWS}) == len(ROWS)


@pytest.mark.parametrize("row", ROWS, ids=lambda r: r.id)
def test_handling_is_consistent(row: LegacyDefault) -> None:
    assert row.handling in (PINNED, REPORTED, SAME, LOUD)
    for rule in row.rules:
        assert rule in catalog.RULES_BY_ID, (row.id, rule)
    if row.handling == SAME:
        assert not row.rules, row.id
    else:  # a change: Keras 3 differs from one of the legacy columns, and a rule answers for it
        assert row.rules and (row.keras3 != row.keras22 or row.keras3 != row.tf_keras2), row.id


def test_every_km6_rule_has_a_row() -> None:
    km6 = {r.id for r in catalog.RULES if r.id.startswith("KM6")}
    assert km6 and km6 <= {rule for row in ROWS for rule in row.rules}


def test_doc_is_the_rendered_table() -> None:
    assert legacy_defaults.DOC_PATH.read_text(encoding="utf-8") == legacy_defaults.render_markdown(), (
        "run: python -m migrate.rewrite.legacy_defaults")


# ---- the Keras 2.2 column against what the rules pin --------------------------------------


def _row(row_id: str) -> LegacyDefault:
    return legacy_defaults.ROWS_BY_ID[row_id]


def test_keras22_recurrent_pins() -> None:
    from migrate.rewrite.tables import KERAS22_RNN_DEFAULTS

    assert dict(KERAS22_RNN_DEFAULTS["GRU"])["reset_after"] == _row("gru-reset-after").keras22
    for layer in ("LSTM", "GRU", "ConvLSTM2D"):
        assert dict(KERAS22_RNN_DEFAULTS[layer])["recurrent_activation"] == "compat.legacy_hard_sigmoid"


def test_keras22_gru_bias_shape_is_what_the_pin_builds() -> None:
    import keras

    layer = keras.layers.GRU(4, reset_after=False)
    layer(np.zeros((1, 2, 3), "float32"))
    bias = [w for w in layer.weights if w.name == "bias"]
    assert str(tuple(bias[0].shape)) == _row("gru-bias-shape").keras22


def test_keras22_hard_sigmoid_is_what_the_pin_computes() -> None:
    from keras import ops

    from modern import compat

    value = float(ops.convert_to_numpy(compat.legacy_hard_sigmoid(np.array([1.0], "float32")))[0])
    assert f"{value:.6g}" == _row("hard-sigmoid").keras22 == _row("hard-sigmoid").tf_keras2


def test_keras22_optimizer_pins() -> None:
    from migrate.rewrite.rules.optimizer_defaults import TF_KERAS2_LR_DEFAULTS
    from migrate.rewrite.rules.optimizer_lr import KERAS22_LR_DEFAULTS
    from migrate.rewrite.tables import KERAS22_ADAGRAD_ACCUMULATOR

    for name in ("Adadelta", "Adagrad", "Adamax", "Nadam"):
        assert float(KERAS22_LR_DEFAULTS[name]) == float(_row(f"{name.lower()}-lr").keras22), name
    assert float(KERAS22_ADAGRAD_ACCUMULATOR) == float(_row("adagrad-accumulator").keras22)
    assert float(TF_KERAS2_LR_DEFAULTS["Lion"]) == float(_row("lion-lr").tf_keras2)


def test_keras2_l1_l2_pin() -> None:
    from migrate.rewrite.rules.regularizer_defaults import KERAS2_L1_L2

    assert ", ".join(value for _, value in KERAS2_L1_L2) == _row("l1-l2-defaults").keras22


def test_rendered_table_lists_every_row() -> None:
    text = legacy_defaults.render_markdown()
    for row in ROWS:
        assert f"| {row.id} |" in text
