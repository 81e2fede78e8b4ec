"""An encoder-decoder Transformer in the style of the 2021 TensorFlow tutorial.

Subclassed ``tf.keras`` layers called with positional ``training``/``mask``
arguments, a Noam ``LearningRateSchedule`` computing ``tf.math.rsqrt(step)``,
a masked loss, a ``tf.function`` train step with an input signature,
``tf.train.Checkpoint`` + ``CheckpointManager`` and greedy decoding on token
ids. This is the *user's legacy program* of the bundled example (synthetic
token data, small sizes, no downloads): ``./dev example`` rewrites it with
``migrate rewrite``, ports the tutorial checkpoint in
``tests/fixtures/legacy/tutorial_ckpt`` into the rewritten model
(``build_model``) and verifies the numbers.
"""
import time

import numpy as np
import tensorflow as tf

NUM_LAYERS = 2
D_MODEL = 16
DFF = 32
NUM_HEADS = 4
DROPOUT_RATE = 0.1
INPUT_VOCAB = 40
TARGET_VOCAB = 45
MAX_POSITIONS = 50
START, END = 1, 2


def get_angles(pos, i, d_model):
    rates = 1 / np.power(10000, (2 * (i // 2)) / np.float32(d_model))
    return pos * rates


def positional_encoding(position, d_model):
    angles = get_angles(np.arange(position)[:, np.newaxis], np.arange(d_model)[np.newaxis, :], d_model)
    angles[:, 0::2] = np.sin(angles[:, 0::2])  # even channels
    angles[:, 1::2] = np.cos(angles[:, 1::2])  # odd channels
    return tf.cast(angles[np.newaxis, ...], dtype=tf.float32)


def create_padding_mask(seq):
    seq = tf.cast(tf.math.equal(seq, 0), tf.float32)
    return seq[:, tf.newaxis, tf.newaxis, :]  # (batch, 1, 1, seq_len); 1 marks padding


def create_look_ahead_mask(size):
    return 1 - tf.linalg.band_part(tf.ones((size, size)), -1, 0)


def scaled_dot_product_attention(q, k, v, mask):
    logits = tf.matmul(q, k, transpose_b=True)
    dk = tf.cast(tf.shape(k)[-1], tf.float32)
    logits = logits / tf.math.sqrt(dk)
    if mask is not None:
        logits += (mask * -1e9)
    weights = tf.nn.softmax(logits, axis=-1)
    return tf.matmul(weights, v), weights


class MultiHeadAttention(tf.keras.layers.Layer):
    def __init__(self, d_model, num_heads):
        super(MultiHeadAttention, self).__init__()
        self.num_heads = num_heads
        self.d_model = d_model
        assert d_model % self.num_heads == 0
        self.depth = d_model // self.num_heads
        self.wq = tf.keras.layers.Dense(d_model)
        self.wk = tf.keras.layers.Dense(d_model)
        self.wv = tf.keras.layers.Dense(d_model)
        self.dense = tf.keras.layers.Dense(d_model)

    def split_heads(self, x, batch_size):
        x = tf.reshape(x, (batch_size, -1, self.num_heads, self.depth))
        return tf.transpose(x, perm=[0, 2, 1, 3])

    def call(self, v, k, q, mask):
        batch_size = tf.shape(q)[0]
        q = self.split_heads(self.wq(q), batch_size)
        k = self.split_heads(self.wk(k), batch_size)
        v = self.split_heads(self.wv(v), batch_size)
        attended, weights = scaled_dot_product_attention(q, k, v, mask)
        attended = tf.transpose(attended, perm=[0, 2, 1, 3])
        merged = tf.reshape(attended, (batch_size, -1, self.d_model))
        return self.dense(merged), weights


def point_wise_feed_forward_network(d_model, dff):
    return tf.keras.Sequential([
        tf.keras.layers.Dense(dff, activation='relu'),
        tf.keras.layers.Dense(d_model),
    ])


class EncoderLayer(tf.keras.layers.Layer):
    def __init__(self, d_model, num_heads, dff, rate=0.1):
        super(EncoderLayer, self).__init__()
        self.mha = MultiHeadAttention(d_model, num_heads)
        self.ffn = point_wise_feed_forward_network(d_model, dff)
        self.layernorm1 = tf.keras.layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = tf.keras.layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = tf.keras.layers.Dropout(rate)
        self.dropout2 = tf.keras.layers.Dropout(rate)

    def call(self, x, training, mask):
        attn, _ = self.mha(x, x, x, mask)
        attn = self.dropout1(attn, training=training)
        out1 = self.layernorm1(x + attn)
        ffn = self.dropout2(self.ffn(out1), training=training)
        return self.layernorm2(out1 + ffn)


class DecoderLayer(tf.keras.layers.Layer):
    def __init__(self, d_model, num_heads, dff, rate=0.1):
        super(DecoderLayer, self).__init__()
        self.mha1 = MultiHeadAttention(d_model, num_heads)
        self.mha2 = MultiHeadAttention(d_model, num_heads)
        self.ffn = point_wise_feed_forward_network(d_model, dff)
        self.layernorm1 = tf.keras.layers.LayerNormalization(epsilon=1e-6)
        self.layernorm2 = tf.keras.layers.LayerNormalization(epsilon=1e-6)
        self.layernorm3 = tf.keras.layers.LayerNormalization(epsilon=1e-6)
        self.dropout1 = tf.keras.layers.Dropout(rate)
        self.dropout2 = tf.keras.layers.Dropout(rate)
        self.dropout3 = tf.keras.layers.Dropout(rate)

    def call(self, x, enc_output, training, look_ahead_mask, padding_mask):
        attn1, block1 = self.mha1(x, x, x, look_ahead_mask)
        out1 = self.layernorm1(self.dropout1(attn1, training=training) + x)
        attn2, block2 = self.mha2(enc_output, enc_output, out1, padding_mask)
        out2 = self.layernorm2(self.dropout2(attn2, training=training) + out1)
        ffn = self.dropout3(self.ffn(out2), training=training)
        return self.layernorm3(ffn + out2), block1, block2


class Encoder(tf.keras.layers.Layer):
    def __init__(self, num_layers, d_model, num_heads, dff, input_vocab_size,
                 maximum_position_encoding, rate=0.1):
        super(Encoder, self).__init__()
        self.d_model = d_model
        self.num_layers = num_layers
        self.embedding = tf.keras.layers.Embedding(input_vocab_size, d_model)
        self.pos_encoding = positional_encoding(maximum_position_encoding, self.d_model)
        self.enc_layers = [EncoderLayer(d_model, num_heads, dff, rate) for _ in range(num_layers)]
        self.dropout = tf.keras.layers.Dropout(rate)

    def call(self, x, training, mask):
        seq_len = tf.shape(x)[1]
        x = self.embedding(x)
        x *= tf.math.sqrt(tf.cast(self.d_model, tf.float32))
        x += self.pos_encoding[:, :seq_len, :]
        x = self.dropout(x, training=training)
        for i in range(self.num_layers):
            x = self.enc_layers[i](x, training, mask)
        return x


class Decoder(tf.keras.layers.Layer):
    def __init__(self, num_layers, d_model, num_heads, dff, target_vocab_size,
                 maximum_position_encoding, rate=0.1):
        super(Decoder, self).__init__()
        self.d_model = d_model
        self.num_layers = num_layers
        self.embedding = tf.keras.layers.Embedding(target_vocab_size, d_model)
        self.pos_encoding = positional_encoding(maximum_position_encoding, d_model)
        self.dec_layers = [DecoderLayer(d_model, num_heads, dff, rate) for _ in range(num_layers)]
        self.dropout = tf.keras.layers.Dropout(rate)

    def call(self, x, enc_output, training, look_ahead_mask, padding_mask):
        seq_len = tf.shape(x)[1]
        attention_weights = {}
        x = self.embedding(x)
        x *= tf.math.sqrt(tf.cast(self.d_model, tf.float32))
        x += self.pos_encoding[:, :seq_len, :]
        x = self.dropout(x, training=training)
        for i in range(self.num_layers):
            x, block1, block2 = self.dec_layers[i](x, enc_output, training,
                                                   look_ahead_mask, padding_mask)
            attention_weights[f'decoder_layer{i + 1}_block1'] = block1
            attention_weights[f'decoder_layer{i + 1}_block2'] = block2
        return x, attention_weights


class Transformer(tf.keras.Model):
    def __init__(self, num_layers, d_model, num_heads, dff, input_vocab_size,
                 target_vocab_size, pe_input, pe_target, rate=0.1):
        super().__init__()
        self.encoder = Encoder(num_layers, d_model, num_heads, dff, input_vocab_size, pe_input, rate)
        self.decoder = Decoder(num_layers, d_model, num_heads, dff, target_vocab_size, pe_target, rate)
        self.final_layer = tf.keras.layers.Dense(target_vocab_size)

    def call(self, inputs, training):
        inp, tar = inputs
        enc_padding_mask, look_ahead_mask, dec_padding_mask = self.create_masks(inp, tar)
        enc_output = self.encoder(inp, training, enc_padding_mask)
        dec_output, attention_weights = self.decoder(
            tar, enc_output, training, look_ahead_mask, dec_padding_mask)
        return self.final_layer(dec_output), attention_weights

    def create_masks(self, inp, tar):
        enc_padding_mask = create_padding_mask(inp)
        dec_padding_mask = create_padding_mask(inp)
        look_ahead_mask = create_look_ahead_mask(tf.shape(tar)[1])
        dec_target_padding_mask = create_padding_mask(tar)
        look_ahead_mask = tf.maximum(dec_target_padding_mask, look_ahead_mask)
        return enc_padding_mask, look_ahead_mask, dec_padding_mask


class CustomSchedule(tf.keras.optimizers.schedules.LearningRateSchedule):
    def __init__(self, d_model, warmup_steps=4000):
        super(CustomSchedule, self).__init__()
        self.d_model = d_model
        self.d_model = tf.cast(self.d_model, tf.float32)
        self.warmup_steps = warmup_steps

    def __call__(self, step):
        arg1 = tf.math.rsqrt(step)
        arg2 = step * (self.warmup_steps ** -1.5)
        return tf.math.rsqrt(self.d_model) * tf.math.minimum(arg1, arg2)


learning_rate = CustomSchedule(D_MODEL, warmup_steps=10)
optimizer = tf.keras.optimizers.Adam(learning_rate, beta_1=0.9, beta_2=0.98, epsilon=1e-9)

loss_object = tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True, reduction='none')


def loss_function(real, pred):
    mask = tf.math.logical_not(tf.math.equal(real, 0))
    loss_ = loss_object(real, pred)
    mask = tf.cast(mask, dtype=loss_.dtype)
    loss_ *= mask
    return tf.reduce_sum(loss_) / tf.reduce_sum(mask)


def accuracy_function(real, pred):
    accuracies = tf.equal(real, tf.argmax(pred, axis=2))
    mask = tf.math.logical_not(tf.math.equal(real, 0))
    accuracies = tf.math.logical_and(mask, accuracies)
    accuracies = tf.cast(accuracies, dtype=tf.float32)
    mask = tf.cast(mask, dtype=tf.float32)
    return tf.reduce_sum(accuracies) / tf.reduce_sum(mask)


train_loss = tf.keras.metrics.Mean(name='train_loss')
train_accuracy = tf.keras.metrics.Mean(name='train_accuracy')

transformer = Transformer(
    num_layers=NUM_LAYERS, d_model=D_MODEL, num_heads=NUM_HEADS, dff=DFF,
    input_vocab_size=INPUT_VOCAB, target_vocab_size=TARGET_VOCAB,
    pe_input=MAX_POSITIONS, pe_target=MAX_POSITIONS, rate=DROPOUT_RATE)

train_step_signature = [
    tf.TensorSpec(shape=(None, None), dtype=tf.int64),
    tf.TensorSpec(shape=(None, None), dtype=tf.int64),
]


@tf.function(input_signature=train_step_signature)
def train_step(inp, tar):
    tar_inp = tar[:, :-1]
    tar_real = tar[:, 1:]
    with tf.GradientTape() as tape:
        predictions, _ = transformer([inp, tar_inp], training=True)
        loss = loss_function(tar_real, predictions)
    gradients = tape.gradient(loss, transformer.trainable_variables)
    optimizer.apply_gradients(zip(gradients, transformer.trainable_variables))
    train_loss(loss)
    train_accuracy(accuracy_function(tar_real, predictions))


def build_model():
    """The model with this program's sizes, built (variables created) and ready for weights."""
    model = Transformer(
        num_layers=NUM_LAYERS, d_model=D_MODEL, num_heads=NUM_HEADS, dff=DFF,
        input_vocab_size=INPUT_VOCAB, target_vocab_size=TARGET_VOCAB,
        pe_input=MAX_POSITIONS, pe_target=MAX_POSITIONS, rate=DROPOUT_RATE)
    model([tf.ones((1, 4), tf.int64), tf.ones((1, 3), tf.int64)], training=False)
    return model


def synthetic_batches(n_batches=3, batch=4, seed=0):
    """Copy task on token ids: the target is START + input + END, zero padded."""
    rng = np.random.RandomState(seed)
    out = []
    for _ in range(n_batches):
        lengths = rng.randint(3, 8, size=batch)
        inp = np.zeros((batch, 8), dtype=np.int64)
        tar = np.zeros((batch, 10), dtype=np.int64)
        for row, n in enumerate(lengths):
            tokens = rng.randint(3, min(INPUT_VOCAB, TARGET_VOCAB), size=n)
            inp[row, :n] = tokens
            tar[row, 0] = START
            tar[row, 1:n + 1] = tokens
            tar[row, n + 1] = END
        out.append((tf.constant(inp), tf.constant(tar)))
    return out


def train(batches, epochs=1, checkpoint_path=None):
    ckpt = tf.train.Checkpoint(transformer=transformer, optimizer=optimizer)
    ckpt_manager = None
    if checkpoint_path is not None:
        ckpt_manager = tf.train.CheckpointManager(ckpt, checkpoint_path, max_to_keep=2)
        if ckpt_manager.latest_checkpoint:
            ckpt.restore(ckpt_manager.latest_checkpoint)
            print('Latest checkpoint restored!!')
    history = []
    for epoch in range(epochs):
        start = time.time()
        train_loss.reset_states()
        train_accuracy.reset_states()
        for (batch, (inp, tar)) in enumerate(batches):
            train_step(inp, tar)
        history.append(float(train_loss.result()))
        if ckpt_manager is not None:
            ckpt_manager.save()
        print(f'Epoch {epoch + 1} Loss {train_loss.result():.4f} '
              f'Accuracy {train_accuracy.result():.4f} ({time.time() - start:.2f}s)')
    return history


def greedy_decode(encoder_input, max_length=6):
    """Greedy decoding on token ids (the tutorial's Translator, without tokenizers)."""
    output_array = tf.TensorArray(dtype=tf.int64, size=0, dynamic_size=True)
    output_array = output_array.write(0, tf.constant([START], dtype=tf.int64))
    for i in tf.range(max_length):
        output = tf.transpose(output_array.stack())
        predictions, _ = transformer([encoder_input, output], training=False)
        predicted_id = tf.argmax(predictions[:, -1:, :], axis=-1)
        output_array = output_array.write(i + 1, predicted_id[0])
        if predicted_id == END:
            break
    output = tf.transpose(output_array.stack())
    _, attention_weights = transformer([encoder_input, output[:, :-1]], training=False)
    return output, attention_weights


if __name__ == '__main__':
    data = synthetic_batches()
    print(train(data, epochs=2, checkpoint_path='./checkpoints/train'))
    print(greedy_decode(data[0][0][:1]))
