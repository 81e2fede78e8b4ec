"""KM418: Keras 2's TensorBoard arguments that Keras 3 removed."""

from __future__ import annotations

import pytest

from tests.migrate.helpers import assert_fixed_point, rw

EXAMPLE = """\
from keras.callbacks import TensorBoard
tensorboard = TensorBoard(batch_size=batch_size,
                          embeddings_freq=1,
                          embeddings_layer_names=['features'],
                          embeddings_metadata='metadata.tsv',
                          embeddings_data=x_test)
"""


def test_removed_arguments_dropped_and_named():
    code, findings = rw(EXAMPLE)
    assert code.endswith("tensorboard = TensorBoard(embeddings_freq=1,\n"
                         "                          embeddings_metadata='metadata.tsv')\n"), code
    dropped = sorted(f.message.split("(")[1].split("=")[0] for f in findings if f.rule == "KM418")
    assert dropped == ["batch_size", "embeddings_data", "embeddings_layer_names"]
    assert all(f.fixed for f in findings if f.rule == "KM418")
    assert_fixed_point(EXAMPLE)


def test_rewritten_call_builds_on_keras3_and_the_original_does_not():
    import keras

    code, _ = rw("import keras\ncb = keras.callbacks.TensorBoard('logs', 1, batch_size=8, write_grads=True, "
                 "embeddings_freq=2, embeddings_data=x)\n")
    assert code.endswith("cb = keras.callbacks.TensorBoard('logs', 1, embeddings_freq=2)\n")
    namespace: dict = {"x": None}
    exec(code, namespace)  # noqa: S102 - our own rewritten line
    callback = namespace["cb"]
    assert callback.histogram_freq == 1 and callback.embeddings_freq == 2
    with pytest.raises(TypeError, match="batch_size"):
        keras.callbacks.TensorBoard("logs", 1, batch_size=8)


@pytest.mark.parametrize("src", [
    "from keras.callbacks import TensorBoard\nTensorBoard('logs', 0, 32)\n",
])
def test_a_third_positional_argument_is_reported(src: str):
    code, findings = rw(src)
    assert code == src
    (finding,) = [f for f in findings if f.rule == "KM418"]
    assert not finding.fixed and "batch_size" in finding.message and "write_graph" in finding.message


@pytest.mark.parametrize("src", [
    "from keras.callbacks import TensorBoard\nTensorBoard(log_dir='logs', histogram_freq=1)\n",
    "from keras.callbacks import ModelCheckpoint\nModelCheckpoint('m.keras', batch_size=3)\n",
])
def test_noop(src: str):
    _, findings = rw(src)
    assert not [f for f in findings if f.rule == "KM418"]
