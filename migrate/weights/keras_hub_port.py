"""``migrate port --into keras-hub``: a keras-bert or keras-gpt-2 file into a keras-hub backbone.

keras-hub (the maintained Keras 3 model library) has ``BertBackbone`` and
``GPT2Backbone``. A user who trained with keras-bert 0.89 or keras-gpt-2 0.17
often wants to end up there rather than in our ``modern`` copies of the
libraries' layers. This module is that port. It is not a weight *family*
(:mod:`migrate.weights.families` recognises legacy classes and swaps each for
its ``modern`` layer, one by one, keeping the legacy graph); it replaces the
whole graph by another library's model, so it sits beside :mod:`port` as a
second target, and reuses the engine: :func:`~migrate.weights.plan.plan_by_rules`
to pair weights, :func:`~migrate.weights.plan.apply_plan` to assign them, the
legacy oracle child (:func:`~migrate.weights.verify.legacy_outputs`) to run the
library itself on tf_keras, and the writer's staged, reloaded, no-clobber file.

For each architecture, :data:`ARCHITECTURES` holds the map as data
(legacy weight -> backbone ``variable.path`` with a transform from the closed
set of :mod:`modern.weight_maps.transforms`), the legacy layers the backbone
has no place for (output heads, listed and dropped), and the legacy layer
whose output is the backbone's ``sequence_output`` (what ``--verify``
compares). What the backbone cannot express (an attention activation, a
feed-forward activation other than gelu, position modes other than ``add``,
adapters, blocks of different sizes, a causal BERT, a non-causal GPT-2, an
output bias) is refused in one line before anything is built.

Where the two compute different functions, ``--verify`` says which and by how
much, measured on the probe it runs (the README gives the figures):

* layer-norm epsilon: keras-layer-normalization uses ``K.epsilon() ** 2``
  (1e-14, saved in each layer's config); BertBackbone uses 1e-12 and
  GPT2Backbone 1e-5, fixed (neither constructor takes it, so a saved backbone
  cannot carry another). ``--verify`` runs the backbone once as written and
  once with every layer norm set to its legacy epsilon: the second must be
  within ``--atol`` (that proves the map), the first is the figure a user of
  the keras-hub file gets;
* gelu: both libraries use the tanh approximation, as ``gelu_approximate`` in
  keras-hub does: the same function (no figure of its own);
* positions: learned, added, rows ``0..T-1`` in both: the same;
* padding (BERT): keras-bert masks keys whose token id is 0 (``mask_zero``);
  the backbone masks keys where its ``padding_mask`` input is 0. Fed
  ``token_ids != 0`` it computes the same; the figure for a mask of ones on a
  padded batch is printed too. keras-gpt-2 has no padding mask (causal only);
  the backbone is given a mask of ones;
* output heads: keras-bert's MLM (``MLM-Dense``, ``MLM-Norm``, ``MLM-Sim``)
  and ``NSP`` classifier are not in the backbone (keras-hub keeps them in its
  task models) and are dropped, by name; ``NSP-Dense`` is the backbone's
  ``pooled_dense`` (tanh of a Dense on token 0, as in keras-bert).
  keras-gpt-2's bias-free tied ``Output`` is the backbone's token embedding
  used in reverse (``GPT2CausalLM``), so no weight is lost.

The exact path stays ``migrate port FILE --to OUT.keras`` (``modern`` layers,
equal to the library within 1e-5).
"""

from __future__ import annotations

import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import numpy as np

from migrate.weights.errors import PortError
from migrate.weights.source import WeightSource

INTO_CHOICES = ("keras-hub",)
PROBE_SEED = 1234


def _rule(source: str, target: str, transform: str = "identity") -> Any:
    from modern.weight_maps.transforms import WeightRule

    return WeightRule(source, target, transform)


