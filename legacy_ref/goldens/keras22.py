"""Golden cases for the Keras-2.2 reference (seed 003), computed on ``tf_keras``.

Every case is deterministic: inputs and weights come from
``numpy.random.default_rng`` with a fixed seed per case, weights are written
into the freshly built legacy layer or model (so no TensorFlow initializer is
involved), and outputs are taken in inference mode in float32.

Weight keys are the legacy HDF5 names without ``:0``, i.e. the
``weight_names`` a Keras 2 ``save_weights(..., save_format='h5')`` writes:
``mha/mha_Wq`` for a standalone layer named ``mha``, ``t1_att1/t1_att1_Wq``,
``t1_fc1/kernel``, ``embedding/embeddings`` and ``ln/gamma`` otherwise.

Each ``config`` names the legacy class or function (``layer``/``model``),
its constructor ``args``, and a ``call`` entry telling how the ``input.*``
arrays are passed (a single tensor or a ``[q, k, v]`` list, which mask).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np
import tf_keras as keras_legacy

from legacy_ref import keras22
from legacy_ref.goldens.format import GoldenCase

__all__ = ["cases", "legacy_weight_names", "weights_by_name", "assign_weights"]

_MODULE = "legacy_ref.keras22"

# Sizes of the small classifier shared with legacy_ref.artefacts.keras22.
CLASSIFIER_ARGS: dict[str, Any] = {
    "vocab_size": 50,
    "max_len": 12,
    "model_dim": 16,
    "head_num": 4,
    "num_class": 3,
}


# --------------------------------------------------------------------------
# Helpers
# --------------------------------------------------------------------------


def _hdf5_weights(layer: Any) -> list[Any]:
    """``layer``'s weights in the order Keras 2's HDF5 writer stores them.

    It writes ``trainable_weights + non_trainable_weights`` per layer under
    each variable's ``name``; for a model this is the same listing as
    ``model.weights`` when, as here, every weight is trainable.
    """
    return list(layer.trainable_weights) + list(layer.non_trainable_weights)


def legacy_weight_names(layer: Any) -> list[str]:
    """HDF5 ``weight_names`` of ``layer`` (or of a whole model), without ``:0``."""
    return [_strip(w.name) for w in _hdf5_weights(layer)]


def _strip(name: str) -> str:
    return name[:-2] if name.endswith(":0") else name


def weights_by_name(layer: Any) -> dict[str, np.ndarray]:
    """Current weights of ``layer`` keyed by their legacy names."""
    return {_strip(w.name): np.asarray(w.numpy()) for w in _hdf5_weights(layer)}


def assign_weights(layer: Any, values: dict[str, np.ndarray]) -> None:
    """Write ``values`` (legacy name -> array) into a built layer or model; every weight must be given."""
    weights = _hdf5_weights(layer)
    missing = [_strip(w.name) for w in weights if _strip(w.name) not in values]
    extra = set(values) - {_strip(w.name) for w in weights}
    if missing or extra:
        raise KeyError(f"weights missing: {missing}, unexpected: {sorted(extra)}")
    for weight in weights:
        weight.assign(values[_strip(weight.name)])


def draw_weights(layer: Any, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Random float32 weights for every weight of a built layer, scaled so activations stay of order 1.

    Kernels ``(fan_in, fan_out)`` ~ N(0, 1/fan_in); embeddings ~ N(0, 1);
    ``gamma`` ~ 1 + 0.3 N(0, 1); other vectors (biases, ``beta``) ~ 0.3 N(0, 1).
    """
    drawn: dict[str, np.ndarray] = {}
    for name in legacy_weight_names(layer):
        weight = next(w for w in layer.weights if _strip(w.name) == name)
        shape = tuple(weight.shape)
        leaf = name.rsplit("/", 1)[-1]
        if leaf == "embeddings":
            value = rng.standard_normal(shape)
        elif leaf == "gamma":
            value = 1.0 + 0.3 * rng.standard_normal(shape)
        elif len(shape) == 2:
            value = rng.standard_normal(shape) / np.sqrt(shape[0])
        else:
            value = 0.3 * rng.standard_normal(shape)
        drawn[name] = value.astype(np.float32)
    return drawn


def _f32(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float32)


