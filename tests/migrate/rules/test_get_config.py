"""KM309: get_config for layers, models and schedules (rules/get_config.py)."""

import re
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
    assert [(f.rule, f.fixed) for f in findings] == [("KM309", True), ("KM312", True)]


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


TUTORIAL = """
import numpy as np
import tensorflow as tf


def positional_encoding(length, depth):
    pos = np.arange(length)[:, np.newaxis]
    i = np.arange(depth)[np.newaxis, :]
    angles = pos / np.power(10000, (2 * (i // 2)) / np.float32(depth))
    angles[:, 0::2] = np.sin(angles[:, 0::2])
    angles[:, 1::2] = np.cos(angles[:, 1::2])
    return tf.cast(angles[np.newaxis, ...], dtype=tf.float32)


class Encoder(tf.keras.layers.Layer):
    def __init__(self, num_layers, d_model, vocab_size, max_len, rate=0.1):
        super(Encoder, self).__init__()
        self.d_model = d_model
        self.num_layers = num_layers
        self.embedding = tf.keras.layers.Embedding(vocab_size, d_model)
        self.pos_encoding = positional_encoding(max_len, self.d_model)
        self.blocks = [tf.keras.layers.Dense(d_model, activation='relu') for _ in range(num_layers)]
        self.dropout = tf.keras.layers.Dropout(rate)

    def call(self, x, training):
        seq_len = tf.shape(x)[1]
        x = self.embedding(x) * tf.math.sqrt(tf.cast(self.d_model, tf.float32))
        x += self.pos_encoding[:, :seq_len, :]
        x = self.dropout(x, training=training)
        for i in range(self.num_layers):
            x = self.blocks[i](x)
        return x


class Tagger(tf.keras.Model):
    def __init__(self, num_layers, d_model, vocab_size, num_tags, max_len=32, rate=0.1):
        super().__init__()
        self.encoder = Encoder(num_layers, d_model, vocab_size, max_len, rate)
        self.final_layer = tf.keras.layers.Dense(num_tags)

    def call(self, inputs, training):
        return self.final_layer(self.encoder(inputs, training))


class NoamSchedule(tf.keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, d_model, warmup_steps=4000):
        super(NoamSchedule, self).__init__()
        self.d_model = d_model
        self.d_model = tf.cast(self.d_model, tf.float32)
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        arg1 = tf.math.rsqrt(step)
        arg2 = step * (self.warmup_steps ** -1.5)
        return tf.math.rsqrt(self.d_model) * tf.math.minimum(arg1, arg2)
"""


def _class(code: str, name: str) -> str:
    """The dedented body of class ``name`` in ``code``."""
    rest = code.split(f"class {name}(", 1)[1]
    return textwrap.dedent(re.split(r"\n(?=class |@)", rest, maxsplit=1)[0].split("\n", 1)[1])


def test_tutorial_layer_without_kwargs_records_its_arguments():
    code, findings = rw(TUTORIAL)
    encoder = _class(code, "Encoder")
    assert encoder.startswith(textwrap.dedent("""\
        def __init__(self, num_layers, d_model, vocab_size, max_len, rate=0.1, **kwargs):
            super(Encoder, self).__init__(**kwargs)
            self._constructor_config = {
                "num_layers": num_layers,
                "d_model": d_model,
                "vocab_size": vocab_size,
                "max_len": max_len,
                "rate": rate,
            }
            self.d_model = d_model
    """))
    assert encoder.rstrip().endswith(textwrap.dedent("""\
        def get_config(self):
            config = super().get_config()
            config.update(self._constructor_config)
            return config"""))
    tagger = _class(code, "Tagger")
    assert "super().__init__(**kwargs)\n" in tagger
    # Keras 3 builds a reloaded subclassed model by running call(inputs) alone
    assert "def call(self, inputs, training=None):" in tagger
    assert "def call(self, x, training):" in encoder  # a layer is built by its parent: left as it is
    schedule = _class(code, "NoamSchedule")
    assert ('super(NoamSchedule, self).__init__()\n    self._constructor_config = {"d_model": d_model, '
            '"warmup_steps": warmup_steps}\n') in schedule
    assert schedule.rstrip().endswith("def get_config(self):\n    return dict(self._constructor_config)")
    fixed = {f.message.split(":", 1)[0]: f.message for f in findings if f.rule == "KM309" and f.fixed}
    assert set(fixed) == {"Encoder", "Tagger", "NoamSchedule"}
    assert not [f for f in findings if f.rule == "KM309" and not f.fixed]
    assert "**kwargs added" in fixed["Encoder"] and "not a plain value" in fixed["Encoder"]
    assert "training of call defaulted to None" in fixed["Tagger"]