# Per attention block: keras-multi-head's fused projections (head i owns
# columns i*d_head:(i+1)*d_head, as its reshape then transpose splits them)
# into keras.layers.MultiHeadAttention's per-head kernels inside keras-hub's
# TransformerEncoder/TransformerDecoder. {L} is the legacy layer, {T} the
# target attention layer.
_ATTENTION_ROWS = (
    ("{L}/{L}_Wq", "{T}/query/kernel", "split_heads"),
    ("{L}/{L}_bq", "{T}/query/bias", "split_bias"),
    ("{L}/{L}_Wk", "{T}/key/kernel", "split_heads"),
    ("{L}/{L}_bk", "{T}/key/bias", "split_bias"),
    ("{L}/{L}_Wv", "{T}/value/kernel", "split_heads"),
    ("{L}/{L}_bv", "{T}/value/bias", "split_bias"),
    ("{L}/{L}_Wo", "{T}/attention_output/kernel", "merge_heads"),
    ("{L}/{L}_bo", "{T}/attention_output/bias", "identity"),
)
# keras-position-wise-feed-forward's W1/b1/W2/b2: two Dense layers.
_FEED_FORWARD_ROWS = (
    ("{F}/{F}_W1", "{B}/feedforward_intermediate_dense/kernel", "identity"),
    ("{F}/{F}_b1", "{B}/feedforward_intermediate_dense/bias", "identity"),
    ("{F}/{F}_W2", "{B}/feedforward_output_dense/kernel", "identity"),
    ("{F}/{F}_b2", "{B}/feedforward_output_dense/bias", "identity"),
)


@dataclass(frozen=True)
class HubArchitecture:
    """One legacy builder and the keras-hub backbone it becomes.

    Attributes:
        library: the legacy library (``keras-bert``).
        backbone: the ``keras_hub.models`` class.
        markers: ``(layer name, class name)`` pairs every file of the builder has.
        token, position: the legacy token and position embedding layers.
        segment: the segment embedding layer (BERT), or ``""``.
        embedding_norm: the layer norm after the embeddings, or ``""``.
        attention, feed_forward: block layer names with ``{n}``.
        first_block: the number of the first block in legacy names.
        block_norms: ``(legacy suffix after the block layer, backbone layer norm)``.
        final_norm: ``(legacy layer, backbone layer)`` of a last layer norm, or ``None``.
        causal: the attention is causal (keras-multi-head ``history_only``).
        target_attention: the attention layer's name inside a keras-hub block.
        pooler: ``(legacy Dense, backbone Dense)`` filled when the file has it.
        heads: legacy layers the backbone has no place for (dropped, by name).
        dropout_layer: the legacy Dropout whose rate the backbone takes, or ``""``.
        epsilon: the backbone's layer-norm epsilon (fixed by keras-hub).
    """

    library: str
    backbone: str
    markers: tuple[tuple[str, str], ...]
    token: str
    position: str
    segment: str
    embedding_norm: str
    attention: str
    feed_forward: str
    first_block: int
    block_norms: tuple[tuple[str, str], ...]
    final_norm: tuple[str, str] | None
    causal: bool
    target_attention: str
    pooler: tuple[str, str] | None
    heads: tuple[str, ...]
    dropout_layer: str
    epsilon: float

    def block_names(self, layers: dict[str, dict[str, Any]]) -> list[int]:
        """The legacy block numbers present, in order."""
        pattern = re.compile("^" + re.escape(self.attention).replace(r"\{n\}", r"(\d+)") + "$")
        return sorted(int(m.group(1)) for name in layers if (m := pattern.match(name)))

    def rules(self, blocks: list[int], pooled: bool) -> list[Any]:
        """The map, concrete for ``blocks``: legacy weight name -> backbone variable path."""
        rows = [_rule(f"{self.token}/embeddings", "token_embedding/embeddings"),
                _rule(f"{self.position}/embeddings", "position_embedding/embeddings")]
        if self.segment:
            rows.append(_rule(f"{self.segment}/embeddings", "segment_embedding/embeddings"))
        if self.embedding_norm:
            rows += [_rule(f"{self.embedding_norm}/{w}", f"embeddings_layer_norm/{w}") for w in ("gamma", "beta")]
        for index, n in enumerate(blocks):
            block = f"transformer_layer_{index}"
            attention, feed_forward = self.attention.format(n=n), self.feed_forward.format(n=n)
            names = {"L": attention, "T": f"{block}/{self.target_attention}", "F": feed_forward, "B": block}
            rows += [_rule(s.format(**names), t.format(**names), how)
                     for s, t, how in _ATTENTION_ROWS + _FEED_FORWARD_ROWS]
            for legacy, target in self.block_norms:
                layer = self.attention.format(n=n) + legacy if legacy.startswith("-") else legacy.format(n=n)
                rows += [_rule(f"{layer}/{w}", f"{block}/{target}/{w}") for w in ("gamma", "beta")]
        if self.final_norm is not None:
            rows += [_rule(f"{self.final_norm[0]}/{w}", f"{self.final_norm[1]}/{w}") for w in ("gamma", "beta")]
        if pooled and self.pooler is not None:
            rows += [_rule(f"{self.pooler[0]}/{w}", f"{self.pooler[1]}/{w}") for w in ("kernel", "bias")]
        return rows

    def hidden_layer(self, blocks: list[int]) -> str:
        """The legacy layer whose output is the backbone's ``sequence_output``."""
        if self.final_norm is not None:
            return self.final_norm[0]
        return self.feed_forward.format(n=blocks[-1]) + "-Norm"


