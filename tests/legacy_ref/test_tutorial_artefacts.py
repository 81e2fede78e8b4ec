"""Tests of the tutorial's golden cases and of its TF object-checkpoint artefact.

The goldens are checked for naming (a fresh legacy object loaded *by name*
from a case reproduces the case's outputs), for closed forms where one exists,
and for determinism. The artefact is checked the way the weight porter will
use it: read by key, restored into a rebuilt model, compared with its probe.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import tensorflow as tf

from legacy_ref import tutorial as T
from legacy_ref.artefacts import tutorial as A
from legacy_ref.goldens import tutorial as G
from legacy_ref.goldens.format import GoldenCase

VALUE = "/.ATTRIBUTES/VARIABLE_VALUE"


@pytest.fixture(scope="module")
def golden() -> dict[str, GoldenCase]:
    return G.cases()


def assign_by_name(obj: tf.Module, weights: dict[str, np.ndarray]) -> None:
    variables = T.named_variables(obj)
    assert set(variables) == set(weights), set(variables) ^ set(weights)
    for name, var in variables.items():
        assert tuple(var.shape) == weights[name].shape, name
        var.assign(weights[name])


# ---------------------------------------------------------------------------
# Goldens
# ---------------------------------------------------------------------------

EXPECTED_CASES = {
    "tutorial_positional_encoding",
    "tutorial_masks",
    "tutorial_scaled_dot_product_attention",
    "tutorial_noam_schedule",
    "tutorial_mha_padding",
    "tutorial_mha_look_ahead",
    "tutorial_mha_cross",
    "tutorial_mha_batch1",
    "tutorial_encoder_layer",
    "tutorial_decoder_layer",
    "tutorial_encoder",
    "tutorial_decoder",
    "tutorial_transformer",
    "tutorial_greedy_decode",
    "tutorial_greedy_decode_max_length",
    "tutorial_transformer_train",
}


@pytest.mark.slow
def test_golden_cases_are_complete_small_and_round_trip(golden, tmp_path):
    assert set(golden) == EXPECTED_CASES
    for name, case in golden.items():
        assert case.outputs, name
        path = tmp_path / f"{name}.npz"
        case.save(path)
        assert path.stat().st_size < 200_000, (name, path.stat().st_size)
        loaded = GoldenCase.load(path)
        assert loaded.config == json.loads(json.dumps(case.config))
        for group in ("inputs", "weights", "outputs"):
            ours, theirs = getattr(case, group), getattr(loaded, group)
            assert set(ours) == set(theirs)
            for key in ours:
                np.testing.assert_array_equal(np.asarray(ours[key]), theirs[key])
        for key, value in case.to_arrays().items():
            if key != "config" and value.dtype.kind == "f":
                assert value.dtype == np.float32, (name, key)
                assert np.all(np.isfinite(value)), (name, key)


@pytest.mark.slow
def test_golden_closed_forms(golden):
    pe = golden["tutorial_positional_encoding"]
    position, d_model = pe.config["args"]["position"], pe.config["args"]["d_model"]
    p, j = np.indices((position, d_model))
    angle = p / 10000 ** ((2 * (j // 2)) / d_model)
    np.testing.assert_allclose(pe.outputs["pe"][0], np.where(j % 2 == 0, np.sin(angle), np.cos(angle)), atol=1e-6)

    noam = golden["tutorial_noam_schedule"]
    steps = noam.inputs["step"].astype(np.float64)
    args = noam.config["args"]
    with np.errstate(divide="ignore"):
        expected = args["d_model"] ** -0.5 * np.minimum(steps**-0.5, steps * args["warmup_steps"] ** -1.5)
    np.testing.assert_allclose(noam.outputs["learning_rate"], expected, rtol=1e-5)

    masks = golden["tutorial_masks"]
    inp, tar = masks.inputs["inp"], masks.inputs["tar"]
    np.testing.assert_array_equal(masks.outputs["padding_mask"][:, 0, 0], inp == 0)
    rows, cols = np.indices((tar.shape[1],) * 2)
    np.testing.assert_array_equal(masks.outputs["look_ahead_mask"], cols > rows)
    np.testing.assert_array_equal(
        masks.outputs["look_ahead_combined"][:, 0], np.maximum(cols > rows, (tar == 0)[:, None, :])
    )

    train = golden["tutorial_transformer_train"]
    sched = train.config["optimizer"]["schedule"]
    k = np.arange(train.config["steps"], dtype=np.float64)  # iterations before each update
    with np.errstate(divide="ignore"):
        lrs = sched["d_model"] ** -0.5 * np.minimum(k**-0.5, k * sched["warmup_steps"] ** -1.5)
    np.testing.assert_allclose(train.outputs["learning_rates"], lrs, rtol=1e-6)


@pytest.mark.slow
def test_golden_weights_by_name_reproduce_layer_outputs(golden):
    """Loading a case's weights by checkpoint name into a fresh object gives its outputs."""
    case = golden["tutorial_mha_cross"]
    layer = T.MultiHeadAttention(**case.config["args"])
    i = case.inputs
    layer(i["v"], i["k"], i["q"], i["mask"])
    assign_by_name(layer, case.weights)
    out, attn = layer(i["v"], i["k"], i["q"], i["mask"])
    np.testing.assert_allclose(out.numpy(), case.outputs["output"], atol=1e-6)
    np.testing.assert_allclose(attn.numpy(), case.outputs["attention_weights"], atol=1e-6)
    assert "wq/kernel" in case.weights and "dense/bias" in case.weights

    case = golden["tutorial_decoder"]
    layer = T.Decoder(**case.config["args"])
    i = case.inputs
    call = (i["x"], i["enc_output"], False, i["look_ahead_mask"], i["padding_mask"])
    layer(*call)
    assign_by_name(layer, case.weights)
    y, attention = layer(*call)
    np.testing.assert_allclose(y.numpy(), case.outputs["y"], atol=1e-6)
    for key, value in attention.items():
        np.testing.assert_allclose(value.numpy(), case.outputs[key], atol=1e-6)


