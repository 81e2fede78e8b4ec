"""symbols.map_name: a module attribute of ``keras`` (``keras.__version__``) exists in Keras 3.

bert4keras 0.11.5 compares ``keras.__version__``; it was reported as KM103 ("Keras 3
has no keras.__version__"), a finding that needed review for nothing.
"""

from migrate.rewrite.symbols import map_name
from tests.migrate.helpers import rw


def test_keras_version_is_kept():
    assert map_name("keras.__version__") == ("keras.__version__", "", "")
    src = "from tensorflow import keras\nif keras.__version__ < '2.3':\n    pass\n"
    code, findings = rw(src)
    assert "if keras.__version__ < '2.3':" in code
    assert "KM103" not in {f.rule for f in findings}


def test_missing_names_still_reported():
    assert map_name("keras.engine_stuff")[0] is None  # not a dunder: still checked
    _, findings = rw("from tensorflow import keras\nx = keras.nosuchthing\n")
    assert "KM103" in {f.rule for f in findings}
