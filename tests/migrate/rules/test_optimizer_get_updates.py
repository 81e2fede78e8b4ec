"""KM415: Keras 2 get_updates optimizers -> Keras 3 build + update_step."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

FIXTURE = Path(__file__).resolve().parents[2] / "fixtures" / "optimizers" / "warmup_adam_keras2.py"

SGD_MOMENTUM = '''
from keras import backend as K
from keras.optimizers import Optimizer


class MySGD(Optimizer):
    def __init__(self, lr=0.01, momentum=0.9, **kwargs):
        super(MySGD, self).__init__(**kwargs)
        self.iterations = K.variable(0, dtype='int64', name='iterations')
        self.lr = K.variable(lr, name='lr')
        self.momentum = momentum

    def get_updates(self, loss, params):
        grads = self.get_gradients(loss, params)
        self.updates = [K.update_add(self.iterations, 1)]
        moments = [K.zeros(K.int_shape(p)) for p in params]
        self.weights = [self.iterations] + moments
        for p, g, m in zip(params, grads, moments):
            v = self.momentum * m - self.lr * g
            self.updates.append(K.update(m, v))
            self.updates.append(K.update(p, p + v))
        return self.updates

    def get_config(self):
        config = {'lr': float(K.get_value(self.lr)), 'momentum': self.momentum}
        base_config = super(MySGD, self).get_config()
        return dict(list(base_config.items()) + list(config.items()))
'''


def test_before_after():
    out, findings = rw(SGD_MOMENTUM)
    assert "KM415" in rules_of(findings, fixed=True)
    assert "def get_updates" not in out and "self.updates" not in out and "self.weights" not in out
    assert "self.iterations = " not in out and "self.lr" not in out
    assert "super(MySGD, self).__init__(learning_rate=kwargs.pop(\"learning_rate\", lr), **kwargs)" in out
    assert (
        "    def build(self, var_list):\n"
        "        if self.built:\n"
        "            return\n"
        "        super().build(var_list)\n"
        "        self._moments = [self.add_variable_from_reference(v, 'm') for v in var_list]\n"
    ) in out
    assert (
        "    def update_step(self, gradient, variable, learning_rate):\n"
        "        p, g = variable, gradient\n"
        "        m = self._moments[self._get_variable_index(variable)]\n"
        "        v = self.momentum * m - learning_rate * g\n"
        "        self.assign(m, v)\n"
        "        self.assign(p, p + v)\n"
    ) in out
    # self.lr elsewhere in the class is Keras 3's learning_rate.
    assert "float(ops.convert_to_numpy(self.learning_rate))" in out


def test_alias_tf_keras_and_constraint_branch():
    src = '''
    import tensorflow as tf
    from tensorflow import keras
    KB = tf.keras.backend


    class Warm(keras.optimizers.Optimizer):
        def __init__(self, lr=0.01, **kwargs):
            super().__init__(**kwargs)
            with KB.name_scope('Warm'):
                self.iterations = KB.variable(0, dtype='int64')
                self.lr = KB.variable(lr)

        def get_updates(self, loss, params):
            grads = self.get_gradients(loss, params)
            self.updates = []
            self.updates.append(KB.update_add(self.iterations, 1))
            for p, g in zip(params, grads):
                new_p = p - self.lr * g
                if getattr(p, 'constraint', None) is not None:
                    new_p = p.constraint(new_p)
                self.updates.append(KB.update(p, new_p))
            return self.updates
    '''
    out, findings = rw(src)
    assert "KM415" in rules_of(findings, fixed=True), findings
    assert "constraint" not in out and "with " not in out  # the emptied name scope goes too
    assert "super().__init__(learning_rate=kwargs.pop(\"learning_rate\", lr), **kwargs)" in out
    assert "self.assign(p, new_p)" in out and "new_p = p - learning_rate * g" in out


def test_noop_keras3_optimizer():
    src = '''
    import keras


    class Plain(keras.optimizers.Optimizer):
        def update_step(self, gradient, variable, learning_rate):
            self.assign_sub(variable, learning_rate * gradient)
    '''
    out, findings = rw(src)
    assert "KM415" not in rules_of(findings)
    assert "def update_step" in out


def test_unrecognised_shape_is_reported_with_what_to_write():
    src = SGD_MOMENTUM.replace(
        "        moments = [K.zeros(K.int_shape(p)) for p in params]\n",
        "        if self.momentum:\n            moments = [K.zeros(K.int_shape(p)) for p in params]\n"
        "        else:\n            moments = [K.zeros(1) for p in params]\n")
    out, findings = rw(src)
    [finding] = [f for f in findings if f.rule == "KM415"]
    assert not finding.fixed
    assert "not converted" in finding.message and "update_step(self, gradient, variable, learning_rate)" in \
        finding.message and "add_variable_from_reference" in finding.message
    assert "def get_updates" in out  # left for a human


def test_library_class_name_points_to_modern():
    src = SGD_MOMENTUM.replace("MySGD", "RAdam").replace("self.updates = [K.update_add(self.iterations, 1)]",
                                                          "self.updates = [K.update_add(self.iterations, 1), loss]")
    _, findings = rw(src)
    [finding] = [f for f in findings if f.rule == "KM415"]
    assert not finding.fixed and "modern.optimizers.RAdam" in finding.message


def test_idempotent():
    assert_fixed_point(SGD_MOMENTUM)
    assert_fixed_point(FIXTURE.read_text())


@pytest.mark.slow
def test_converted_warmup_adam_trains_like_the_legacy_one_on_tf_keras():
    """The fixture unmodified on tf_keras (graph mode, Keras 2.2 optimizer base) vs its rewrite on Keras 3."""
    from legacy_ref.shim import load_program_source
    from tests.modern.legacy_trajectories import (
        compare,
        modern_model,
        train,
        trajectories,
    )

    kwargs = {"lr": 0.02, "warmup_steps": 6}
    legacy = trajectories([{"name": "hand_warmup_adam", "legacy": f"program:{FIXTURE}:AdamWarmupHand",
                            "kwargs": kwargs}])
    out, findings = rw(FIXTURE.read_text())
    assert "KM415" in rules_of(findings, fixed=True)
    module = load_program_source(out, str(FIXTURE), "warmup_adam_keras3")
    model = modern_model(legacy)
    losses = train(model, module.AdamWarmupHand(**kwargs), legacy)
    rel, diff = compare("hand_warmup_adam", legacy, losses, model.get_weights())
    print(f"\nKM415 warmup Adam: max rel loss diff {rel:.2g}, max weight diff {diff:.2g}")
