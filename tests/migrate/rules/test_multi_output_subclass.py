"""KM314: a built-in layer's subclass returning several outputs (rules/multi_output_subclass.py).

The case is keras-embed-sim 0.10.0's ``EmbeddingRet`` (and keras-bert's ``TokenEmbedding``),
which tests/realworld runs end to end.
"""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rw

EMBEDDING_RET = '''
from tensorflow import keras


class EmbeddingRet(keras.layers.Embedding):
    """Embedding layer with weights returned."""

    def compute_output_shape(self, input_shape):
        return [
            super(EmbeddingRet, self).compute_output_shape(input_shape),
            (self.input_dim, self.output_dim),
        ]

    def call(self, inputs):
        return [
            super(EmbeddingRet, self).call(inputs),
            self.embeddings + 0.0,
        ]
'''

_ADDED = "    def compute_output_spec(self, *args, **kwargs):\n"


def test_several_outputs_get_compute_output_spec():
    code, findings = rw(EMBEDDING_RET)
    assert code.count(_ADDED) == 1
    # right after call(), traced by keras.Operation
    assert code.index("def call(") < code.index("def compute_output_spec(")
    assert "return keras.Operation.compute_output_spec(self, *args, **kwargs)" in code
    assert [f.message.split(":", 1)[0] for f in findings if f.rule == "KM314"] == ["EmbeddingRet"]
    assert all(f.fixed for f in findings if f.rule == "KM314")


def test_alias_and_local_base():
    """The base reached as ``from keras.layers import Embedding`` or through a local subclass."""
    src = ("from keras.layers import Embedding as E\n\n\nclass Base(E):\n    pass\n\n\n"
           "class Two(Base):\n    def call(self, x):\n        return x, self.embeddings\n")
    code, findings = rw(src)
    assert code.count(_ADDED) == 1 and "class Two(Base):" in code.split(_ADDED)[0]
    assert "import keras\n" in code  # what the added method names is imported


def test_noop_cases():
    """Layer itself copes with nested shapes; one output; a class that defines the spec; not a layer."""
    for src in (
        "import keras\n\n\nclass L(keras.layers.Layer):\n    def call(self, x):\n        return [x, x]\n",
        "import keras\n\n\nclass L(keras.layers.Embedding):\n    def call(self, x):\n        return [x]\n",
        "import keras\n\n\nclass L(keras.layers.Dense):\n    def call(self, x):\n        def f():\n"
        "            return x, x\n        return f()[0]\n",
        "import keras\n\n\nclass L(keras.layers.Dense):\n    def call(self, x):\n        return x, x\n\n"
        "    def compute_output_spec(self, x):\n        return x\n",
        "class Plain(object):\n    def call(self, x):\n        return x, x\n",
    ):
        code, findings = rw(src)
        assert code.count("def compute_output_spec(") == src.count("def compute_output_spec("), src
        assert not [f for f in findings if f.rule == "KM314"], src


def test_rule_off_and_idempotent():
    code, _ = rw(EMBEDDING_RET, ignore=frozenset({"KM314"}))
    assert "compute_output_spec" not in code
    assert_fixed_point(EMBEDDING_RET)


def test_rewritten_layer_builds_and_matches_on_keras3():
    """Before the rule Keras 3 fails to build the functional model ("Cannot convert ... to a
    shape"); after it, both outputs have their shapes and the same numbers as the layer's call."""
    import keras

    code, _ = rw(EMBEDDING_RET)
    namespace: dict[str, object] = {"__name__": "km314_case"}
    exec(compile(code, "km314_case.py", "exec"), namespace)
    layer = namespace["EmbeddingRet"](input_dim=5, output_dim=3, name="e")  # type: ignore[operator]
    inputs = keras.Input(shape=(4,))
    embedded, weights = layer(inputs)
    assert tuple(embedded.shape) == (None, 4, 3) and tuple(weights.shape) == (5, 3)
    model = keras.Model(inputs, [embedded, weights])
    x = np.array([[0, 1, 2, 4]], "int32")
    out, table = model.predict(x, verbose=0)
    table_now = keras.ops.convert_to_numpy(layer.embeddings)
    np.testing.assert_array_equal(out[0], table_now[x[0]])
    np.testing.assert_array_equal(table, table_now)
