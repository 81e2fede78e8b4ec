"""``modern`` layers against the Keras-2.2 (seed 003) goldens, on the current Keras 3 backend.

Run with ``-s`` to see the maximum absolute difference of every golden case
(printed by the last test of the module).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops

from modern.layers import (
    ActivatedMultiHeadAttention,
    LegacyLayerNormalization,
    ScaledDotProductAttention,
    SinusoidalPositionEmbedding,
)
from modern.weight_maps.keras22 import load_legacy_weights, rules_for
from tests.modern.goldens import ATOL, assert_matches_golden, load_golden, max_abs_diff

# Golden case (and output) -> max abs diff on this backend, printed at the end.
DIFFS: dict[str, float] = {}

MHA_CASES = [
    "keras22_mha_default",
    "keras22_mha_linear",
    "keras22_mha_no_bias",
    "keras22_mha_history_only",
    "keras22_mha_key_mask",
    "keras22_mha_cross",
]
SDPA_CASES = [
    "keras22_sdpa_plain",
    "keras22_sdpa_history_only",
    "keras22_sdpa_key_mask",
    "keras22_sdpa_return_attention",
]


def _np(x):
    return ops.convert_to_numpy(x)


def _check(case: str, output: str, actual, expected) -> None:
    DIFFS[f"{case}:{output}"] = assert_matches_golden(actual, expected, what=f"{case} {output}")


# --------------------------------------------------------------------------
# Position embedding
# --------------------------------------------------------------------------


def _position_layer(config):
    args = config["args"]
    mode = args.get("mode", "sum")
    # Legacy 'sum' mode ignored `size`; the modern layer takes the input width.
    size = args.get("size") if mode == "concat" else None
    return SinusoidalPositionEmbedding(mode=mode, size=size, layout="interleaved", name=config["name"])


@pytest.mark.parametrize("case", ["keras22_position_embedding_sum", "keras22_position_embedding_concat"])
def test_position_embedding_matches_golden(case):
    golden = load_golden(case)
    layer = _position_layer(golden.config)
    _check(case, "y", layer(golden.inputs["x"]), golden.outputs["y"])


def _sinusoid(seq_len: int, size: int, layout: str) -> np.ndarray:
    """The closed form in float64: angle = p / 10000^(2i/size)."""
    angle = np.arange(seq_len)[:, None] / 10000.0 ** (2.0 * np.arange(size // 2)[None, :] / size)
    sin, cos = np.sin(angle), np.cos(angle)
    if layout == "interleaved":
        out = np.empty((seq_len, size))
        out[:, 0::2], out[:, 1::2] = sin, cos
        return out
    return np.concatenate([sin, cos] if layout == "sin_cos" else [cos, sin], axis=-1)


@pytest.mark.parametrize("layout", ["interleaved", "sin_cos", "cos_sin"])
@pytest.mark.parametrize("batch,seq_len", [(1, 7), (3, 12)])
def test_position_embedding_layouts_closed_form(layout, batch, seq_len):
    x = np.random.default_rng(0).standard_normal((batch, seq_len, 10)).astype("float32")
    y = _np(SinusoidalPositionEmbedding(layout=layout)(x))
    diff = max_abs_diff(y - x, np.broadcast_to(_sinusoid(seq_len, 10, layout), x.shape))
    DIFFS[f"closed_form:{layout}:b{batch}t{seq_len}"] = diff
    assert diff <= ATOL


@pytest.mark.parametrize("layout", ["interleaved", "sin_cos", "cos_sin"])
def test_position_embedding_concat_puts_encoding_first(layout):
    x = np.random.default_rng(1).standard_normal((2, 5, 3)).astype("float32")
    y = _np(SinusoidalPositionEmbedding(mode="concat", size=6, layout=layout)(x))
    assert y.shape == (2, 5, 9)
    np.testing.assert_array_equal(y[..., 6:], x)
    assert max_abs_diff(y[0, :, :6], _sinusoid(5, 6, layout)) <= ATOL


def test_position_embedding_variable_length():
    inputs = keras.Input((None, 8))
    model = keras.Model(inputs, SinusoidalPositionEmbedding(mode="concat", size=4)(inputs))
    for seq_len in (3, 11):
        y = _np(model(np.zeros((2, seq_len, 8), "float32")))
        assert y.shape == (2, seq_len, 12)
        assert max_abs_diff(y[1, :, :4], _sinusoid(seq_len, 4, "interleaved")) <= ATOL


def test_position_embedding_rejects_bad_sizes():
    with pytest.raises(ValueError, match="even"):
        SinusoidalPositionEmbedding(mode="concat", size=5)
    with pytest.raises(ValueError, match="layout"):
        SinusoidalPositionEmbedding(layout="halves")
    with pytest.raises(ValueError, match="input width"):
        SinusoidalPositionEmbedding(mode="sum", size=4)(np.zeros((1, 3, 8), "float32"))
    with pytest.raises(ValueError, match="even"):
        SinusoidalPositionEmbedding()(np.zeros((1, 3, 7), "float32"))


def test_position_embedding_passes_mask():
    layer = SinusoidalPositionEmbedding()
    assert layer.supports_masking
    mask = np.array([[True, True, False]])
    assert layer.compute_mask(np.zeros((1, 3, 4), "float32"), mask) is mask


# --------------------------------------------------------------------------
# Attention
# --------------------------------------------------------------------------


def _mha_layer(golden):
    args = golden.config["args"]
    return ActivatedMultiHeadAttention(
        num_heads=args["head_num"],
        activation=args.get("activation", "relu"),
        use_bias=args.get("use_bias", True),
        causal=args.get("history_only", False),
        name=golden.config["name"],
    )


def _mha_call_args(golden):
    inputs = golden.inputs
    if "x" in inputs:
        return (inputs["x"],), ({"mask": inputs["mask"]} if "mask" in inputs else {})
    # Legacy [q, k, v] -> Keras 3 (query, value, key=...).
    return (inputs["q"], inputs["v"]), {"key": inputs["k"]}


def _loaded_mha(golden):
    layer = _mha_layer(golden)
    args, kwargs = _mha_call_args(golden)
    layer(*args, **kwargs)  # build
    report = load_legacy_weights(
        layer, golden.weights, rules_for("MultiHeadAttention", golden.config["name"], golden.config["args"])
    )
    assert report.complete
    return layer, args, kwargs


@pytest.mark.parametrize("case", MHA_CASES)
def test_multi_head_attention_matches_golden(case):
    golden = load_golden(case)
    layer, args, kwargs = _loaded_mha(golden)
    # Fused path (keras.ops.dot_product_attention).
    _check(case, "y", layer(*args, **kwargs), golden.outputs["y"])
    # Explicit path, with the per-head weights of the legacy layer.attention.
    output, scores = layer(*args, **kwargs, return_attention_scores=True)
    _check(case, "y(scores path)", output, golden.outputs["y"])
    _check(case, "attention", scores, golden.outputs["attention"])


def test_multi_head_attention_uses_keras_mask_as_key_mask():
    golden = load_golden("keras22_mha_key_mask")
    layer, (x,), kwargs = _loaded_mha(golden)
    mask = golden.inputs["mask"]
    # The same padding mask arriving through Keras masking (Masking layer on
    # zeroed steps would change x, so attach it with a boolean-mask input).
    x_in = keras.Input(x.shape[1:])
    m_in = keras.Input(mask.shape[1:], dtype="bool")
    model = keras.Model([x_in, m_in], layer(x_in, mask=m_in))
    _check("keras22_mha_key_mask", "y(functional mask)", model([x, mask]), golden.outputs["y"])
    # Through an Embedding(mask_zero=True): padded keys get the -10000 penalty.
    tokens = np.array([[5, 6, 7, 0, 0]], "int32")
    embed = keras.layers.Embedding(10, 16, mask_zero=True)
    attention = ActivatedMultiHeadAttention(num_heads=4)
    masked = _np(attention(embed(tokens)))
    explicit = _np(attention(embed(tokens), mask=tokens != 0))
    unmasked = _np(attention(embed(tokens), mask=np.ones_like(tokens, bool)))
    np.testing.assert_allclose(masked, explicit, atol=1e-6)
    assert np.abs(masked - unmasked).max() > 1e-4


def test_multi_head_attention_fully_masked_rows_stay_finite():
    # All keys masked: the legacy additive -10000 shifts every logit equally,
    # so the softmax is (up to float32 rounding at 1e4) the unmasked one --
    # not NaN and not zero as with -inf or boolean masks.
    golden = load_golden("keras22_mha_linear")
    layer, (x,), _ = _loaded_mha(golden)
    none_kept = np.zeros(x.shape[:2], bool)
    y_masked, w_masked = layer(x, mask=none_kept, return_attention_scores=True)
    y_fused = _np(layer(x, mask=none_kept))
    assert np.isfinite(y_fused).all()
    np.testing.assert_allclose(_np(w_masked), golden.outputs["attention"], atol=5e-3)
    np.testing.assert_allclose(y_fused, golden.outputs["y"], atol=1e-2)
    np.testing.assert_allclose(_np(y_masked), y_fused, atol=1e-2)


def test_multi_head_attention_causal_equals_prefix():
    # Causal: row t must not depend on later steps.
    x = np.random.default_rng(2).standard_normal((2, 6, 8)).astype("float32")
    layer = ActivatedMultiHeadAttention(num_heads=2, causal=True)
    full = _np(layer(x))
    prefix = _np(layer(x[:, :4]))
    np.testing.assert_allclose(full[:, :4], prefix, atol=1e-6)


def test_multi_head_attention_variable_paths_and_shapes():
    golden = load_golden("keras22_mha_cross")
    layer, _, _ = _loaded_mha(golden)
    shapes = {v.path: tuple(v.shape) for v in layer.weights}
    assert shapes == {
        "mha/query/kernel": (6, 8),
        "mha/query/bias": (8,),
        "mha/key/kernel": (10, 8),
        "mha/key/bias": (8,),
        "mha/value/kernel": (8, 8),
        "mha/value/bias": (8,),
        "mha/attention_output/kernel": (8, 8),
        "mha/attention_output/bias": (8,),
    }


def test_multi_head_attention_rejects_indivisible_heads():
    with pytest.raises(ValueError, match="must divide"):
        ActivatedMultiHeadAttention(num_heads=3)(np.zeros((1, 2, 8), "float32"))


@pytest.mark.parametrize("case", SDPA_CASES)
def test_scaled_dot_product_attention_matches_golden(case):
    golden = load_golden(case)
    inputs = golden.inputs
    layer = ScaledDotProductAttention(causal=golden.config["args"].get("history_only", False))
    if "x" in inputs:
        args, kwargs = (inputs["x"],), {}
    else:
        args = (inputs["q"], inputs["v"])
        kwargs = {"key": inputs["k"], "key_mask": inputs.get("key_mask")}
    _check(case, "y", layer(*args, **kwargs), golden.outputs["y"])
    output, scores = layer(*args, **kwargs, return_attention_scores=True)
    _check(case, "y(scores path)", output, golden.outputs["y"])
    _check(case, "attention", scores, golden.outputs["attention"])


# --------------------------------------------------------------------------
# Layer normalisation
# --------------------------------------------------------------------------

NORM_CASES = {
    # The blog's weightless LayerNorm: no gamma/beta.
    "keras22_layernorm": {"center": False, "scale": False},
    # The weighted LayerNormalization: gamma and beta.
    "keras22_layernormalization": {"center": True, "scale": True},
}


def _loaded_norm(case, layer):
    golden = load_golden(case)
    layer.build(golden.inputs["x"].shape)
    legacy_class = "LayerNorm" if case == "keras22_layernorm" else "LayerNormalization"
    load_legacy_weights(layer, golden.weights, rules_for(legacy_class, "ln"))
    return golden


@pytest.mark.parametrize("case", sorted(NORM_CASES))
def test_layer_normalization_matches_golden(case):
    layer = LegacyLayerNormalization(**NORM_CASES[case], name="ln")
    golden = _loaded_norm(case, layer)
    assert len(layer.weights) == (2 if case == "keras22_layernormalization" else 0)
    _check(case, "y", layer(golden.inputs["x"]), golden.outputs["y"])


@pytest.mark.parametrize("case", sorted(NORM_CASES))
def test_builtin_layer_normalization_is_within_tolerance(case):
    # The documented swap: keras.layers.LayerNormalization(epsilon=1e-14)
    # is not bit-exact but within the migration tolerance (figure recorded).
    layer = keras.layers.LayerNormalization(epsilon=1e-14, **NORM_CASES[case], name="ln")
    golden = _loaded_norm(case, layer)
    _check(case, "y(keras.layers.LayerNormalization)", layer(golden.inputs["x"]), golden.outputs["y"])


def test_layer_normalization_constant_rows_and_default_epsilon():
    layer = LegacyLayerNormalization(center=False, scale=False)
    assert layer.epsilon == 1e-14
    y = _np(layer(np.full((1, 2, 4), 3.0, "float32")))
    np.testing.assert_array_equal(y, np.zeros((1, 2, 4), "float32"))


def test_layer_normalization_half_precision_keeps_dtype():
    layer = LegacyLayerNormalization(dtype="float16")
    x = np.random.default_rng(3).standard_normal((2, 3, 8)).astype("float16")
    y = layer(x)
    assert keras.backend.standardize_dtype(y.dtype) == "float16"
    assert np.isfinite(_np(y).astype("float32")).all()


# --------------------------------------------------------------------------
# Serialisation
# --------------------------------------------------------------------------

LAYER_FACTORIES = {
    "position_sum": lambda: SinusoidalPositionEmbedding(name="pe"),
    "position_concat": lambda: SinusoidalPositionEmbedding(mode="concat", size=4, layout="cos_sin", name="pe"),
    "mha": lambda: ActivatedMultiHeadAttention(
        num_heads=2, causal=True, use_bias=False, activation="tanh", kernel_initializer="he_normal", name="mha"
    ),
    "sdpa": lambda: ScaledDotProductAttention(causal=True, mask_value=-1e4, name="sdpa"),
    "layernorm": lambda: LegacyLayerNormalization(center=False, scale=False, name="ln"),
    "layernormalization": lambda: LegacyLayerNormalization(epsilon=1e-6, gamma_initializer="random_normal", name="ln"),
}


@pytest.mark.parametrize("kind", sorted(LAYER_FACTORIES))
def test_get_config_round_trip(kind):
    layer = LAYER_FACTORIES[kind]()
    config = layer.get_config()
    clone = type(layer).from_config(config)
    assert clone.get_config() == config
    restored = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(layer))
    assert type(restored) is type(layer) and restored.get_config() == config


@pytest.mark.parametrize("kind", sorted(LAYER_FACTORIES))
def test_keras_file_round_trip_is_bit_exact(kind, tmp_path):
    layer = LAYER_FACTORIES[kind]()
    inputs = keras.Input((5, 8))
    model = keras.Model(inputs, layer(inputs))
    rng = np.random.default_rng(4)
    for variable in model.weights:
        variable.assign(rng.standard_normal(tuple(variable.shape)).astype("float32"))
    x = rng.standard_normal((2, 5, 8)).astype("float32")
    path = tmp_path / f"{kind}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert type(loaded.layers[-1]) is type(layer)
    assert [v.path for v in loaded.weights] == [v.path for v in model.weights]
    for old, new in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(_np(new), _np(old))
    np.testing.assert_array_equal(_np(loaded(x)), _np(model(x)))


def test_cross_attention_keras_file_round_trip(tmp_path):
    golden = load_golden("keras22_mha_cross")
    layer, (query, value), kwargs = _loaded_mha(golden)
    inputs = [keras.Input(query.shape[1:]), keras.Input(value.shape[1:]), keras.Input(kwargs["key"].shape[1:])]
    model = keras.Model(inputs, layer(inputs[0], inputs[1], key=inputs[2]))
    path = tmp_path / "cross.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    expected = _np(model([query, value, kwargs["key"]]))
    np.testing.assert_array_equal(_np(loaded([query, value, kwargs["key"]])), expected)
    _check("keras22_mha_cross", "y(reloaded .keras)", expected, golden.outputs["y"])


# --------------------------------------------------------------------------
# Weight-map loading errors
# --------------------------------------------------------------------------


def test_load_legacy_weights_reports_problems_by_name():
    golden = load_golden("keras22_mha_default")
    layer = _mha_layer(golden)
    layer(golden.inputs["x"])
    before = [_np(v).copy() for v in layer.weights]

    missing = {k: v for k, v in golden.weights.items() if not k.endswith("_bo")}
    with pytest.raises(ValueError, match="mha/mha_bo"):
        load_legacy_weights(layer, missing)
    extra = {**golden.weights, "mha/mha_extra": np.zeros(3, "float32")}
    with pytest.raises(ValueError, match="mha/mha_extra"):
        load_legacy_weights(layer, extra)
    wrong = {**golden.weights, "mha/mha_Wk": np.zeros((16, 8), "float32")}
    with pytest.raises(ValueError, match=r"mha/mha_Wk -> key/kernel"):
        load_legacy_weights(layer, wrong)
    # Nothing was assigned by the failed attempts.
    for variable, value in zip(layer.weights, before):
        np.testing.assert_array_equal(_np(variable), value)

    report = load_legacy_weights(layer, extra, strict=False)
    assert report.unmatched_sources == ["mha/mha_extra"] and not report.unfilled_targets
    # Default rules come from the layer's type and name; ':0' suffixes are accepted.
    report = load_legacy_weights(layer, {f"{k}:0": v for k, v in golden.weights.items()})
    assert report.complete and len(report.assigned) == 8


def test_zz_report_max_abs_diffs():
    """Prints every recorded figure (run with -s); asserts the tolerance again."""
    print(f"\n[keras22 layers, backend={keras.backend.backend()}] max abs diff per golden case/output:")
    for name in sorted(DIFFS):
        print(f"  {name:60s} {DIFFS[name]:.3g}")
    assert all(value <= ATOL for value in DIFFS.values())
