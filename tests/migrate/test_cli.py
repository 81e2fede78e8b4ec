"""migrate rewrite / migrate rules: modes, selection, report, exit codes, robustness."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from migrate.cli import main
from migrate.rewrite import engine

LEGACY = "from keras import backend as K\ny = K.concatenate([a, b])\n"
NEEDS_HUMAN = "from keras import backend as K\nf = K.function([a], [b])\n"
MODERN = "import keras\nx = keras.layers.Dense(2)\n"


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "a.py").write_text(LEGACY)
    (tmp_path / "pkg" / "b.py").write_text(MODERN)
    (tmp_path / "pkg" / "notes.txt").write_text("K.dot")
    return tmp_path


def test_in_place_and_summary(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rewrite", str(tree), "-j", "1"]) == 0
    assert "ops.concatenate([a, b], axis=-1)" in (tree / "pkg" / "a.py").read_text()
    assert (tree / "pkg" / "b.py").read_text() == MODERN
    err = capsys.readouterr().err
    assert "1 file changed, 1 unchanged, 0 failed; 1 finding (1 fixed, 0 need review)" in err
    assert main(["rewrite", str(tree), "-j", "1"]) == 0  # idempotent on disk
    assert "0 files changed" in capsys.readouterr().err


def test_diff_writes_nothing(tree: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rewrite", "--diff", str(tree)]) == 0
    out = capsys.readouterr().out
    assert "+y = ops.concatenate([a, b], axis=-1)" in out and out.startswith("--- a/")
    assert (tree / "pkg" / "a.py").read_text() == LEGACY


def test_check_exit_code(tree: Path) -> None:
    assert main(["rewrite", "--check", str(tree)]) == 1
    assert (tree / "pkg" / "a.py").read_text() == LEGACY
    assert main(["rewrite", "--check", str(tree / "pkg" / "b.py")]) == 0


def test_output_file_and_tree(tree: Path) -> None:
    out_file = tree / "out.py"
    assert main(["rewrite", str(tree / "pkg" / "a.py"), "-o", str(out_file)]) == 0
    assert "ops.concatenate" in out_file.read_text()
    assert (tree / "pkg" / "a.py").read_text() == LEGACY
    out_dir = tree / "mirror"
    assert main(["rewrite", str(tree / "pkg"), "-o", str(out_dir), "-j", "2"]) == 0
    assert "ops.concatenate" in (out_dir / "a.py").read_text()
    assert (out_dir / "b.py").read_text() == MODERN
    assert (tree / "pkg" / "a.py").read_text() == LEGACY


def test_select_ignore(tree: Path) -> None:
    assert main(["rewrite", str(tree), "--select", "KM1"]) == 0
    assert (tree / "pkg" / "a.py").read_text() == LEGACY
    assert main(["rewrite", str(tree), "--ignore", "KM202"]) == 0
    assert (tree / "pkg" / "a.py").read_text() == LEGACY
    assert main(["rewrite", str(tree), "--select", "KM999"]) == 2


def test_report_and_findings_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "h.py"
    f.write_text(NEEDS_HUMAN + LEGACY.split("\n", 1)[1])
    report = tmp_path / "r.json"
    assert main(["rewrite", str(f), "--report", str(report), "--todo-comments"]) == 1
    data = json.loads(report.read_text())
    kinds = {(x["rule"], x["fixed"], x["tier"]) for x in data["findings"]}
    assert ("KM209", False, "unsafe") in kinds and ("KM202", True, "safe") in kinds
    assert all({"path", "line", "column", "message", "safe"} <= set(x) for x in data["findings"])
    assert "# TODO(migrate KM209)" in f.read_text()
    assert f"{f}:2:5: KM209" in capsys.readouterr().out


def test_rules_listing(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["rules"]) == 0
    out = capsys.readouterr().out
    assert "KM204  safe" in out and "KM501  unsafe" in out
    assert main(["rules", "--json"]) == 0
    assert len(json.loads(capsys.readouterr().out)) > 25


# -- robustness -------------------------------------------------------------------------


def test_bad_inputs_reported_and_untouched(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "broken.py"
    broken.write_bytes(b"from keras import backend as K\ndef f(:\n")
    latin = tmp_path / "latin.py"
    latin.write_bytes(b"x = '\xe9'\nfrom keras import backend as K\n")
    empty = tmp_path / "empty.py"
    empty.write_bytes(b"")
    good = tmp_path / "good.py"
    good.write_text(LEGACY)
    before = {p: p.read_bytes() for p in (broken, latin, empty)}
    assert main(["rewrite", str(tmp_path), "-j", "1"]) == 2
    err = capsys.readouterr().err
    assert "broken.py: error: line 2" in err and "does not parse" in err
    assert "latin.py: error: cannot decode" in err and "UTF-8" in err
    assert "1 file changed, 1 unchanged, 2 failed" in err
    for p, data in before.items():
        assert p.read_bytes() == data
    assert "ops.concatenate" in good.read_text()
    assert main(["rewrite", str(tmp_path / "missing.py")]) == 2


def test_coding_cookie_respected(tmp_path: Path) -> None:
    f = tmp_path / "l1.py"
    f.write_bytes(b"# -*- coding: latin-1 -*-\nx = '\xe9'\n" + LEGACY.encode())
    assert main(["rewrite", str(f)]) == 0
    data = f.read_bytes()
    assert b"x = '\xe9'" in data and b"ops.concatenate" in data


def test_read_only_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "ro.py"
    f.write_text(LEGACY)
    f.chmod(0o444)
    try:
        assert main(["rewrite", str(f)]) == 2
        assert "read-only" in capsys.readouterr().err
        assert f.read_text() == LEGACY
    finally:
        f.chmod(0o644)


def test_read_only_file_detected_even_as_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    f = tmp_path / "ro.py"
    f.write_text(LEGACY)
    monkeypatch.setattr(engine.os, "access", lambda p, m: False)
    assert main(["rewrite", str(f)]) == 2
    assert "read-only; make it writable or use -o" in capsys.readouterr().err
    assert f.read_text() == LEGACY


def test_interrupted_run_leaves_no_partial_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = [tmp_path / f"m{i}.py" for i in range(4)]
    for f in files:
        f.write_text(LEGACY)
    real_replace = os.replace
    calls = {"n": 0}

    def flaky_replace(src: str, dst: str) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        real_replace(src, dst)

    monkeypatch.setattr(engine.os, "replace", flaky_replace)
    assert main(["rewrite", str(tmp_path), "-j", "1"]) == 130
    contents = [f.read_text() for f in files]
    assert all(c == LEGACY or "ops.concatenate" in c for c in contents)
    assert contents.count(LEGACY) >= 2
    assert not [p for p in tmp_path.iterdir() if "migrate-tmp" in p.name]


def test_file_mode_preserved(tmp_path: Path) -> None:
    f = tmp_path / "x.py"
    f.write_text(LEGACY)
    f.chmod(0o750)
    assert main(["rewrite", str(f)]) == 0
    assert (f.stat().st_mode & 0o777) == 0o750


def test_startup_imports_neither_tensorflow_nor_keras_nor_libcst() -> None:
    code = ("import sys; from migrate.cli import build_parser, main; main(['rules']);"
            "bad = [m for m in ('tensorflow', 'keras', 'libcst', 'tf_keras') if m in sys.modules];"
            "print('BAD', bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "BAD []" in out
