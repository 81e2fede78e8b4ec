"""The Keras-2.2 transformer-encoder text classifier (2021 blog post), rebuilt for Keras 3."""

from __future__ import annotations

import keras
from keras import ops

from modern.layers.attention import ActivatedMultiHeadAttention
from modern.layers.normalization import LegacyLayerNormalization
from modern.layers.position import SinusoidalPositionEmbedding
from modern.optimizers import LegacyAdam


def _residual_add_name(index):
    # The legacy block's named `{prefix}_add2` is a dead branch: its output is
    # overwritten by an unnamed functional `add(...)`, so the legacy graph
    # holds tf_keras's default names 'add', 'add_1', ... in its place.
    return "add" if index == 1 else f"add_{index - 1}"


def transformer_block(x, prefix, index, head_num, model_dim, ffn_dim, dropout):
    """One post-norm encoder block of the legacy classifier.

    ``x -> attention -> Dropout -> Add(x, .) -> LayerNorm -> Dense(ffn_dim,
    relu) -> Dense(model_dim) -> Dropout -> Add(., .) -> LayerNorm`` with the
    legacy layer names (see :func:`build_transformer_classifier`).

    Args:
        x: ``(batch, seq, model_dim)`` symbolic tensor.
        prefix: layer-name prefix, ``"t{index}"``.
        index: 1-based block number (names the second residual ``Add``).
        head_num: attention heads.
        model_dim: block width.
        ffn_dim: hidden width of the feed-forward part.
        dropout: dropout rate after the attention and the feed-forward part.

    Returns:
        The block output, ``(batch, seq, model_dim)``.
    """
    layers = keras.layers
    attended = ActivatedMultiHeadAttention(num_heads=head_num, name=f"{prefix}_att1")(x)
    attended = layers.Dropout(dropout, name=f"{prefix}_do1")(attended)
    residual = layers.Add(name=f"{prefix}_add1")([x, attended])
    normed = LegacyLayerNormalization(center=False, scale=False, name=f"{prefix}_LN1")(residual)
    hidden = layers.Dense(ffn_dim, activation="relu", name=f"{prefix}_fc1")(normed)
    projected = layers.Dense(model_dim, name=f"{prefix}_fc2")(hidden)
    projected = layers.Dropout(dropout, name=f"{prefix}_do2")(projected)
    residual = layers.Add(name=_residual_add_name(index))([normed, projected])
    return LegacyLayerNormalization(center=False, scale=False, name=f"{prefix}_LN2")(residual)


