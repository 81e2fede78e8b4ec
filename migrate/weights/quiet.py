"""TensorFlow without its start-up noise.

TensorFlow and XLA log from C++ before absl logging is initialised ("All log
messages before absl::InitializeLog()", "Could not find cuda drivers",
"failed call to cuInit", oneDNN and cpu_feature_guard notes). None of it is
about the user's port, and it buries the one line ``migrate port`` prints.
"""

from __future__ import annotations

import importlib.util
import os
import sys


def quiet_tensorflow() -> None:
    """Import TensorFlow (if installed and not imported yet) with its start-up lines silenced.

    ``TF_CPP_MIN_LOG_LEVEL`` silences only some of them, and only if set
    before the import. So the variable is set (unless the user set it) and
    file descriptor 2 points to /dev/null while TensorFlow loads and looks
    for devices; Python errors raised meanwhile still propagate. Called by
    the port just before it first needs TensorFlow or Keras, so that a port
    refused for a bad path or a bad HDF5 file does not wait for the import.
    """
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if "tensorflow" in sys.modules:
        return
    if importlib.util.find_spec("tensorflow") is None:
        return
    try:
        sys.stderr.flush()
        saved = os.dup(2)
    except (OSError, ValueError):
        saved = None
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        if saved is not None:
            os.dup2(null, 2)
        import tensorflow as tf

        tf.config.list_physical_devices()  # device discovery logs (cuInit) here, once
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
        os.close(null)
