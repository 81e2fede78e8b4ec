"""Fixed sinusoid position encodings (Keras 3 port of the Keras-2.2 ``Position_Embedding``)."""

from __future__ import annotations

import keras
from keras import ops

_MODES = ("sum", "concat")
_LAYOUTS = ("interleaved", "sin_cos", "cos_sin")


@keras.saving.register_keras_serializable(package="modern")
class SinusoidalPositionEmbedding(keras.layers.Layer):
    """Adds (or prepends) a fixed sinusoid position encoding to a sequence.

    For position ``p`` (``0 .. seq_len - 1``) and frequency index ``i`` in
    ``[0, size / 2)`` the angle is ``p / 10000 ** (2 * i / size)``. The
    ``size`` features are laid out according to ``layout``:

    * ``"interleaved"``: ``pe[p, 2i] = sin(angle)``, ``pe[p, 2i + 1] =
      cos(angle)`` -- the corrected Keras-2.2 ``Position_Embedding`` of the
      2021 blog post (and of "Attention is all you need"). It is computed in
      float32 with the same operations as the legacy layer (frequencies
      ``1 / 10000 ** (2i / size)``, then ``position * frequency``), so it
      reproduces the legacy values to float32 rounding.
    * ``"sin_cos"``: all sines, then all cosines (``[sin..., cos...]``), as
      many hand-written encodings and ``tensor2tensor`` do.
    * ``"cos_sin"``: all cosines, then all sines -- the *uncorrected* CSDN
      code the blog post fixed.

    The encoding depends only on the sequence length of the input, so the
    layer works for any (also variable) length. It has no weights, so a
    legacy ``Position_Embedding`` ports with no weight transfer at all.

    Legacy differences, on purpose:

    * ``Position_Embedding`` silently replaced ``size`` by the input width in
      ``"sum"`` mode. Here ``size`` must be ``None`` or equal to the input
      width in that mode, else ``build`` raises ``ValueError`` (a silently
      ignored argument hides a bug in the calling code).
    * An odd ``size`` failed deep inside a reshape; here it raises
      ``ValueError`` up front.
    * Masks pass through (the legacy layer did not support masking, which
      in Keras 2 made a masked embedding upstream an error).

    Args:
        mode: ``"sum"`` adds the encoding to the input (``size`` is the input
            width); ``"concat"`` puts the ``size`` encoding features *first*,
            followed by the input features, as the legacy layer did.
        size: number of encoding features; must be even. Defaults to the
            input width.
        layout: ``"interleaved"`` (default), ``"sin_cos"`` or ``"cos_sin"``.
        **kwargs: standard layer arguments (``name``, ``dtype``...).

    Call arguments:
        inputs: float tensor of shape ``(batch, seq_len, features)``.

    Returns:
        ``(batch, seq_len, features)`` in ``"sum"`` mode,
        ``(batch, seq_len, size + features)`` in ``"concat"`` mode.

    Example:

    >>> x = keras.random.normal((2, 7, 16))
    >>> SinusoidalPositionEmbedding()(x).shape
    (2, 7, 16)
    >>> SinusoidalPositionEmbedding(mode="concat", size=8)(x).shape
    (2, 7, 24)
    """

    def __init__(self, mode="sum", size=None, layout="interleaved", **kwargs):
        super().__init__(**kwargs)
        if mode not in _MODES:
            raise ValueError(f"mode must be one of {_MODES}, got {mode!r}")
        if layout not in _LAYOUTS:
            raise ValueError(f"layout must be one of {_LAYOUTS}, got {layout!r}")
        if size is not None and (int(size) <= 0 or int(size) % 2):
            raise ValueError(f"size must be a positive even number (sin/cos pairs), got {size!r}")
        self.mode = mode
        self.size = None if size is None else int(size)
        self.layout = layout
        self.supports_masking = True

    def _encoding_size(self, features):
        return features if self.size is None else self.size

    def build(self, input_shape):
        features = input_shape[-1]
        if features is None:
            raise ValueError("SinusoidalPositionEmbedding needs a known last (feature) dimension")
        if self.mode == "sum" and self.size is not None and self.size != features:
            raise ValueError(
                f"In 'sum' mode size must be None or the input width {features}, got {self.size} "
                "(the legacy Position_Embedding silently ignored it; drop the argument)"
            )
        if self._encoding_size(features) % 2:
            raise ValueError(f"the encoding size must be even (sin/cos pairs), got {self._encoding_size(features)}")

    def positional_encoding(self, seq_len, features):
        """The ``(seq_len, size)`` float32 encoding (without the batch axis).

        Args:
            seq_len: sequence length (int or scalar tensor).
            features: input width, used when ``size`` is ``None``.

        Returns:
            A float32 tensor of shape ``(seq_len, size)``.
        """
        size = self._encoding_size(features)
        # Same float32 operations as the legacy layer, in the same order:
        # 1 / 10000^((2i) / size), then position * frequency (exact for the
        # integer positions), so interleaved values match it bit for bit up
        # to the backend's pow/sin/cos rounding.
        two_i = 2.0 * ops.arange(size // 2, dtype="float32")
        inv_freq = 1.0 / ops.power(ops.cast(10000.0, "float32"), two_i / float(size))
        positions = ops.arange(seq_len, dtype="float32")
        angles = positions[:, None] * inv_freq[None, :]
        sin, cos = ops.sin(angles), ops.cos(angles)
        if self.layout == "interleaved":
            # (seq, size/2, 2) flattened puts sin on even, cos on odd features.
            return ops.reshape(ops.stack([sin, cos], axis=-1), (seq_len, size))
        if self.layout == "sin_cos":
            return ops.concatenate([sin, cos], axis=-1)
        return ops.concatenate([cos, sin], axis=-1)

    def call(self, inputs):
        shape = ops.shape(inputs)
        batch_size, seq_len, features = shape[0], shape[1], inputs.shape[-1]
        encoding = ops.cast(self.positional_encoding(seq_len, features), self.compute_dtype)
        if self.mode == "sum":
            return inputs + encoding[None, :, :]
        size = self._encoding_size(features)
        encoding = ops.broadcast_to(encoding[None, :, :], (batch_size, seq_len, size))
        return ops.concatenate([encoding, ops.cast(inputs, self.compute_dtype)], axis=-1)

    def compute_output_shape(self, input_shape):
        if self.mode == "sum":
            return tuple(input_shape)
        features = input_shape[-1]
        return tuple(input_shape[:-1]) + (self._encoding_size(features) + features,)

    def get_config(self):
        config = super().get_config()
        config.update({"mode": self.mode, "size": self.size, "layout": self.layout})
        return config


__all__ = ["SinusoidalPositionEmbedding"]
