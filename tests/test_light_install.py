"""What rewritten code and ported files need at run time: Keras 3 on any backend, no TensorFlow.

``pip install keras-migrate`` brings Keras 3, ``modern``, ``migrate rewrite``
and HDF5 ports; TensorFlow and tf_keras come with the ``tensorflow`` extra.
These tests build a real environment without TensorFlow: a virtual
environment whose site-packages holds every package of the test environment
*except* tensorflow, tf_keras and tensorboard (linked, not downloaded, so the
test costs no network and seconds), and run there, on the jax backend:

* ``migrate rewrite`` on the bundled legacy programs;
* the rewritten Keras-2.2 classifier (it builds and predicts);
* ``keras.saving.load_model(..., safe_mode=True)`` of ported files (the
  classifier rebuilt as ``modern`` layers, the tutorial ported into
  ``modern.models.Seq2SeqTransformer``, the classifier filled into the
  rewritten program's own model), whose outputs must equal those computed on
  the TensorFlow backend here;
* ``migrate port`` of a full-model HDF5 file, while what needs TensorFlow
  (``--verify``, a TF checkpoint) fails with one line naming the extra.

The rewritten 2021 tutorial keeps its own ``tf.*`` calls (``tf.function``,
``GradientTape``, ``TensorArray``): that program needs TensorFlow by itself,
so only its ``modern`` port is loaded here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import textwrap
from pathlib import Path

import numpy as np
import pytest

from migrate.cli import main

REPO = Path(__file__).resolve().parents[1]
LEGACY = REPO / "tests" / "fixtures" / "legacy"
TENSORFLOW_PACKAGES = ("tensorflow", "tf_keras", "tensorboard", "keras_migrate", "__editable__")

pytestmark = pytest.mark.slow


def make_env_without_tensorflow(root: Path) -> Path:
    """A virtual environment with this one's packages minus TensorFlow's; returns its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root)], check=True)
    python = root / "bin" / "python"
    site = Path(subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True, capture_output=True, text=True,
    ).stdout.strip())
    here = Path(sysconfig.get_paths()["purelib"])
    for entry in here.iterdir():
        if entry.name.lower().replace("-", "_").startswith(TENSORFLOW_PACKAGES):
            continue
        (site / entry.name).symlink_to(entry)
    # The project itself, as its editable install would put it on the path.
    (site / "keras_migrate_checkout.pth").write_text(f"{REPO}\n")
    return python


@pytest.fixture(scope="module")
def light(tmp_path_factory: pytest.TempPathFactory) -> dict:
    root = tmp_path_factory.mktemp("light")
    python = make_env_without_tensorflow(root / "venv")
    files = root / "files"
    files.mkdir()
    factories = REPO / "examples" / "modern_factories.py"
    assert main(["port", str(LEGACY / "keras22_classifier.model.h5"), "--to", str(files / "classifier_modern.keras")]) == 0
    assert main(["port", str(LEGACY / "tutorial_ckpt"), "--to", str(files / "translator_modern.keras"),
                 "--model", f"{factories}:seq2seq", "--map", "tutorial"]) == 0
    rewritten = root / "rewritten_here"
    assert main(["rewrite", "-q", str(REPO / "examples" / "legacy"), "-o", str(rewritten)]) in (0, 1)
    assert main(["port", str(LEGACY / "keras22_classifier.model.h5"), "--to", str(files / "classifier.keras"),
                 "--model", f"{rewritten / 'classifier.py'}:build_model"]) == 0
    env = {k: v for k, v in os.environ.items() if not k.startswith(("KERAS_", "TF_USE_LEGACY"))}
    env.update(KERAS_BACKEND="jax", PYTHONNOUSERSITE="1", JAX_PLATFORMS="cpu")
    return {"root": root, "python": python, "files": files, "env": env}


def run_light(light: dict, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(light["python"]), "-c", textwrap.dedent(code), *args], env=light["env"], cwd=light["root"],
        capture_output=True, text=True, timeout=600,
    )


