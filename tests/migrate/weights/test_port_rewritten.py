"""The legacy artefacts port into models built by *rewritten* legacy code.

The bundled legacy programs in ``examples/legacy`` are rewritten with
``migrate rewrite``; the checkpoints made by ``legacy_ref`` then port into the
models those rewritten programs build (``--model rewritten.py:build_model``)
and match the legacy model within 1e-5.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from migrate.cli import main

ROOT = Path(__file__).resolve().parents[3]
LEGACY_CODE = ROOT / "examples" / "legacy"
LEGACY = ROOT / "tests" / "fixtures" / "legacy"

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def rewritten(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("rewritten")
    # Exit 1: the translator keeps one finding for a human (its legacy
    # tf.train.Checkpoint restore, pointing at `migrate port`).
    assert main(["rewrite", str(LEGACY_CODE), "-o", str(out), "-q"]) in (0, 1)
    return out


@pytest.mark.parametrize(
    "source, extra",
    [
        ("keras22_classifier.model.h5", []),
        # The unmodified legacy program builds the legacy model (on tf_keras).
        ("keras22_classifier_weights.h5", ["--legacy", f"{LEGACY_CODE / 'classifier.py'}:build_model"]),
    ],
)
def test_classifier_checkpoints_into_the_rewritten_program(rewritten: Path, tmp_path: Path, source: str, extra: list[str],
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    out, report = tmp_path / "classifier.keras", tmp_path / "report.json"
    code = main(["port", str(LEGACY / source), "--to", str(out), "--model", f"{rewritten / 'classifier.py'}:build_model",
                 "--verify", "--report", str(report), *extra])
    assert code == 0
    # The rewritten classes are registered (KM312): no custom_objects note.
    assert "not registered" not in capsys.readouterr().out
    data = json.loads(report.read_text())
    assert data["verify_max_abs_diff"] <= 1e-5
    # By structure: the rewritten layers keep the legacy weight names.
    assert {"source": "t1_att1/t1_att1_Wq", "target": "t1_att1/t1_att1_Wq"}.items() <= {
        k: v for a in data["assignments"] if a["source"] == "t1_att1/t1_att1_Wq" for k, v in a.items()
    }.items()


def test_tutorial_checkpoint_into_the_rewritten_program(rewritten: Path, tmp_path: Path) -> None:
    import importlib.util

    import keras
    import numpy as np

    out, report = tmp_path / "translator.keras", tmp_path / "report.json"
    code = main(["port", str(LEGACY / "tutorial_ckpt"), "--to", str(out), "--model",
                 f"{rewritten / 'translator.py'}:build_model", "--verify", "--report", str(report)])
    assert code == 0
    data = json.loads(report.read_text())
    assert data["verify_max_abs_diff"] <= 1e-5
    # By object path: the rewritten subclassed model keeps the tutorial's attributes.
    pairs = {a["source"]: a["target"] for a in data["assignments"]}
    assert pairs["transformer/encoder/enc_layers/0/mha/wq/kernel"] == "encoder/enc_layers/0/mha/wq/kernel"
    assert pairs["transformer/decoder/dec_layers/1/ffn/layer_with_weights-1/bias"].startswith("decoder/dec_layers/1/ffn/")
    # The file reloads on Keras 3 with the program's classes, in safe mode.
    spec = importlib.util.spec_from_file_location("rewritten_translator", rewritten / "translator.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    classes = {n: getattr(module, n) for n in ("MultiHeadAttention", "EncoderLayer", "DecoderLayer", "Encoder",
                                               "Decoder", "Transformer", "CustomSchedule")}
    model = keras.saving.load_model(out, custom_objects=classes, safe_mode=True)
    logits, _ = model([np.ones((1, 4), "int32"), np.ones((1, 3), "int32")], training=False)
    assert np.asarray(logits).shape == (1, 3, 45)


def test_unregistered_classes_are_named() -> None:
    import keras

    from migrate.weights.port import unregistered_classes

    class Plain(keras.layers.Layer):
        pass

    @keras.saving.register_keras_serializable(package="test_port_rewritten")
    class Registered(keras.layers.Layer):
        pass

    assert unregistered_classes({"Plain": Plain, "Registered": Registered}) == ["Plain"]
