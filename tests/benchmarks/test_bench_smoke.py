"""Smoke test of the benchmarks: each main function runs at its smallest sizes and prints its figures.

Nothing here asserts a timing (DESIGN.md section 7): only that the tables and
the ratio, goal and memory lines are printed, with numbers in them.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import tempfile
from pathlib import Path
from types import ModuleType

import pytest

BENCHMARKS = Path(__file__).resolve().parents[2] / "benchmarks"
NUMBER = r"\d+(?:\.\d+)?"


def load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"_bench_{name}", BENCHMARKS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_bench_modern_prints_its_figures(capsys: pytest.CaptureFixture[str]) -> None:
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the smoke test times the modern side on the default TensorFlow backend")
    bench = load("bench_modern")
    rows = bench.main(["--quick"])
    out = capsys.readouterr().out

    assert out.startswith("command: python benchmarks/bench_modern.py --quick")
    assert rows and all(row.samples for row in rows)
    for model in ("classifier", "seq2seq"):
        for phase in ("inference", "train step"):
            assert re.search(rf"^RATIO {model} {phase}: {NUMBER}x  modern \[", out, re.M), (model, phase, out)
            assert re.search(rf"^GOAL {model} {phase}: default modern {NUMBER}x", out, re.M), (model, phase, out)
            assert re.search(rf"^CEILING {model} {phase}: {NUMBER}x \(on min times {NUMBER}x\)", out, re.M), (
                model, phase, out)
    assert re.search(r"^GOAL overall .*: (MET|NOT MET)$", out, re.M), out
    # The classifier comparison only runs once legacy and modern agree.
    assert re.search(r"classifier: legacy vs modern \[jit=auto\(->\w+\)\] max abs diff on the timed batch", out)


def test_ab_modern_parts_prints_the_kernel_figures(capsys: pytest.CaptureFixture[str]) -> None:
    import keras

    if keras.backend.backend() != "tensorflow":
        pytest.skip("the kernel A/B builds TensorFlow functions")
    load("ab_modern_parts").main(["--only", "kernels", "--reps", "1", "--inner", "1", "--warmup", "1"])
    out = capsys.readouterr().out

    assert "kernels: median (min) of 1 round-robin repetitions x 1 calls" in out
    for variant in ("keras.ops.dot_product_attention", "modern dot_product_attention", "EinsumDense",
                    "FlatMatmulEinsumDense", "keras.ops.argmax", "keras.ops.top_k(k=1)"):
        assert re.search(rf"kernel  {re.escape(variant)} +{NUMBER} \({NUMBER}\) ms$", out, re.M), (variant, out)


@pytest.mark.slow
def test_bench_port_prints_its_figures(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    bench = load("bench_port")
    result = bench.main(["--quick"])
    out = capsys.readouterr().out

    assert out.startswith("command: python benchmarks/bench_port.py --quick")
    assert "layout identical to tf_keras" in out
    assert re.search(rf"^RATIO port/copy throughput: {NUMBER}  \(goal >= 0\.5: (MET|NOT MET)\)$", out, re.M), out
    assert re.search(rf"^MEMORY \[pinned malloc\] port peak above interpreter baseline: {NUMBER} MiB = "
                     rf"{NUMBER}x the checkpoint", out, re.M), out
    assert re.search(rf"h5py dset\[\(\)\] \(the read\) +{NUMBER} MiB", out), out
    assert result["size"] > 0 and result["runs"]["pinned malloc"]["seconds"]
    # The generated checkpoint and everything else went with the temporary directory.
    assert not any(tmp_path.glob("bench_port_*"))


def test_bench_rewrite_prints_the_generated_and_real_library_rows(capsys: pytest.CaptureFixture[str]) -> None:
    bench = load("bench_rewrite")
    argv = ["--files", "3", "--repeat", "1", "--jobs", "1", "--no-tf-upgrade", "--real-files", "2"]
    figures = bench.main(argv)
    out = capsys.readouterr().out

    assert out.startswith("command: python benchmarks/bench_rewrite.py " + " ".join(argv))
    assert re.search(rf"^  ratio to parse-only: {NUMBER} \(goal >= 0\.5\)$", out, re.M), out
    assert re.search(rf"^migrate --help start-up: {NUMBER} ms", out, re.M), out
    from tests.realworld import harness

    if not all(lib.dist_info.is_dir() for lib in harness.libraries()):
        assert re.search(r"^real libraries      : .*(absent|not installed)", out, re.M), out
        pytest.skip(f"the real libraries are not installed in {harness.INSTALLED}; the row said why")
    # Two files of the installed libraries, as the real-world suite copies them.
    assert re.search(r"^real libraries \(\d+ libraries, \d+ packages; first 2 of \d+ files \(--real-files\)\): "
                     r"2 files, \d+ lines", out, re.M), out
    for what in ("libcst parse-only", "migrate rewrite  "):
        assert re.search(rf"^real libraries, {what}: +{NUMBER} lines/s", out, re.M), (what, out)
    assert re.search(rf"^  real libraries, ratio to parse-only: {NUMBER}$", out, re.M), out
    assert figures["real_lines"] > 0 and figures["real_migrate_s"] > 0


def test_bench_rewrite_real_row_says_why_when_the_libraries_are_absent(tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.realworld import harness

    bench = load("bench_rewrite")
    monkeypatch.setattr(harness, "INSTALLED", tmp_path / "realworld")
    assert bench.real_library_tree(tmp_path / "copy") == (
        f"{tmp_path / 'realworld'} is absent (./dev installs the libraries there)")
    (tmp_path / "realworld").mkdir()
    reason = bench.real_library_tree(tmp_path / "copy")
    assert isinstance(reason, str) and reason.startswith(f"not installed in {tmp_path / 'realworld'}: ")
    assert "keras-bert==" in reason
    assert not (tmp_path / "copy").exists()
