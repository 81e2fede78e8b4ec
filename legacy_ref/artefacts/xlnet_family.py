"""Goldens and full-model files made by the real keras-xlnet (with keras-transformer-xl and keras-trans-mask).

Run on tf_keras, in a process of its own, with the published libraries importable::

    TF_USE_LEGACY_KERAS=1 python -m legacy_ref.artefacts.xlnet_family goldens [--out tests/goldens/xlnet_family]
    TF_USE_LEGACY_KERAS=1 python -m legacy_ref.artefacts.xlnet_family test-files DIR
    TF_USE_LEGACY_KERAS=1 python -m legacy_ref.artefacts.xlnet_family file xlnet_pretrain_trained DIR

As for the bert family (:mod:`legacy_ref.artefacts.bert_family`, whose
library-path handling this reuses): ``TF_USE_LEGACY_KERAS=1`` because the
libraries write ``from tensorflow import keras``, the libraries come from
``--legacy-path DIR`` appended to ``sys.path``. Two things more:

* keras-xlnet's package ``__init__`` imports its sentencepiece tokenizer;
  its layer modules import TensorFlow only, so :func:`xlnet_module` loads
  them from their files and nothing needs sentencepiece (``build_xlnet``
  itself is loaded the same way, with the tokenizer's pad id given
  explicitly);
* keras-transformer-xl's ``Memory`` passes ``add_update`` the argument
  tf_keras 2.21 removed: :func:`legacy_ref.era.install` puts it back (this
  process runs nothing else).

``goldens`` runs each layer once on fixed inputs with fixed non-trivial
weights (``Memory``'s state included) and saves the case with the
library's version (``tests/goldens/xlnet_family/<case>.npz``).
``test-files`` saves tiny ``build_xlnet`` models as full-model HDF5 files
(two sizes, with and without a training config, ``training=False`` and
``training=True``) with the library's outputs on two consecutive probe
calls (the second reads the memory the first wrote); ``file`` saves one of
:data:`FILES`, the trained ``training=True`` one included.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

import numpy as np

from legacy_ref.artefacts.bert_family import DEFAULT_LEGACY_PATH, _flatten, _pick, _takes, use_libraries

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_OUT = ROOT / "tests" / "goldens" / "xlnet_family"
SEED = 15
# keras-xlnet's tokenizer's <pad> id (``Tokenizer.SYM_PAD``), build_xlnet's default mask_index.
PAD = 5

DISTRIBUTIONS = {
    "keras_xlnet": "keras-xlnet",
    "keras_transformer_xl": "keras-transformer-xl",
    "keras_trans_mask": "keras-trans-mask",
}


def _version(module: str) -> str:
    from importlib import metadata

    dist = DISTRIBUTIONS[module]
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.submodule_search_locations
    path = Path(list(spec.submodule_search_locations)[0]).parent
    found = list(metadata.distributions(name=dist, path=[str(path)]))
    return found[0].version if found else metadata.version(dist)


def xlnet_module(name: str) -> Any:
    """``keras_xlnet.<name>`` loaded from its file, without the package ``__init__`` (sentencepiece)."""
    key = f"keras_xlnet_{name}"
    if key in sys.modules:
        return sys.modules[key]
    spec = importlib.util.find_spec("keras_xlnet")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("keras_xlnet is not installed")
    path = Path(list(spec.submodule_search_locations)[0]) / f"{name}.py"
    module_spec = importlib.util.spec_from_file_location(key, path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    sys.modules[key] = module
    module_spec.loader.exec_module(module)
    return module


# Where each class lives: a keras_xlnet module file, or an importable package.
CLASS_HOMES: dict[str, tuple[str, str]] = {
    "CreateMask": ("keras_trans_mask", ""),
    "RestoreMask": ("keras_trans_mask", ""),
    "Memory": ("keras_transformer_xl", ""),
    "RelativeBias": ("keras_transformer_xl", ""),
    "PositionalEmbedding": ("keras_xlnet", "position_embed"),
    "RelativeSegmentEmbedding": ("keras_xlnet", "segment_embed"),
    "SegmentBias": ("keras_xlnet", "segment_bias"),
    "MaskEmbedding": ("keras_xlnet", "mask_embed"),
    "PermutationMask": ("keras_xlnet", "permutation"),
    "RelativePartialMultiHeadSelfAttention": ("keras_xlnet", "attention"),
}


def library_classes() -> dict[str, Any]:
    """The libraries' classes by saved class name, on tf_keras, with the era shim installed."""
    import importlib

    from legacy_ref import era

    era.install()
    classes = {}
    for name, (package, module) in CLASS_HOMES.items():
        home = xlnet_module(module) if package == "keras_xlnet" else importlib.import_module(package)
        classes[name] = getattr(home, name)
    return classes


