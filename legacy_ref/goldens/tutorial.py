"""Golden cases for the 2021 tutorial Transformer (:mod:`legacy_ref.tutorial`).

Every case is produced by running the legacy code on ``tf_keras`` in inference
mode (``training=False``, passed positionally as the 2021 code does) with
weights drawn from ``numpy.random.default_rng(seed)``, never from TensorFlow's
initialisers, so the arrays do not depend on TF's random-op counters.

Weights are stored under their object-checkpoint path relative to the object
the case is about (``wq/kernel`` for a ``MultiHeadAttention`` case,
``encoder/enc_layers/0/mha/wq/kernel`` for the whole ``Transformer``): exactly
the key a ``tf.train.Checkpoint`` writes, minus the root name and
``/.ATTRIBUTES/VARIABLE_VALUE``. Masks are the tutorial's additive float masks
(1.0 = blocked).

Sizes are small (``d_model`` 16, 4 heads, ``dff`` 32, 2 layers, vocabularies
40/45, position tables of 50) so every file stays far below 200 KB.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import tensorflow as tf

from legacy_ref import tutorial as T
from legacy_ref.goldens.format import GoldenCase

__all__ = ["cases", "SMALL", "fill_weights"]

# The shared model size of the layer and model cases (and of legacy_ref.artefacts.tutorial).
SMALL: dict[str, int] = {
    "num_layers": 2,
    "d_model": 16,
    "num_heads": 4,
    "dff": 32,
    "input_vocab_size": 40,
    "target_vocab_size": 45,
    "pe_input": 50,
    "pe_target": 50,
}
_BASE_SEED = 20210811  # the date of the tutorial's recorded run


def _draw(name: str, shape: tuple[int, ...], rng: np.random.Generator) -> np.ndarray:
    """A weight of order-1 effect for the variable called ``name``.

    Kernels are scaled by ``1/sqrt(fan_in)`` so activations stay of order 1
    through the stack; LayerNorm scales sit near 1 so normalisation is not
    trivially the identity nor degenerate.
    """
    leaf = name.rsplit("/", 1)[-1]
    if leaf == "kernel":
        return rng.standard_normal(shape) / np.sqrt(shape[0])
    if leaf == "gamma":
        return 1.0 + 0.2 * rng.standard_normal(shape)
    if leaf in ("bias", "beta"):
        return 0.2 * rng.standard_normal(shape)
    if leaf == "embeddings":
        return rng.standard_normal(shape)
    raise ValueError(f"no drawing rule for weight {name!r}")


def fill_weights(obj: tf.Module, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Overwrite every variable of the (built) ``obj`` with drawn values.

    Variables are visited in sorted checkpoint-name order so the draw depends
    only on the names and shapes, not on creation order. Returns the values by
    name, as float32.
    """
    values: dict[str, np.ndarray] = {}
    for name, var in T.named_variables(obj).items():
        value = _draw(name, tuple(var.shape), rng).astype(np.float32)
        var.assign(value)
        values[name] = value
    return values


def _ids(rng: np.random.Generator, vocab: int, lengths: list[int], width: int) -> np.ndarray:
    """int64 ids ``(len(lengths), width)``: row ``i`` has ``lengths[i]`` ids in
    ``[1, vocab)`` followed by zero padding."""
    out = np.zeros((len(lengths), width), dtype=np.int64)
    for row, n in enumerate(lengths):
        out[row, :n] = rng.integers(1, vocab, size=n)
    return out


def _np(x: Any) -> np.ndarray:
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def _attention_outputs(weights: dict[str, tf.Tensor]) -> dict[str, np.ndarray]:
    return {name: _np(value) for name, value in sorted(weights.items())}


def _model_args(**overrides: Any) -> dict[str, Any]:
    args: dict[str, Any] = dict(SMALL, rate=0.1)
    args.update(overrides)
    return args


def _block_args() -> dict[str, Any]:
    """Constructor arguments of an ``EncoderLayer`` or ``DecoderLayer`` of the shared size."""
    return {"d_model": SMALL["d_model"], "num_heads": SMALL["num_heads"], "dff": SMALL["dff"], "rate": 0.1}