def test_round_trip_tutorial_model_on_keras3(tmp_path):
    import keras
    import numpy as np

    code, _ = rw(TUTORIAL)
    scope: dict = {"__name__": "migrated_tutorial"}
    exec(compile(code, "<migrated>", "exec"), scope)
    model = scope["Tagger"](num_layers=2, d_model=8, vocab_size=20, num_tags=5, max_len=16, rate=0.2,
                            name="tagger")
    tokens = np.array([[3, 1, 4, 1, 5, 9], [2, 6, 5, 3, 5, 8]], dtype="int64")
    want = np.asarray(model(tokens, training=False))
    # the record stays plain values under Keras 3's attribute tracking
    assert dict(model._constructor_config) == {"num_layers": 2, "d_model": 8, "vocab_size": 20,
                                               "num_tags": 5, "max_len": 16, "rate": 0.2}
    path = tmp_path / "tagger.keras"
    model.save(path)
    custom = {n: scope[n] for n in ("Encoder", "Tagger", "NoamSchedule")}
    loaded = keras.saving.load_model(path, custom_objects=custom, safe_mode=True)
    assert type(loaded) is scope["Tagger"] and loaded.name == "tagger"
    assert loaded.encoder.dropout.rate == 0.2 and loaded.encoder.pos_encoding.shape[1] == 16
    for a, b in zip(model.weights, loaded.weights):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    np.testing.assert_array_equal(np.asarray(loaded(tokens, training=False)), want)
    # a nested layer rebuilds from its own config too
    enc = model.encoder
    clone = scope["Encoder"].from_config(enc.get_config())
    assert (clone.name, clone.num_layers, clone.dropout.rate) == (enc.name, 2, 0.2)

    schedule = scope["NoamSchedule"](16, warmup_steps=10)
    revived = keras.optimizers.schedules.deserialize(keras.optimizers.schedules.serialize(schedule),
                                                     custom_objects=custom)
    assert revived.get_config() == {"d_model": 16, "warmup_steps": 10}
    assert float(revived(3)) == float(schedule(3))


def test_all_verbatim_layer_without_kwargs_gets_kwargs_and_attribute_config():
    code, findings = rw("""
    import tensorflow as tf

    class MultiHeadAttention(tf.keras.layers.Layer):
        def __init__(self, d_model, num_heads):
            super(MultiHeadAttention, self).__init__()
            self.num_heads = num_heads
            self.d_model = d_model
            self.depth = d_model // self.num_heads
    """)
    assert "def __init__(self, d_model, num_heads, **kwargs):\n" in code
    assert "super(MultiHeadAttention, self).__init__(**kwargs)\n" in code
    assert '"d_model": self.d_model,' in code and "_constructor_config" not in code
    assert [(f.rule, f.fixed) for f in findings if f.rule == "KM309"] == [("KM309", True)]


def test_capture_alias_local_base_and_explicit_base_call():
    code, findings = rw("""
    from tensorflow.keras import layers as KL
    from tensorflow import keras as tfk

    class Block(KL.Layer):
        def __init__(self, width, *, depth=2):
            KL.Layer.__init__(self)
            self.dense = [KL.Dense(width) for _ in range(depth)]

    class Head(Block):
        def __init__(
            self,
            width,
            classes,
        ):
            super().__init__(
                width=width,
            )
            self.out = tfk.layers.Dense(classes)
    """)
    block, head = _class(code, "Block"), _class(code, "Head")
    assert "def __init__(self, width, *, depth=2, **kwargs):\n" in block
    assert "Layer.__init__(self, **kwargs)\n" in block
    assert 'self._constructor_config = {"width": width, "depth": depth}\n' in block
    # one parameter a line, trailing comma kept last
    assert "    classes,\n    **kwargs,\n):\n" in head
    assert "        width=width,\n        **kwargs,\n    )\n" in head
    # forwarded to the base class and recorded too: Head's record replaces Block's in a Head
    assert '    )\n    self._constructor_config = {"width": width, "classes": classes}\n' in head
    assert code.count("config.update(self._constructor_config)") == 2
    assert rules_of(findings, fixed=True) >= {"KM309"} and "KM309" not in rules_of(findings, fixed=False)


def test_capture_round_trip_of_local_subclass():
    code, _ = rw("""
    import tensorflow as tf

    class Block(tf.keras.layers.Layer):
        def __init__(self, width, depth=2):
            super().__init__()
            self.dense = [tf.keras.layers.Dense(width) for _ in range(depth)]

    class Head(Block):
        def __init__(self, width, classes, name=None, **kwargs):
            super().__init__(width=width, name=name, **kwargs)
            self.out = tf.keras.layers.Dense(classes)
    """)
    assert '"name"' not in code  # the base config has it
    scope: dict = {}
    exec(compile(code, "<migrated>", "exec"), scope)
    head = scope["Head"](4, classes=3, name="h", trainable=False)
    config = head.get_config()
    assert {k: config[k] for k in ("width", "classes", "name", "trainable")} == \
        {"width": 4, "classes": 3, "name": "h", "trainable": False}
    assert "depth" not in config  # Head does not pass it: Block's default again on reload
    clone = scope["Head"].from_config(config)
    assert (clone.name, clone.trainable, len(clone.dense), clone.out.units) == ("h", False, 2, 3)


