"""A user's program on the published libraries, for ``migrate verify --batch`` (issue 12).

``build(case="keras-bert:get_model")`` builds that case of :mod:`tests.realworld.cases`
with the library's own builders, exactly as the oracle and the modern side do. The file
is Keras-agnostic, as the cases are: ``migrate verify`` runs it as OLD through the legacy
shim (``import keras`` means tf_keras, and the legacy library copy is on ``--old-path``)
and as NEW on Keras 3 (the rewritten copy on ``--new-path``), so one file serves as both.
"""

import keras

from tests.realworld.cases import CASES


def build(case):
    for candidate in CASES:
        if candidate.key == case:
            return candidate.build(keras)
    raise ValueError(f"no real-world case {case!r}")
