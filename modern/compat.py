"""Keras 2 backend semantics written with ``keras.ops``, for migrated code.

``migrate rewrite`` calls these where a legacy ``keras.backend`` function has
no single ``keras.ops`` expression for what the code shows (for example
``K.batch_dot`` on tensors whose ranks are known only when the graph is
traced). Each function reproduces the tf_keras 2.x / Keras 2.2 behaviour
exactly and runs on every Keras 3 backend. Public ``keras`` API only.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import ops

__all__ = [
    "batch_dot",
    "switch",
    "l2_normalize",
    "legacy_hard_sigmoid",
    "predict_classes",
    "Add",
    "Subtract",
    "Multiply",
    "Average",
    "Maximum",
    "Minimum",
    "Tokenizer",
    "text_to_word_sequence",
    "one_hot",
    "hashing_trick",
    "legacy_batches",
]


def batch_dot(x, y, axes=None):
    """Batch-wise dot product with Keras 2 ``K.batch_dot`` semantics.

    Args:
        x: Tensor of rank >= 2, batch axis first.
        y: Tensor of rank >= 2 with the same batch size.
        axes: ``None`` (last axis of ``x`` with the second-to-last axis of ``y``,
            or the last axis of ``y`` when it is rank 2), an int used for both,
            or a pair ``(axis_x, axis_y)``. Axis 0 (the batch) cannot be reduced.

    Returns:
        A tensor whose shape is the batch axis, the remaining axes of ``x`` and
        the remaining axes of ``y``; when both inputs are rank 2 the result is
        ``(batch, 1)``, as in Keras 2.
    """
    x_rank = len(x.shape)
    y_rank = len(y.shape)
    if x_rank < 2 or y_rank < 2:
        raise ValueError(f"batch_dot needs inputs of rank >= 2, got shapes {x.shape} and {y.shape}")
    if isinstance(axes, int):
        axes = (axes, axes)
    if axes is None:
        axes = (x_rank - 1, y_rank - 1 if y_rank == 2 else y_rank - 2)
    if len(axes) != 2 or any(isinstance(a, (list, tuple)) for a in axes):
        raise ValueError(f"batch_dot supports one axis per input, got axes={axes}")
    a0, a1 = (int(axes[0]), int(axes[1]))
    a0 = a0 + x_rank if a0 < 0 else a0
    a1 = a1 + y_rank if a1 < 0 else a1
    if a0 == 0 or a1 == 0:
        raise ValueError("batch_dot cannot reduce the batch axis 0")
    letters = "ijklmnopqrstuvwxyz"
    xs = ["b", *letters[: x_rank - 1]]
    ys = ["b", *letters[x_rank - 1: x_rank + y_rank - 2]]
    ys[a1] = xs[a0]
    out = ["b"] + [c for i, c in enumerate(xs) if i not in (0, a0)] + [
        c for i, c in enumerate(ys) if i not in (0, a1)]
    if x_rank == 3 and y_rank == 3 and (a0, a1) == (2, 1):
        result = ops.matmul(x, y)
    else:
        result = ops.einsum(f"{''.join(xs)},{''.join(ys)}->{''.join(out)}", x, y)
    if x_rank == 2 and y_rank == 2:
        result = ops.expand_dims(result, axis=-1)
    return result


def batch_dot_keras22(x, y, axes=None):
    """Keras 2.2.4's ``K.batch_dot`` (TensorFlow backend), for code written against Keras 2.2.

    Keras 2.3 gave ``batch_dot`` its later meaning (:func:`batch_dot`: the result has the
    remaining axes of ``x``, then of ``y``). Keras 2.2.4 instead padded the operand of
    lower rank with trailing axes of size 1, multiplied the two with a batched
    ``matmul`` (transposing the last two axes of ``x`` unless ``axes[0]`` is its last
    axis, and those of ``y`` when ``axes[1]`` is its last axis), squeezed the padding
    out again and gave a rank-1 result a trailing axis. The two agree on inputs of equal
    rank 2 or 3; on rank 4 and more, 2.2.4 treats the leading axes as batch axes of the
    matmul (``(b, h, n, d) x (b, h, d, m) -> (b, h, n, m)`` for ``axes=(3, 2)``, where
    2.3 gives ``(b, h, n, h, m)``), and axes that are not among the last two are not
    honoured, exactly as 2.2.4 did not.

    Args:
        x: Tensor of rank >= 2, batch axis first.
        y: Tensor of rank >= 2 with the same batch size.
        axes: ``None`` (``[rank(x) - 1, rank(y) - 2]``), an int used for both, or a pair.

    Returns:
        The tensor Keras 2.2.4 returned.
    """
    if isinstance(axes, int):
        axes = (axes, axes)
    x_ndim = len(x.shape)
    y_ndim = len(y.shape)
    if axes is None:
        axes = (x_ndim - 1, y_ndim - 2)
    diff = abs(x_ndim - y_ndim)
    for _ in range(diff):  # pad the lower rank with trailing axes of size 1
        if x_ndim > y_ndim:
            y = ops.expand_dims(y, axis=-1)
        else:
            x = ops.expand_dims(x, axis=-1)
    if len(x.shape) == 2 and len(y.shape) == 2:
        if axes[0] == axes[1]:
            out = ops.sum(ops.multiply(x, y), axis=axes[0])
        else:
            out = ops.sum(ops.multiply(ops.transpose(x, (1, 0)), y), axis=axes[1])
    else:
        # The adjoint flags as 2.2.4 computed them, against the padded ranks.
        if axes[0] != len(x.shape) - 1:
            x = ops.swapaxes(x, -1, -2)
        if axes[1] == len(y.shape) - 1:
            y = ops.swapaxes(y, -1, -2)
        out = ops.matmul(x, y)
    if diff:
        start = x_ndim + y_ndim - 3 if x_ndim > y_ndim else x_ndim - 1
        out = ops.squeeze(out, axis=tuple(range(start, start + diff)))
    if len(out.shape) == 1:
        out = ops.expand_dims(out, axis=1)
    return out


def switch(condition, then_expression, else_expression):
    """Keras 2 ``K.switch``: ``cond`` for a scalar condition, broadcasting ``where`` otherwise.

    Args:
        condition: Boolean or integer tensor (or Python bool). A scalar selects a
            whole branch; a tensor selects element-wise, padded with trailing axes
            to the rank of the branches (Keras 2 semantics, unlike NumPy's leading
            broadcast).
        then_expression: Tensor, or a zero-argument callable returning one.
        else_expression: Tensor, or a zero-argument callable returning one.

    Returns:
        The selected tensor.
    """
    if isinstance(condition, (bool, int, np.bool_)):
        branch = then_expression if condition else else_expression
        return branch() if callable(branch) else branch
    condition = ops.cast(condition, "bool")
    cond_rank = len(condition.shape)
    if cond_rank == 0:
        then_fn = then_expression if callable(then_expression) else (lambda: then_expression)
        else_fn = else_expression if callable(else_expression) else (lambda: else_expression)
        return ops.cond(condition, then_fn, else_fn)
    if callable(then_expression):
        then_expression = then_expression()
    if callable(else_expression):
        else_expression = else_expression()
    expr_rank = len(then_expression.shape)
    if cond_rank > expr_rank:
        raise ValueError(f"switch: condition rank {cond_rank} exceeds the branch rank {expr_rank}")
    for _ in range(expr_rank - cond_rank):
        condition = ops.expand_dims(condition, axis=-1)
    return ops.where(condition, then_expression, else_expression)


def l2_normalize(x, axis=None):
    """``tf.math.l2_normalize`` as Keras 2 ``K.l2_normalize`` used it.

    Args:
        x: Tensor.
        axis: Axis or axes to normalise over; ``None`` means all axes.

    Returns:
        ``x / sqrt(max(sum(x**2, axis), 1e-12))``.
    """
    square_sum = ops.sum(ops.square(x), axis=axis, keepdims=True)
    return x * ops.rsqrt(ops.maximum(square_sum, 1e-12))


@keras.saving.register_keras_serializable(package="migrate_compat")
def legacy_hard_sigmoid(x):
    """The Keras 2 hard sigmoid: ``clip(0.2 * x + 0.5, 0, 1)``.

    Keras 3's ``hard_sigmoid`` is ``relu6(x + 3) / 6`` (slope 1/6), so Keras 2.2
    recurrent layers pinned to this function keep their numbers.

    Args:
        x: Tensor.

    Returns:
        A tensor of the same shape and dtype.
    """
    x = ops.convert_to_tensor(x)
    return ops.clip(x * ops.cast(0.2, x.dtype) + ops.cast(0.5, x.dtype), 0.0, 1.0)


def predict_classes(model, x, batch_size=32, verbose=0):
    """Keras 2 ``Sequential.predict_classes``.

    Args:
        model: A Keras model.
        x: Input data.
        batch_size: Batch size for ``model.predict``.
        verbose: Verbosity for ``model.predict``.

    Returns:
        ``argmax`` over the last axis when the output has more than one unit,
        else ``(probability > 0.5)`` as ``int32``.
    """
    proba = model.predict(x, batch_size=batch_size, verbose=verbose)
    if proba.shape[-1] > 1:
        return proba.argmax(axis=-1)
    return (proba > 0.5).astype("int32")


def _keras2_merge_mask(mask):
    """The output mask of a Keras 2 merge layer: the AND of the masks that are given.

    Keras 3's merge layers return no mask as soon as one input has none, and the OR
    of the masks otherwise; Keras 2 (2.2 and tf.keras 2.x) kept the AND of the masks
    present. keras-bert adds a masked token embedding to an unmasked segment
    embedding: with Keras 3's rule every attention layer after it lost the padding
    mask and the outputs moved by 0.58.
    """
    if mask is None or not isinstance(mask, (list, tuple)):
        return None
    present = [m for m in mask if m is not None]
    if not present:
        return None
    out = ops.cast(present[0], "bool")
    for m in present[1:]:
        out = ops.logical_and(out, ops.cast(m, "bool"))
    return out


def _keras2_mask_merge(base):
    """A subclass of the Keras 3 merge layer ``base`` whose output mask is Keras 2's."""

    def compute_mask(self, inputs, mask=None):
        return _keras2_merge_mask(mask)

    cls = type(base.__name__, (base,), {
        "compute_mask": compute_mask,
        "__module__": __name__,
        "__doc__": f"``keras.layers.{base.__name__}`` with the Keras 2 output mask (the AND of the input masks "
                   "that are given); the outputs are the same. Written by ``migrate rewrite`` (KM315).",
    })
    return keras.saving.register_keras_serializable(package="migrate_compat")(cls)


