"""KM312: register module-level Keras classes that .keras files name (rules/register_serializable.py)."""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

from migrate.rewrite.context import Options
from migrate.rewrite.engine import rewrite_python
from migrate.rewrite.notebook import rewrite_notebook
from migrate.rewrite.rules.register_serializable import package_of
from tests.migrate.helpers import assert_fixed_point, rules_of, rw

DECORATOR = '@keras.saving.register_keras_serializable(package="t")\n'

KINDS = '''
import keras
import tensorflow as tf


class Scale(keras.layers.Layer):
    pass


class Net(tf.keras.Model):
    pass


class Warmup(tf.keras.optimizers.schedules.LearningRateSchedule):
    def __call__(self, step):
        return 0.1


class Deeper(Scale):
    pass


class Plain(object):
    pass


class Helper:
    pass
'''


def test_positive_layer_model_schedule_and_local_subclass():
    code, findings = rw(KINDS)
    for name in ("Scale", "Net", "Warmup", "Deeper"):
        assert f"\n\n{DECORATOR}class {name}(" in code, name
    assert "\n\nclass Plain(object):" in code and "\n\nclass Helper:" in code
    messages = [(f.line, f.column, f.message) for f in findings if f.rule == "KM312"]
    assert messages == [
        (5, 1, "Scale: registered as 't>Scale' so keras.models.load_model finds it without custom_objects"),
        (9, 1, "Net: registered as 't>Net' so keras.models.load_model finds it without custom_objects"),
        (13, 1, "Warmup: registered as 't>Warmup' so keras.models.load_model finds it without custom_objects"),
        (18, 1, "Deeper: registered as 't>Deeper' so keras.models.load_model finds it without custom_objects"),
    ]
    assert all(f.fixed and f.safe for f in findings if f.rule == "KM312")


FAMILIES = '''
import tensorflow as tf
from tensorflow import keras
from keras.initializers import Initializer


class FocalLoss(tf.keras.losses.Loss):
    pass


class F1(keras.metrics.Metric):
    pass


class Ones(Initializer):
    pass


class L1(tf.keras.regularizers.Regularizer):
    pass


class NonNeg(tf.keras.constraints.Constraint):
    pass


class Tuned(tf.keras.optimizers.Adam):
    pass


class Focal2(FocalLoss):
    pass


class Log(tf.keras.callbacks.Callback):
    pass


class Batches(tf.keras.utils.Sequence):
    pass
'''


def test_positive_other_families_saved_by_name():
    code, findings = rw(FAMILIES)
    registered = ["FocalLoss", "F1", "Ones", "L1", "NonNeg", "Tuned", "Focal2"]
    for name in registered:
        assert f"\n\n{DECORATOR}class {name}(" in code, name
    # callbacks and data sequences are never written into a .keras file
    assert "\n\nclass Log(keras.callbacks.Callback):" in code
    assert "\n\nclass Batches(keras.utils.Sequence):" in code
    assert sorted(f.message.split(":")[0] for f in findings if f.rule == "KM312") == sorted(registered)


def test_keras_import_added_when_missing():
    code, _ = rw('''
    """Doc."""
    from tensorflow.keras.layers import Layer

    class A(Layer):
        pass
    ''')
    assert code.startswith('"""Doc."""\nfrom keras.layers import Layer\nimport keras\n')
    assert f"\n{DECORATOR}class A(Layer):" in code


@pytest.mark.parametrize("registration", [
    "import keras\n@keras.saving.register_keras_serializable()\n",
    "import keras\n@keras.saving.register_keras_serializable(package='mine', name='B')\n",
    "import keras\n@keras.utils.register_keras_serializable('mine')\n",
    "import tensorflow as tf\n@tf.keras.utils.register_keras_serializable(package='mine')\n",
    "from keras.saving import register_keras_serializable\n@register_keras_serializable\n",
    "from tensorflow.keras.utils import register_keras_serializable as reg\n@reg('mine')\n",
    "import keras\n@other\n@keras.saving.register_keras_serializable()\n# a comment\n",
])
def test_noop_already_registered_under_any_spelling(registration: str):
    src = f"from keras.layers import Layer\n{registration}class B(Layer):\n    pass\n"
    code, findings = rw(src)
    assert "KM312" not in rules_of(findings)
    assert code.count("@") == registration.count("@") and 'package="t"' not in code


