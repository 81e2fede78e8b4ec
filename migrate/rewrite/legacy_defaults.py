"""Defaults and meanings that changed between Keras 2.2 / tf.keras 2.x and Keras 3, as data.

The worst migration bugs raise nothing: the program runs and its numbers differ. Each
row below names one such spot, what it was in standalone Keras 2.2.4, in tf.keras 2.x
and in Keras 3, where the fact comes from, and what ``migrate rewrite`` does about it:

* ``pinned``: the rewrite writes the legacy value out explicitly (a safe rewrite);
* ``reported``: no Keras 3 argument restores the legacy behaviour, or the dialect cannot
  be told from the code, so the spot is reported with what to write;
* ``same``: looked like a change (or is a common worry) and is not one; kept so that the
  question is settled by a test instead of asked again;
* ``loud``: the legacy spelling raises on Keras 3 (no silent change); what to write is
  in the rule named.

The ``tf_keras2`` and ``keras3`` columns are *measured*: ``tests/migrate/rules/
test_legacy_defaults.py`` runs the probe of every row (``probe`` names it in
``tests/migrate/rules/legacy_default_probes.py``) on tf_keras 2.21 in a subprocess
(``TF_USE_LEGACY_KERAS=1``) and on Keras 3 in process, and compares the results with
the text here. tf.keras 2.x before TensorFlow 2.11 used the optimizers that tf_keras
keeps as ``tf_keras.optimizers.legacy``; optimizer rows probe both and say which is
which. Keras 2.2.4 is not installed anywhere: its column is the documented 2.2.4
source (``source``), and the tests check it against what the rule pins (and compute
the 2.2.4 formula in numpy where a rule's numeric test needs it).

``python -m migrate.rewrite.legacy_defaults`` writes ``docs/legacy_defaults.md``; a
test checks that the committed page is what this table renders.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

PINNED = "pinned"
REPORTED = "reported"
SAME = "same"
LOUD = "loud"

K224 = "keras-team/keras 2.2.4"


@dataclass(frozen=True)
class LegacyDefault:
    """One default or meaning, in the three Kerases.

    Attributes:
        id: stable row id (also the probe's name, with ``-`` as ``_``).
        symbol: the public name it concerns.
        what: the argument, or the behaviour, that changed.
        keras22: the Keras 2.2.4 value or meaning (documented, from ``source``).
        tf_keras2: tf.keras 2.x, as the probe prints it on tf_keras 2.21.
        keras3: Keras 3, as the probe prints it.
        source: where the Keras 2.2.4 fact is written.
        handling: ``pinned``, ``reported``, ``same`` or ``loud``.
        rules: the rule ids that pin or report it (empty for ``same``).
        note: one line: when it matters, or what the rule writes.
    """

    id: str
    symbol: str
    what: str
    keras22: str
    tf_keras2: str
    keras3: str
    source: str
    handling: str
    rules: tuple[str, ...]
    note: str

    @property
    def probe(self) -> str:
        return self.id.replace("-", "_")


ROWS: tuple[LegacyDefault, ...] = (
    # ---- recurrent layers -------------------------------------------------------------
    LegacyDefault("gru-reset-after", "keras.layers.GRU", "reset_after", "False", "True", "True",
                  f"{K224} layers/recurrent.py GRU.__init__", PINNED, ("KM303",),
                  "Keras 2.2 code: reset_after=False written out (the weights differ in shape, so a port "
                  "fails and a retrain silently differs)"),
    LegacyDefault("gru-bias-shape", "keras.layers.GRU", "bias shape of GRU(4) (follows reset_after)",
                  "(12,)", "(2, 12)", "(2, 12)", f"{K224} layers/recurrent.py GRUCell.build", PINNED, ("KM303",),
                  "the pinned reset_after=False gives Keras 3 the 2.2 shape (tested)"),
    LegacyDefault("rnn-recurrent-activation", "keras.layers.LSTM, GRU (and cells)", "recurrent_activation",
                  "'hard_sigmoid'", "'sigmoid'", "'sigmoid'", f"{K224} layers/recurrent.py LSTM/GRU.__init__",
                  PINNED, ("KM303",), "Keras 2.2 code: recurrent_activation=compat.legacy_hard_sigmoid"),
    LegacyDefault("convlstm-recurrent-activation", "keras.layers.ConvLSTM2D (tf.keras: 1D/2D/3D)",
                  "recurrent_activation", "'hard_sigmoid'", "'hard_sigmoid'", "'sigmoid'",
                  f"{K224} layers/convolutional_recurrent.py ConvLSTM2D.__init__", PINNED, ("KM303",),
                  "Keras 2.2 and tf.keras 2 code: recurrent_activation=compat.legacy_hard_sigmoid"),
    LegacyDefault("hard-sigmoid", "keras.activations.hard_sigmoid", "value at x=1",
                  "0.7", "0.7", "0.666667", f"{K224} backend/tensorflow_backend.py hard_sigmoid (0.2*x+0.5)",
                  PINNED, ("KM304", "KM308", "KM203"),
                  "Keras 2: clip(0.2*x+0.5), Keras 3: relu6(x+3)/6; compat.legacy_hard_sigmoid written"),
    LegacyDefault("lstm-unit-forget-bias", "keras.layers.LSTM", "unit_forget_bias", "True", "True", "True",
                  f"{K224} layers/recurrent.py LSTM.__init__", SAME, (), "forget-gate bias starts at 1 in all three"),
    # ---- other layers -----------------------------------------------------------------
    LegacyDefault("batchnorm-defaults", "keras.layers.BatchNormalization", "momentum, epsilon",
                  "0.99, 0.001", "0.99, 0.001", "0.99, 0.001", f"{K224} layers/normalization.py", SAME, (),
                  "unchanged"),
    LegacyDefault("frozen-batchnorm", "keras.layers.BatchNormalization", "trainable=False, called in training",
                  "batch statistics", "moving statistics", "moving statistics",
                  f"{K224} layers/normalization.py BatchNormalization.call (K.in_train_phase, no trainable test)",
                  REPORTED, ("KM606",),
                  "Keras 2.2 code that freezes layers is reported: a frozen BatchNormalization normalises "
                  "with its moving statistics since tf.keras 2 (TF 2.0)"),
    LegacyDefault("layernorm-epsilon", "keras.layers.LayerNormalization", "epsilon", "(no such layer)", "0.001",
                  "0.001", "Keras 2.2.4 has no LayerNormalization", SAME, (), "unchanged"),
    LegacyDefault("dense-initializers", "keras.layers.Dense, Conv*D", "kernel/bias initializers",
                  "GlorotUniform, Zeros", "GlorotUniform, Zeros", "GlorotUniform, Zeros",
                  f"{K224} layers/core.py Dense.__init__", SAME, (), "unchanged"),
    LegacyDefault("embedding-initializer", "keras.layers.Embedding", "embeddings_initializer",
                  "RandomUniform(-0.05, 0.05)", "RandomUniform(-0.05, 0.05)", "RandomUniform(-0.05, 0.05)",
                  f"{K224} layers/embeddings.py ('uniform')", SAME, (), "unchanged"),
    LegacyDefault("leaky-relu-slope", "keras.layers.LeakyReLU", "default slope (alpha= / negative_slope=)",
                  "0.3", "0.3", "0.3", f"{K224} layers/advanced_activations.py", SAME, (),
                  "Keras 3 renames alpha= to negative_slope= and still accepts alpha="),
    LegacyDefault("variance-scaling-normal", "keras.initializers.VarianceScaling", "distribution='normal'",
                  "truncated normal", "truncated_normal", "truncated_normal",
                  f"{K224} initializers.py VarianceScaling.__call__", SAME, (),
                  "all three draw a truncated normal with the 0.8796 correction"),
    LegacyDefault("dropout-without-training-arg", "keras.layers.Dropout inside a custom layer",
                  "call() without a training argument", "follows the learning phase",
                  "follows the outer call", "follows the outer call", f"{K224} layers/core.py Dropout.call",
                  SAME, (), "active in fit, inactive in predict, in all three"),
    LegacyDefault("masked-global-average-pooling", "Embedding(mask_zero=True) -> GlobalAveragePooling1D",
                  "the mask in the average", "error (no mask support)", "mean over unmasked", "mean over unmasked",
                  f"{K224} layers/pooling.py (GlobalAveragePooling1D has no supports_masking)", SAME, (),
                  "Keras 2.2 raised; tf.keras 2 and Keras 3 both average the unmasked steps"),
    # ---- backend functions --------------------------------------------------------------
    LegacyDefault("l2-normalize-epsilon", "K.l2_normalize (Keras 3: ops.normalize)", "value at x=(1e-7, 0)",
                  "0.1", "0.1", "1", f"{K224} backend/tensorflow_backend.py l2_normalize (tf.nn.l2_normalize)",
                  PINNED, ("KM203",), "rewritten to compat.l2_normalize (epsilon 1e-12 on the squared norm, as tf)"),
    LegacyDefault("categorical-crossentropy-backend", "K.categorical_crossentropy (Keras 3: ops.)",
                  "from_logits=False, axis=-1, unnormalised output", "0.847298", "0.847298", "0.847298",
                  f"{K224} backend/tensorflow_backend.py categorical_crossentropy", SAME, (),
                  "KM201 maps it one to one"),
    # ---- optimizers -------------------------------------------------------------------
    LegacyDefault("adadelta-lr", "keras.optimizers.Adadelta", "learning_rate", "1.0", "0.001", "0.001",
                  f"{K224} optimizers.py Adadelta.__init__", PINNED, ("KM401",),
                  "Keras 2.2 code: learning_rate=1.0 written out"),
    LegacyDefault("adagrad-lr", "keras.optimizers.Adagrad", "learning_rate", "0.01", "0.001", "0.001",
                  f"{K224} optimizers.py Adagrad.__init__", PINNED, ("KM401",),
                  "Keras 2.2 code: learning_rate=0.01 written out"),
    LegacyDefault("adamax-lr", "keras.optimizers.Adamax", "learning_rate", "0.002", "0.001", "0.001",
                  f"{K224} optimizers.py Adamax.__init__", PINNED, ("KM401",),
                  "Keras 2.2 code: learning_rate=0.002 written out"),
    LegacyDefault("nadam-lr", "keras.optimizers.Nadam", "learning_rate", "0.002", "0.001", "0.001",
                  f"{K224} optimizers.py Nadam.__init__", PINNED, ("KM401",),
                  "Keras 2.2 code: learning_rate=0.002 written out"),
    LegacyDefault("adagrad-accumulator", "keras.optimizers.Adagrad", "initial accumulator", "0.0", "0.1", "0.1",
                  f"{K224} optimizers.py Adagrad.get_updates (K.zeros)", PINNED, ("KM409",),
                  "Keras 2.2 code: initial_accumulator_value=0.0 written out"),
    LegacyDefault("adagrad-epsilon", "keras.optimizers.Adagrad", "where epsilon goes",
                  "outside sqrt", "outside sqrt (optimizers.legacy), inside sqrt (optimizers)", "inside sqrt",
                  f"{K224} optimizers.py Adagrad.get_updates", REPORTED, ("KM409",),
                  "Keras 2.2 code is reported; small unless gradients are near sqrt(epsilon)"),
    LegacyDefault("rmsprop-epsilon", "keras.optimizers.RMSprop", "where epsilon goes",
                  "outside sqrt", "outside sqrt (optimizers.legacy), inside sqrt (optimizers)", "inside sqrt",
                  f"{K224} optimizers.py RMSprop.get_updates", REPORTED, ("KM409",),
                  "Keras 2.2 code is reported; small unless gradients are near sqrt(epsilon)"),
    LegacyDefault("epsilon-none", "keras.optimizers.*", "epsilon=None",
                  "K.epsilon()", "K.epsilon() (optimizers.legacy), error (optimizers)", "error",
                  f"{K224} optimizers.py (`if epsilon is None: epsilon = K.epsilon()`)", PINNED, ("KM409",),
                  "epsilon=keras.config.epsilon() written out"),
    LegacyDefault("optimizer-decay", "keras.optimizers.*", "decay=d",
                  "lr / (1 + d * iterations)", "lr / (1 + d * iterations) (optimizers.legacy), error (optimizers)",
                  "ignored", f"{K224} optimizers.py (initial_decay)", PINNED, ("KM401",),
                  "Keras 3 accepts decay= and ignores it; an exact InverseTimeDecay schedule is written"),
    LegacyDefault("nadam-schedule-decay", "keras.optimizers.Nadam", "schedule_decay=",
                  "momentum schedule 0.96**(0.004*t)", "error", "error",
                  f"{K224} optimizers.py Nadam", REPORTED, ("KM409",),
                  "Keras 3 has a fixed 0.96**t schedule: reported"),
    LegacyDefault("clipnorm", "keras.optimizers.*", "clipnorm=c", "global norm of all gradients",
                  "per variable", "per variable", f"{K224} optimizers.py Optimizer.get_gradients", PINNED, ("KM602",),
                  "Keras 2.2 code: clipnorm= becomes global_clipnorm= (the same clipping)"),
    LegacyDefault("lion-lr", "keras.optimizers.Lion", "learning_rate", "(no such optimizer)", "0.0001", "0.001",
                  "Keras 2.2.4 has no Lion", PINNED, ("KM409",),
                  "tf.keras 2 code: learning_rate=0.0001 written out"),
    # ---- regularizers -----------------------------------------------------------------
    LegacyDefault("l1-l2-defaults", "keras.regularizers.l1_l2", "l1, l2", "0.01, 0.01", "0.01, 0.01", "0, 0",
                  f"{K224} regularizers.py l1_l2", PINNED, ("KM601",),
                  "Keras 2 code: l1=0.01, l2=0.01 written out (Keras 3's l1_l2() regularises nothing)"),
    # ---- activations looked up by name ----------------------------------------------------
    LegacyDefault("custom-activation-name", "get_custom_objects()['gelu'] = f; activation='gelu'",
                  "which function a name means", "the registered function", "the registered function",
                  "the built-in gelu", f"{K224} activations.py get (deserialize with custom objects)",
                  REPORTED, ("KM605",),
                  "Keras 3's activations.get ignores custom objects; reported with what to pass instead"),
    # ---- compile: metrics, losses, weights ------------------------------------------------
    LegacyDefault("acc-binary-multilabel", "compile(loss='binary_crossentropy', metrics=['acc'])",
                  "accuracy of a 3-unit sigmoid output", "binary_accuracy", "categorical_accuracy",
                  "categorical_accuracy", f"{K224} engine/training.py compile (chosen by the loss)", PINNED,
                  ("KM603",), "Keras 2.2 code: keras.metrics.BinaryAccuracy(name='acc') written"),
    LegacyDefault("accuracy-metric-name", "compile(metrics=['accuracy'])", "name in the logs and History",
                  "'acc'", "'accuracy'", "'accuracy'", f"{K224} engine/training.py compile (suffix 'acc')", PINNED,
                  ("KM603",), "Keras 2.2 code: 'accuracy' -> 'acc', so monitor='val_acc' still finds it"),
    LegacyDefault("ce-metric", "compile(metrics=['ce'])", "metric named 'ce' / 'crossentropy'",
                  "chosen by the loss", "chosen by the shapes", "error",
                  f"{K224} engine/training.py compile", PINNED, ("KM603",),
                  "Keras 2.2 code with binary_crossentropy: keras.metrics.BinaryCrossentropy(name='ce'); "
                  "otherwise reported"),
    LegacyDefault("sample-weight-scale", "fit/evaluate(sample_weight=w)", "weighted loss",
                  "sum(w*l) / count(w != 0)", "sum(w*l) / N", "sum(w*l) / N",
                  f"{K224} engine/training_utils.py weighted_masked_objective", REPORTED, ("KM604",),
                  "Keras 2.2 code with sample weights is reported: zero weights scale the loss differently"),
    LegacyDefault("loss-reduction", "keras.losses.*", "default reduction", "(mean over the batch)",
                  "auto = mean", "sum_over_batch_size = mean", f"{K224} engine/training_utils.py", SAME, (),
                  "renamed, same mean"),
    LegacyDefault("sample-weight-mode", "compile(sample_weight_mode='temporal')", "argument",
                  "accepted", "accepted", "error", f"{K224} engine/training.py compile", LOUD, ("KM407",),
                  "Keras 3 takes (batch, time) sample weights without it: remove the argument"),
    LegacyDefault("masked-loss", "Embedding(mask_zero=True) ... loss", "output mask in the loss",
                  "mean over unmasked", "mean over unmasked", "mean over unmasked",
                  f"{K224} engine/training_utils.py weighted_masked_objective", SAME, (),
                  "the mask reaches the loss in all three"),
)

ROWS_BY_ID: dict[str, LegacyDefault] = {r.id: r for r in ROWS}

DOC_PATH = Path(__file__).resolve().parents[2] / "docs" / "legacy_defaults.md"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def render_markdown() -> str:
    """The table as a Markdown page (``docs/legacy_defaults.md``)."""
    lines = [
        "# Defaults and meanings that changed silently",
        "",
        "Generated from `migrate/rewrite/legacy_defaults.py` by "
        "`python -m migrate.rewrite.legacy_defaults`; do not edit by hand.",
        "The tf.keras 2.x and Keras 3 columns are measured by "
        "`tests/migrate/rules/test_legacy_defaults.py` (tf_keras 2.21 and Keras 3);",
        "the Keras 2.2 column is the documented Keras 2.2.4 source. *pinned*: the rewrite writes the "
        "legacy value out; *reported*: reported with what to write; *loud*: Keras 3 raises; "
        "*same*: not a change.",
        "",
        "| row | symbol | what | Keras 2.2 | tf.keras 2.x | Keras 3 | handling | note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in ROWS:
        handling = r.handling + (f" ({', '.join(r.rules)})" if r.rules else "")
        cells = (r.id, f"`{r.symbol}`", r.what, r.keras22, r.tf_keras2, r.keras3, handling, r.note)
        lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    lines += ["", "Sources of the Keras 2.2 column:", ""]
    lines += [f"- {r.id}: {r.source}" for r in ROWS]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render_markdown()
    if args == ["--check"]:
        current = DOC_PATH.read_text(encoding="utf-8") if DOC_PATH.exists() else ""
        if current != text:
            print(f"{DOC_PATH} is stale: run python -m migrate.rewrite.legacy_defaults", file=sys.stderr)
            return 1
        return 0
    DOC_PATH.parent.mkdir(parents=True, exist_ok=True)
    DOC_PATH.write_text(text, encoding="utf-8")
    print(f"wrote {DOC_PATH} ({len(ROWS)} rows)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
