"""keras-multi-head's ``MultiHead`` wrapper: ``layer_num`` copies of a layer, outputs stacked.

The library (``keras_multi_head.MultiHead``, 0.29) wraps a template layer,
makes ``layer_num`` copies of it from its config (named ``<template>_1``,
``<template>_2``, ...), optionally feeds each copy its own slice of one
linear projection of the input, and stacks the copies' outputs on a new
last axis. It can also compute an orthogonality penalty over the copies'
weights. This port keeps its constructor arguments, its config keys, its
function and the order of its weights; see :class:`MultiHead`.
"""

from __future__ import annotations

import inspect

import keras
from keras import ops

PACKAGE = "modern.bert_family"


def _as_slices(interval):
    """One ``reg_slice`` entry as Python: ``None``, a ``slice`` or a tuple of slices.

    The library's config writes a slice as ``[start, stop, step]`` and a tuple
    of slices as a list of those; the constructor also takes the Python forms.
    """
    if interval is None or isinstance(interval, slice):
        return interval
    if isinstance(interval, tuple) and all(isinstance(s, slice) for s in interval):
        return interval
    if isinstance(interval, (list, tuple)) and interval and isinstance(interval[0], (list, tuple)):
        return tuple(slice(*bounds) for bounds in interval)
    if isinstance(interval, (list, tuple)) and len(interval) == 3:
        return slice(*interval)
    raise ValueError(f"reg_slice entry {interval!r} is neither None, a slice, a tuple of slices, "
                     "[start, stop, step] nor a list of those")


def _slice_config(interval):
    if interval is None:
        return None
    if isinstance(interval, slice):
        return [interval.start, interval.stop, interval.step]
    return [[s.start, s.stop, s.step] for s in interval]


def _unbuilt(serialized):
    """A head's serialized form without its build record.

    The wrapper builds its heads inside its own ``build`` (so their variables
    live under the wrapper's path, ``<name>/<head>/kernel``); a head that
    deserialization had already built would keep a path outside it.
    """
    return {k: v for k, v in serialized.items() if k != "build_config"}