@pytest.mark.slow
def test_golden_transformer_and_decoding_reproduce(golden):
    case = golden["tutorial_transformer"]
    assert "encoder/enc_layers/0/mha/wq/kernel" in case.weights
    assert "final_layer/kernel" in case.weights
    model = T.Transformer(**case.config["args"])
    inp, tar = case.inputs["inp"], case.inputs["tar"]
    assert (inp == 0).any() and (tar == 0).any()  # the case exercises padding
    model([inp, tar], training=False)
    assign_by_name(model, case.weights)
    logits, attention = model([inp, tar], training=False)
    np.testing.assert_allclose(logits.numpy(), case.outputs["logits"], atol=1e-6)
    assert {f"decoder_layer{i}_block{b}" for i in (1, 2) for b in (1, 2)} <= set(case.outputs)
    for key, value in attention.items():
        np.testing.assert_allclose(value.numpy(), case.outputs[key], atol=1e-6)

    for name, stops in (("tutorial_greedy_decode", True), ("tutorial_greedy_decode_max_length", False)):
        case = golden[name]
        cfg = case.config
        assert cfg["stopped_at_end"] is stops
        assert cfg["min_argmax_margin"] > 1e-3  # argmax is robust to 1e-5 noise
        model = T.Transformer(**cfg["args"])
        model([case.inputs["encoder_input"], case.inputs["encoder_input"][:, :1]], training=False)
        assign_by_name(model, case.weights)
        ids, attention = T.greedy_decode(
            model, case.inputs["encoder_input"], cfg["start_id"], cfg["end_id"], cfg["max_length"]
        )
        np.testing.assert_array_equal(ids.numpy(), case.outputs["ids"])
        assert ids.numpy()[0, 0] == cfg["start_id"]
        if stops:
            assert ids.shape[1] <= cfg["max_length"] and ids.numpy()[0, -1] == cfg["end_id"]
        else:
            assert ids.shape[1] == cfg["max_length"] + 1 and cfg["end_id"] not in ids.numpy()[0, 1:]
        np.testing.assert_allclose(
            attention["decoder_layer2_block2"].numpy(), case.outputs["decoder_layer2_block2"], atol=1e-6
        )


@pytest.mark.slow
def test_golden_training_case_reruns_identically(golden):
    case = golden["tutorial_transformer_train"]
    cfg = case.config
    assert cfg["args"]["rate"] == 0.0
    model = T.Transformer(**cfg["args"])
    model([case.inputs["inp"][0], case.inputs["tar"][0]], training=False)
    assign_by_name(model, case.weights)
    optimizer = T.make_optimizer(cfg["args"]["d_model"], cfg["optimizer"]["schedule"]["warmup_steps"])
    train_step, _, _ = T.make_train_step(model, optimizer)
    losses = [float(train_step(tf.constant(a), tf.constant(b))) for a, b in zip(case.inputs["inp"], case.inputs["tar"])]
    np.testing.assert_allclose(losses, case.outputs["losses"], rtol=1e-5)
    # A random 45-way classifier starts near log(45) and the losses move.
    assert abs(losses[0] - math.log(45)) < 1.5
    assert len(set(np.round(losses, 4))) == len(losses)
    inp0, tar0 = case.inputs["inp"][0], case.inputs["tar"][0]
    after, _ = model([inp0, tar0[:, :-1]], training=False)
    np.testing.assert_allclose(after.numpy(), case.outputs["logits_after"], atol=1e-5)


@pytest.mark.slow
def test_golden_generation_is_deterministic(golden):
    again = G._transformer(G._BASE_SEED + 11)  # the seed cases() uses for this case
    first = golden["tutorial_transformer"]
    assert again.config == first.config
    for group in ("inputs", "weights", "outputs"):
        for key, value in getattr(first, group).items():
            np.testing.assert_array_equal(getattr(again, group)[key], value)


