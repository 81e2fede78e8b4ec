"""``migrate port`` against hostile and unlucky input (issue 10).

Each case is built small inside the test: a file that declares gigabytes
but stores kilobytes, hard links that make exponentially many paths, a
garbled CheckpointManager state file, OUT paths that cannot be written or
are SOURCE itself, user code that calls ``sys.exit``, signals and a race on
OUT. Every failure must be exit 2 (or 128 + the signal) with one
``migrate port: error:`` line, leave nothing at OUT and no temporary file
beside it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

from migrate.cli import main
from migrate.port_cli import parse_size
from migrate.weights import h5 as h5_reader
from migrate.weights.errors import PortError
from migrate.weights.writer import StagedFile

ROOT = Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures"
LEGACY = FIXTURES / "legacy"
MODEL_H5 = LEGACY / "keras22_classifier.model.h5"
WEIGHTS_H5 = LEGACY / "keras22_classifier_weights.h5"
BUILTIN_H5 = LEGACY / "tfkeras_builtin.model.h5"
TUTORIAL_CKPT = LEGACY / "tutorial_ckpt"
FACTORIES = FIXTURES / "port_models.py"
MODERN_FACTORIES = ROOT / "examples" / "modern_factories.py"
MIGRATE = [sys.executable, "-c", "import sys; from migrate.cli import main; sys.exit(main())"]


def port(*args: object) -> int:
    return main(["port", *map(str, args)])


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    lines = [line for line in err if line.startswith("migrate port: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in "\n".join(err)
    return lines[0]


def assert_clean(directory: Path, *keep: Path) -> None:
    """Nothing but ``keep`` in ``directory``: no OUT, no hidden temporary file."""
    left = sorted(p.name for p in directory.iterdir() if p not in keep)
    assert left == [], left


def _copy(tmp_path: Path, source: Path, name: str | None = None) -> Path:
    target = tmp_path / (name or source.name)
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy(source, target)
    return target


# -- 1. what a file may make us allocate --------------------------------------


def _replace_dataset(path: Path, name: str, **create: object) -> None:
    with h5py.File(path, "a") as f:
        del f[name]
        f.create_dataset(name, **create)


def test_unwritten_chunks_declaring_a_gigabyte_are_refused_before_any_model_is_built(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The issue's memory bomb: a huge Embedding in the config and a chunked
    dataset of that size with no chunk written (a ~100 KB file)."""
    path = _copy(tmp_path, BUILTIN_H5)
    rows = 2**24  # 2**24 x 16 float32 = 1 GiB declared
    with h5py.File(path, "a") as f:
        config = json.loads(f.attrs["model_config"])
        for layer in config["config"]["layers"]:
            if layer["class_name"] == "Embedding":
                layer["config"]["input_dim"] = rows
        f.attrs["model_config"] = json.dumps(config)
    _replace_dataset(path, "model_weights/embed/embed/embeddings:0", shape=(rows, 16), dtype="float32",
                     chunks=(4096, 16))
    assert path.stat().st_size < 200_000
    out = tmp_path / "x.keras"
    started = time.perf_counter()
    assert port(path, "--to", out) == 2
    line = error_line(capsys)
    assert "embeddings:0" in line and "chunks" in line and "written" in line, line
    assert time.perf_counter() - started < 30
    assert_clean(tmp_path, path)


def test_partly_written_chunks_are_refused(tmp_path: Path) -> None:
    path = _copy(tmp_path, WEIGHTS_H5)
    name = "embedding/embedding/embeddings:0"
    _replace_dataset(path, name, shape=(50, 16), dtype="float32", chunks=(10, 16))
    with h5py.File(path, "a") as f:
        f[name][:20] = 1.0  # 2 of 5 chunks
    with pytest.raises(PortError, match=r"5 chunks but only 2 are written"):
        h5_reader.read_h5(path)


def test_decompression_bomb_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _copy(tmp_path, WEIGHTS_H5)
    # 16 MiB of zeros compress to ~16 KB: far beyond what trained weights do.
    _replace_dataset(path, "embedding/embedding/embeddings:0", data=np.zeros((2**18, 16), "float32"),
                     chunks=(2**14, 16), compression="gzip", compression_opts=9)
    out = tmp_path / "x.keras"
    assert port(path, "--to", out, "--dry-run") == 2
    line = error_line(capsys)
    assert "embeddings:0" in line and "decompression bomb" in line and "h5repack" in line, line


