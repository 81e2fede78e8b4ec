"""Keras 2.2's lower-case optimizer aliases (``tables.LEGACY_ALIASES``, folded in ``names.canonical``).

``keras.optimizers.rmsprop`` is ``RMSprop`` in Keras 2.2.4 and absent from Keras 3: KM101 renames
the spelling, and because the name resolution folds it onto the class, the rules written for
``keras.optimizers.RMSprop`` (KM401's ``lr=``/``decay=``, KM409's ``epsilon=None``, the Keras 2.2
default pins) act on it in the same pass.
"""

import textwrap

import numpy as np
import pytest

from migrate.rewrite.tables import LEGACY_ALIASES
from tests.migrate.helpers import assert_fixed_point, rules_of, rw

#: cifar10_cnn of Keras 2.2.4's examples, line 58
CIFAR = """\
import keras
opt = keras.optimizers.rmsprop(lr=0.0001, decay=1e-6)
"""


def test_alias_renamed_and_its_lr_and_decay_rewritten_in_one_pass():
    code, findings = rw(CIFAR)
    assert code == ("import keras\nopt = keras.optimizers.RMSprop(learning_rate=keras.optimizers.schedules."
                    "InverseTimeDecay(0.0001, decay_steps=1, decay_rate=1e-6))\n")
    assert rules_of(findings, fixed=True) == {"KM101", "KM401"}
    assert not rules_of(findings, fixed=False)


@pytest.mark.parametrize("src, expected", [
    ("from keras.optimizers import rmsprop, adam as A\no = rmsprop(lr=0.1)\np = A(lr=0.2)\n",
     "from keras.optimizers import RMSprop as rmsprop, Adam as A\no = rmsprop(learning_rate=0.1)\n"
     "p = A(learning_rate=0.2)\n"),
    ("from keras import optimizers\no = optimizers.adam(lr=0.01)\n",
     "from keras import optimizers\nimport keras\no = keras.optimizers.Adam(learning_rate=0.01)\n"),
    ("from keras import optimizers as O\no = O.sgd(lr=0.1, momentum=0.9)\n",
     "from keras import optimizers as O\nimport keras\no = keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)\n"),
    ("import keras.optimizers as kopt\no = kopt.nadam(lr=0.002)\n",
     "import keras.optimizers as kopt\nimport keras\no = keras.optimizers.Nadam(learning_rate=0.002)\n"),
    # a module-level alias of the alias (babi_rnn's `RNN = recurrent.LSTM` idiom)
    ("from keras import optimizers\nopt_cls = optimizers.adadelta\no = opt_cls(lr=1.0)\n",
     "from keras import optimizers\nimport keras\nopt_cls = keras.optimizers.Adadelta\no = opt_cls(learning_rate=1.0)\n"),
])
def test_import_forms(src, expected):
    code, findings = rw(src)
    assert code == expected
    assert {"KM101", "KM401"} <= rules_of(findings, fixed=True)


def test_keras22_rules_see_the_alias():
    """KM401's Keras 2.2 default learning rate and KM409's Adagrad accumulator and epsilon=None."""
    code, findings = rw("""\
        from keras import backend as K
        from keras.optimizers import adagrad
        import keras
        o = adagrad()
        p = keras.optimizers.rmsprop(epsilon=None)
        e = K.epsilon()
        """)
    assert "o = adagrad(learning_rate=0.01, initial_accumulator_value=0.0)" in code
    assert "p = keras.optimizers.RMSprop(epsilon=keras.config.epsilon())" in code
    # the Keras 2.2 epsilon placement of Adagrad and RMSprop is reported on the aliases as on the classes
    assert [f.message.split(":")[0] for f in findings if f.rule == "KM409" and not f.fixed] == ["Adagrad", "RMSprop"]


def test_lr_attribute_of_a_name_bound_to_an_alias():
    """KM402 knows ``m`` is an optimizer from its constructor, which is the alias."""
    code, findings = rw("import keras\nm = keras.optimizers.adam(lr=0.1)\nprint(m.lr)\n")
    assert code == "import keras\nm = keras.optimizers.Adam(learning_rate=0.1)\nprint(m.learning_rate)\n"
    assert rules_of(findings) == {"KM101", "KM401", "KM402"}