def build_transformer_classifier(
    vocab_size,
    max_len,
    model_dim,
    head_num,
    num_blocks,
    num_class=2,
    ffn_dim=None,
    dropout=0.1,
    mask_zero=False,
    embedding_matrix=None,
    learning_rate=5e-5,
    compile=True,  # noqa: A002 -- the legacy build_model's argument
    name="transformer_classifier",
):
    """Builds the seed-003 transformer-encoder text classifier as a Keras 3 functional model.

    Same graph, numerics and layer names as the legacy ``build_model``:
    ``Input('inputs', int32, (max_len,))`` -> ``Embedding`` ('embedding') ->
    :class:`~modern.layers.SinusoidalPositionEmbedding` (sum, interleaved;
    'position__embedding') -> ``Dropout`` ('dropout') -> ``num_blocks``
    blocks ``t1 .. tN`` -> ``Add`` of the last three block outputs (of all of
    them when there are fewer; one block passes through) ->
    ``GlobalAveragePooling1D`` -> ``Dropout`` -> ``Dense(num_class, softmax,
    name='outputs')``.

    Each block ``t{i}`` has the layers ``t{i}_att1``
    (:class:`~modern.layers.ActivatedMultiHeadAttention`, relu, biases),
    ``t{i}_do1``, ``t{i}_add1``, ``t{i}_LN1`` (weightless
    :class:`~modern.layers.LegacyLayerNormalization`), ``t{i}_fc1`` (relu),
    ``t{i}_fc2``, ``t{i}_do2``, the second residual ``Add`` and ``t{i}_LN2``.

    Layer names mirror the legacy model as built in a fresh session, quirks
    included, so ``[l.name for l in model.layers]`` equals the legacy list
    and weights port by layer name: the legacy block's named ``t{i}_add2``
    was a dead branch (its output overwritten by an unnamed ``add([...])``),
    so the second residual is named ``add`` (block 1), ``add_1``, ... as in
    the legacy graph; the layers the blog left unnamed keep tf_keras's
    default names (``embedding``, ``position__embedding``, ``dropout``,
    ``add_<num_blocks>``, ``global_average_pooling1d``, ``dropout_1``).

    Args:
        vocab_size: rows of the embedding table.
        max_len: sequence length of the ``inputs`` layer.
        model_dim: embedding and block width.
        head_num: attention heads; must divide ``model_dim``.
        num_blocks: number of encoder blocks (at least 1).
        num_class: number of softmax classes.
        ffn_dim: hidden width of the feed-forward part; default
            ``4 * model_dim``.
        dropout: rate of every ``Dropout`` layer (0.1 in the blog post).
        mask_zero: if true, token 0 is padding: the embedding emits a mask
            that the attention layers use as their key padding mask and that
            ``GlobalAveragePooling1D`` uses to average over real tokens only.
            The legacy model had no mask (``False``, the default, reproduces
            it).
        embedding_matrix: optional ``(vocab_size, model_dim)`` initial
            embedding table (the blog's pretrained word vectors).
        learning_rate: Adam learning rate (float or a schedule such as
            :class:`~modern.schedules.WarmUpCosineDecay`), used with
            ``compile``.
        compile: compile with ``categorical_crossentropy``,
            :class:`LegacyAdam` ``(learning_rate)`` (the legacy Adam's update,
            ``epsilon=1e-7``, also for the embedding on TensorFlow) and
            ``metrics=["acc"]``, as the legacy function did.
        name: model name.

    Returns:
        A ``keras.Model`` mapping ``(batch, max_len)`` int32 token ids to
        ``(batch, num_class)`` probabilities.
    """
    if int(num_blocks) < 1:
        raise ValueError(f"num_blocks must be at least 1, got {num_blocks}")
    layers = keras.layers
    ffn_dim = 4 * model_dim if ffn_dim is None else ffn_dim
    words = keras.Input(shape=(max_len,), name="inputs", dtype="int32")
    embedding = layers.Embedding(vocab_size, model_dim, mask_zero=mask_zero, name="embedding")
    x = embedding(words)
    x = SinusoidalPositionEmbedding(mode="sum", layout="interleaved", name="position__embedding")(x)
    x = layers.Dropout(dropout, name="dropout")(x)

    block_outputs = []
    for index in range(1, int(num_blocks) + 1):
        x = transformer_block(x, f"t{index}", index, head_num, model_dim, ffn_dim, dropout)
        block_outputs.append(x)
    tail = block_outputs[-3:]
    x = layers.Add(name=f"add_{num_blocks}")(tail) if len(tail) > 1 else tail[0]
    x = layers.GlobalAveragePooling1D(name="global_average_pooling1d")(x)
    x = layers.Dropout(dropout, name="dropout_1")(x)
    outputs = layers.Dense(num_class, activation="softmax", name="outputs")(x)
    model = keras.Model(inputs=words, outputs=outputs, name=name)

    if embedding_matrix is not None:
        table = keras.ops.convert_to_numpy(embedding_matrix)
        if tuple(table.shape) != (vocab_size, model_dim):
            raise ValueError(f"embedding_matrix has shape {tuple(table.shape)}, expected {(vocab_size, model_dim)}")
        embedding.embeddings.assign(table)
    if compile:
        model.compile(
            loss="categorical_crossentropy",
            optimizer=LegacyAdam(learning_rate=learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7),
            metrics=["acc"],
        )
    return model


__all__ = ["LegacyAdam", "build_transformer_classifier", "transformer_block"]
