"""``migrate port --into keras-hub``: keras-bert and keras-gpt-2 files into keras-hub backbones.

The files are the ones the bert-family port tests make with the real libraries
(keras-bert 0.89, keras-gpt-2 0.17 on tf_keras; cached under
``<venv>/bert-family-files``): a trained ``keras_bert.get_model`` (MLM and NSP
heads, Adam state), its feature model, and a ``keras_gpt_2.get_model``; 2
blocks, width 8, vocabulary 20. ``--verify`` runs the libraries themselves in
the legacy oracle child; the checks here also compare with the outputs the
libraries computed when the files were made (heads included), which the port
never sees.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import h5py
import keras
import keras_hub
import numpy as np
import pytest

from migrate.cli import main as migrate_main
from migrate.weights import keras_hub_port
from tests.migrate.weights.test_bert_family_port import LIBRARIES, files  # noqa: F401  (the shared fixture)

ATOL = 1e-5


def _port(source: Path, out: Path, *extra: str) -> int:
    return migrate_main(["port", str(source), "--into", "keras-hub", "--to", str(out), *extra])


def _library_outputs(directory: Path, stem: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    with np.load(directory / f"{stem}.outputs.npz") as data:
        inputs = [data[k] for k in sorted(data.files) if k.startswith("input_")]
        outputs = [data[k] for k in sorted(data.files) if k.startswith("output_")]
    return inputs, outputs


def _diff(a, b) -> float:
    return float(np.max(np.abs(np.asarray(a, "float64") - np.asarray(b, "float64"))))


def _with_epsilon(backbone, epsilon: float):
    for layer in backbone._flatten_layers():
        if isinstance(layer, keras.layers.LayerNormalization):
            layer.epsilon = epsilon
    return backbone


# --------------------------------------------------------------------------
# Ports, verified against the libraries
# --------------------------------------------------------------------------


def test_trained_keras_bert_file_into_bert_backbone(files: Path, tmp_path: Path,  # noqa: F811
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bert.keras"
    assert _port(files / "bert_train.h5", out, "--verify", "--no-optimizer", "--legacy-path", str(LIBRARIES)) == 0
    report = capsys.readouterr().out
    print(report)
    assert "keras_hub.models.BertBackbone(vocabulary_size=20, num_layers=2, num_heads=2, hidden_dim=8" in report
    assert "verified: the map reproduces keras-bert within" in report
    # The figures --verify prints: the hidden states as written and at the
    # library's epsilon (both within --atol for BERT), and the padding-mask cause.
    line = next(line for line in report.splitlines() if "final hidden states" in line)
    as_written, matched = (float(x) for x in line.split("on tf_keras: ")[1].replace(" as written; ", " ").split()[:2])
    assert as_written <= ATOL and matched <= ATOL
    padding = next(line for line in report.splitlines() if line.startswith("note: padding:"))
    assert float(padding.rsplit("differs by ", 1)[1]) > ATOL
    with h5py.File(files / "bert_train.h5", "r") as handle:
        group = handle["model_weights"]
        heads = [f"{layer}/{name}" for layer in ("MLM-Dense", "MLM-Norm", "MLM-Sim", "NSP")
                 for name in group[layer][layer]]
        nsp_kernel, nsp_bias = (np.asarray(group["NSP"]["NSP"][w]) for w in ("kernel:0", "bias:0"))
    assert f"dropped {len(heads)} weights of output heads the backbone does not have: MLM-Dense, MLM-Norm, " \
           "MLM-Sim, NSP" in report
    backbone = keras.saving.load_model(out, safe_mode=True)
    assert isinstance(backbone, keras_hub.models.BertBackbone)
    # NSP-Dense became pooled_dense: the library's own NSP output (computed when
    # the file was made, on a batch with padding) from the backbone's pooled
    # output and the NSP classifier the backbone drops.
    (tokens, segments, _), (_, nsp) = _library_outputs(files, "bert_train")
    assert (tokens == 0).any()
    pooled = backbone({"token_ids": tokens.astype("int32"), "segment_ids": segments.astype("int32"),
                       "padding_mask": (tokens != 0).astype("int32")}, training=False)["pooled_output"]
    logits = np.asarray(pooled, "float64") @ nsp_kernel + nsp_bias
    probabilities = np.exp(logits - logits.max(-1, keepdims=True))
    probabilities /= probabilities.sum(-1, keepdims=True)
    print(f"NSP through pooled_output: max abs diff {_diff(probabilities, nsp):.2e}")
    assert _diff(probabilities, nsp) <= ATOL


def test_keras_bert_feature_file_keeps_the_pooler_initial_and_says_so(files: Path, tmp_path: Path,  # noqa: F811
                                                                      capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "features.keras"
    assert _port(files / "bert_features.h5", out) == 0
    report = capsys.readouterr().out
    assert "pooled_dense/kernel, pooled_dense/bias keep their initial values: the file has no NSP-Dense" in report
    backbone = keras.saving.load_model(out, safe_mode=True)
    # The feature model's output is the last block's hidden states: the
    # backbone's sequence_output, with keras-bert's padding as padding_mask.
    (tokens, segments), (hidden,) = _library_outputs(files, "bert_features")
    batch = {"token_ids": tokens.astype("int32"), "segment_ids": segments.astype("int32"),
             "padding_mask": (tokens != 0).astype("int32")}
    as_written = _diff(backbone(batch, training=False)["sequence_output"], hidden)
    ones = _diff(backbone({**batch, "padding_mask": np.ones_like(batch["padding_mask"])}, training=False)
                 ["sequence_output"], hidden)
    print(f"keras-bert features: max abs diff {as_written:.2e}; with a padding_mask of ones {ones:.2e}")
    assert as_written <= ATOL < ones


def test_keras_224_era_keras_bert_file_ports_the_same(files: Path, tmp_path: Path) -> None:  # noqa: F811
    """The feature file in the layout standalone Keras 2.2.4 wrote (issue 15 item 4)."""
    from legacy_ref.artefacts import keras224_layout

    source = keras224_layout.rewrite(files / "bert_features.h5", tmp_path / "bert224.h5")
    assert _port(source, tmp_path / "bert224.keras") == 0
    backbone = keras.saving.load_model(tmp_path / "bert224.keras", safe_mode=True)
    (tokens, segments), (hidden,) = _library_outputs(files, "bert_features")
    batch = {"token_ids": tokens.astype("int32"), "segment_ids": segments.astype("int32"),
             "padding_mask": (tokens != 0).astype("int32")}
    assert _diff(backbone(batch, training=False)["sequence_output"], hidden) <= ATOL


def test_keras_gpt2_file_into_gpt2_backbone_with_the_epsilon_measured(files: Path, tmp_path: Path,  # noqa: F811
                                                                     capsys: pytest.CaptureFixture[str]) -> None:
    """Without --verify (the keras-bert test runs the oracle child; one child fits the
    test-time budget): the library's own outputs, made with the file, are the reference."""
    out = tmp_path / "gpt2.keras"
    assert _port(files / "gpt2.h5", out) == 0
    report = capsys.readouterr().out
    assert "keras_hub.models.GPT2Backbone(vocabulary_size=20, num_layers=2, num_heads=2, hidden_dim=8, " \
           "intermediate_dim=32, max_sequence_length=16, dropout=0.0)" in report
    # keras-gpt-2's tied output (EmbeddingSim: softmax of h @ E^T) is
    # GPT2CausalLM's reverse embedding: the library's own probabilities
    # (computed when the file was made) from the backbone.
    backbone = keras.saving.load_model(out, safe_mode=True)
    (tokens,), (probabilities,) = _library_outputs(files, "gpt2")
    batch = {"token_ids": tokens.astype("int32"), "padding_mask": np.ones(tokens.shape, "int32")}

    def probabilities_of(model) -> np.ndarray:
        logits = model.token_embedding(model(batch, training=False), reverse=True)
        return np.asarray(keras.ops.softmax(logits, axis=-1))

    written = _diff(probabilities_of(backbone), probabilities)
    exact = _diff(probabilities_of(_with_epsilon(backbone, 1e-14)), probabilities)
    print(f"keras-gpt-2 output: max abs diff {written:.2e} as written, {exact:.2e} at the library's epsilon")
    assert exact <= ATOL and written > exact  # keras-hub's 1e-5 epsilon is a real difference