def _stack_args(vocab_size: str, pe: str) -> dict[str, Any]:
    """Constructor arguments of an ``Encoder`` (``input_vocab_size``, ``pe_input``) or ``Decoder``."""
    return {
        "num_layers": SMALL["num_layers"],
        **_block_args(),
        vocab_size: SMALL[vocab_size],
        "maximum_position_encoding": SMALL[pe],
    }


def _filled_call(layer: Any, rng: np.random.Generator, *args: Any) -> tuple[dict[str, np.ndarray], Any]:
    """Call ``layer(*args)`` to build it, fill its weights from ``rng``, call it again.

    Returns the drawn weights by checkpoint name and the second call's result.
    """
    layer(*args)
    weights = fill_weights(layer, rng)
    return weights, layer(*args)


def _encoder_case(
    layer: Any, args: dict[str, Any], rng: np.random.Generator, x: np.ndarray, mask: np.ndarray
) -> GoldenCase:
    """The case of one ``EncoderLayer`` or ``Encoder`` call with filled weights."""
    weights, y = _filled_call(layer, rng, x, False, mask)
    return GoldenCase(
        config={"layer": type(layer).__name__, "args": args, "call": "layer(x, training=False, mask)"},
        inputs={"x": x, "mask": mask},
        weights=weights,
        outputs={"y": _np(y)},
    )


def _decoder_case(
    layer: Any,
    args: dict[str, Any],
    rng: np.random.Generator,
    inputs: dict[str, np.ndarray],
    outputs: Callable[[Any], dict[str, np.ndarray]],
) -> GoldenCase:
    """The case of one ``DecoderLayer`` or ``Decoder`` call with filled weights.

    ``inputs`` holds ``x``, ``enc_output``, ``look_ahead_mask`` and
    ``padding_mask``; ``outputs`` names the arrays of the call's result.
    """
    call_args = (inputs["x"], inputs["enc_output"], False, inputs["look_ahead_mask"], inputs["padding_mask"])
    weights, result = _filled_call(layer, rng, *call_args)
    return GoldenCase(
        config={
            "layer": type(layer).__name__,
            "args": args,
            "call": "layer(x, enc_output, training=False, look_ahead_mask, padding_mask)",
        },
        inputs=inputs,
        weights=weights,
        outputs=outputs(result),
    )


# ---------------------------------------------------------------------------
# Functions
# ---------------------------------------------------------------------------


def _positional_encoding() -> GoldenCase:
    args = {"position": SMALL["pe_input"], "d_model": SMALL["d_model"]}
    return GoldenCase(
        config={"function": "positional_encoding", "args": args},
        outputs={"pe": _np(T.positional_encoding(**args))},
    )


def _masks(seed: int) -> GoldenCase:
    rng = np.random.default_rng(seed)
    inp = _ids(rng, SMALL["input_vocab_size"], [6, 3, 1], 6)
    inp[2, 4] = 7  # a zero in the middle: padding is "id == 0", not "after the end"
    tar = _ids(rng, SMALL["target_vocab_size"], [5, 2, 4], 5)
    enc, combined, dec = T.create_masks(tf.constant(inp), tf.constant(tar))
    return GoldenCase(
        config={"function": "create_masks", "look_ahead_size": tar.shape[1]},
        inputs={"inp": inp, "tar": tar},
        outputs={
            "padding_mask": _np(T.create_padding_mask(tf.constant(inp))),
            "look_ahead_mask": _np(T.create_look_ahead_mask(tar.shape[1])),
            "enc_padding_mask": _np(enc),
            "look_ahead_combined": _np(combined),
            "dec_padding_mask": _np(dec),
        },
    )


def _sdpa(seed: int) -> GoldenCase:
    rng = np.random.default_rng(seed)
    q = rng.standard_normal((2, 3, 5, 4)).astype(np.float32)
    k = rng.standard_normal((2, 3, 7, 4)).astype(np.float32)
    v = rng.standard_normal((2, 3, 7, 6)).astype(np.float32)
    mask = _np(T.create_padding_mask(tf.constant(_ids(rng, 9, [7, 4], 7))))
    out, weights = T.scaled_dot_product_attention(q, k, v, mask)
    return GoldenCase(
        config={"function": "scaled_dot_product_attention"},
        inputs={"q": q, "k": k, "v": v, "mask": mask},
        outputs={"output": _np(out), "attention_weights": _np(weights)},
    )