PROBE = [[5, 9, 3, 7, 2, 8, 1, 4, 6, 3, 2, 9], [11, 3, 4, 5, 6, 7, 8, 9, 10, 2, 3, 4]]

LOAD_AND_PREDICT = """
    import importlib.util, json, sys
    import numpy as np
    assert importlib.util.find_spec("tensorflow") is None, "TensorFlow must be absent here"
    import keras
    import modern  # registers the modern layers a ported file names
    assert keras.backend.backend() == "jax"
    files, rewritten, probe = sys.argv[1], sys.argv[2], np.array(json.loads(sys.argv[3]), "int32")
    # The rewritten program registers its classes when imported (KM312).
    spec = importlib.util.spec_from_file_location("classifier", f"{rewritten}/classifier.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build_model()
    out = {"built_shape": list(built.predict(probe, verbose=0).shape)}
    for name in ("classifier_modern", "classifier"):
        model = keras.saving.load_model(f"{files}/{name}.keras", safe_mode=True)
        out[name] = model.predict(probe, verbose=0).tolist()
    seq = keras.saving.load_model(f"{files}/translator_modern.keras", safe_mode=True)
    out["translator_modern"] = np.asarray(seq((probe[:, :6], probe[:, :5]), training=False)).tolist()
    assert "tensorflow" not in sys.modules
    print(json.dumps(out))
"""


def _rewrite_there(light: dict) -> subprocess.CompletedProcess[str]:
    return run_light(light, """
        import sys
        from migrate.cli import main
        code = main(["rewrite", "-q", sys.argv[1], "-o", "rewritten"])
        assert "tensorflow" not in sys.modules
        sys.exit(code)
    """, str(REPO / "examples" / "legacy"))


def test_rewrite_runs_without_tensorflow(light: dict) -> None:
    done = _rewrite_there(light)
    assert done.returncode in (0, 1), done.stderr
    assert (light["root"] / "rewritten" / "classifier.py").is_file()


def test_rewritten_code_and_ported_files_run_on_jax_without_tensorflow(light: dict) -> None:
    import keras

    assert _rewrite_there(light).returncode in (0, 1)
    done = run_light(light, LOAD_AND_PREDICT, str(light["files"]), str(light["root"] / "rewritten"), json.dumps(PROBE))
    assert done.returncode == 0, done.stderr[-3000:]
    there = json.loads(done.stdout.strip().splitlines()[-1])
    probe = np.array(PROBE, "int32")
    assert there["built_shape"][0] == len(PROBE)
    # The same files on this process's backend (TensorFlow): the same numbers.
    for name in ("classifier_modern", "classifier"):
        model = keras.saving.load_model(light["files"] / f"{name}.keras", safe_mode=True)
        here = model.predict(probe, verbose=0)
        assert np.max(np.abs(np.array(there[name]) - here)) <= 1e-5, name
    seq = keras.saving.load_model(light["files"] / "translator_modern.keras", safe_mode=True)
    here = np.asarray(seq((probe[:, :6], probe[:, :5]), training=False))
    assert np.max(np.abs(np.array(there["translator_modern"]) - here)) <= 1e-5


def test_port_without_tensorflow_and_what_needs_the_extra(light: dict, tmp_path: Path) -> None:
    migrate = f"{light['python']} -m migrate.cli".split()

    def port(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*migrate, "port", *args], env=light["env"], cwd=light["root"],
                              capture_output=True, text=True, timeout=600)

    out = tmp_path / "classifier.keras"
    done = port(str(LEGACY / "keras22_classifier.model.h5"), "--to", str(out))
    assert done.returncode == 0, done.stderr
    assert out.is_file()
    for args in ([str(LEGACY / "keras22_classifier.model.h5"), "--verify"], [str(LEGACY / "tutorial_ckpt")]):
        done = port(*args, "--to", str(tmp_path / "x.keras"))
        errors = [line for line in done.stderr.splitlines() if line.startswith("migrate port: error:")]
        assert done.returncode == 2 and len(errors) == 1, done.stderr
        assert "pip install 'keras-migrate[tensorflow]'" in errors[0]
        assert not (tmp_path / "x.keras").exists()
