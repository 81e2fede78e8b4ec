"""A/B timings of single parts of the modern training steps (what a part costs, measured whole).

Each experiment builds several copies of one model that differ in exactly
one part and times their ``train_on_batch`` round-robin in one process (the
timing helpers of ``bench_modern.py``), at the sizes of ``bench_modern.py``:

* ``metric``: the seq2seq Transformer trained with ``masked_accuracy``
  (``top_k`` on TensorFlow), with the same metric written with
  ``keras.ops.argmax``, and with no metric;
* ``optimizer``: the classifier with ``LegacyAdam``, Keras ``Adam`` and ``SGD``;
* ``dropout``: the classifier, legacy and modern, with ``dropout=0.1`` and ``0.0``;
* ``kernels`` (TensorFlow backend): the attention core, one multi-head
  projection and the accuracy's argmax, each in the form ``modern`` uses on
  TensorFlow against the Keras op it replaces.

Usage: python benchmarks/ab_modern_parts.py [--only metric|optimizer|dropout|kernels] [--reps N]
Prints figures only; nothing here asserts a timing.
"""

from __future__ import annotations

import argparse
import functools
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_modern  # noqa: E402  (after the path set-up)

# The sizes, batches and settings of bench_modern.py, from its own defaults.
DEFAULTS = bench_modern.parse_args([])
CLASSIFIER = bench_modern.classifier_sizes(DEFAULTS)
SEQ2SEQ = bench_modern.seq2seq_sizes(DEFAULTS)


def _train_row(model_name, side, label, model, x, y):
    return bench_modern.Row(model_name, "train step", side, label, lambda: model.train_on_batch(x, y))


def _classifier_batch():
    import numpy as np

    rng = np.random.default_rng(0)
    x = rng.integers(1, DEFAULTS.vocab, size=(DEFAULTS.batch, DEFAULTS.max_len)).astype("int32")
    y = np.eye(2, dtype="float32")[rng.integers(0, 2, size=DEFAULTS.batch)]
    return x, y


def metric_rows():
    import keras
    import numpy as np
    from keras import ops

    from modern.losses import _real_and_mask, masked_accuracy, masked_sparse_categorical_crossentropy
    from modern.models.seq2seq import Seq2SeqTransformer
    from modern.schedules_noam import NoamSchedule

    def accuracy_with_keras_argmax(real, pred):
        real, mask = _real_and_mask(real)
        predicted = ops.cast(ops.argmax(pred, axis=-1), "int32")
        hits = ops.cast(ops.logical_and(mask, ops.equal(real, predicted)), "float32")
        return ops.divide(ops.sum(hits), ops.sum(ops.cast(mask, "float32")))

    rng = np.random.default_rng(1)
    inp = bench_modern._token_batch(rng, DEFAULTS.batch, DEFAULTS.inp_len, DEFAULTS.s2s_vocab)
    tar = bench_modern._token_batch(rng, DEFAULTS.batch, DEFAULTS.tar_len + 1, DEFAULTS.s2s_vocab)
    tar[:, 0] = 1
    x, y = (inp.astype("int32"), tar[:, :-1].astype("int32")), tar[:, 1:].astype("int32")
    rows = []
    for label, metrics in (
        ("masked_accuracy (top_k on TF)", [masked_accuracy]),
        ("same with keras.ops.argmax", [accuracy_with_keras_argmax]),
        ("no metric", []),
    ):
        model = Seq2SeqTransformer(**SEQ2SEQ)
        model(x)
        model.compile(
            optimizer=keras.optimizers.Adam(NoamSchedule(DEFAULTS.d_model), beta_1=0.9, beta_2=0.98, epsilon=1e-9),
            loss=masked_sparse_categorical_crossentropy,
            metrics=metrics,
        )
        rows.append(_train_row("seq2seq", "modern", label, model, x, y))
    return rows


def optimizer_rows():
    import keras

    from modern.models import LegacyAdam, build_transformer_classifier

    x, y = _classifier_batch()
    rows = []
    for label, make in (
        ("LegacyAdam", lambda: LegacyAdam(5e-5, epsilon=1e-7)),
        ("keras Adam", lambda: keras.optimizers.Adam(5e-5, epsilon=1e-7)),
        ("SGD", lambda: keras.optimizers.SGD(5e-5)),
    ):
        model = build_transformer_classifier(**CLASSIFIER, compile=False)
        model.compile(loss="categorical_crossentropy", optimizer=make(), metrics=["acc"])
        rows.append(_train_row("classifier", "modern", label, model, x, y))
    return rows


