"""The seed-003 classifier rebuilt in Keras 3 against the legacy goldens: inference and training.

Run with ``-s`` to see the figures (printed by the last test of the module).
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from keras import ops

from modern.models import LegacyAdam, build_transformer_classifier
from modern.schedules import WarmUpCosineDecay, WarmUpCosineDecayCallback
from modern.weight_maps.keras22 import (
    classifier_rules,
    load_legacy_weights,
    modern_variables,
    rules_for_model,
)
from tests.modern.goldens import ATOL, assert_matches_golden, load_golden, max_abs_diff

FIGURES: dict[str, float] = {}

# Training parity bounds: losses relative (the figure), weights
# absolute after 5 Adam steps of lr <= 1e-3.
LOSS_RTOL = 1e-4
TRAINED_ATOL = 1e-5


def _np(x):
    return ops.convert_to_numpy(x)


@pytest.fixture(scope="module")
def golden():
    return load_golden("keras22_classifier")


@pytest.fixture(scope="module")
def loaded(golden):
    model = build_transformer_classifier(**golden.config["args"], compile=False)
    report = load_legacy_weights(model, golden.weights)
    assert report.complete
    return model


def test_layer_names_mirror_the_legacy_model(golden, loaded):
    assert [layer.name for layer in loaded.layers] == golden.config["layer_names"]


def test_weight_map_covers_the_model(golden, loaded):
    rules = classifier_rules(golden.config["args"]["num_blocks"])
    assert rules_for_model(loaded) == rules
    # Same order as the legacy HDF5 weight_names, every source and target once.
    assert [r.source for r in rules] == list(golden.weights)
    assert sorted(r.target for r in rules) == sorted(modern_variables(loaded))
    assert all(r.transform == "identity" for r in rules)


def test_classifier_matches_golden(golden, loaded):
    probes = golden.config["probes"]
    probe_model = keras.Model(loaded.input, [loaded.output] + [loaded.get_layer(n).output for n in probes])
    results = probe_model(golden.inputs["tokens"], training=False)
    for name, actual in zip(["y"] + probes, results):
        FIGURES[f"keras22_classifier:{name}"] = assert_matches_golden(
            actual, golden.outputs[name], what=f"keras22_classifier {name}"
        )
    np.testing.assert_allclose(_np(loaded.predict(golden.inputs["tokens"], verbose=0)), golden.outputs["y"], atol=ATOL)


def test_classifier_keras_file_round_trip(golden, loaded, tmp_path):
    path = tmp_path / "classifier.keras"
    loaded.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    tokens = golden.inputs["tokens"]
    np.testing.assert_array_equal(_np(restored(tokens, training=False)), _np(loaded(tokens, training=False)))
    assert [layer.name for layer in restored.layers] == golden.config["layer_names"]
    for old, new in zip(loaded.weights, restored.weights):
        assert old.path == new.path
        np.testing.assert_array_equal(_np(new), _np(old))


def test_compiled_classifier_round_trips_with_schedule_and_optimizer(tmp_path):
    schedule = WarmUpCosineDecay(1e-3, total_steps=10, warmup_learning_rate=1e-4, warmup_steps=2)
    model = build_transformer_classifier(20, 6, 8, 2, 1, num_class=2, learning_rate=schedule)
    assert isinstance(model.optimizer, LegacyAdam)
    model.optimizer.build(model.trainable_variables)
    path = tmp_path / "compiled.keras"
    model.save(path)
    restored = keras.saving.load_model(path, safe_mode=True)
    assert isinstance(restored.optimizer, LegacyAdam)
    saved_rate = restored.optimizer.get_config()["learning_rate"]
    restored_schedule = keras.optimizers.schedules.deserialize(saved_rate)
    assert isinstance(restored_schedule, WarmUpCosineDecay)
    assert restored_schedule.get_config() == schedule.get_config()
    assert [layer.name for layer in model.layers][-4:] == ["t1_LN2", "global_average_pooling1d", "dropout_1", "outputs"]


def test_mask_zero_ignores_padding():
    # With mask_zero the padded steps are masked keys and are left out of the
    # pooling, so trailing padding does not change the prediction.
    kwargs = {"vocab_size": 30, "model_dim": 8, "head_num": 2, "num_blocks": 1, "num_class": 3, "mask_zero": True}
    short = build_transformer_classifier(max_len=4, compile=False, **kwargs)
    padded = build_transformer_classifier(max_len=7, compile=False, **kwargs)
    padded.set_weights(short.get_weights())
    tokens = np.array([[3, 9, 4, 27], [5, 1, 2, 2]], "int32")
    with_padding = np.concatenate([tokens, np.zeros((2, 3), "int32")], axis=1)
    expected = short.predict(tokens, verbose=0)
    np.testing.assert_allclose(padded.predict(with_padding, verbose=0), expected, atol=1e-6)


def test_embedding_matrix_argument():
    table = np.arange(40, dtype="float32").reshape(10, 4)
    model = build_transformer_classifier(10, 5, 4, 2, 1, embedding_matrix=table, compile=False)
    np.testing.assert_array_equal(_np(model.get_layer("embedding").embeddings), table)
    with pytest.raises(ValueError, match="embedding_matrix"):
        build_transformer_classifier(10, 5, 4, 2, 1, embedding_matrix=table[:3], compile=False)


# --------------------------------------------------------------------------
# Training parity
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def train_golden():
    return load_golden("keras22_classifier_train")


def _trainable_model(train_golden, learning_rate):
    config = train_golden.config
    assert config["loss"] == "categorical_crossentropy"
    assert config["optimizer"]["class"] == "tf_keras.optimizers.legacy.Adam" and not config["optimizer"]["amsgrad"]
    model = build_transformer_classifier(**config["args"], compile=False)
    load_legacy_weights(model, train_golden.weights)
    optimizer = LegacyAdam(
        learning_rate=learning_rate,
        # The golden stores the legacy float32 hyperparameters; the Python
        # values the legacy optimizer was given are 0.9, 0.999 and 1e-7.
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-7,
    )
    legacy_hyper = [config["optimizer"][k] for k in ("beta_1", "beta_2", "epsilon")]
    np.testing.assert_allclose([0.9, 0.999, 1e-7], legacy_hyper, rtol=1e-7)
    model.compile(loss="categorical_crossentropy", optimizer=optimizer, metrics=["acc"])
    return model


def _compare_training(train_golden, model, losses, rates, tag):
    expected = train_golden.outputs
    losses = np.asarray(losses, dtype=np.float64)
    rel = np.abs(losses - expected["loss"]) / np.abs(expected["loss"])
    FIGURES[f"train[{tag}]:loss max rel diff"] = float(rel.max())
    assert rel.max() <= LOSS_RTOL, f"losses {losses} vs legacy {expected['loss']}"
    rate_rel = np.abs(np.asarray(rates) - expected["lr"]) / expected["lr"]
    FIGURES[f"train[{tag}]:lr max rel diff"] = float(rate_rel.max())
    assert rate_rel.max() <= 1e-6, f"learning rates {rates} vs legacy {expected['lr']}"
    targets = modern_variables(model)
    worst = max(
        max_abs_diff(_np(targets[rule.target]), expected[f"trained.{rule.source}"])
        for rule in classifier_rules(train_golden.config["args"]["num_blocks"])
    )
    FIGURES[f"train[{tag}]:trained weights max abs diff"] = worst
    assert worst <= TRAINED_ATOL
    y_after = max_abs_diff(_np(model(train_golden.inputs["tokens"][0], training=False)), expected["y_after"])
    FIGURES[f"train[{tag}]:y_after max abs diff"] = y_after
    assert y_after <= ATOL


def test_training_parity_with_schedule(train_golden):
    schedule = WarmUpCosineDecay(**train_golden.config["scheduler"]["args"])
    model = _trainable_model(train_golden, schedule)
    tokens, labels = train_golden.inputs["tokens"], train_golden.inputs["labels"]
    losses, rates = [], []
    for step in range(len(tokens)):
        # The rate the optimizer applies at this step: schedule(iterations).
        rates.append(float(_np(model.optimizer.learning_rate)))
        losses.append(model.train_on_batch(tokens[step], labels[step])[0])
    assert int(_np(model.optimizer.iterations)) == len(tokens)
    _compare_training(train_golden, model, losses, rates, "schedule")


class _BatchLogs(keras.callbacks.Callback):
    """Records fit's per-batch logs (running means over the epoch)."""

    def __init__(self):
        super().__init__()
        self.running_mean_losses = []

    def on_train_batch_end(self, batch, logs=None):
        self.running_mean_losses.append(float(logs["loss"]))


