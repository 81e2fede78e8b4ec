"""The tutorial Transformer in Keras 3: inference, greedy decoding, training, saving, porting.

:class:`modern.models.seq2seq.Seq2SeqTransformer` against the goldens of
``legacy_ref.tutorial.Transformer``: logits and attention weights, the greedy
``Translator`` loop, five training steps with the tutorial's optimizer, the
``.keras`` round trip, and the weight map's error reporting. Every Keras 3
backend; never imports TensorFlow or ``legacy_ref``.
"""

from __future__ import annotations

import functools
import zipfile

import numpy as np
import pytest

import keras
from keras import ops

from modern.losses import masked_accuracy, masked_sparse_categorical_crossentropy
from modern.models import LegacyAdam
from modern.models.seq2seq import Seq2SeqTransformer, greedy_decode
from modern.schedules_noam import NoamSchedule
from modern.weight_maps.tutorial import TRANSFORMER_RULES, load_legacy_weights, modern_variables, rules_for
from tests.modern.goldens import assert_matches_golden, load_golden

BACKEND = keras.backend.backend()


def _check(actual, expected, what, atol=1e-5):
    diff = assert_matches_golden(actual, expected, what=what, atol=atol)
    print(f"[{BACKEND}] {what}: max abs diff {diff:.3g}")
    return diff


def _np(x):
    return ops.convert_to_numpy(x)


def _model(case):
    model = Seq2SeqTransformer(**case.config["args"])
    model.build(((None, None), (None, None)))
    report = load_legacy_weights(model, case.weights)
    assert report.complete and len(report.assigned) == len(case.weights) == len(model.weights)
    return model


@functools.lru_cache(maxsize=None)
def _ported(name):
    """A golden's model, built and filled once per session; only for tests that do not change it."""
    case = load_golden(name)
    return case, _model(case)


# ---------------------------------------------------------------------------
# Inference
# ---------------------------------------------------------------------------


def test_transformer_matches_golden():
    case, model = _ported("tutorial_transformer")
    inputs = (case.inputs["inp"], case.inputs["tar"])
    logits, attention = model(inputs, training=False, return_attention_scores=True)
    _check(logits, case.outputs["logits"], "tutorial_transformer logits")
    expected_keys = sorted(k for k in case.outputs if k.startswith("decoder_layer"))
    assert sorted(attention) == expected_keys
    for key in expected_keys:
        _check(attention[key], case.outputs[key], f"tutorial_transformer {key}")
    # Without scores the attention runs through keras.ops.dot_product_attention;
    # predict_on_batch is the compiled inference path (jit on jax, tf.function on TF).
    _check(model.predict_on_batch(inputs), case.outputs["logits"], "tutorial_transformer logits (fused, compiled)")


def test_transformer_batch_size_one_and_int32_ids():
    case, model = _ported("tutorial_transformer")
    for row in range(case.inputs["inp"].shape[0]):
        inp = case.inputs["inp"][row : row + 1].astype("int32")
        tar = case.inputs["tar"][row : row + 1].astype("int32")
        logits = model.predict_on_batch((inp, tar))
        _check(logits, case.outputs["logits"][row : row + 1], f"tutorial_transformer logits batch of 1, row {row}")


def test_symbolic_call_declares_shapes():
    model = Seq2SeqTransformer(2, 16, 4, 32, 40, 45, pe_input=10, pe_target=10)
    inp, tar = keras.Input((None,), dtype="int32"), keras.Input((None,), dtype="int32")
    logits, attention = model((inp, tar), return_attention_scores=True)
    assert tuple(logits.shape) == (None, None, 45)
    assert tuple(attention["decoder_layer2_block2"].shape) == (None, 4, None, None)
    functional = keras.Model([inp, tar], model((inp, tar)))
    out = functional.predict_on_batch([np.ones((2, 6), "int32"), np.ones((2, 5), "int32")])
    assert out.shape == (2, 5, 45)


def test_sequence_longer_than_position_table_is_an_error():
    model = Seq2SeqTransformer(0, 8, 2, 16, 10, 11, pe_input=4, pe_target=4)
    with pytest.raises(ValueError, match="maximum_position_encoding"):
        model.encode(np.ones((1, 5), "int32"))


