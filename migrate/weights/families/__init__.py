"""Legacy families: what each family of legacy layers and models becomes in Keras 3.

One module per family, in the way KerasHub keeps one ``convert_<model>.py``
per model. A module declares one :class:`Family` (``FAMILY``), saying in one
place:

* which legacy classes of a full-model file's ``model_config`` belong to it,
  recognised by their config keys (never by class name alone: a Keras-2.2
  ``MultiHeadAttention`` with ``head_num`` is not the built-in one with
  ``num_heads``), and which ``modern`` layer each becomes;
* the weight-map rows of each class (the rows are data in
  :mod:`modern.weight_maps`, shared with the ``modern`` tests);
* its ``--map NAME`` plan for a user's ``--model`` built from ``modern``;
* its verification oracle: the tf_keras classes a full-model file needs, or
  the legacy model a TF checkpoint of the family needs
  (:mod:`migrate.weights.legacy_oracle` asks every family);
* config fixes that Keras 3's own legacy loader lacks for the family.

This registry is the only place that imports family modules; the porter
(:mod:`migrate.weights.config`, :mod:`migrate.weights.port`,
:mod:`migrate.weights.legacy_oracle`) asks it. Adding a family is one new
module here, listed in :data:`FAMILY_MODULES`, with its ``modern`` layers and
their tests.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable

from migrate.weights.errors import PortError

# The family modules, in the order their legacy classes are matched.
FAMILY_MODULES: tuple[str, ...] = ("keras22", "tutorial", "xlnet_family", "bert_family", "keras_builtins")


def _tensors_per_call(node: Any) -> int:
    """How many tensors one saved call passed as the layer's inputs."""
    if isinstance(node, dict):  # Keras 3's node format
        args = node.get("args") or [None]
        return len(args[0]) if isinstance(args[0], list) else 1
    return len(node) if isinstance(node, list) else 1


@dataclass(frozen=True)
class LegacyClass:
    """How to recognise one legacy custom layer in a config, and what replaces it.

    Attributes:
        class_name: the class name stored in the legacy config.
        required_keys: config keys that identify the legacy class (and tell it
            apart from a Keras built-in of the same name).
        excluded_keys: config keys whose presence means it is *not* this
            class (the built-in ``LayerNormalization`` has ``axis``).
        build: makes the ``modern`` layer from the legacy layer's config.
        rules: the weight-map rows ``(layer name, config) -> [WeightRule]``,
            targets relative to the modern layer.
        called_on: ``"one"`` or ``"several"``: the class is this one only
            when the entry's saved calls (``inbound_nodes``) pass one tensor,
            or a list of several. For classes whose configs are the same in
            two families (keras-multi-head's ``MultiHeadAttention`` and its
            Keras-2.2 copy), the call is what differs. A bare layer config
            (no ``inbound_nodes``) counts as called on one tensor.
    """

    class_name: str
    required_keys: frozenset[str]
    build: Callable[[dict[str, Any]], Any]
    rules: Callable[[str, dict[str, Any]], list[Any]]
    excluded_keys: frozenset[str] = frozenset()
    called_on: str | None = None

    def matches(self, entry: dict[str, Any]) -> bool:
        config = entry.get("config")
        if entry.get("class_name") != self.class_name or not isinstance(config, dict):
            return False
        if not (self.required_keys <= config.keys() and not (self.excluded_keys & config.keys())):
            return False
        if self.called_on is not None:
            nodes = entry.get("inbound_nodes")
            several = isinstance(nodes, list) and any(_tensors_per_call(node) > 1 for node in nodes)
            return several == (self.called_on == "several")
        return True


@dataclass(frozen=True)
class Family:
    """Everything that says what one legacy family becomes in Keras 3.

    Attributes:
        name: the family's name; also its ``--map NAME`` when it has a map.
        description: one line for ``--help`` and error messages.
        legacy_classes: its custom layers as they appear in a model_config.
        map_plan: ``(source, model) -> PortPlan`` for ``--map NAME`` into a
            ``modern`` model the user built; ``None`` when it has no map.
        translate_config: returns the legacy model_config with this family's
            fixes applied, before Keras 3 rebuilds it (gaps of Keras 3's own
            legacy loader for this family).
        legacy_custom_objects: the tf_keras classes, by saved class name, the
            oracle needs to rebuild a full-model file using these classes.
        legacy_checkpoint_model: the tf_keras model a TF checkpoint of this
            family needs for ``--verify`` (``None`` when not this family's).
        originals: its tf_keras classes are the published originals that
            another family's classes copy (keras-multi-head's
            ``MultiHeadAttention``...); in a file that uses this family the
            oracle takes them for every name they share.
    """

    name: str
    description: str
    legacy_classes: tuple[LegacyClass, ...] = ()
    map_plan: Callable[[Any, Any], Any] | None = None
    translate_config: Callable[[dict[str, Any]], dict[str, Any]] | None = None
    legacy_custom_objects: Callable[[], dict[str, Any]] | None = None
    legacy_checkpoint_model: Callable[[Any], Any] | None = None
    originals: bool = False


@lru_cache(maxsize=1)
def families() -> tuple[Family, ...]:
    """Every registered family, in :data:`FAMILY_MODULES` order."""
    return tuple(importlib.import_module(f"{__name__}.{module}").FAMILY for module in FAMILY_MODULES)


def legacy_classes() -> tuple[LegacyClass, ...]:
    return tuple(legacy for family in families() for legacy in family.legacy_classes)


def legacy_class_names() -> frozenset[str]:
    return frozenset(legacy.class_name for legacy in legacy_classes())


def legacy_class_of(entry: dict[str, Any]) -> LegacyClass | None:
    """The known legacy custom class of one layer entry of a model_config, if it is one."""
    for legacy in legacy_classes():
        if legacy.matches(entry):
            return legacy
    return None


def family_of(legacy: LegacyClass) -> Family:
    return next(family for family in families() if legacy in family.legacy_classes)


def map_names() -> list[str]:
    return sorted(family.name for family in families() if family.map_plan is not None)


def family_for_map(name: str) -> Family:
    """The family whose ``--map NAME`` this is."""
    for family in families():
        if family.name == name and family.map_plan is not None:
            return family
    raise PortError("--map", f"unknown map {name!r}; known: {', '.join(map_names())}")


def translate_config(config: dict[str, Any]) -> dict[str, Any]:
    """Every family's config fixes applied, in registry order."""
    for family in families():
        if family.translate_config is not None:
            config = family.translate_config(config)
    return config