def _noam_schedule() -> GoldenCase:
    d_model, warmup = 128, 4000  # the tutorial's own values
    steps = np.array(
        [0, 1, 2, 10, 100, 1000, 3999, 4000, 4001, 8000, 20000, 39999], dtype=np.float32
    )
    schedule = T.CustomSchedule(d_model, warmup)
    return GoldenCase(
        config={"schedule": "CustomSchedule", "args": schedule.get_config()},
        inputs={"step": steps},
        outputs={"learning_rate": _np(schedule(tf.constant(steps)))},
    )


# ---------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------


def _mha(seed: int, *, batch: int, q_len: int, kv_len: int, mask_kind: str, self_attention: bool) -> GoldenCase:
    """One ``MultiHeadAttention`` call; ``mask_kind`` is padding, look_ahead or none."""
    rng = np.random.default_rng(seed)
    d_model, heads = SMALL["d_model"], SMALL["num_heads"]
    layer = T.MultiHeadAttention(d_model, heads)

    q = rng.standard_normal((batch, q_len, d_model)).astype(np.float32)
    if self_attention:
        k = v = q
    else:
        # Distinct keys and values pin the (v, k, q) argument order.
        k = rng.standard_normal((batch, kv_len, d_model)).astype(np.float32)
        v = rng.standard_normal((batch, kv_len, d_model)).astype(np.float32)
    if mask_kind == "padding":
        lengths = [kv_len - (2 * row) % kv_len or kv_len for row in range(batch)]
        mask = _np(T.create_padding_mask(tf.constant(_ids(rng, 9, lengths, kv_len))))
    elif mask_kind == "look_ahead":
        mask = _np(T.create_look_ahead_mask(q_len))
    else:
        mask = None

    weights, (out, attn) = _filled_call(layer, rng, v, k, q, mask)

    inputs = {"v": v, "k": k, "q": q}
    if mask is not None:
        inputs["mask"] = mask
    return GoldenCase(
        config={
            "layer": "MultiHeadAttention",
            "args": {"d_model": d_model, "num_heads": heads},
            "call": "layer(v, k, q, mask)",
            "mask": mask_kind,
            "self_attention": self_attention,
        },
        inputs=inputs,
        weights=weights,
        outputs={"output": _np(out), "attention_weights": _np(attn)},
    )


def _encoder_layer(seed: int) -> GoldenCase:
    rng = np.random.default_rng(seed)
    args = _block_args()
    layer = T.EncoderLayer(**args)
    x = rng.standard_normal((2, 6, args["d_model"])).astype(np.float32)
    mask = _np(T.create_padding_mask(tf.constant(_ids(rng, 9, [6, 4], 6))))
    return _encoder_case(layer, args, rng, x, mask)


def _decoder_masks(rng: np.random.Generator, inp_lengths: list[int], inp_len: int, tar_lengths: list[int], tar_len: int):
    inp = _ids(rng, SMALL["input_vocab_size"], inp_lengths, inp_len)
    tar = _ids(rng, SMALL["target_vocab_size"], tar_lengths, tar_len)
    _, combined, dec_padding = T.create_masks(tf.constant(inp), tf.constant(tar))
    return tar, _np(combined), _np(dec_padding)


def _decoder_layer(seed: int) -> GoldenCase:
    rng = np.random.default_rng(seed)
    args = _block_args()
    layer = T.DecoderLayer(**args)
    x = rng.standard_normal((2, 5, args["d_model"])).astype(np.float32)
    enc_output = rng.standard_normal((2, 7, args["d_model"])).astype(np.float32)
    _, look_ahead, padding = _decoder_masks(rng, [7, 3], 7, [5, 4], 5)
    inputs = {"x": x, "enc_output": enc_output, "look_ahead_mask": look_ahead, "padding_mask": padding}
    return _decoder_case(
        layer, args, rng, inputs,
        lambda result: {"y": _np(result[0]), "block1": _np(result[1]), "block2": _np(result[2])},
    )