@pytest.mark.parametrize("name", ["tutorial_greedy_decode", "tutorial_greedy_decode_max_length"])
def test_greedy_decode_matches_golden(name):
    case, model = _ported(name)
    cfg = case.config
    ids, attention = greedy_decode(
        model, case.inputs["encoder_input"], cfg["start_id"], cfg["end_id"], max_length=cfg["max_length"]
    )
    np.testing.assert_array_equal(_np(ids), case.outputs["ids"])
    assert (int(_np(ids)[0, -1]) == cfg["end_id"]) == cfg["stopped_at_end"]
    margin = cfg["min_argmax_margin"]
    print(f"[{BACKEND}] {name} ids: identical ({_np(ids).shape[1]} tokens, golden argmax margin {margin})")
    last = f"decoder_layer{cfg['args']['num_layers']}"
    for block in ("block1", "block2"):
        _check(attention[f"{last}_{block}"], case.outputs[f"{last}_{block}"], f"{name} {last}_{block}")


def test_greedy_decode_accepts_1d_input_and_rejects_batches():
    case, model = _ported("tutorial_greedy_decode")
    cfg = case.config
    ids, _ = greedy_decode(model, case.inputs["encoder_input"][0], cfg["start_id"], cfg["end_id"], cfg["max_length"])
    np.testing.assert_array_equal(_np(ids), case.outputs["ids"])
    with pytest.raises(ValueError, match="batch size 1"):
        greedy_decode(model, np.ones((2, 3), "int32"), 1, 2)


def _random_model(seed=0, pe_target=12):
    """A tiny randomly initialised model, left unbuilt (greedy_decode builds it)."""
    keras.utils.set_random_seed(seed)
    return Seq2SeqTransformer(2, 16, 4, 32, 30, 31, pe_input=20, pe_target=pe_target)


@functools.lru_cache(maxsize=None)
def _shared_random_model(seed=0):
    """:func:`_random_model`, made once per session; only for tests that do not change it."""
    return _random_model(seed)


# Source ids with trailing padding, so the cross-attention mask matters.
_SOURCE = np.asarray([[5, 9, 2, 17, 3, 0, 0]], "int32")


class _FullCall(keras.Model):
    """``(inp, tar) -> (logits, attention weights)``: the whole model, compiled by ``predict_on_batch``."""

    def __init__(self, model):
        super().__init__(name="full_recompute_call")
        self.wrapped = model
        self.built = True

    def call(self, inputs):
        return self.wrapped(inputs, training=False, return_attention_scores=True)


@functools.lru_cache(maxsize=None)
def _full_call(model):
    return _FullCall(model)


def _full_recompute_decode(model, encoder_input, start_id, end_id, max_length):
    """The tutorial's loop without a cache: the whole model on the exact-length ids at every step,
    then one more call on ``output[:, :-1]`` for the attention weights."""
    full_call = _full_call(model).predict_on_batch
    output = [start_id]
    for _ in range(max_length):
        logits, _ = full_call((encoder_input, np.asarray([output], "int32")))
        output.append(int(np.argmax(logits[0, -1])))
        if output[-1] == end_id:
            break
    _, attention = full_call((encoder_input, np.asarray([output[:-1]], "int32")))
    return np.asarray([output]), attention


def _assert_same_decoding(actual, expected, what):
    (ids, attention), (expected_ids, expected_attention) = actual, expected
    np.testing.assert_array_equal(ids, expected_ids, err_msg=what)
    assert ids.dtype == np.int32
    assert sorted(attention) == sorted(expected_attention)
    diff = max(_check(attention[key], expected_attention[key], f"{what} {key}") for key in attention)
    print(f"[{BACKEND}] {what}: {ids.shape[1]} ids identical, attention max abs diff {diff:.3g}")


@pytest.mark.parametrize("max_length", [1, 3, 6])
def test_cached_greedy_decode_matches_the_full_recompute_loop(max_length):
    model = _shared_random_model()
    decoded = greedy_decode(model, _SOURCE, 1, -1, max_length=max_length)
    assert decoded[0].shape == (1, max_length + 1)
    assert decoded[1]["decoder_layer2_block1"].shape == (1, 4, max_length, max_length)
    assert decoded[1]["decoder_layer1_block2"].shape == (1, 4, max_length, _SOURCE.shape[1])
    expected = _full_recompute_decode(model, _SOURCE, 1, -1, max_length)
    _assert_same_decoding(decoded, expected, f"cached greedy decode, max_length={max_length}")


def test_cached_greedy_decode_stops_at_an_early_end_id():
    # Random Keras models tend to repeat one id; the golden's model predicts varied ids
    # (1, 11, 11, 11, 10, 19 on every backend), so an end id can be hit mid-sequence.
    case, model = _ported("tutorial_greedy_decode")
    golden = case.outputs["ids"][0].tolist()
    end_id = golden[-2]
    assert end_id not in golden[:-2]
    source = case.inputs["encoder_input"]
    decoded = greedy_decode(model, source, golden[0], end_id, max_length=12)
    np.testing.assert_array_equal(decoded[0], [golden[:-1]])
    _assert_same_decoding(decoded, _full_recompute_decode(model, source, golden[0], end_id, 12), "early end_id")