Add = _keras2_mask_merge(keras.layers.Add)
Subtract = _keras2_mask_merge(keras.layers.Subtract)
Multiply = _keras2_mask_merge(keras.layers.Multiply)
Average = _keras2_mask_merge(keras.layers.Average)
Maximum = _keras2_mask_merge(keras.layers.Maximum)
Minimum = _keras2_mask_merge(keras.layers.Minimum)


# -- Keras 2's text preprocessing -------------------------------------------------------
# Keras 3 has no ``keras.preprocessing.text``. Programs that vectorise text with Keras 2's
# ``Tokenizer`` (Keras 2.2.4's reuters_mlp, pretrained_word_embeddings) get these plain
# Python/NumPy twins: same word index (by descending count, ties in first-seen order),
# same sequences and the same matrices in every mode, so the numbers fed to the model do
# not change. No ``keras`` call is needed; the text step was never a layer.

_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'


def text_to_word_sequence(text, filters=_FILTERS, lower=True, split=" "):
    """Split ``text`` into words as Keras 2 did: lower-cased, every character of
    ``filters`` read as ``split``, empty pieces dropped."""
    if lower:
        text = text.lower()
    text = text.translate(str.maketrans({char: split for char in filters}))
    return [word for word in text.split(split) if word]


def hashing_trick(text, n, hash_function=None, filters=_FILTERS, lower=True, split=" "):
    """Each word of ``text`` to ``hash(word) % (n - 1) + 1`` (index 0 is kept for padding);
    ``hash_function="md5"`` gives a hash that is stable across processes."""
    if hash_function is None:
        hash_function = hash
    elif hash_function == "md5":
        import hashlib

        def hash_function(word):
            return int(hashlib.md5(word.encode()).hexdigest(), 16)

    return [hash_function(word) % (n - 1) + 1 for word in text_to_word_sequence(text, filters, lower, split)]


