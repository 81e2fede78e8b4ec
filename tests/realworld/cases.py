"""The real-world cases: which models each published library builds, and on what batch.

Each case builds its model with the library's *own* API (its builders, or its layers in
a small functional model), the same source on both sides: the legacy oracle runs it
with ``keras`` meaning tf_keras (``TF_USE_LEGACY_KERAS=1``, the library as published),
the modern side with ``keras`` meaning Keras 3 and the library's rewritten copy.
A builder therefore receives the ``keras`` module and imports the library itself;
nothing here may depend on which Keras it is given.

Sizes are tiny (embedding widths of 8, one block) so that a case costs well under a
second once TensorFlow is imported; the fixed batch comes from a seeded generator, so
both sides feed identical arrays.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

Batch = list[np.ndarray]

SEQ = 6
TOKENS = 20
BATCH = 3
#: Rectified Adam takes plain momentum steps while its variance estimate is short (the
#: first 5 with beta_2 = 0.999) and adaptive ones after: 7 steps cover both.
TRAIN_STEPS = 7


@dataclass(frozen=True)
class Case:
    """One model of one library.

    Attributes:
        library: the distribution name, as in ``libraries.txt``.
        name: short model name, unique within the library (the table's "model" column).
        build: ``build(keras) -> keras.Model``, using the library's own API.
        batch: ``batch(rng) -> list of input arrays`` for ``predict`` and ``fit``.
    """

    library: str
    name: str
    build: Callable[[Any], Any]
    batch: Callable[[np.random.Generator], Batch]
    #: ``("module:Class", {kwargs})`` of the library's own optimizer: both sides then train
    #: ``TRAIN_STEPS`` steps with it (mse towards zeros) from the same initial weights, and
    #: the predictions after training are compared
    optimizer: tuple[str, dict[str, Any]] | None = None

    @property
    def key(self) -> str:
        return f"{self.library}:{self.name}"


def _tokens(rng: np.random.Generator, n: int = 1, low: int = 1) -> Batch:
    # Token 0 is padding for the masked embeddings; every row keeps one padded
    # position at the end so that masks matter in the comparison.
    out = []
    for _ in range(n):
        x = rng.integers(low, TOKENS, size=(BATCH, SEQ)).astype("int32")
        x[:, -1] = 0
        out.append(x)
    return out


def _floats(rng: np.random.Generator, width: int = 8) -> Batch:
    return [rng.normal(size=(BATCH, SEQ, width)).astype("float32")]


def _dense_model(keras: Any, layer: Any, width: int = 8) -> Any:
    inputs = keras.layers.Input(shape=(SEQ, width))
    return keras.models.Model(inputs, layer(inputs))


# ---- keras-layer-normalization -------------------------------------------------------


def layer_norm(keras: Any) -> Any:
    from keras_layer_normalization import LayerNormalization

    return _dense_model(keras, LayerNormalization(name="norm"))


# ---- keras-position-wise-feed-forward ------------------------------------------------


def feed_forward(keras: Any) -> Any:
    from keras_position_wise_feed_forward import FeedForward

    return _dense_model(keras, FeedForward(units=16, name="ffn"))


# ---- keras-pos-embd --------------------------------------------------------------------


def position_embedding_add(keras: Any) -> Any:
    from keras_pos_embd import PositionEmbedding

    layer = PositionEmbedding(input_dim=SEQ, output_dim=8, mode=PositionEmbedding.MODE_ADD, name="pos")
    return _dense_model(keras, layer)


def trig_position_embedding(keras: Any) -> Any:
    from keras_pos_embd import TrigPosEmbedding

    return _dense_model(keras, TrigPosEmbedding(output_dim=8, mode=TrigPosEmbedding.MODE_ADD, name="trig"))


# ---- keras-embed-sim -------------------------------------------------------------------


def embedding_similarity(keras: Any) -> Any:
    # The library's own usage: EmbeddingRet returns [embedded, embedding matrix] and
    # EmbeddingSim projects back onto the vocabulary with the tied matrix.
    from keras_embed_sim import EmbeddingRet, EmbeddingSim

    inputs = keras.layers.Input(shape=(SEQ,))
    embed, weights = EmbeddingRet(input_dim=TOKENS, output_dim=8, mask_zero=True, name="embed")(inputs)
    outputs = EmbeddingSim(name="sim")([embed, weights])
    return keras.models.Model(inputs, outputs)


# ---- keras-self-attention --------------------------------------------------------------


def _token_model(keras: Any, make: Callable[[], Any]) -> Any:
    inputs = keras.layers.Input(shape=(SEQ,))
    x = keras.layers.Embedding(input_dim=TOKENS, output_dim=8, mask_zero=True, name="embed")(inputs)
    x = make()(x)
    return keras.models.Model(inputs, x)


def seq_self_attention_additive(keras: Any) -> Any:
    from keras_self_attention import SeqSelfAttention

    return _token_model(keras, lambda: SeqSelfAttention(units=8, attention_activation="sigmoid", name="att"))


def seq_self_attention_multiplicative(keras: Any) -> Any:
    from keras_self_attention import SeqSelfAttention

    return _token_model(
        keras,
        lambda: SeqSelfAttention(
            attention_type=SeqSelfAttention.ATTENTION_TYPE_MUL, attention_width=3, use_attention_bias=True, name="att"
        ),
    )


def seq_weighted_attention(keras: Any) -> Any:
    from keras_self_attention import SeqWeightedAttention

    return _token_model(keras, lambda: SeqWeightedAttention(name="att"))


def scaled_dot_attention(keras: Any) -> Any:
    from keras_self_attention import ScaledDotProductAttention

    return _token_model(keras, lambda: ScaledDotProductAttention(name="att"))


# ---- keras-multi-head ------------------------------------------------------------------


def multi_head_attention(keras: Any) -> Any:
    from keras_multi_head import MultiHeadAttention

    return _token_model(keras, lambda: MultiHeadAttention(head_num=2, name="mha"))


def multi_head_wrapper(keras: Any) -> Any:
    # MultiHead is a keras Wrapper that copies its template layer per head.
    from keras_multi_head import MultiHead

    return _dense_model(keras, MultiHead(keras.layers.Dense(4), layer_num=2, name="heads"))


# ---- keras-transformer -----------------------------------------------------------------


def transformer(keras: Any) -> Any:
    import keras_transformer

    return keras_transformer.get_model(
        token_num=TOKENS, embed_dim=8, encoder_num=1, decoder_num=1, head_num=2, hidden_dim=16, dropout_rate=0.0
    )


# ---- keras-bert ------------------------------------------------------------------------


def bert_pretrain(keras: Any) -> Any:
    import keras_bert

    return keras_bert.get_model(
        token_num=TOKENS, pos_num=SEQ, seq_len=SEQ, embed_dim=8, transformer_num=1, head_num=2,
        feed_forward_dim=16, dropout_rate=0.0, training=True,
    )


def bert_encoder(keras: Any) -> Any:
    import keras_bert

    inputs, outputs = keras_bert.get_model(
        token_num=TOKENS, pos_num=SEQ, seq_len=SEQ, embed_dim=8, transformer_num=2, head_num=2,
        feed_forward_dim=16, dropout_rate=0.0, training=False,
    )
    return keras.models.Model(inputs, outputs)


def _bert_batch(rng: np.random.Generator) -> Batch:
    tokens = _tokens(rng)[0]
    segments = (np.arange(SEQ)[None, :] >= SEQ // 2).astype("int32").repeat(BATCH, 0)
    return [tokens, segments]


def _bert_pretrain_batch(rng: np.random.Generator) -> Batch:
    tokens, segments = _bert_batch(rng)
    masked = rng.integers(0, 2, size=(BATCH, SEQ)).astype("int32")
    return [tokens, segments, masked]


# ---- keras-gpt-2 -----------------------------------------------------------------------


def gpt_2(keras: Any) -> Any:
    # The package's __init__ also imports its BPE tokenizer (`regex`, installed apart by
    # ./dev from library-deps.txt); the builder is keras_gpt_2.get_model.
    import keras_gpt_2

    return keras_gpt_2.get_model(n_vocab=TOKENS, n_ctx=SEQ, n_embd=8, n_head=2, n_layer=1)


# ---- keras-transformer-xl / keras-xlnet ------------------------------------------------
# Both keep a memory of earlier segments in a non-trainable variable that each call
# updates; the fixed batch asks for no memory (memory length 0), so each prediction
# depends on the batch alone and the two sides can be compared.
MEMORY = 2


def transformer_xl(keras: Any) -> Any:
    from keras_transformer_xl import build_transformer_xl

    return build_transformer_xl(
        units=8, embed_dim=8, hidden_dim=16, num_token=TOKENS, num_block=1, num_head=2, batch_size=BATCH,
        memory_len=MEMORY, target_len=SEQ,
    )


def _memory_length() -> np.ndarray:
    return np.zeros((BATCH, 1), dtype="float32")


def _transformer_xl_batch(rng: np.random.Generator) -> Batch:
    return [_tokens(rng)[0], _memory_length()]


def xlnet(keras: Any) -> Any:
    # keras_xlnet's __init__ imports its sentencepiece tokenizer (installed apart, see
    # library-deps.txt); build_xlnet reads the padding index from it.
    from keras_xlnet import build_xlnet

    return build_xlnet(
        units=8, training=False, num_token=TOKENS, num_block=1, num_head=2, hidden_dim=16, batch_size=BATCH,
        memory_len=MEMORY, target_len=SEQ,
    )


def xlnet_pretrain(keras: Any) -> Any:
    # training=True adds the Input-Mask input (which positions are predicted), the
    # permutation masks (random only in the training phase: predictions use the identity
    # order, so both sides compare) and the tied-softmax head over the vocabulary.
    from keras_xlnet import build_xlnet

    return build_xlnet(
        units=8, training=True, num_token=TOKENS, num_block=1, num_head=2, hidden_dim=16, batch_size=BATCH,
        memory_len=MEMORY, target_len=SEQ,
    )


def _xlnet_batch(rng: np.random.Generator) -> Batch:
    tokens, segments = _bert_batch(rng)
    return [tokens, segments, _memory_length()]


def _xlnet_pretrain_batch(rng: np.random.Generator) -> Batch:
    predicted = rng.integers(0, 2, size=(BATCH, SEQ)).astype("float32")
    return [*_xlnet_batch(rng), predicted]


# ---- keras-rectified-adam ------------------------------------------------------------


def radam_model(keras: Any) -> Any:
    inputs = keras.layers.Input(shape=(SEQ, 8))
    hidden = keras.layers.Dense(8, activation="tanh", name="hidden")(inputs)
    return keras.models.Model(inputs, keras.layers.Dense(4, name="out")(hidden))


# ---- bert4keras ------------------------------------------------------------------------
# bert4keras picks Keras through its own switch: TF_KERAS=1 (set for both sides by the
# harness) makes its backend module put `tf.keras` in `sys.modules['keras']`.


def _bert4keras(model: str) -> Callable[[Any], Any]:
    def build(keras: Any) -> Any:
        from bert4keras.models import build_transformer_model

        return build_transformer_model(
            model=model, vocab_size=TOKENS, hidden_size=8, num_hidden_layers=2, num_attention_heads=2,
            intermediate_size=16, hidden_act="gelu", max_position_embeddings=SEQ, dropout_rate=0.0,
            attention_dropout_rate=0.0,
        )

    build.__name__ = f"bert4keras_{model}"
    return build


CASES: tuple[Case, ...] = (
    Case("keras-layer-normalization", "LayerNormalization", layer_norm, _floats),
    Case("keras-position-wise-feed-forward", "FeedForward", feed_forward, _floats),
    Case("keras-pos-embd", "PositionEmbedding(add)", position_embedding_add, _floats),
    Case("keras-pos-embd", "TrigPosEmbedding(add)", trig_position_embedding, _floats),
    Case("keras-embed-sim", "EmbeddingRet+EmbeddingSim", embedding_similarity, _tokens),
    Case("keras-self-attention", "SeqSelfAttention(additive)", seq_self_attention_additive, _tokens),
    Case("keras-self-attention", "SeqSelfAttention(mul,width=3)", seq_self_attention_multiplicative, _tokens),
    Case("keras-self-attention", "SeqWeightedAttention", seq_weighted_attention, _tokens),
    Case("keras-self-attention", "ScaledDotProductAttention", scaled_dot_attention, _tokens),
    Case("keras-multi-head", "MultiHeadAttention", multi_head_attention, _tokens),
    Case("keras-multi-head", "MultiHead(Dense)", multi_head_wrapper, _floats),
    Case("keras-transformer", "get_model", transformer, lambda rng: _tokens(rng, 2)),
    Case("keras-bert", "get_model(training=True)", bert_pretrain, _bert_pretrain_batch),
    Case("keras-bert", "get_model(training=False)", bert_encoder, _bert_batch),
    Case("keras-transformer-xl", "build_transformer_xl", transformer_xl, _transformer_xl_batch),
    Case("keras-xlnet", "build_xlnet(training=False)", xlnet, _xlnet_batch),
    Case("keras-xlnet", "build_xlnet(training=True)", xlnet_pretrain, _xlnet_pretrain_batch),
    Case("keras-gpt-2", "get_model", gpt_2, _tokens),
    Case("keras-rectified-adam", "RAdam (7 steps)", radam_model, _floats,
         optimizer=("keras_radam:RAdam", {"learning_rate": 0.01})),
    Case("bert4keras", "build_transformer_model(bert)", _bert4keras("bert"), _bert_batch),
    Case("bert4keras", "build_transformer_model(albert)", _bert4keras("albert"), _bert_batch),
)


def cases_of(library: str) -> list[Case]:
    return [case for case in CASES if case.library == library]


def case_batch(case: Case) -> Batch:
    """The fixed batch of a case: a generator seeded by the case's key, so both sides
    (and every run) feed the same arrays."""
    seed = int.from_bytes(case.key.encode(), "little") % (2**32)
    return case.batch(np.random.default_rng(seed))
