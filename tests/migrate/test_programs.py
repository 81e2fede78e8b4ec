"""End to end: the seed-style legacy programs, rewritten, run on Keras 3 with the same numbers.

The original runs unmodified on tf_keras through ``legacy_shim`` (no global
state changed); the rewritten one runs on Keras 3 with no legacy flag. Given the
original model's weights (copied by order, shapes checked) the outputs agree
within 1e-5 in inference mode, and the rewritten program trains.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from migrate.rewrite.context import Options
from migrate.rewrite.engine import rewrite_python
from tests.migrate.legacy_shim import load_legacy_program, load_program_source

PROGRAMS = Path(__file__).resolve().parents[1] / "fixtures" / "programs"
# The 2021 tutorial program is the bundled example's legacy translator.
EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "legacy"
pytestmark = pytest.mark.slow


def _migrate(path: Path, tmp_path: Path):
    name = path.name
    new, findings, _ = rewrite_python(path.read_bytes(), str(path), Options())
    again, _, _ = rewrite_python(new, str(path), Options())
    assert again == new, "rewrite is not a fixed point on the fixture"
    out = tmp_path / f"migrated_{name}"
    out.write_bytes(new)
    return path, out, new.decode("utf-8"), findings


def _copy_weights(src_weights, dst_weights) -> None:
    assert len(src_weights) == len(dst_weights)
    for a, b in zip(src_weights, dst_weights):
        assert tuple(a.shape) == tuple(b.shape), (a.name, b.path)
        b.assign(a.numpy())


def test_keras22_classifier(tmp_path: Path) -> None:
    path, out, code, findings = _migrate(PROGRAMS / "keras22_classifier.py", tmp_path)
    body = code.split('"""', 2)[2]  # past the module docstring, which quotes the legacy names
    assert "keras.engine" not in body and "K.batch_dot" not in body and "Adam(lr=" not in body
    assert "self.model.optimizer.learning_rate.assign(lr)" in code
    assert not [f for f in findings if not f.fixed], [f.format() for f in findings if not f.fixed]
    # SinusoidPositions reassigns `size` in call() and LayerNorm rebinds `epsilon` before storing it:
    # KM309 records their constructor arguments as passed instead of reading attributes back
    for cls in ("SinusoidPositions", "LayerNorm"):
        section = code.split(f"class {cls}(", 1)[1].split("\nclass ", 1)[0]
        assert "self._constructor_config = {" in section and "def get_config(self):" in section
    # every custom layer is registered under the file's name (KM312); the callback is not saved with a model
    assert {f.message.split(":", 1)[0] for f in findings if f.rule == "KM312" and f.fixed} == {
        "SinusoidPositions", "DotAttention", "MultiHeadSelfAttention", "LayerNorm"}
    assert code.count('@keras.saving.register_keras_serializable(package="keras22_classifier")\nclass ') == 4
    assert "TF_USE_LEGACY_KERAS" not in os.environ

    legacy = load_legacy_program(path)
    migrated = load_program_source(code, str(out), "migrated_keras22")
    import keras

    assert keras.__version__.startswith("3.")
    matrix = np.random.RandomState(1).normal(size=(legacy.VOCAB, legacy.EMBED_DIM)).astype("float32")
    old_model = legacy.build_model(matrix)
    new_model = migrated.build_model(matrix)
    assert isinstance(new_model, keras.Model)
    _copy_weights(old_model.weights, new_model.weights)
    x, y = legacy.synthetic_data()
    want = old_model.predict(x, verbose=0)
    got = new_model.predict(x, verbose=0)
    assert want.std(axis=0).max() > 0  # outputs depend on the input
    assert np.abs(want - got).max() <= 1e-5

    history, schedule = migrated.train(new_model, x, y)
    assert np.isfinite(history.history["loss"][0])
    _, legacy_schedule = legacy.train(old_model, x, y)
    np.testing.assert_allclose(np.asarray(schedule.learning_rates, dtype="float32"),
                               np.asarray(legacy_schedule.learning_rates, dtype="float32"), rtol=1e-6)


def test_tf2_transformer(tmp_path: Path) -> None:
    path, out, code, findings = _migrate(EXAMPLES / "translator.py", tmp_path)
    assert "tf.keras" not in code.split('"""', 2)[2]
    assert "self.enc_layers[i](x, training=training, mask=mask)" in code
    assert 'step = ops.cast(step, "float32")' in code
    unfixed = {f.rule for f in findings if not f.fixed}
    # the checkpoint restore is reported with a pointer to `migrate port`; the tutorial's layers get
    # **kwargs and a get_config from their recorded constructor arguments (KM309, fixed)
    assert unfixed == {"KM504"}
    classes = {"MultiHeadAttention", "EncoderLayer", "DecoderLayer", "Encoder", "Decoder", "Transformer",
               "CustomSchedule"}
    assert {f.message.split(":", 1)[0] for f in findings if f.rule == "KM309" and f.fixed} == classes
    # ... and each is registered as 'translator>Name' (KM312), so the saved model reloads by name below
    assert {f.message.split(":", 1)[0] for f in findings if f.rule == "KM312" and f.fixed} == classes

    legacy = load_legacy_program(path)
    migrated = load_program_source(code, str(out), "migrated_tutorial")
    batches = legacy.synthetic_batches()
    inp, tar = batches[0]
    legacy.transformer([inp, tar[:, :-1]], training=False)
    migrated.transformer([inp, tar[:, :-1]], training=False)
    _copy_weights(legacy.transformer.weights, migrated.transformer.weights)
    want, want_att = legacy.transformer([inp, tar[:, :-1]], training=False)
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        got, got_att = migrated.transformer([inp, tar[:, :-1]], training=False)
    # the attention masks go by keyword (KM301) to layers that KM313 marks as not propagating a Keras mask
    assert not [w for w in caught if "destroy the mask information" in str(w.message)]
    assert np.abs(want.numpy() - np.asarray(got)).max() <= 1e-5
    for key in want_att:
        assert np.abs(want_att[key].numpy() - np.asarray(got_att[key])).max() <= 1e-5
    # the migrated model saves to a .keras file and reloads (safe mode) with the same numbers
    import keras

    saved = tmp_path / "transformer.keras"
    migrated.transformer.save(saved)
    custom = {n: getattr(migrated, n) for n in classes}
    reloaded = keras.saving.load_model(saved, custom_objects=custom, safe_mode=True)
    again, _ = reloaded([inp, tar[:, :-1]], training=False)
    np.testing.assert_array_equal(np.asarray(again), np.asarray(got))
    # the classes are registered: no custom_objects needed
    by_name = keras.saving.load_model(saved, safe_mode=True)
    assert type(by_name) is migrated.Transformer
    again, _ = by_name([inp, tar[:, :-1]], training=False)
    np.testing.assert_array_equal(np.asarray(again), np.asarray(got))
    old_tokens, _ = legacy.greedy_decode(inp[:1])
    new_tokens, _ = migrated.greedy_decode(inp[:1])
    np.testing.assert_array_equal(np.asarray(old_tokens), np.asarray(new_tokens))
    # the schedule now accepts the integer step Keras 3 passes
    assert abs(float(migrated.learning_rate(3)) - float(legacy.learning_rate(3.0))) < 1e-8

    history = migrated.train(batches, epochs=2, checkpoint_path=str(tmp_path / "ckpt"))
    assert all(np.isfinite(history)) and history[1] < history[0]
    assert any(p.name.startswith("ckpt-") for p in (tmp_path / "ckpt").iterdir())
