"""``migrate verify OLD.py NEW.py``: the legacy program on tf_keras against its rewrite on Keras 3.

OLD is the bundled legacy classifier (``examples/legacy/classifier.py``) or a
program built on a published legacy library (``.venv/realworld``), run
unmodified; NEW is what ``migrate rewrite`` makes of it, here, in a temporary
directory. The rewrite must verify equal (exit 0); a rewrite with one constant
changed must not (exit 1, naming the first layer that computes something
else); bad input is one error line and exit 2.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

from migrate.cli import main

ROOT = Path(__file__).resolve().parents[2]
CLASSIFIER = ROOT / "examples" / "legacy" / "classifier.py"
REALWORLD = Path(sys.prefix) / "realworld"
# Small enough to keep each run to its process start-up.
SMALL = json.dumps({"num_blocks": 1, "model_dim": 8, "head_num": 2})

pytestmark = pytest.mark.slow


def verify(*args: object) -> int:
    return main(["verify", *map(str, args)])


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = [line for line in capsys.readouterr().err.strip().splitlines() if line.strip()]
    lines = [line for line in err if line.startswith("migrate verify: error:")]
    assert len(lines) == 1 and len(err) == 1, err
    return lines[0]


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """OLD (the legacy classifier as shipped) and NEW (its rewrite)."""
    work = tmp_path_factory.mktemp("programs")
    old, new = work / "old.py", work / "new.py"
    shutil.copy(CLASSIFIER, old)
    assert main(["rewrite", str(old), "-o", str(new), "-q"]) == 0
    return old, new


def test_the_rewritten_classifier_verifies_equal(programs: tuple[Path, Path], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    old, new = programs
    report = tmp_path / "verify.json"
    code = verify(old, new, "--factory", "build_model", "--factory-args", SMALL, "--report", report)
    out = capsys.readouterr().out
    assert code == 0, out
    data = json.loads(report.read_text())
    assert data["ok"] and data["max_abs_diff"] <= 1e-5
    # Every weight of OLD went to NEW, and the inputs were token ids (the
    # model embeds them) of the declared length.
    # embedding 1, attention 8 (q, k, v, o kernels and biases), two dense 4, output 2
    assert data["weights_transferred"] == 1 + 8 + 4 + 2
    assert data["inputs"][0]["dtype"] == "int32" and data["inputs"][0]["shape"] == [2, 12]
    # The layer-by-layer figures were taken (a functional model) and all agree.
    assert {entry["old"] for entry in data["layers"]} >= {"t1_att1", "t1_LN1", "t1_LN2", "outputs"}
    assert all(entry["max_abs_diff"] <= 1e-5 for entry in data["layers"])
    assert "equal: every output within --atol" in out


def test_a_changed_constant_is_found_at_its_layer(programs: tuple[Path, Path], tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    old, new = programs
    altered = tmp_path / "altered.py"
    text = new.read_text()
    # LayerNorm's epsilon, K.epsilon()**2 in the legacy program, made 1e-2.
    assert text.count("K.epsilon() * K.epsilon() if epsilon is None") == 1
    altered.write_text(text.replace("K.epsilon() * K.epsilon() if epsilon is None", "1e-2 if epsilon is None"))
    report, batch = tmp_path / "verify.json", tmp_path / "batch.npz"
    # Given inputs this time: token ids by the input's name, a batch of 3.
    np.savez(batch, inputs=np.random.default_rng(5).integers(1, 50, size=(3, 12)).astype("int32"))
    code = verify(old, f"{altered}:build_model", "--factory-args", SMALL, "--report", report, "--inputs", batch)
    out = capsys.readouterr().out
    assert code == 1, out
    data = json.loads(report.read_text())
    assert not data["ok"] and data["max_abs_diff"] > 1e-5 and data["inputs"][0]["shape"] == [3, 12]
    # The attention before it agrees; the first LayerNorm is where they part.
    assert data["first_differing_layer"]["old"] == "t1_LN1"
    assert data["first_differing_layer"]["layer_class"] == "LayerNorm"
    before = [entry for entry in data["layers"]][: [e["old"] for e in data["layers"]].index("t1_LN1")]
    assert before and all(entry["max_abs_diff"] <= 1e-5 for entry in before)
    assert "first differing layer: t1_LN1 (LayerNorm)" in out


def test_bad_input_is_one_line_and_exit_2(programs: tuple[Path, Path], tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    old, new = programs
    report = tmp_path / "verify.json"
    # A factory NEW does not define.
    assert verify(old, new, "--factory", "build_modle", "--report", report) == 2
    line = error_line(capsys)
    assert "'build_modle' is not a callable" in line and str(new) in line
    # No factory named at all.
    assert verify(old, new) == 2
    assert "pass --factory NAME" in error_line(capsys)
    # NEW does not parse: named with its line, before anything runs.
    broken = tmp_path / "broken.py"
    broken.write_text(new.read_text().replace("def build_model(", "def build_model((", 1))
    assert verify(old, broken, "--factory", "build_model") == 2
    line = error_line(capsys)
    assert f"{broken}:" in line and "does not parse" in line
    # NEW's factory raises.
    raising = tmp_path / "raising.py"
    raising.write_text(new.read_text() + "\n\ndef build_model(**kwargs):\n    raise ValueError('no vocabulary file')\n")
    assert verify(old, raising, "--factory", "build_model") == 2
    line = error_line(capsys)
    assert "the factory raised ValueError: no vocabulary file" in line and "NEW" in line
    # --factory-args that are not a JSON object.
    assert verify(old, new, "--factory", "build_model", "--factory-args", "[1, 2]") == 2
    assert "--factory-args" in error_line(capsys)
    # --inputs that do not fit the model's inputs, or that hold objects (a pickle), are refused.
    two = tmp_path / "two.npz"
    np.savez(two, a=np.zeros((2, 12), "int32"), b=np.zeros((2, 12), "int32"))
    assert verify(old, new, "--factory", "build_model", "--inputs", two) == 2
    assert "the model takes 1 inputs ['inputs']" in error_line(capsys)
    pickled = tmp_path / "pickled.npz"
    np.savez(pickled, inputs=np.array([{"x": 1}], dtype=object))
    assert verify(old, new, "--factory", "build_model", "--inputs", pickled) == 2
    assert "not a readable .npz of plain arrays" in error_line(capsys)
    assert not report.exists()


def test_a_raising_legacy_factory_is_one_line(programs: tuple[Path, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """OLD fails in its child process on tf_keras: the error comes back as one line."""
    old, new = programs
    raising = tmp_path / "old_raising.py"
    raising.write_text(old.read_text() + "\n\ndef build_model(**kwargs):\n    raise IOError('weights.h5 missing')\n")
    assert verify(raising, new, "--factory", "build_model", "--factory-args", SMALL) == 2
    line = error_line(capsys)
    assert "OLD: the factory raised OSError: weights.h5 missing" in line and str(raising) in line


@pytest.mark.skipif(not all((REALWORLD / name).is_dir() for name in ("keras_layer_normalization", "keras_pos_embd")),
                    reason="keras-layer-normalization / keras-pos-embd are not installed in .venv/realworld "
                           "(./dev installs them)")
def test_a_program_on_published_legacy_libraries(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A user's program on keras-pos-embd 0.13 and keras-layer-normalization 0.16 (as published) against its rewrite.

    The library copies live apart from the programs (as the real-world suite
    keeps them): ``--old-path``/``--new-path`` say where. The program feeds a
    float ``Input`` to an ``Embedding``, as Keras 2 code often did: the derived
    inputs must be token ids there, or the legacy lookup refuses them.
    """
    old_lib, new_lib, old_dir, new_dir = (tmp_path / name for name in ("old_lib", "new_lib", "old", "new"))
    for name in ("keras_layer_normalization", "keras_pos_embd"):
        shutil.copytree(REALWORLD / name, old_lib / name)
    old_dir.mkdir()
    (old_dir / "program.py").write_text(
        "from tensorflow import keras\n"
        "from keras_layer_normalization import LayerNormalization\n"
        "from keras_pos_embd import TrigPosEmbedding\n\n\n"
        "def build(vocab=30, dim=8):\n"
        "    tokens = keras.layers.Input(shape=(5,), name='tokens')\n"
        "    x = keras.layers.Embedding(vocab, dim, name='embed')(tokens)\n"
        "    x = TrigPosEmbedding(mode=TrigPosEmbedding.MODE_ADD, name='position')(x)\n"
        "    x = keras.layers.Dense(dim, activation='tanh')(x)\n"
        "    x = LayerNormalization(name='norm')(x)\n"
        "    return keras.models.Model(tokens, keras.layers.Dense(3, name='head')(x))\n"
    )
    shutil.copytree(old_lib, new_lib)
    assert main(["rewrite", str(new_lib), "-q"]) == 0
    assert main(["rewrite", str(old_dir), "-o", str(new_dir), "-q"]) == 0
    assert "from tensorflow import keras" not in (new_lib / "keras_layer_normalization" / "layer_normalization.py").read_text()
    report = tmp_path / "verify.json"
    try:
        code = verify(old_dir / "program.py", f"{new_dir / 'program.py'}:build", "--factory-args", '{"dim": 6}',
                      "--report", report, "--old-path", old_lib, "--new-path", new_lib)
    finally:
        for name in [m for m in sys.modules if m.split(".")[0] in ("keras_layer_normalization", "keras_pos_embd")]:
            del sys.modules[name]
    assert code == 0, capsys.readouterr().out
    data = json.loads(report.read_text())
    assert data["inputs"][0]["dtype"] == "float32" and data["inputs"][0]["shape"] == [2, 5]
    assert data["weights_transferred"] == 1 + 2 + 2 + 2  # embedding, dense, norm (gamma, beta), head
    assert data["outputs"][0]["name"] == "head" and data["max_abs_diff"] <= 1e-5
    classes = {entry["old"]: entry["layer_class"] for entry in data["layers"]}
    assert classes["norm"] == "LayerNormalization" and classes["position"] == "TrigPosEmbedding"


