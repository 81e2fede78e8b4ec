"""migrate check / doctor: files, trees, notebooks, --select/--ignore, --report, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrate.cli import main

LOGITS = """import keras
model = keras.Sequential([keras.layers.Dense(10)])
model.compile(loss="sparse_categorical_crossentropy", metrics=["binary_accuracy"])
"""
CLEAN = """import keras
model = keras.Sequential([keras.layers.Dense(10)])
model.compile(loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
"""


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "bad.py").write_text(LOGITS)
    (tmp_path / "pkg" / "good.py").write_text(CLEAN)
    return tmp_path


def test_findings_exit_1_with_file_and_line(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(tree)]) == 1
    out, err = capsys.readouterr()
    bad = tree / "pkg" / "bad.py"
    line = LOGITS.splitlines()[2]
    loss_col, metric_col = line.index('"sparse') + 1, line.index('"binary_accuracy') + 1
    assert f"{bad}:3:{loss_col}: KC101 logits fed to 'sparse_categorical_crossentropy'" in out
    assert f"{bad}:3:{metric_col}: KC105" in out
    assert "good.py" not in out
    assert "2 files checked, 0 failed; 2 findings" in err


def test_clean_exit_0_and_doctor_alias(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["doctor", str(tree / "pkg" / "good.py")]) == 0
    out, err = capsys.readouterr()
    assert out == "" and "1 file checked, 0 failed; 0 findings" in err


def test_select_and_ignore(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--select", "KC105", "--", str(tree)]) == 1
    out = capsys.readouterr().out
    assert "KC105" in out and "KC101" not in out
    assert main(["check", "--ignore", "KC101,KC105", "--", str(tree)]) == 0
    assert main(["check", "--select", "KC1", "--ignore", "KC10", "--", str(tree)]) == 0
    capsys.readouterr()
    assert main(["check", "--select", "KM201", "--", str(tree)]) == 2
    assert "unknown rule id or prefix 'KM201'; see `migrate check --list`" in capsys.readouterr().err


def test_report_json(tree: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.json"
    assert main(["check", "-q", "--report", str(report), str(tree)]) == 1
    data = json.loads(report.read_text())
    assert {f["rule"] for f in data["findings"]} == {"KC101", "KC105"}
    assert all(f["line"] == 3 and f["fixed"] is False and f["tier"] == "unsafe" for f in data["findings"])
    assert sorted(f["status"] for f in data["files"]) == ["checked", "checked"]


def test_unparseable_file_named_with_its_line_others_checked(tree: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    broken = tree / "pkg" / "broken.py"
    broken.write_text("import keras\n\ndef f(:\n    pass\n")
    assert main(["check", str(tree)]) == 2
    out, err = capsys.readouterr()
    errors = [line for line in err.splitlines() if "error" in line]
    assert errors == [f"{broken}:3: error: does not parse (invalid syntax); fix the syntax to check it"]
    assert "bad.py:3:20: KC101" in out  # the other files were still checked
    assert "3 files checked" not in err and "2 files checked, 1 failed; 2 findings" in err
    assert main(["check", str(tree / "missing.py")]) == 2


def test_notebook_cells_joined_and_placed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The loss is built in one cell and used in another; the finding names the cell and its line."""
    cells = [
        {"cell_type": "code", "source": ["import keras\n", "%matplotlib inline\n"], "metadata": {}, "outputs": []},
        {"cell_type": "markdown", "source": "# model", "metadata": {}},
        {"cell_type": "code", "source": "loss = keras.losses.BinaryCrossentropy(from_logits=True)\n",
         "metadata": {}, "outputs": []},
        {"cell_type": "code", "source": ["m = keras.Sequential([keras.layers.Dense(1, activation='sigmoid')])\n",
                                         "m.compile(loss=loss)\n"], "metadata": {}, "outputs": []},
    ]
    nb = tmp_path / "nb.ipynb"
    nb.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert main(["check", str(nb)]) == 1
    assert f"{nb}[cell 4]:2:16: KC101 sigmoid probabilities" in capsys.readouterr().out


def test_list(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--list"]) == 0
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines()] == ["KC101", "KC102", "KC103", "KC104", "KC105"]


def test_notebook_that_does_not_parse(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cells = [{"cell_type": "code", "source": "import keras\n", "metadata": {}, "outputs": []},
             {"cell_type": "code", "source": "x = (1,\n", "metadata": {}, "outputs": []}]
    nb = tmp_path / "nb.ipynb"
    nb.write_text(json.dumps({"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    assert main(["check", str(nb)]) == 2
    errors = [line for line in capsys.readouterr().err.splitlines() if "error" in line]
    assert len(errors) == 1 and errors[0].startswith(f"{nb}: error: cell 2, line 1: does not parse")
