"""KM303/KM304/KM306/KM307: layer constructor arguments (rules/layer_kwargs.py)."""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rules_of, rw


def test_positive_keras22_rnn_defaults_pinned():
    code, findings = rw("from keras.layers import LSTM, GRU, Dense\nfrom keras import backend as K\n"
                        "a = LSTM(8)\nb = GRU(4, return_sequences=True)\nc = Dense(3, activation='hard_sigmoid')\n"
                        "s = K.epsilon()\n")
    assert "LSTM(8, recurrent_activation=compat.legacy_hard_sigmoid)" in code
    assert "GRU(4, return_sequences=True, recurrent_activation=compat.legacy_hard_sigmoid, reset_after=False)" in code
    assert "Dense(3, activation=compat.legacy_hard_sigmoid)" in code
    assert {"KM303", "KM304"} <= rules_of(findings, fixed=True)


def test_keras1_kwargs():
    code, _ = rw("from keras.layers import Dense\nd = Dense(output_dim=3, init='zero', W_regularizer=None)\n")
    assert "Dense(units=3, kernel_initializer='zero', kernel_regularizer=None)" in code


def test_embedding_keeps_output_dim():
    """Embedding(input_dim, output_dim) is the Keras 3 signature too: output_dim= stays
    (it once became units=, which Keras 3's Embedding rejects; keras-bert's get_embedding
    broke on it), also through an alias; Dense's output_dim= is still renamed."""
    src = ("from tensorflow import keras\nfrom tensorflow.keras.layers import Embedding as E\n"
           "a = keras.layers.Embedding(input_dim=2, output_dim=8)\nb = E(10, output_dim=4)\n"
           "c = keras.layers.Dense(output_dim=3)\n")
    code, findings = rw(src)
    assert "keras.layers.Embedding(input_dim=2, output_dim=8)" in code and "E(10, output_dim=4)" in code
    assert "keras.layers.Dense(units=3)" in code
    assert len([f for f in findings if f.rule == "KM306" and "output_dim" in f.message]) == 1
    assert_fixed_point(src)

    import keras

    namespace: dict[str, object] = {}
    exec(compile(code, "embedding_kw.py", "exec"), namespace)
    assert namespace["a"].output_dim == 8 and namespace["b"].output_dim == 4  # type: ignore[attr-defined]
    assert isinstance(namespace["a"], keras.layers.Embedding)


def test_noop_tf_keras2_source():
    src = "import tensorflow as tf\nfrom tensorflow.keras.layers import LSTM\na = LSTM(8)\n"
    code, findings = rw(src)
    assert "LSTM(8)" in code and "recurrent_activation" not in code
    assert "KM303" not in rules_of(findings)


def test_alias_from_flag():
    code, _ = rw("import keras\na = keras.layers.GRU(4)\n", source="keras-2.2")
    assert "reset_after=False" in code


def test_unsupported_unknown_version_reported():
    _, findings = rw("import keras\na = keras.layers.LSTM(4)\n")
    assert [(f.rule, f.fixed) for f in findings] == [("KM307", False)]


def test_idempotent():
    assert_fixed_point("from keras.layers.recurrent import LSTM\na = LSTM(8)\n")


def test_legacy_hard_sigmoid_matches_tf_keras():
    from tf_keras import backend as tfk
    from keras import ops

    from modern import compat

    x = np.linspace(-4, 4, 33).astype("float32")
    np.testing.assert_allclose(ops.convert_to_numpy(compat.legacy_hard_sigmoid(x)), tfk.hard_sigmoid(tfk.constant(x)).numpy(),
                               atol=1e-7)


def test_unknown_dialect_findings_get_no_todo_comment():
    # the migrated tf.keras code reads as standalone Keras of unknown version on a second run
    once = assert_fixed_point("import tensorflow as tf\nl = tf.keras.layers.LSTM(4)\n", todo_comments=True)
    _, findings = rw(once, todo_comments=True)
    assert [(f.rule, f.fixed) for f in findings] == [("KM307", False)] and "TODO" not in once


def test_tf_keras2_convlstm_hard_sigmoid_pinned():
    """tf.keras 2 kept recurrent_activation='hard_sigmoid' on the convolutional LSTMs only."""
    src = ("import tensorflow as tf\nfrom tensorflow.keras import layers\n"
           "a = layers.ConvLSTM2D(4, 3)\nb = tf.keras.layers.ConvLSTM1D(2, 3, recurrent_activation='tanh')\n"
           "c = layers.LSTM(4)\n")
    code, findings = rw(src)
    assert "a = keras.layers.ConvLSTM2D(4, 3, recurrent_activation=compat.legacy_hard_sigmoid)" in code
    assert "recurrent_activation='tanh')" in code and "c = keras.layers.LSTM(4)\n" in code
    assert [f.message for f in findings if f.rule == "KM303"] == [
        "ConvLSTM2D: tf.keras 2 defaults pinned: recurrent_activation=compat.legacy_hard_sigmoid"]
    assert_fixed_point(src)