ARCHITECTURES: dict[str, HubArchitecture] = {
    # keras_bert.get_model: post-norm encoder blocks (attention -> add -> norm,
    # feed-forward -> add -> norm), as BertBackbone's TransformerEncoder with
    # normalize_first=False.
    "bert": HubArchitecture(
        library="keras-bert", backbone="BertBackbone",
        markers=(("Embedding-Token", "TokenEmbedding"), ("Embedding-Segment", "Embedding"),
                 ("Embedding-Position", "PositionEmbedding")),
        token="Embedding-Token", position="Embedding-Position", segment="Embedding-Segment",
        embedding_norm="Embedding-Norm",
        attention="Encoder-{n}-MultiHeadSelfAttention", feed_forward="Encoder-{n}-FeedForward", first_block=1,
        block_norms=(("-Norm", "self_attention_layer_norm"), ("Encoder-{n}-FeedForward-Norm", "feedforward_layer_norm")),
        final_norm=None, causal=False, target_attention="self_attention_layer",
        pooler=("NSP-Dense", "pooled_dense"),
        heads=("MLM-Dense", "MLM-Norm", "MLM-Sim", "NSP"),
        dropout_layer="Embedding-Dropout", epsilon=1e-12,
    ),
    # keras_gpt_2.get_model: pre-norm decoder blocks without cross-attention
    # and a final norm, as GPT2Backbone's TransformerDecoder with
    # normalize_first=True; its tied, bias-free output is GPT2CausalLM's
    # reverse embedding.
    "gpt2": HubArchitecture(
        library="keras-gpt-2", backbone="GPT2Backbone",
        markers=(("Embed-Token", "EmbeddingRet"), ("Embed-Token-Pos", "PositionEmbedding")),
        token="Embed-Token", position="Embed-Token-Pos", segment="", embedding_norm="",
        attention="Encode-{n}-MultiHeadAtt", feed_forward="Encode-{n}-FeedForward", first_block=0,
        block_norms=(("-Norm", "self_attention_layer_norm"), ("Encode-{n}-FeedForward-Norm", "feedforward_layer_norm")),
        final_norm=("Norm", "layer_norm"), causal=True, target_attention="self_attention",
        pooler=None, heads=("Output",), dropout_layer="", epsilon=1e-5,
    ),
}


