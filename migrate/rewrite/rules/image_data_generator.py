"""KM323: ``ImageDataGenerator(...)`` is reported with the Keras 3 augmentation to write.

Keras 3 has no ``ImageDataGenerator`` (its import is reported by KM103; the copy under
``keras.src.legacy`` is private and not a target). Its random augmentations have Keras
3 layers — ``RandomTranslation``, ``RandomFlip``, ``RandomRotation``, ``RandomZoom`` —
but they draw other random numbers and interpolate bilinearly where ``scipy.ndimage``
did, so no rewrite can keep the augmented batches equal: the spot is reported, and the
finding spells out the code for this call's own arguments (:data:`LAYERS`): a
``keras.Sequential`` of augmentation layers, applied with ``training=True`` to each batch
of a ``keras.utils.PyDataset`` that takes the place of ``datagen.flow(x, y,
batch_size=...)``. Arguments without a Keras 3 layer (ZCA whitening, channel shifts,
shear in degrees, sample-wise normalisation, ...) are named in the finding.

``tests/realworld/keras_examples/test_suggested_fixes.py`` takes the ``augment = ...``
code from this finding for Keras 2.2.4's cifar10_cnn, cifar10_resnet and
cifar10_cnn_capsule, puts it and the ``PyDataset`` in their rewritten text, and runs them
on Keras 3 against the legacy oracle (same initial weights, same batch).
"""

from __future__ import annotations

import ast

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, RuleSpec, Site

RULE = "KM323"
# The second spelling is what a rewritten file says: KM101 moves a module alias of
# ``keras.preprocessing.image`` to ``keras.utils`` (load_img and friends live there), and the
# alias's ImageDataGenerator, which has nowhere to go, is then reached through it. A rerun must
# report the call again.
_NAMES = ("keras.preprocessing.image.ImageDataGenerator", "keras.utils.ImageDataGenerator")

SPEC = RuleSpec(ids=(RULE,), hooks=(Hook(CALL, names=_NAMES, check=True),))

#: ImageDataGenerator's arguments in its positional order (keras-preprocessing 1.0, Keras 2.2.4)
ORDER = ("featurewise_center", "samplewise_center", "featurewise_std_normalization",
         "samplewise_std_normalization", "zca_whitening", "zca_epsilon", "rotation_range", "width_shift_range",
         "height_shift_range", "brightness_range", "shear_range", "zoom_range", "channel_shift_range", "fill_mode",
         "cval", "horizontal_flip", "vertical_flip", "rescale", "preprocessing_function", "data_format",
         "validation_split", "dtype")

#: what each argument becomes; ``None``: no Keras 3 layer does it (the reason is the value of NO_LAYER)
LAYERS = {
    "rescale": "keras.layers.Rescaling({value})",
    "rotation_range": "keras.layers.RandomRotation({value} / 360{fill})",  # degrees -> a fraction of 2*pi
    "zoom_range": "keras.layers.RandomZoom(({neg}, {value}), ({neg}, {value}){fill})",
}
NO_LAYER = {
    "featurewise_center": "subtract x_train.mean(axis=(0, 1, 2)) from the images",
    "featurewise_std_normalization": "divide by x_train.std(axis=(0, 1, 2)) (keras.layers.Normalization(axis=-1) "
                                     "adapted to x_train does both)",
    "samplewise_center": "subtract each image's mean",
    "samplewise_std_normalization": "divide each image by its std",
    "zca_whitening": "no Keras 3 layer: whiten with NumPy",
    "shear_range": "keras.layers.RandomShear takes other units than degrees: convert by hand",
    "channel_shift_range": "no Keras 3 layer: add a random per-channel offset by hand",
    "brightness_range": "keras.layers.RandomBrightness adds rather than scales: convert by hand",
    "preprocessing_function": "call it on each image of the batch",
    "validation_split": "split x, y by hand",
}
#: values that mean "off" (the defaults)
_OFF = (False, 0, 0.0, None)