def test_a_batch_verifies_each_program_with_one_legacy_process(programs: tuple[Path, Path], tmp_path: Path,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    """``--batch``: every entry gets its own verdict; one failing entry does not stop the others."""
    old, new = programs
    listing = tmp_path / "lists"
    listing.mkdir()
    shutil.copy(old, listing / "old.py")
    shutil.copy(new, listing / "new.py")
    (listing / "altered.py").write_text(
        new.read_text().replace("K.epsilon() * K.epsilon() if epsilon is None", "1e-2 if epsilon is None"))
    (listing / "old_raising.py").write_text(
        old.read_text() + "\n\ndef build_model(**kwargs):\n    raise IOError('weights.h5 missing')\n")
    small = json.loads(SMALL)
    batch = listing / "programs.json"
    # Relative paths: from the list's own directory, not the working directory.
    batch.write_text(json.dumps([
        {"name": "as rewritten", "old": "old.py", "new": "new.py", "factory_args": small},
        {"name": "epsilon changed", "old": "old.py", "new": "altered.py:build_model", "factory_args": small},
        {"name": "legacy raises", "old": "old_raising.py", "new": "new.py", "factory_args": small},
    ]))
    report = tmp_path / "batch.json"
    code = verify("--batch", batch, "--factory", "build_model", "--report", report)
    captured = capsys.readouterr()
    assert code == 2, captured.out
    assert "3 programs: 1 equal, 1 different, 1 failed" in captured.out
    assert "[3/3] building NEW of legacy raises" in captured.err
    entries = {entry["name"]: entry for entry in json.loads(report.read_text())["programs"]}
    assert entries["as rewritten"]["ok"] and entries["as rewritten"]["weights_transferred"] == 1 + 8 + 4 + 2
    assert not entries["epsilon changed"]["ok"]
    assert entries["epsilon changed"]["first_differing_layer"]["old"] == "t1_LN1"
    assert "OLD: the factory raised OSError: weights.h5 missing" in entries["legacy raises"]["error"]


def test_a_bad_batch_is_one_line_and_exit_2(programs: tuple[Path, Path], tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    old, new = programs
    report = tmp_path / "batch.json"
    batch = tmp_path / "programs.json"
    cases = [
        ("[{\"old\": ", "programs.json:1: --batch: not JSON"),
        ("{}", "must be a non-empty JSON list"),
        (json.dumps([{"old": str(old), "new": str(new), "factory_arg": {}}]), "entry 1: unknown key(s) ['factory_arg']"),
        (json.dumps([{"old": str(old), "new": str(new)}, {"old": str(old)}]), 'entry 2: needs "new"'),
        (json.dumps([{"old": str(old), "new": str(new), "atol": "small"}]), '"atol" must be a number'),
    ]
    for text, expected in cases:
        batch.write_text(text)
        assert verify("--batch", batch, "--factory", "build_model", "--report", report) == 2
        assert expected in error_line(capsys)
    assert verify(old, new, "--batch", batch) == 2
    assert "not both" in error_line(capsys)
    assert verify("--batch", tmp_path / "absent.json") == 2
    assert "no such file" in error_line(capsys)
    assert not report.exists()