def _encoder(seed: int) -> GoldenCase:
    rng = np.random.default_rng(seed)
    args = _stack_args("input_vocab_size", "pe_input")
    layer = T.Encoder(**args)
    x = _ids(rng, args["input_vocab_size"], [7, 5], 7)
    mask = _np(T.create_padding_mask(tf.constant(x)))
    return _encoder_case(layer, args, rng, x, mask)


def _decoder(seed: int) -> GoldenCase:
    rng = np.random.default_rng(seed)
    args = _stack_args("target_vocab_size", "pe_target")
    layer = T.Decoder(**args)
    x, look_ahead, padding = _decoder_masks(rng, [7, 2], 7, [6, 3], 6)
    enc_output = rng.standard_normal((2, 7, args["d_model"])).astype(np.float32)
    inputs = {"x": x, "enc_output": enc_output, "look_ahead_mask": look_ahead, "padding_mask": padding}
    return _decoder_case(
        layer, args, rng, inputs, lambda result: {"y": _np(result[0]), **_attention_outputs(result[1])}
    )


# ---------------------------------------------------------------------------
# The model: inference, decoding, training
# ---------------------------------------------------------------------------


def _built_transformer(rng: np.random.Generator, **overrides: Any) -> tuple[T.Transformer, dict[str, Any], dict[str, np.ndarray]]:
    args = _model_args(**overrides)
    model = T.Transformer(**args)
    model([tf.ones((1, 2), tf.int64), tf.ones((1, 2), tf.int64)], training=False)
    weights = fill_weights(model, rng)
    return model, args, weights


def _transformer(seed: int) -> GoldenCase:
    rng = np.random.default_rng(seed)
    model, args, weights = _built_transformer(rng)
    inp = _ids(rng, args["input_vocab_size"], [9, 6, 2], 9)
    tar = _ids(rng, args["target_vocab_size"], [7, 7, 3], 7)
    logits, attention = model([inp, tar], training=False)
    return GoldenCase(
        config={"model": "Transformer", "args": args, "call": "model([inp, tar], training=False)"},
        inputs={"inp": inp, "tar": tar},
        weights=weights,
        outputs={"logits": _np(logits), **_attention_outputs(attention)},
    )


def _greedy(seed: int, *, stop_at_end: bool) -> GoldenCase:
    """A decoding run that either stops on ``end_id`` or exhausts ``max_length``.

    The end id is picked from an unbounded run of the same model so that the
    stopping branch is really taken (a random model rarely predicts a fixed id).
    """
    rng = np.random.default_rng(seed)
    model, args, weights = _built_transformer(rng)
    encoder_input = _ids(rng, args["input_vocab_size"], [8], 8)
    start_id, max_length = 1, 12

    free, _ = T.greedy_decode(model, encoder_input, start_id, -1, max_length=max_length)
    predicted = [int(t) for t in _np(free)[0, 1:]]
    if stop_at_end:
        # The latest id whose first occurrence is as far in as possible, so the
        # sequence has several tokens before the stop.
        firsts = {tok: i for i, tok in reversed(list(enumerate(predicted)))}
        end_id = max(firsts, key=firsts.get)
    else:
        # A real token (not the pad id 0) that differs from the start id.
        end_id = next(t for t in range(2, args["target_vocab_size"]) if t not in predicted)

    ids, attention = T.greedy_decode(model, encoder_input, start_id, end_id, max_length=max_length)
    last = f"decoder_layer{args['num_layers']}"

    # The smallest gap between the best and second-best logit over the steps:
    # a consumer's argmax can only disagree with ours where this is tiny.
    logits, _ = model([encoder_input, _np(ids)[:, :-1]], training=False)
    top2 = np.sort(_np(logits)[0], axis=-1)[:, -2:]
    margin = float(np.min(top2[:, 1] - top2[:, 0]))
    return GoldenCase(
        config={
            "model": "Transformer",
            "args": args,
            "function": "greedy_decode",
            "start_id": start_id,
            "end_id": end_id,
            "max_length": max_length,
            "stopped_at_end": bool(_np(ids)[0, -1] == end_id),
            "min_argmax_margin": round(margin, 6),
        },
        inputs={"encoder_input": encoder_input},
        weights=weights,
        outputs={
            "ids": _np(ids),
            f"{last}_block1": _np(attention[f"{last}_block1"]),
            f"{last}_block2": _np(attention[f"{last}_block2"]),
        },
    )