def test_oversized_chunks_of_a_small_dataset_are_refused(tmp_path: Path) -> None:
    """Reading decompresses whole chunks: a 50-row dataset in a 4 Mi-row chunk."""
    path = _copy(tmp_path, WEIGHTS_H5)
    name = "embedding/embedding/embeddings:0"
    _replace_dataset(path, name, shape=(50, 16), maxshape=(None, 16), dtype="float32",
                     chunks=(2**16, 16), compression="gzip")
    with h5py.File(path, "a") as f:
        f[name][:] = np.random.default_rng(0).standard_normal((50, 16))
    with pytest.raises(PortError, match="decompression bomb"):
        h5_reader.read_h5(path)


def test_a_genuine_compressed_file_still_ports(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Trained weights barely compress; a gzip-repacked legacy file ports as before."""
    path = tmp_path / "gzip.h5"
    with h5py.File(WEIGHTS_H5) as src, h5py.File(path, "w") as dst:
        for key, value in src.attrs.items():
            dst.attrs[key] = value

        def copy(name: str, item: object) -> None:
            if isinstance(item, h5py.Group):
                group = dst.require_group(name)
                for key, value in item.attrs.items():
                    group.attrs[key] = value
            elif isinstance(item, h5py.Dataset):
                dst.create_dataset(name, data=item[()], chunks=True if item.ndim else None,
                                   compression="gzip" if item.ndim else None)

        src.visititems(copy)
    out = tmp_path / "x.keras"
    assert port(path, "--to", out, "--model", f"{FACTORIES}:modern_classifier", "--map", "keras22") == 0, \
        capsys.readouterr().err
    assert out.exists()


def test_total_weight_limit_is_enforced_and_can_be_raised(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.keras"
    assert port(MODEL_H5, "--to", out, "--dry-run", "--max-weight-bytes", "1K") == 2
    line = error_line(capsys)
    assert "over the limit of 1024" in line and "--max-weight-bytes" in line, line
    assert port(MODEL_H5, "--dry-run", "--max-weight-bytes", "1M") == 0


def test_total_weight_limit_applies_to_tf_checkpoints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert port(TUTORIAL_CKPT, "--dry-run", "--model", f"{MODERN_FACTORIES}:seq2seq", "--map", "tutorial",
                "--max-weight-bytes", "10K") == 2
    line = error_line(capsys)
    assert "ckpt-2" in line and "over the limit" in line


@pytest.mark.parametrize(("text", "value"), [("1024", 1024), ("1K", 1024), ("8G", 8 << 30), ("1.5m", 3 << 19),
                                             ("2GiB", 2 << 30)])
def test_parse_size(text: str, value: int) -> None:
    assert parse_size(text) == value


def test_parse_size_rejects_garbage() -> None:
    with pytest.raises(Exception, match="not a size"):
        parse_size("lots")


# -- 2. the walk --------------------------------------------------------------


def test_hard_link_dag_is_walked_once_per_object(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """40 groups each holding two hard links to the next: 2**40 paths, 41 objects."""
    path = _copy(tmp_path, MODEL_H5)
    with h5py.File(path, "a") as f:
        groups = [f.create_group(f"dag/g{i}") for i in range(41)]
        groups[-1]["leaf"] = np.ones(3, "float32")
        for upper, lower in zip(groups, groups[1:]):
            upper["a"] = lower
            upper["b"] = lower
    started = time.perf_counter()
    with h5py.File(path, "r") as f:
        datasets = h5_reader._walk(path, f)
    assert time.perf_counter() - started < 5
    assert sum(name.endswith("/leaf") for name in datasets) == 1
    assert port(path, "--dry-run") == 0, capsys.readouterr().err


def test_deeply_nested_groups_do_not_exhaust_the_stack(tmp_path: Path) -> None:
    path = _copy(tmp_path, WEIGHTS_H5)
    with h5py.File(path, "a") as f:
        group = f.create_group("deep")
        for _ in range(3000):
            group = group.create_group("g")
    with h5py.File(path, "r") as f:
        h5_reader._walk(path, f)


# -- 3. tracebacks that were exit 1 --------------------------------------------


def test_garbage_checkpoint_state_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = _copy(tmp_path, TUTORIAL_CKPT)
    (ckpt / "checkpoint").write_bytes(bytes(range(256)) * 2)
    out = tmp_path / "x.keras"
    assert port(ckpt, "--to", out, "--model", f"{MODERN_FACTORIES}:seq2seq", "--map", "tutorial") == 2
    line = error_line(capsys)
    assert "checkpoint" in line and "state file" in line and "prefix" in line, line
    assert_clean(tmp_path, ckpt)


def test_out_in_a_directory_that_takes_no_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    started = time.perf_counter()
    assert port(MODEL_H5, "--to", "/proc/out.keras") == 2
    line = error_line(capsys)
    assert "/proc/out.keras" in line and "cannot create files" in line, line
    assert time.perf_counter() - started < 5, "OUT must be checked before the port's slow part"


def test_report_into_a_missing_directory_fails_up_front(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.keras"
    started = time.perf_counter()
    assert port(MODEL_H5, "--to", out, "--report", tmp_path / "missing" / "r.json") == 2
    line = error_line(capsys)
    assert "--report" in line and "does not exist" in line, line
    assert time.perf_counter() - started < 5
    assert_clean(tmp_path)


def test_report_that_is_a_directory_or_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.keras"
    assert port(MODEL_H5, "--to", out, "--report", tmp_path) == 2
    assert "is a directory" in error_line(capsys)
    source = _copy(tmp_path, MODEL_H5)
    assert port(source, "--to", out, "--report", source) == 2
    assert "source checkpoint itself" in error_line(capsys)
    assert_clean(tmp_path, source)


def test_report_failing_late_leaves_no_out(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    from migrate.weights import port as port_module

    def broken(request, *rest):
        raise PortError(request.report, "--report: cannot be written (disk full); nothing written")

    monkeypatch.setattr(port_module, "stage_report", broken)
    out = tmp_path / "x.keras"
    assert port(MODEL_H5, "--to", out, "--report", tmp_path / "r.json") == 2
    assert "disk full" in error_line(capsys)
    assert_clean(tmp_path)


def test_report_is_written_with_out(tmp_path: Path) -> None:
    out, report = tmp_path / "x.keras", tmp_path / "r.json"
    assert port(MODEL_H5, "--to", out, "--report", report) == 0
    assert json.loads(report.read_text())["out"] == str(out)
    assert_clean(tmp_path, out, report)


def test_multi_line_exception_texts_become_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    factory = tmp_path / "factory.py"
    factory.write_text("def build():\n    raise ValueError('first line\\n  second line\\n\\nthird')\n")
    out = tmp_path / "x.keras"
    assert port(WEIGHTS_H5, "--to", out, "--model", f"{factory}:build") == 2
    line = error_line(capsys)
    assert "first line second line third" in line
    assert PortError("a\nb", "x\n  y").args[0] == "a b: x y"


# -- 4. OUT is SOURCE -----------------------------------------------------------


@pytest.mark.parametrize("how", ["same_path", "dotdot", "symlink", "hardlink"])
def test_force_never_replaces_the_source(how: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # An HDF5 legacy file may carry any name, .keras included.
    source = _copy(tmp_path, MODEL_H5, "legacy.keras")
    before = source.read_bytes()
    if how == "same_path":
        out = source
    elif how == "dotdot":
        (tmp_path / "sub").mkdir()
        out = tmp_path / "sub" / ".." / "legacy.keras"
    elif how == "symlink":
        out = tmp_path / "link.keras"
        out.symlink_to(source)
    else:
        out = tmp_path / "hard.keras"
        os.link(source, out)
    assert port(source, "--to", out, "--force") == 2
    assert "source checkpoint itself" in error_line(capsys)
    assert source.read_bytes() == before


# -- 5. user code that exits -----------------------------------------------------


@pytest.mark.parametrize("where", ["factory", "import"])
def test_factory_calling_sys_exit(where: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    factory = tmp_path / "factory.py"
    body = "raise SystemExit(7)\n"
    factory.write_text((body if where == "import" else "") + "def build():\n    " + body)
    out = tmp_path / "x.keras"
    assert port(WEIGHTS_H5, "--to", out, "--model", f"{factory}:build") == 2
    line = error_line(capsys)
    assert "sys.exit(7)" in line and "factory.py" in line, line
    assert not out.exists()


# -- 6. signals and races ----------------------------------------------------------


def _signal_during_save(monkeypatch: pytest.MonkeyPatch, signum: int) -> None:
    """Make the next ``Model.save`` write its file, then receive ``signum``."""
    import keras

    original = keras.Model.save

    def save(self, filepath, *args, **kwargs):
        original(self, filepath, *args, **kwargs)
        assert Path(filepath).exists()  # the temporary file is there now
        os.kill(os.getpid(), signum)
        time.sleep(5)  # the handler interrupts this
        raise AssertionError("the signal did not interrupt the port")

    monkeypatch.setattr(keras.Model, "save", save)


@pytest.mark.parametrize(("name", "code"), [("SIGINT", 130), ("SIGTERM", 143), ("SIGHUP", 129)])
def test_signal_while_saving_removes_the_temporary_file(
    name: str, code: int, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    signum = getattr(signal, name)
    before = signal.getsignal(signum)
    _signal_during_save(monkeypatch, signum)
    out = tmp_path / "x.keras"
    assert port(MODEL_H5, "--to", out) == code
    line = error_line(capsys)
    assert f"interrupted by {name}" in line and "nothing written" in line, line
    assert_clean(tmp_path)
    assert signal.getsignal(signum) == before, "the CLI must restore the previous handler"


def test_sigterm_in_a_real_process(tmp_path: Path) -> None:
    """A separate process, signalled from outside while it saves."""
    hook = tmp_path / "slow_save.py"
    hook.write_text(
        "import time\nimport keras\n"
        "from pathlib import Path\n"
        "_save = keras.Model.save\n"
        "def save(self, filepath, *a, **k):\n"
        "    _save(self, filepath, *a, **k)\n"
        "    Path(str(filepath) + '.saved').with_name('saved.flag').write_text('x')\n"
        "    time.sleep(60)\n"
        "keras.Model.save = save\n"
        "def build():\n"
        "    import sys\n"
        f"    sys.path.insert(0, {str(FIXTURES)!r})\n"
        "    import port_models\n"
        "    return port_models.modern_classifier()\n"
    )
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    out = out_dir / "x.keras"
    proc = subprocess.Popen([*MIGRATE, "port", str(WEIGHTS_H5), "--to", str(out), "--model", f"{hook}:build",
                             "--map", "keras22"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    flag = out_dir / "saved.flag"
    deadline = time.monotonic() + 240
    while not flag.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.2)
    assert flag.exists(), proc.communicate()
    flag.unlink()
    assert [p.name for p in out_dir.iterdir() if p.name.startswith(".x.")], "the temporary file should exist now"
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    assert stderr.strip().splitlines() == [f"migrate port: error: interrupted by SIGTERM; temporary files removed, "
                                           f"nothing written at {out}"], stderr
    assert_clean(out_dir)


def test_out_created_meanwhile_is_kept(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The "kept unless --force" check holds at the moment OUT is put in place."""
    original = StagedFile.commit

    def racing_commit(self: StagedFile) -> None:
        self.out.write_bytes(b"the other port's file")
        original(self)

    monkeypatch.setattr(StagedFile, "commit", racing_commit)
    out = tmp_path / "x.keras"
    assert port(MODEL_H5, "--to", out) == 2
    assert "created by someone else" in error_line(capsys)
    assert out.read_bytes() == b"the other port's file"
    assert_clean(tmp_path, out)


def test_two_ports_to_one_out_at_once(tmp_path: Path) -> None:
    out = tmp_path / "x.keras"
    command = [*MIGRATE, "port", str(MODEL_H5), "--to", str(out)]
    procs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
             for _ in range(2)]
    results = [(p.wait(timeout=300), p.stderr.read()) for p in procs]  # type: ignore[union-attr]
    assert sorted(code for code, _ in results) == [0, 2], results
    loser = next(err for code, err in results if code == 2)
    assert len(loser.strip().splitlines()) == 1 and ("exists" in loser or "someone else" in loser), loser
    assert_clean(tmp_path, out)