# ---------------------------------------------------------------------------
# The checkpoint artefact
# ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def artefact(tmp_path_factory) -> tuple[Path, list[Path]]:
    out = tmp_path_factory.mktemp("artefacts")
    return out / A.CKPT_DIR, A.write_artefacts(out)


@pytest.mark.slow
def test_artefact_files_and_sizes(artefact):
    directory, files = artefact
    names = {p.name for p in files}
    assert names == {
        "checkpoint",
        "ckpt-1.index",
        "ckpt-1.data-00000-of-00001",
        "ckpt-2.index",
        "ckpt-2.data-00000-of-00001",
        "model_args.json",
        "probe.npz",
    }
    assert all(p.parent == directory for p in files)
    assert sum(p.stat().st_size for p in files) < 1_000_000
    assert tf.train.latest_checkpoint(str(directory)) == str(directory / "ckpt-2")
    # The state file has relative paths only (the directory can move) and no timestamps.
    state = (directory / "checkpoint").read_text()
    assert str(directory) not in state and "timestamp" not in state


@pytest.mark.slow
def test_artefact_keys_are_the_tutorial_object_paths(artefact):
    directory, _ = artefact
    prefix = str(directory / "ckpt-2")
    keys = dict(tf.train.list_variables(prefix))
    d, heads_vocab = A.ARTEFACT_ARGS["d_model"], A.ARTEFACT_ARGS["target_vocab_size"]
    assert keys["transformer/encoder/enc_layers/0/mha/wq/kernel" + VALUE] == [d, d]
    assert keys["transformer/decoder/dec_layers/1/mha2/wv/bias" + VALUE] == [d]
    assert keys["transformer/encoder/embedding/embeddings" + VALUE] == [A.ARTEFACT_ARGS["input_vocab_size"], d]
    assert keys["transformer/final_layer/kernel" + VALUE] == [d, heads_vocab]
    assert "transformer/final_layer/kernel/.OPTIMIZER_SLOT/optimizer/m" + VALUE in keys
    assert "transformer/final_layer/kernel/.OPTIMIZER_SLOT/optimizer/v" + VALUE in keys
    for key in ("optimizer/iter", "optimizer/beta_1", "optimizer/beta_2", "optimizer/decay", "save_counter"):
        assert key + VALUE in keys, key

    # Every model variable of the rebuilt architecture is in the checkpoint.
    model_keys = {
        k[len("transformer/") : -len(VALUE)]: tuple(v)
        for k, v in keys.items()
        if k.startswith("transformer/") and k.endswith(VALUE) and "/.OPTIMIZER_SLOT/" not in k
    }
    assert model_keys == T.checkpoint_keys(A.build_artefact_model())

    reader1 = tf.train.load_checkpoint(str(directory / "ckpt-1"))
    reader2 = tf.train.load_checkpoint(prefix)
    assert reader1.get_tensor("optimizer/iter" + VALUE) == 1
    assert reader2.get_tensor("optimizer/iter" + VALUE) == A.TRAIN_STEPS
    key = "transformer/encoder/enc_layers/0/ffn/layer_with_weights-0/kernel" + VALUE
    assert not np.array_equal(reader1.get_tensor(key), reader2.get_tensor(key))


@pytest.mark.slow
def test_artefact_restores_into_a_rebuilt_model(artefact):
    directory, _ = artefact
    info = json.loads((directory / "model_args.json").read_text())
    assert info["args"] == A.ARTEFACT_ARGS
    assert info["latest"] == "ckpt-2"
    probe = np.load(directory / "probe.npz")

    # Direct restore of the model part only.
    model = T.Transformer(**info["args"])
    model([probe["inp"], probe["tar"]], training=False)
    tf.train.Checkpoint(transformer=model).restore(tf.train.latest_checkpoint(str(directory))).expect_partial()
    logits, _ = model([probe["inp"], probe["tar"]], training=False)
    np.testing.assert_allclose(logits.numpy(), probe["logits"], atol=1e-6)

    # The 2021 path: a manager over the directory restores the latest on creation.
    model2 = A.build_artefact_model()
    optimizer = T.make_optimizer(info["args"]["d_model"], info["optimizer"]["schedule"]["warmup_steps"])
    _, manager = T.make_checkpoint_manager(model2, optimizer, directory)
    assert Path(manager.latest_checkpoint).name == "ckpt-2"
    logits2, _ = model2([probe["inp"], probe["tar"]], training=False)
    np.testing.assert_array_equal(logits2.numpy(), logits.numpy())
    assert int(optimizer.iterations.numpy()) == A.TRAIN_STEPS


@pytest.mark.slow
def test_artefact_is_byte_reproducible(artefact, tmp_path):
    directory, files = artefact
    again = A.write_artefacts(tmp_path)
    assert [p.name for p in again] == [p.name for p in files]
    for a, b in zip(files, again):
        assert a.read_bytes() == b.read_bytes(), a.name
