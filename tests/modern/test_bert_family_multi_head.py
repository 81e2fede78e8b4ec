"""``modern.layers.bert_family.MultiHead`` against goldens made by keras-multi-head 0.29 itself.

The goldens (``tests/goldens/bert_family/multi_head``) come from
``legacy_ref/artefacts/bert_family.py`` (``MULTI_HEAD_CASES``), which runs the
library's ``MultiHead`` around tf_keras ``Dense``, ``LSTM`` and ``Conv1D``
templates and records the library's version; they are checked against the
library again by ``tests/migrate/weights/test_bert_family_multi_head_port.py``.
Backend-agnostic: runs again under jax and torch (``-m backends``). Run with
``-s`` to see every case's maximum difference.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops

from modern.layers.bert_family import MultiHead
from tests.modern.goldens import GOLDEN_DIR, assert_matches_golden, load_golden, max_abs_diff

CASES = sorted(p.stem for p in (GOLDEN_DIR / "bert_family" / "multi_head").glob("*.npz"))
DIFFS: dict[str, float] = {}


def _golden(case):
    return load_golden(f"bert_family/multi_head/{case}")


def _port(golden, **extra):
    template = golden.config["template"]
    layer = getattr(keras.layers, template["class_name"])(**template["config"])
    return MultiHead(layer, name=golden.config["name"], **golden.config["args"], **extra)


def _legacy_names(layer):
    """The library's saved name of each port variable, in the port's order.

    The library saves head ``i``'s weights under ``<name>/sub_<i>/``; the port
    keeps them under the head's own name (what the porter's rows pair).
    """
    names = []
    for variable in layer.weights:
        path = variable.path
        for i, head in enumerate(layer.heads):
            prefix = f"{layer.name}/{head.name}/"
            if path.startswith(prefix):
                path = f"{layer.name}/sub_{i}/{path[len(prefix):]}"
        names.append(path)
    return names


def _filled(golden, **extra):
    layer = _port(golden, **extra)
    x = golden.inputs[golden.config["inputs"]]
    kwargs = {"mask": golden.inputs[golden.config["mask"]]} if golden.config.get("mask") else {}
    # Built without a forward pass: each eager pass of a recurrent head costs a compile on jax.
    layer.build(x.shape)
    for variable, name in zip(layer.weights, _legacy_names(layer)):
        variable.assign(golden.weights[name])
    return layer, x, kwargs


def test_goldens_record_the_library_and_cover_dense_and_recurrent_heads():
    assert len(CASES) >= 4
    templates = {_golden(case).config["template"]["class_name"] for case in CASES}
    assert {"Dense", "LSTM", "Conv1D"} <= templates
    for case in CASES:
        config = _golden(case).config
        assert config["library"] == "keras-multi-head" and config["version"] == "0.29.0", config


@pytest.mark.parametrize("case", CASES)
def test_matches_library_golden_in_the_librarys_weight_order(case):
    golden = _golden(case)
    layer, x, kwargs = _filled(golden)
    # Same weights, same order as the library saves them.
    assert _legacy_names(layer) == golden.config["weight_order"]
    assert [head.name for head in layer.heads] == golden.config["head_names"]
    y = layer(x, training=False, **kwargs)
    DIFFS[f"{case}:y"] = assert_matches_golden(y, golden.outputs["y"], what=f"{case} y")
    if "mask" in golden.outputs:
        mask = layer.compute_mask(x, kwargs.get("mask"))
        np.testing.assert_array_equal(ops.convert_to_numpy(mask).astype(bool), golden.outputs["mask"].astype(bool))
    if "loss" in golden.outputs:
        expected = float(golden.outputs["loss"])
        DIFFS[f"{case}:loss"] = assert_matches_golden(layer.regularization_term(), golden.outputs["loss"],
                                                      atol=1e-5 * max(1.0, abs(expected)), what=f"{case} loss")
        # As the library's layer in training (on tf_keras its term is gone from the
        # model's losses once the model has been called): not a loss by default.
        assert golden.config["library_losses_after_a_call"] == 0
        assert layer.losses == []
    else:
        assert float(ops.convert_to_numpy(layer.regularization_term())) == 0.0


def test_regularization_loss_on_request_is_the_term_and_has_a_gradient_path():
    golden = _golden("multi_head_lstm")
    layer, x, kwargs = _filled(golden, add_regularization_loss=True)
    layer(x, **kwargs)
    assert len(layer.losses) == 1
    assert max_abs_diff(ops.convert_to_numpy(layer.losses[0]), golden.outputs["loss"]) <= 1e-5 * float(
        golden.outputs["loss"])
    # The term depends on the current weights (the library froze it at build).
    head_kernel = layer.heads[0].weights[1]
    head_kernel.assign(ops.zeros(head_kernel.shape))
    assert abs(float(ops.convert_to_numpy(layer.regularization_term())) - float(golden.outputs["loss"])) > 1e-3


@pytest.mark.parametrize("case", ["multi_head_dense_hidden", "multi_head_lstm"])
def test_config_round_trip_and_keras_file(case, tmp_path):
    golden = _golden(case)
    layer, x, _ = _filled(golden)
    config = layer.get_config()
    assert config.keys() >= {"layers", "hidden_dim", "use_bias", "reg_index", "reg_slice", "reg_factor"}
    assert MultiHead.from_config(config).get_config() == config
    inputs = keras.Input(shape=x.shape[1:])
    model = keras.Model(inputs, layer(inputs))
    before = ops.convert_to_numpy(model(x, training=False))
    path = tmp_path / f"{case}.keras"
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    assert max_abs_diff(ops.convert_to_numpy(loaded(x, training=False)), before) == 0.0
    inner = loaded.get_layer(golden.config["name"])
    assert type(inner) is MultiHead and inner.get_config() == config
    assert [v.path for v in inner.weights] == [v.path for v in layer.weights]


def test_reg_options_are_normalised_as_the_library_does():
    layer = MultiHead(keras.layers.Dense(2), layer_num=3, reg_index=0, reg_slice=(slice(0, 1), slice(None)),
                      reg_factor=0.5)
    assert layer.reg_index == [0] and layer.reg_factor == [0.5]
    assert layer.get_config()["reg_slice"] == [[[0, 1, None], [None, None, None]]]
    assert [h.name for h in layer.heads] == [f"{layer.heads[0].name[:-2]}_{i}" for i in (1, 2, 3)]


@pytest.mark.parametrize("bad", [
    dict(reg_index=[0, 1], reg_slice=[None], reg_factor=0.1),
    dict(reg_index=[0], reg_factor=None),
    dict(layer_num=0),
])
def test_inconsistent_options_are_refused(bad):
    with pytest.raises(ValueError):
        MultiHead(keras.layers.Dense(2), **bad)


def test_print_max_abs_diffs():
    for key, value in sorted(DIFFS.items()):
        print(f"  {key}: {value:.3g}")
