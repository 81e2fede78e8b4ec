#! -*- coding: utf-8 -*-
"""A Keras 2.2.4 transformer-encoder text classifier, as people wrote them in 2019-2021.

This is the *user's legacy program* of the bundled example: standalone
``keras`` (not tf.keras), custom layers on ``keras.engine.topology.Layer``
computed with ``keras.backend``, a functional model compiled with
``Adam(lr=...)``, and a warmup-cosine callback that pokes ``optimizer.lr``
through ``K.get_value``/``K.set_value``. It does not run on Keras 3 as it is:
``./dev example`` rewrites it with ``migrate rewrite``, ports its checkpoint
(``tests/fixtures/legacy/keras22_classifier.model.h5``) into the rewritten
model and verifies the numbers.
"""
from __future__ import print_function

import numpy as np
import keras
from keras import backend as K
from keras.engine.topology import Layer
from keras.layers import Input, Embedding, Dense, Dropout, Add, add, GlobalAveragePooling1D
from keras.models import Model


class Position_Embedding(Layer):
    """Sinusoid position code, sin and cos interleaved, added to (or put before) x."""

    def __init__(self, size=None, mode='sum', **kwargs):
        self.size = size
        self.mode = mode
        super(Position_Embedding, self).__init__(**kwargs)

    def call(self, x):
        if (self.size == None) or (self.mode == 'sum'):
            self.size = int(x.shape[-1])
        batch_size, seq_len = K.shape(x)[0], K.shape(x)[1]
        freqs = 1. / K.pow(10000., 2 * K.arange(self.size / 2, dtype='float32') / self.size)
        freqs = K.expand_dims(freqs, 0)
        positions = K.cumsum(K.ones_like(x[:, :, 0]), 1) - 1
        positions = K.expand_dims(positions, 2)
        angles = K.dot(positions, freqs)
        sin = K.expand_dims(K.sin(angles), -1)
        cos = K.expand_dims(K.cos(angles), -1)
        code = K.reshape(K.concatenate([sin, cos]), (batch_size, seq_len, self.size))
        if self.mode == 'sum':
            return code + x
        return K.concatenate([code, x], 2)

    def compute_output_shape(self, input_shape):
        if self.mode == 'sum':
            return input_shape
        return (input_shape[0], input_shape[1], input_shape[2] + self.size)

    def get_config(self):
        config = {'size': self.size, 'mode': self.mode}
        base = super(Position_Embedding, self).get_config()
        return dict(list(base.items()) + list(config.items()))


