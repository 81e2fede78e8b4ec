"""No-code ports of keras-xlnet full-model files (``build_xlnet``), against the real library on tf_keras.

The files are made at test time by keras-xlnet itself
(``legacy_ref/artefacts/xlnet_family.py test-files``, a tf_keras subprocess
with ``TF_USE_LEGACY_KERAS=1``): two sizes, ``training=False`` and
``training=True`` (permutation and query inputs, the tied softmax output),
with and without a training config, and the library's outputs on two
consecutive calls (the second reads the memory the first wrote), cached
under ``<venv>/xlnet-family-files/<key>``. Needs the libraries ``./dev``
installs into ``<venv>/realworld``; skips without them.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

from migrate.weights import families
from migrate.weights.families import xlnet_family
from tests.migrate.weights.family_files import family_files, load, max_diff, port, run_on_backend

ROOT = Path(__file__).resolve().parents[3]
LIBRARIES = Path(sys.prefix) / "realworld"
GOLDENS = ROOT / "tests" / "goldens" / "xlnet_family"
ATOL = 1e-5


@pytest.fixture(scope="module")
def files() -> Path:
    return family_files("xlnet", "keras_xlnet", "xlnet_pretrain.outputs.npz", extra_key_files=(ROOT / "legacy_ref" / "era.py",))


_port, _load, _max_diff = port, load, max_diff


def _calls(files: Path, stem: str) -> list[tuple[list[np.ndarray], np.ndarray]]:
    with np.load(files / f"{stem}.outputs.npz") as legacy:
        calls = []
        for c in range(2):
            inputs = [legacy[f"call{c}_input_{i}"] for i in range(5) if f"call{c}_input_{i}" in legacy.files]
            calls.append((inputs, legacy[f"call{c}_output"]))
    # Padding (id 5) and a memory read in every call: the masks and the state count.
    assert all((inputs[0] == 5).any() and inputs[2][0, 0] > 0 for inputs, _ in calls)
    return calls


def _assert_holds_the_files_state(model, files: Path, stem: str) -> None:
    """The ported memories hold the file's state, bit for bit (the port's probes left it alone)."""
    import keras

    with h5py.File(files / f"{stem}.h5", "r") as handle:
        memories = [layer for layer in model.layers if type(layer).__name__ == "Memory"]
        assert memories
        for layer in memories:
            saved = handle["model_weights"][layer.name][layer.name]["memory:0"][()]
            assert np.abs(saved).max() > 0 and np.array_equal(keras.ops.convert_to_numpy(layer.memory), saved), layer.name


def _assert_equals_library(model, files: Path, stem: str) -> list[float]:
    """Two consecutive calls from the file's state equal the library's two calls."""
    _assert_holds_the_files_state(model, files, stem)
    diffs = []
    for inputs, expected in _calls(files, stem):
        diffs.append(_max_diff(model(inputs, training=False), expected))
    assert max(diffs) <= ATOL, diffs
    return diffs


# --------------------------------------------------------------------------
# Goldens, still what the library computes
# --------------------------------------------------------------------------


def test_committed_goldens_are_what_the_libraries_compute_now(files: Path) -> None:
    committed = sorted(p.name for p in GOLDENS.glob("*.npz"))
    assert committed == sorted(p.name for p in (files / "goldens").glob("*.npz"))
    for name in committed:
        with np.load(GOLDENS / name) as old, np.load(files / "goldens" / name) as new:
            assert json.loads(str(old["config"][()])) == json.loads(str(new["config"][()])), name
            for key in old.files:
                if key != "config":
                    np.testing.assert_allclose(new[key], old[key], atol=1e-6, err_msg=f"{name} {key}")


# --------------------------------------------------------------------------
# No-code ports
# --------------------------------------------------------------------------


def test_trained_xlnet_file_ports_verified_trains_on_and_reloads(files: Path, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """build_xlnet(training=False), two blocks, with its training config: --verify against
    keras-xlnet on tf_keras, the optimizer state, one training step, a .keras reload."""
    out = tmp_path / "xlnet.keras"
    assert _port(files / "xlnet_bi_trained.h5", out, "--verify", "--legacy-path", str(LIBRARIES)) == 0
    report = capsys.readouterr().out
    assert "verified max abs diff" in report and "training resumes" in report, report
    model = _load(out)
    diffs = _assert_equals_library(model, files, "xlnet_bi_trained")
    print(f"xlnet_bi_trained: max abs diff per call {diffs}")
    assert "modern.layers.xlnet_family.attention" in {type(layer).__module__ for layer in model.layers}
    assert [str(t.dtype) for t in model.inputs] == ["int32", "int32", "int32"]
    inputs, _ = _calls(files, "xlnet_bi_trained")[0]
    model.jit_compile = False  # XLA compiles for twice the time of the step itself here
    loss = model.train_on_batch(inputs, np.zeros((2, 5, 8), "float32"))
    assert np.all(np.isfinite(loss)) and model.optimizer.iterations.numpy() == 3  # 2 steps on tf_keras, 1 here
    again = tmp_path / "again.keras"
    model.save(again)
    reloaded = _load(again)
    # Same weights and the same state (the training step's), so the same next call.
    assert _max_diff(reloaded(inputs, training=False), model(inputs, training=False)) == 0.0


@pytest.fixture(scope="module")
def ported_pretrain(files: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """build_xlnet(training=True) (query input, MaskEmbedding, the tied EmbeddingSim softmax), one
    block, one-directional and clamped, without a training config; ported once, without --verify
    (the tests compare it with the library's own two calls instead)."""
    out = tmp_path_factory.mktemp("xlnet_pretrain") / "xlnet_pretrain.keras"
    assert _port(files / "xlnet_pretrain.h5", out) == 0
    return out


def test_pretraining_file_ports_with_no_code_and_trains_a_step(files: Path, ported_pretrain: Path) -> None:
    model = _load(ported_pretrain)
    print(f"xlnet_pretrain: max abs diff per call {_assert_equals_library(model, files, 'xlnet_pretrain')}")
    assert {"MaskEmbedding", "PermutationMask", "EmbeddingSimilarity"} <= {type(l).__name__ for l in model.layers}
    # A training step draws a factorisation order (PermutationMask) as the library does in training.
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", jit_compile=False)
    inputs, _ = _calls(files, "xlnet_pretrain")[0]
    loss = model.train_on_batch(inputs, np.ones((2, 5, 1), "int32"))
    assert np.all(np.isfinite(loss))


def test_feature_file_without_training_config_ports_with_no_code(files: Path, tmp_path: Path) -> None:
    """Another size (12 units, 3 heads, one block, memory 2), uni-directional, clamped, no training config."""
    out = tmp_path / "xlnet_uni.keras"
    assert _port(files / "xlnet_uni.h5", out) == 0
    print(f"xlnet_uni: max abs diff per call {_assert_equals_library(_load(out), files, 'xlnet_uni')}")


def test_ported_file_loads_with_import_modern_alone_on_torch(files: Path, ported_pretrain: Path) -> None:
    """On torch (eager; on jax the same file runs eagerly as well, at 50 times the CPU time of torch
    here: every op is compiled on first use. Memory's read length is a value of the input, so jax
    cannot jit it: see modern.layers.xlnet_family.memory)."""
    code = (
        "import sys, numpy as np, keras, modern\n"
        "m = keras.saving.load_model(sys.argv[1], safe_mode=True)\n"
        "d = np.load(sys.argv[2])\n"
        "for c in range(2):\n"
        "    y = m([d[f'call{c}_input_{i}'] for i in range(4)], training=False)\n"
        "    y = keras.ops.convert_to_numpy(y).astype('float64')\n"
        "    print(float(np.max(np.abs(y - d[f'call{c}_output']))))\n"
    )
    lines = run_on_backend("torch", code, ported_pretrain, files / "xlnet_pretrain.outputs.npz")
    diffs = [float(line) for line in lines[-2:]]
    print(f"xlnet_pretrain on torch: {diffs}")
    assert max(diffs) <= ATOL


# --------------------------------------------------------------------------
# Refusals: looks like the family, is not
# --------------------------------------------------------------------------


def _edited_copy(files: Path, tmp_path: Path, edit) -> Path:
    path = tmp_path / "edited.h5"
    shutil.copy(files / "xlnet_uni.h5", path)
    with h5py.File(path, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        edit(config, handle)
        handle.attrs["model_config"] = json.dumps(config)
    return path


def _layer(config: dict, name: str) -> dict:
    return next(layer for layer in config["config"]["layers"] if layer["config"]["name"] == name)


@pytest.mark.parametrize("edit, named, says", [
    (lambda c, _: _layer(c, "Attention-1")["config"].update(key_dim=4), "'Attention-1'", "key_dim"),
    (lambda c, _: _layer(c, "Embed-Segment-1")["config"].update(input_dim=3), "'Embed-Segment-1'", "3 x 12"),
    (lambda c, _: _layer(c, "Attention-1")["config"].update(num_head=5), "'Attention-1'", "num_head=5"),
    (lambda c, _: _layer(c, "Memory-0")["config"].update(memory_len="2"), "'Memory-0'", "not counts"),
])
def test_look_alike_configs_are_refused_in_one_line_and_nothing_is_written(
        files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], edit, named: str, says: str) -> None:
    out = tmp_path / "xlnet.keras"
    assert _port(_edited_copy(files, tmp_path, edit), out) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and named in error[0] and says in error[0], error
    assert not out.exists() and list(tmp_path.iterdir()) == [tmp_path / "edited.h5"]


def test_other_weight_shapes_are_refused_naming_the_weight(files: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    def edit(_, handle):
        group = handle["model_weights"]["Attention-1"]["Attention-1"]
        del group["kernel:0"]
        group["kernel:0"] = np.zeros((12, 48), "float32")  # four projections, not five

    out = tmp_path / "xlnet.keras"
    assert _port(_edited_copy(files, tmp_path, edit), out) == 2
    error = capsys.readouterr().err
    assert "Attention-1/kernel" in error and "shape" in error, error
    assert not out.exists()


# --------------------------------------------------------------------------
# Recognition
# --------------------------------------------------------------------------


def _family(entry: dict) -> str | None:
    legacy = families.legacy_class_of(entry)
    return None if legacy is None else families.family_of(legacy).name


def test_classes_are_recognised_by_keys_and_call_not_by_name() -> None:
    several = [[["a", 0, 0, {}], ["b", 0, 0, {}]]]
    one = [[["a", 0, 0, {}]]]
    assert _family({"class_name": "RestoreMask", "config": {"name": "r"}, "inbound_nodes": several}) == "xlnet-family"
    # The same name called on one tensor, or with keys of its own, is some other RestoreMask.
    assert _family({"class_name": "RestoreMask", "config": {"name": "r"}, "inbound_nodes": one}) is None
    assert _family({"class_name": "RelativeBias", "config": {"name": "b", "units": 4}, "inbound_nodes": one}) \
        == "xlnet-family"
    assert _family({"class_name": "RelativeBias", "config": {"name": "b", "units": 4}, "inbound_nodes": several}) is None
    assert _family({"class_name": "Memory", "config": {"name": "m", "units": 4}, "inbound_nodes": several}) is None
    assert _family({"class_name": "PositionalEmbedding", "config": {"name": "p", "output_dim": 4},
                    "inbound_nodes": several}) is None


def test_each_class_builds_its_port_and_names_the_librarys_weights() -> None:
    import modern.layers.xlnet_family as ports

    configs = {
        "CreateMask": {"mask_value": 5},
        "RestoreMask": {},
        "Memory": {"batch_size": 2, "memory_len": 3, "target_len": 5, "output_dim": 8},
        "RelativeBias": {"units": 8},
        "SegmentBias": {"units": 8},
        "PositionalEmbedding": {"output_dim": 8, "clamp_len": None, "directional": False},
        "RelativeSegmentEmbedding": {"units": 8, "input_dim": 2, "output_dim": 8, "mask_zero": False,
                                     "input_length": None, "embeddings_initializer": "uniform"},
        "MaskEmbedding": {"units": 8, "initializer": "uniform", "regularizer": None, "constraint": None},
        "PermutationMask": {"enabled": True, "directional": False},
        "RelativePartialMultiHeadSelfAttention": {"units": 8, "num_head": 2, "use_bias": True,
                                                  "attention_dropout": 0.0, "activation": "linear"},
    }
    ours = [legacy for legacy in families.legacy_classes() if families.family_of(legacy) is xlnet_family.FAMILY]
    assert sorted(legacy.class_name for legacy in ours) == sorted(configs)
    expected_rows = {"Memory": ["memory"], "RelativeBias": ["bias_context", "bias_relative"],
                     "SegmentBias": ["bias_segment"], "RelativeSegmentEmbedding": ["embeddings"],
                     "MaskEmbedding": ["embeddings"], "RelativePartialMultiHeadSelfAttention": ["kernel", "bias"]}
    for legacy in ours:
        config = {"name": "layer", "trainable": True, "dtype": "float32", **configs[legacy.class_name]}
        layer = legacy.build(config)
        assert isinstance(layer, getattr(ports, legacy.class_name)) and layer.name == "layer"
        rows = legacy.rules("layer", config)
        assert [r.target for r in rows] == expected_rows.get(legacy.class_name, [])
        assert all(r.source == f"layer/{r.target}" for r in rows)