def dropout_rows():
    from legacy_ref import keras22
    from modern.models import build_transformer_classifier

    x, y = _classifier_batch()
    rows = []
    for rate in (0.1, 0.0):
        rows.append(_train_row("classifier", "legacy", f"dropout={rate}", keras22.build_model(**CLASSIFIER, dropout=rate),
                               x, y))
        rows.append(_train_row("classifier", "modern", f"dropout={rate}",
                               build_transformer_classifier(**CLASSIFIER, dropout=rate), x, y))
    return rows


def _timed_gradients(fn, *operands, variables=()):
    """A ``tf.function`` of ``fn`` and of the gradients of ``sum(fn(...)^2)`` w.r.t. operands and ``variables``."""
    import tensorflow as tf

    @tf.function
    def forward_backward():
        with tf.GradientTape() as tape:
            tape.watch(operands)
            out = fn(*operands)
            loss = tf.reduce_sum(out * out)
        return tape.gradient(loss, [*operands, *variables])

    return forward_backward


def kernel_rows():
    """The TensorFlow forms this round chose, each against the Keras op it replaces (forward + backward)."""
    import keras
    import tensorflow as tf
    from keras import ops

    from modern.layers._attention_kernel import FlatMatmulEinsumDense, dot_product_attention

    rows = []
    for shape in ((32, 128, 4, 32), (32, 40, 8, 16)):
        q, k, v = (tf.random.normal(shape) for _ in range(3))
        bias = tf.zeros((shape[0], 1, 1, shape[1]))
        scale = shape[-1] ** -0.5
        for label, fn in (
            ("keras.ops.dot_product_attention", ops.dot_product_attention),
            ("modern dot_product_attention", dot_product_attention),
        ):
            # Bind this shape's bias and scale now (the loop rebinds the names).
            fn = functools.partial(fn, bias=bias, scale=scale)
            rows.append(bench_modern.Row(f"attention {shape}", "fwd+bwd", "kernel", label,
                                         _timed_gradients(fn, q, k, v)))
    x = tf.random.normal((32, 40, 128))
    for label, layer_class in (("EinsumDense", keras.layers.EinsumDense), ("FlatMatmulEinsumDense", FlatMatmulEinsumDense)):
        layer = layer_class("abc,cde->abde", (None, 8, 16), bias_axes="de")
        layer.build(x.shape)
        rows.append(bench_modern.Row("projection (32,40,128)->(8,16)", "fwd+bwd", "kernel", label,
                                     _timed_gradients(layer, x, variables=layer.trainable_variables)))
    logits = tf.random.normal((32, 38, 8000))
    for label, fn in (
        ("keras.ops.argmax", lambda t: ops.argmax(t, axis=-1)),
        ("tf.argmax", lambda t: tf.argmax(t, axis=-1)),
        ("keras.ops.top_k(k=1)", lambda t: ops.top_k(t, k=1, sorted=False)[1]),
    ):
        rows.append(bench_modern.Row("argmax (32,38,8000)", "forward", "kernel", label, tf.function(lambda fn=fn: fn(logits))))
    return rows


EXPERIMENTS = {"metric": metric_rows, "optimizer": optimizer_rows, "dropout": dropout_rows, "kernels": kernel_rows}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=sorted(EXPERIMENTS), action="append")
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--inner", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3)
    args = parser.parse_args(argv)
    print("command: " + " ".join(["python", "benchmarks/ab_modern_parts.py", *(sys.argv[1:] if argv is None else argv)]))
    for name in args.only or list(EXPERIMENTS):
        rows = EXPERIMENTS[name]()
        bench_modern.time_rows(rows, args.warmup, args.reps, args.inner, lambda message: None)
        what = "calls" if name == "kernels" else "train_on_batch steps"
        print(f"\n{name}: median (min) of {args.reps} round-robin repetitions x {args.inner} {what}")
        for row in rows:
            print(f"  {row.model:<30} {row.side:<7} {row.variant:<32} {row.timing.ms:8.3f} ({row.timing.min_s * 1e3:.3f}) ms")


if __name__ == "__main__":
    main()
