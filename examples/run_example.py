"""The main job on the bundled example: rewrite, port, verify.

The bundled legacy code (``examples/legacy``) and its trained checkpoints
(``tests/fixtures/legacy``, written by running the legacy reference on
tf_keras) go through the whole migration:

1. ``migrate rewrite examples/legacy -o out/example/rewritten`` -- the
   Keras-2.2 classifier program and the 2021 tf.keras Transformer program
   become Keras 3 code;
2. ``migrate port`` each checkpoint into the model built by the *rewritten*
   code (``--model rewritten/X.py:build_model``) and, separately, into the
   ``modern`` equivalent, each time with ``--verify`` against the legacy model
   on tf_keras;
3. the written ``.keras`` files are loaded back on Keras 3 (``safe_mode=True``)
   and used: the classifier classifies, the translator greedy-decodes.

Usage: ``./dev example`` (or ``.venv/bin/python examples/run_example.py``).
Everything is written under ``out/example`` (ignored by git).
"""

from __future__ import annotations

import json
import shutil
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
LEGACY_CODE = ROOT / "examples" / "legacy"
CHECKPOINTS = ROOT / "tests" / "fixtures" / "legacy"
OUT = ROOT / "out" / "example"


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def migrate(*args: object, ok: tuple[int, ...] = (0,)) -> None:
    from migrate.cli import main

    shown = " ".join(str(a.relative_to(ROOT)) if isinstance(a, Path) and a.is_relative_to(ROOT) else str(a) for a in args)
    print(f"$ migrate {shown}", flush=True)
    code = main([str(a) for a in args])
    if code not in ok:
        raise SystemExit(f"migrate {args[0]} failed with exit status {code}")


def port(source: Path, out: Path, *extra: object) -> dict:
    report = out.with_suffix(".report.json")
    migrate("port", source, "--to", out, "--verify", "--force", "--report", report, *extra)
    return json.loads(report.read_text())


def main() -> int:
    started = time.perf_counter()
    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    rewritten = OUT / "rewritten"

    step("1. rewrite the legacy programs to Keras 3")
    # Exit status 1 = findings that need a human: here the translator's own
    # tf.train.Checkpoint restore of a legacy checkpoint, which is what
    # `migrate port` (next step) is for.
    migrate("rewrite", LEGACY_CODE, "-o", rewritten, "--report", OUT / "rewrite.report.json", ok=(0, 1))

    figures: list[tuple[str, float]] = []
    step("2a. port the Keras-2.2 classifier checkpoint into the rewritten program's model")
    data = port(CHECKPOINTS / "keras22_classifier.model.h5", OUT / "classifier.keras",
                "--model", f"{rewritten / 'classifier.py'}:build_model")
    figures.append(("classifier -> rewritten code", data["verify_max_abs_diff"]))

    step("2b. port the same checkpoint into modern/ (rebuilt from the file's own model_config)")
    data = port(CHECKPOINTS / "keras22_classifier.model.h5", OUT / "classifier_modern.keras")
    figures.append(("classifier -> modern", data["verify_max_abs_diff"]))

    step("2c. port the 2021 tutorial's TF checkpoint into the rewritten program's model")
    data = port(CHECKPOINTS / "tutorial_ckpt", OUT / "translator.keras",
                "--model", f"{rewritten / 'translator.py'}:build_model")
    figures.append(("translator -> rewritten code", data["verify_max_abs_diff"]))

    step("2d. port the same checkpoint into modern.models.Seq2SeqTransformer (heads split)")
    data = port(CHECKPOINTS / "tutorial_ckpt", OUT / "translator_modern.keras",
                "--model", f"{ROOT / 'examples' / 'modern_factories.py'}:seq2seq", "--map", "tutorial")
    figures.append(("translator -> modern", data["verify_max_abs_diff"]))

    step("3. use the migrated models on Keras 3")
    use_models()

    step("figures (max abs difference, legacy tf_keras vs ported Keras 3, same input)")
    for name, diff in figures:
        print(f"  {name:32s} {diff:.2e}  (tolerance 1e-05)")
    print(f"\ndone in {time.perf_counter() - started:.1f} s; outputs in {OUT.relative_to(ROOT)}")
    return 0


def use_models() -> None:
    import keras

    import modern  # noqa: F401  (registers the modern classes)
    from modern.models import greedy_decode

    classifier = keras.saving.load_model(OUT / "classifier_modern.keras", safe_mode=True)
    tokens = np.random.default_rng(0).integers(1, 50, size=(2, classifier.input_shape[1])).astype("int32")
    for row, p in zip(tokens, classifier.predict(tokens, verbose=0)):
        print(f"  classifier: tokens {row.tolist()} -> class {int(p.argmax())} (p={p.max():.3f})")
    translator = keras.saving.load_model(OUT / "translator_modern.keras", safe_mode=True)
    source = np.array([[1, 7, 12, 5, 30, 2]], dtype="int32")
    ids, attention = greedy_decode(translator, source, start_id=1, end_id=2, max_length=10)
    last = sorted(attention)[-1]
    print(f"  translator: {source[0].tolist()} -> {np.asarray(ids)[0].tolist()}, {last} {tuple(attention[last].shape)}")


if __name__ == "__main__":
    sys.exit(main())
