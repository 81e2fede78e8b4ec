"""``import keras`` meaning Keras 2.2.4, on tf_keras, for a process of its own.

The examples tier of the real-world suite (``tests/realworld/keras_examples``) runs the
unmodified example scripts of Keras 2.2.4 as the legacy oracle. :func:`install` makes
``keras`` and its 2.2-era module paths (``keras.layers.recurrent``,
``keras.utils.data_utils``, ``keras.engine.topology``, ...) importable names for tf_keras
in ``sys.modules``. It is meant for a subprocess started with ``TF_USE_LEGACY_KERAS=1``
that runs nothing else: unlike :mod:`legacy_ref.shim` it changes ``sys.modules`` for good.

Where tf_keras's meaning differs from Keras 2.2.4's, the names resolve to Keras 2.2.4's
meaning (checked against Keras 2.2.4's ``keras/layers/recurrent.py``,
``convolutional_recurrent.py`` and ``optimizers.py`` signatures):

* ``LSTM``, ``LSTMCell``, ``ConvLSTM2D``: ``recurrent_activation='hard_sigmoid'``
  (tf_keras: ``'sigmoid'`` for LSTM). tf_keras's ``hard_sigmoid`` is 2.2.4's formula
  (``clip(0.2 x + 0.5, 0, 1)``), so naming it is enough.
* ``GRU``, ``GRUCell``: ``recurrent_activation='hard_sigmoid'`` and ``reset_after=False``
  (the 2.2.4 GRU applies the reset gate before the recurrent matmul and has one bias).
* ``keras.backend.batch_dot``: 2.2.4's definition (:func:`batch_dot`); tf_keras has 2.3's.
* ``keras.callbacks.TensorBoard``: 2.2.4's signature; its four arguments tf_keras lacks
  (``batch_size``, ``write_grads``, ``embeddings_layer_names``, ``embeddings_data``) are
  taken and unused (logging only).
* ``keras.optimizers``: the OptimizerV2 classes of ``tf_keras.optimizers.legacy``, which
  take 2.2.4's ``lr=`` and ``decay=``; ``Adadelta`` defaults to 2.2.4's ``lr=1.0``; the
  lower-case aliases of 2.2.4 (``keras.optimizers.rmsprop(...)``) exist. Their update
  formulas are TensorFlow's (RMSprop's epsilon sits inside the square root, Adagrad's
  accumulator starts at 0.1): a suite that compares *trained* numbers must not rely on
  them; the examples tier compares predictions from the same initial weights.

Everything else is tf_keras as it is. Names the table does not know fall through to the
tf_keras module of the same dotted path (``keras.datasets.mnist`` is
``tf_keras.datasets.mnist``).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import types
from typing import Any


class _Alias(types.ModuleType):
    """A module named like a Keras 2.2.4 module whose attributes come from tf_keras
    modules (first match wins), with a few names overridden."""

    def __init__(self, name: str, targets: list[Any], overrides: dict[str, Any] | None = None) -> None:
        super().__init__(name)
        self._targets = targets
        self._overrides = overrides or {}

    def __getattr__(self, item: str) -> Any:
        if item in self._overrides:
            return self._overrides[item]
        if item == "__all__":  # ``from keras.layers import *`` (cifar10_cnn_capsule)
            return [name for name in dir(self) if not name.startswith("_")]
        if item.startswith("__") and item.endswith("__"):
            raise AttributeError(item)
        for target in self._targets:
            if hasattr(target, item):
                return getattr(target, item)
        # A submodule of the alias (``keras.layers.recurrent`` after ``import keras``).
        full = f"{self.__name__}.{item}"
        if full in sys.modules:
            return sys.modules[full]
        raise AttributeError(f"module {self.__name__!r} (Keras 2.2.4 on tf_keras) has no attribute {item!r}")

    def __dir__(self) -> list[str]:
        names = set(self._overrides)
        for target in self._targets:
            names.update(dir(target))
        return sorted(names)


def _recurrent(tf_keras: Any) -> dict[str, Any]:
    layers = tf_keras.layers

    def pinned(base: type, **defaults: Any) -> type:
        def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # noqa: N807
            for key, value in defaults.items():
                kwargs.setdefault(key, value)
            base.__init__(self, *args, **kwargs)

        # Same class name, so layer names and saved configs read as the legacy ones.
        return type(base.__name__, (base,), {"__init__": __init__, "__module__": __name__,
                                             "__doc__": f"{base.__name__} with Keras 2.2.4's defaults {defaults}."})

    return {
        "LSTM": pinned(layers.LSTM, recurrent_activation="hard_sigmoid"),
        "LSTMCell": pinned(layers.LSTMCell, recurrent_activation="hard_sigmoid"),
        "ConvLSTM2D": pinned(layers.ConvLSTM2D, recurrent_activation="hard_sigmoid"),
        "GRU": pinned(layers.GRU, recurrent_activation="hard_sigmoid", reset_after=False),
        "GRUCell": pinned(layers.GRUCell, recurrent_activation="hard_sigmoid", reset_after=False),
    }


def batch_dot(x: Any, y: Any, axes: Any = None) -> Any:
    """``K.batch_dot`` as Keras 2.2.4 defined it (tf_keras has 2.3's, which rejects the
    mixed ranks that cifar10_cnn_capsule uses): the lower-rank input gets trailing axes of
    size 1 until the ranks match, a batched matmul contracts ``axes`` (transposing the last
    two axes of ``x`` unless ``axes[0]`` is its last, and of ``y`` when ``axes[1]`` is its
    last), and the added axes are squeezed out again."""
    import tensorflow as tf

    if isinstance(axes, int):
        axes = (axes, axes)
    x_rank, y_rank = len(x.shape), len(y.shape)
    if axes is None:
        axes = (x_rank - 1, y_rank - 2)
    pad = abs(x_rank - y_rank)
    if x_rank > y_rank:
        y = tf.reshape(y, tf.concat([tf.shape(y), [1] * pad], axis=0))
    elif y_rank > x_rank:
        x = tf.reshape(x, tf.concat([tf.shape(x), [1] * pad], axis=0))
    rank = max(x_rank, y_rank)
    if rank == 2:
        out = tf.reduce_sum(x * y, axes[0]) if axes[0] == axes[1] else tf.reduce_sum(tf.transpose(x) * y, axes[1])
    else:
        out = tf.matmul(x, y, adjoint_a=axes[0] != rank - 1, adjoint_b=axes[1] == rank - 1)
    if pad:
        start = x_rank + y_rank - 3 if x_rank > y_rank else x_rank - 1
        out = tf.squeeze(out, list(range(start, start + pad)))
    if len(out.shape) == 1:
        out = tf.expand_dims(out, 1)
    return out


def _optimizers(tf_keras: Any) -> dict[str, Any]:
    legacy = tf_keras.optimizers.legacy

    class Adadelta(legacy.Adadelta):
        """Adadelta with Keras 2.2.4's default ``lr=1.0``."""

        def __init__(self, lr: float = 1.0, **kwargs: Any) -> None:
            kwargs.setdefault("learning_rate", kwargs.pop("lr", lr))
            super().__init__(**kwargs)

    out: dict[str, Any] = {name: getattr(legacy, name) for name in
                           ("SGD", "RMSprop", "Adagrad", "Adam", "Adamax", "Nadam", "Optimizer")}
    out["Adadelta"] = Adadelta
    for name in list(out):  # Keras 2.2.4's lower-case aliases
        if name != "Optimizer":
            out[name.lower()] = out[name]
    return out