def test_noop_nested_classes():
    src = '''
    import keras


    def make():
        class Local(keras.layers.Layer):
            pass
        return Local


    class Outer:
        class Inner(keras.layers.Layer):
            pass

        def method(self):
            class InMethod(keras.layers.Layer):
                pass
    '''
    code, findings = rw(src)
    assert code == textwrap.dedent(src).lstrip("\n")
    assert findings == []


def test_alias_keras22_topology_and_tf_keras():
    code, findings = rw('''
    from keras.engine.topology import Layer as L
    import tensorflow as tf

    class A(L):
        pass

    class X(tf.keras.layers.Layer):
        pass
    ''')
    assert f"\n{DECORATOR}class A(L):" in code
    assert f"\n{DECORATOR}class X(keras.layers.Layer):" in code
    assert "import keras\n" in code
    assert [f.message.split(":")[0] for f in findings if f.rule == "KM312"] == ["A", "X"]


def test_goes_above_existing_decorators_keeping_comments():
    code, _ = rw('''
    import keras

    # about A: stays above the whole decorated class
    @some.decorator
    # about the second decorator
    @other(1)
    # right above the class line
    class A(keras.layers.Layer):
        pass
    ''')
    assert code == textwrap.dedent('''\
        import keras

        # about A: stays above the whole decorated class
        @keras.saving.register_keras_serializable(package="t")
        @some.decorator
        # about the second decorator
        @other(1)
        # right above the class line
        class A(keras.layers.Layer):
            pass
        ''')


def test_first_statement_with_header_comment():
    code, _ = rw("# header\nclass A(Layer):\n    pass\nfrom keras.layers import Layer\n")
    assert code.startswith(f"# header\n{DECORATOR}class A(Layer):\n")


def test_module_level_blocks_are_registered():
    """A class in a module-level ``if``/``try`` is a module global; under ``TYPE_CHECKING`` the
    decorator is inert (the block never runs), and the rule does not special-case it."""
    code, findings = rw('''
    from typing import TYPE_CHECKING
    import keras

    try:
        class A(keras.layers.Layer):
            pass
    except ImportError:
        A = None

    if TYPE_CHECKING:
        class B(keras.layers.Layer):
            pass
    ''')
    assert f"try:\n    {DECORATOR}    class A(" in code
    assert f"if TYPE_CHECKING:\n    {DECORATOR}    class B(" in code
    assert [f.message.split(":")[0] for f in findings if f.rule == "KM312"] == ["A", "B"]


@pytest.mark.parametrize(("path", "package"), [
    ("t.py", "t"),
    ("models/encoder.py", "encoder"),
    ("/abs/models/encoder.py", "encoder"),
    ("C:\\work\\models\\encoder.py", "encoder"),
    ("pkg/__init__.py", "pkg"),
    ("nb.ipynb[cell 3]", "nb"),
    ("dir/my notebook.ipynb[cell 12]", "my_notebook"),
    ("my-model.v2.py", "my-model.v2"),
    ("mod\u00e8le'\"x.py", "mod_le__x"),
    ("__init__.py", "Custom"),
    ("", "Custom"),
])
def test_package_is_the_module_name(path: str, package: str):
    assert package_of(path) == package


