"""The data tables against the real libraries: every target exists in Keras 3, every legacy
signature matches tf_keras.backend, every rule is documented."""

from __future__ import annotations

import ast
import importlib
import inspect

import pytest

from migrate.rewrite import catalog, tables
from migrate.rewrite.keras3_api import KERAS3_NAMES


def _resolve(name: str) -> object:
    parts = name.split(".")
    obj = importlib.import_module(parts[0])
    for i, p in enumerate(parts[1:], start=1):
        if not hasattr(obj, p):
            importlib.import_module(".".join(parts[: i + 1]))
        obj = getattr(obj, p)
    return obj


def test_keras3_name_sets_match_installed_keras() -> None:
    for module, names in KERAS3_NAMES.items():
        mod = _resolve(module)
        missing = [n for n in names if not hasattr(mod, n)]
        assert not missing, (module, missing)


def test_module_row_symbol_targets_exist() -> None:
    for row in tables.MODULE_ROWS:
        _resolve(row.target)
        for target in row.symbols.values():
            if target:
                _resolve(target)


@pytest.mark.parametrize("row", tables.BACKEND_ROWS, ids=lambda r: r.legacy)
def test_backend_rows_match_tf_keras_signature_and_ops(row: tables.BackendRow) -> None:
    from tf_keras import backend as tfk
    legacy = getattr(tfk, row.legacy, None)
    if legacy is not None:  # logsumexp existed in Keras 2.2 only
        sig = list(inspect.signature(legacy).parameters.values())
        # the row may cover a prefix (later legacy parameters are refused by `bind`)
        assert [p.name for p in sig][: len(row.params)] == [p.split("=")[0] for p in row.params]
        for p, mine in zip(sig, row.params):
            if "=" in mine:
                assert p.default == ast.literal_eval(mine.split("=", 1)[1]), (row.legacy, p.name)
            else:
                assert p.default is inspect.Parameter.empty, (row.legacy, p.name)
    import re

    for target in re.findall(r"((?:ops|keras\.[\w.]+|compat)\.\w+)\(", row.template):
        if target.startswith("ops."):
            target = "keras." + target
        if target.startswith("compat."):
            target = "modern." + target
        _resolve(target)


def test_every_rule_module_documented_and_tested() -> None:
    ids = [r.id for r in catalog.RULES]
    assert len(ids) == len(set(ids))
    assert set(catalog.FAMILIES) == {i[:3] for i in ids}
    assert catalog.expand_selection(["KM2"]) == {i for i in ids if i.startswith("KM2")}
    with pytest.raises(ValueError, match="unknown rule"):
        catalog.expand_selection(["XX1"])


def _check_legacy_signature(legacy_fn, params: tuple[str, ...]) -> None:
    sig = list(inspect.signature(legacy_fn).parameters.values())
    assert [p.name for p in sig] == [p.split("=")[0] for p in params], legacy_fn
    for p, mine in zip(sig, params):
        if "=" in mine:
            assert p.default == ast.literal_eval(mine.split("=", 1)[1]), (legacy_fn, p.name)


def test_random_rows_match_tf_keras_and_keras_random() -> None:
    from tf_keras import backend as tfk
    import re

    for name, (params, template) in tables.RANDOM_OPS.items():
        _check_legacy_signature(getattr(tfk, name), params)
        target = re.match(r"([\w.]+)\(", template).group(1)  # type: ignore[union-attr]
        fn = _resolve(target)
        for key in re.findall(r"\{(\w+)\?\}", template):
            assert key in inspect.signature(fn).parameters, (target, key)


def test_tensor_ctor_params_match_tf_keras() -> None:
    from tf_keras import backend as tfk
    from migrate.rewrite.rules.backend_ctor import PARAMS

    for name, params in PARAMS.items():
        _check_legacy_signature(getattr(tfk, name), params)


def test_layer_and_merge_tables_match_keras3() -> None:
    import keras

    takes_weights = {n for n in dir(keras.layers) if isinstance(getattr(keras.layers, n), type)
                     and "weights" in inspect.signature(getattr(keras.layers, n).__init__).parameters}
    assert takes_weights == set(tables.LAYERS_WITH_WEIGHTS_ARG)
    for hint in tables.MERGE_MODES.values():
        _resolve(hint.split("(")[0])
    # KM409 pins what Keras 3 changed
    assert inspect.signature(keras.optimizers.Adagrad).parameters["initial_accumulator_value"].default == 0.1


def test_removed_names_are_absent_from_keras3() -> None:
    """KM103 hints are for names Keras 3 really lacks; the modules they would move to exist."""
    for name in tables.KERAS3_REMOVED:
        module, _, attr = name.rpartition(".")
        assert not hasattr(_resolve(module), attr), name