# -- 7. permissions ------------------------------------------------------------------


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)])
def test_out_gets_the_users_umask(umask: int, mode: int, tmp_path: Path) -> None:
    out, report = tmp_path / "x.keras", tmp_path / "r.json"
    previous = os.umask(umask)
    try:
        assert port(MODEL_H5, "--to", out, "--report", report) == 0
    finally:
        os.umask(previous)
    assert out.stat().st_mode & 0o777 == mode
    assert report.stat().st_mode & 0o777 == mode


# -- 8. noise -----------------------------------------------------------------------


def test_a_port_prints_no_tensorflow_start_up_noise(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k not in ("TF_CPP_MIN_LOG_LEVEL", "PYTHONWARNINGS")}
    out = tmp_path / "x.keras"
    done = subprocess.run([*MIGRATE, "port", str(MODEL_H5), "--to", str(out)], capture_output=True, text=True,
                          cwd=ROOT, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr
    assert done.stdout.splitlines()[-1].startswith("ported "), done.stdout


def test_user_warnings_are_summarised_once(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    factory = tmp_path / "factory.py"
    factory.write_text(
        "import sys, warnings\n"
        f"sys.path.insert(0, {str(FIXTURES)!r})\n"
        "import port_models\n"
        "def build():\n"
        "    for i in range(5):\n"
        "        warnings.warn(f'your layer {i} is odd', UserWarning)\n"
        "    return port_models.modern_classifier()\n"
    )
    out = tmp_path / "x.keras"
    assert port(WEIGHTS_H5, "--to", out, "--model", f"{factory}:build", "--map", "keras22") == 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("migrate port: note: 5 Python warnings"), err


def test_dangling_symlink_at_out_counts_as_existing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.keras"
    out.symlink_to(tmp_path / "elsewhere.keras")
    assert port(MODEL_H5, "--to", out) == 2
    assert "exists; pass --force" in error_line(capsys)
    assert not (tmp_path / "elsewhere.keras").exists()


@pytest.mark.parametrize("kind", ["fifo", "device"])
def test_source_that_is_not_a_regular_file(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    source = tmp_path / "weights.h5"
    if kind == "fifo":
        os.mkfifo(source)
    else:
        source.symlink_to("/dev/zero")
    started = time.perf_counter()
    assert port(source, "--to", tmp_path / "x.keras") == 2
    assert "not a regular file" in error_line(capsys)
    assert time.perf_counter() - started < 10


def test_checkpoint_state_file_that_is_a_device(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = _copy(tmp_path, TUTORIAL_CKPT)
    (ckpt / "checkpoint").unlink()
    (ckpt / "checkpoint").symlink_to("/dev/zero")
    assert port(ckpt, "--to", tmp_path / "x.keras", "--model", f"{MODERN_FACTORIES}:seq2seq") == 2
    assert "not a regular file" in error_line(capsys)


def test_tf_checkpoint_index_declaring_more_than_its_data_holds(tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    ckpt = _copy(tmp_path, TUTORIAL_CKPT)
    data = ckpt / "ckpt-2.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:100])
    assert port(ckpt, "--to", tmp_path / "x.keras", "--model", f"{MODERN_FACTORIES}:seq2seq", "--map",
                "tutorial") == 2
    line = error_line(capsys)
    assert "ckpt-2" in line and "data files hold 100" in line, line


def test_signal_after_out_was_written_says_so(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    original = StagedFile.commit

    def commit_then_signal(self: StagedFile) -> None:
        original(self)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)

    monkeypatch.setattr(StagedFile, "commit", commit_then_signal)
    out = tmp_path / "x.keras"
    assert port(MODEL_H5, "--to", out) == 143
    line = error_line(capsys)
    assert "interrupted by SIGTERM" in line and "already written and is complete" in line, line
    assert out.is_file()
    assert_clean(tmp_path, out)