def test_cached_greedy_decode_masks_predicted_padding():
    """A predicted id 0 is padding: later positions must not attend to it, as in the tutorial."""
    model = _shared_random_model()
    greedy_decode(model, _SOURCE, 1, -1, max_length=1)  # builds the model
    bias = model.final_layer.bias
    saved = _np(bias).copy()
    bias.assign(saved + np.eye(1, saved.shape[0], dtype="float32")[0] * 100.0)  # id 0 always wins
    try:
        decoded = greedy_decode(model, _SOURCE, 3, -1, max_length=6)
        expected = _full_recompute_decode(model, _SOURCE, 3, -1, 6)
    finally:
        bias.assign(saved)
    np.testing.assert_array_equal(decoded[0], [[3, 0, 0, 0, 0, 0, 0]])
    block1 = decoded[1]["decoder_layer1_block1"]
    np.testing.assert_array_equal(block1[0, :, :, 1:], 0.0)  # every query sees the start token only
    _assert_same_decoding(decoded, expected, "predicted padding")


def test_greedy_decode_with_padding_start_id_follows_the_exact_length_loop():
    """start_id 0 is padding: the loop then runs on exact-length ids, like the tutorial."""
    model = _shared_random_model()
    decoded = greedy_decode(model, _SOURCE, 0, -1, max_length=3)
    assert decoded[1]["decoder_layer2_block1"].shape == (1, 4, 3, 3)
    # Position 0 sees no key and attends uniformly over the whole final input, later positions included.
    np.testing.assert_allclose(decoded[1]["decoder_layer1_block1"][0, :, 0, :], 1.0 / 3, atol=1e-7)
    _assert_same_decoding(decoded, _full_recompute_decode(model, _SOURCE, 0, -1, 3), "padding start_id")


def test_greedy_decode_length_limits():
    model = _random_model(pe_target=5)
    ids, attention = greedy_decode(model, _SOURCE[0], 1, -1, max_length=0)
    np.testing.assert_array_equal(ids, [[1]])
    assert attention["decoder_layer2_block1"].shape == (1, 4, 0, 0)
    assert attention["decoder_layer2_block2"].shape == (1, 4, 0, _SOURCE.shape[1])
    assert greedy_decode(model, _SOURCE, 1, -1, max_length=5)[0].shape == (1, 6)  # all of pe_target
    with pytest.raises(ValueError, match="maximum_position_encoding=5"):
        greedy_decode(model, _SOURCE, 1, -1, max_length=6)


def test_greedy_decode_leaves_the_saved_model_unchanged(tmp_path):
    """Its compiled helpers ride on the model but are neither tracked nor saved; a reload decodes the same."""
    case, model = _ported("tutorial_greedy_decode")
    cfg = case.config
    args = (case.inputs["encoder_input"], cfg["start_id"], cfg["end_id"], cfg["max_length"])
    ids, attention = greedy_decode(model, *args)
    assert len(model.weights) == len(case.weights)
    path = tmp_path / "after_greedy.keras"
    model.save(path)
    with zipfile.ZipFile(path) as archive:
        config = archive.read("config.json").decode()
    assert "probe" not in config
    loaded = keras.saving.load_model(path)
    assert sorted(modern_variables(loaded)) == sorted(modern_variables(model))
    assert loaded.get_config() == model.get_config()
    reloaded_ids, reloaded_attention = greedy_decode(loaded, *args)
    np.testing.assert_array_equal(reloaded_ids, ids)
    for key, value in attention.items():
        np.testing.assert_allclose(reloaded_attention[key], value, rtol=0, atol=1e-6, err_msg=key)


# ---------------------------------------------------------------------------
# Loss and accuracy
# ---------------------------------------------------------------------------


def test_masked_loss_and_accuracy_match_numpy():
    rng = np.random.default_rng(0)
    real = np.array([[3, 1, 4, 0, 0], [2, 7, 0, 0, 0]], dtype="int64")
    pred = rng.standard_normal((2, 5, 9)).astype("float32")
    pred[0, 0, 3] = 10.0  # one sure hit
    log_probs = pred - np.log(np.exp(pred).sum(-1, keepdims=True))
    per_token = -np.take_along_axis(log_probs, real[..., None], axis=-1)[..., 0]
    mask = real != 0
    expected_loss = (per_token * mask).sum() / mask.sum()
    expected_acc = ((pred.argmax(-1) == real) & mask).sum() / mask.sum()
    loss = float(_np(masked_sparse_categorical_crossentropy(real, pred)))
    acc = float(_np(masked_accuracy(real, pred)))
    assert abs(loss - expected_loss) <= 1e-5 * abs(expected_loss)
    assert abs(acc - expected_acc) <= 1e-7
    # Keras hands y_true to compiled losses as float32: same values.
    float_real = float(_np(masked_sparse_categorical_crossentropy(real.astype("float32"), pred)))
    assert float_real == pytest.approx(loss, rel=1e-6)
    for fn in (masked_sparse_categorical_crossentropy, masked_accuracy):
        assert keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(fn)) is fn


