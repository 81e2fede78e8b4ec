"""Named weight maps for ``migrate port --map NAME``: legacy layers into ``modern`` ones.

Each entry knows how to turn the rows of one :mod:`modern.weight_maps` module
into a :class:`~migrate.weights.plan.PortPlan` for a given source and model.
The rows themselves live only in :mod:`modern.weight_maps`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from migrate.weights.errors import PortError
from migrate.weights.source import WeightSource


@dataclass(frozen=True)
class NamedMap:
    name: str
    description: str
    plan: Callable[[WeightSource, Any], Any]


def _keras22(source: WeightSource, model: Any) -> Any:
    from migrate.weights.plan import plan_by_rules
    from modern.weight_maps.keras22 import modern_variables, rules_for_model

    try:
        rules = rules_for_model(model)
    except TypeError as exc:
        raise PortError(source.path, f"--map keras22: {exc}") from exc
    return plan_by_rules(source, model, rules, target_lookup=modern_variables)


def _tutorial(source: WeightSource, model: Any) -> Any:
    from migrate.weights.plan import plan_by_rules
    from modern.weight_maps.tutorial import modern_variables, rules_for

    num_layers = getattr(model, "num_layers", None)
    if num_layers is None:
        raise PortError(source.path, "--map tutorial needs a modern.models.Seq2SeqTransformer (it has num_layers)")
    heads = {w.name.split("/", 1)[0] for w in source.weights}
    # A tf.train.Checkpoint(transformer=model) prefixes every key with the
    # root's keyword; a SavedModel of the model itself does not.
    prefix = f"{heads.pop()}/" if len(heads) == 1 and heads != {"encoder"} and heads != {"decoder"} else ""
    return plan_by_rules(source, model, rules_for("Transformer", num_layers), source_prefix=prefix, target_lookup=modern_variables)


MAPS: dict[str, NamedMap] = {
    "keras22": NamedMap(
        "keras22",
        "Keras-2.2 blog layers (MultiHeadAttention _Wq.._bo, LayerNorm(alization), Dense, Embedding) -> modern classifier layers",
        _keras22,
    ),
    "tutorial": NamedMap(
        "tutorial",
        "2021 tf.keras tutorial Transformer checkpoint (wq/wk/wv/dense) -> modern.models.Seq2SeqTransformer (heads split)",
        _tutorial,
    ),
}


def resolve_map(name: str) -> NamedMap:
    if name not in MAPS:
        raise PortError("--map", f"unknown map {name!r}; known: {', '.join(sorted(MAPS))}")
    return MAPS[name]
