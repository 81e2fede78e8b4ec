"""Run an unmodified legacy Keras program on tf_keras, without touching global state.

The program is executed in a fresh module namespace whose ``__import__`` maps
``keras`` (and 2.2-era submodules such as ``keras.engine.topology``) to tf_keras
and ``tensorflow`` to a proxy whose ``.keras`` is tf_keras. Optimizers resolve to
``tf_keras.optimizers.legacy`` first: those are the OptimizerV2 classes that
Keras 2.2 / TF 2.5 programs used (``lr=``, ``decay=``, float schedule step).
``sys.modules`` is left exactly as it was.

This is how a test, or ``migrate port --legacy program.py:factory``, obtains
the legacy program's own model and outputs to compare a migration against.
"""

from __future__ import annotations

import builtins
import types
from pathlib import Path
from typing import Any


class _Proxy(types.ModuleType):
    def __init__(self, name: str, target: Any, overrides: dict[str, Any] | None = None) -> None:
        super().__init__(name)
        self._target = target
        self._overrides = overrides or {}

    def __getattr__(self, item: str) -> Any:
        if item.startswith("__") and item.endswith("__"):
            raise AttributeError(item)
        if item in self._overrides:
            return self._overrides[item]
        return getattr(self._target, item)


def _legacy_keras() -> tuple[_Proxy, dict[str, Any]]:
    import tf_keras

    optimizers = _Proxy("keras.optimizers", tf_keras.optimizers, {
        name: getattr(tf_keras.optimizers.legacy, name)
        for name in ("SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "Adamax", "Nadam", "Ftrl", "Optimizer")
    })
    layers = tf_keras.layers
    engine_ns = {"Layer": layers.Layer, "InputSpec": layers.InputSpec, "Input": layers.Input,
                 "InputLayer": layers.InputLayer, "Model": tf_keras.Model, "Sequential": tf_keras.Sequential}
    topology = _Proxy("keras.engine.topology", types.SimpleNamespace(**engine_ns))
    engine = _Proxy("keras.engine", types.SimpleNamespace(**engine_ns), {"topology": topology,
                                                                        "base_layer": topology})
    keras = _Proxy("keras", tf_keras, {"optimizers": optimizers, "engine": engine})
    modules: dict[str, Any] = {
        "keras": keras,
        "keras.engine": engine,
        "keras.engine.topology": topology,
        "keras.engine.base_layer": topology,
        "keras.optimizers": optimizers,
        "keras.backend": tf_keras.backend,
        "keras.layers": tf_keras.layers,
        "keras.models": tf_keras.models,
        "keras.callbacks": tf_keras.callbacks,
        "keras.utils": tf_keras.utils,
        "keras.initializers": tf_keras.initializers,
        "keras.activations": tf_keras.activations,
        "keras.losses": tf_keras.losses,
        "keras.metrics": tf_keras.metrics,
    }
    return keras, modules


def load_legacy_program(path: str | Path, name: str = "legacy_program") -> types.ModuleType:
    """Execute the program at ``path`` on tf_keras and return its module namespace."""
    import tensorflow as real_tf

    keras, modules = _legacy_keras()
    tf_proxy = _Proxy("tensorflow", real_tf, {"keras": keras})
    modules["tensorflow"] = tf_proxy
    modules["tensorflow.keras"] = keras
    real_import = builtins.__import__

    def legacy_import(mod: str, globals=None, locals=None, fromlist=(), level=0):  # type: ignore[no-untyped-def]
        if level == 0 and mod in modules:
            if fromlist:
                return modules[mod]
            return modules[mod.split(".")[0]]
        if level == 0 and (mod.startswith("keras.") or mod.startswith("tensorflow.keras")):
            raise ImportError(f"legacy shim has no {mod}")
        return real_import(mod, globals, locals, fromlist, level)

    fake_builtins = dict(vars(builtins))
    fake_builtins["__import__"] = legacy_import
    module = types.ModuleType(name)
    module.__dict__["__builtins__"] = fake_builtins
    module.__dict__["__file__"] = str(path)
    code = compile(Path(path).read_text(encoding="utf-8"), str(path), "exec")
    exec(code, module.__dict__)
    return module


def load_program_source(source: str, path: str, name: str) -> types.ModuleType:
    """Execute (migrated) source with the real imports: Keras 3 and ``modern``."""
    module = types.ModuleType(name)
    module.__dict__["__file__"] = path
    exec(compile(source, path, "exec"), module.__dict__)
    return module
