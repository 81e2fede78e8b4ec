"""``modern.layers.xlnet_family`` against goldens made by the real keras-xlnet (and keras-transformer-xl,
keras-trans-mask).

The goldens (``tests/goldens/xlnet_family``) come from
``legacy_ref/artefacts/xlnet_family.py``, which runs the libraries on
tf_keras and records each library's version. Backend-agnostic: runs again
under jax and torch (``-m backends``). Run with ``-s`` to see every case's
maximum difference.
"""

from __future__ import annotations

import inspect

import keras
import numpy as np
import pytest
from keras import ops

from modern.layers import xlnet_family
from tests.modern.goldens import GOLDEN_DIR, assert_matches_golden, load_golden, max_abs_diff

CASES = sorted(p.stem for p in (GOLDEN_DIR / "xlnet_family").glob("*.npz"))
DIFFS: dict[str, float] = {}


def _golden(case):
    return load_golden(f"xlnet_family/{case}")


def _pick(names, arrays):
    if names is None:
        return None
    if isinstance(names, list):
        return [_pick(n, arrays) for n in names]
    return arrays[names]


def _filled(golden):
    """The port built on the golden's inputs, holding the golden's weights (Memory's state included)."""
    config = golden.config
    layer = getattr(xlnet_family, config["layer"])(name=config["name"], **config["args"])
    inputs = _pick(config["inputs"], golden.inputs)
    mask = _pick(config.get("mask"), golden.inputs)
    kwargs = {} if mask is None or "mask" not in inspect.signature(layer.call).parameters else {"mask": mask}
    layer(inputs, **kwargs)
    for variable in layer.weights:
        variable.assign(golden.weights[variable.path])
    return layer, inputs, kwargs


def test_every_library_class_has_goldens():
    assert {_golden(case).config["layer"] for case in CASES} == set(xlnet_family.__all__)
    assert {_golden(case).config["library"] for case in CASES} == {
        "keras-xlnet", "keras-transformer-xl", "keras-trans-mask"}


@pytest.mark.parametrize("case", CASES)
def test_matches_library_golden_with_the_librarys_weight_names(case):
    golden = _golden(case)
    layer, inputs, kwargs = _filled(golden)
    assert [v.path for v in layer.weights] == golden.config["weight_order"]
    outputs = layer(inputs, training=False, **kwargs) if "training" in inspect.signature(layer.call).parameters \
        else layer(inputs, **kwargs)
    outputs = outputs if isinstance(outputs, list) else [outputs]
    DIFFS[f"{case}:y"] = assert_matches_golden(outputs[0], golden.outputs["y"], what=f"{case} y")
    if "second" in golden.outputs:
        DIFFS[f"{case}:second"] = assert_matches_golden(outputs[1], golden.outputs["second"], what=f"{case} second")
    else:
        assert len(outputs) == 1
    if "state" in golden.outputs:
        # Memory wrote the same state as the library's call did.
        DIFFS[f"{case}:state"] = assert_matches_golden(layer.memory, golden.outputs["state"], what=f"{case} state")
    if "mask" in golden.outputs:
        mask = layer.compute_mask(inputs, _pick(golden.config.get("mask"), golden.inputs))
        mask = mask[0] if isinstance(mask, list) else mask
        np.testing.assert_array_equal(ops.convert_to_numpy(mask).astype(bool), golden.outputs["mask"].astype(bool))


def test_memory_carries_its_state_from_call_to_call():
    """Two calls: the second returns the tail of what the first stored (the recurrence)."""
    golden = _golden("memory_read")
    layer, (hidden, length), _ = _filled(golden)
    layer([hidden, length])
    second = layer([hidden * 2.0, length])
    # memory_length 2 <= segment length: the positions before the second segment are the first's last two.
    assert max_abs_diff(ops.convert_to_numpy(second), hidden[:, -2:]) <= 1e-6


def test_permutation_in_training_is_one_random_order_for_the_whole_batch():
    layer = xlnet_family.PermutationMask(enabled=True, directional=True, seed=3)
    hidden, memory = np.zeros((2, 6, 4), "float32"), np.zeros((2, 2, 4), "float32")
    content, query = (ops.convert_to_numpy(m) for m in layer([hidden, memory], training=True))
    assert np.all(content[:, :, :2] == 1.0)
    np.testing.assert_array_equal(content[0], content[1])
    own = content[0, :, 2:]
    # Row j sees keys 0..order[j]: order is a permutation of the positions.
    assert sorted(int(row.sum()) - 1 for row in own) == list(range(6))
    np.testing.assert_array_equal(query[0, :, 2:], own * (1 - np.eye(6)))
    inference = ops.convert_to_numpy(layer([hidden, memory], training=False)[0])[0, :, 2:]
    np.testing.assert_array_equal(inference, np.tril(np.ones((6, 6))))


@pytest.mark.parametrize("case", ["attention", "memory_read", "relative_segment", "positional_bi"])
def test_keras_file_round_trip(case, tmp_path):
    """A functional model of the port saves to .keras and loads (safe mode) with its numbers."""
    golden = _golden(case)
    layer, inputs, _ = _filled(golden)
    arrays = inputs if isinstance(inputs, list) else [inputs]
    tensors = [keras.Input(batch_shape=a.shape, dtype=str(a.dtype)) for a in arrays]
    out = layer(tensors if isinstance(inputs, list) else tensors[0])
    model = keras.Model(tensors, out)
    if case == "memory_read":
        layer.memory.assign(golden.weights["memory_read/memory"])
    before = model(arrays)
    path = tmp_path / f"{case}.keras"
    if case == "memory_read":
        layer.memory.assign(golden.weights["memory_read/memory"])
    model.save(path)
    loaded = keras.saving.load_model(path, safe_mode=True)
    after = loaded(arrays)
    for b, a in zip(before if isinstance(before, list) else [before], after if isinstance(after, list) else [after]):
        assert max_abs_diff(ops.convert_to_numpy(a), ops.convert_to_numpy(b)) == 0.0
    inner = loaded.get_layer(golden.config["name"])
    assert type(inner) is type(layer)
    assert inner.get_config() == layer.get_config()


def test_print_max_abs_diffs():
    for key, value in sorted(DIFFS.items()):
        print(f"  {key}: {value:.3g}")