@dataclass
class HubSpec:
    """What a file's config says: the architecture, the backbone's arguments, the legacy epsilons."""

    arch: HubArchitecture
    blocks: list[int]
    kwargs: dict[str, Any]
    epsilons: dict[str, float]  # backbone layer-norm path -> legacy epsilon
    pooled: bool
    inputs: list[tuple[str, int | None]]  # legacy input layers: name, fixed length
    mask_zero: bool  # the legacy token embedding masks id 0 (keras-bert), so padding is id 0


def require_keras_hub(path: object) -> None:
    """Fail in one line, before any work, when keras-hub is not installed."""
    import importlib.util

    if importlib.util.find_spec("keras_hub") is None:
        raise PortError(path, "--into keras-hub needs keras-hub: pip install --no-deps keras-hub==0.32.0 regex "
                              "tokenizers (./dev installs them); nothing written")


# --------------------------------------------------------------------------
# Reading the config: what the backbone can express, or one line saying what differs
# --------------------------------------------------------------------------


def _refuse(source: WeightSource, arch: HubArchitecture, layer: str, what: str) -> PortError:
    return PortError(source.path, f"--into keras-hub: layer {layer!r}: {what}; keras_hub.models.{arch.backbone} "
                                  "cannot express it, nothing written (port it with the modern layers instead: "
                                  "migrate port FILE --to OUT.keras)")


def _positive_int(source: WeightSource, arch: HubArchitecture, layer: str, config: dict[str, Any], key: str) -> int:
    value = config.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise _refuse(source, arch, layer, f"{key}={value!r} is not a positive integer")
    return value


def _architecture_of(source: WeightSource, layers: dict[str, dict[str, Any]]) -> HubArchitecture:
    for arch in ARCHITECTURES.values():
        if all(layers.get(name, {}).get("class_name") == cls for name, cls in arch.markers):
            return arch
    raise PortError(source.path, "--into keras-hub takes a full-model file saved by keras_bert.get_model (layers "
                                 "Embedding-Token, Embedding-Segment, Embedding-Position) or keras_gpt_2.get_model "
                                 "(Embed-Token, Embed-Token-Pos); this file has neither; nothing written")


def _check_layer(source: WeightSource, arch: HubArchitecture, name: str, entry: dict[str, Any]) -> None:
    """Refuse a legacy layer whose config computes something the backbone does not."""
    cls, config = entry.get("class_name"), entry.get("config") or {}
    if cls == "PositionEmbedding" and config.get("mode") != "add":
        raise _refuse(source, arch, name, f"position mode {config.get('mode')!r} (the backbone adds learned "
                                          "positions: mode 'add')")
    if cls == "MultiHeadAttention":
        if config.get("activation") not in (None, "linear"):
            raise _refuse(source, arch, name, f"attention activation {config.get('activation')!r} on the "
                                              "projections (the backbone's are linear)")
        if config.get("use_bias") is False:
            raise _refuse(source, arch, name, "use_bias=False (the backbone's projections have biases)")
        if bool(config.get("history_only")) != arch.causal:
            raise _refuse(source, arch, name, f"history_only={config.get('history_only')!r} (the backbone's "
                                              f"attention is {'causal' if arch.causal else 'not causal'})")
    if cls == "FeedForward":
        if config.get("activation") != "gelu":
            raise _refuse(source, arch, name, f"feed-forward activation {config.get('activation')!r} (the "
                                              "backbone's is gelu, tanh approximation)")
        if config.get("use_bias") is False:
            raise _refuse(source, arch, name, "use_bias=False (the backbone's feed-forward has biases)")
    if cls == "LayerNormalization" and (config.get("center") is False or config.get("scale") is False):
        raise _refuse(source, arch, name, "center or scale off (the backbone's layer norms have both)")
    if cls == "EmbeddingSim" and config.get("use_bias"):
        raise _refuse(source, arch, name, "an output bias (GPT2CausalLM's tied output has none)")


