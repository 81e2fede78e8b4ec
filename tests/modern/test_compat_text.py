"""modern.compat's Keras 2 text preprocessing against tf_keras's own (the legacy reference).

``migrate rewrite`` sends ``keras.preprocessing.text`` here (KM101 row of tables.py);
reuters_mlp of Keras 2.2.4's examples vectorises with ``Tokenizer.sequences_to_matrix``.
"""

from __future__ import annotations

import numpy as np
import pytest

from modern import compat
from tests.migrate.helpers import rules_of, rw

TEXTS = [
    "The cat sat on the mat.", "The dog ate the cat's dinner!", "A mat, a cat; a HAT?",
    "", "dog dog dog\tdog\nbird", "Unseen words only here",
]


@pytest.fixture(scope="module")
def legacy_text():
    from tf_keras.preprocessing import text

    return text


@pytest.mark.parametrize("options", [{}, {"num_words": 6}, {"oov_token": "<oov>"},
                                     {"num_words": 5, "oov_token": "<oov>"}, {"char_level": True},
                                     {"lower": False, "filters": ""}])
def test_tokenizer_equals_tf_keras(legacy_text, options):
    legacy, ours = legacy_text.Tokenizer(**options), compat.Tokenizer(**options)
    legacy.fit_on_texts(TEXTS[:4])
    ours.fit_on_texts(TEXTS[:4])
    assert ours.word_index == legacy.word_index
    assert ours.index_word == legacy.index_word
    assert dict(ours.word_counts) == dict(legacy.word_counts)
    assert ours.texts_to_sequences(TEXTS) == legacy.texts_to_sequences(TEXTS)
    sequences = legacy.texts_to_sequences(TEXTS)
    assert ours.sequences_to_texts(sequences) == legacy.sequences_to_texts(sequences)
    for mode in ("binary", "count", "freq", "tfidf"):
        np.testing.assert_array_equal(ours.texts_to_matrix(TEXTS, mode=mode), legacy.texts_to_matrix(TEXTS, mode=mode))


def test_sequences_to_matrix_without_fit_as_reuters_mlp(legacy_text):
    rng = np.random.RandomState(0)
    sequences = [list(rng.randint(1, 40, size=rng.randint(0, 20))) for _ in range(16)]
    for mode in ("binary", "count", "freq"):
        np.testing.assert_array_equal(compat.Tokenizer(num_words=30).sequences_to_matrix(sequences, mode=mode),
                                      legacy_text.Tokenizer(num_words=30).sequences_to_matrix(sequences, mode=mode))
    legacy, ours = legacy_text.Tokenizer(num_words=30), compat.Tokenizer(num_words=30)
    legacy.fit_on_sequences(sequences)
    ours.fit_on_sequences(sequences)
    np.testing.assert_array_equal(ours.sequences_to_matrix(sequences, mode="tfidf"),
                                  legacy.sequences_to_matrix(sequences, mode="tfidf"))


def test_errors_like_keras2():
    with pytest.raises(ValueError, match="Specify a dimension"):
        compat.Tokenizer().sequences_to_matrix([[1]])
    with pytest.raises(ValueError, match="tfidf"):
        compat.Tokenizer(num_words=3).sequences_to_matrix([[1]], mode="tfidf")
    with pytest.raises(ValueError, match="Unknown vectorization mode"):
        compat.Tokenizer(num_words=3).sequences_to_matrix([[1]], mode="bm25")


def test_helpers_equal_tf_keras(legacy_text):
    for text in TEXTS:
        assert compat.text_to_word_sequence(text) == legacy_text.text_to_word_sequence(text)
        assert compat.hashing_trick(text, 50, "md5") == legacy_text.hashing_trick(text, 50, "md5")
        assert compat.one_hot(text, 50) == legacy_text.one_hot(text, 50)


def test_rewrite_sends_keras_preprocessing_text_to_compat():
    code, findings = rw("from keras.preprocessing.text import Tokenizer\nt = Tokenizer(num_words=10)\n")
    assert code.startswith("from modern.compat import Tokenizer\n")
    assert rules_of(findings, fixed=True) == {"KM101"}
    code, _ = rw("from keras.preprocessing import text\nt = text.Tokenizer(num_words=10)\n")
    assert "t = compat.Tokenizer(num_words=10)" in code and "from modern import compat\n" in code
    code, _ = rw("import tensorflow as tf\nt = tf.keras.preprocessing.text.Tokenizer()\n")
    assert "compat.Tokenizer()" in code and "from modern import compat\n" in code