def test_training_parity_with_callback_in_fit(train_golden):
    # The legacy procedure is `fit` with the callback setting the rate before
    # each batch; here fit runs over the same 5 batches in order (on jax this
    # also exercises the callback's state sync).
    model = _trainable_model(train_golden, 0.0)
    callback = WarmUpCosineDecayCallback(**train_golden.config["scheduler"]["args"])
    logs = _BatchLogs()
    tokens, labels = train_golden.inputs["tokens"], train_golden.inputs["labels"]
    model.fit(
        tokens.reshape(-1, tokens.shape[-1]),
        labels.reshape(-1, labels.shape[-1]),
        batch_size=tokens.shape[1],
        shuffle=False,
        epochs=1,
        verbose=0,
        callbacks=[callback, logs],
    )
    # The callback sets exactly the legacy float32 values.
    np.testing.assert_array_equal(np.float32(callback.learning_rates), train_golden.outputs["lr"])
    # fit logs running means; recover each batch's own loss from them.
    means = np.asarray(logs.running_mean_losses, dtype=np.float64)
    counts = np.arange(1, len(means) + 1)
    losses = means * counts - np.concatenate([[0.0], means[:-1] * counts[:-1]])
    _compare_training(train_golden, model, losses, callback.learning_rates, "fit+callback")


def test_zz_report_figures():
    """Prints every recorded figure (run with -s)."""
    print(f"\n[keras22 classifier, backend={keras.backend.backend()}]")
    for name in sorted(FIGURES):
        print(f"  {name:60s} {FIGURES[name]:.3g}")