def test_package_comes_from_the_file_path():
    src = b"import keras\nclass A(keras.layers.Layer):\n    pass\n"
    new, findings, _ = rewrite_python(src, "models/encoder.py", Options())
    assert b'@keras.saving.register_keras_serializable(package="encoder")\nclass A(' in new
    assert findings[0].message.startswith("A: registered as 'encoder>A'")
    new, _, _ = rewrite_python(src, "odd 'name\".py", Options())
    compile(new, "<odd>", "exec")
    assert b'(package="odd__name_")' in new


def test_notebook_cells_use_the_notebook_name():
    cells = [
        {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [],
         "source": ["import tensorflow as tf\n"]},
        {"cell_type": "code", "execution_count": 2, "metadata": {}, "outputs": [],
         "source": ["class Scale(tf.keras.layers.Layer):\n", "    pass\n"]},
    ]
    nb = {"cells": cells, "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    out, findings, _ = rewrite_notebook(json.dumps(nb).encode(), "work/nb.ipynb", Options())
    new_cells = json.loads(out)["cells"]
    assert "".join(new_cells[1]["source"]) == (
        'import keras\n@keras.saving.register_keras_serializable(package="nb")\n'
        "class Scale(keras.layers.Layer):\n    pass\n")
    assert [(f.path, f.line) for f in findings if f.rule == "KM312"] == [("work/nb.ipynb[cell 2]", 1)]


def test_idempotent():
    once = assert_fixed_point(KINDS)
    assert once.count("register_keras_serializable") == 4


def test_ignore_and_select():
    code, findings = rw(KINDS, ignore=frozenset({"KM312"}))
    assert "register_keras_serializable" not in code and "KM312" not in rules_of(findings)
    code, findings = rw(KINDS, select=frozenset({"KM312"}))
    assert code.count("register_keras_serializable") == 4 and rules_of(findings) == {"KM312"}
    assert "class Net(tf.keras.Model):" in code  # KM102 not selected


def test_fast_path_equals_plain_pipeline():
    """The class line names its base, so a class the rule registers is never skipped."""
    src = textwrap.dedent('''
        from keras.engine.topology import Layer as L
        import tensorflow as tf

        class Base(L):
            pass

        x = 1

        @decorated
        class Child(Base):  # only a local base class on this line
            pass

        if x:
            class Sched(tf.keras.optimizers.schedules.LearningRateSchedule):
                pass
        ''').encode()
    fast = rewrite_python(src, "m.py", Options(), fast=True)
    plain = rewrite_python(src, "m.py", Options(), fast=False)
    assert fast[0] == plain[0]
    assert [f.format() for f in fast[1]] == [f.format() for f in plain[1]]
    assert fast[0].count(b"register_keras_serializable") == 3


# -- a real round trip on Keras 3 ------------------------------------------------------

LEGACY_LAYER = '''
"""A Keras 2.2 custom layer."""
from keras import backend as K
from keras.engine.topology import Layer


class Scale(Layer):
    def __init__(self, offset=0.5, **kwargs):
        super(Scale, self).__init__(**kwargs)
        self.offset = offset

    def build(self, input_shape):
        self.gamma = self.add_weight('gamma', (input_shape[-1],), initializer='ones', trainable=True)
        super(Scale, self).build(input_shape)

    def call(self, x):
        return K.tanh(x * self.gamma + self.offset)

    def compute_output_shape(self, input_shape):
        return input_shape
'''


def _import(code: str, directory: Path, name: str):
    path = directory / f"{name}.py"
    path.write_text(code)
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _model(module):
    import keras

    inputs = keras.Input((4,))
    hidden = module.Scale(offset=0.25, name="scale")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(3, name="dense")(hidden))
    model.get_layer("scale").gamma.assign(np.linspace(0.5, 2.0, 4).astype("float32"))
    return model