def _normal(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.standard_normal(shape).astype(np.float32)


def _layer_case(
    seed: int,
    layer_cls: type,
    args: dict[str, Any],
    name: str,
    inputs: dict[str, np.ndarray],
    call: dict[str, Any],
    invoke: Callable[[Any, dict[str, np.ndarray]], Any],
    extra_outputs: Callable[[Any, Any], dict[str, np.ndarray]] | None = None,
) -> GoldenCase:
    """Build ``layer_cls(**args, name=name)``, fill its weights from ``seed``, run ``invoke`` once."""
    rng = np.random.default_rng(seed + 1)
    layer = layer_cls(**args, name=name)
    # First call builds the layer; the second, with the drawn weights, is the golden one.
    invoke(layer, inputs)
    weights = draw_weights(layer, rng)
    assign_weights(layer, weights)
    result = invoke(layer, inputs)
    outputs: dict[str, np.ndarray]
    if isinstance(result, (list, tuple)):
        outputs = {"y": _f32(result[0]), "attention": _f32(result[1])}
    else:
        outputs = {"y": _f32(result)}
    if extra_outputs is not None:
        outputs.update(extra_outputs(layer, result))
    config = {
        "module": _MODULE,
        "layer": layer_cls.__name__,
        "name": name,
        "args": args,
        "call": call,
        "seed": seed,
    }
    return GoldenCase(config=config, inputs=inputs, weights=weights, outputs=outputs)


def _attention_output(layer: Any, _result: Any) -> dict[str, np.ndarray]:
    return {"attention": _f32(layer.attention)}


# --------------------------------------------------------------------------
# Layer cases
# --------------------------------------------------------------------------


def _position_cases() -> dict[str, GoldenCase]:
    rng = np.random.default_rng(3001)
    call_x = {"inputs": "x"}
    return {
        "keras22_position_embedding_sum": _layer_case(
            3001, keras22.Position_Embedding, {"mode": "sum"}, "pe",
            {"x": _normal(rng, 2, 6, 8)}, call_x, lambda layer, i: layer(i["x"]),
        ),
        "keras22_position_embedding_concat": _layer_case(
            3002, keras22.Position_Embedding, {"size": 4, "mode": "concat"}, "pe",
            {"x": _normal(rng, 2, 5, 6)}, call_x, lambda layer, i: layer(i["x"]),
        ),
    }


def _sdpa_cases() -> dict[str, GoldenCase]:
    rng = np.random.default_rng(3010)
    qkv = {"q": _normal(rng, 2, 4, 8), "k": _normal(rng, 2, 6, 8), "v": _normal(rng, 2, 6, 5)}
    key_mask = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0]], dtype=bool)

    def call_qkv(layer: Any, i: dict[str, np.ndarray]) -> Any:
        mask = [None, i["key_mask"], None] if "key_mask" in i else None
        return layer([i["q"], i["k"], i["v"]], mask=mask)

    call_doc = {"inputs": ["q", "k", "v"]}
    masked_doc = {"inputs": ["q", "k", "v"], "mask": [None, "key_mask", None]}
    return {
        "keras22_sdpa_plain": _layer_case(
            3010, keras22.ScaledDotProductAttention, {}, "sdpa", qkv, call_doc, call_qkv, _attention_output
        ),
        "keras22_sdpa_history_only": _layer_case(
            3011, keras22.ScaledDotProductAttention, {"history_only": True}, "sdpa",
            {"x": _normal(rng, 2, 5, 8)}, {"inputs": "x"}, lambda layer, i: layer(i["x"]), _attention_output,
        ),
        "keras22_sdpa_key_mask": _layer_case(
            3012, keras22.ScaledDotProductAttention, {}, "sdpa",
            {**qkv, "key_mask": key_mask}, masked_doc, call_qkv, _attention_output,
        ),
        "keras22_sdpa_return_attention": _layer_case(
            3013, keras22.ScaledDotProductAttention, {"return_attention": True, "history_only": True}, "sdpa",
            {"x": _normal(rng, 1, 7, 6)}, {"inputs": "x", "returns": ["y", "attention"]},
            lambda layer, i: layer(i["x"]),
        ),
    }


