"""Embedding layers of keras-bert and keras-embed-sim: the token embedding that also
returns its matrix, the similarity to that matrix (the tied output layer), and the
task embedding."""

from __future__ import annotations

import keras
from keras import ops

from modern.layers._weight_options import weight_options, weight_options_config

PACKAGE = "modern.bert_family"


@keras.saving.register_keras_serializable(package=PACKAGE)
class TokenEmbedding(keras.layers.Embedding):
    """``keras.layers.Embedding`` that also returns its embedding matrix.

    Port of keras-bert's ``TokenEmbedding`` and keras-embed-sim's
    ``EmbeddingRet``: the second output feeds :class:`EmbeddingSimilarity`,
    which ties the output layer to the input embedding. The matrix output
    carries no mask; the embedded tokens carry the usual ``mask_zero`` mask.
    The weight is ``embeddings`` ``(input_dim, output_dim)``, as in the
    library.

    Args:
        Those of ``keras.layers.Embedding``.

    Call arguments:
        inputs: integer (or float, cast as the legacy layer did) token ids.

    Returns:
        ``[embedded, matrix]``: ``(*inputs.shape, output_dim)`` and
        ``(input_dim, output_dim)``.
    """

    def call(self, inputs):
        embedded = super().call(inputs)
        # `+ 0`: a tensor, not the variable, so the output is a graph value.
        return [embedded, ops.convert_to_tensor(self.embeddings) + 0.0]

    def compute_mask(self, inputs, mask=None):
        return [super().compute_mask(inputs, mask), None]

    def compute_output_shape(self, input_shape):
        return [super().compute_output_shape(input_shape), (self.input_dim, self.output_dim)]

    def compute_output_spec(self, inputs):
        embedded = keras.KerasTensor(self.compute_output_shape(inputs.shape)[0], dtype=self.compute_dtype)
        return [embedded, keras.KerasTensor((self.input_dim, self.output_dim), dtype=self.compute_dtype)]


@keras.saving.register_keras_serializable(package=PACKAGE)
class EmbeddingSimilarity(keras.layers.Layer):
    """``softmax(features . matrix^T + bias)``: scores of every token of a tied embedding.

    Port of keras-bert's ``EmbeddingSimilarity`` (always a bias) and
    keras-embed-sim's ``EmbeddingSim`` (``use_bias``, ``stop_gradient``).
    Weight: ``bias`` ``(token_num,)``.

    Args:
        use_bias: add the learned ``bias`` (keras-bert: always).
        initializer: initializer of ``bias`` (legacy default ``"zeros"``).
        regularizer: regularizer of ``bias``.
        constraint: constraint of ``bias``.
        stop_gradient: no gradient flows into the embedding matrix.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: ``[features (..., dim), matrix (token_num, dim)]``.
        mask: Keras fills it; the features' mask is passed on.

    Returns:
        Probabilities ``(..., token_num)``.
    """

    def __init__(self, use_bias=True, initializer="zeros", regularizer=None, constraint=None,
                 stop_gradient=False, **kwargs):
        super().__init__(**kwargs)
        self.use_bias = bool(use_bias)
        self.initializer, self.regularizer, self.constraint = weight_options(initializer, regularizer, constraint)
        self.stop_gradient = bool(stop_gradient)
        self.supports_masking = True
        self.bias = None

    def build(self, input_shape):
        if self.use_bias:
            self.bias = self.add_weight(
                shape=(int(input_shape[1][0]),), initializer=self.initializer, regularizer=self.regularizer,
                constraint=self.constraint, name="bias",
            )

    def call(self, inputs, mask=None):
        features, matrix = inputs
        if self.stop_gradient:
            matrix = ops.stop_gradient(matrix)
        logits = ops.matmul(features, ops.transpose(matrix))
        if self.use_bias:
            logits = logits + self.bias
        return ops.softmax(logits, axis=-1)

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0][:-1]) + (input_shape[1][0],)

    def get_config(self):
        config = super().get_config()
        config.update({
            "use_bias": self.use_bias,
            "initializer": keras.initializers.serialize(self.initializer),
            "regularizer": keras.regularizers.serialize(self.regularizer),
            "constraint": keras.constraints.serialize(self.constraint),
            "stop_gradient": self.stop_gradient,
        })
        return config


@keras.saving.register_keras_serializable(package=PACKAGE)
class TaskEmbedding(keras.layers.Layer):
    """Adds a learned per-task vector to every position of a sequence (keras-bert).

    ``outputs = inputs + embeddings[task]``; with ``mask_zero`` task 0 adds
    nothing. Weight: ``embeddings`` ``(input_dim, output_dim)``.

    Args:
        input_dim: number of tasks.
        output_dim: width of the sequence features.
        embeddings_initializer: legacy default ``"uniform"`` (Keras 2's
            ``RandomUniform(-0.05, 0.05)``).
        embeddings_regularizer: regularizer of ``embeddings``.
        embeddings_constraint: constraint of ``embeddings``.
        mask_zero: task id 0 adds zeros.
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: ``[features (batch, seq, output_dim), tasks (batch, 1)]``.

    Returns:
        ``(batch, seq, output_dim)``, with the features' mask.
    """

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 embeddings_constraint=None, mask_zero=False, **kwargs):
        super().__init__(**kwargs)
        self.input_dim = int(input_dim)
        self.output_dim = int(output_dim)
        self.embeddings_initializer, self.embeddings_regularizer, self.embeddings_constraint = weight_options(
            embeddings_initializer, embeddings_regularizer, embeddings_constraint
        )
        self.mask_zero = bool(mask_zero)
        self.supports_masking = True
        self.embeddings = None

    def build(self, input_shape):
        self.embeddings = self.add_weight(
            shape=(self.input_dim, self.output_dim), initializer=self.embeddings_initializer,
            regularizer=self.embeddings_regularizer, constraint=self.embeddings_constraint, name="embeddings",
        )

    def call(self, inputs, mask=None):
        features, tasks = inputs
        tasks = ops.cast(tasks, "int32")
        task_vectors = ops.take(self.embeddings, tasks, axis=0)
        if self.mask_zero:
            task_vectors = task_vectors * ops.cast(ops.not_equal(tasks, 0), task_vectors.dtype)[..., None]
        return features + task_vectors

    def compute_mask(self, inputs, mask=None):
        return None if mask is None else mask[0]

    def compute_output_shape(self, input_shape):
        return tuple(input_shape[0])

    def get_config(self):
        config = super().get_config()
        config.update({"input_dim": self.input_dim, "output_dim": self.output_dim, "mask_zero": self.mask_zero})
        config.update(weight_options_config(self, "embeddings"))
        return config


__all__ = ["EmbeddingSimilarity", "TaskEmbedding", "TokenEmbedding"]
