"""KM403-KM407: fit_generator & co, reset_states, predict_classes, removed args (rules/training_calls.py)."""

from tests.migrate.helpers import assert_fixed_point, rules_of, rw


def test_positive_fit_generator():
    code, findings = rw("model.fit_generator(gen, 100, 5, workers=4, use_multiprocessing=True)\n")
    # (where the finishing step puts the new import is not this rule's business)
    assert sorted(code.splitlines()) == ["from modern import compat",
                                         "model.fit(compat.legacy_batches(gen), steps_per_epoch=100, epochs=5)"]
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


def test_generator_batches_wrapped_for_keras3():
    """fit_generator/evaluate_generator batches ``([x1, x2], y)`` reach Keras 3 through
    compat.legacy_batches; a keyword ``generator=`` becomes ``x=``; ``(x, y)`` validation
    tuples and predict's generator are left alone."""
    code, _ = rw("import keras\nm.fit_generator(generator=g, validation_data=vg())\n"
                 "m.fit_generator(g, validation_data=(xv, yv))\nm.evaluate_generator(g, 5)\nm.predict_generator(g, 5)\n")
    assert "m.fit(x=compat.legacy_batches(g), validation_data=compat.legacy_batches(vg()))" in code
    assert "m.fit(compat.legacy_batches(g), validation_data=(xv, yv))" in code
    assert "m.evaluate(compat.legacy_batches(g), steps=5)" in code
    assert "m.predict(g, steps=5)" in code
    assert_fixed_point("import keras\nm.fit_generator(g, validation_data=vg())\n")


def test_legacy_batches_in_keras3_fit():
    """The issue-12 failure: Keras 3's fit(gen()) with batches ``[x1, x2], y`` raised
    "output_signature must contain objects that are subclass of tf.TypeSpec"; through
    compat.legacy_batches it trains on the same inputs, also from a Keras 2 style sequence."""
    import keras
    import numpy as np
    import pytest

    from modern import compat

    a, b = keras.Input((3,)), keras.Input((2,))
    model = keras.Model([a, b], keras.layers.Dense(1)(keras.layers.concatenate([a, b])))
    model.compile("sgd", "mse")
    batch = ([np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")], np.ones((4, 1), "float32"))

    def gen():
        while True:
            yield batch

    with pytest.raises(TypeError, match="output_signature"):
        model.fit(gen(), steps_per_epoch=1, verbose=0)

    class Batches:  # a Keras 2 Sequence: __len__ and __getitem__
        def __len__(self):
            return 2

        def __getitem__(self, i):
            return batch

    for data in (gen(), Batches()):
        history = model.fit(compat.legacy_batches(data), steps_per_epoch=2, verbose=0)
        assert np.isfinite(history.history["loss"][-1])
    assert compat.legacy_batches((batch[0], batch[1]))[1] is batch[1]
