"""The 2021 tf.keras Transformer tutorial (subclassed, TF object checkpoints).

Its models are subclassed, so its checkpoints carry no architecture: a port
fills a model the user builds, either from their rewritten code (matched by
object paths) or from :class:`modern.models.Seq2SeqTransformer` through
``--map tutorial`` (rows: :mod:`modern.weight_maps.tutorial`, which splits
and merges attention heads). Oracle: a checkpoint written by
:mod:`legacy_ref` has ``model_args.json`` beside it naming
``legacy_ref.tutorial.Transformer`` and its scalar arguments.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from migrate.weights.errors import PortError
from migrate.weights.families import Family

# model_args.json may only name these legacy_ref models, with scalar arguments.
MODEL_ARGS_MODELS = {"legacy_ref.tutorial.Transformer"}


def _map_plan(source: Any, model: Any) -> Any:
    from migrate.weights.plan import plan_by_rules
    from modern.weight_maps.tutorial import modern_variables, rules_for

    num_layers = getattr(model, "num_layers", None)
    if num_layers is None:
        raise PortError(source.path, "--map tutorial needs a modern.models.Seq2SeqTransformer (it has num_layers)")
    heads = {w.name.split("/", 1)[0] for w in source.weights}
    # A tf.train.Checkpoint(transformer=model) prefixes every key with the
    # root's keyword; a SavedModel of the model itself does not.
    prefix = f"{heads.pop()}/" if len(heads) == 1 and heads != {"encoder"} and heads != {"decoder"} else ""
    return plan_by_rules(source, model, rules_for("Transformer", num_layers), source_prefix=prefix,
                         target_lookup=modern_variables)


def read_model_args(source: Any) -> dict[str, Any] | None:
    """``model_args.json`` beside a TF checkpoint, checked to be plain scalar data."""
    directory = Path(source.path).parent if not Path(source.path).is_dir() else Path(source.path)
    args_file = directory / "model_args.json"
    if not args_file.exists():
        return None
    try:
        spec = json.loads(args_file.read_text())
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise PortError(args_file, f"is not readable JSON ({type(exc).__name__}); remove it or rewrite it") from exc
    if not isinstance(spec, dict) or spec.get("model") not in MODEL_ARGS_MODELS:
        return None
    args = spec.get("args")
    if not isinstance(args, dict) or not all(
        isinstance(k, str) and isinstance(v, (int, float, str, bool)) for k, v in args.items()
    ):
        raise PortError(args_file, "'args' must be an object of scalar constructor arguments")
    return spec


def _legacy_checkpoint_model(source: Any) -> Any:
    spec = read_model_args(source)
    if spec is None:
        return None
    from legacy_ref import tutorial

    return tutorial.Transformer(**spec["args"])


FAMILY = Family(
    name="tutorial",
    description="2021 tf.keras tutorial Transformer checkpoint (wq/wk/wv/dense) -> modern.models.Seq2SeqTransformer "
                "(heads split)",
    map_plan=_map_plan,
    legacy_checkpoint_model=_legacy_checkpoint_model,
)