def read_spec(source: WeightSource) -> HubSpec:
    """The architecture and backbone arguments of ``source``, or a one-line refusal."""
    from migrate.weights.config import check_legacy_config
    from migrate.weights.config_safety import iter_layers

    if source.model_config is None:
        raise PortError(source.path, f"--into keras-hub needs a full-model HDF5 file (its model_config says which "
                                     f"backbone to build); this is a {source.format} source; nothing written")
    check_legacy_config(source.model_config, source.path)
    layers = {str((entry.get("config") or {}).get("name", entry.get("name"))): entry
              for entry in iter_layers(source.model_config)}
    arch = _architecture_of(source, layers)
    for name, entry in layers.items():
        _check_layer(source, arch, name, entry)
    blocks = arch.block_names(layers)
    if not blocks or blocks != list(range(arch.first_block, arch.first_block + len(blocks))):
        raise PortError(source.path, f"--into keras-hub: the {arch.library} blocks are not numbered "
                                     f"{arch.first_block}..N (found {blocks}); nothing written")
    def config(name: str) -> dict[str, Any]:
        return layers.get(name, {}).get("config") or {}

    heads = {_positive_int(source, arch, arch.attention.format(n=n), config(arch.attention.format(n=n)), "head_num")
             for n in blocks}
    units = {_positive_int(source, arch, arch.feed_forward.format(n=n), config(arch.feed_forward.format(n=n)), "units")
             for n in blocks}
    if len(heads) != 1 or len(units) != 1:
        raise PortError(source.path, f"--into keras-hub: the {arch.library} blocks differ in head_num {sorted(heads)} "
                                     f"or feed-forward units {sorted(units)} (the backbone's blocks are identical); "
                                     "nothing written")
    token, position = config(arch.token), config(arch.position)
    hidden = _positive_int(source, arch, arch.token, token, "output_dim")
    kwargs: dict[str, Any] = {
        "vocabulary_size": _positive_int(source, arch, arch.token, token, "input_dim"),
        "num_layers": len(blocks), "num_heads": heads.pop(), "hidden_dim": hidden,
        "intermediate_dim": units.pop(),
        "max_sequence_length": _positive_int(source, arch, arch.position, position, "input_dim"),
        "dropout": 0.0,
    }
    if arch.dropout_layer:
        rate = config(arch.dropout_layer).get("rate", 0.0)
        if not isinstance(rate, (int, float)) or isinstance(rate, bool) or not 0.0 <= rate < 1.0:
            raise _refuse(source, arch, arch.dropout_layer, f"rate={rate!r} is not a dropout rate in [0, 1)")
        kwargs["dropout"] = float(rate)
    if hidden % kwargs["num_heads"]:
        raise _refuse(source, arch, arch.attention.format(n=blocks[0]),
                      f"head_num {kwargs['num_heads']} does not divide the width {hidden}")
    if arch.segment:
        kwargs["num_segments"] = _positive_int(source, arch, arch.segment, config(arch.segment), "input_dim")
    epsilons: dict[str, float] = {}
    for rule in arch.rules(blocks, pooled=False):
        if rule.target.endswith("/gamma"):
            legacy = rule.source.split("/", 1)[0]
            value = config(legacy).get("epsilon")
            # keras-layer-normalization saves epsilon=None as K.epsilon()**2 already.
            epsilons[rule.target.rsplit("/", 1)[0]] = float(value) if isinstance(value, (int, float)) else 1e-14
    inputs = []
    for item in source.model_config.get("config", {}).get("input_layers") or []:
        shape = config(item[0]).get("batch_input_shape") or [None, None]
        inputs.append((str(item[0]), shape[1] if len(shape) > 1 and isinstance(shape[1], int) else None))
    pooled = arch.pooler is not None and arch.pooler[0] in layers
    return HubSpec(arch, blocks, kwargs, epsilons, pooled, inputs, config(arch.token).get("mask_zero") is True)


def build_backbone(spec: HubSpec) -> Any:
    import keras_hub

    return getattr(keras_hub.models, spec.arch.backbone)(**spec.kwargs)


