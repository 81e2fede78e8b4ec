"""What the published legacy libraries' era had and tf_keras 2.21 no longer has.

The real-world suite (``tests/realworld``, issue 12) runs published libraries as
they were released, on tf_keras, as the legacy oracle. A few of them call Keras 2
API that their era still accepted and tf_keras has since removed; :func:`install`
puts back exactly those spots, in the oracle's own subprocess only (it changes
tf_keras classes for that process, so never call it in a process that also runs
anything else). Nothing in the libraries' code is touched.

* ``Layer.add_update(updates, inputs)``: keras-transformer-xl 0.14's ``Memory``
  layer (also used by keras-xlnet) passes the ``inputs`` argument that Keras
  2.2-2.3 and tf.keras up to 2.3 accepted (TensorFlow 2.4-2.10 kept it as a
  deprecated, ignored argument); tf_keras 2.21 takes one argument. The shim accepts
  and ignores it, as TensorFlow 2.4-2.10 did.
"""

from __future__ import annotations

from typing import Any

_INSTALLED = False


def install() -> None:
    """Apply the era shims to tf_keras (idempotent)."""
    global _INSTALLED
    if _INSTALLED:
        return
    import tf_keras

    layer = tf_keras.layers.Layer
    add_update = layer.add_update

    def add_update_with_inputs(self: Any, updates: Any, inputs: Any = None) -> None:
        # `inputs` only told Keras 2 graph mode which inputs the update was
        # conditional on; TensorFlow 2.4-2.10 ignored it with a deprecation warning.
        del inputs
        add_update(self, updates)

    layer.add_update = add_update_with_inputs
    _INSTALLED = True
