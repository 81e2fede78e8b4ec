"""KM309: get_config for layers, models and schedules (rules/get_config.py)."""

import textwrap

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

LAYER = '''
import keras
from keras import activations, initializers


class Scale(keras.layers.Layer):
    def __init__(self, factor, activation="relu", init="zeros", name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.factor = factor
        self.activation = activations.get(activation)
        self.kernel_init = initializers.get(init)

    def call(self, x):
        return self.activation(x * self.factor)
'''


def test_positive_verbatim_serialized_and_forwarded():
    code, findings = rw(LAYER)
    assert textwrap.dedent('''
        def get_config(self):
            return {
                **super().get_config(),
                "factor": self.factor,
                "activation": keras.activations.serialize(self.activation),
                "init": keras.initializers.serialize(self.kernel_init),
            }
    ''') in textwrap.dedent(code.split("return self.activation(x * self.factor)\n", 1)[1])
    assert '"name"' not in code  # forwarded to the base class, whose config has it
    assert [(f.rule, f.fixed) for f in findings] == [("KM309", True)]


def test_round_trip_on_keras3():
    code, _ = rw(LAYER)
    scope: dict = {}
    exec(compile(code, "<migrated>", "exec"), scope)
    layer = scope["Scale"](2.5, activation="tanh", init="ones", name="s")
    clone = scope["Scale"].from_config(layer.get_config())
    assert (clone.factor, clone.name) == (2.5, "s")
    assert clone.activation.__name__ == "tanh" and type(clone.kernel_init).__name__ == "Ones"


def test_noop_when_get_config_exists_or_no_arguments():
    src = '''
    from keras.engine.topology import Layer

    class A(Layer):
        def __init__(self, units, **kwargs):
            super(A, self).__init__(**kwargs)
            self.units = units

        def get_config(self):
            base = super(A, self).get_config()
            return dict(list(base.items()) + [('units', self.units)])

    class B(Layer):
        def __init__(self, **kwargs):
            super(B, self).__init__(**kwargs)

    class NotKeras(object):
        def __init__(self, units):
            self.units = units
    '''
    code, findings = rw(src)
    assert code.count("def get_config") == 1
    assert "KM309" not in rules_of(findings)


def test_alias_keras22_base_and_local_subclass():
    code, findings = rw('''
    from keras.engine.topology import Layer as KLayer

    class Base(KLayer):
        def __init__(self, size, **kwargs):
            super(Base, self).__init__(**kwargs)
            self.size = size

    class Child(Base):
        def __init__(self, size, mode='sum', **kwargs):
            super(Child, self).__init__(size=size, **kwargs)
            self.mode = mode
    ''')
    assert code.count("def get_config") == 2
    assert '"size": self.size,' in code and '"mode": self.mode,' in code
    assert code.count('"size"') == 1  # Child forwards size to Base, whose config has it
    assert rules_of(findings, fixed=True) >= {"KM309"}


def test_schedule_config_has_no_super():
    code, _ = rw('''
    import tensorflow as tf

    class Warmup(tf.keras.optimizers.schedules.LearningRateSchedule):
        def __init__(self, peak, warmup_steps=100):
            super().__init__()
            self.peak = peak
            self.warmup_steps = warmup_steps

        def __call__(self, step):
            return self.peak * tf.minimum(1.0, step / self.warmup_steps)
    ''')
    assert '"peak": self.peak,' in code and "super().get_config()" not in code


def test_unsupported_reported_and_left_alone():
    src = '''
    import tensorflow as tf

    class Enc(tf.keras.layers.Layer):
        def __init__(self, d_model, rate=0.1, units=4, size=None, **kwargs):
            super().__init__(**kwargs)
            self.dropout = tf.keras.layers.Dropout(rate)
            self.d = d_model
            self.units = int(units)
            self.size = size

        def build(self, shape):
            self.size = shape[-1]

    class NoKwargs(tf.keras.layers.Layer):
        def __init__(self, n):
            super().__init__()
            self.n = n
    '''
    code, findings = rw(src)
    assert "get_config" not in code
    unfixed = [f for f in findings if f.rule == "KM309" and not f.fixed]
    assert len(unfixed) == 2
    msg = unfixed[0].message
    for part in ("d_model (stored as self.d)", "rate (used to build self.dropout)", "units (used to build self.units)",
                 "size (reassigned after __init__)"):
        assert part in msg
    assert "does not forward **kwargs" in unfixed[1].message


def test_idempotent():
    assert_fixed_point(LAYER)