def plan_into(source: WeightSource, spec: HubSpec, backbone: Any) -> tuple[Any, list[str], list[str]]:
    """The weight plan through the map; returns it, the dropped head weights and the
    backbone variables left at their initial values (the pooler of a file without one)."""
    from migrate.weights.plan import plan_by_rules

    plan = plan_by_rules(source, backbone, spec.arch.rules(spec.blocks, spec.pooled))
    heads = tuple(f"{head}/" for head in spec.arch.heads)
    dropped = [w.name for w in plan.unmatched_sources if w.name.startswith(heads)]
    plan.unmatched_sources = [w for w in plan.unmatched_sources if not w.name.startswith(heads)]
    pooler = f"{spec.arch.pooler[1]}/" if spec.arch.pooler is not None and not spec.pooled else None
    initial = [t for t in plan.unfilled_targets if pooler and t.startswith(pooler)]
    plan.unfilled_targets = [t for t in plan.unfilled_targets if t not in initial]
    if plan.unmatched_sources:
        names = ", ".join(w.name for w in plan.unmatched_sources[:6])
        raise PortError(source.path, f"--into keras-hub: keras_hub.models.{spec.arch.backbone} has no place for "
                                     f"{names}{' ...' if len(plan.unmatched_sources) > 6 else ''} (not part of "
                                     f"{spec.arch.library}'s standard model); nothing written")
    return plan, dropped, initial


# --------------------------------------------------------------------------
# Verification: the library on tf_keras against the backbone, and what differs
# --------------------------------------------------------------------------


