"""Tests of the 2021 tutorial Transformer reference (:mod:`legacy_ref.tutorial`).

Expectations come from numpy closed forms or from invariances (masking,
determinism, checkpoint round trips), never from hard-coded arrays.
"""

from __future__ import annotations

import ast
import math
import os
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf
import tf_keras

from legacy_ref import tutorial as T

D_MODEL, HEADS, DFF, LAYERS = 16, 4, 32, 2
IN_VOCAB, OUT_VOCAB, PE = 40, 45, 50


def small_transformer(rate: float = 0.1) -> T.Transformer:
    model = T.Transformer(LAYERS, D_MODEL, HEADS, DFF, IN_VOCAB, OUT_VOCAB, PE, PE, rate=rate)
    model([tf.ones((1, 2), tf.int64), tf.ones((1, 2), tf.int64)], training=False)
    return model


def padded_ids(rng: np.random.Generator, vocab: int, lengths: list[int], width: int) -> np.ndarray:
    out = np.zeros((len(lengths), width), np.int64)
    for row, n in enumerate(lengths):
        out[row, :n] = rng.integers(1, vocab, size=n)
    return out


def softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


# ---------------------------------------------------------------------------
# Runtime isolation
# ---------------------------------------------------------------------------


def test_importing_the_reference_leaves_keras_3():
    import keras

    assert keras.__version__.startswith("3"), keras.__version__
    assert tf_keras.__version__.startswith("2")
    assert "TF_USE_LEGACY_KERAS" not in os.environ
    # The reference's layers are Keras 2 layers, not Keras 3 ones.
    assert isinstance(T.MultiHeadAttention(8, 2), tf_keras.layers.Layer)
    assert not isinstance(T.MultiHeadAttention(8, 2), keras.layers.Layer)


def test_reference_source_never_imports_keras():
    root = Path(T.__file__).parent
    for path in [Path(T.__file__), root / "goldens" / "tutorial.py", root / "artefacts" / "tutorial.py"]:
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n == "keras" or n.startswith("keras.") for n in names), (path, names)