def test_schedule_without_super_call_records_after_docstring():
    code, _ = rw('''
    import tensorflow as tf

    class Constant(tf.keras.optimizers.schedules.LearningRateSchedule):
        """A constant rate."""
        def __init__(self, rate):
            """Make it."""
            self.rate = tf.constant(rate)

        def __call__(self, step):
            return self.rate
    ''')
    assert '"""Make it."""\n        self._constructor_config = {"rate": rate}\n        self.rate' in code
    assert "return dict(self._constructor_config)" in code


def test_model_call_with_other_required_arguments_is_reported():
    code, findings = rw("""
    import tensorflow as tf

    class Fused(tf.keras.Model):
        def __init__(self, units):
            super().__init__()
            self.dense = tf.keras.layers.Dense(units)

        def call(self, x, training, context):
            return self.dense(x) + context
    """)
    assert "def call(self, x, training, context):" in code  # left as it is
    assert "def get_config(self):" in code
    km309 = [f for f in findings if f.rule == "KM309"]
    assert [f.fixed for f in km309] == [False, True]
    assert "call takes context besides its inputs" in km309[0].message


def test_noop_when_capture_class_has_get_config():
    code, findings = rw("""
    import tensorflow as tf

    class Enc(tf.keras.layers.Layer):
        def __init__(self, units):
            super().__init__()
            self.dense = tf.keras.layers.Dense(units)

        def get_config(self):
            return {"units": self.dense.units}
    """)
    assert "_constructor_config" not in code and "**kwargs" not in code
    assert "KM309" not in rules_of(findings)


def test_unsupported_reported_and_left_alone():
    src = """
    import tensorflow as tf

    class Enc(tf.keras.layers.Layer):
        def __init__(self, d_model, *layers, rate=0.1, units=4, size=None, **kwargs):
            super().__init__(**kwargs)
            self.dropout = tf.keras.layers.Dropout(rate)
            self.d = d_model
            self.units = int(units)
            self.size = size

        def build(self, shape):
            self.size = shape[-1]

    class Rebound(tf.keras.layers.Layer):
        def __init__(self, units, rate=0.1):
            rate = float(rate)
            super().__init__()
            self.dense = tf.keras.layers.Dense(units)
            self.drop = tf.keras.layers.Dropout(rate)

    class Named(tf.keras.layers.Layer):
        def __init__(self, units):
            super().__init__(name="named")
            self.dense = tf.keras.layers.Dense(units)

    class Swallowed(tf.keras.layers.Layer):
        def __init__(self, units, **kw):
            super().__init__()
            self.dense = tf.keras.layers.Dense(units, **kw)

    class Nested(tf.keras.layers.Layer):
        def __init__(self, units, flag=False):
            if flag:
                super().__init__(dtype="float64")
            else:
                super().__init__()
            self.dense = tf.keras.layers.Dense(units)

    class Clash(tf.keras.layers.Layer):
        def __init__(self, units, name, **kwargs):
            super().__init__(**kwargs)
            self.dense = tf.keras.layers.Dense(units, name=name)
    """
    code, findings = rw(src)
    assert "get_config" not in code and "_constructor_config" not in code
    assert code.count("**kwargs") == 4  # Enc's and Clash's own; nothing added
    unfixed = {f.message.split(":", 1)[0]: f.message for f in findings if f.rule == "KM309" and not f.fixed}
    assert set(unfixed) == {"Enc", "Rebound", "Named", "Swallowed", "Nested", "Clash"}
    msg = unfixed["Enc"]
    for part in ("positional-only or *args parameters", "d_model (stored as self.d)",
                 "rate (used to build self.dropout)", "units (used to build self.units)",
                 "size (reassigned after __init__)"):
        assert part in msg
    assert "rate reassigned before super().__init__" in unfixed["Rebound"]
    assert 'super().__init__ gets name="named"' in unfixed["Named"]
    assert "does not forward **kw to the base class" in unfixed["Swallowed"]
    assert "not a statement of its own" in unfixed["Nested"]
    assert "name would clash with the base class's config entry" in unfixed["Clash"]


def test_parameter_rebound_before_it_is_stored_is_not_verbatim():
    code, findings = rw("""
    import tensorflow as tf

    class Wide(tf.keras.layers.Layer):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            units = units * 2
            self.units = units
    """)
    # a get_config returning self.units would double the width again on every reload
    assert '"units": self.units' not in code
    assert 'super().__init__(**kwargs)\n        self._constructor_config = {"units": units}\n' in code
    assert [(f.rule, f.fixed) for f in findings if f.rule == "KM309"] == [("KM309", True)]


def test_idempotent():
    assert_fixed_point(LAYER)
    assert_fixed_point(TUTORIAL)


def test_a_nested_class_of_the_same_name_does_not_hide_the_layer():
    # Classes are indexed by name at any depth; the module-level layer must still be
    # recognised as a layer when a later function defines a plain class of its name.
    code, findings = rw('''
    import keras


    class Scale(keras.layers.Layer):
        def __init__(self, factor, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor


    def helper():
        class Scale:
            pass
        return Scale
    ''')
    assert '        return {\n            **super().get_config(),\n            "factor": self.factor,\n        }' in code
    assert code.count("def get_config") == 1
    assert {"KM309", "KM312"} <= rules_of(findings, fixed=True)