def test_tf_keras2_convlstm_pin_reproduces_tf_keras():
    import keras
    import tf_keras

    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 5, 5, 2)).astype("float32")
    legacy = tf_keras.layers.ConvLSTM2D(3, 3, padding="same")
    want = legacy(x).numpy()
    code, _ = rw("import tensorflow as tf\nlayer = tf.keras.layers.ConvLSTM2D(3, 3, padding='same')\n")
    namespace: dict[str, object] = {}
    exec(compile(code, "convlstm.py", "exec"), namespace)
    layer = namespace["layer"]
    layer.build(x.shape)  # type: ignore[attr-defined]
    layer.set_weights(legacy.get_weights())  # type: ignore[attr-defined]
    got = keras.ops.convert_to_numpy(layer(x))  # type: ignore[operator]
    plain = keras.layers.ConvLSTM2D(3, 3, padding="same")
    plain.build(x.shape)
    plain.set_weights(legacy.get_weights())
    print(f"ConvLSTM2D max abs diff {np.abs(got - want).max():.2e}")
    assert np.abs(got - want).max() <= 1e-5
    assert np.abs(keras.ops.convert_to_numpy(plain(x)) - want).max() > 1e-3  # Keras 3's default sigmoid differs


def test_positional_limit_matches_the_legacy_signatures():
    import inspect

    import tf_keras

    from migrate.rewrite.rules.layer_kwargs import POSITIONAL_BEFORE_PINS

    for name, limit in POSITIONAL_BEFORE_PINS.items():
        params = list(inspect.signature(getattr(tf_keras.layers, name).__init__).parameters)[1:]
        assert params.index("recurrent_activation") == limit, name


def test_alias_of_a_recurrent_class_pinned_at_its_calls():
    """Keras 2.2.4's babi_rnn: RNN = recurrent.LSTM, then RNN(...). The module-level alias is
    resolved, so its calls get the Keras 2.2 pins like direct calls (unresolved, the example
    was 1.9e-4 off the 2.2 oracle); a name bound twice stays unresolved and is reported."""
    src = ("from keras import backend as K\nfrom keras.layers import recurrent, Dense\nRNN = recurrent.LSTM\n"
           "x = RNN(8)\nD = Dense\n")
    code, findings = rw(src)
    assert "x = RNN(8, recurrent_activation=compat.legacy_hard_sigmoid)\n" in code
    assert "RNN = keras.layers.LSTM\n" in code
    assert [(f.rule, f.fixed, f.line) for f in findings if f.rule == "KM303"] == [("KM303", True, 4)]
    twice = src.replace("x = RNN(8)\n", "x = RNN(8)\nif x:\n    RNN = recurrent.GRU\n")
    code, findings = rw(twice)
    assert "x = RNN(8)\n" in code
    km303 = [f for f in findings if f.rule == "KM303"]
    assert [(f.fixed, f.line) for f in km303] == [(False, 3), (False, 6)]
    assert "recurrent_activation=compat.legacy_hard_sigmoid" in km303[0].message
    assert "reset_after=False" in km303[1].message
    _, findings = rw("import tensorflow as tf\nRNN = tf.keras.layers.LSTM\nx = RNN(8)\n")
    assert "KM303" not in rules_of(findings)  # tf.keras 2's LSTM defaults are Keras 3's


def test_alias_resolution_numbers():
    """The pinned alias call computes what Keras 2.2's LSTM computed: the rewritten module,
    run on Keras 3 with the same weights, equals the same layer with the 2.2 defaults given
    explicitly on tf_keras (recurrent_activation='hard_sigmoid' is 0.2*x+0.5 there)."""
    import numpy as np
    import keras

    src = ("from keras.layers import recurrent\nfrom keras import backend as K\nRNN = recurrent.LSTM\n"
           "def build():\n    return RNN(3)\n")
    code, _ = rw(src)
    namespace: dict = {}
    exec(compile(code, "t.py", "exec"), namespace)
    layer = namespace["build"]()
    x = np.random.default_rng(0).normal(size=(2, 4, 5)).astype("float32")
    layer.build(x.shape)
    rng = np.random.default_rng(1)
    weights = [rng.normal(size=w.shape).astype("float32") for w in layer.get_weights()]
    layer.set_weights(weights)
    got = keras.ops.convert_to_numpy(layer(x))
    # Keras 2.2's LSTM step written out (gates i, f, c, o; hard sigmoid 0.2*x+0.5 clipped).
    kernel, recurrent_kernel, bias = weights
    hard = lambda v: np.clip(0.2 * v + 0.5, 0.0, 1.0)  # noqa: E731
    h = np.zeros((2, 3), "float32")
    c = np.zeros((2, 3), "float32")
    for t in range(4):
        z = x[:, t] @ kernel + h @ recurrent_kernel + bias
        i, f, g, o = np.split(z, 4, axis=-1)
        c = hard(f) * c + hard(i) * np.tanh(g)
        h = hard(o) * np.tanh(c)
    assert np.max(np.abs(got - h)) <= 1e-5