def test_masked_accuracy_breaks_ties_like_the_tutorials_argmax():
    # The tutorial's tf.argmax keeps the lowest index among equal maxima.
    real = np.array([[2, 1, 3]], dtype="int64")
    pred = np.zeros((1, 3, 5), dtype="float32")
    pred[0, 0, [2, 4]] = 1.0  # tie: index 2 wins -> hit
    pred[0, 1, [0, 1]] = 1.0  # tie: index 0 wins -> miss
    pred[0, 2, 3] = 2.0  # plain maximum -> hit
    assert float(_np(masked_accuracy(real, pred))) == pytest.approx(2 / 3)


@pytest.mark.skipif(keras.backend.backend() != "tensorflow", reason="the -0.0 ordering of tf.argmax (TensorFlow path)")
def test_masked_accuracy_orders_negative_zero_like_tf_argmax():
    # tf.argmax compares -0.0 equal to 0.0 (keras.ops.argmax orders it below).
    real = np.array([[1, 1]], dtype="int64")
    pred = np.full((1, 2, 5), -1.0, dtype="float32")
    pred[0, :, 1] = -0.0
    pred[0, :, 3] = 0.0
    assert pred[0].argmax(-1).tolist() == [1, 1]
    assert float(_np(masked_accuracy(real, pred))) == 1.0


# ---------------------------------------------------------------------------
# Training parity
# ---------------------------------------------------------------------------


@pytest.mark.slow
def test_training_matches_the_2021_train_step():
    """Five steps of the tutorial's train step (teacher forcing, rate 0.0).

    The 2021 optimizer is ``tf_keras.optimizers.legacy.Adam`` on the Noam
    schedule; Keras 3's Adam has the same update (bias-corrected step size
    ``lr * sqrt(1 - beta_2^t) / (1 - beta_1^t)``, epsilon added to the
    uncorrected ``sqrt(v)``, ``m``/``v`` updated as ``m += (g - m)(1 - beta)``)
    and reads the schedule at ``iterations`` *before* the update, as the legacy
    optimizer did, so step 1 trains with rate 0 in both. The one difference is
    on the TensorFlow backend: an embedding gradient there is a
    ``tf.IndexedSlices`` with one slice per token occurrence, and Keras 3's
    Adam squares the slices before repeated ids are summed (``v`` gets
    ``sum(g_i^2)`` instead of the legacy ``(sum g_i)^2``); with the stock
    Adam the losses drift by 2e-4 relative after two real steps here. jax and
    torch give dense gradients and match with the stock Adam (~2e-7);
    :class:`modern.models.LegacyAdam` densifies the gradient first and
    matches on every backend, so it is what this test uses.
    """
    case = load_golden("tutorial_transformer_train")
    opt_cfg = case.config["optimizer"]
    model = _model(case)
    schedule = NoamSchedule(opt_cfg["schedule"]["d_model"], opt_cfg["schedule"]["warmup_steps"])
    optimizer = LegacyAdam(schedule, beta_1=opt_cfg["beta_1"], beta_2=opt_cfg["beta_2"], epsilon=opt_cfg["epsilon"])
    model.compile(optimizer=optimizer, loss=masked_sparse_categorical_crossentropy, metrics=[masked_accuracy])

    losses, rates = [], []
    for step in range(case.config["steps"]):
        inp, tar = case.inputs["inp"][step], case.inputs["tar"][step]
        rates.append(float(_np(optimizer.learning_rate)))
        logs = model.train_on_batch((inp, tar[:, :-1]), tar[:, 1:], return_dict=True)
        losses.append(float(logs["loss"]))

    golden_losses = case.outputs["losses"].astype(np.float64)
    rel = np.abs(np.array(losses) - golden_losses) / np.abs(golden_losses)
    print(f"[{BACKEND}] tutorial_transformer_train losses: {np.round(losses, 6).tolist()}")
    print(f"[{BACKEND}] tutorial_transformer_train golden:  {np.round(golden_losses, 6).tolist()}")
    print(f"[{BACKEND}] tutorial_transformer_train max relative loss diff {rel.max():.3g}")
    assert rel.max() <= 1e-4, f"loss relative diffs {rel}"
    np.testing.assert_allclose(rates, case.outputs["learning_rates"], rtol=1e-6, atol=0)
    assert rates[0] == 0.0
    logits_after = model((case.inputs["inp"][0], case.inputs["tar"][0][:, :-1]))
    # Looser than inference (1e-5): Adam with epsilon 1e-9 turns rounding-level
    # gradient differences into step-size differences (observed <= 3.5e-6).
    _check(logits_after, case.outputs["logits_after"], "tutorial_transformer_train logits_after", atol=1e-4)