def _literal(node: cst.BaseExpression, ctx: FileContext) -> object:
    try:
        return ast.literal_eval(ctx.code(node).strip())
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return ...  # not a literal: used as written


def suggestion(ctx: FileContext, call: cst.Call) -> tuple[str, list[str]]:
    """The ``augment = keras.Sequential([...])`` code for ``call``, and the arguments it cannot express."""
    given: dict[str, tuple[str, object]] = {}
    for i, arg in enumerate(call.args):
        if arg.star:
            return "", ["*args/**kwargs: the arguments are not visible"]
        key = arg.keyword.value if arg.keyword is not None else (ORDER[i] if i < len(ORDER) else f"#{i}")
        given[key] = (ctx.code(arg.value).strip(), _literal(arg.value, ctx))
    on = {k: v for k, v in given.items() if v[1] is ... or v[1] not in _OFF}
    fill_mode = on.get("fill_mode", ("'nearest'", "nearest"))[0]  # ImageDataGenerator's default
    cval = on.get("cval")
    fill = f", fill_mode={fill_mode}" + (f", fill_value={cval[0]}" if cval else "")
    layers: list[str] = []
    left: list[str] = []
    if "rescale" in on:
        layers.append(LAYERS["rescale"].format(value=on["rescale"][0]))
    if "rotation_range" in on:
        layers.append(LAYERS["rotation_range"].format(value=on["rotation_range"][0], fill=fill))
    widths = [on.get("height_shift_range"), on.get("width_shift_range")]
    if any(widths):
        values = [w[1] if w else 0.0 for w in widths]
        if all(isinstance(v, float) and abs(v) < 1 for v in values if v):
            layers.append(f"keras.layers.RandomTranslation({widths[0][0] if widths[0] else 0.0}, "
                          f"{widths[1][0] if widths[1] else 0.0}{fill})")
        else:
            left.append("height/width_shift_range in pixels (an int or >= 1): RandomTranslation takes a "
                        "fraction of the image size")
    if "zoom_range" in on:
        value = on["zoom_range"]
        if isinstance(value[1], (int, float)) and not isinstance(value[1], bool):
            layers.append(LAYERS["zoom_range"].format(value=value[0], neg=f"-{value[0]}", fill=fill))
        else:
            left.append("zoom_range as a pair: keras.layers.RandomZoom((1 - high, 1 - low)) by hand")
    flips = [mode for mode, key in (("horizontal", "horizontal_flip"), ("vertical", "vertical_flip")) if key in on]
    if flips:
        layers.append(f"keras.layers.RandomFlip('{'_and_'.join(flips)}')")
    if on.get("data_format", ("", None))[1] == "channels_first":
        left.append("data_format='channels_first': pass data_format to every layer above")
    for key in on:
        if key in NO_LAYER:
            left.append(f"{key}: {NO_LAYER[key]}")
        elif key.startswith("#"):
            left.append(f"argument {key[1:]}: not an ImageDataGenerator argument of Keras 2.2.4")
    return f"augment = keras.Sequential([{', '.join(layers)}])", left


def on_call(ctx: FileContext, site: Site) -> None:
    if not ctx.enabled(RULE):
        return None
    call: cst.Call = site.original
    code, left = suggestion(ctx, call)
    if not code:
        ctx.report(RULE, call, f"ImageDataGenerator: Keras 3 has none, and {left[0]}; write the augmentation as "
                   "keras.layers.Random* layers by hand", fixed=False)
        return None
    message = (f"ImageDataGenerator: Keras 3 has none (not a mechanical rewrite: the random augmentations draw "
               f"differently). Write `{code}` and, in place of datagen.flow(x, y, batch_size=n), a "
               "keras.utils.PyDataset whose batch i is (augment(x[idx], training=True), y[idx]) for idx the i-th "
               "slice of n of a permutation of len(x) drawn again in on_epoch_end (datagen.fit(x) is then not "
               "needed)")
    if left:
        message += "; not covered: " + "; ".join(left)
    ctx.report(RULE, call, message, fixed=False)
    return None