def one_hot(text, n, filters=_FILTERS, lower=True, split=" "):
    """Keras 2's ``one_hot``: :func:`hashing_trick` with Python's ``hash``."""
    return hashing_trick(text, n, hash, filters, lower, split)


class Tokenizer:
    """Keras 2's text ``Tokenizer``: a word index fitted on texts, then texts or index
    sequences to sequences or ``(len, num_words)`` matrices.

    Args:
        num_words: keep only indices below this in sequences and matrices (None: all).
        filters: characters read as separators.
        lower: lower-case the texts first.
        split: the separator.
        char_level: every character is a token.
        oov_token: a token (index 1) for words outside the index or above ``num_words``.
        document_count: documents seen before (for ``tfidf``).
    """

    def __init__(self, num_words=None, filters=_FILTERS, lower=True, split=" ", char_level=False, oov_token=None,
                 document_count=0, **kwargs):
        if "nb_words" in kwargs:  # Keras 1's name
            num_words = kwargs.pop("nb_words")
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments: {sorted(kwargs)}")
        self.num_words = num_words
        self.filters = filters
        self.lower = lower
        self.split = split
        self.char_level = char_level
        self.oov_token = oov_token
        self.document_count = document_count
        self.word_counts = {}  # insertion-ordered: ties in the index keep first-seen order
        self.word_docs = {}
        self.index_docs = {}
        self.word_index = {}
        self.index_word = {}

    def _tokens(self, text):
        if self.char_level or isinstance(text, list):
            if self.lower:
                text = [t.lower() for t in text] if isinstance(text, list) else text.lower()
            return text
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    def fit_on_texts(self, texts):
        """Count the words of ``texts`` (strings, or lists of tokens) and rebuild the index."""
        for text in texts:
            self.document_count += 1
            tokens = self._tokens(text)
            for token in tokens:
                self.word_counts[token] = self.word_counts.get(token, 0) + 1
            for token in set(tokens):
                self.word_docs[token] = self.word_docs.get(token, 0) + 1
        # sorted() is stable: equal counts stay in first-seen order, as in Keras 2.
        ranked = sorted(self.word_counts.items(), key=lambda item: item[1], reverse=True)
        vocabulary = ([self.oov_token] if self.oov_token is not None else []) + [word for word, _ in ranked]
        self.word_index = {word: i for i, word in enumerate(vocabulary, start=1)}
        self.index_word = {i: word for word, i in self.word_index.items()}
        for word, count in self.word_docs.items():
            self.index_docs[self.word_index[word]] = count

    def fit_on_sequences(self, sequences):
        """Count documents per index (what ``tfidf`` needs) from index sequences."""
        self.document_count += len(sequences)
        for sequence in sequences:
            for i in set(sequence):
                self.index_docs[i] = self.index_docs.get(i, 0) + 1

    def texts_to_sequences_generator(self, texts):
        oov = self.word_index.get(self.oov_token)
        for text in texts:
            sequence = []
            for token in self._tokens(text):
                i = self.word_index.get(token)
                if i is not None and not (self.num_words and i >= self.num_words):
                    sequence.append(i)
                elif oov is not None:
                    sequence.append(oov)
            yield sequence

    def texts_to_sequences(self, texts):
        """Each text to the list of its words' indices (see ``num_words``, ``oov_token``)."""
        return list(self.texts_to_sequences_generator(texts))

    def sequences_to_texts_generator(self, sequences):
        oov = self.word_index.get(self.oov_token)
        for sequence in sequences:
            words = []
            for i in sequence:
                word = self.index_word.get(i)
                if word is not None and not (self.num_words and i >= self.num_words):
                    words.append(word)
                elif oov is not None:
                    words.append(self.index_word[oov])
            yield " ".join(words)

    def sequences_to_texts(self, sequences):
        return list(self.sequences_to_texts_generator(sequences))

    def texts_to_matrix(self, texts, mode="binary"):
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences, mode="binary"):
        """``(len(sequences), num_words)`` float64 rows: ``binary`` (1 where an index
        occurs), ``count``, ``freq`` (count / length) or ``tfidf``
        (``(1 + log count) * log(1 + documents / (1 + documents with the index))``)."""
        if self.num_words:
            width = self.num_words
        elif self.word_index:
            width = len(self.word_index) + 1
        else:
            raise ValueError("Specify a dimension (`num_words` argument), or fit on some text data first.")
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Fit the Tokenizer on some data before using tfidf mode.")
        if mode not in ("binary", "count", "freq", "tfidf"):
            raise ValueError(f"Unknown vectorization mode: {mode}")
        matrix = np.zeros((len(sequences), width))
        for row, sequence in enumerate(sequences):
            counts = {}
            for i in sequence:
                if i < width:
                    counts[i] = counts.get(i, 0) + 1
            for i, count in counts.items():
                if mode == "binary":
                    matrix[row, i] = 1
                elif mode == "count":
                    matrix[row, i] = count
                elif mode == "freq":
                    matrix[row, i] = count / len(sequence)
                else:
                    idf = np.log(1 + self.document_count / (1 + self.index_docs.get(i, 0)))
                    matrix[row, i] = (1 + np.log(count)) * idf
        return matrix

    def get_config(self):
        import json

        return {"num_words": self.num_words, "filters": self.filters, "lower": self.lower, "split": self.split,
                "char_level": self.char_level, "oov_token": self.oov_token, "document_count": self.document_count,
                "word_counts": json.dumps(self.word_counts), "word_docs": json.dumps(self.word_docs),
                "index_docs": json.dumps(self.index_docs), "index_word": json.dumps(self.index_word),
                "word_index": json.dumps(self.word_index)}