# ---------------------------------------------------------------------------
# Positional encoding and masks
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("position,d_model", [(50, 16), (7, 6), (3, 5)])
def test_positional_encoding_matches_closed_form(position, d_model):
    pe = T.positional_encoding(position, d_model)
    assert pe.shape == (1, position, d_model)
    assert pe.dtype == tf.float32

    expected = np.empty((position, d_model))
    for p in range(position):
        for j in range(d_model):
            angle = p / 10000 ** ((2 * (j // 2)) / d_model)
            expected[p, j] = math.sin(angle) if j % 2 == 0 else math.cos(angle)
    np.testing.assert_allclose(pe.numpy()[0], expected, rtol=0, atol=1e-6)


def test_padding_mask_marks_zero_ids():
    seq = np.array([[7, 6, 0, 0, 1], [1, 2, 3, 0, 0], [0, 0, 0, 4, 5]], np.int64)
    mask = T.create_padding_mask(tf.constant(seq)).numpy()
    assert mask.shape == (3, 1, 1, 5)
    assert mask.dtype == np.float32
    np.testing.assert_array_equal(mask[:, 0, 0, :], (seq == 0).astype(np.float32))


@pytest.mark.parametrize("size", [1, 3, 6])
def test_look_ahead_mask_blocks_strictly_future(size):
    mask = T.create_look_ahead_mask(size).numpy()
    assert mask.shape == (size, size)
    rows, cols = np.indices((size, size))
    np.testing.assert_array_equal(mask, (cols > rows).astype(np.float32))


def test_create_masks_combines_padding_and_look_ahead():
    inp = np.array([[3, 4, 0], [5, 0, 0]], np.int64)
    tar = np.array([[1, 2, 3, 0], [1, 0, 0, 0]], np.int64)
    enc, combined, dec = (m.numpy() for m in T.create_masks(tf.constant(inp), tf.constant(tar)))
    np.testing.assert_array_equal(enc[:, 0, 0], (inp == 0).astype(np.float32))
    np.testing.assert_array_equal(dec, enc)
    assert combined.shape == (2, 1, 4, 4)
    rows, cols = np.indices((4, 4))
    for b in range(2):
        expected = np.maximum(cols > rows, (tar[b] == 0)[None, :]).astype(np.float32)
        np.testing.assert_array_equal(combined[b, 0], expected)
    # The method on the model is the same function.
    model = T.Transformer(1, 8, 2, 8, 10, 10, 10, 10)
    for a, b in zip(model.create_masks(inp, tar), (enc, combined, dec)):
        np.testing.assert_array_equal(a.numpy(), b)


# ---------------------------------------------------------------------------
# Attention
# ---------------------------------------------------------------------------


def test_scaled_dot_product_attention_matches_numpy():
    rng = np.random.default_rng(0)
    q = rng.standard_normal((2, 3, 5, 4)).astype(np.float32)
    k = rng.standard_normal((2, 3, 7, 4)).astype(np.float32)
    v = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    mask = (rng.random((2, 1, 1, 7)) < 0.3).astype(np.float32)
    out, weights = T.scaled_dot_product_attention(q, k, v, mask)

    logits = q.astype(np.float64) @ np.swapaxes(k, -1, -2) / np.sqrt(4) + mask * -1e9
    expected_w = softmax(logits)
    np.testing.assert_allclose(weights.numpy(), expected_w, atol=1e-6)
    np.testing.assert_allclose(out.numpy(), expected_w @ v, atol=1e-5)


def test_scaled_dot_product_attention_tutorial_examples():
    # A query aligned with one key returns that key's value; aligned with two
    # identical keys, it returns their average.
    k = np.array([[10, 0, 0], [0, 10, 0], [0, 0, 10], [0, 0, 10]], np.float32)
    v = np.array([[1, 0], [10, 0], [100, 5], [1000, 6]], np.float32)
    q = np.array([[0, 10, 0], [0, 0, 10]], np.float32)
    out, weights = T.scaled_dot_product_attention(q, k, v, None)
    np.testing.assert_allclose(weights.numpy(), [[0, 1, 0, 0], [0, 0, 0.5, 0.5]], atol=1e-6)
    np.testing.assert_allclose(out.numpy(), [[10, 0], [550, 5.5]], rtol=1e-5, atol=1e-6)


def test_multi_head_attention_shapes_and_attributes():
    mha = T.MultiHeadAttention(D_MODEL, HEADS)
    q = tf.random.uniform((3, 5, D_MODEL))
    kv = tf.random.uniform((3, 7, D_MODEL))
    out, weights = mha(kv, kv, q, None)
    assert out.shape == (3, 5, D_MODEL)
    assert weights.shape == (3, HEADS, 5, 7)
    for name in ("wq", "wk", "wv", "dense"):
        dense = getattr(mha, name)
        assert isinstance(dense, tf_keras.layers.Dense)
        assert tuple(dense.kernel.shape) == (D_MODEL, D_MODEL)
    assert mha.split_heads(tf.zeros((3, 5, D_MODEL)), 3).shape == (3, HEADS, 5, D_MODEL // HEADS)


def test_multi_head_attention_matches_numpy_and_argument_order():
    rng = np.random.default_rng(1)
    mha = T.MultiHeadAttention(D_MODEL, HEADS)
    q = rng.standard_normal((2, 5, D_MODEL)).astype(np.float32)
    k = rng.standard_normal((2, 7, D_MODEL)).astype(np.float32)
    v = rng.standard_normal((2, 7, D_MODEL)).astype(np.float32)
    out, weights = mha(v, k, q, None)

    def proj(x, layer):
        y = x @ layer.kernel.numpy() + layer.bias.numpy()
        return y.reshape(x.shape[0], x.shape[1], HEADS, -1).transpose(0, 2, 1, 3)

    qh, kh, vh = proj(q, mha.wq), proj(k, mha.wk), proj(v, mha.wv)
    w = softmax(qh @ np.swapaxes(kh, -1, -2) / np.sqrt(D_MODEL // HEADS))
    concat = (w @ vh).transpose(0, 2, 1, 3).reshape(2, 5, D_MODEL)
    expected = concat @ mha.dense.kernel.numpy() + mha.dense.bias.numpy()
    np.testing.assert_allclose(weights.numpy(), w, atol=1e-5)
    np.testing.assert_allclose(out.numpy(), expected, atol=1e-4)
    # Swapping keys and values must change the result: the order is (v, k, q).
    swapped, _ = mha(k, v, q, None)
    assert not np.allclose(swapped.numpy(), out.numpy(), atol=1e-3)


def test_masked_keys_get_zero_attention_weight():
    rng = np.random.default_rng(2)
    mha = T.MultiHeadAttention(D_MODEL, HEADS)
    x = rng.standard_normal((2, 6, D_MODEL)).astype(np.float32)
    ids = np.array([[5, 6, 7, 0, 0, 0], [1, 2, 3, 4, 5, 0]], np.int64)
    _, weights = mha(x, x, x, T.create_padding_mask(ids))
    weights = weights.numpy()
    blocked = np.broadcast_to((ids == 0)[:, None, None, :], weights.shape)
    # exp(-1e9) underflows to exactly 0 in float32.
    assert np.all(weights[blocked] == 0.0)
    assert np.all(weights[~blocked] > 0.0)
    np.testing.assert_allclose(weights.sum(-1), 1.0, atol=1e-6)


def test_feed_forward_network_structure():
    ffn = T.point_wise_feed_forward_network(D_MODEL, DFF)
    assert isinstance(ffn, tf_keras.Sequential)
    y = ffn(tf.random.uniform((2, 3, D_MODEL)))
    assert y.shape == (2, 3, D_MODEL)
    first, second = ffn.layers
    assert first.units == DFF and first.activation is tf_keras.activations.relu
    assert second.units == D_MODEL


# ---------------------------------------------------------------------------
# Blocks and stacks
# ---------------------------------------------------------------------------


def test_encoder_and_decoder_layer_shapes():
    enc_layer = T.EncoderLayer(D_MODEL, HEADS, DFF)
    x = tf.random.uniform((2, 6, D_MODEL))
    y = enc_layer(x, False, None)
    assert y.shape == (2, 6, D_MODEL)
    for name in ("layernorm1", "layernorm2"):
        assert getattr(enc_layer, name).epsilon == 1e-6

    dec_layer = T.DecoderLayer(D_MODEL, HEADS, DFF)
    tgt = tf.random.uniform((2, 5, D_MODEL))
    out, block1, block2 = dec_layer(tgt, y, False, T.create_look_ahead_mask(5), None)
    assert out.shape == (2, 5, D_MODEL)
    assert block1.shape == (2, HEADS, 5, 5)
    assert block2.shape == (2, HEADS, 5, 6)
    for name in ("mha1", "mha2", "ffn", "layernorm1", "layernorm2", "layernorm3", "dropout1", "dropout2", "dropout3"):
        assert hasattr(dec_layer, name)


def test_encoder_and_decoder_shapes_and_embedding_scale():
    encoder = T.Encoder(LAYERS, D_MODEL, HEADS, DFF, IN_VOCAB, PE)
    ids = tf.constant([[3, 4, 5, 0], [6, 7, 0, 0]], tf.int64)
    enc = encoder(ids, False, T.create_padding_mask(ids))
    assert enc.shape == (2, 4, D_MODEL)
    assert isinstance(encoder.enc_layers, list) and len(encoder.enc_layers) == LAYERS
    assert encoder.pos_encoding.shape == (1, PE, D_MODEL)

    decoder = T.Decoder(LAYERS, D_MODEL, HEADS, DFF, OUT_VOCAB, PE)
    tar = tf.constant([[1, 2, 3], [1, 5, 0]], tf.int64)
    dec, attention = decoder(tar, enc, False, T.create_look_ahead_mask(3), T.create_padding_mask(ids))
    assert dec.shape == (2, 3, D_MODEL)
    assert sorted(attention) == sorted(
        f"decoder_layer{i}_block{b}" for i in range(1, LAYERS + 1) for b in (1, 2)
    )
    assert attention["decoder_layer2_block2"].shape == (2, HEADS, 3, 4)

    # With no layers, the encoder is embedding * sqrt(d_model) + positions.
    bare = T.Encoder(0, D_MODEL, HEADS, DFF, IN_VOCAB, PE)
    out = bare(ids, False, None).numpy()
    table = bare.embedding.embeddings.numpy()
    expected = table[ids.numpy()] * np.sqrt(D_MODEL) + T.positional_encoding(PE, D_MODEL).numpy()[:, :4]
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_transformer_shapes_and_attributes():
    model = small_transformer()
    inp = tf.constant([[3, 4, 5, 0, 0], [6, 7, 8, 9, 2]], tf.int64)
    tar = tf.constant([[1, 2, 3, 0], [1, 5, 6, 7]], tf.int64)
    logits, attention = model([inp, tar], training=False)
    assert logits.shape == (2, 4, OUT_VOCAB)
    assert len(attention) == 2 * LAYERS
    assert attention["decoder_layer1_block1"].shape == (2, HEADS, 4, 4)
    assert attention["decoder_layer1_block2"].shape == (2, HEADS, 4, 5)
    assert isinstance(model, tf_keras.Model)
    assert isinstance(model.final_layer, tf_keras.layers.Dense)
    assert isinstance(model.decoder.dec_layers, list)


def test_inference_is_deterministic_and_training_uses_dropout():
    model = small_transformer(rate=0.5)
    inp = tf.constant([[3, 4, 5, 6]], tf.int64)
    tar = tf.constant([[1, 2, 3]], tf.int64)
    a, _ = model([inp, tar], training=False)
    b, _ = model([inp, tar], training=False)
    c, _ = model([inp, tar], training=True)
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    assert not np.allclose(a.numpy(), c.numpy())


def test_look_ahead_mask_hides_the_future():
    rng = np.random.default_rng(3)
    model = small_transformer()
    inp = padded_ids(rng, IN_VOCAB, [6, 4], 6)
    tar = padded_ids(rng, OUT_VOCAB, [7, 7], 7)
    base, _ = model([inp, tar], training=False)
    for i in range(tar.shape[1] - 1):
        changed = tar.copy()
        # Replace every later token by a different non-pad id.
        changed[:, i + 1 :] = (changed[:, i + 1 :] % (OUT_VOCAB - 1)) + 1
        assert np.all(changed[:, i + 1 :] != tar[:, i + 1 :])
        out, _ = model([inp, changed], training=False)
        np.testing.assert_allclose(out.numpy()[:, : i + 1], base.numpy()[:, : i + 1], atol=1e-6)
        # ...while the changed positions themselves do move (the test can fail).
        assert not np.allclose(out.numpy()[:, i + 1 :], base.numpy()[:, i + 1 :], atol=1e-4)


def test_padded_source_tokens_do_not_matter():
    rng = np.random.default_rng(4)
    model = small_transformer()
    inp = padded_ids(rng, IN_VOCAB, [4, 6], 6)
    tar = padded_ids(rng, OUT_VOCAB, [5, 5], 5)
    longer = np.concatenate([inp, np.zeros((2, 3), np.int64)], axis=1)
    a, _ = model([inp, tar], training=False)
    b, _ = model([longer, tar], training=False)
    np.testing.assert_allclose(a.numpy(), b.numpy(), atol=1e-5)


# ---------------------------------------------------------------------------
# Schedule, loss, optimizer
# ---------------------------------------------------------------------------


def noam(step: np.ndarray, d_model: int, warmup: int) -> np.ndarray:
    step = np.asarray(step, np.float64)
    with np.errstate(divide="ignore"):
        return d_model**-0.5 * np.minimum(step**-0.5, step * warmup**-1.5)


def test_noam_schedule_matches_closed_form_and_peaks_at_warmup():
    schedule = T.CustomSchedule(128)
    assert schedule.warmup_steps == 4000
    steps = np.arange(0, 12001, dtype=np.float32)
    rates = schedule(tf.constant(steps)).numpy()
    np.testing.assert_allclose(rates, noam(steps, 128, 4000), rtol=1e-5)
    assert rates[0] == 0.0
    assert int(np.argmax(rates)) == 4000
    np.testing.assert_allclose(rates.max(), (128 * 4000) ** -0.5, rtol=1e-6)


def test_noam_schedule_fails_on_integer_step_like_2021():
    schedule = T.CustomSchedule(16, warmup_steps=10)
    with pytest.raises((tf.errors.InvalidArgumentError, TypeError, ValueError)):
        schedule(tf.constant(5, tf.int64))
    value = schedule(tf.constant(5, tf.float32))
    np.testing.assert_allclose(value.numpy(), noam(5, 16, 10), rtol=1e-6)


def test_noam_schedule_config_round_trips():
    schedule = T.CustomSchedule(64, warmup_steps=123)
    config = schedule.get_config()
    assert config == {"d_model": 64, "warmup_steps": 123}
    clone = T.CustomSchedule.from_config(config)
    steps = tf.constant([1.0, 50.0, 123.0, 500.0])
    np.testing.assert_array_equal(clone(steps).numpy(), schedule(steps).numpy())


def test_legacy_optimizer_feeds_a_float_step_starting_at_zero():
    optimizer = T.make_optimizer(16, warmup_steps=10)
    assert isinstance(optimizer, tf_keras.optimizers.legacy.Adam)
    assert isinstance(optimizer.learning_rate, T.CustomSchedule)
    config = optimizer.get_config()
    assert (config["beta_1"], config["beta_2"], config["epsilon"]) == (0.9, 0.98, 1e-9)

    var = tf.Variable([1.0, -2.0])
    optimizer.apply_gradients([(tf.constant([0.5, 0.5]), var)])
    # Step 1 uses lr(0) == 0: nothing moves (but the step did not fail).
    np.testing.assert_array_equal(var.numpy(), [1.0, -2.0])
    optimizer.apply_gradients([(tf.constant([0.5, 0.5]), var)])
    assert np.all(var.numpy() < [1.0, -2.0])


def test_loss_and_accuracy_ignore_padding():
    rng = np.random.default_rng(5)
    real = np.array([[3, 1, 4, 0, 0], [2, 2, 0, 0, 0]], np.int64)
    pred = rng.standard_normal((2, 5, 6)).astype(np.float32)
    pred[0, 0, 3] = 10.0  # one certain hit
    log_probs = pred - np.log(np.exp(pred).sum(-1, keepdims=True))
    nll = -np.take_along_axis(log_probs, real[..., None], axis=-1)[..., 0]
    mask = real != 0
    np.testing.assert_allclose(T.loss_function(real, pred).numpy(), nll[mask].mean(), rtol=1e-5)
    hits = (pred.argmax(-1) == real) & mask
    np.testing.assert_allclose(T.accuracy_function(real, pred).numpy(), hits.sum() / mask.sum(), rtol=1e-6)
    # Changing predictions at padded positions changes nothing.
    pred2 = pred.copy()
    pred2[~mask] = 100 * rng.standard_normal((int((~mask).sum()), 6))
    assert T.loss_function(real, pred2).numpy() == T.loss_function(real, pred).numpy()


@pytest.mark.slow
def test_training_steps_lower_the_loss():
    tf_keras.utils.set_random_seed(0)
    model = small_transformer(rate=0.0)
    optimizer = T.make_optimizer(D_MODEL, warmup_steps=20)
    train_step, train_loss, train_accuracy = T.make_train_step(model, optimizer)
    rng = np.random.default_rng(6)
    inp = tf.constant(padded_ids(rng, IN_VOCAB, [7, 5, 6, 3], 7))
    tar = tf.constant(padded_ids(rng, OUT_VOCAB, [8, 6, 7, 4], 8))
    losses = [float(train_step(inp, tar)) for _ in range(15)]
    # Step 2 repeats step 1 exactly: the first update had learning rate 0.
    assert losses[1] == pytest.approx(losses[0], abs=1e-6)
    assert losses[-1] < 0.8 * losses[0], losses
    assert int(optimizer.iterations.numpy()) == 15
    np.testing.assert_allclose(train_loss.result().numpy(), np.mean(losses), rtol=1e-5)
    assert 0.0 <= float(train_accuracy.result()) <= 1.0
    # No retrace for new batch sizes or lengths, thanks to the input signature.
    # (The count is not 1: the first call traces again once the optimizer's
    # slot variables, created during the first trace, exist.)
    traces = train_step.experimental_get_tracing_count()
    longer = tf.concat([inp, tf.zeros((4, 2), tf.int64)], axis=1)
    train_step(longer[:2], tar[:2, :5])
    assert train_step.experimental_get_tracing_count() == traces


# ---------------------------------------------------------------------------
# Checkpoints
# ---------------------------------------------------------------------------


def test_named_variables_agree_with_checkpoint_keys():
    model = small_transformer()
    names = T.named_variables(model)
    keys = T.checkpoint_keys(model)
    assert set(names) == set(keys)
    assert len(names) == len(model.variables)
    for name in (
        "encoder/enc_layers/0/mha/wq/kernel",
        "encoder/embedding/embeddings",
        "encoder/enc_layers/1/ffn/layer_with_weights-1/bias",
        "decoder/dec_layers/1/mha2/dense/kernel",
        "decoder/dec_layers/0/layernorm3/gamma",
        "final_layer/kernel",
    ):
        assert name in names, name
        assert tuple(names[name].shape) == keys[name]
    assert names["final_layer/kernel"] is model.final_layer.kernel
    assert T.variable_checkpoint_name(model, model.encoder.enc_layers[1].mha.wv.bias) == (
        "encoder/enc_layers/1/mha/wv/bias"
    )


@pytest.mark.slow
def test_checkpoint_manager_round_trip(tmp_path):
    rng = np.random.default_rng(7)
    inp = tf.constant(padded_ids(rng, IN_VOCAB, [6, 3], 6))
    tar = tf.constant(padded_ids(rng, OUT_VOCAB, [7, 5], 7))

    model = small_transformer(rate=0.0)
    optimizer = T.make_optimizer(D_MODEL, warmup_steps=10)
    train_step, _, _ = T.make_train_step(model, optimizer)
    ckpt, manager = T.make_checkpoint_manager(model, optimizer, tmp_path / "train", max_to_keep=2)
    assert manager.latest_checkpoint is None
    for _ in range(3):
        train_step(inp, tar)
        manager.save()
    assert len(manager.checkpoints) == 2  # max_to_keep pruned the first
    assert manager.latest_checkpoint == tf.train.latest_checkpoint(str(tmp_path / "train"))
    expected, _ = model([inp, tar], training=False)

    keys = dict(tf.train.list_variables(manager.latest_checkpoint))
    assert keys["transformer/encoder/enc_layers/0/mha/wq/kernel/.ATTRIBUTES/VARIABLE_VALUE"] == [D_MODEL, D_MODEL]
    assert keys["transformer/final_layer/kernel/.ATTRIBUTES/VARIABLE_VALUE"] == [D_MODEL, OUT_VOCAB]
    assert keys["transformer/final_layer/bias/.ATTRIBUTES/VARIABLE_VALUE"] == [OUT_VOCAB]
    for slot in ("m", "v"):
        key = f"transformer/final_layer/kernel/.OPTIMIZER_SLOT/optimizer/{slot}/.ATTRIBUTES/VARIABLE_VALUE"
        assert keys[key] == [D_MODEL, OUT_VOCAB]
    assert "optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE" in keys
    assert "_CHECKPOINTABLE_OBJECT_GRAPH" in keys
    n_slots = sum("/.OPTIMIZER_SLOT/" in k for k in keys)
    assert n_slots == 2 * len(model.trainable_variables)
    reader = tf.train.load_checkpoint(manager.latest_checkpoint)
    assert reader.get_tensor("optimizer/iter/.ATTRIBUTES/VARIABLE_VALUE") == 3

    # A fresh model and optimizer: the manager restores the latest, as in 2021.
    fresh = small_transformer(rate=0.0)
    before, _ = fresh([inp, tar], training=False)
    assert not np.allclose(before.numpy(), expected.numpy(), atol=1e-3)
    fresh_opt = T.make_optimizer(D_MODEL, warmup_steps=10)
    T.make_checkpoint_manager(fresh, fresh_opt, tmp_path / "train", max_to_keep=2)
    restored, _ = fresh([inp, tar], training=False)
    np.testing.assert_array_equal(restored.numpy(), expected.numpy())
    assert int(fresh_opt.iterations.numpy()) == 3

    # Deferred restore: variables created after restore() are filled on creation.
    late = T.Transformer(LAYERS, D_MODEL, HEADS, DFF, IN_VOCAB, OUT_VOCAB, PE, PE, rate=0.0)
    tf.train.Checkpoint(transformer=late).restore(manager.latest_checkpoint).expect_partial()
    late_out, _ = late([inp, tar], training=False)
    np.testing.assert_array_equal(late_out.numpy(), expected.numpy())


# ---------------------------------------------------------------------------
# Greedy decoding
# ---------------------------------------------------------------------------


def test_greedy_decode_contract():
    model = small_transformer()
    encoder_input = tf.constant([[5, 9, 12, 3, 0]], tf.int64)
    start, max_length = 1, 8
    free, attention = T.greedy_decode(model, encoder_input, start, -1, max_length=max_length)
    ids = free.numpy()
    assert free.dtype == tf.int64
    assert ids.shape == (1, max_length + 1)  # never stopped
    assert ids[0, 0] == start
    # Attention was recomputed on output[:, :-1].
    assert attention[f"decoder_layer{LAYERS}_block2"].shape == (1, HEADS, max_length, 5)

    again, _ = T.greedy_decode(model, encoder_input, start, -1, max_length=max_length)
    np.testing.assert_array_equal(again.numpy(), ids)

    # Each token is the argmax of the model on the prefix before it.
    logits, _ = model([encoder_input, ids[:, :-1]], training=False)
    np.testing.assert_array_equal(logits.numpy()[0].argmax(-1), ids[0, 1:])

    # Declaring a generated token the end id stops right after it.
    end = int(ids[0, 3])
    first = 1 + list(ids[0, 1:]).index(end)
    stopped, attention = T.greedy_decode(model, encoder_input[0], start, end, max_length=max_length)
    np.testing.assert_array_equal(stopped.numpy(), ids[:, : first + 1])
    assert stopped.numpy()[0, -1] == end
    assert attention["decoder_layer1_block1"].shape == (1, HEADS, first, first)
