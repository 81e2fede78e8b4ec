"""The golden-file format shared by the producers (``legacy_ref``) and the
consumers (tests of ``modern`` on any backend, with or without TensorFlow).

A golden file is a plain ``.npz`` archive, loadable with
``numpy.load(path, allow_pickle=False)``. Its keys:

``config``
    0-d unicode array holding a JSON object: the constructor arguments of the
    legacy layer or model and anything else needed to rebuild the case
    (``{"layer": "MultiHeadAttention", "args": {...}, ...}``).
``input.<name>``
    a call input, by argument name (``input.x``, ``input.mask``).
``weight.<legacy name>``
    a weight, named as the legacy format names it: the HDF5 ``weight_names``
    entry without ``:0`` for Keras 2 layers (``mha/mha_Wq``), the object-graph
    path of a TF checkpoint without ``/.ATTRIBUTES/VARIABLE_VALUE`` for the
    subclassed tutorial model (``encoder/enc_layers/0/mha/wq/kernel``).
``output.<name>``
    an output in inference mode (``output.y``, ``output.attention``).

The format is data only: no pickles, no code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

_SECTIONS = ("input", "weight", "output")


@dataclass
class GoldenCase:
    """One golden file's content: a configuration and three named groups of arrays."""

    config: dict[str, Any]
    inputs: dict[str, np.ndarray] = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    outputs: dict[str, np.ndarray] = field(default_factory=dict)

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays: dict[str, np.ndarray] = {"config": np.array(json.dumps(self.config, sort_keys=True))}
        for section, group in zip(_SECTIONS, (self.inputs, self.weights, self.outputs)):
            for name, value in group.items():
                arrays[f"{section}.{name}"] = np.asarray(value)
        return arrays

    def save(self, path: str | Path) -> None:
        np.savez(path, **self.to_arrays())

    @classmethod
    def load(cls, path: str | Path) -> "GoldenCase":
        with np.load(path, allow_pickle=False) as archive:
            case = cls(config=json.loads(str(archive["config"][()])))
            groups = dict(zip(_SECTIONS, (case.inputs, case.weights, case.outputs)))
            for key in archive.files:
                if key == "config":
                    continue
                section, _, name = key.partition(".")
                if section not in groups or not name:
                    raise ValueError(f"{path}: unexpected key {key!r} in golden file")
                groups[section][name] = archive[key]
        return case