def _mha_cases() -> dict[str, GoldenCase]:
    rng = np.random.default_rng(3020)

    def self_attention(layer: Any, i: dict[str, np.ndarray]) -> Any:
        return layer(i["x"], mask=i.get("mask"))

    def cross_attention(layer: Any, i: dict[str, np.ndarray]) -> Any:
        return layer([i["q"], i["k"], i["v"]])

    mask = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]], dtype=bool)
    x_doc = {"inputs": "x", "attention": "layer.attention after the call, (batch, heads, q_len, k_len)"}

    def case(
        seed: int,
        args: dict[str, Any],
        inputs: dict[str, np.ndarray],
        call: dict[str, Any] | None = None,
        invoke: Callable[[Any, dict[str, np.ndarray]], Any] = self_attention,
    ) -> GoldenCase:
        # Every case is a layer named "mha" whose per-head attention is recorded too.
        return _layer_case(
            seed, keras22.MultiHeadAttention, args, "mha", inputs, call or x_doc, invoke, _attention_output
        )

    return {
        # Default: relu on the projections and on the output, biases.
        "keras22_mha_default": case(3020, {"head_num": 4}, {"x": _normal(rng, 2, 6, 16)}),
        "keras22_mha_linear": case(3021, {"head_num": 2, "activation": None}, {"x": _normal(rng, 2, 5, 8)}),
        "keras22_mha_no_bias": case(3022, {"head_num": 4, "use_bias": False}, {"x": _normal(rng, 2, 6, 16)}),
        # Causal, odd length, batch of one.
        "keras22_mha_history_only": case(3023, {"head_num": 2, "history_only": True}, {"x": _normal(rng, 1, 7, 8)}),
        # One mask for q, k and v; padded keys get ~0 weight, padded queries are still computed.
        "keras22_mha_key_mask": case(
            3024, {"head_num": 4, "activation": None}, {"x": _normal(rng, 3, 6, 16), "mask": mask},
            {**x_doc, "mask": "mask (used for q, k and v)"},
        ),
        # [q, k, v] of different widths and lengths: Wq (6, 8), Wk (10, 8), Wv (8, 8).
        "keras22_mha_cross": case(
            3025, {"head_num": 2},
            {"q": _normal(rng, 1, 5, 6), "k": _normal(rng, 1, 7, 10), "v": _normal(rng, 1, 7, 8)},
            {"inputs": ["q", "k", "v"]}, cross_attention,
        ),
    }


def _norm_cases() -> dict[str, GoldenCase]:
    rng = np.random.default_rng(3030)
    # Offset and scaled rows so that the normalisation does visible work.
    x = (_normal(rng, 2, 5, 8) * 3.0 + 1.5).astype(np.float32)
    call_x = {"inputs": "x"}
    return {
        "keras22_layernorm": _layer_case(
            3030, keras22.LayerNorm, {}, "ln", {"x": x}, call_x, lambda layer, i: layer(i["x"])
        ),
        "keras22_layernormalization": _layer_case(
            3031, keras22.LayerNormalization, {}, "ln", {"x": x}, call_x, lambda layer, i: layer(i["x"])
        ),
    }


# --------------------------------------------------------------------------
# Model, schedule and training cases
# --------------------------------------------------------------------------


def _tokens(rng: np.random.Generator, batch: int, max_len: int, vocab: int) -> np.ndarray:
    """Token ids with a run of trailing zeros (padding, an ordinary token for this model)."""
    tokens = rng.integers(1, vocab, size=(batch, max_len))
    for row in range(1, batch):
        tokens[row, max_len - 2 * row :] = 0
    tokens[0, 3] = 0  # a zero inside a sequence too
    return tokens.astype(np.int32)


def _drawn_classifier(
    args: dict[str, Any], rng: np.random.Generator, *, compile: bool  # noqa: A002 -- build_model's argument
) -> tuple[Any, dict[str, np.ndarray]]:
    """``build_model(**args)`` with weights drawn from ``rng`` and assigned; returns the model and the weights."""
    keras_legacy.backend.clear_session()  # default layer names ('embedding', ...) must be stable
    model = keras22.build_model(**args, compile=compile)
    weights = draw_weights(model, rng)
    assign_weights(model, weights)
    return model, weights


def _classifier_case() -> GoldenCase:
    seed = 3040
    rng = np.random.default_rng(seed)
    args = {**CLASSIFIER_ARGS, "num_blocks": 4}
    model, weights = _drawn_classifier(args, rng, compile=False)
    tokens = _tokens(rng, 4, args["max_len"], args["vocab_size"])
    probes = ["position__embedding"] + [f"t{i}_LN2" for i in range(1, args["num_blocks"] + 1)]
    probe_model = keras_legacy.Model(model.input, [model.output] + [model.get_layer(n).output for n in probes])
    results = probe_model(tokens, training=False)
    outputs = {"y": _f32(results[0])}
    outputs.update({name: _f32(value) for name, value in zip(probes, results[1:])})
    config = {
        "module": _MODULE,
        "model": "build_model",
        "args": args,
        "call": {"inputs": "tokens", "training": False},
        "layer_names": [layer.name for layer in model.layers],
        "probes": probes,
        "seed": seed,
    }
    return GoldenCase(config=config, inputs={"tokens": tokens}, weights=weights, outputs=outputs)


WARMUP_ARGS: dict[str, Any] = {
    "learning_rate_base": 0.01,
    "total_steps": 40,
    "warmup_learning_rate": 0.001,
    "warmup_steps": 8,
    "hold_base_rate_steps": 5,
}