# --------------------------------------------------------------------------
# Layer goldens
# --------------------------------------------------------------------------


def _inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Fixed inputs (batch 2, segment 5, memory 3, width 8, 2 heads)."""
    tokens = np.array([[2, 7, 11, PAD, 4], [3, 19, PAD, PAD, PAD]], dtype="float32")
    same = rng.integers(0, 2, (2, 5, 8))
    permutation = (rng.random((2, 5, 8)) < 0.7).astype("float32")
    permutation[:, :, 0] = 1.0  # every query sees a key (the library divides by sum + epsilon)
    return {
        "x": rng.normal(0.0, 1.0, (2, 5, 8)).astype("float32"),
        "content": rng.normal(0.0, 1.0, (2, 5, 8)).astype("float32"),
        "memory": rng.normal(0.0, 1.0, (2, 3, 8)).astype("float32"),
        "empty_memory": np.zeros((2, 0, 8), "float32"),
        "tokens": tokens,
        "mask": tokens != PAD,
        "segments": np.array([[0, 0, 1, 1, 1], [0, 1, 1, 0, 0]], dtype="float32"),
        "query": np.array([[0, 1, 0, 0, 1], [1, 0, 0, 1, 0]], dtype="float32"),
        "memory_length": np.array([[2], [2]], dtype="float32"),
        "no_memory": np.array([[0], [0]], dtype="float32"),
        "long_memory": np.array([[7], [7]], dtype="float32"),
        "segment_matrix": np.eye(2, dtype="float32")[same],
        "segment_embeddings": rng.normal(0.0, 0.5, (2, 8)).astype("float32"),
        "positions": rng.normal(0.0, 1.0, (2, 13, 8)).astype("float32"),
        "positions_uni": rng.normal(0.0, 1.0, (2, 9, 8)).astype("float32"),
        "bias_context": rng.normal(0.0, 0.5, (8,)).astype("float32"),
        "bias_relative": rng.normal(0.0, 0.5, (8,)).astype("float32"),
        "bias_segment": rng.normal(0.0, 0.5, (8,)).astype("float32"),
        "permutation": permutation,
    }


_ATTENTION_INPUTS = ["x", "content", "memory", "segment_matrix", "segment_embeddings", "positions",
                     "bias_context", "bias_relative", "bias_segment", "permutation"]
_ATTENTION_MASK = ["mask", "mask", None, None, None, None, None, None, None, None]

CASES: dict[str, dict[str, Any]] = {
    "create_mask": dict(cls="CreateMask", args={"mask_value": PAD}, inputs="tokens"),
    "restore_mask": dict(cls="RestoreMask", args={}, inputs=["x", "tokens"], mask=[None, "mask"]),
    "memory_read": dict(cls="Memory", args={"batch_size": 2, "memory_len": 3, "target_len": 5, "output_dim": 8},
                        inputs=["x", "memory_length"], mask=["mask", None]),
    "memory_padded_batch": dict(cls="Memory",
                                args={"batch_size": 3, "memory_len": 4, "target_len": 5, "output_dim": 8},
                                inputs=["x", "long_memory"]),
    "memory_empty": dict(cls="Memory", args={"batch_size": 2, "memory_len": 3, "target_len": 5, "output_dim": 8},
                         inputs=["x", "no_memory"]),
    "positional_bi": dict(cls="PositionalEmbedding", args={"output_dim": 8, "directional": False},
                          inputs=["x", "memory"], mask=["mask", None]),
    "positional_uni_clamped": dict(cls="PositionalEmbedding",
                                   args={"output_dim": 6, "clamp_len": 4, "directional": True}, inputs=["x", "memory"]),
    "relative_segment": dict(cls="RelativeSegmentEmbedding", args={"units": 8}, inputs=["segments", "memory"]),
    "mask_embedding": dict(cls="MaskEmbedding", args={"units": 8}, inputs=["x", "query"], mask=["mask", None]),
    "relative_bias": dict(cls="RelativeBias", args={"units": 8}, inputs="memory"),
    "segment_bias": dict(cls="SegmentBias", args={"units": 8}, inputs="memory"),
    "permutation_bi": dict(cls="PermutationMask", args={"enabled": True, "directional": False},
                           inputs=["x", "memory"]),
    "permutation_uni": dict(cls="PermutationMask", args={"enabled": True, "directional": True},
                            inputs=["x", "memory"]),
    "attention": dict(cls="RelativePartialMultiHeadSelfAttention", args={"units": 8, "num_head": 2},
                      inputs=_ATTENTION_INPUTS, mask=_ATTENTION_MASK),
    "attention_bias_tanh_uni": dict(
        cls="RelativePartialMultiHeadSelfAttention",
        args={"units": 8, "num_head": 4, "use_bias": True, "activation": "tanh", "attention_dropout": 0.1},
        inputs=[n if n != "positions" else "positions_uni" for n in _ATTENTION_INPUTS]),
    "attention_no_memory": dict(
        cls="RelativePartialMultiHeadSelfAttention", args={"units": 8, "num_head": 2},
        inputs=["x", "content", "empty_memory", "segment_matrix", "segment_embeddings", "positions",
                "bias_context", "bias_relative", "bias_segment", "permutation"],
        mask=_ATTENTION_MASK),
}


def _home(cls: str) -> str:
    return CLASS_HOMES[cls][0]


def make_case(name: str, spec: dict[str, Any]) -> Any:
    """Run one library layer on its fixed input with fixed weights; return the golden case."""
    import tensorflow as tf
    import tf_keras

    from legacy_ref.goldens.format import GoldenCase

    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(SEED)
    rng = np.random.default_rng(SEED)
    arrays = _inputs(rng)
    if name == "attention_no_memory":
        # No memory: the segment matrix and permutation cover the segment's keys only.
        arrays["segment_matrix"] = arrays["segment_matrix"][:, :, 3:]
        arrays["permutation"] = arrays["permutation"][:, :, 3:]
        arrays["positions"] = arrays["positions"][:, 3:]
    layer = library_classes()[spec["cls"]](name=name, **spec["args"])
    inputs = _pick(spec["inputs"], arrays)
    mask = _pick(spec.get("mask"), arrays)
    as_tensors = (lambda v: None if v is None else tf.constant(v))
    tf_inputs = [as_tensors(v) for v in inputs] if isinstance(inputs, list) else as_tensors(inputs)
    tf_mask = [as_tensors(v) for v in mask] if isinstance(mask, list) else as_tensors(mask)
    call_kwargs = {} if mask is None or not _takes(layer, "mask") else {"mask": tf_mask}
    layer(tf_inputs, **call_kwargs)  # build (Memory's state is set below)
    weights = {}
    for variable in layer.weights:
        value = rng.normal(0.0, 0.5, variable.shape).astype("float32")
        variable.assign(value)
        weights[variable.name.split(":")[0]] = value
    outputs = _flatten(layer(tf_inputs, training=False, **call_kwargs) if _takes(layer, "training")
                       else layer(tf_inputs, **call_kwargs))
    result = {"y": outputs[0].numpy()}
    if len(outputs) > 1:
        result["second"] = outputs[1].numpy()
    if spec["cls"] == "Memory":
        result["state"] = layer.memory.numpy()  # what the call wrote
    out_mask = layer.compute_mask(tf_inputs, tf_mask)
    first_mask = _flatten(out_mask)[0] if out_mask is not None else None
    if first_mask is not None:
        result["mask"] = np.asarray(first_mask)
    used = set(_flatten(spec["inputs"])) | {m for m in _flatten(spec.get("mask")) if m is not None}
    config = {
        "case": name,
        "library": DISTRIBUTIONS[_home(spec["cls"])],
        "version": _version(_home(spec["cls"])),
        "layer": spec["cls"],
        "name": name,
        "args": spec["args"],
        "inputs": spec["inputs"],
        "mask": spec.get("mask"),
        "weight_order": list(weights),
    }
    return GoldenCase(config=config, inputs={k: arrays[k] for k in sorted(used)}, weights=weights, outputs=result)


def write_goldens(out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, spec in CASES.items():
        path = out_dir / f"{name}.npz"
        make_case(name, spec).save(path)
        paths.append(path)
    return paths


# --------------------------------------------------------------------------
# Full-model files
# --------------------------------------------------------------------------

# Tiny build_xlnet sizes; "bi" with two blocks, "uni" with one, other widths and a clamp.
SIZES: dict[str, dict[str, Any]] = {
    "bi": dict(units=8, num_token=20, num_block=2, num_head=2, hidden_dim=16, batch_size=2, memory_len=3,
               target_len=5),
    "uni": dict(units=12, num_token=24, num_block=1, num_head=3, hidden_dim=20, batch_size=2, memory_len=2,
                target_len=5, attention_type="uni", clamp_len=6),
}


def build_xlnet(training: bool, **args: Any) -> Any:
    """``keras_xlnet.build_xlnet`` (its module loaded from its file, pad id given)."""
    for name in ("permutation", "mask_embed", "position_embed", "segment_bias", "segment_embed", "attention"):
        # xlnet.py imports these as siblings (``from .attention import ...``).
        sys.modules.setdefault(f"keras_xlnet_pkg.{name}", xlnet_module(name))
    import types

    tokenizer = types.ModuleType("keras_xlnet_pkg.tokenizer")
    tokenizer.Tokenizer = type("Tokenizer", (), {"SYM_PAD": PAD})  # what xlnet.py reads of it
    sys.modules["keras_xlnet_pkg.tokenizer"] = tokenizer
    package = types.ModuleType("keras_xlnet_pkg")
    package.__path__ = []
    sys.modules.setdefault("keras_xlnet_pkg", package)
    spec = importlib.util.find_spec("keras_xlnet")
    assert spec is not None and spec.submodule_search_locations
    path = Path(list(spec.submodule_search_locations)[0]) / "xlnet.py"
    module_spec = importlib.util.spec_from_file_location("keras_xlnet_pkg.xlnet", path)
    assert module_spec is not None and module_spec.loader is not None
    module = importlib.util.module_from_spec(module_spec)
    module_spec.loader.exec_module(module)
    return module.build_xlnet(training=training, **args)


def probes(size: str, training: bool) -> list[list[np.ndarray]]:
    """Two consecutive batches: padding (id 5) in both, a memory read in both."""
    args = SIZES[size]
    seq, vocab = args["target_len"], args["num_token"]
    rng = np.random.default_rng(SEED + len(size))
    batches = []
    for memory_length in (args["memory_len"], 1):
        tokens = rng.integers(6, vocab, (2, seq)).astype("float32")
        tokens[0, -2:] = PAD
        segments = np.array([[0] * (seq - 2) + [1, 1], [0, 1] + [1] * (seq - 2)], dtype="float32")
        batch = [tokens, segments, np.full((2, 1), memory_length, "float32")]
        if training:
            batch.append((rng.random((2, seq)) < 0.4).astype("float32"))
        batches.append(batch)
    return batches


def write_xlnet(path: Path, size: str, *, training: bool, training_config: bool) -> Path:
    """Save a tiny build_xlnet model (non-trivial weights and memory state) as a full-model HDF5 file."""
    import warnings

    import tf_keras

    library_classes()  # the era shim
    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(SEED)
    args = SIZES[size]
    model = build_xlnet(training, **args)
    rng = np.random.default_rng(SEED)
    model.set_weights([rng.normal(0.0, 0.3, w.shape).astype("float32") for w in model.get_weights()])
    if training_config:
        model.compile(optimizer=tf_keras.optimizers.legacy.Adam(1e-3),
                      loss="sparse_categorical_crossentropy" if training else "mse")
        batch = probes(size, training)[0]
        if training:
            targets = rng.integers(0, args["num_token"], (2, args["target_len"], 1))
        else:
            targets = rng.normal(0.0, 1.0, (2, args["target_len"], args["units"])).astype("float32")
        # A few steps, so the file holds optimizer state (and memory) as a trained checkpoint does.
        model.fit(batch, targets, epochs=2, batch_size=2, verbose=0, shuffle=False)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=UserWarning)
        model.save(str(path), save_format="h5", include_optimizer=training_config)
    return path


def legacy_outputs(path: Path, batches: list[list[np.ndarray]]) -> list[np.ndarray]:
    """The saved model's outputs on consecutive batches, loaded back as the library's users loaded it."""
    import tf_keras

    custom = dict(library_classes())
    from keras_embed_sim import EmbeddingRet, EmbeddingSim
    from keras_layer_normalization import LayerNormalization
    from keras_position_wise_feed_forward import FeedForward
    from keras_transformer import gelu

    custom.update(EmbeddingRet=EmbeddingRet, EmbeddingSim=EmbeddingSim, LayerNormalization=LayerNormalization,
                  FeedForward=FeedForward, gelu=gelu)
    model = tf_keras.models.load_model(str(path), custom_objects=custom, compile=False)
    return [np.asarray(model(batch, training=False)) for batch in batches]


FILES: dict[str, dict[str, Any]] = {
    "xlnet_bi_trained": dict(size="bi", training=False, training_config=True),
    "xlnet_uni": dict(size="uni", training=False, training_config=False),
    "xlnet_pretrain": dict(size="uni", training=True, training_config=False),
    # Not among the test files (its training steps on tf_keras cost the most): `file xlnet_pretrain_trained DIR`.
    "xlnet_pretrain_trained": dict(size="bi", training=True, training_config=True),
}
TEST_FILES = ("xlnet_bi_trained", "xlnet_uni", "xlnet_pretrain")


def write_file(out_dir: Path, stem: str) -> Path:
    """One of :data:`FILES` as ``<stem>.h5``, with ``<stem>.outputs.npz`` (the inputs and outputs of two calls)."""
    spec = FILES[stem]
    path = write_xlnet(out_dir / f"{stem}.h5", spec["size"], training=spec["training"],
                       training_config=spec["training_config"])
    batches = probes(spec["size"], spec["training"])
    outputs = legacy_outputs(path, batches)
    np.savez(out_dir / f"{stem}.outputs.npz",
             **{f"call{c}_input_{i}": a for c, batch in enumerate(batches) for i, a in enumerate(batch)},
             **{f"call{c}_output": y for c, y in enumerate(outputs)})
    return path


def write_test_files(out_dir: Path) -> list[Path]:
    """The goldens (to compare with the committed ones) and :data:`TEST_FILES`."""
    out_dir.mkdir(parents=True, exist_ok=True)
    return write_goldens(out_dir / "goldens") + [write_file(out_dir, stem) for stem in TEST_FILES]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m legacy_ref.artefacts.xlnet_family", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--legacy-path", type=Path, default=DEFAULT_LEGACY_PATH,
                        help=f"directory holding the published libraries (default: {DEFAULT_LEGACY_PATH})")
    sub = parser.add_subparsers(dest="what", required=True)
    goldens = sub.add_parser("goldens", help="write the layer goldens")
    goldens.add_argument("--out", type=Path, default=DEFAULT_OUT)
    test_files = sub.add_parser("test-files", help="goldens, build_xlnet files and their outputs, for the port tests")
    test_files.add_argument("out", type=Path)
    one_file = sub.add_parser("file", help="one build_xlnet file and its outputs")
    one_file.add_argument("stem", choices=sorted(FILES))
    one_file.add_argument("out", type=Path)
    args = parser.parse_args(argv)
    use_libraries(args.legacy_path)
    if args.what == "goldens":
        for path in write_goldens(args.out):
            print(f"wrote {path} ({path.stat().st_size} bytes)")
    elif args.what == "file":
        args.out.mkdir(parents=True, exist_ok=True)
        print(f"wrote {write_file(args.out, args.stem)}")
    else:
        write_test_files(args.out)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