def test_round_trip_save_and_load_without_custom_objects(tmp_path: Path):
    import keras

    name = "km312_round_trip_layers"
    new, findings, _ = rewrite_python(LEGACY_LAYER.lstrip("\n").encode(), f"legacy/{name}.py", Options())
    code = new.decode()
    assert f'@keras.saving.register_keras_serializable(package="{name}")\nclass Scale(Layer):' in code
    assert {"KM309", "KM312"} <= rules_of(findings, fixed=True)
    module = _import(code, tmp_path, name)
    model = _model(module)
    x = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    want = model.predict(x, verbose=0)
    model.save(tmp_path / "m.keras")
    loaded = keras.models.load_model(tmp_path / "m.keras")  # no custom_objects, safe_mode on
    assert type(loaded.get_layer("scale")) is module.Scale and loaded.get_layer("scale").offset == 0.25
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), want)

    # the same code without the rule: the class is not found by name
    name = "km312_round_trip_unregistered"
    new, _, _ = rewrite_python(LEGACY_LAYER.lstrip("\n").encode(), f"{name}.py", Options(ignore=frozenset({"KM312"})))
    unregistered = _import(new.decode(), tmp_path, name)
    _model(unregistered).save(tmp_path / "u.keras")
    with pytest.raises(TypeError, match="Could not locate class 'Scale'"):
        keras.models.load_model(tmp_path / "u.keras")


def test_round_trip_schedule_in_a_compiled_model(tmp_path: Path):
    import keras

    name = "km312_round_trip_schedule"
    new, _, _ = rewrite_python(textwrap.dedent('''
        import tensorflow as tf

        class Warmup(tf.keras.optimizers.schedules.LearningRateSchedule):
            def __init__(self, peak, steps):
                self.peak = peak
                self.steps = steps

            def __call__(self, step):
                return self.peak * tf.minimum(1.0, (step + 1.0) / self.steps)
        ''').encode(), f"{name}.py", Options())
    module = _import(new.decode(), tmp_path, name)
    model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
    model.compile(optimizer=keras.optimizers.SGD(module.Warmup(0.5, 10)), loss="mse")
    model.save(tmp_path / "s.keras")
    loaded = keras.models.load_model(tmp_path / "s.keras")
    schedule = loaded.optimizer._learning_rate  # (the public attribute gives its current value)
    assert type(schedule) is module.Warmup and (schedule.peak, schedule.steps) == (0.5, 10)
    assert float(loaded.optimizer.learning_rate) == pytest.approx(0.05)


LOSS_AND_METRIC = '''
import tensorflow as tf


class ScaledMSE(tf.keras.losses.Loss):
    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def call(self, y_true, y_pred):
        return self.factor * tf.reduce_mean(tf.square(y_true - y_pred), axis=-1)

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


class Total(tf.keras.metrics.Metric):
    def __init__(self, name="total", **kwargs):
        super().__init__(name=name, **kwargs)
        self.total = self.add_weight(name="total", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        self.total.assign_add(tf.reduce_sum(y_pred))

    def result(self):
        return self.total
'''


def test_round_trip_custom_loss_and_metric_in_a_compiled_model(tmp_path: Path):
    import keras

    def saved_and_loaded(name, options):
        new, _, _ = rewrite_python(LOSS_AND_METRIC.lstrip("\n").encode(), f"{name}.py", options)
        module = _import(new.decode(), tmp_path, name)
        model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
        model.compile(optimizer="sgd", loss=module.ScaledMSE(3.0), metrics=[module.Total()])
        path = tmp_path / f"{name}.keras"
        model.save(path)
        return module, keras.models.load_model(path)

    module, loaded = saved_and_loaded("km312_round_trip_loss", Options())
    assert type(loaded.loss) is module.ScaledMSE and loaded.loss.factor == 3.0
    loaded.evaluate(np.ones((4, 2), "float32"), np.zeros((4, 1), "float32"), verbose=0)
    assert any(type(m) is module.Total for m in loaded.metrics[-1].metrics)

    # the same code without the rule: the loss is not found by name
    with pytest.raises(TypeError, match="Could not locate class 'ScaledMSE'"):
        saved_and_loaded("km312_round_trip_loss_unregistered", Options(ignore=frozenset({"KM312"})))
