"""Probes for ``migrate/rewrite/legacy_defaults.py``: one function per row, run on both runtimes.

Each probe takes the Keras module it runs on (``tf_keras`` or ``keras``) and returns the
text that the row's ``tf_keras2`` or ``keras3`` column must hold. The probes measure
behaviour (one optimizer step, one layer call, one ``evaluate``) or read a resolved
config; they never restate a documented default.

``python -m tests.migrate.rules.legacy_default_probes`` runs every probe on tf_keras
(the test starts it with ``TF_USE_LEGACY_KERAS=1``, as legacy code runs) and prints one
JSON object, row id -> result; a probe that raises reports ``error: <type>``.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Any, Callable

import numpy as np

PROBES: dict[str, Callable[[Any], str]] = {}


def probe(fn: Callable[[Any], str]) -> Callable[[Any], str]:
    PROBES[fn.__name__] = fn
    return fn


def is_legacy(k: Any) -> bool:
    return k.__name__ == "tf_keras"


def _num(x: float) -> str:
    return f"{float(x):.6g}"


def _numpy(x: Any) -> np.ndarray:
    return np.asarray(x.numpy() if hasattr(x, "numpy") else x)


def _step(k: Any, opt: Any, grads: list[list[float]]) -> list[np.ndarray]:
    """One ``apply_gradients`` from zero-valued variables."""
    if is_legacy(k):
        import tensorflow as tf

        variables = [tf.Variable(np.zeros(len(g), "float32")) for g in grads]
        opt.apply_gradients([(tf.constant(np.asarray(g, "float32")), v) for g, v in zip(grads, variables)])
    else:
        variables = [k.Variable(np.zeros(len(g), "float32")) for g in grads]
        opt.apply_gradients([(k.ops.convert_to_tensor(np.asarray(g, "float32")), v)
                             for g, v in zip(grads, variables)])
    return [_numpy(v) for v in variables]


def _both(k: Any, run: Callable[[Any], str]) -> str:
    """An optimizer probe: on tf_keras, the OptimizerV2 classes of TF <= 2.10 and the current ones."""
    if not is_legacy(k):
        return _guard(run, k.optimizers)
    return f"{_guard(run, k.optimizers.legacy)} (optimizers.legacy), {_guard(run, k.optimizers)} (optimizers)"


def _guard(run: Callable[[Any], str], arg: Any) -> str:
    try:
        return run(arg)
    except (TypeError, ValueError):
        return "error"


def _init_name(conf: Any) -> str:
    if isinstance(conf, dict):
        name = conf["class_name"]
        inner = conf.get("config", {})
        if name == "RandomUniform":
            return f"RandomUniform({_num(inner['minval'])}, {_num(inner['maxval'])})"
        return name
    return str(conf)


# ---- recurrent layers ---------------------------------------------------------------


@probe
def gru_reset_after(k: Any) -> str:
    return str(k.layers.GRU(4).get_config()["reset_after"])


@probe
def gru_bias_shape(k: Any) -> str:
    layer = k.layers.GRU(4)
    layer(np.zeros((1, 2, 3), "float32"))
    bias = [w for w in layer.weights if "bias" in w.name and "recurrent" not in w.name][-1]
    return str(tuple(int(d) for d in bias.shape))


@probe
def rnn_recurrent_activation(k: Any) -> str:
    values = {k.layers.LSTM(2).get_config()["recurrent_activation"], k.layers.GRU(2).get_config()[
        "recurrent_activation"]}
    return " / ".join(repr(v) for v in sorted(values))


@probe
def convlstm_recurrent_activation(k: Any) -> str:
    return repr(k.layers.ConvLSTM2D(2, 3).get_config()["recurrent_activation"])


@probe
def hard_sigmoid(k: Any) -> str:
    x = np.array([1.0], "float32")
    if is_legacy(k):
        import tensorflow as tf

        x = tf.constant(x)
    return _num(_numpy(k.activations.hard_sigmoid(x))[0])


@probe
def lstm_unit_forget_bias(k: Any) -> str:
    return str(k.layers.LSTM(2).get_config()["unit_forget_bias"])


# ---- other layers --------------------------------------------------------------------


@probe
def batchnorm_defaults(k: Any) -> str:
    conf = k.layers.BatchNormalization().get_config()
    return f"{_num(conf['momentum'])}, {_num(conf['epsilon'])}"


@probe
def frozen_batchnorm(k: Any) -> str:
    """Frozen layer, called in training on a batch of mean 5: moving statistics (0, 1) leave it
    about as it is; batch statistics would centre it."""
    bn = k.layers.BatchNormalization(trainable=False)
    out = _numpy(bn(np.array([[3.0], [7.0]], "float32"), training=True))
    return "moving statistics" if abs(float(out.mean())) > 1.0 else "batch statistics"


@probe
def layernorm_epsilon(k: Any) -> str:
    return _num(k.layers.LayerNormalization().get_config()["epsilon"])


@probe
def dense_initializers(k: Any) -> str:
    seen = set()
    for layer in (k.layers.Dense(2), k.layers.Conv1D(2, 3), k.layers.Conv2D(2, 3)):
        conf = layer.get_config()
        seen.add(f"{_init_name(conf['kernel_initializer'])}, {_init_name(conf['bias_initializer'])}")
    return " / ".join(sorted(seen))


@probe
def embedding_initializer(k: Any) -> str:
    return _init_name(k.layers.Embedding(3, 2).get_config()["embeddings_initializer"])


@probe
def leaky_relu_slope(k: Any) -> str:
    layer = k.layers.LeakyReLU()
    out = _numpy(layer(np.array([-1.0], "float32")))
    by_alpha = _numpy(k.layers.LeakyReLU(alpha=0.1)(np.array([-1.0], "float32")))
    assert abs(float(by_alpha[0]) + 0.1) < 1e-6, "alpha= is not honoured"
    return _num(-out[0])


@probe
def variance_scaling_normal(k: Any) -> str:
    return str(k.initializers.VarianceScaling(distribution="normal").get_config()["distribution"])


@probe
def dropout_without_training_arg(k: Any) -> str:
    class Outer(k.layers.Layer):
        def __init__(self, **kwargs: Any) -> None:
            super().__init__(**kwargs)
            self.drop = k.layers.Dropout(0.5)

        def call(self, x: Any) -> Any:  # no training argument, as in Keras 2.2 code
            return self.drop(x)

    layer = Outer()
    x = np.ones((1, 256), "float32")
    in_training = float(_numpy(layer(x, training=True)).min()) == 0.0
    in_inference = float(_numpy(layer(x)).min()) == 0.0
    if in_training and not in_inference:
        return "follows the outer call"
    return f"dropout in training: {in_training}, in inference: {in_inference}"


@probe
def masked_global_average_pooling(k: Any) -> str:
    """Embedding(mask_zero) of (1, 2, 0, 0) with a constant table: the masked mean is 1, the plain one 0.5."""
    inputs = k.Input((4,), dtype="int32")
    emb = k.layers.Embedding(3, 1, mask_zero=True, embeddings_initializer="ones")(inputs)
    model = k.Model(inputs, k.layers.GlobalAveragePooling1D()(emb))
    value = float(_numpy(model(np.array([[1, 2, 0, 0]], "int32")))[0, 0])
    return {1.0: "mean over unmasked", 0.5: "mean over all steps"}.get(round(value, 4), f"{value:.6g}")


# ---- backend functions -------------------------------------------------------------------


def _tensor(k: Any, x: np.ndarray) -> Any:
    if is_legacy(k):
        import tensorflow as tf

        return tf.constant(x)
    return x


@probe
def l2_normalize_epsilon(k: Any) -> str:
    x = _tensor(k, np.array([[1e-7, 0.0]], "float32"))
    out = k.backend.l2_normalize(x, axis=-1) if is_legacy(k) else k.ops.normalize(x, axis=-1)
    return _num(_numpy(out)[0, 0])


@probe
def categorical_crossentropy_backend(k: Any) -> str:
    target = _tensor(k, np.array([[0.0, 1.0, 0.0]], "float32"))
    output = _tensor(k, np.array([[0.2, 0.6, 0.6]], "float32"))  # sums to 1.4: normalised first
    fn = k.backend.categorical_crossentropy if is_legacy(k) else k.ops.categorical_crossentropy
    return _num(_numpy(fn(target, output))[0])


# ---- optimizers ------------------------------------------------------------------------


def _lr(name: str) -> Callable[[Any], str]:
    """The default learning rate of optimizer ``name``, as its config resolves it."""
    def run(k: Any) -> str:
        return _num(getattr(k.optimizers, name)().get_config()["learning_rate"])

    return run


for _optimizer in ("Adadelta", "Adagrad", "Adamax", "Nadam", "Lion"):
    PROBES[f"{_optimizer.lower()}_lr"] = _lr(_optimizer)


@probe
def adagrad_accumulator(k: Any) -> str:
    return _num(k.optimizers.Adagrad().get_config()["initial_accumulator_value"])


def _epsilon_place(k: Any, opts: Any, make: Callable[[Any], Any]) -> str:
    """One step with g = 0.01 and epsilon = 0.01 from a zero accumulator: g/(|g|+eps) = 0.5
    (outside the root) or g/sqrt(g*g+eps) = 0.0995 (inside)."""
    (delta,) = _step(k, make(opts), [[0.01]])
    value = -float(delta[0])
    if abs(value - 0.5) < 1e-4:
        return "outside sqrt"
    if abs(value - 0.01 / np.sqrt(1e-4 + 0.01)) < 1e-4:
        return "inside sqrt"
    return f"step {value:.6g}"


@probe
def adagrad_epsilon(k: Any) -> str:
    return _both(k, lambda o: _epsilon_place(k, o, lambda o: o.Adagrad(
        learning_rate=1.0, initial_accumulator_value=0.0, epsilon=0.01)))


@probe
def rmsprop_epsilon(k: Any) -> str:
    return _both(k, lambda o: _epsilon_place(k, o, lambda o: o.RMSprop(learning_rate=1.0, rho=0.0, epsilon=0.01)))


@probe
def epsilon_none(k: Any) -> str:
    """Adam's first step on a gradient of 1e-6 is about lr * g / (|g| + epsilon): epsilon=None
    and epsilon=1e-7 (K.epsilon()) take the same step only if None meant K.epsilon()."""
    def run(o: Any) -> str:
        (by_none,) = _step(k, o.Adam(learning_rate=0.1, epsilon=None), [[1e-6]])
        (by_value,) = _step(k, o.Adam(learning_rate=0.1, epsilon=1e-7), [[1e-6]])
        return "K.epsilon()" if np.allclose(by_none, by_value, rtol=1e-6) else "other"
    return _both(k, run)


@probe
def optimizer_decay(k: Any) -> str:
    def run(o: Any) -> str:
        opt = o.SGD(learning_rate=1.0, decay=1.0)
        if is_legacy(k):
            import tensorflow as tf

            v = tf.Variable(np.zeros(1, "float32"))
            for _ in range(2):
                opt.apply_gradients([(tf.constant(np.ones(1, "float32")), v)])
        else:
            v = k.Variable(np.zeros(1, "float32"))
            for _ in range(2):
                opt.apply_gradients([(k.ops.convert_to_tensor(np.ones(1, "float32")), v)])
        total = -float(_numpy(v)[0])  # steps of lr/(1+d*t): 1 + 1/2 with the decay, 2 without
        return {1.5: "lr / (1 + d * iterations)", 2.0: "ignored"}.get(round(total, 4), f"{total:.6g}")
    return _both(k, run)


@probe
def nadam_schedule_decay(k: Any) -> str:
    def run(o: Any) -> str:
        o.Nadam(schedule_decay=0.004)
        return "accepted"
    return _guard(run, k.optimizers)


@probe
def clipnorm(k: Any) -> str:
    """Gradients (3, 4) and (0, 5) with clipnorm=1: per variable gives norms 1 and 1, a
    global norm (sqrt(50)) gives 0.707 for the second."""
    def run(o: Any) -> str:
        _, second = _step(k, o.SGD(learning_rate=1.0, clipnorm=1.0), [[3.0, 4.0], [0.0, 5.0]])
        norm = float(np.linalg.norm(second))
        return "per variable" if abs(norm - 1.0) < 1e-5 else "global norm of all gradients" if abs(
            norm - 5 / np.sqrt(50)) < 1e-5 else f"norm {norm:.6g}"
    if is_legacy(k):
        legacy, current = run(k.optimizers.legacy), run(k.optimizers)
        return legacy if legacy == current else f"{legacy} (optimizers.legacy), {current} (optimizers)"
    return run(k.optimizers)


# ---- regularizers ---------------------------------------------------------------------


@probe
def l1_l2_defaults(k: Any) -> str:
    conf = k.regularizers.l1_l2().get_config()
    return f"{_num(conf['l1'])}, {_num(conf['l2'])}"


# ---- activations by name ----------------------------------------------------------------


@probe
def custom_activation_name(k: Any) -> str:
    def gelu(x: Any) -> Any:  # registered under the built-in's name, as bert4keras does
        return x * 0.0 + 42.0

    objects = k.utils.get_custom_objects() if is_legacy(k) else k.saving.get_custom_objects()
    objects["gelu"] = gelu
    try:
        dense = k.layers.Dense(1, activation="gelu", kernel_initializer="ones")
        out = float(_numpy(dense(np.ones((1, 1), "float32")))[0, 0])
    finally:
        del objects["gelu"]
    return "the registered function" if out == 42.0 else "the built-in gelu"


# ---- compile: metrics, losses, weights -----------------------------------------------------


def _tiny_model(k: Any, units: int, activation: str | None = "sigmoid") -> Any:
    inputs = k.Input((2,))
    return k.Model(inputs, k.layers.Dense(units, activation=activation, kernel_initializer="ones")(inputs))


_X = np.array([[1.0, -1.0], [0.5, 0.2]], "float32")
_Y = np.array([[1, 0, 0], [0, 1, 1]], "float32")


@probe
def acc_binary_multilabel(k: Any) -> str:
    """Predictions 0.5 (row 1) and 0.67 (row 2) on all three units: binary accuracy 4/6,
    categorical accuracy 1/2 (ties go to unit 0)."""
    model = _tiny_model(k, 3)
    model.compile("sgd", loss="binary_crossentropy", metrics=["acc"])
    acc = model.evaluate(_X, _Y, verbose=0, return_dict=True)["acc"]
    return {round(4 / 6, 4): "binary_accuracy", 0.5: "categorical_accuracy"}.get(round(acc, 4), f"{acc:.6g}")


@probe
def accuracy_metric_name(k: Any) -> str:
    model = _tiny_model(k, 3, activation="softmax")
    model.compile("sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    keys = [key for key in model.evaluate(_X, _Y, verbose=0, return_dict=True) if key != "loss"]
    return ", ".join(repr(key) for key in keys)


@probe
def ce_metric(k: Any) -> str:
    model = _tiny_model(k, 3)
    try:
        model.compile("sgd", loss="binary_crossentropy", metrics=["ce"])
        value = model.evaluate(_X, _Y, verbose=0, return_dict=True)["ce"]
    except ValueError:
        return "error"
    p = 1 / (1 + np.exp(-_X.sum(axis=1, keepdims=True) * np.ones((1, 3))))
    binary = float(np.mean(-(_Y * np.log(p) + (1 - _Y) * np.log(1 - p))))
    categorical = float(np.mean(-(_Y * np.log(p / p.sum(axis=1, keepdims=True))).sum(axis=1)))
    if abs(value - categorical) < 1e-4 and abs(value - binary) > 1e-3:
        return "chosen by the shapes"
    return f"{value:.6g}"


@probe
def sample_weight_scale(k: Any) -> str:
    inputs = k.Input((1,))
    model = k.Model(inputs, k.layers.Dense(1, kernel_initializer="ones", use_bias=False)(inputs))
    model.compile("sgd", "mse")
    x = np.array([[1.0], [2.0], [3.0], [4.0]], "float32")
    w = np.array([1.0, 0.0, 2.0, 0.0], "float32")
    loss = model.evaluate(x, np.zeros((4, 1), "float32"), sample_weight=w, batch_size=4, verbose=0)
    weighted = float((w * x[:, 0] ** 2).sum())
    return {round(weighted / 4, 4): "sum(w*l) / N", round(weighted / 2, 4): "sum(w*l) / count(w != 0)"}.get(
        round(float(loss), 4), f"{loss:.6g}")


@probe
def loss_reduction(k: Any) -> str:
    loss = k.losses.MeanSquaredError()
    y, p = np.zeros((4, 1), "float32"), np.array([[1.0], [2.0], [3.0], [4.0]], "float32")
    value = float(_numpy(loss(y, p)))
    return f"{loss.reduction} = " + ("mean" if abs(value - 7.5) < 1e-5 else f"{value:.6g}")


@probe
def sample_weight_mode(k: Any) -> str:
    model = _tiny_model(k, 1)
    try:
        model.compile("sgd", "mse", sample_weight_mode="temporal")
    except TypeError:
        return "error"
    return "accepted"


@probe
def masked_loss(k: Any) -> str:
    """Tokens (1, 2, 0, 0): the two padded steps carry a loss of 1 each if unmasked."""
    inputs = k.Input((4,), dtype="int32")
    emb = k.layers.Embedding(3, 1, mask_zero=True, embeddings_initializer="zeros")(inputs)
    out = k.layers.Dense(1, kernel_initializer="zeros", bias_initializer="zeros")(emb)
    model = k.Model(inputs, out)
    model.compile("sgd", "mse")
    x = np.array([[1, 2, 0, 0]], "int32")
    y = np.array([[[0.0], [0.0], [1.0], [1.0]]], "float32")  # the target is wrong only where masked
    loss = float(model.evaluate(x, y, verbose=0))
    return {0.0: "mean over unmasked", 0.5: "mean over all steps"}.get(round(loss, 4), f"{loss:.6g}")


def run_all(k: Any) -> dict[str, str]:
    out = {}
    for name, fn in PROBES.items():
        try:
            out[name] = fn(k)
        except Exception as exc:  # a probe that breaks is a result to compare, not a crash
            out[name] = f"error: {type(exc).__name__}: {exc}"[:300]
    return out


if __name__ == "__main__":
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tf_keras

    sys.stdout.write("PROBES " + json.dumps(run_all(tf_keras)) + "\n")
