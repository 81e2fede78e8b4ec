"""KM104: sys.modules['keras'] = tf.keras (rules/keras_module_alias.py).

The case is bert4keras 0.11.5's backend switch (TF_KERAS=1), run by tests/realworld.
"""

import os
import subprocess
import sys

from tests.migrate.helpers import assert_fixed_point, rw

SWITCH = '''
import os, sys
import tensorflow as tf

is_tf_keras = os.environ.get('TF_KERAS', '0') == '1'

if is_tf_keras:
    sys.modules['keras'] = tf.keras

import keras
'''


def test_alias_deleted():
    code, findings = rw(SWITCH)
    assert "if is_tf_keras:\n    pass\n" in code and "sys.modules" not in code
    assert [(f.rule, f.fixed) for f in findings] == [("KM104", True)]


def test_aliases_of_tensorflow_spellings():
    code, _ = rw('import sys as system\nfrom tensorflow import keras as tfk\nsystem.modules["keras"] = tfk\n')
    assert code.endswith("pass\n") and "modules" not in code


def test_noop_and_idempotent():
    for src in ("import sys\nimport tf_keras\nsys.modules['keras'] = tf_keras\n",  # not Keras 3's business
                "import sys\nimport tensorflow as tf\nsys.modules['tensorflow.keras.backend'] = K\n",
                "import tensorflow as tf\nmodules = {}\nmodules['keras'] = tf.keras\n"):
        code, findings = rw(src)
        assert "KM104" not in {f.rule for f in findings}, src
        assert "= t" in code or "= K" in code, src
    assert_fixed_point(SWITCH)


def test_rewritten_switch_imports_keras_3():
    # In one fresh process (TensorFlow imports once): the rewritten switch gives Keras 3; the
    # published one, run after it, makes `keras` the lazy loader of itself (RecursionError).
    code, _ = rw(SWITCH)
    script = (
        f"ns = {{}}\nexec({code!r}, ns)\nkeras = ns['keras']\n"
        "print(keras.__version__, keras.layers.Dense.__module__)\n"
        f"ns = {{}}\nexec({SWITCH!r}, ns)\n"
        "try:\n    ns['keras'].layers.Dense\nexcept RecursionError:\n    print('RecursionError')\n"
    )
    env = dict(os.environ, TF_KERAS="1", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("TF_USE_LEGACY_KERAS", None)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr[-1000:]
    first, second = done.stdout.splitlines()[-2:]
    assert first.startswith("3.") and first.endswith("keras.src.layers.core.dense")
    assert second == "RecursionError"
