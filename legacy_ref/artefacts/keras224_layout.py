"""Rewrite a tf_keras full-model HDF5 file into the layout standalone Keras 2.2.4 wrote.

The CyberZHG libraries (keras-bert & co.) were used with standalone Keras
2.2.4 before tf.keras; their users hold files saved by it. Keras 2.2.4 does
not run on today's Python, so the test files are made by the real library on
tf_keras (:mod:`legacy_ref.artefacts.bert_family`) and then rewritten here,
with h5py only, into the layout Keras 2.2.4's ``keras/engine/saving.py``
(``_serialize_model``) wrote. The weights are the same arrays; what changes:

root attributes
    ``keras_version`` ``'2.2.4'``, ``backend`` ``'tensorflow'`` (also on
    ``model_weights``), ``model_config`` and ``training_config`` as utf-8
    fixed-length byte strings (2.2.4 encoded them; h5py 2 stored bytes so).
``model_config``
    the model's class is ``Model`` (tf_keras says ``Functional``) and its
    config has no ``trainable``; nested objects (initializers, regularizers)
    are ``{class_name, config}`` without ``module`` / ``registered_name``;
    the Glorot initializers are the ``VarianceScaling`` objects 2.2.4's
    ``glorot_*`` functions returned; ``InputLayer`` has ``batch_input_shape``,
    ``dtype``, ``sparse`` and ``name`` only (no ``ragged`` / ``optional``).
    Inbound nodes were already ``[layer, node_index, tensor_index, kwargs]``.
``training_config``
    ``optimizer_config`` with 2.2.4's Adam keys (``lr``, ``beta_1``,
    ``beta_2``, ``decay``, ``epsilon``, ``amsgrad``; no ``name``), ``metrics``
    ``[]`` (2.2.4 kept ``metrics or []``), ``sample_weight_mode`` and
    ``loss_weights``; no ``weighted_metrics``.
``optimizer_weights``
    Keras 2.2.4's Adam state is ``[iterations] + ms + vs + vhats`` named by
    TensorFlow's graph: ``Adam/iterations:0`` (int64), then
    ``training/Adam/Variable:0``, ``training/Adam/Variable_1:0``... (the
    ``K.zeros`` slots, created under ``name_scope('training')`` and the
    optimizer's class name), with shape-(1,) zero ``vhats`` when
    ``amsgrad`` is off. The names say nothing about which weight a slot
    belongs to; only the order does (the trainable weights' order).

Only Adam is rewritten (the test files' optimizer); anything else is refused.

    python -m legacy_ref.artefacts.keras224_layout IN.h5 OUT.h5 [--decay D]

``--decay`` records another ``decay`` in the optimizer config (the file then
says the run used it; the state arrays are kept), to exercise the port of
2.2.4's ``lr / (1 + decay * iterations)``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

KERAS_VERSION = "2.2.4"
# tf_keras initializer classes -> Keras 2.2.4's VarianceScaling arguments
# (its glorot_*/he_*/lecun_* were functions returning VarianceScaling).
VARIANCE_SCALING = {
    "GlorotNormal": (1.0, "fan_avg", "normal"),
    "GlorotUniform": (1.0, "fan_avg", "uniform"),
    "HeNormal": (2.0, "fan_in", "normal"),
    "HeUniform": (2.0, "fan_in", "uniform"),
    "LecunNormal": (1.0, "fan_in", "normal"),
    "LecunUniform": (1.0, "fan_in", "uniform"),
}
INPUT_LAYER_KEYS = ("batch_input_shape", "dtype", "sparse", "name")
ADAM_KEYS = ("lr", "beta_1", "beta_2", "decay", "epsilon", "amsgrad")


def _nested(value: Any) -> Any:
    """A nested serialized object as 2.2.4 wrote it."""
    if isinstance(value, list):
        return [_nested(v) for v in value]
    if not isinstance(value, dict):
        return value
    if "class_name" in value and "config" in value and set(value) <= {"class_name", "config", "module", "registered_name"}:
        class_name, config = value["class_name"], _nested(value["config"])
        if class_name in VARIANCE_SCALING:
            scale, mode, distribution = VARIANCE_SCALING[class_name]
            class_name = "VarianceScaling"
            config = {"scale": scale, "mode": mode, "distribution": distribution, "seed": config.get("seed")}
        return {"class_name": class_name, "config": config}
    return {k: _nested(v) for k, v in value.items()}


def _layer(entry: dict[str, Any]) -> dict[str, Any]:
    config = entry["config"]
    if entry["class_name"] == "InputLayer":
        config = {k: config[k] for k in INPUT_LAYER_KEYS if k in config}
    else:
        config = {k: _nested(v) for k, v in config.items()}
    return {"name": entry["name"], "class_name": entry["class_name"], "config": config,
            "inbound_nodes": entry["inbound_nodes"]}


def model_config(config: dict[str, Any]) -> dict[str, Any]:
    """A tf_keras functional ``model_config`` in Keras 2.2.4's layout."""
    if config.get("class_name") not in ("Functional", "Model"):
        raise SystemExit(f"only functional models are rewritten, not {config.get('class_name')!r}")
    inner = config["config"]
    return {"class_name": "Model", "config": {
        "name": inner["name"], "layers": [_layer(entry) for entry in inner["layers"]],
        "input_layers": inner["input_layers"], "output_layers": inner["output_layers"]}}