# --------------------------------------------------------------------------
# Refusals: one line, what differs, nothing written
# --------------------------------------------------------------------------


def _edited(directory: Path, tmp_path: Path, stem: str, edit) -> Path:
    path = tmp_path / f"{stem}.h5"
    shutil.copy(directory / f"{stem}.h5", path)
    with h5py.File(path, "r+") as handle:
        config = json.loads(handle.attrs["model_config"])
        edit(config, handle)
        handle.attrs["model_config"] = json.dumps(config)
    return path


def _set(name: str, key: str, value):
    def edit(config, _):
        layer = next(layer for layer in config["config"]["layers"] if layer["config"]["name"] == name)
        layer["config"][key] = value
    return edit


def _add_weight(layer: str, weight: str, shape: tuple[int, ...]):
    def edit(_, handle):
        handle["model_weights"][layer][layer][f"{weight}:0"] = np.zeros(shape, "float32")
        group = handle["model_weights"][layer]
        names = [n.decode() if isinstance(n, bytes) else str(n) for n in group.attrs["weight_names"]]
        group.attrs["weight_names"] = np.array([n.encode() for n in names + [f"{layer}/{weight}:0"]])
    return edit


@pytest.mark.parametrize("stem, edit, expected", [
    ("bert_features", _set("Encoder-1-FeedForward", "activation", "relu"),
     ["'Encoder-1-FeedForward'", "feed-forward activation 'relu'", "BertBackbone cannot express it"]),
    ("bert_features", _set("Embedding-Position", "mode", "concat"), ["'Embedding-Position'", "position mode 'concat'"]),
    ("bert_features", _set("Encoder-2-MultiHeadSelfAttention", "activation", "relu"),
     ["'Encoder-2-MultiHeadSelfAttention'", "attention activation 'relu'"]),
    ("gpt2", _set("Encode-1-MultiHeadAtt", "history_only", False),
     ["'Encode-1-MultiHeadAtt'", "history_only=False", "GPT2Backbone cannot express it"]),
    ("gpt2", _set("Output", "use_bias", True), ["'Output'", "an output bias"]),
    ("gpt2", _add_weight("Encode-0-FeedForward", "Encode-0-FeedForward_W3", (8, 8)),
     ["GPT2Backbone has no place for Encode-0-FeedForward/Encode-0-FeedForward_W3"]),
    ("transformer", None, ["takes a full-model file saved by keras_bert.get_model", "has neither"]),
    ("bert_train", None, ["holds optimizer state", "pass --no-optimizer"]),
])
def test_what_the_backbone_cannot_express_is_refused_in_one_line(files: Path, tmp_path: Path, stem, edit,  # noqa: F811
                                                                 expected, capsys) -> None:
    source = _edited(files, tmp_path, stem, edit) if edit else files / f"{stem}.h5"
    out = tmp_path / "out.keras"
    before = sorted(tmp_path.iterdir())
    assert _port(source, out) == 2
    error = capsys.readouterr().err.strip().splitlines()
    assert len(error) == 1 and all(part in error[0] for part in expected), error
    assert sorted(tmp_path.iterdir()) == before  # nothing written, no temporary file left