# ---------------------------------------------------------------------------
# Configuration, saving and the weight map
# ---------------------------------------------------------------------------


def test_get_config_round_trip():
    case, model = _ported("tutorial_transformer")
    config = model.get_config()
    assert {k: config[k] for k in case.config["args"]} == case.config["args"]
    clone = Seq2SeqTransformer.from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(model))
    assert isinstance(restored, Seq2SeqTransformer) and restored.get_config() == config


def test_keras_file_round_trip_is_bit_exact(tmp_path):
    case = load_golden("tutorial_transformer")
    model = _model(case)
    model.compile(
        optimizer=keras.optimizers.Adam(NoamSchedule(16, 10), beta_1=0.9, beta_2=0.98, epsilon=1e-9),
        loss=masked_sparse_categorical_crossentropy,
        metrics=[masked_accuracy],
    )
    model.optimizer.build(model.trainable_variables)
    inputs = (case.inputs["inp"], case.inputs["tar"])
    before = _np(model(inputs))
    path = tmp_path / "transformer.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(loaded, Seq2SeqTransformer)
    assert sorted(modern_variables(loaded)) == sorted(modern_variables(model))
    for name, variable in modern_variables(model).items():
        np.testing.assert_array_equal(_np(modern_variables(loaded)[name]), _np(variable), err_msg=name)
    np.testing.assert_array_equal(_np(loaded(inputs)), before)
    schedule = loaded.optimizer.get_config()["learning_rate"]
    assert schedule["registered_name"] == "modern>NoamSchedule"
    assert schedule["config"] == {"d_model": 16, "warmup_steps": 10}


def test_weight_map_covers_every_legacy_weight_and_modern_variable():
    case = load_golden("tutorial_transformer")
    rules = rules_for("Transformer", case.config["args"]["num_layers"])
    assert sorted(r.source for r in rules) == sorted(case.weights)
    model = Seq2SeqTransformer(**case.config["args"])
    model.build(((None, None), (None, None)))
    assert sorted(r.target for r in rules) == sorted(modern_variables(model))
    assert len(TRANSFORMER_RULES) < len(rules)  # `{i}` rows expanded per block


def test_weight_map_errors_name_the_weight():
    case = load_golden("tutorial_transformer")
    model = Seq2SeqTransformer(**case.config["args"])
    model.build(((None, None), (None, None)))
    before = [_np(v).copy() for v in model.weights]

    missing = dict(case.weights)
    del missing["decoder/dec_layers/1/mha2/wq/bias"]
    with pytest.raises(ValueError, match="decoder/dec_layers/1/mha2/wq/bias"):
        load_legacy_weights(model, missing)

    extra = dict(case.weights, **{"transformer/optimizer/iter": np.zeros((), "int64")})
    with pytest.raises(ValueError, match="transformer/optimizer/iter"):
        load_legacy_weights(model, extra)

    wrong = dict(case.weights)
    wrong["encoder/enc_layers/0/mha/wk/kernel"] = np.zeros((16, 12), "float32")
    pair = "encoder/enc_layers/0/mha/wk/kernel -> encoder/encoder_layer_0/mha/key/kernel"
    with pytest.raises(ValueError, match=pair):
        load_legacy_weights(model, wrong)

    # A failed strict port assigns nothing.
    for variable, value in zip(model.weights, before):
        np.testing.assert_array_equal(_np(variable), value)

    report = load_legacy_weights(model, missing, strict=False)
    assert report.unfilled_targets == ["decoder/decoder_layer_1/mha2/query/bias"]
    assert not report.unmatched_sources and not report.complete

    prefixed = {f"transformer/{k}": v for k, v in case.weights.items()}
    assert load_legacy_weights(model, prefixed, source_prefix="transformer/").complete

    with pytest.raises(TypeError, match="legacy_class"):
        load_legacy_weights(keras.layers.Dense(2), {})