def test_noop_string_identifiers_and_tf_keras_classes():
    src = textwrap.dedent("""\
        import keras
        model.compile(optimizer="rmsprop", loss="mse")
        other.compile(optimizer='adam')
        opt = keras.optimizers.Adam(learning_rate=1e-3)
        adam = 3
        """)
    assert rw(src) == (src, [])
    code, findings = rw("import tensorflow as tf\nopt = tf.keras.optimizers.Adam(lr=0.1)\n")
    assert "opt = keras.optimizers.Adam(learning_rate=0.1)" in code
    assert rules_of(findings) == {"KM102", "KM401"}


def test_alias_spelled_through_tf_keras_is_folded_too():
    # tf.keras never exported it (the code fails there); the name meant RMSprop wherever it existed
    code, findings = rw("import tensorflow as tf\nopt = tf.keras.optimizers.rmsprop(lr=0.1)\n")
    assert "opt = keras.optimizers.RMSprop(learning_rate=0.1)" in code
    assert {"KM101", "KM401"} <= rules_of(findings, fixed=True)


def test_unsupported_attribute_of_the_alias_reported():
    src = "import keras\nname = keras.optimizers.rmsprop.__name__\n"
    code, findings = rw(src)
    assert code == src
    assert [(f.rule, f.fixed) for f in findings] == [("KM103", False)]


def test_idempotent():
    once = assert_fixed_point(CIFAR + "from keras import optimizers\nfrom keras.optimizers import sgd\n"
                              "p = optimizers.adamax(lr=0.002)\nq = sgd(lr=0.1, decay=1e-3)\n")
    assert "from keras.optimizers import SGD as sgd" in once
    assert "p = keras.optimizers.Adamax(learning_rate=0.002)" in once


def test_table_is_keras224s_list_and_keras3_has_only_the_classes():
    import keras

    assert sorted(LEGACY_ALIASES) == [f"keras.optimizers.{n}" for n in
                                      ("adadelta", "adagrad", "adam", "adamax", "nadam", "rmsprop", "sgd")]
    for alias, cls in LEGACY_ALIASES.items():
        assert not hasattr(keras.optimizers, alias.rpartition(".")[2]), alias  # why the rename is needed
        assert isinstance(getattr(keras.optimizers, cls.rpartition(".")[2]), type), cls
        # the string identifier of the same name stays valid in Keras 3 (left alone by the rewrite)
        assert type(keras.optimizers.get(alias.rpartition(".")[2])).__name__ == cls.rpartition(".")[2]


def test_rewritten_snippet_runs_on_keras3():
    """cifar10_cnn's optimizer line, rewritten, builds on Keras 3 with Keras 2.2's decayed learning rate."""
    import keras

    code, _ = rw(CIFAR + "from keras.optimizers import adam\nfirst = adam(lr=0.01)\n")
    scope: dict = {}
    exec(compile(code, "rewritten.py", "exec"), scope)  # noqa: S102 - our own rewrite of a fixed snippet
    opt, first = scope["opt"], scope["first"]
    assert isinstance(opt, keras.optimizers.RMSprop) and isinstance(first, keras.optimizers.Adam)
    np.testing.assert_allclose(float(first.learning_rate), 0.01, rtol=1e-6)
    var = keras.Variable(np.ones(3, "float32"))
    opt.build([var])
    for step in (0, 5):
        opt.iterations.assign(step)
        # Keras 2.2.4's RMSprop: lr * 1 / (1 + decay * iterations)
        np.testing.assert_allclose(float(opt.learning_rate), 0.0001 / (1 + 1e-6 * step), rtol=1e-6)
    opt.apply_gradients([(np.full(3, 0.5, "float32"), var)])
    assert int(opt.iterations) == 6 and np.all(np.asarray(var) < 1.0)
