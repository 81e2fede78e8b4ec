"""legacy_ref.keras224: ``import keras`` meaning Keras 2.2.4 on tf_keras (the examples tier's oracle)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]


def test_batch_dot_is_keras_224s():
    """Mixed ranks as cifar10_cnn_capsule uses them, read as the contraction 2.2.4 performs."""
    import tensorflow as tf

    from legacy_ref.keras224 import batch_dot

    rng = np.random.RandomState(0)
    o, h, c = rng.randn(2, 5, 6), rng.randn(2, 5, 7, 6), rng.randn(2, 5, 7)
    as_tf = [tf.constant(v, tf.float64) for v in (o, h, c)]
    np.testing.assert_allclose(batch_dot(as_tf[0], as_tf[1], [2, 3]).numpy(), np.einsum("bik,bijk->bij", o, h))
    np.testing.assert_allclose(batch_dot(as_tf[2], as_tf[1], [2, 2]).numpy(), np.einsum("bij,bijk->bik", c, h))
    a, b = rng.randn(3, 4), rng.randn(3, 4)
    np.testing.assert_allclose(batch_dot(tf.constant(a), tf.constant(b), 1).numpy(), (a * b).sum(1, keepdims=True))


def test_install_gives_224_meanings_in_a_process_of_its_own():
    code = (
        "from legacy_ref import keras224\nkeras224.install()\n"
        "import keras\nfrom keras.layers import recurrent\nfrom keras.utils.data_utils import get_file\n"
        "from keras.layers import *\nimport keras.preprocessing.sequence\n"
        "from keras import backend as K\nfrom legacy_ref.keras224 import batch_dot\n"
        "assert K.batch_dot is batch_dot\n"
        "assert recurrent.LSTM(2).get_config()['recurrent_activation'] == 'hard_sigmoid'\n"
        "g = keras.layers.GRU(2).get_config()\nassert g['recurrent_activation'] == 'hard_sigmoid' and not g['reset_after']\n"
        "assert keras.optimizers.rmsprop(lr=0.5).get_config()['learning_rate'] == 0.5\n"
        "assert keras.optimizers.Adadelta().get_config()['learning_rate'] == 1.0\n"
        "assert Dense.__module__.startswith('tf_keras')\nprint('ok')\n"
    )
    env = dict(os.environ, TF_USE_LEGACY_KERAS="1", PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="2")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert done.stdout.strip().endswith("ok"), done.stderr[-2000:]
