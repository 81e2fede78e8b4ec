"""``modern`` models against their legacy references: inference and training-step time.

Two pairs, each built at the same sizes in one process on this machine:

* the Keras-2.2 blog classifier: ``legacy_ref.keras22.build_model`` (tf_keras,
  legacy Adam) against ``modern.models.build_transformer_classifier`` (Keras 3,
  TensorFlow backend). The legacy weights are copied into the modern model and
  the outputs are checked equal (max abs diff <= 1e-5) before anything is
  timed, so both sides compute the same function;
* the 2021 tutorial Transformer: ``legacy_ref.tutorial.Transformer`` with the
  tutorial's ``tf.function`` train step against
  ``modern.models.seq2seq.Seq2SeqTransformer`` compiled with the Noam schedule
  and the masked loss. Same sizes, independent random weights (timing only).
  Its "greedy decode" phase times the tutorial's ``Translator`` loop on one
  source sequence (``inp_len`` ids, ``max_length`` = the decoder length, an
  end id that is never predicted so both sides decode the same number of
  tokens): ``legacy_ref.tutorial.greedy_decode`` as run in 2021 (eager), the
  same loop calling a ``tf.function`` of the model traced once, and
  ``modern.models.seq2seq.greedy_decode`` (encoder once, key/value caches).

Each timed function is called ``--warmup`` times first (tracing, XLA
compilation and the first-call allocations are excluded), then ``--reps``
repetitions of ``--inner`` calls each; the figure is the median time per call
over the repetitions. Ratios are ``legacy / modern`` (> 1: modern faster),
always against the *fastest* legacy variant measured in the same run.

Every row of a pair is warmed up first, then the repetitions go round-robin
over the rows, so background load hits legacy and modern alike.

Modern training runs ``train_on_batch`` after ``compile`` with
``jit_compile="auto"`` (what Keras chooses by itself; the resolved value is
printed: on a CPU-only TensorFlow it is ``False``), ``True`` (XLA) and
``False``; inference runs ``predict_on_batch`` under the same three settings.
``--breakdown`` adds, on both sides, hand-written ``tf.function`` timings of
the forward pass, forward + backward, the optimizer update and the whole step
(TensorFlow backend only), to show where a step's time goes.

Every run also times each model's matrix products alone (``floor`` rows: the
forward products for inference, plus their two gradient products for the
train step) and prints ``CEILING`` lines, ``fastest legacy / floor``: the
largest ratio any float32 implementation computing every product of the
legacy model could reach on this machine.

The modern side follows ``KERAS_BACKEND`` (``KERAS_BACKEND=jax python
benchmarks/bench_modern.py``); the legacy side always runs on tf_keras.

Usage: python benchmarks/bench_modern.py [--quick] [--reps N] [--only classifier|seq2seq] [--jit auto,true,false]
                                         [--breakdown]
Prints figures only; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

EQUIVALENCE_ATOL = 1e-5
GOAL_PHASES = ("inference", "train step", "greedy decode")


@dataclass
class Timing:
    median_s: float
    min_s: float
    reps: int

    @property
    def ms(self) -> float:
        return self.median_s * 1e3


@dataclass
class Row:
    model: str
    phase: str
    side: str  # "legacy" or "modern"
    variant: str
    fn: Callable[[], Any] = field(repr=False)
    samples: list[float] = field(default_factory=list)

    @property
    def timing(self) -> Timing:
        return Timing(statistics.median(self.samples), min(self.samples), len(self.samples))


def time_rows(rows: list[Row], warmup: int, reps: int, inner: int, log: Callable[[str], None]) -> None:
    """Fill each row's per-call seconds: ``reps`` repetitions of ``inner`` calls, warm-up excluded.

    Every row is warmed up first (tracing and XLA compilation happen there),
    then the repetitions go round-robin over all rows of a pair, so a change
    in background load during the run hits legacy and modern alike instead of
    whichever happened to be measured at that moment.
    """
    for row in rows:
        start = time.perf_counter()
        for _ in range(warmup):
            row.fn()
        log(f"  warmed up {row.model} {row.phase} {row.side} [{row.variant}] in {time.perf_counter() - start:.1f}s")
    for _ in range(reps):
        for row in rows:
            start = time.perf_counter()
            for _ in range(inner):
                row.fn()
            row.samples.append((time.perf_counter() - start) / inner)


def _jit_label(requested: Any, resolved: Any) -> str:
    if requested == "auto":
        return f"jit=auto(->{resolved})"
    return f"jit={requested}"


# --------------------------------------------------------------------------
# Classifier (Keras-2.2 blog post)
# --------------------------------------------------------------------------


def classifier_sizes(args: argparse.Namespace) -> dict[str, int]:
    """The classifier's ``build_model`` / ``build_transformer_classifier`` size arguments."""
    return dict(vocab_size=args.vocab, max_len=args.max_len, model_dim=args.model_dim,
                head_num=args.heads, num_blocks=args.blocks, num_class=2)


