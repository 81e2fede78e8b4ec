"""KM321: layer sizes that are NumPy integers are passed as int(...) (rules/numpy_sizes.py)."""

import numpy as np

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

REUTERS = """\
import numpy as np
import keras
from keras.models import Sequential
from keras.layers import Dense
from keras.layers.core import Activation

y_train = np.array([3, 1, 4, 1, 5])
num_classes = np.max(y_train) + 1
y = keras.utils.to_categorical(y_train, num_classes)
model = Sequential()
model.add(Dense(512, input_shape=(8,)))
model.add(Dense(num_classes))
model.add(Activation('softmax'))
"""


def test_positive_module_name_bound_to_numpy_reduction():
    code, findings = rw(REUTERS)
    assert "model.add(Dense(int(num_classes)))" in code
    assert "Dense(512, input_shape=(8,))" in code  # a literal is left alone
    assert "to_categorical(y_train, num_classes)" in code  # Keras 3 takes a NumPy integer there
    assert "num_classes = np.max(y_train) + 1" in code  # the binding keeps its NumPy type
    assert [(f.rule, f.fixed) for f in findings if f.rule == "KM321"] == [("KM321", True)]


def test_rewritten_program_builds_on_keras3_with_the_same_size():
    """Unrewritten, Keras 3 refuses the NumPy integer; rewritten, the layer has its size."""
    import keras
    import pytest

    with pytest.raises(ValueError, match="units"):
        keras.layers.Dense(np.max(np.array([3, 1, 4])) + 1)
    code, _ = rw(REUTERS)
    namespace: dict[str, object] = {}
    exec(compile(code, "reuters.py", "exec"), namespace)
    model = namespace["model"]
    assert model.layers[1].units == 6 and type(model.layers[1].units) is int  # type: ignore[attr-defined]


def test_positive_function_parameter_given_a_numpy_value():
    """reuters_mlp_relu_vs_selu: the size reaches Dense through a module-level function's parameter."""
    src = """\
    import numpy as np
    from keras.models import Sequential
    from keras.layers import Dense
    from keras.layers.core import Activation

    def create_network(n_dense=6, dense_units=16, num_classes=1):
        model = Sequential()
        model.add(Dense(dense_units, input_shape=(4,)))
        model.add(Dense(num_classes))
        return model

    num_classes = np.max(np.array([1, 2])) + 1
    network1 = {'n_dense': 6, 'dense_units': 16}
    model1 = create_network(num_classes=num_classes, **network1)
    """
    code, _ = rw(src)
    assert "model.add(Dense(int(num_classes)))" in code
    assert "Dense(dense_units, input_shape=(4,))" in code  # given only through **network1: not followed


def test_positive_direct_calls_keywords_and_positions():
    src = """\
    import numpy
    from tensorflow.keras import layers

    shape = (28, 28, 1)
    d = layers.Dense(numpy.prod(shape), activation='tanh')
    e = layers.Embedding(input_dim=numpy.int64(10) * 2, output_dim=-(-numpy.amax(numpy.array([3]))))
    c = layers.Conv2D(4, numpy.int32(3), padding='same')
    r = layers.RepeatVector(n=numpy.sum(numpy.array([1, 2])))
    """
    code, findings = rw(src)
    assert "layers.Dense(int(numpy.prod(shape)), activation='tanh')" in code
    assert "layers.Embedding(input_dim=int(numpy.int64(10) * 2), output_dim=int(-(-numpy.amax(numpy.array([3])))))" \
        in code
    assert "layers.Conv2D(4, int(numpy.int32(3)), padding='same')" in code
    assert "layers.RepeatVector(n=int(numpy.sum(numpy.array([1, 2]))))" in code
    assert len([f for f in findings if f.rule == "KM321" and f.fixed]) == 5


def test_alias_keras1_keyword_and_local_binding():
    """Dense(output_dim=...) is renamed to units= first (KM306), then wrapped; a function's own
    assignment is followed; `import numpy as onp` is NumPy under any alias."""
    src = """\
    import numpy as onp
    from keras.layers import Dense as D
    from keras import backend as K

    def head(y):
        classes = onp.max(y) + 1
        return D(output_dim=classes)
    """
    code, _ = rw(src)
    assert "D(units=int(classes))" in code


def test_noop_when_not_visibly_numpy():
    src = """\
    import numpy as np
    from keras.layers import Dense, Dropout
    from keras import backend as K

    n = np.max(np.array([1, 2])) + 1
    n = 3                                  # bound twice: not followed
    a = Dense(n)
    m = len(np.unique(np.array([1, 2])))   # a Python int already
    b = Dense(m)
    k = np.max(np.array([[1, 2]]), axis=0)  # an array, not a scalar
    c = Dense(k)
    d = Dropout(np.max(np.array([0.5])))   # a rate, not a size
    e = Dense(int(np.prod((2, 3))))        # already an int
    for i in range(3):
        f = Dense(np.max(np.array([1])) + i)  # i is not an int literal: not decided
    """
    code, findings = rw(src)
    assert "int(" not in code.replace("int(np.prod((2, 3)))", "")
    assert "KM321" not in rules_of(findings)


def test_unsupported_int_rebound_is_reported():
    src = """\
    import numpy as np
    from keras.layers import Dense
    from keras import backend as K

    int = float
    d = Dense(np.prod((2, 3)))
    """
    code, findings = rw(src)
    assert "Dense(np.prod((2, 3)))" in code
    assert [(f.rule, f.fixed) for f in findings if f.rule == "KM321"] == [("KM321", False)]


def test_idempotent():
    once = assert_fixed_point(REUTERS)
    assert once.count("int(") == 1
