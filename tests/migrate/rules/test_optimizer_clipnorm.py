"""KM602: Keras 2.2's clipnorm= is Keras 3's global_clipnorm= (rules/optimizer_clipnorm.py)."""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

K22 = "from keras import backend as K\nfrom keras import optimizers\n"


def test_positive_renamed_after_the_other_optimizer_rules():
    code, findings = rw(K22 + "opt = optimizers.SGD(lr=0.1, clipnorm=1.0, decay=0.0)\n"
                        "ada = optimizers.Adagrad(clipnorm=5)\n")
    assert "optimizers.SGD(learning_rate=0.1, global_clipnorm=1.0)" in code
    assert "optimizers.Adagrad(learning_rate=0.01, global_clipnorm=5, initial_accumulator_value=0.0)" in code
    assert [f.fixed for f in findings if f.rule == "KM602"] == [True, True]


def test_noop_tf_keras2_keeps_per_variable_clipnorm():
    src = "import tensorflow as tf\nopt = tf.keras.optimizers.Adam(clipnorm=1.0)\n"
    code, findings = rw(src)
    assert "Adam(clipnorm=1.0)" in code and "KM602" not in rules_of(findings)


def test_alias_from_flag():
    code, _ = rw("import keras\nfrom keras.optimizers import Adam as A\nopt = A(clipnorm=2.0)\n", source="keras-2.2")
    assert "A(global_clipnorm=2.0)" in code


def test_unsupported_both_given_and_unknown_dialect():
    _, findings = rw(K22 + "opt = optimizers.SGD(clipnorm=1.0, global_clipnorm=2.0)\n")
    assert [(f.rule, f.fixed) for f in findings if f.rule == "KM602"] == [("KM602", False)]
    code, findings = rw("import keras\nopt = keras.optimizers.SGD(clipnorm=1.0)\n")
    assert "clipnorm=1.0" in code and "global_clipnorm" not in code
    assert [(f.rule, f.fixed) for f in findings if f.rule == "KM602"] == [("KM602", False)]


def test_idempotent():
    assert_fixed_point(K22 + "opt = optimizers.RMSprop(clipnorm=1.0)\n")


def test_rewritten_step_is_the_keras22_step():
    """Keras 2.2.4's get_gradients: one norm over all gradients, g * c / n when n >= c. The
    rewritten optimizer takes that step on Keras 3; the unrewritten one (per variable) does not."""
    import keras

    grads = [np.array([3.0, 4.0], "float32"), np.array([0.0, 5.0], "float32")]
    c, lr = 1.0, 0.5
    norm = np.sqrt(sum(float((g * g).sum()) for g in grads))
    keras22 = [-lr * (g * c / norm if norm >= c else g) for g in grads]

    code, _ = rw(K22 + f"opt = optimizers.SGD(lr={lr}, clipnorm={c})\n")
    namespace: dict[str, object] = {}
    exec(compile(code.replace("from keras import backend as K\n", ""), "opt.py", "exec"), namespace)

    def step(opt: object) -> list[np.ndarray]:
        variables = [keras.Variable(np.zeros(2, "float32")) for _ in grads]
        opt.apply_gradients(list(zip([keras.ops.convert_to_tensor(g) for g in grads], variables)))  # type: ignore[attr-defined]
        return [keras.ops.convert_to_numpy(v) for v in variables]

    for got, want in zip(step(namespace["opt"]), keras22):
        np.testing.assert_allclose(got, want, rtol=1e-6)
    per_variable = step(keras.optimizers.SGD(learning_rate=lr, clipnorm=c))
    assert not np.allclose(per_variable[1], keras22[1], rtol=1e-3)
