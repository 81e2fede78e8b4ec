"""GPU runs of the ``modern`` golden comparisons.

On a GPU host (jax or torch backend, no TensorFlow needed) run::

    KERAS_BACKEND=jax python -m pytest tests/modern -m "backends or gpu"

Every golden test in ``tests/modern`` then computes on the default device,
which is the GPU, with TF32 off (``tests/conftest.py``). The tests here
check that premise: that a GPU is visible and that Keras places tensors on
it; they skip cleanly where there is none.
"""

from __future__ import annotations

import numpy as np
import pytest

import keras

pytestmark = pytest.mark.gpu


def _gpu_devices() -> list[str]:
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return [str(d) for d in jax.devices() if d.platform == "gpu"]
    if backend == "torch":
        import torch

        return [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())]
    if backend == "tensorflow":
        import tensorflow as tf

        return [d.name for d in tf.config.list_physical_devices("GPU")]
    return []


@pytest.fixture(scope="module")
def gpu() -> list[str]:
    devices = _gpu_devices()
    if not devices:
        pytest.skip(f"no GPU visible to the {keras.backend.backend()} backend")
    return devices


def test_tensors_live_on_the_gpu(gpu: list[str]) -> None:
    x = keras.ops.ones((4, 4))
    backend = keras.backend.backend()
    if backend == "jax":
        assert "gpu" in str(list(x.devices())[0]).lower() or "cuda" in str(list(x.devices())[0]).lower()
    elif backend == "torch":
        assert x.device.type == "cuda"
    else:
        assert "GPU" in x.device


def test_tf32_is_off(gpu: list[str]) -> None:
    """A float32 matmul must not lose bits to TF32 (which keeps 10 mantissa bits)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((256, 256)).astype("float32")
    b = rng.standard_normal((256, 256)).astype("float32")
    got = keras.ops.convert_to_numpy(keras.ops.matmul(a, b))
    want = a.astype("float64") @ b.astype("float64")
    assert np.max(np.abs(got - want)) < 1e-3  # TF32 gives about 1e-1 here
