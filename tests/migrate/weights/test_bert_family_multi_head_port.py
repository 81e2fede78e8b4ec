"""No-code ports of full-model files holding keras-multi-head's ``MultiHead`` wrapper.

The file is made by the real library on tf_keras (``write_multi_head`` in
``legacy_ref/artefacts/bert_family.py``: a masked input through
MultiHead(LSTM), the input through MultiHead(Dense) with a projection and the
regularization options, trained two steps), in the cached ``test-files`` run
that ``test_bert_family_port`` shares; the library's own outputs on a padded
probe come with it. Skips without the libraries.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest

from migrate.weights import families
from migrate.weights.errors import PortError
from migrate.weights.families import bert_family
from tests.migrate.weights.family_files import run_on_backend
from tests.migrate.weights.test_bert_family_port import ATOL, GOLDENS, LIBRARIES, _legacy, _port, files

__all__ = ["files"]  # the fixture, shared with the other bert-family port tests (same cached files)

WRAPPER = "MultiHead-Dense"


def test_committed_multi_head_goldens_are_what_the_library_computes_now(files: Path) -> None:
    committed = sorted(p.name for p in (GOLDENS / "multi_head").glob("*.npz"))
    assert committed and committed == sorted(p.name for p in (files / "goldens" / "multi_head").glob("*.npz"))
    for name in committed:
        with np.load(GOLDENS / "multi_head" / name) as old, np.load(files / "goldens" / "multi_head" / name) as new:
            assert json.loads(str(old["config"][()])) == json.loads(str(new["config"][()])), name
            assert sorted(old.files) == sorted(new.files), name
            for key in old.files:
                if key != "config":
                    np.testing.assert_allclose(new[key], old[key], atol=1e-6, err_msg=f"{name} {key}")


def test_multi_head_file_ports_verified_and_loads_with_import_modern_alone(
        files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "multi_head.keras"
    assert _port(files / "multi_head.h5", out, "--verify", "--legacy-path", str(LIBRARIES)) == 0
    report = capsys.readouterr().out
    assert "verified max abs diff" in report and "training resumes" in report, report
    # A fresh process, another backend, `import modern` and nothing else of ours.
    code = (
        "import sys, numpy as np, keras, modern\n"
        "m = keras.saving.load_model(sys.argv[1], safe_mode=True)\n"
        "d = np.load(sys.argv[2])\n"
        "print(sorted({type(l).__name__ for l in m.layers}))\n"
        "y = keras.ops.convert_to_numpy(m(d['input_0'], training=False))\n"
        "print(float(np.max(np.abs(y.astype('float64') - d['output_0']))))\n"
    )
    kinds, diff = run_on_backend("torch", code, out, files / "multi_head.outputs.npz")[-2:]
    assert "MultiHead" in kinds, kinds
    # The library's own outputs on a probe whose padding the Masking layer hides.
    inputs, _ = _legacy(files, "multi_head")
    assert (inputs[0] == 0).all(axis=-1).any()
    assert float(diff) <= ATOL, diff


def _edited_copy(files: Path, tmp_path: Path, edit) -> Path:
    path = tmp_path / "edited.h5"
    shutil.copy(files / "multi_head.h5", path)
    with h5py.File(path, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        entry = next(layer for layer in config["config"]["layers"] if layer["config"]["name"] == WRAPPER)
        edit(entry["config"], handle)
        handle.attrs["model_config"] = json.dumps(config)
    return path


def _set(key, value):
    return lambda config, _: config.__setitem__(key, value)


def _head_class(config, _):
    config["layers"][1]["class_name"] = "Embedding"


@pytest.mark.parametrize("edit, says", [
    (_set("heads", 3), "heads"),  # a key the library never writes
    (lambda config, _: config.pop("reg_slice"), "reg_slice"),  # a key it always writes, missing
    (_head_class, "Embedding"),  # a head the port does not know the weights of
    (_set("reg_index", [0, 7]), "reg_index"),
    (_set("hidden_dim", "4"), "hidden_dim"),
])
def test_look_alike_configs_are_refused_in_one_line_and_nothing_is_written(
        files: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], edit, says: str) -> None:
    out = tmp_path / "multi_head.keras"
    assert _port(_edited_copy(files, tmp_path, edit), out) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and f"'{WRAPPER}'" in error[0] and says in error[0], error
    assert not out.exists() and list(tmp_path.iterdir()) == [tmp_path / "edited.h5"]


def test_other_weight_shapes_are_refused_naming_the_weight(files: Path, tmp_path: Path,
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    def edit(_, handle):
        group = handle["model_weights"][WRAPPER][WRAPPER]["sub_1"]
        del group["kernel:0"]
        group["kernel:0"] = np.zeros((4, 6), "float32")

    out = tmp_path / "multi_head.keras"
    assert _port(_edited_copy(files, tmp_path, edit), out) == 2
    error = capsys.readouterr().err
    assert f"{WRAPPER}/sub_1/kernel" in error and "shape" in error, error
    assert not out.exists()


def test_multi_head_is_recognised_by_its_keys_and_names_the_librarys_weights(files: Path) -> None:
    with h5py.File(files / "multi_head.h5", "r") as handle:
        config = json.loads(handle.attrs["model_config"])
        saved = [n.decode() if isinstance(n, bytes) else n
                 for n in handle["model_weights"][WRAPPER].attrs["weight_names"]]
    entry = next(layer for layer in config["config"]["layers"] if layer["config"]["name"] == WRAPPER)
    legacy = families.legacy_class_of(entry)
    assert legacy is not None and families.family_of(legacy) is bert_family.FAMILY
    # Not by its name alone: without its heads it is some other MultiHead.
    assert families.legacy_class_of({"class_name": "MultiHead", "config": {"name": "m", "num_heads": 2}}) is None
    rows = legacy.rules(WRAPPER, entry["config"])
    # Row for row the library's saved weights, in its order.
    assert [row.source for row in rows] == [name[: -len(":0")] for name in saved]
    assert [row.target for row in rows][:3] == [f"{WRAPPER}_W", f"{WRAPPER}_b", "dense_1/kernel"]
    layer = legacy.build(dict(entry["config"]))
    assert type(layer).__name__ == "MultiHead" and [h.name for h in layer.heads] == ["dense_1", "dense_2", "dense_3"]
    with pytest.raises(PortError, match="lacks keys"):
        legacy.build({k: v for k, v in entry["config"].items() if k != "use_bias"})
