"""KM323: ImageDataGenerator reported with its Keras 3 augmentation (rules/image_data_generator.py).

That the code the finding gives trains on Keras 3 and predicts like the legacy program is
shown on Keras 2.2.4's three CIFAR-10 scripts by
``tests/realworld/keras_examples/test_suggested_fixes.py``.
"""

from tests.migrate.helpers import assert_fixed_point, rules_of, rw


def _message(src: str) -> str:
    _, findings = rw(src)
    found = [f for f in findings if f.rule == "KM323"]
    assert len(found) == 1 and not found[0].fixed
    return found[0].message


def test_cifar_arguments_become_layers():
    message = _message("""\
    from keras.preprocessing.image import ImageDataGenerator

    datagen = ImageDataGenerator(featurewise_center=False, rotation_range=0, width_shift_range=0.1,
                                 height_shift_range=0.2, fill_mode='nearest', cval=0., horizontal_flip=True,
                                 vertical_flip=False, rescale=None, validation_split=0.0)
    """)
    assert ("`augment = keras.Sequential([keras.layers.RandomTranslation(0.2, 0.1, fill_mode='nearest'), "
            "keras.layers.RandomFlip('horizontal')])`") in message
    assert "keras.utils.PyDataset" in message and "not covered" not in message


def test_alias_tf_keras_and_the_rest_named():
    message = _message("""\
    import tensorflow as tf

    gen = tf.keras.preprocessing.image.ImageDataGenerator(rescale=1. / 255, rotation_range=20, zoom_range=0.1,
                                                          horizontal_flip=True, vertical_flip=True,
                                                          fill_mode='constant', cval=0.5, zca_whitening=True)
    """)
    assert ("keras.Sequential([keras.layers.Rescaling(1. / 255), keras.layers.RandomRotation(20 / 360, "
            "fill_mode='constant', fill_value=0.5), keras.layers.RandomZoom((-0.1, 0.1), (-0.1, 0.1), "
            "fill_mode='constant', fill_value=0.5), keras.layers.RandomFlip('horizontal_and_vertical')])") in message
    assert "not covered: zca_whitening: no Keras 3 layer" in message


def test_unsupported_pixel_shifts_and_star_args():
    message = _message("from keras.preprocessing.image import ImageDataGenerator\ng = ImageDataGenerator("
                       "width_shift_range=4)\n")
    assert "keras.Sequential([])" in message and "in pixels" in message
    message = _message("from keras.preprocessing.image import ImageDataGenerator\ng = ImageDataGenerator(**cfg)\n")
    assert "arguments are not visible" in message


def test_noop_other_calls():
    _, findings = rw("from keras.preprocessing.image import load_img\nx = load_img('a.png')\n")
    assert "KM323" not in rules_of(findings)


def test_idempotent():
    assert_fixed_point("from keras.preprocessing.image import ImageDataGenerator\n"
                       "g = ImageDataGenerator(horizontal_flip=True)\n", todo_comments=True)
