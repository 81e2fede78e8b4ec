"""Keras 3 equivalents of the legacy layers, schedules and models.

Written with the public ``keras`` API and ``keras.ops`` only, so they run on
every Keras 3 backend; never imports ``migrate`` or ``legacy_ref``.
"""
