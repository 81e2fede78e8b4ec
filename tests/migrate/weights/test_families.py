"""The legacy-family registry: one module per family, found from one place."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

from migrate.weights import families
from migrate.weights.errors import PortError

FAMILY_DIR = Path(families.__file__).parent


def test_every_family_module_is_registered_and_declares_one_family() -> None:
    on_disk = sorted(p.stem for p in FAMILY_DIR.glob("*.py") if p.stem != "__init__")
    assert sorted(families.FAMILY_MODULES) == on_disk
    for module in families.FAMILY_MODULES:
        family = importlib.import_module(f"migrate.weights.families.{module}").FAMILY
        assert isinstance(family, families.Family) and family.description


def test_family_names_and_legacy_classes_are_unambiguous() -> None:
    names = [family.name for family in families.families()]
    assert len(names) == len(set(names))
    keys = [(legacy.class_name, legacy.required_keys) for legacy in families.legacy_classes()]
    assert len(keys) == len(set(keys))


@pytest.mark.parametrize("entry, expected", [
    ({"class_name": "MultiHeadAttention", "config": {"name": "m", "head_num": 2}}, "MultiHeadAttention"),
    # The built-in of the same name: recognised by its keys, never by the name.
    ({"class_name": "MultiHeadAttention", "config": {"name": "m", "num_heads": 2, "key_dim": 4}}, None),
    ({"class_name": "LayerNormalization", "config": {"name": "n", "gamma_initializer": "ones"}}, "LayerNormalization"),
    ({"class_name": "LayerNormalization", "config": {"name": "n", "gamma_initializer": "ones", "axis": -1}}, None),
    ({"class_name": "Position_Embedding", "config": {"name": "p", "mode": "sum"}}, "Position_Embedding"),
    ({"class_name": "Position_Embedding", "config": "not a dict"}, None),
])
def test_legacy_classes_are_recognised_by_config_keys(entry: dict, expected: str | None) -> None:
    legacy = families.legacy_class_of(entry)
    assert (legacy.class_name if legacy else None) == expected
    if legacy is not None:
        assert families.family_of(legacy).name == "keras22"


def test_maps_are_found_by_name_and_unknown_maps_are_one_line_errors() -> None:
    assert families.map_names() == ["keras22", "tutorial"]
    assert families.family_for_map("tutorial").map_plan is not None
    with pytest.raises(PortError, match="unknown map 'bert'; known: keras22, tutorial"):
        families.family_for_map("bert")
    # A family without a map is not a map.
    with pytest.raises(PortError):
        families.family_for_map("keras-builtins")


def test_each_legacy_class_builds_its_modern_layer_and_names_its_rows() -> None:
    configs = {
        "Position_Embedding": {"name": "pos", "mode": "sum"},
        "MultiHeadAttention": {"name": "mha", "head_num": 2},
        "ScaledDotProductAttention": {"name": "sdpa", "history_only": False},
        "LayerNorm": {"name": "ln", "epsilon": 1e-6},
        "LayerNormalization": {"name": "lnz", "gamma_initializer": "ones", "center": False},
    }
    # The Keras-2.2 family's classes; the bert family's are in test_bert_family_port.py.
    for legacy in (l for l in families.legacy_classes() if families.family_of(l).name == "keras22"):
        config = configs[legacy.class_name]
        layer = legacy.build(config)
        assert layer.name == config["name"]
        rows = legacy.rules(config["name"], config)
        assert all(row.source.startswith(f"{config['name']}/") for row in rows)
    lnz = next(l for l in families.legacy_classes() if l.class_name == "LayerNormalization")
    assert [r.target for r in lnz.rules("lnz", configs["LayerNormalization"])] == ["gamma"]