class MultiHeadAttention(Layer):
    """Multi-head self-attention with ReLU on the projections and the output."""

    def __init__(self, head_num, activation='relu', use_bias=True, history_only=False, **kwargs):
        self.supports_masking = True
        self.head_num = head_num
        self.activation = keras.activations.get(activation)
        self.use_bias = use_bias
        self.history_only = history_only
        super(MultiHeadAttention, self).__init__(**kwargs)

    def get_config(self):
        config = {
            'head_num': self.head_num,
            'activation': keras.activations.serialize(self.activation),
            'use_bias': self.use_bias,
            'history_only': self.history_only,
        }
        base = super(MultiHeadAttention, self).get_config()
        return dict(list(base.items()) + list(config.items()))

    def build(self, input_shape):
        dim = int(input_shape[-1])
        if dim % self.head_num != 0:
            raise IndexError('Invalid head number %d with the given input dim %d' % (self.head_num, dim))
        for part in ('q', 'k', 'v', 'o'):
            kernel = self.add_weight(name='%s_W%s' % (self.name, part), shape=(dim, dim),
                                     initializer='glorot_normal')
            setattr(self, 'W' + part, kernel)
            if self.use_bias:
                bias = self.add_weight(name='%s_b%s' % (self.name, part), shape=(dim,), initializer='zeros')
                setattr(self, 'b' + part, bias)
        super(MultiHeadAttention, self).build(input_shape)

    def _project(self, x, kernel, bias):
        y = K.dot(x, kernel)
        if self.use_bias:
            y += bias
        if self.activation is not None:
            y = self.activation(y)
        return y

    def _split_heads(self, x):
        shape = K.shape(x)
        x = K.reshape(x, (shape[0], shape[1], self.head_num, shape[2] // self.head_num))
        x = K.permute_dimensions(x, [0, 2, 1, 3])
        return K.reshape(x, (shape[0] * self.head_num, shape[1], shape[2] // self.head_num))

    def _merge_heads(self, x):
        shape = K.shape(x)
        x = K.reshape(x, (shape[0] // self.head_num, self.head_num, shape[1], shape[2]))
        x = K.permute_dimensions(x, [0, 2, 1, 3])
        return K.reshape(x, (shape[0] // self.head_num, shape[1], shape[2] * self.head_num))

    def call(self, x, mask=None):
        q = self._split_heads(self._project(x, self.Wq, self.bq if self.use_bias else None))
        k = self._split_heads(self._project(x, self.Wk, self.bk if self.use_bias else None))
        v = self._split_heads(self._project(x, self.Wv, self.bv if self.use_bias else None))
        e = K.batch_dot(q, k, axes=2) / K.sqrt(K.cast(K.shape(q)[-1], dtype=K.floatx()))
        if self.history_only:
            keys = K.expand_dims(K.arange(0, K.shape(k)[1]), axis=0)
            queries = K.expand_dims(K.arange(0, K.shape(q)[1]), axis=-1)
            e -= 10000.0 * K.expand_dims(K.cast(keys > queries, K.floatx()), axis=0)
        if mask is not None:
            key_mask = K.reshape(K.tile(K.expand_dims(mask, 1), [1, self.head_num, 1]), (-1, K.shape(mask)[1]))
            e -= 10000.0 * (1.0 - K.cast(K.expand_dims(key_mask, axis=-2), K.floatx()))
        e = K.exp(e - K.max(e, axis=-1, keepdims=True))
        attention = e / K.sum(e, axis=-1, keepdims=True)
        y = self._merge_heads(K.batch_dot(attention, v))
        return self._project(y, self.Wo, self.bo if self.use_bias else None)

    def compute_mask(self, inputs, mask=None):
        return mask


class LayerNorm(Layer):
    """Layer normalisation without weights; epsilon is K.epsilon() squared."""

    def __init__(self, epsilon=None, **kwargs):
        super(LayerNorm, self).__init__(**kwargs)
        self.supports_masking = True
        self.epsilon = K.epsilon() * K.epsilon() if epsilon is None else epsilon

    def call(self, inputs):
        mean = K.mean(inputs, axis=-1, keepdims=True)
        variance = K.mean(K.square(inputs - mean), axis=-1, keepdims=True)
        return (inputs - mean) / K.sqrt(variance + self.epsilon)

    def get_config(self):
        config = {'epsilon': self.epsilon}
        base = super(LayerNorm, self).get_config()
        return dict(list(base.items()) + list(config.items()))


def transformer_block(x, prefix, head_num, model_dim, dropout):
    att = MultiHeadAttention(head_num=head_num, name='%s_att1' % prefix)(x)
    att = Dropout(dropout, name='%s_do1' % prefix)(att)
    norm1 = LayerNorm(name='%s_LN1' % prefix)(Add(name='%s_add1' % prefix)([x, att]))
    hidden = Dense(model_dim * 4, activation='relu', name='%s_fc1' % prefix)(norm1)
    hidden = Dense(model_dim, name='%s_fc2' % prefix)(hidden)
    hidden = Dropout(dropout, name='%s_do2' % prefix)(hidden)
    return LayerNorm(name='%s_LN2' % prefix)(add([norm1, hidden]))


def build_model(vocab_size=50, max_len=12, model_dim=16, head_num=4, num_blocks=3, num_class=3, dropout=0.1):
    words = Input(shape=(max_len,), name='inputs', dtype='int32')
    x = Embedding(vocab_size, model_dim)(words)
    x = Position_Embedding()(x)
    x = Dropout(dropout)(x)
    blocks = []
    for i in range(num_blocks):
        x = transformer_block(x, 't%d' % (i + 1), head_num, model_dim, dropout)
        blocks.append(x)
    x = Add()(blocks[-3:]) if len(blocks) > 1 else blocks[0]
    x = GlobalAveragePooling1D()(x)
    x = Dropout(dropout)(x)
    result = Dense(num_class, activation='softmax', name='outputs')(x)
    model = Model(inputs=words, outputs=result)
    model.compile(loss='categorical_crossentropy', optimizer=keras.optimizers.Adam(lr=5e-5), metrics=['acc'])
    return model


def cosine_decay_with_warmup(global_step, learning_rate_base, total_steps, warmup_learning_rate=0.0,
                             warmup_steps=0, hold_base_rate_steps=0):
    if total_steps < warmup_steps:
        raise ValueError('total_steps must be larger or equal to warmup_steps.')
    lr = 0.5 * learning_rate_base * (1 + np.cos(np.pi * (global_step - warmup_steps - hold_base_rate_steps)
                                                / float(total_steps - warmup_steps - hold_base_rate_steps)))
    if hold_base_rate_steps > 0:
        lr = np.where(global_step > warmup_steps + hold_base_rate_steps, lr, learning_rate_base)
    if warmup_steps > 0:
        slope = (learning_rate_base - warmup_learning_rate) / warmup_steps
        lr = np.where(global_step < warmup_steps, slope * global_step + warmup_learning_rate, lr)
    return np.where(global_step > total_steps, 0.0, lr)


class WarmUpCosineDecayScheduler(keras.callbacks.Callback):
    def __init__(self, learning_rate_base, total_steps, warmup_learning_rate=0.0, warmup_steps=0,
                 hold_base_rate_steps=0):
        super(WarmUpCosineDecayScheduler, self).__init__()
        self.learning_rate_base = learning_rate_base
        self.total_steps = total_steps
        self.global_step = 0
        self.warmup_learning_rate = warmup_learning_rate
        self.warmup_steps = warmup_steps
        self.hold_base_rate_steps = hold_base_rate_steps
        self.learning_rates = []

    def on_batch_end(self, batch, logs=None):
        self.global_step = self.global_step + 1
        self.learning_rates.append(K.get_value(self.model.optimizer.lr))

    def on_batch_begin(self, batch, logs=None):
        lr = cosine_decay_with_warmup(self.global_step, self.learning_rate_base, self.total_steps,
                                      self.warmup_learning_rate, self.warmup_steps, self.hold_base_rate_steps)
        K.set_value(self.model.optimizer.lr, lr)


def train(model, tokens, labels, epochs=1, batch_size=4):
    steps = epochs * int(np.ceil(len(tokens) / float(batch_size)))
    warmup = WarmUpCosineDecayScheduler(1e-3, steps, warmup_learning_rate=1e-4, warmup_steps=1)
    model.fit(tokens, labels, batch_size=batch_size, epochs=epochs, verbose=0, callbacks=[warmup])
    return warmup.learning_rates
