"""Names resolved across the tree being rewritten (names.tree_imports, issue 12).

bert4keras 0.11.5 reaches Keras through its own backend module: ``backend.py`` does
``import keras.backend as K``, ``layers.py`` imports ``from bert4keras.backend import
keras, K`` and ``models.py`` takes everything from ``from bert4keras.layers import *``;
``backend.py`` also replaces some of Keras's functions with its own (``K.where =
where``). Each file alone does not say that its ``K`` is Keras's backend.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from migrate.rewrite.names import module_of, tree_imports

BACKEND = "import keras\nimport keras.backend as K\n\n\ndef where(c, x, y):\n    return c\n\n\nK.where = where\n"
LAYERS = ("from mylib.backend import keras, K\n\n\ndef total(x):\n    return K.sum(x, axis=1)\n\n\n"
          "def pick(c, x):\n    return K.where(c, x, 0)\n")
MODELS = "from mylib.layers import *\n\n\ndef top(x):\n    return K.max(x, axis=1)\n"


def _tree(root: Path) -> Path:
    lib = root / "mylib"
    lib.mkdir()
    (lib / "__init__.py").write_text("")
    (lib / "backend.py").write_text(BACKEND)
    (lib / "layers.py").write_text(LAYERS)
    (lib / "models.py").write_text(MODELS)
    return lib


def _rewrite(*paths: Path) -> subprocess.CompletedProcess[str]:
    migrate = Path(sys.executable).parent / "migrate"
    return subprocess.run([str(migrate), "rewrite", "--jobs", "1", *map(str, paths)],
                          capture_output=True, text=True, timeout=120)


def test_module_names_follow_packages(tmp_path: Path) -> None:
    lib = _tree(tmp_path)
    assert module_of(str(lib / "layers.py")) == ("mylib.layers", False)
    assert module_of(str(lib / "__init__.py")) == ("mylib", True)
    assert module_of(str(tmp_path / "script.py")) == ("script", False)


def test_tree_imports_resolve_reexports_and_star_imports(tmp_path: Path) -> None:
    lib = _tree(tmp_path)
    found = tree_imports(str(p) for p in lib.glob("*.py"))
    assert found[str((lib / "layers.py").resolve())] == {"keras": "keras", "K": "keras.backend"}
    assert found[str((lib / "models.py").resolve())] == {"keras": "keras", "K": "keras.backend"}
    # Names other files import stay bound where they come from.
    assert set(found[f"{(lib / 'backend.py').resolve()}#exported"]) == {"keras", "K"}
    assert set(found[f"{(lib / 'layers.py').resolve()}#exported"]) == {"keras", "K"}
    # backend.py's own where replaces Keras's.
    assert found["#patched"] == {"keras.backend.where": "mylib.backend.K.where"}


def test_rewrite_before_and_after(tmp_path: Path) -> None:
    lib = _tree(tmp_path)
    done = _rewrite(lib)
    assert done.returncode == 0, done.stderr
    layers = (lib / "layers.py").read_text()
    models = (lib / "models.py").read_text()
    # K.sum/K.max are Keras's, reached through the library's own modules.
    assert "return ops.sum(x, axis=1)" in layers and "return ops.max(x, axis=1)" in models
    # K.where is the library's (backend.py replaced it): left as written, not reported.
    assert "return K.where(c, x, 0)" in layers and "KM209" not in done.stdout + done.stderr
    # layers.py still binds K (models.py takes it from there), backend.py still imports it.
    assert "from mylib.backend import keras, K" in layers
    assert "import keras.backend as K" in (lib / "backend.py").read_text()
    # The rewritten tree imports and runs on Keras 3 (models.py's K comes through two modules).
    check = ("import numpy as np\nfrom mylib import models, layers\n"
             "x = np.arange(6.0).reshape(2, 3)\n"
             "print(np.asarray(models.top(x)).tolist(), np.asarray(layers.total(x)).tolist())\n")
    run = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                         env={"PATH": "/usr/bin:/bin", "KERAS_BACKEND": "numpy", "PYTHONPATH": str(tmp_path)})
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["[2.0,", "5.0]", "[3.0,", "12.0]"]
    again = _rewrite(lib)  # idempotent
    assert "0 files changed" in again.stdout + again.stderr


def test_one_file_alone_is_not_resolved(tmp_path: Path) -> None:
    # Given only layers.py, its K is unknown (as before): nothing is guessed.
    lib = _tree(tmp_path)
    done = _rewrite(lib / "layers.py")
    assert done.returncode == 0
    assert (lib / "layers.py").read_text() == LAYERS


def test_files_own_binding_wins_over_a_star_import(tmp_path: Path) -> None:
    lib = _tree(tmp_path)
    (lib / "models.py").write_text("from mylib.layers import *\nimport numpy as K\n\n\ndef top(x):\n"
                                   "    return K.max(x, axis=1)\n")
    found = tree_imports(str(p) for p in lib.glob("*.py"))
    assert "K" not in found.get(str((lib / "models.py").resolve()), {})


def test_keras_star_import_passed_on(tmp_path: Path) -> None:
    # bert4keras: layers.py does `from keras.layers import *` and defines its own Embedding;
    # models.py takes both through `from bert4keras.layers import *`.
    lib = _tree(tmp_path)
    (lib / "layers.py").write_text("from mylib.backend import K\nfrom keras.layers import *\n\n\n"
                                   "class Embedding(Layer):\n    pass\n")
    (lib / "models.py").write_text("from mylib.layers import *\n\n\ndef f(x, s):\n"
                                   "    return Add()([Embedding()(x), s])\n")
    found = tree_imports(str(p) for p in lib.glob("*.py"))
    models = found[str((lib / "models.py").resolve())]
    assert models["Add"] == "keras.layers.Add" and models["Dense"] == "keras.layers.Dense"
    assert "Embedding" not in models and "Layer" in models  # its own class hides Keras's
    assert "add" not in models  # lower-case functions are not taken from a star import
    done = _rewrite(lib)
    assert done.returncode == 0, done.stderr
    assert "return compat.Add()([Embedding()(x), s])" in (lib / "models.py").read_text()
