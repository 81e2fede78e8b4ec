"""KM315: Keras 2 merge layers keep Keras 2's output mask (rules/merge_mask.py, modern.compat).

Found by tests/realworld: keras-bert adds a masked token embedding to an unmasked segment
embedding; on Keras 3 the sum carried no mask and the encoder's outputs moved by 0.58.
"""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rw

BERT_LIKE = '''
from tensorflow import keras

tokens = keras.layers.Input(shape=(4,))
segments = keras.layers.Input(shape=(4,))
summed = keras.layers.Add(name='Embedding-Token-Segment')([
    keras.layers.Embedding(input_dim=5, output_dim=3, mask_zero=True, name='tok')(tokens),
    keras.layers.Embedding(input_dim=2, output_dim=3, name='seg')(segments),
])
pooled = keras.layers.GlobalAveragePooling1D()(summed)
model = keras.models.Model([tokens, segments], pooled)
'''


def test_merge_layers_become_compat_twins():
    code, findings = rw(BERT_LIKE)
    assert "compat.Add(name='Embedding-Token-Segment')" in code and "from modern import compat" in code
    assert [(f.rule, f.fixed) for f in findings if f.rule == "KM315"] == [("KM315", True)]


def test_alias_and_every_merge_layer():
    src = ("from tensorflow.keras import layers as L\nfrom tensorflow.keras.layers import Multiply as M\n"
           "a = L.Subtract()\nb = M()\nc = L.Average()\nd = L.Maximum()\ne = L.Minimum()\n")
    code, _ = rw(src)
    for name in ("Subtract", "Multiply", "Average", "Maximum", "Minimum"):
        assert f"compat.{name}()" in code, name


def test_noop_on_code_that_may_be_keras3_and_on_other_layers():
    """Plain ``keras`` without Keras 2.2 markers may be Keras 3 code already; Concatenate
    keeps its own mask rule in both."""
    for src in ("import keras\ny = keras.layers.Add()([a, b])\n",
                "from tensorflow import keras\ny = keras.layers.Concatenate()([a, b])\n"):
        code, findings = rw(src)
        assert "compat." not in code and not [f for f in findings if f.rule == "KM315"], src


def test_rule_off_and_idempotent():
    code, _ = rw(BERT_LIKE, ignore=frozenset({"KM315"}))
    assert "keras.layers.Add(name=" in code and "compat" not in code
    assert_fixed_point(BERT_LIKE)


def _legacy_output(x_tok: np.ndarray, x_seg: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
    import tf_keras

    tokens, segments = tf_keras.layers.Input(shape=(4,)), tf_keras.layers.Input(shape=(4,))
    summed = tf_keras.layers.Add()([
        tf_keras.layers.Embedding(input_dim=5, output_dim=3, mask_zero=True, name="tok")(tokens),
        tf_keras.layers.Embedding(input_dim=2, output_dim=3, name="seg")(segments),
    ])
    model = tf_keras.models.Model([tokens, segments], tf_keras.layers.GlobalAveragePooling1D()(summed))
    return model.predict([x_tok, x_seg], verbose=0), model.get_weights()


def test_rewritten_model_equals_tf_keras_with_masks():
    """The mask survives the Add as in Keras 2, so the masked average equals tf_keras's;
    the unrewritten Keras 3 model averages the padding too; .keras reloads with safe_mode."""
    import keras

    x_tok = np.array([[1, 2, 0, 0], [3, 4, 1, 0]], "int32")
    x_seg = np.array([[0, 1, 1, 1], [0, 0, 1, 1]], "int32")
    expected, weights = _legacy_output(x_tok, x_seg)

    def run(code: str) -> object:
        namespace: dict[str, object] = {}
        exec(compile(code, "bert_like.py", "exec"), namespace)
        model = namespace["model"]
        model.get_layer("tok").set_weights([weights[0]])  # type: ignore[attr-defined]
        model.get_layer("seg").set_weights([weights[1]])  # type: ignore[attr-defined]
        return model

    model = run(rw(BERT_LIKE)[0])
    got = model.predict([x_tok, x_seg], verbose=0)  # type: ignore[attr-defined]
    np.testing.assert_allclose(got, expected, atol=1e-6)
    unmasked = run(rw(BERT_LIKE, ignore=frozenset({"KM315"}))[0])
    assert np.abs(unmasked.predict([x_tok, x_seg], verbose=0) - expected).max() > 1e-3  # type: ignore[attr-defined]


def test_compat_merge_round_trips(tmp_path):
    import keras

    from modern import compat

    a, b = keras.Input((4, 3)), keras.Input((4, 3))
    model = keras.Model([a, b], compat.Add(name="sum")([a, b]))
    model.save(tmp_path / "m.keras")
    reloaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert type(reloaded.get_layer("sum")) is compat.Add


def test_merge_class_handed_on_as_a_value():
    # bert4keras 0.11.5's models.py: self.apply(inputs=[x, s], layer=Add, name=...) builds Add later.
    src = ("from tensorflow.keras.layers import Add, Dense\n\n\nclass M:\n    def build(self, x, s):\n"
           "        return self.apply(inputs=[x, s], layer=Add, name='sum', units=Dense)\n")
    code, findings = rw(src)
    assert "self.apply(inputs=[x, s], layer=compat.Add, name='sum', units=Dense)" in code
    assert "from modern import compat" in code
    assert [(f.rule, f.fixed) for f in findings if f.rule == "KM315"] == [("KM315", True)]
    assert_fixed_point(src)
    plain = "import keras\nself.apply(layer=keras.layers.Add)\n"  # dialect unknown: left alone
    assert rw(plain) == (plain, [])