def bench_classifier(args: argparse.Namespace, log: Callable[[str], None]) -> list[Row]:
    import numpy as np
    import tensorflow as tf
    import tf_keras

    from legacy_ref import keras22
    from modern.models import LegacyAdam, build_transformer_classifier

    sizes = classifier_sizes(args)
    log(f"classifier sizes: {sizes}, ffn_dim=4*model_dim, batch={args.batch}, dropout=0.1")

    rng = np.random.default_rng(0)
    x = rng.integers(1, args.vocab, size=(args.batch, args.max_len)).astype("int32")
    y = np.eye(2, dtype="float32")[rng.integers(0, 2, size=args.batch)]

    tf_keras.backend.clear_session()
    tf_keras.utils.set_random_seed(0)
    legacy = keras22.build_model(**sizes, compile=True)
    legacy_weights = legacy.get_weights()

    def modern_model(jit: Any) -> Any:
        model = build_transformer_classifier(**sizes, compile=False)
        modern_weights = model.get_weights()
        if [w.shape for w in modern_weights] != [w.shape for w in legacy_weights]:
            raise SystemExit(
                "classifier: legacy and modern weight lists differ in order or shape: "
                f"{[w.shape for w in legacy_weights]} vs {[w.shape for w in modern_weights]}"
            )
        model.set_weights(legacy_weights)
        # The optimizer, loss and metric of build_transformer_classifier(compile=True),
        # with the XLA setting under test.
        model.compile(
            loss="categorical_crossentropy",
            optimizer=LegacyAdam(learning_rate=5e-5, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
            metrics=["acc"],
            jit_compile=jit,
        )
        return model

    models = {jit: modern_model(jit) for jit in args.jit_modes}
    # Apples to apples: the same function, checked before anything is timed.
    expected = legacy.predict_on_batch(x)
    for jit, model in models.items():
        diff = float(np.max(np.abs(expected - model.predict_on_batch(x))))
        log(f"classifier: legacy vs modern [{_jit_label(jit, model.jit_compile)}] max abs diff on the timed "
            f"batch = {diff:.2e} (limit {EQUIVALENCE_ATOL:g})")
        if not diff <= EQUIVALENCE_ATOL:
            raise SystemExit(f"classifier: modern differs from legacy by {diff:.3g}; refusing to compare timings")

    name = "classifier"
    x_tensor = tf.constant(x)
    legacy_call = tf.function(lambda t: legacy(t, training=False))
    rows = [
        # What a 2021 user called, and the fastest thing they could have written.
        Row(name, "inference", "legacy", "predict_on_batch", lambda: legacy.predict_on_batch(x)),
        Row(name, "inference", "legacy", "tf.function(call)", lambda: legacy_call(x_tensor).numpy()),
        # train_on_batch: a tf.function without XLA, legacy Adam.
        Row(name, "train step", "legacy", "train_on_batch", lambda: legacy.train_on_batch(x, y)),
    ]
    for jit, model in models.items():
        label = _jit_label(jit, model.jit_compile)
        rows.append(Row(name, "inference", "modern", f"predict_on_batch {label}",
                        lambda model=model: model.predict_on_batch(x)))
        rows.append(Row(name, "train step", "modern", f"train_on_batch {label}",
                        lambda model=model: model.train_on_batch(x, y)))
    if args.breakdown:
        import keras

        y_tensor = tf.constant(y)
        old = keras22.build_model(**sizes, compile=False)
        old_optimizer = tf_keras.optimizers.legacy.Adam(learning_rate=5e-5)
        rows += breakdown_rows(
            name, "legacy", lambda: old(x_tensor, training=True),
            lambda out: tf.reduce_mean(tf_keras.losses.categorical_crossentropy(y_tensor, out)),
            old.trainable_variables,
            lambda grads: old_optimizer.apply_gradients(zip(grads, old.trainable_variables)),
        )
        new = build_transformer_classifier(**sizes, compile=False)
        new_optimizer = LegacyAdam(learning_rate=5e-5, beta_1=0.9, beta_2=0.999, epsilon=1e-7)
        new_optimizer.build(new.trainable_variables)
        rows += breakdown_rows(
            name, "modern", lambda: new(x_tensor, training=True),
            lambda out: keras.ops.mean(keras.losses.categorical_crossentropy(y_tensor, out)),
            new.trainable_variables,
            lambda grads: new_optimizer.apply_gradients(zip(grads, new.trainable_variables)),
        )
    rows += matmul_floor_rows(name, classifier_matmuls(args))
    return rows


# --------------------------------------------------------------------------
# Seq2seq (2021 TensorFlow tutorial)
# --------------------------------------------------------------------------


def _token_batch(rng: Any, batch: int, length: int, vocab: int) -> Any:
    """Ids in [1, vocab) with a random amount of trailing padding (0) per row, as real batches have."""
    import numpy as np

    ids = rng.integers(1, vocab, size=(batch, length))
    lengths = rng.integers(max(2, length // 2), length + 1, size=batch)
    ids[np.arange(length)[None, :] >= lengths[:, None]] = 0
    return ids


def seq2seq_sizes(args: argparse.Namespace) -> dict[str, Any]:
    """The tutorial ``Transformer`` / ``Seq2SeqTransformer`` constructor arguments."""
    return dict(
        num_layers=args.s2s_layers, d_model=args.d_model, num_heads=args.s2s_heads, dff=args.dff,
        input_vocab_size=args.s2s_vocab, target_vocab_size=args.s2s_vocab,
        pe_input=max(1000, args.inp_len), pe_target=max(1000, args.tar_len + 1), rate=0.1,
    )


def bench_seq2seq(args: argparse.Namespace, log: Callable[[str], None]) -> list[Row]:
    import keras
    import numpy as np
    import tensorflow as tf
    import tf_keras

    from legacy_ref import tutorial
    from modern.losses import masked_accuracy, masked_sparse_categorical_crossentropy
    from modern.models.seq2seq import Seq2SeqTransformer, _probes, greedy_decode
    from modern.schedules_noam import NoamSchedule

    sizes = seq2seq_sizes(args)
    log(f"seq2seq sizes: {sizes}, batch={args.batch}, inp_len={args.inp_len}, decoder length={args.tar_len} "
        f"(target ids {args.tar_len + 1} long, shifted by one); random weights, not shared (timing only)")

    rng = np.random.default_rng(1)
    inp = _token_batch(rng, args.batch, args.inp_len, args.s2s_vocab)
    tar = _token_batch(rng, args.batch, args.tar_len + 1, args.s2s_vocab)
    tar[:, 0] = 1  # a start token: every target row has at least one real position to score
    inp64, tar64 = tf.constant(inp, tf.int64), tf.constant(tar, tf.int64)
    tar_in64 = tar64[:, :-1]
    inp32, tar_in32, tar_out32 = inp.astype("int32"), tar[:, :-1].astype("int32"), tar[:, 1:].astype("int32")

    tf_keras.backend.clear_session()
    tf.random.set_seed(0)
    legacy = tutorial.Transformer(**sizes)
    legacy([inp64, tar_in64], training=False)  # builds the variables
    optimizer = tutorial.make_optimizer(args.d_model)
    train_step, _, _ = tutorial.make_train_step(legacy, optimizer)
    legacy_call = tf.function(lambda a, b: legacy([a, b], training=False)[0])

    name = "seq2seq"
    rows = [
        # The 2021 tutorial called the model eagerly when translating; a
        # tf.function of the same call is the fastest a 2021 user could write.
        Row(name, "inference", "legacy", "eager call", lambda: legacy([inp64, tar_in64], training=False)[0].numpy()),
        Row(name, "inference", "legacy", "tf.function(call)", lambda: legacy_call(inp64, tar_in64).numpy()),
        Row(name, "train step", "legacy", "tutorial tf.function train_step", lambda: train_step(inp64, tar64).numpy()),
    ]
    models = {}
    for jit in args.jit_modes:
        keras.utils.set_random_seed(0)
        model = models[jit] = Seq2SeqTransformer(**sizes)
        model((inp32, tar_in32), training=False)
        model.compile(
            optimizer=keras.optimizers.Adam(NoamSchedule(args.d_model), beta_1=0.9, beta_2=0.98, epsilon=1e-9),
            loss=masked_sparse_categorical_crossentropy,
            metrics=[masked_accuracy],
            jit_compile=jit,
        )
        label = _jit_label(jit, model.jit_compile)
        rows.append(Row(name, "inference", "modern", f"predict_on_batch {label}",
                        lambda model=model: model.predict_on_batch((inp32, tar_in32))))
        rows.append(Row(name, "train step", "modern", f"train_on_batch {label}",
                        lambda model=model: model.train_on_batch((inp32, tar_in32), tar_out32)))
    rows += greedy_decode_rows(args, rng, legacy, models, tutorial.greedy_decode, greedy_decode, _probes)
    if args.breakdown:
        tar_out64 = tar64[:, 1:]
        old = tutorial.Transformer(**sizes)
        old([inp64, tar_in64], training=False)
        old_optimizer = tutorial.make_optimizer(args.d_model)
        rows += breakdown_rows(
            name, "legacy", lambda: old([inp64, tar_in64], training=True)[0],
            lambda out: tutorial.loss_function(tar_out64, out),
            old.trainable_variables,
            lambda grads: old_optimizer.apply_gradients(zip(grads, old.trainable_variables)),
        )
        new = Seq2SeqTransformer(**sizes)
        new((inp32, tar_in32), training=False)
        new_optimizer = keras.optimizers.Adam(NoamSchedule(args.d_model), beta_1=0.9, beta_2=0.98, epsilon=1e-9)
        new_optimizer.build(new.trainable_variables)
        inp_t, tar_in_t, tar_out_t = tf.constant(inp32), tf.constant(tar_in32), tf.constant(tar_out32)
        rows += breakdown_rows(
            name, "modern", lambda: new((inp_t, tar_in_t), training=True),
            lambda out: masked_sparse_categorical_crossentropy(tar_out_t, out),
            new.trainable_variables,
            lambda grads: new_optimizer.apply_gradients(zip(grads, new.trainable_variables)),
        )
    rows += matmul_floor_rows(name, seq2seq_matmuls(args))
    return rows


def greedy_decode_rows(args: argparse.Namespace, rng: Any, legacy: Any, models: dict[Any, Any],
                       legacy_decode: Callable[..., Any], modern_decode: Callable[..., Any],
                       probes: Callable[[Any], Any]) -> list[Row]:
    """Rows timing the tutorial's greedy ``Translator`` loop on one source sequence (batch 1).

    ``max_length`` is the decoder length of the other seq2seq phases and the
    end id (-1) is never predicted, so every call decodes exactly that many
    tokens on both sides (checked before timing), whatever the random
    weights predict. ``models`` maps each jit setting to a modern model; its
    decoding probes get that ``jit_compile`` (``"auto"`` leaves Keras'
    choice, which is what ``greedy_decode`` runs with).
    """
    import numpy as np
    import tensorflow as tf

    start_id, end_id, max_length = 1, -1, args.tar_len
    source = rng.integers(1, args.s2s_vocab, size=(1, args.inp_len))
    source64, source32 = tf.constant(source, tf.int64), source.astype("int32")
    # One trace for every length: the decoder input grows by one id per step.
    call = tf.function(
        lambda inp, tar: legacy([inp, tar], training=False),
        input_signature=[tf.TensorSpec((1, None), tf.int64), tf.TensorSpec((1, None), tf.int64)],
    )

    def legacy_traced() -> Any:
        # legacy_ref.tutorial.greedy_decode's loop, unchanged but for the compiled model call.
        output = tf.constant([[start_id]], tf.int64)
        for _ in range(max_length):
            predictions, _ = call(source64, output)
            predicted = tf.argmax(predictions[:, -1:, :], axis=-1)
            output = tf.concat([output, predicted], axis=1)
            if int(predicted[0, 0]) == end_id:
                break
        _, attention = call(source64, output[:, :-1])
        return output, attention

    name, phase = "seq2seq", "greedy decode"
    rows = [
        Row(name, phase, "legacy", "tutorial.greedy_decode (eager)",
            lambda: legacy_decode(legacy, source64, start_id, end_id, max_length=max_length)),
        Row(name, phase, "legacy", "same loop, tf.function(call) traced once", legacy_traced),
    ]
    for jit, model in models.items():
        model_probes = probes(model)
        if jit != "auto":
            model_probes.encode.jit_compile = model_probes.loop.jit_compile = jit
        label = _jit_label(jit, model_probes.loop.jit_compile)
        rows.append(Row(name, phase, "modern", f"greedy_decode (cached) {label}",
                        lambda model=model: modern_decode(model, source32, start_id, end_id, max_length=max_length)))
    for row in rows:
        ids = np.asarray(row.fn()[0])
        if ids.shape != (1, max_length + 1):
            raise SystemExit(f"seq2seq greedy decode [{row.variant}]: ids of shape {ids.shape}, expected "
                             f"(1, {max_length + 1}); refusing to compare timings")
    return rows


# --------------------------------------------------------------------------
# Breakdown: where a training step's time goes
# --------------------------------------------------------------------------


def breakdown_rows(model_name: str, side: str, forward: Callable[[], Any], loss_of: Callable[[Any], Any],
                   variables: list[Any], apply_gradients: Callable[[list[Any]], Any]) -> list[Row]:
    """Rows timing the parts of one training step, each its own ``tf.function`` (no XLA).

    ``forward`` runs the model with ``training=True``; ``loss_of`` maps its
    output to the scalar loss; ``apply_gradients`` applies a list of
    gradients (one per variable) with the side's own optimizer. Gradients
    for the optimizer row are computed once and reused, keeping their real
    structure (``IndexedSlices`` for embeddings).
    """
    import tensorflow as tf

    forward_fn = tf.function(forward)

    def gradients() -> list[Any]:
        with tf.GradientTape() as tape:
            loss = loss_of(forward())
        return tape.gradient(loss, variables)

    gradients_fn = tf.function(gradients)
    fixed = gradients_fn()
    @tf.function
    def apply_fn() -> None:
        apply_gradients(fixed)

    @tf.function
    def step() -> None:
        apply_gradients(gradients())

    return [
        Row(model_name, "forward", side, "tf.function(training=True)", forward_fn),
        Row(model_name, "fwd+bwd", side, "tf.function(tape.gradient)", gradients_fn),
        Row(model_name, "optimizer", side, "tf.function(apply_gradients)", apply_fn),
        Row(model_name, "hand step", side, "tf.function(fwd+bwd+apply)", step),
    ]


def matmul_floor_rows(model_name: str, shapes: list[tuple[tuple[int, ...], tuple[int, ...]]]) -> list[Row]:
    """Rows timing only the matrix products of the model (same shapes, random data, one ``tf.function`` each).

    The "inference" floor runs the forward pass's products ``A @ B``; the
    "train step" floor adds, for each, the two products of its gradients
    (``G @ B^T`` and ``A^T @ G``, with ``G`` shaped like ``A @ B``), which
    backpropagation computes. Everything else (bias, activations, softmax,
    normalisation, dropout, the loss, the optimizer, reshapes) is left out,
    so on this machine at this moment no implementation that computes every
    product of the legacy model, with these float32 kernels, can be faster:
    ``fastest legacy / floor`` is the ceiling of the speed-up ratio. The rows
    are timed round-robin with the model rows.
    """
    import tensorflow as tf

    operands = [(tf.random.uniform(a), tf.random.uniform(b)) for a, b in shapes]
    upstream = [tf.random.uniform(a[:-1] + b[-1:]) for a, b in shapes]
    flops = sum(2 * _prod(a) * b[-1] for a, b in shapes)

    @tf.function
    def forward() -> list[Any]:
        return [tf.matmul(a, b) for a, b in operands]

    @tf.function
    def forward_and_backward() -> list[Any]:
        products = []
        for (a, b), g in zip(operands, upstream):
            products += [tf.matmul(a, b), tf.matmul(g, b, transpose_b=True), tf.matmul(a, g, transpose_a=True)]
        return products

    return [
        Row(model_name, "inference", "floor", f"matmuls only ({flops / 1e9:.3g} GFLOP)", forward),
        Row(model_name, "train step", "floor", f"matmuls only, fwd+bwd ({3 * flops / 1e9:.3g} GFLOP)",
            forward_and_backward),
    ]


def _prod(shape: tuple[int, ...]) -> int:
    result = 1
    for dim in shape:
        result *= dim
    return result


def classifier_matmuls(args: argparse.Namespace) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    tokens, d, ffn = args.batch * args.max_len, args.model_dim, 4 * args.model_dim
    heads, length = args.batch * args.heads, args.max_len
    block = [((tokens, d), (d, d))] * 4 + [
        ((heads, length, d // args.heads), (heads, d // args.heads, length)),  # q k^T
        ((heads, length, length), (heads, length, d // args.heads)),  # weights v
        ((tokens, d), (d, ffn)),
        ((tokens, ffn), (ffn, d)),
    ]
    return block * args.blocks


def seq2seq_matmuls(args: argparse.Namespace) -> list[tuple[tuple[int, ...], tuple[int, ...]]]:
    d, dff, hd = args.d_model, args.dff, args.d_model // args.s2s_heads
    src, tgt = args.batch * args.inp_len, args.batch * args.tar_len
    heads, s_len, t_len = args.batch * args.s2s_heads, args.inp_len, args.tar_len
    ffn = [((src, d), (d, dff)), ((src, dff), (dff, d))]
    encoder = [((src, d), (d, d))] * 4 + [
        ((heads, s_len, hd), (heads, hd, s_len)), ((heads, s_len, s_len), (heads, s_len, hd)),
    ] + ffn
    decoder = [((tgt, d), (d, d))] * 6 + [((src, d), (d, d))] * 2 + [
        ((heads, t_len, hd), (heads, hd, t_len)), ((heads, t_len, t_len), (heads, t_len, hd)),
        ((heads, t_len, hd), (heads, hd, s_len)), ((heads, t_len, s_len), (heads, s_len, hd)),
        ((tgt, d), (d, dff)), ((tgt, dff), (dff, d)),
    ]
    return encoder * args.s2s_layers + decoder * args.s2s_layers + [((tgt, d), (d, args.s2s_vocab))]


# --------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------


def print_report(rows: list[Row], goal: float, out: Callable[[str], None] = print) -> None:
    out("")
    out(f"{'model':<11} {'phase':<13} {'side':<7} {'variant':<44} {'median ms':>10} {'min ms':>9}")
    out("-" * 98)
    for row in rows:
        out(f"{row.model:<11} {row.phase:<13} {row.side:<7} {row.variant:<44} "
            f"{row.timing.ms:>10.2f} {row.timing.min_s * 1e3:>9.2f}")
    out("")
    out(f"timing: median (and min) of {rows[0].timing.reps if rows else 0} round-robin repetitions per row.")
    out("")
    out("ratios legacy/modern (>1: modern faster), each against the fastest legacy variant of the same phase:")
    met_all = True
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in rows:
        groups.setdefault((row.model, row.phase), []).append(row)
    for (model, phase), group in groups.items():
        legacy = [r for r in group if r.side == "legacy"]
        modern = [r for r in group if r.side == "modern"]
        if not legacy or not modern:
            continue
        best_legacy = min(legacy, key=lambda r: r.timing.median_s)
        best_modern = min(modern, key=lambda r: r.timing.median_s)
        fastest_legacy_min = min(r.timing.min_s for r in legacy)
        for row in modern:
            ratio = best_legacy.timing.median_s / row.timing.median_s
            out(f"RATIO {model} {phase}: {ratio:.2f}x  modern [{row.variant}] vs legacy [{best_legacy.variant}]"
                f"  (on min times: {fastest_legacy_min / row.timing.min_s:.2f}x)")
        floor = next((r for r in group if r.side == "floor"), None)
        if floor is not None:
            out(f"CEILING {model} {phase}: {best_legacy.timing.median_s / floor.timing.median_s:.2f}x "
                f"(on min times {fastest_legacy_min / floor.timing.min_s:.2f}x) = fastest legacy / its matrix "
                f"products alone [{floor.variant}]: the most any float32 implementation computing every product "
                "of the legacy model could reach here")
        if phase not in GOAL_PHASES:
            continue
        best_ratio = best_legacy.timing.median_s / best_modern.timing.median_s
        default = next((r for r in modern if "jit=auto" in r.variant), best_modern)
        default_ratio = best_legacy.timing.median_s / default.timing.median_s
        default_min_ratio = fastest_legacy_min / default.timing.min_s
        met = default_ratio >= goal
        met_all &= met
        out(f"GOAL {model} {phase}: default modern {default_ratio:.2f}x (on min times {default_min_ratio:.2f}x), "
            f"best modern {best_ratio:.2f}x ({best_modern.variant}); goal >= {goal:g}x {'MET' if met else 'NOT MET'}")
    out(f"GOAL overall (default jit mode, every model and phase >= {goal:g}x): {'MET' if met_all else 'NOT MET'}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes and few repetitions (smoke test)")
    parser.add_argument("--only", choices=("classifier", "seq2seq"), help="run one of the two pairs")
    parser.add_argument("--reps", type=int, default=7, help="timed repetitions; the median is reported (default 7)")
    parser.add_argument("--inner", type=int, default=3, help="calls per repetition (default 3)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed calls before timing (default 3)")
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--jit", default=None,
                        help="comma-separated jit_compile settings for the modern models: auto,true,false "
                             "(default all three; --quick: auto)")
    parser.add_argument("--breakdown", action="store_true",
                        help="also time the parts of a training step (forward, backward, optimizer) on both sides")
    parser.add_argument("--threads", type=int, default=0,
                        help="TF intra/inter-op threads (0: TensorFlow's default, all cores)")
    parser.add_argument("--goal", type=float, default=1.5, help="speed-up the project aims for (default 1.5)")
    group = parser.add_argument_group("classifier sizes")
    group.add_argument("--vocab", type=int, default=8000)
    group.add_argument("--max-len", type=int, default=128)
    group.add_argument("--model-dim", type=int, default=128)
    group.add_argument("--heads", type=int, default=4)
    group.add_argument("--blocks", type=int, default=4)
    group = parser.add_argument_group("seq2seq sizes")
    group.add_argument("--s2s-layers", type=int, default=2)
    group.add_argument("--d-model", type=int, default=128)
    group.add_argument("--s2s-heads", type=int, default=8)
    group.add_argument("--dff", type=int, default=512)
    group.add_argument("--s2s-vocab", type=int, default=8000)
    group.add_argument("--inp-len", type=int, default=40)
    group.add_argument("--tar-len", type=int, default=38)
    args = parser.parse_args(argv)
    if args.quick:
        args.reps, args.inner, args.warmup, args.batch = 2, 1, 1, 4
        args.vocab, args.max_len, args.model_dim, args.heads, args.blocks = 50, 12, 16, 2, 2
        args.s2s_layers, args.d_model, args.s2s_heads, args.dff = 1, 16, 2, 32
        args.s2s_vocab, args.inp_len, args.tar_len = 50, 10, 9
    if args.jit is None:
        args.jit = "auto" if args.quick else "auto,true,false"
    choices = {"auto": "auto", "true": True, "false": False}
    try:
        args.jit_modes = tuple(dict.fromkeys(choices[m.strip().lower()] for m in args.jit.split(",")))
    except KeyError as exc:
        parser.error(f"--jit: unknown setting {exc}; use auto, true, false")
    return args


def main(argv: list[str] | None = None) -> list[Row]:
    args = parse_args(argv)
    started = time.perf_counter()

    def log(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f}s] {message}", flush=True)

    import tensorflow as tf

    if args.threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(args.threads)
            tf.config.threading.set_inter_op_parallelism_threads(args.threads)
        except RuntimeError as exc:  # TensorFlow already initialised in this process
            print(f"--threads ignored: {exc}")
    import keras
    import tf_keras

    if args.breakdown and keras.backend.backend() != "tensorflow":
        print(f"--breakdown ignored: it times tf.function pieces, and Keras runs on {keras.backend.backend()}")
        args.breakdown = False

    print("command: " + " ".join(["python", "benchmarks/bench_modern.py", *(sys.argv[1:] if argv is None else argv)]))
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, {platform.platform()}; "
          f"python {platform.python_version()}, TF {tf.__version__}, tf_keras {tf_keras.__version__}, "
          f"Keras {keras.__version__} (backend {keras.backend.backend()}); "
          f"GPUs visible to TF: {len(tf.config.list_physical_devices('GPU'))}")
    print(f"timing: {args.warmup} warm-up calls, then median of {args.reps} repetitions x {args.inner} calls")

    print(f"load average before: {_loadavg()}")
    rows: list[Row] = []
    for which, bench in (("classifier", bench_classifier), ("seq2seq", bench_seq2seq)):
        if args.only not in (None, which):
            continue
        pair = bench(args, log)
        time_rows(pair, args.warmup, args.reps, args.inner, log)
        log(f"{which}: timed")
        rows += pair
        del pair
        keras.backend.clear_session()
        tf_keras.backend.clear_session()
    print(f"load average after: {_loadavg()}")
    print_report(rows, args.goal)
    log("total")
    return rows


def _loadavg() -> str:
    try:
        return " ".join(f"{v:.2f}" for v in os.getloadavg()) + f" (1/5/15 min, {os.cpu_count()} cores)"
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()