def training_config(config: dict[str, Any], decay: float | None) -> dict[str, Any]:
    """A tf_keras ``training_config`` with its legacy Adam as Keras 2.2.4's ``Adam``."""
    optimizer = config["optimizer_config"]
    if optimizer["class_name"] != "Adam":
        raise SystemExit(f"only Adam is rewritten, not {optimizer['class_name']!r}")
    old = optimizer["config"]
    new = {"lr": old["learning_rate"], **{k: old[k] for k in ADAM_KEYS[1:]}}
    if decay is not None:
        new["decay"] = decay
    return {"optimizer_config": {"class_name": "Adam", "config": new}, "loss": config["loss"],
            "metrics": config.get("metrics") or [], "sample_weight_mode": None,
            "loss_weights": config.get("loss_weights")}


def _optimizer_arrays(group: Any) -> list[tuple[str, np.ndarray]]:
    """tf_keras's ``Adam/iter``, ``Adam/<weight>/m``, ``.../v`` as 2.2.4's ordered list."""
    names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs["weight_names"]]
    iteration = next(n for n in names if n == "Adam/iter:0")
    ms = [n for n in names if n.endswith("/m:0")]
    vs = [n for n in names if n.endswith("/v:0")]
    if len(ms) != len(vs) or len(names) != 1 + 2 * len(ms):
        raise SystemExit(f"unexpected optimizer_weights {names[:4]}...: not a tf_keras legacy Adam without amsgrad")
    arrays = [("Adam/iterations:0", np.asarray(group[iteration][()], dtype="int64"))]
    slots = [np.asarray(group[n][()]) for n in ms + vs] + [np.zeros((1,), "float32") for _ in ms]
    for index, value in enumerate(slots):
        arrays.append((f"training/Adam/Variable{'' if index == 0 else f'_{index}'}:0", value))
    return arrays


def _fixed(value: str | list[str]) -> Any:
    """utf-8 bytes as h5py 2 stored them from Keras 2.2.4: fixed-length strings (h5py 3 would make a
    bytes object a variable-length string)."""
    if isinstance(value, str):
        return np.bytes_(value.encode("utf8"))
    return np.array([v.encode("utf8") for v in value], dtype="S")


def _text(value: Any) -> str:
    return value.decode("utf8") if isinstance(value, bytes) else str(value)


def rewrite(source: Path, target: Path, decay: float | None = None) -> Path:
    """Write ``target``: ``source``'s model and weights in Keras 2.2.4's layout."""
    import h5py

    with h5py.File(source, "r") as old, h5py.File(target, "w") as new:
        new.attrs["keras_version"] = _fixed(KERAS_VERSION)
        new.attrs["backend"] = _fixed("tensorflow")
        new.attrs["model_config"] = _fixed(json.dumps(model_config(json.loads(_text(old.attrs["model_config"])))))
        weights = new.create_group("model_weights")
        layer_names = [_text(n) for n in old["model_weights"].attrs["layer_names"]]
        weights.attrs["layer_names"] = _fixed(layer_names)
        weights.attrs["backend"] = _fixed("tensorflow")
        weights.attrs["keras_version"] = _fixed(KERAS_VERSION)
        for layer in layer_names:
            old_group, group = old["model_weights"][layer], weights.create_group(layer)
            weight_names = [_text(n) for n in old_group.attrs["weight_names"]]
            group.attrs["weight_names"] = _fixed(weight_names)
            for name in weight_names:
                group.create_dataset(name, data=np.asarray(old_group[name][()]))
        if "training_config" in old.attrs:
            training = training_config(json.loads(_text(old.attrs["training_config"])), decay)
            new.attrs["training_config"] = _fixed(json.dumps(training))
            if "optimizer_weights" in old:
                arrays = _optimizer_arrays(old["optimizer_weights"])
                group = new.create_group("optimizer_weights")
                group.attrs["weight_names"] = _fixed([name for name, _ in arrays])
                for name, value in arrays:
                    group.create_dataset(name, data=value)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m legacy_ref.artefacts.keras224_layout", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path, help="a full-model HDF5 file saved by tf_keras")
    parser.add_argument("target", type=Path, help="where to write the Keras 2.2.4 layout")
    parser.add_argument("--decay", type=float, default=None, help="record this Adam decay instead of the file's")
    args = parser.parse_args(argv)
    print(f"wrote {rewrite(args.source, args.target, args.decay)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
