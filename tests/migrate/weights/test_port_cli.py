"""``migrate port`` end to end on the bundled legacy artefacts, and on bad input.

Every failure must exit 2 with one line naming the file and the weight or
layer, and leave nothing at OUT.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from migrate.cli import main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
LEGACY = FIXTURES / "legacy"
MODEL_H5 = LEGACY / "keras22_classifier.model.h5"
WEIGHTS_H5 = LEGACY / "keras22_classifier_weights.h5"
FACTORIES = FIXTURES / "port_models.py"
MODERN_FACTORIES = FIXTURES.parents[1] / "examples" / "modern_factories.py"

pytestmark = pytest.mark.slow


def port(*args: str) -> int:
    return main(["port", *map(str, args)])


def error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip().splitlines()
    lines = [line for line in err if line.startswith("migrate port: error:")]
    assert len(lines) == 1, err
    return lines[0]


def assert_nothing_at(out: Path) -> None:
    assert not out.exists()
    assert not [p for p in out.parent.iterdir() if p.suffix == ".keras"], list(out.parent.iterdir())


def test_full_model_h5_ports_to_modern_and_verifies(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import keras

    out, report = tmp_path / "classifier.keras", tmp_path / "report.json"
    assert port(MODEL_H5, "--to", out, "--verify", "--report", report) == 0
    summary = capsys.readouterr().out
    assert "verified max abs diff" in summary
    data = json.loads(report.read_text())
    assert data["verify_max_abs_diff"] <= 1e-5
    assert data["reload_max_abs_diff"] == 0.0
    assert not data["dropped"], "the legacy Adam's slots and counter are ported, not dropped"
    assert data["optimizer"]["keras3"].startswith("modern>LegacyAdam(") and data["optimizer"]["step"] == 2
    assert len(data["optimizer"]["slots"]) == 2 * len(data["assignments"])
    targets = {a["target"] for a in data["assignments"]}
    assert "t1_att1/query/kernel" in targets
    model = keras.saving.load_model(out, safe_mode=True)
    assert type(model.get_layer("t1_att1")).__name__ == "ActivatedMultiHeadAttention"


def test_weights_only_h5_into_a_given_model_with_the_keras22_map(tmp_path: Path) -> None:
    out = tmp_path / "classifier.keras"
    code = port(WEIGHTS_H5, "--to", out, "--model", f"{FACTORIES}:modern_classifier", "--map", "keras22",
                "--verify", "--legacy", f"{FACTORIES}:legacy_classifier")
    assert code == 0 and out.exists()


def test_dry_run_prints_every_pair_and_writes_nothing(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert port(MODEL_H5, "--dry-run") == 0
    lines = capsys.readouterr().out.splitlines()
    assert "t1_att1/t1_att1_Wq [16, 16] -> t1_att1/query/kernel [16, 16]" in lines
    assert any(line.startswith("optimizer: Adam (training_config)") for line in lines)
    assert "Adam/t1_att1/t1_att1_Wq/m [16, 16] -> optimizer/t1_att1_query_kernel_momentum [16, 16]" in lines
    assert lines[-1].startswith("plan complete:")
    assert not list(tmp_path.iterdir())


def test_existing_out_is_kept_without_force(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "classifier.keras"
    out.write_bytes(b"precious")
    assert port(MODEL_H5, "--to", out) == 2
    assert "exists; pass --force" in error_line(capsys)
    assert out.read_bytes() == b"precious"


def test_missing_source(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.keras"
    assert port(tmp_path / "nope.h5", "--to", out) == 2
    line = error_line(capsys)
    assert "nope.h5" in line and "no such file" in line
    assert_nothing_at(out)


def test_out_directory_must_exist(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert port(MODEL_H5, "--to", tmp_path / "missing" / "x.keras") == 2
    assert "does not exist" in error_line(capsys)


def test_truncated_h5(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "truncated.h5"
    broken.write_bytes(MODEL_H5.read_bytes()[: MODEL_H5.stat().st_size // 2])
    out = tmp_path / "x.keras"
    assert port(broken, "--to", out) == 2
    line = error_line(capsys)
    assert "truncated.h5" in line and ("truncated" in line or "corrupt" in line)
    assert_nothing_at(out)


def test_corrupt_bytes_after_the_signature(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "corrupt.h5"
    broken.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 8)
    out = tmp_path / "x.keras"
    assert port(broken, "--to", out) == 2
    assert "corrupt.h5" in error_line(capsys)
    assert_nothing_at(out)


def _copy(tmp_path: Path, source: Path = WEIGHTS_H5) -> Path:
    target = tmp_path / source.name
    shutil.copy(source, target)
    return target


@pytest.mark.parametrize("kind", ["external_link", "soft_link", "external_dataset", "virtual_dataset", "absurd_shape", "object_dtype"])
def test_refused_hdf5_constructs(kind: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _copy(tmp_path)
    side = tmp_path / "side.h5"
    with h5py.File(side, "w") as f:
        f["data"] = np.ones(4, "float32")
    raw = tmp_path / "raw.bin"
    np.ones(4, "float32").tofile(raw)
    with h5py.File(path, "a") as f:
        group = f["outputs"]
        if kind == "external_link":
            group["sneaky"] = h5py.ExternalLink(str(side), "/data")
        elif kind == "soft_link":
            group["sneaky"] = h5py.SoftLink("/outputs/outputs")
        elif kind == "external_dataset":
            group.create_dataset("sneaky", shape=(4,), dtype="float32", external=[(str(raw), 0, 16)])
        elif kind == "virtual_dataset":
            layout = h5py.VirtualLayout(shape=(4,), dtype="float32")
            layout[:] = h5py.VirtualSource(str(side), "data", shape=(4,))
            group.create_virtual_dataset("sneaky", layout)
        elif kind == "absurd_shape":
            group.create_dataset("sneaky", shape=(2**36,), dtype="float32", chunks=(1024,))
        elif kind == "object_dtype":
            group.create_dataset("sneaky", data=np.array(["x"], dtype=h5py.string_dtype()))
    out = tmp_path / "x.keras"
    assert port(path, "--to", out, "--model", f"{FACTORIES}:modern_classifier", "--map", "keras22") == 2
    line = error_line(capsys)
    assert path.name in line and "sneaky" in line, line
    assert_nothing_at(out)


def test_shape_mismatch_names_the_weight(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.keras"
    assert port(WEIGHTS_H5, "--to", out, "--model", f"{FACTORIES}:smaller_modern_classifier", "--map", "keras22") == 2
    line = error_line(capsys)
    assert "shape mismatch" in line and "embedding/embeddings" in line and "[50, 16]" in line
    assert_nothing_at(out)


def _rewrite_config(path: Path, edit) -> None:
    with h5py.File(path, "a") as f:
        config = json.loads(f.attrs["model_config"])
        edit(config)
        f.attrs["model_config"] = json.dumps(config)


def test_lambda_layer_is_refused_and_never_deserialized(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _copy(tmp_path, MODEL_H5)

    def add_lambda(config: dict) -> None:
        layer = config["config"]["layers"][3]
        layer["class_name"] = "Lambda"
        # What Keras 2 stored for a lambda: marshalled bytecode (here junk
        # that would crash if anything tried to unmarshal it).
        layer["config"]["function"] = ["4wEAAAAAAAAA", None, None]
        layer["config"]["function_type"] = "lambda"

    _rewrite_config(path, add_lambda)
    out = tmp_path / "x.keras"
    assert port(path, "--to", out) == 2
    line = error_line(capsys)
    assert "Lambda" in line and "dropout" in line and "--model" in line
    assert_nothing_at(out)


def test_unknown_custom_class_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _copy(tmp_path, MODEL_H5)

    def rename(config: dict) -> None:
        config["config"]["layers"][2]["class_name"] = "MyFancyEmbedding"

    _rewrite_config(path, rename)
    out = tmp_path / "x.keras"
    assert port(path, "--to", out) == 2
    line = error_line(capsys)
    assert "MyFancyEmbedding" in line and "--model" in line
    assert_nothing_at(out)


def test_weights_only_file_needs_a_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.keras"
    assert port(WEIGHTS_H5, "--to", out) == 2
    assert "--model" in error_line(capsys)
    assert_nothing_at(out)


def test_factory_that_returns_no_model(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.keras"
    assert port(WEIGHTS_H5, "--to", out, "--model", f"{FACTORIES}:not_a_model") == 2
    assert "not a keras.Model" in error_line(capsys)


TUTORIAL_CKPT = LEGACY / "tutorial_ckpt"


def test_tf_checkpoint_ports_into_the_modern_seq2seq(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import keras

    out, report = tmp_path / "translator.keras", tmp_path / "report.json"
    code = port(TUTORIAL_CKPT, "--to", out, "--model", f"{MODERN_FACTORIES}:seq2seq", "--map", "tutorial",
                "--verify", "--report", report)
    assert code == 0, capsys.readouterr().err
    data = json.loads(report.read_text())
    assert data["source"].endswith("ckpt-2"), "a CheckpointManager directory ports its latest checkpoint"
    assert data["verify_max_abs_diff"] <= 1e-5
    transforms = {a["transform"] for a in data["assignments"]}
    assert {"split_heads", "split_bias", "merge_heads"} <= transforms
    assert any(".OPTIMIZER_SLOT" in d["name"] for d in data["dropped"])
    model = keras.saving.load_model(out, safe_mode=True)
    assert type(model).__name__ == "Seq2SeqTransformer"


def test_checkpoint_that_does_not_match_lists_names_and_shapes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.keras"
    assert port(TUTORIAL_CKPT, "--to", out, "--model", f"{FACTORIES}:deeper_seq2seq", "--map", "tutorial") == 2
    line = error_line(capsys)
    assert "does not match" in line and "enc_layers/2" in line and "ckpt-2" in line
    assert_nothing_at(out)


def test_checkpoint_directory_without_a_checkpoint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    empty = tmp_path / "ckpts"
    empty.mkdir()
    assert port(empty, "--to", tmp_path / "x.keras", "--model", f"{MODERN_FACTORIES}:seq2seq") == 2
    assert "no 'checkpoint' file" in error_line(capsys)


def test_truncated_checkpoint_data(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    broken = tmp_path / "ckpt"
    shutil.copytree(TUTORIAL_CKPT, broken)
    data = broken / "ckpt-2.data-00000-of-00001"
    data.write_bytes(data.read_bytes()[:1000])
    out = tmp_path / "x.keras"
    assert port(broken, "--to", out, "--model", f"{MODERN_FACTORIES}:seq2seq", "--map", "tutorial") == 2
    line = error_line(capsys)
    assert "ckpt-2" in line and ("truncated" in line or "corrupt" in line)
    assert_nothing_at(out)


def test_verification_catches_a_model_that_computes_differently(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "x.keras"
    code = port(WEIGHTS_H5, "--to", out, "--model", f"{FACTORIES}:wrong_layout_classifier", "--map", "keras22",
                "--verify", "--legacy", f"{FACTORIES}:legacy_classifier")
    assert code == 2
    line = error_line(capsys)
    assert "--verify: max abs diff" in line and "exceeds 1e-05" in line
    assert_nothing_at(out)


def test_tf_keras_builtin_layers_full_model_h5(tmp_path: Path) -> None:
    import keras

    out, report = tmp_path / "builtin.keras", tmp_path / "report.json"
    assert port(LEGACY / "tfkeras_builtin.model.h5", "--to", out, "--verify", "--report", report) == 0
    assert json.loads(report.read_text())["verify_max_abs_diff"] <= 1e-5
    model = keras.saving.load_model(out, safe_mode=True)
    assert isinstance(model.get_layer("mha"), keras.layers.MultiHeadAttention)


def test_tf_keras_builtin_layers_savedmodel(tmp_path: Path) -> None:
    out, report = tmp_path / "builtin.keras", tmp_path / "report.json"
    code = port(LEGACY / "tfkeras_builtin_savedmodel", "--to", out, "--model", f"{FACTORIES}:keras3_builtin",
                "--verify", "--legacy", f"{FACTORIES}:legacy_builtin", "--report", report)
    assert code == 0
    data = json.loads(report.read_text())
    assert data["format"] == "savedmodel" and data["verify_max_abs_diff"] <= 1e-5
    assert not any(a["source"].startswith("keras_api/") for a in data["assignments"])
