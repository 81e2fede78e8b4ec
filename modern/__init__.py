"""Keras 3 equivalents of the legacy layers, schedules and models.

Written with the public ``keras`` API and ``keras.ops`` only, so they run on
every Keras 3 backend; never imports ``migrate`` or ``legacy_ref``.
"""

# Importing `modern` registers every serializable class it defines, so that
# `import modern; keras.saving.load_model("ported.keras")` finds them (a
# .keras file names them as "modern>ClassName"; Keras never imports a module
# a file names).
from modern import compat, layers, losses, models, optimizers, schedules, schedules_epoch, schedules_noam, schedules_piecewise  # noqa: E402,F401
