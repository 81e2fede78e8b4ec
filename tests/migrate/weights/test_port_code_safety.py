"""No code from a checkpoint ever runs (issue 10, section 1).

Each hostile file is built here: a real tf_keras ``Lambda`` whose marshalled
bytecode creates a sentinel file when it is deserialized and called, placed
where a deserializer would find it (inside ``TimeDistributed``,
``Bidirectional``, nested ``Sequential``/``Model`` configs, a layer's
``activity_regularizer``, a ``__passive_serialization__`` config item), and
code named by reference (dotted paths, ``module``, ``registered_name``,
Keras 3 ``__lambda__`` and ``function`` objects). Every file is ported plainly,
with ``--dry-run``, ``--verify``, ``--legacy`` and ``--model ... --verify``;
each must exit 2 with one line naming the layer, the sentinel must never
appear and nothing may be written at OUT.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path
from typing import Any, Callable

import h5py
import pytest

from migrate.cli import main

pytestmark = pytest.mark.slow


def _save_legacy(path: Path, build: Callable[[Any], Any]) -> None:
    import tf_keras

    build(tf_keras).save(path)


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Real legacy files, the sentinel path their code would create, and a real Lambda config."""
    import tf_keras

    root = tmp_path_factory.mktemp("hostile")
    sentinel = root / "SENTINEL"
    touch = lambda x, p=str(sentinel): (__import__("pathlib").Path(p).touch(), x)[1]  # noqa: E731

    def wrapped(k: Any) -> Any:
        inp = k.Input((3, 4))
        x = k.layers.TimeDistributed(k.layers.Lambda(touch))(inp)
        return k.Model(inp, k.layers.Dense(2, name="d")(x))

    def regularized(k: Any) -> Any:
        inp = k.Input((3, 4))
        return k.Model(inp, k.layers.Dense(2, name="d", activity_regularizer=k.layers.Lambda(touch))(inp))

    def clean(k: Any) -> Any:
        inp = k.Input((3, 4))
        return k.Model(inp, k.layers.Dense(2, name="d")(inp))

    files = {}
    for name, build in (("wrapped", wrapped), ("regularized", regularized), ("clean", clean)):
        files[name] = root / f"{name}.h5"
        _save_legacy(files[name], build)
    tf_keras.backend.clear_session()
    # Building the models called the Lambda; from here on, nothing may.
    sentinel.unlink()
    with h5py.File(files["wrapped"], "r") as handle:
        config = json.loads(handle.attrs["model_config"])
    lambda_config = next(l for l in config["config"]["layers"] if l["class_name"] == "TimeDistributed")["config"]["layer"]
    assert lambda_config["class_name"] == "Lambda" and lambda_config["config"]["function_type"] == "lambda"
    return {"root": root, "sentinel": sentinel, "files": files, "lambda": lambda_config}