def _callbacks(tf_keras: Any) -> dict[str, Any]:
    class TensorBoard(tf_keras.callbacks.TensorBoard):
        """``TensorBoard`` with Keras 2.2.4's signature, on tf_keras's callback.

        2.2.4's ``batch_size``, ``write_grads``, ``embeddings_layer_names`` and
        ``embeddings_data`` are taken and not used: tf_keras has no projector export of a
        data sample, and its own check of ``embeddings_data`` raises on an array ("The truth
        value of an array ... is ambiguous"). A callback writes logs only; no number of the
        model depends on them.
        """

        def __init__(self, log_dir: str = "./logs", histogram_freq: int = 0, batch_size: int = 32,
                     write_graph: bool = True, write_grads: bool = False, write_images: bool = False,
                     embeddings_freq: int = 0, embeddings_layer_names: Any = None, embeddings_metadata: Any = None,
                     embeddings_data: Any = None, update_freq: Any = "epoch") -> None:
            super().__init__(log_dir=log_dir, histogram_freq=histogram_freq, write_graph=write_graph,
                             write_images=write_images, embeddings_freq=embeddings_freq,
                             embeddings_metadata=embeddings_metadata, update_freq=update_freq)

    return {"TensorBoard": TensorBoard}


# Keras 2.2.4 module -> the tf_keras modules its names now live in (searched in order).
_MOVED = {
    "keras.engine": ["layers", ""],
    "keras.engine.topology": ["layers", ""],
    "keras.engine.base_layer": ["layers", ""],
    "keras.engine.training": [""],
    "keras.utils.data_utils": ["utils"],
    "keras.utils.np_utils": ["utils"],
    "keras.utils.generic_utils": ["utils"],
    "keras.utils.vis_utils": ["utils"],
    "keras.utils.layer_utils": ["utils"],
    "keras.utils.io_utils": ["utils"],
}
_LAYER_SUBMODULES = ("recurrent", "convolutional", "convolutional_recurrent", "core", "embeddings", "merge",
                     "normalization", "advanced_activations", "wrappers", "noise", "pooling", "local", "cudnn_recurrent")