def _schedule_cases() -> dict[str, GoldenCase]:
    def case(args: dict[str, Any], last_step: int) -> GoldenCase:
        steps = np.arange(0, last_step + 1)
        rates = np.array([float(keras22.cosine_decay_with_warmup(int(s), **args)) for s in steps])
        config = {
            "module": _MODULE,
            "function": "cosine_decay_with_warmup",
            "args": args,
            "call": {"global_step": "steps (python ints, one call each)"},
            "dtype_note": "rates are the float64 numpy values; the callback stores them as float32",
        }
        return GoldenCase(config=config, inputs={"steps": steps.astype(np.int64)}, outputs={"lr": rates})

    return {
        # Warmup from 0.001, 5 held steps, cosine to step 40, zeros after.
        "keras22_warmup_cosine": case(WARMUP_ARGS, 45),
        "keras22_cosine_no_warmup": case({"learning_rate_base": 0.002, "total_steps": 20}, 23),
    }


TRAIN_SCHEDULE: dict[str, Any] = {
    "learning_rate_base": 1e-3,
    "total_steps": 5,
    "warmup_learning_rate": 1e-4,
    "warmup_steps": 2,
    "hold_base_rate_steps": 1,
}


def train_batches(rng: np.random.Generator, steps: int, batch: int, args: dict[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """``steps`` fixed batches of tokens and one-hot labels, shapes ``(steps, batch, ...)``."""
    tokens = np.stack([_tokens(rng, batch, args["max_len"], args["vocab_size"]) for _ in range(steps)])
    labels = rng.integers(0, args["num_class"], size=(steps, batch))
    one_hot = np.eye(args["num_class"], dtype=np.float32)[labels]
    return tokens, one_hot


def _train_case() -> GoldenCase:
    """Five ``train_on_batch`` steps driven by the scheduler's hooks, as ``fit`` drives them.

    ``train_on_batch`` (metrics reset each call) returns the loss of that
    batch before its update, which ``fit``'s running-mean logs do not give.
    The scheduler sets ``optimizer.lr`` in ``on_batch_begin`` and records it
    in ``on_batch_end``, exactly the calls ``fit`` makes around each step.
    """
    seed = 3050
    steps, batch = 5, 4
    rng = np.random.default_rng(seed)
    args = {**CLASSIFIER_ARGS, "num_blocks": 2, "dropout": 0.0}
    model, weights = _drawn_classifier(args, rng, compile=True)
    tokens, labels = train_batches(rng, steps, batch, args)

    scheduler = keras22.WarmUpCosineDecayScheduler(**TRAIN_SCHEDULE)
    scheduler.set_model(model)
    losses, accs = [], []
    for step in range(steps):
        scheduler.on_batch_begin(step)
        loss, acc = model.train_on_batch(tokens[step], labels[step])
        scheduler.on_batch_end(step)
        losses.append(loss)
        accs.append(acc)
    outputs = {
        "loss": _f32(losses),
        "acc": _f32(accs),
        "lr": _f32(scheduler.learning_rates),
        "y_after": _f32(model(tokens[0], training=False)),
    }
    outputs.update({f"trained.{name}": value for name, value in weights_by_name(model).items()})
    optimizer = model.optimizer.get_config()
    config = {
        "module": _MODULE,
        "model": "build_model",
        "args": args,
        "loss": "categorical_crossentropy",
        "optimizer": {
            "class": "tf_keras.optimizers.legacy.Adam",
            **{key: float(optimizer[key]) for key in ("beta_1", "beta_2", "epsilon")},
            "amsgrad": bool(optimizer["amsgrad"]),
        },
        "scheduler": {"class": "WarmUpCosineDecayScheduler", "args": TRAIN_SCHEDULE},
        "call": {
            "inputs": "tokens[step], labels[step] for step in range(5)",
            "per_step": "on_batch_begin(step); train_on_batch; on_batch_end(step)",
            "outputs": "loss/acc of each step before its update, lr used by each step, "
            "final weights as trained.<legacy name>, y_after = model(tokens[0]) after training",
        },
        "seed": seed,
    }
    return GoldenCase(config=config, inputs={"tokens": tokens, "labels": labels}, weights=weights, outputs=outputs)


def cases() -> dict[str, GoldenCase]:
    """Run the legacy seed-003 code and return its golden cases by file stem."""
    result: dict[str, GoldenCase] = {}
    result.update(_position_cases())
    result.update(_sdpa_cases())
    result.update(_mha_cases())
    result.update(_norm_cases())
    result["keras22_classifier"] = _classifier_case()
    result.update(_schedule_cases())
    result["keras22_classifier_train"] = _train_case()
    return result