def probe_batch(spec: HubSpec) -> dict[str, np.ndarray]:
    """A fixed batch: token ids (the second row ends in padding where id 0 is masked), segments, mask."""
    rng = np.random.default_rng(PROBE_SEED)
    fixed = next((length for _, length in spec.inputs if length), None)
    length = fixed or min(8, spec.kwargs["max_sequence_length"])
    tokens = rng.integers(1, spec.kwargs["vocabulary_size"], size=(2, length)).astype("int32")
    batch: dict[str, np.ndarray] = {"token_ids": tokens}
    if spec.mask_zero:
        tokens[1, length - max(1, length // 4):] = 0
    if spec.arch.segment:
        segments = np.zeros_like(tokens)
        segments[:, length // 2:] = 1
        batch["segment_ids"] = segments
    batch["padding_mask"] = (tokens != 0 if spec.mask_zero else np.ones_like(tokens)).astype("int32")
    return batch


def legacy_probe(spec: HubSpec, batch: dict[str, np.ndarray]) -> list[np.ndarray]:
    """The same batch as the legacy model's inputs, in its input order (keras-bert's
    masked-LM marks, which the hidden states do not depend on, are zeros)."""
    by_name = {"Input-Token": batch["token_ids"], "Input-Segment": batch.get("segment_ids"),
               "Input": batch["token_ids"]}
    arrays = []
    for name, _ in spec.inputs:
        value = by_name.get(name)
        arrays.append((np.zeros_like(batch["token_ids"]) if value is None else value).astype("float32"))
    return arrays


def _sequence_output(backbone: Any, batch: dict[str, np.ndarray]) -> np.ndarray:
    from keras import ops

    value = backbone(batch, training=False)
    if isinstance(value, dict):
        value = value["sequence_output"]
    return np.asarray(ops.convert_to_numpy(value), dtype="float64")


def _set_epsilons(backbone: Any, epsilons: dict[str, float] | float) -> None:
    prefix = f"{backbone.name}/"
    for layer in backbone._flatten_layers():
        if type(layer).__name__ == "LayerNormalization":
            # Named as the map names it: its gamma's path without the variable.
            path = layer.gamma.path.removeprefix(prefix).rsplit("/", 1)[0]
            layer.epsilon = epsilons if isinstance(epsilons, float) else epsilons.get(path, layer.epsilon)


@dataclass
class Differences:
    """Max abs differences of the final hidden states, backbone against the library."""

    as_written: float  # the backbone as saved (keras-hub's epsilon)
    legacy_epsilon: float  # every layer norm at the legacy epsilon: what the map alone gives
    ones_mask: float | None  # BERT: a padding_mask of ones on the padded batch

    def lines(self, spec: HubSpec) -> list[str]:
        legacy = sorted(set(spec.epsilons.values()))
        eps = ", ".join(f"{e:g}" for e in legacy)
        lines = [
            (f"final hidden states, max abs diff against {spec.arch.library} on tf_keras: {self.as_written:.2e} as "
             f"written; {self.legacy_epsilon:.2e} with the backbone's layer-norm epsilon set to the library's {eps} "
             f"(so the epsilon, {spec.arch.epsilon:g} in keras-hub, accounts for "
             f"{max(0.0, self.as_written - self.legacy_epsilon):.2e}; the rest is floating-point order)"),
            "gelu: the tanh approximation in both (same function); positions: learned, added, rows 0..T-1 in both",
        ]
        if spec.mask_zero and self.ones_mask is not None:
            lines.append(f"padding: pass padding_mask = token_ids != 0 ({spec.arch.library} masks token id 0 "
                         f"itself); with a mask of ones this padded batch differs by {self.ones_mask:.2e}")
        else:
            lines.append(f"padding: {spec.arch.library}'s token embedding masks nothing (mask_zero off); pass a "
                         "padding_mask of ones for the same function")
        return lines


def measure(request: Any, source: WeightSource, spec: HubSpec, backbone: Any) -> Differences:
    """Run the library (tf_keras child) and the backbone on the probe; fail if the map is wrong."""
    from migrate.weights.verify import legacy_outputs

    batch = probe_batch(spec)
    expected = np.asarray(legacy_outputs(request, source, legacy_probe(spec, batch),
                                         output_layer=spec.arch.hidden_layer(spec.blocks)), dtype="float64")
    as_written = _sequence_output(backbone, batch)
    if as_written.shape != expected.shape:
        raise PortError(source.path, f"--verify: backbone output shape {as_written.shape} != library's "
                                     f"{expected.shape}; nothing written")
    try:
        _set_epsilons(backbone, spec.epsilons)
        matched = _sequence_output(backbone, batch)
    finally:
        _set_epsilons(backbone, spec.arch.epsilon)
    ones_mask = None
    if spec.mask_zero:
        ones = {**batch, "padding_mask": np.ones_like(batch["padding_mask"])}
        ones_mask = float(np.max(np.abs(_sequence_output(backbone, ones) - expected)))
    differences = Differences(float(np.max(np.abs(as_written - expected))),
                              float(np.max(np.abs(matched - expected))), ones_mask)
    if not differences.legacy_epsilon <= request.atol:
        raise PortError(source.path, f"--verify: with the library's layer-norm epsilon the backbone is still "
                                     f"{differences.legacy_epsilon:.3g} from {spec.arch.library} (above --atol "
                                     f"{request.atol:g}): the map does not reproduce the library; nothing written")
    return differences


# --------------------------------------------------------------------------
# The port
# --------------------------------------------------------------------------


def check_request(request: Any, into: str) -> None:
    """Refuse options that do not apply to a port into keras-hub, before any work."""
    if into not in INTO_CHOICES:
        raise PortError("--into", f"unknown target {into!r}; known: {', '.join(INTO_CHOICES)}")
    reasons = (
        (request.model_spec, "--model", "the backbone is built from the file's model_config"),
        (request.map_name, "--map", "the map is keras-hub's, chosen from the file's layers"),
        (request.legacy_spec, "--legacy", "--verify runs the library itself from the file's model_config"),
        (request.report, "--report", "the report describes modern ports; use --dry-run to see the map"),
        (getattr(request, "root", None), "--root", "it picks a model in a TF checkpoint; the source is an HDF5 file"),
    )
    for given, option, reason in reasons:
        if given:
            raise PortError(option, f"does not apply with --into keras-hub ({reason})")


def run_into_keras_hub(request: Any, out: TextIO | None = None) -> Differences | None:
    """``migrate port SOURCE --into keras-hub --to OUT.keras``; raises :class:`PortError` (nothing written)."""
    from migrate.weights.inputs import read_source
    from migrate.weights.plan import apply_plan
    from migrate.weights.quiet import quiet_tensorflow
    from migrate.weights.writer import check_out, stage_keras_file

    out = out or sys.stdout
    started = time.perf_counter()
    if not request.dry_run:
        check_out(request.out, request.force, request.source)
    require_keras_hub(request.source)
    with read_source(request.source, request.max_weight_bytes) as source:
        # Keras (and TensorFlow under it) from here on: the config check needs
        # Keras's class names.
        quiet_tensorflow()
        spec = read_spec(source)
        if source.optimizer_weights and not request.no_optimizer and not request.dry_run:
            raise PortError(source.path, f"--into keras-hub: the file holds optimizer state "
                                         f"({len(source.optimizer_weights)} arrays) and a backbone is saved without "
                                         "its heads and uncompiled; pass --no-optimizer to drop it (or port it with "
                                         "the modern layers: migrate port FILE --to OUT.keras)")
        backbone = build_backbone(spec)
        plan, dropped, initial = plan_into(source, spec, backbone)
        arguments = ", ".join(f"{k}={v}" for k, v in spec.kwargs.items())
        if request.dry_run:
            for line in plan.describe():
                print(line, file=out)
            for name in dropped:
                print(f"dropped head: {name} (keras_hub.models.{spec.arch.backbone} has no such layer)", file=out)
            for name in initial:
                print(f"initial value kept: {name} (the file has no {spec.arch.pooler[0]})", file=out)  # type: ignore[index]
            status = "complete" if plan.complete else "INCOMPLETE"
            print(f"plan {status}: keras_hub.models.{spec.arch.backbone}({arguments}); {len(plan.assignments)} "
                  f"assignments, {len(dropped)} head weights dropped", file=out)
            plan.raise_if_incomplete(source.path)
            return None
        apply_plan(plan, source.path)
        differences = measure(request, source, spec, backbone) if request.verify else None
        # Saved to a temporary file, reloaded in safe mode and compared on
        # the probe batch before it is moved to OUT.
        staged = stage_keras_file(backbone, Path(request.out), force=request.force, source=request.source,
                                  probe=probe_batch(spec))
        try:
            staged.commit()
        except BaseException:
            staged.discard()
            raise
    verified = (f", verified: the map reproduces {spec.arch.library} within {differences.legacy_epsilon:.2e}"
                if differences is not None else "")
    print(f"ported {len(plan.assignments)} weights from {source.path} ({spec.arch.library}) into "
          f"keras_hub.models.{spec.arch.backbone}({arguments}) at {request.out}{verified}; "
          f"{time.perf_counter() - started:.1f} s", file=out)
    if differences is not None:
        for line in differences.lines(spec):
            print(f"note: {line}", file=out)
    if dropped:
        heads = sorted({name.split("/", 1)[0] for name in dropped})
        print(f"note: dropped {len(dropped)} weights of output heads the backbone does not have: {', '.join(heads)}",
              file=out)
    if initial:
        print(f"note: {', '.join(initial)} keep their initial values: the file has no {spec.arch.pooler[0]} "  # type: ignore[index]
              "(pooled_output is untrained; sequence_output is ported)", file=out)
    if source.optimizer_weights:
        print(f"note: dropped the optimizer state ({len(source.optimizer_weights)} arrays; --no-optimizer)", file=out)
    print(f"note: load it with `import keras_hub` then keras.saving.load_model({str(request.out)!r}); the exact "
          "port of this file is `migrate port` without --into (modern layers)", file=out)
    return differences