def _tf_keras_module(path: str) -> Any:
    import tf_keras

    module = tf_keras
    for part in filter(None, path.split(".")):
        module = getattr(module, part)
    return module


class _Finder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports of ``keras.X.Y`` that are not aliased yet become aliases of
    ``tf_keras.X.Y`` (an ImportError names the Keras 2.2.4 path that has no twin)."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname == "keras" or fullname.startswith("keras."):
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec: Any) -> Any:
        name = spec.name
        if name in sys.modules:
            return sys.modules[name]
        try:
            target = importlib.import_module("tf_keras" + name[len("keras"):])
        except ImportError as exc:
            raise ImportError(f"{name}: Keras 2.2.4 module with no tf_keras twin ({exc})") from None
        module = _Alias(name, [target])
        module.__path__ = []  # type: ignore[attr-defined]  # its submodules import too
        return module

    def exec_module(self, module: Any) -> None:
        return None


def install() -> None:
    """Make ``import keras`` (and its 2.2.4 submodule paths) mean Keras 2.2.4 on tf_keras
    in this process. Call once, before the legacy program imports anything of Keras."""
    import tf_keras

    if not tf_keras.__name__ == "tf_keras":  # pragma: no cover - a broken install
        raise RuntimeError("tf_keras is required")
    recurrent = _recurrent(tf_keras)
    layers = _Alias("keras.layers", [tf_keras.layers], recurrent)
    optimizers = _Alias("keras.optimizers", [tf_keras.optimizers], _optimizers(tf_keras))
    modules: dict[str, Any] = {"keras.layers": layers, "keras.optimizers": optimizers}
    for sub in _LAYER_SUBMODULES:
        modules[f"keras.layers.{sub}"] = _Alias(f"keras.layers.{sub}", [tf_keras.layers], recurrent)
    for name, targets in _MOVED.items():
        modules[name] = _Alias(name, [_tf_keras_module(t) for t in targets])
    backend = _Alias("keras.backend", [tf_keras.backend], {"batch_dot": batch_dot})
    modules["keras.backend"] = backend
    callbacks = _Alias("keras.callbacks", [tf_keras.callbacks], _callbacks(tf_keras))
    modules["keras.callbacks"] = callbacks
    keras = _Alias("keras", [tf_keras], {"layers": layers, "optimizers": optimizers, "backend": backend,
                                         "callbacks": callbacks})
    keras.__version__ = "2.2.4"  # type: ignore[attr-defined]
    modules["keras"] = keras
    for name, module in modules.items():
        module.__path__ = []  # type: ignore[attr-defined]  # a package: submodules import
        sys.modules[name] = module
    sys.meta_path.insert(0, _Finder())