def _transformer_train(seed: int) -> GoldenCase:
    """Five steps of the 2021 train step on fixed batches, without dropout.

    ``rate=0.0`` makes ``training=True`` deterministic. A short warmup (10
    instead of 4000) makes the updates big enough to show in the losses.
    The learning rate of step ``n`` (1-based) is the schedule at ``n - 1``: the
    legacy optimizer reads ``iterations`` before incrementing it, so step 1
    trains with rate 0.
    """
    rng = np.random.default_rng(seed)
    model, args, weights = _built_transformer(rng, rate=0.0)
    warmup = 10
    optimizer = T.make_optimizer(args["d_model"], warmup)
    train_step, _, _ = T.make_train_step(model, optimizer)

    n_steps, batch, inp_len, tar_len = 5, 3, 7, 8
    inps = np.stack([_ids(rng, args["input_vocab_size"], [7, 5, 3], inp_len) for _ in range(n_steps)])
    tars = np.stack([_ids(rng, args["target_vocab_size"], [8, 6, 4], tar_len) for _ in range(n_steps)])

    losses, rates = [], []
    for step in range(n_steps):
        rates.append(_np(optimizer.learning_rate(tf.cast(optimizer.iterations, tf.float32))))
        losses.append(_np(train_step(tf.constant(inps[step]), tf.constant(tars[step]))))
    logits_after, _ = model([inps[0], tars[0][:, :-1]], training=False)

    return GoldenCase(
        config={
            "model": "Transformer",
            "args": args,
            "optimizer": {
                "class": "tf_keras.optimizers.legacy.Adam",
                "beta_1": 0.9,
                "beta_2": 0.98,
                "epsilon": 1e-9,
                "schedule": {"class": "CustomSchedule", "d_model": args["d_model"], "warmup_steps": warmup},
                "schedule_step": "float(iterations) before the update (0 on the first step)",
            },
            "train_step": "teacher forcing: decoder gets tar[:, :-1], loss on tar[:, 1:], training=True",
            "steps": n_steps,
        },
        inputs={"inp": inps, "tar": tars},
        weights=weights,
        outputs={
            "losses": np.array(losses, dtype=np.float32),
            "learning_rates": np.array(rates, dtype=np.float32),
            "logits_after": _np(logits_after),
        },
    )


def cases() -> dict[str, GoldenCase]:
    """Run the legacy tutorial code and return its golden cases by name."""
    s = _BASE_SEED
    return {
        "tutorial_positional_encoding": _positional_encoding(),
        "tutorial_masks": _masks(s + 1),
        "tutorial_scaled_dot_product_attention": _sdpa(s + 2),
        "tutorial_noam_schedule": _noam_schedule(),
        "tutorial_mha_padding": _mha(s + 3, batch=2, q_len=6, kv_len=6, mask_kind="padding", self_attention=True),
        "tutorial_mha_look_ahead": _mha(s + 4, batch=2, q_len=5, kv_len=5, mask_kind="look_ahead", self_attention=True),
        "tutorial_mha_cross": _mha(s + 5, batch=2, q_len=5, kv_len=7, mask_kind="padding", self_attention=False),
        "tutorial_mha_batch1": _mha(s + 6, batch=1, q_len=4, kv_len=4, mask_kind="none", self_attention=True),
        "tutorial_encoder_layer": _encoder_layer(s + 7),
        "tutorial_decoder_layer": _decoder_layer(s + 8),
        "tutorial_encoder": _encoder(s + 9),
        "tutorial_decoder": _decoder(s + 10),
        "tutorial_transformer": _transformer(s + 11),
        "tutorial_greedy_decode": _greedy(s + 12, stop_at_end=True),
        "tutorial_greedy_decode_max_length": _greedy(s + 13, stop_at_end=False),
        "tutorial_transformer_train": _transformer_train(s + 14),
    }
