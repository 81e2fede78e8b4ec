"""KM403-KM407: fit_generator & co, reset_states, predict_classes, removed args (rules/training_calls.py)."""

from tests.migrate.helpers import assert_fixed_point, rules_of, rw


def test_positive_fit_generator():
    code, findings = rw("model.fit_generator(gen, 100, 5, workers=4, use_multiprocessing=True)\n")
    assert code == "model.fit(gen, steps_per_epoch=100, epochs=5)\n"
    assert rules_of(findings) == {"KM403", "KM407"}


def test_metric_reset_states_and_predict_classes():
    code, _ = rw("import keras\nm = keras.metrics.Mean()\nm.reset_states()\nc = model.predict_classes(x)\n"
                 "p = model.predict_proba(x)\nmodel.fit(x, y, nb_epoch=3)\n")
    assert "m.reset_state()" in code
    assert "compat.predict_classes(model, x)" in code
    assert "model.predict(x)" in code
    assert "model.fit(x, y, epochs=3)" in code


def test_noop():
    src = "model.fit(x, y, epochs=3)\nmodel.evaluate(x, y)\n"
    assert rw(src) == (src, [])


def test_alias_metric_on_self():
    code, _ = rw("import tensorflow as tf\nclass T:\n    def __init__(self):\n"
                 "        self.acc = tf.keras.metrics.Mean()\n    def r(self):\n        self.acc.reset_states()\n")
    assert "self.acc.reset_state()" in code


def test_unsupported_reported():
    _, findings = rw("rnn.reset_states()\nmodel.fit(x, samples_per_epoch=100)\n"
                     "model.compile(optimizer='sgd', target_tensors=[t])\n")
    assert rules_of(findings, fixed=False) == {"KM404", "KM406", "KM407"}


def test_idempotent():
    assert_fixed_point("model.fit_generator(gen, steps_per_epoch=3, max_queue_size=2)\nc = m.predict_classes(x)\n")
