"""Notebooks cell by cell: magics protected, outputs/metadata/markdown kept, indentation kept."""

from __future__ import annotations

import json
from pathlib import Path

from migrate.cli import main


def _nb(cells: list[dict]) -> dict:
    return {"cells": cells, "metadata": {"kernelspec": {"name": "python3"}}, "nbformat": 4, "nbformat_minor": 5}


def _code(src: list[str] | str, outputs: list | None = None) -> dict:
    return {"cell_type": "code", "execution_count": 3, "metadata": {"tags": ["x"]},
            "outputs": outputs or [], "source": src}


CELLS = [
    {"cell_type": "markdown", "metadata": {}, "source": ["# Title with K.dot(x) in prose\n"]},
    _code(["%matplotlib inline\n", "from keras import backend as K\n", "!pip install foo\n",
           "files = !ls\n", "import numpy as np"]),
    _code(["y = K.concatenate([a, b])\n", "K.concatenate?\n", "if y is not None:\n", "    %time z = 1"],
          outputs=[{"output_type": "stream", "name": "stdout", "text": ["hello\n"]}]),
    _code("%%bash\necho K.dot\n"),
    _code("z = K.sum(y, axis=1)"),
]


def test_notebook_rewrite(tmp_path: Path) -> None:
    path = tmp_path / "n.ipynb"
    original = json.dumps(_nb(CELLS), indent=1, ensure_ascii=False) + "\n"
    path.write_text(original)
    assert main(["rewrite", str(path)]) == 0
    nb = json.loads(path.read_text())
    cells = nb["cells"]
    assert cells[0] == CELLS[0]
    assert cells[1]["source"][0] == "%matplotlib inline\n" and "!pip install foo\n" in cells[1]["source"]
    assert "files = !ls\n" in cells[1]["source"]
    src2 = "".join(cells[2]["source"])
    assert "ops.concatenate([a, b], axis=-1)" in src2 and "K.concatenate?" in src2 and "    %time z = 1" in src2
    assert src2.startswith("from keras import ops\n")
    assert cells[2]["outputs"] == CELLS[2]["outputs"] and cells[2]["metadata"] == {"tags": ["x"]}
    assert cells[3] == CELLS[3]
    assert cells[4]["source"] == "z = ops.sum(y, axis=1)"  # import already added in an earlier cell
    assert nb["metadata"] == {"kernelspec": {"name": "python3"}}
    assert path.read_text().startswith('{\n "cells": [\n  {')  # indent=1 kept
    assert main(["rewrite", str(path)]) == 0
    assert json.loads(path.read_text()) == nb  # idempotent


def test_unchanged_notebook_is_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "m.ipynb"
    data = json.dumps(_nb([_code("import keras\n")]), indent=2)
    path.write_text(data)
    assert main(["rewrite", str(path)]) == 0
    assert path.read_text() == data


def test_bad_notebooks_reported(tmp_path: Path, capsys) -> None:
    (tmp_path / "bad.ipynb").write_text("{not json")
    (tmp_path / "cell.ipynb").write_text(json.dumps(_nb([_code("def f(:\n")])))
    assert main(["rewrite", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert "not valid notebook JSON" in err and "cell 1, line 1" in err


def test_alias_kept_when_a_later_cell_still_needs_it(tmp_path: Path) -> None:
    path = tmp_path / "k.ipynb"
    cells = [_code("from keras import backend as K\n"), _code("y = K.sum(x)\n"), _code("f = K.function([a], [b])\n")]
    path.write_text(json.dumps(_nb(cells), indent=1))
    assert main(["rewrite", str(path)]) == 1  # K.function needs a human
    nb = json.loads(path.read_text())
    assert "from keras import backend as K" in "".join(nb["cells"][0]["source"])
    assert "ops.sum(x)" in "".join(nb["cells"][1]["source"])