def _crafted(hostile: dict[str, Any], tmp_path: Path, mutate: Callable[[dict[str, Any], dict[str, Any]], None]) -> Path:
    """The clean file with its model_config changed by ``mutate(config, lambda_config)``."""
    path = tmp_path / "crafted.h5"
    shutil.copy(hostile["files"]["clean"], path)
    with h5py.File(path, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        mutate(config, copy.deepcopy(hostile["lambda"]))
        handle.attrs["model_config"] = json.dumps(config)
    return path


def _dense(config: dict[str, Any]) -> dict[str, Any]:
    return next(l for l in config["config"]["layers"] if l["config"]["name"] == "d")["config"]


def _extra_layer(config: dict[str, Any], layer: dict[str, Any]) -> None:
    layer.setdefault("inbound_nodes", [[["input_1", 0, 0, {}]]])
    config["config"]["layers"].append(layer)


# name -> (how to make the file, a fragment the error line must name)
CASES: dict[str, tuple[Any, str]] = {
    "time_distributed_lambda": ("wrapped", "time_distributed/lambda"),
    "activity_regularizer_lambda": ("regularized", "d/lambda"),
    "bidirectional_lambda": (lambda c, lam: _extra_layer(c, {
        "class_name": "Bidirectional", "config": {"name": "bidi", "trainable": True, "layer": lam, "merge_mode": "concat"}}),
        "bidi/lambda"),
    "nested_sequential_lambda": (lambda c, lam: _extra_layer(c, {
        "class_name": "Sequential", "config": {"name": "inner", "layers": [lam]}}), "inner/lambda"),
    "nested_model_lambda": (lambda c, lam: _extra_layer(c, {
        "class_name": "Functional", "config": {"name": "sub", "layers": [lam], "input_layers": [], "output_layers": []}}),
        "sub/lambda"),
    "passive_serialization_lambda": (lambda c, lam: _dense(c).update(
        kernel_constraint={**lam, "__passive_serialization__": True}), "d/lambda"),
    "keras3_lambda_activation": (lambda c, lam: _dense(c).update(activation={
        "module": "builtins", "class_name": "__lambda__",
        "config": {"code": lam["config"]["function"][0], "defaults": None, "closure": None}}), "'d'"),
    "function_type_key": (lambda c, lam: _dense(c).update(
        function=lam["config"]["function"], function_type="lambda"), "'d'"),
    "dotted_activation": (lambda c, lam: _dense(c).update(activation="os.system"), "os.system"),
    "builtins_function": (lambda c, lam: _dense(c).update(activation={
        "module": "builtins", "class_name": "function", "config": "eval", "registered_name": "eval"}), "builtins"),
    "module_outside_keras": (lambda c, lam: _dense(c).update(kernel_initializer={
        "module": "os", "class_name": "GlorotUniform", "config": {"seed": None}}), "'os'"),
    "foreign_registered_name": (lambda c, lam: _dense(c).update(kernel_initializer={
        "module": "keras.initializers", "class_name": "GlorotUniform", "config": {}, "registered_name": "evil>Init"}),
        "evil>Init"),
    "registered_callable_string": (lambda c, lam: _dense(c).update(activation="evil>payload"), "evil>payload"),
}

MODES = ("plain", "dry-run", "verify", "legacy", "model-verify")

FACTORY = """\
import keras

def build():
    inp = keras.Input((3, 4))
    return keras.Model(inp, keras.layers.Dense(2, name="d")(inp))
"""

LEGACY_PROGRAM = """\
import keras  # tf_keras here: the legacy program runs through the import shim

def build():
    inp = keras.Input((3, 4))
    return keras.Model(inp, keras.layers.Dense(2, name="d")(inp))
"""


def _mode_args(mode: str, tmp_path: Path) -> list[str]:
    factory, legacy = tmp_path / "factory.py", tmp_path / "legacy_program.py"
    factory.write_text(FACTORY)
    legacy.write_text(LEGACY_PROGRAM)
    return {
        "plain": [],
        "dry-run": ["--dry-run"],
        "verify": ["--verify"],
        "legacy": ["--legacy", f"{legacy}:build", "--verify"],
        "model-verify": ["--model", f"{factory}:build", "--verify"],
    }[mode]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("case", sorted(CASES))
def test_code_in_a_checkpoint_is_refused_and_never_runs(
    case: str, mode: str, hostile: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    make, fragment = CASES[case]
    source = hostile["files"][make] if isinstance(make, str) else _crafted(hostile, tmp_path, make)
    out = tmp_path / "out" / "model.keras"
    out.parent.mkdir()
    code = main(["port", str(source), "--to", str(out), *_mode_args(mode, tmp_path)])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("migrate port: error:")]
    assert code == 2, err
    assert len(lines) == 1, err
    assert fragment in lines[0] and "--model" in lines[0], lines[0]
    assert "Traceback" not in err
    assert not hostile["sentinel"].exists(), "code from the checkpoint ran"
    assert list(out.parent.iterdir()) == []


def test_a_model_whose_config_names_code_still_ports_through_user_code(
    hostile: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """With --model the file's config is never deserialized; weights port, nothing runs."""
    out = tmp_path / "model.keras"
    code = main(["port", str(hostile["files"]["wrapped"]), "--to", str(out), *_mode_args("model-verify", tmp_path)[:2]])
    assert code == 0, capsys.readouterr().err
    assert out.is_file()
    assert not hostile["sentinel"].exists()


def test_wrappers_nested_models_and_config_objects_that_are_data_pass(tmp_path: Path) -> None:
    """The walk refuses code, not structure: a real config full of nesting passes."""
    from migrate.weights.config import check_legacy_config

    def build(k: Any) -> Any:
        inp = k.Input((5, 4))
        x = k.layers.TimeDistributed(k.layers.Dense(
            3, kernel_regularizer=k.regularizers.L1L2(0.01, 0.02), kernel_constraint=k.constraints.MaxNorm(2.0)))(inp)
        x = k.layers.Bidirectional(k.layers.LSTM(4, return_sequences=True))(x)
        x = k.Sequential([k.layers.Dense(3, activation="gelu"), k.layers.Dense(2, activation="hard_sigmoid")], name="inner")(x)
        sub_in = k.Input((5, 2))
        x = k.Model(sub_in, k.layers.Dense(2, activation="tanh")(sub_in), name="sub")(x)
        return k.Model(inp, k.layers.Dense(2, activity_regularizer=k.regularizers.L2(0.1), name="d")(x))

    path = tmp_path / "nested.h5"
    _save_legacy(path, build)
    with h5py.File(path, "r") as handle:
        check_legacy_config(json.loads(handle.attrs["model_config"]), str(path))


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c["config"].update(layers={"a": 1}), "not a list"),
    (lambda c: c["config"].update(layers=["Dense", "Dense"]), "layer #0 is str"),
    (lambda c: c["config"]["layers"].append({"class_name": 7}), "class_name is int"),
])
def test_malformed_layer_lists_are_one_line_errors(
    mutate: Callable[[dict[str, Any]], None], message: str, hostile: dict[str, Any], tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    source = _crafted(hostile, tmp_path, lambda c, _: mutate(c))
    out = tmp_path / "out.keras"
    assert main(["port", str(source), "--to", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("migrate port: error:") == 1 and message in err and "Traceback" not in err, err
    assert not out.exists()


def test_a_config_nested_900_deep_is_refused_without_recursion(
    hostile: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    def deep(config: dict[str, Any]) -> None:
        node: dict[str, Any] = {}
        _dense(config)["kernel_initializer"] = node
        for _ in range(900):
            node["config"] = {}
            node = node["config"]

    source = _crafted(hostile, tmp_path, lambda c, _: deep(c))
    assert main(["port", str(source), "--to", str(tmp_path / "out.keras"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.count("migrate port: error:") == 1 and "nests deeper" in err, err


LEGACY_EXITS = """\
import sys

def build():
    sys.exit(7)
"""

LEGACY_MISMATCH = """\
import keras

def build():
    inp = keras.Input((3, 4))
    return keras.Model(inp, keras.layers.Dense(5, name="d")(inp))
"""


@pytest.mark.parametrize("program, message", [
    (LEGACY_EXITS, "exit(7)"),
    (LEGACY_MISMATCH, "legacy model failed on tf_keras"),
])
def test_a_failing_legacy_oracle_is_one_line_and_leaves_nothing(
    program: str, message: str, hostile: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The tf_keras side runs in a child process: its failure is one line, nothing is left behind."""
    import tempfile

    scratch = tmp_path / "scratch"
    scratch.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(scratch))
    legacy, factory = tmp_path / "legacy_program.py", tmp_path / "factory.py"
    legacy.write_text(program)
    factory.write_text(FACTORY)
    out = tmp_path / "out" / "model.keras"
    out.parent.mkdir()
    code = main(["port", str(hostile["files"]["clean"]), "--to", str(out), "--model", f"{factory}:build",
                 "--legacy", f"{legacy}:build", "--verify"])
    err = capsys.readouterr().err
    assert code == 2, err
    lines = [line for line in err.splitlines() if line.startswith("migrate port: error:")]
    assert len(lines) == 1 and message in lines[0], err
    assert list(out.parent.iterdir()) == []
    assert list(scratch.iterdir()) == []


def test_the_oracle_verifies_a_clean_file_in_its_child_process(
    hostile: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "model.keras"
    assert main(["port", str(hostile["files"]["clean"]), "--to", str(out), "--verify"]) == 0, capsys.readouterr().err
    assert "verified max abs diff 0.00e+00" in capsys.readouterr().out
    assert out.is_file()


def test_model_args_with_non_scalar_arguments_are_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """``model_args.json`` beside a TF checkpoint may only hold scalar constructor arguments."""
    legacy = Path(__file__).resolve().parents[2] / "fixtures" / "legacy" / "tutorial_ckpt"
    copy_dir = tmp_path / "ckpt"
    shutil.copytree(legacy, copy_dir)
    args_file = copy_dir / "model_args.json"
    spec = json.loads(args_file.read_text())
    spec["args"]["num_layers"] = {"class_name": "Lambda"}
    args_file.write_text(json.dumps(spec))
    factory = Path(__file__).resolve().parents[3] / "examples" / "modern_factories.py"
    code = main(["port", str(copy_dir), "--to", str(tmp_path / "t.keras"), "--verify",
                 "--model", f"{factory}:seq2seq", "--map", "tutorial"])
    err = capsys.readouterr().err
    assert code == 2 and "scalar constructor arguments" in err, err
    assert not (tmp_path / "t.keras").exists()


def test_a_config_declaring_layers_larger_than_their_weights_is_refused_before_building(
    tmp_path: Path, capsys: pytest.CaptureFixture[str],
) -> None:
    """A 2**28-row Embedding declared over the real (30, 16) dataset: one line, nothing allocated."""
    import resource

    source = tmp_path / "bomb.h5"
    shutil.copy(Path(__file__).resolve().parents[2] / "fixtures" / "legacy" / "tfkeras_builtin.model.h5", source)
    with h5py.File(source, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        embedding = next(l for l in config["config"]["layers"] if l["class_name"] == "Embedding")
        embedding["config"]["input_dim"] = 2**28
        handle.attrs["model_config"] = json.dumps(config)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    assert main(["port", str(source), "--to", str(tmp_path / "out.keras")]) == 2
    err = capsys.readouterr().err
    assert err.count("migrate port: error:") == 1 and "input_dim=268435456" in err, err
    # Building that layer would take 16 GiB at float32; the peak must not move by even 1 GiB.
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before < 1 << 20
    assert not (tmp_path / "out.keras").exists()