@keras.saving.register_keras_serializable(package=PACKAGE)
class MultiHead(keras.layers.Layer):
    """keras-multi-head's ``MultiHead``: run ``layer_num`` copies of a layer and stack their outputs.

    Without ``hidden_dim`` every head ``i`` sees the input ``x``; with it, head
    ``i`` sees ``x W[:, i*h:(i+1)*h] (+ b[i*h:(i+1)*h])`` (``h = hidden_dim``,
    one ``W`` of shape ``(input_dim, h * layer_num)`` named ``<name>_W``,
    initialised ``RandomUniform(-0.05, 0.05)``, and with ``use_bias`` a zero
    ``b`` named ``<name>_b``; ``use_bias`` concerns only this projection, the
    heads keep their own). The output is ``stack([head_1(.), ...], axis=-1)``:
    the heads' output shape plus a last axis of size ``layer_num``. The mask
    is the first head's ``compute_mask`` of the wrapper's input, as in the
    library.

    Heads. A template ``layer`` is never built or called: the heads are
    copies made from its config in the constructor (as the library does in
    ``build``), named ``<template name>_1`` ... so ``get_config`` always lists
    them. A *list* of layers (what the library's ``from_config`` passes, and
    what this class's config holds) is used as the heads themselves. Each
    head receives ``training`` and ``mask`` when its ``call`` takes them. Each
    head is built on the shape it is called with (``hidden_dim`` as last axis
    when given); the library builds every head on the wrapper's input shape,
    so with weight-bearing heads it works only when ``hidden_dim`` equals the
    input width, and there the two agree.

    Weights. ``<name>_W``, ``<name>_b``, then each head's weights in head
    order, under the head's name (variable paths ``<name>/<head>/kernel``;
    the library names them ``<name>/sub_<i>/kernel``, which the weight map of
    :mod:`migrate.weights.families.bert_family` pairs). For heads without
    non-trainable weights that is the library's saved order; the library
    puts all heads' non-trainable weights after all trainable ones.

    Regularization. ``reg_index`` (an int or a list), ``reg_slice`` (per
    index: ``None``, a slice, or a tuple of slices; one value is repeated for
    every index) and ``reg_factor`` (likewise) describe the library's
    penalty: for each index ``k``, stack the flattened (sliced) weight ``k``
    of every head as rows ``S`` and add ``factor * sum((S S^T - I)^2)``.
    :meth:`regularization_term` computes it from the current weights, equal
    to the library's term on the same weights. The library computes it once,
    inside ``build``, from the weights' values at that moment (``get_weights``,
    plain arrays), so it never carries a gradient; on tf_keras 2.x it is an
    eager loss cleared at the next call and never reaches ``fit`` (measured:
    ``evaluate`` reports the sum of the output losses alone); Keras 2.2.4
    added that build-time constant to the total loss. So by default this port
    adds no loss, which keeps training as the library's; with
    ``add_regularization_loss=True`` it adds the term, computed from the
    current weights and differentiable, at every call (what the library's
    docstring describes).

    Args:
        layer: the template layer, or a list of layers to use as the heads
            (then ``layer_num`` is their number).
        layer_num: number of heads made from a template.
        hidden_dim: width of each head's projected input, or ``None`` to
            feed every head the input itself.
        use_bias: whether the projection has a bias.
        reg_index, reg_slice, reg_factor: the penalty (see above).
        add_regularization_loss: add the penalty to the layer's losses at
            every call (not done by the library; default ``False``).
        **kwargs: standard layer arguments.

    Call arguments:
        inputs: the input tensor.
        training: passed to heads that take it.
        mask: passed to heads that take it.

    Returns:
        The heads' outputs stacked on a new last axis.
    """

    def __init__(self, layer, layer_num=1, hidden_dim=None, use_bias=True, reg_index=None, reg_slice=None,
                 reg_factor=0.0, add_regularization_loss=False, **kwargs):
        super().__init__(**kwargs)
        if isinstance(layer, (list, tuple)):
            if not layer:
                raise ValueError("MultiHead needs at least one layer")
            heads = list(layer)
        else:
            if int(layer_num) < 1:
                raise ValueError(f"layer_num must be at least 1, got {layer_num!r}")
            config = layer.get_config()
            heads = [type(layer).from_config({**config, "name": f"{config['name']}_{i + 1}"})
                     for i in range(int(layer_num))]
        if not all(isinstance(head, keras.layers.Layer) for head in heads):
            raise TypeError(f"MultiHead wraps Keras layers, got {[type(h).__name__ for h in heads]}")
        self.heads = heads
        self.layer_num = len(heads)
        self.hidden_dim = None if hidden_dim is None else int(hidden_dim)
        self.use_bias = bool(use_bias)
        # The library's normalisation: one index, slice or factor stands for a list of one.
        if reg_index is None or isinstance(reg_index, list):
            self.reg_index = None if reg_index is None else [int(i) for i in reg_index]
        else:
            self.reg_index = [int(reg_index)]
        if isinstance(reg_slice, list):
            self.reg_slice = [_as_slices(s) for s in reg_slice]
        elif reg_index is None:
            self.reg_slice = None
        else:
            self.reg_slice = [_as_slices(reg_slice)] * len(self.reg_index)
        if reg_factor is None or isinstance(reg_factor, list) or reg_index is None:
            self.reg_factor = reg_factor
        else:
            self.reg_factor = [reg_factor] * len(self.reg_index)
        if self.reg_index and (self.reg_slice is None or self.reg_factor is None
                               or not len(self.reg_index) == len(self.reg_slice) == len(self.reg_factor)):
            raise ValueError(f"reg_index {reg_index!r}, reg_slice {reg_slice!r} and reg_factor {reg_factor!r} "
                             "must have one entry each per regularized weight")
        self.add_regularization_loss = bool(add_regularization_loss)
        self.supports_masking = heads[0].supports_masking
        parameters = inspect.signature(heads[0].call).parameters
        self._head_takes = {name for name in ("training", "mask") if name in parameters}
        self.W = self.b = None

    def _head_shape(self, input_shape):
        input_shape = tuple(input_shape)
        return input_shape if self.hidden_dim is None else input_shape[:-1] + (self.hidden_dim,)

    def build(self, input_shape):
        if self.hidden_dim is not None:
            width = self.hidden_dim * self.layer_num
            self.W = self.add_weight(shape=(int(input_shape[-1]), width), name=f"{self.name}_W",
                                     initializer=keras.initializers.RandomUniform(-0.05, 0.05))
            if self.use_bias:
                self.b = self.add_weight(shape=(width,), name=f"{self.name}_b", initializer="zeros")
        for head in self.heads:
            if not head.built:
                head.build(self._head_shape(input_shape))

    def regularization_term(self):
        """The library's orthogonality penalty on the current weights (0 without ``reg_index``)."""
        total = 0.0
        for index, interval, factor in zip(self.reg_index or [], self.reg_slice or [], self.reg_factor or []):
            rows = []
            for head in self.heads:
                weight = ops.convert_to_tensor(head.weights[index])
                if interval is not None:
                    weight = weight[interval if isinstance(interval, tuple) else (interval,)]
                rows.append(ops.reshape(weight, (-1,)))
            rows = ops.stack(rows)
            gram = ops.matmul(rows, ops.transpose(rows)) - ops.eye(self.layer_num, dtype=rows.dtype)
            total = total + factor * ops.sum(ops.square(gram))
        return ops.convert_to_tensor(total, dtype=self.variable_dtype)

    def call(self, inputs, training=None, mask=None):
        kwargs = {}
        if "training" in self._head_takes:
            kwargs["training"] = training
        if "mask" in self._head_takes and mask is not None:
            kwargs["mask"] = mask
        outputs = []
        for i, head in enumerate(self.heads):
            x = inputs
            if self.hidden_dim is not None:
                begin, end = i * self.hidden_dim, (i + 1) * self.hidden_dim
                x = ops.matmul(inputs, self.W[:, begin:end])
                if self.use_bias:
                    x = x + self.b[begin:end]
            outputs.append(head(x, **kwargs))
        if self.add_regularization_loss and self.reg_index:
            self.add_loss(self.regularization_term())
        return ops.stack(outputs, axis=-1)

    def compute_mask(self, inputs, mask=None):
        return self.heads[0].compute_mask(inputs, mask)

    def compute_output_shape(self, input_shape):
        return tuple(self.heads[0].compute_output_shape(self._head_shape(input_shape))) + (self.layer_num,)

    def get_config(self):
        config = super().get_config()
        config.update({
            "layers": [_unbuilt(keras.layers.serialize(head)) for head in self.heads],
            "hidden_dim": self.hidden_dim,
            "use_bias": self.use_bias,
            "reg_index": self.reg_index,
            "reg_slice": None if self.reg_slice is None else [_slice_config(s) for s in self.reg_slice],
            "reg_factor": self.reg_factor,
            "add_regularization_loss": self.add_regularization_loss,
        })
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        heads = [keras.layers.deserialize(_unbuilt(head)) for head in config.pop("layers")]
        # The library's configs have no layer_num: it is the number of heads.
        config.pop("layer_num", None)
        return cls(heads, **config)