# -- Keras 2 generators for fit ---------------------------------------------------------


def _keras3_batch(batch):
    """A Keras 2 batch ``(x, y[, w])`` whose parts may be lists of arrays (several
    inputs or outputs) as Keras 3 takes it: the lists become tuples. Keras 3 builds the
    dataset's signature from the first batch and rejects lists ("output_signature must
    contain objects that are subclass of tf.TypeSpec")."""
    if isinstance(batch, tuple):
        return tuple(tuple(part) if isinstance(part, list) else part for part in batch)
    return batch


class _Keras2Sequence(keras.utils.PyDataset):
    """A Keras 2 ``Sequence`` (or any object with ``__len__``/``__getitem__`` of
    batches) as a Keras 3 ``PyDataset`` yielding :func:`_keras3_batch` batches."""

    def __init__(self, sequence):
        super().__init__()
        self._sequence = sequence

    def __len__(self):
        return len(self._sequence)

    def __getitem__(self, index):
        return _keras3_batch(self._sequence[index])

    def on_epoch_end(self):
        hook = getattr(self._sequence, "on_epoch_end", None)
        if hook is not None:
            hook()


def legacy_batches(data):
    """What ``fit_generator``/``evaluate_generator`` took, for Keras 3's ``fit``/``evaluate``.

    A generator (or iterator) is wrapped so that each batch ``([x1, x2], y)`` reaches
    Keras 3 as ``((x1, x2), y)``, the same inputs in the same order; a Keras 2 sequence
    is wrapped likewise as a ``PyDataset``. Arrays, tuples, lists, dicts and Keras 3
    ``PyDataset``s pass through unchanged (``validation_data=(x, y)``).
    """
    if data is None or isinstance(data, (tuple, list, dict, np.ndarray, keras.utils.PyDataset)):
        return data
    if hasattr(data, "__getitem__") and hasattr(data, "__len__"):
        return _Keras2Sequence(data)
    if hasattr(data, "__next__") or hasattr(data, "__iter__"):
        return (_keras3_batch(batch) for batch in data)
    return data
