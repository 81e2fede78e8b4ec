"""KM318: sublayers made in build() of a layer with compute_output_shape (rules/build_sublayers.py).

The case is bert4keras 0.11.5's MultiHeadAttention (Dense projections made in build(),
its own compute_output_shape, `from keras.layers import *`), run by tests/realworld.
"""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rw

ATTENTION = '''
import tensorflow as tf
from tensorflow import keras
from tensorflow.keras.layers import *


class Project(Layer):
    def build(self, input_shape):
        super(Project, self).build(input_shape)
        self.q_dense = Dense(4, name="q")
        self.o_dense = Dense(3, name="o")

    def call(self, inputs):
        return self.o_dense(self.q_dense(inputs))

    def compute_output_shape(self, input_shape):
        return input_shape[:-1] + (3,)
'''


def test_compute_output_spec_added():
    code, findings = rw(ATTENTION)
    assert ("    def compute_output_spec(self, *args, **kwargs):\n" in code
            and "return keras.Operation.compute_output_spec(self, *args, **kwargs)" in code)
    assert code.index("def call") < code.index("def compute_output_spec") < code.index("def compute_output_shape")
    km318 = [f for f in findings if f.rule == "KM318"]
    assert [f.fixed for f in km318] == [True] and "q_dense, o_dense" in km318[0].message


def test_imported_and_list_forms():
    src = ("from keras import layers\nimport keras\n\n\nclass P(keras.layers.Layer):\n"
           "    def build(self, s):\n        self.ds = [layers.Dense(2) for _ in range(3)]\n\n"
           "    def call(self, x):\n        return x\n\n    def compute_output_shape(self, s):\n        return s\n")
    code, findings = rw(src)
    assert "def compute_output_spec" in code and "KM318" in {f.rule for f in findings}


def test_noop():
    for src in (
        # no compute_output_shape: Keras 3 traces call() anyway
        ATTENTION.replace("    def compute_output_shape(self, input_shape):\n"
                          "        return input_shape[:-1] + (3,)\n", ""),
        # sublayers made in __init__ are built by Keras 3's own tracking... only build() ones matter
        "import keras\n\n\nclass P(keras.layers.Layer):\n    def build(self, s):\n        self.w = 3\n\n"
        "    def call(self, x):\n        return x\n\n    def compute_output_shape(self, s):\n        return s\n",
        # a name the module defines itself is not the star-imported Keras layer
        "from keras.layers import *\n\n\nclass Dense:\n    pass\n\n\nclass P(Layer):\n    def build(self, s):\n"
        "        self.d = Dense()\n\n    def call(self, x):\n        return x\n\n"
        "    def compute_output_shape(self, s):\n        return s\n",
    ):
        code, findings = rw(src)
        assert "compute_output_spec" not in code and "KM318" not in {f.rule for f in findings}, src
    assert_fixed_point(ATTENTION)


def test_rewritten_layer_has_weights_when_the_model_is_built():
    import keras

    code, _ = rw(ATTENTION)
    namespace: dict[str, object] = {}
    exec(compile(code, "km318.py", "exec"), namespace)
    inputs = keras.Input((5, 2))
    model = keras.Model(inputs, namespace["Project"]()(inputs))  # type: ignore[operator]
    # Keras 2 made the projections' weights here; without the rule Keras 3 has none yet.
    assert [tuple(w.shape) for w in model.weights] == [(2, 4), (4,), (4, 3), (3,)]
    x = np.ones((1, 5, 2), "float32")
    assert model.predict(x, verbose=0).shape == (1, 5, 3)
    namespace_before: dict[str, object] = {}
    exec(compile(ATTENTION.replace("import tensorflow as tf\nfrom tensorflow import keras\n"
                                   "from tensorflow.keras.layers import *\n",
                                   "import keras\nfrom keras.layers import *\n"), "before.py", "exec"),
         namespace_before)
    unbuilt = keras.Model(inputs, namespace_before["Project"]()(inputs))  # type: ignore[operator]
    assert unbuilt.weights == []