def test_options_that_do_not_apply_are_refused(files: Path, tmp_path: Path, capsys) -> None:  # noqa: F811
    for extra in (["--map", "keras22"], ["--verify-training", "1"], ["--report", str(tmp_path / "r.json")]):
        assert _port(files / "gpt2.h5", tmp_path / "g.keras", *extra) == 2
        assert extra[0] in capsys.readouterr().err
    assert not list(tmp_path.iterdir())


# --------------------------------------------------------------------------
# The plan and the CLI
# --------------------------------------------------------------------------


def test_dry_run_prints_the_map_with_its_transforms_and_the_dropped_heads(files: Path, tmp_path: Path,  # noqa: F811
                                                                          capsys) -> None:
    assert _port(files / "bert_train.h5", tmp_path / "b.keras", "--dry-run") == 0
    lines = capsys.readouterr().out.splitlines()
    assert ("Encoder-2-MultiHeadSelfAttention/Encoder-2-MultiHeadSelfAttention_Wq [8, 8] -> "
            "transformer_layer_1/self_attention_layer/query/kernel [8, 2, 4] [split_heads]") in lines
    assert ("Encoder-1-MultiHeadSelfAttention/Encoder-1-MultiHeadSelfAttention_Wo [8, 8] -> "
            "transformer_layer_0/self_attention_layer/attention_output/kernel [2, 4, 8] [merge_heads]") in lines
    assert "NSP-Dense/kernel [8, 8] -> pooled_dense/kernel [8, 8]" in lines
    assert "dropped head: MLM-Sim/bias (keras_hub.models.BertBackbone has no such layer)" in lines
    assert lines[-1].startswith("plan complete: keras_hub.models.BertBackbone(") and "39 assignments" in lines[-1]
    assert not list(tmp_path.iterdir())


def test_every_row_of_each_map_names_a_backbone_variable() -> None:
    for name, arch in keras_hub_port.ARCHITECTURES.items():
        backbone = getattr(keras_hub.models, arch.backbone)(
            vocabulary_size=11, num_layers=2, num_heads=2, hidden_dim=8, intermediate_dim=12, max_sequence_length=6)
        paths = {v.path.removeprefix(f"{backbone.name}/") for v in backbone.weights}
        rows = arch.rules([arch.first_block, arch.first_block + 1], pooled=True)
        targets = [row.target for row in rows]
        assert len(targets) == len(set(targets)), name
        assert set(targets) == paths, (name, sorted(paths ^ set(targets)))


def test_help_documents_into(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        migrate_main(["port", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--into LIBRARY" in text and "keras_hub.models.BertBackbone / GPT2Backbone" in text
