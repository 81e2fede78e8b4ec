"""KC101 and KC102 matter: on Keras 3, the flagged programs compute other numbers than the fixed ones.

A tiny program is checked statically (one KC101), then run as written and with the
fix the finding suggests; the fixed loss equals the cross-entropy computed here
with NumPy from the model's own outputs, the flagged one does not. For KC102, padding a
sequence changes what its real tokens attend to without the mask, and not with it.

The programs run in one child process on Keras 3's jax backend (torch if jax is
missing): it starts faster than TensorFlow, and on the tensorflow backend Keras 3
notices a softmax output given to ``from_logits=True`` by itself (it warns and uses
the logits under the softmax), which would hide the second case. Custom layers, a
``Lambda`` or any other backend do not get that rescue.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from tests.migrate.check.helpers import hits

PROGRAM = textwrap.dedent("""
    import numpy as np
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(3{act})])
    model.compile(optimizer="sgd", loss={loss})
    x = np.random.RandomState(0).normal(size=(16, 4)).astype("float32")
    y = np.arange(16) % 3
    LOSS = model.evaluate(x, y, verbose=0)
    OUTPUT = model.predict(x, verbose=0)
""")

# (activation, loss as flagged, loss as the finding says to fix it)
CASES = {
    "logits-into-probability-loss": ("", '"sparse_categorical_crossentropy"',
                                      "keras.losses.SparseCategoricalCrossentropy(from_logits=True)"),
    "probabilities-into-from-logits": (', activation="softmax"',
                                       "keras.losses.SparseCategoricalCrossentropy(from_logits=True)",
                                       "keras.losses.SparseCategoricalCrossentropy(from_logits=False)"),
}

RUNNER = textwrap.dedent("""
    import json, sys
    import numpy as np
    out = {}
    for name, code in json.loads(sys.stdin.read()).items():
        scope = {}
        exec(compile(code, name, "exec"), scope)
        out[name] = [float(scope.get("LOSS", 0.0)), np.asarray(scope["OUTPUT"]).tolist()]
    print(json.dumps(out))
""")


# KC102: attention over a mask_zero Embedding's output. Padding a sequence must not change
# what its real tokens attend to; without the mask it does.
PADDED = textwrap.dedent("""
    import numpy as np
    import keras
    from keras import layers, ops

    keras.utils.set_random_seed(0)
    tokens = keras.Input(shape=(None,), dtype="int32")
    emb = layers.Embedding(10, 4, mask_zero=True)(tokens)
    scores = ops.matmul(emb, ops.transpose(emb, (0, 2, 1)))
    {softmax}
    model = keras.Model(tokens, ops.matmul(weights, emb))
    short = model.predict(np.array([[3, 5, 7]]), verbose=0)[0]
    padded = model.predict(np.array([[3, 5, 7, 0, 0]]), verbose=0)[0, :3]
    OUTPUT = np.stack([short, padded])
""")
PADDED_FLAGGED = "weights = ops.softmax(scores)"
PADDED_FIXED = ("keep = ops.cast(ops.not_equal(tokens, 0), 'float32')[:, None, :]\n"
                "weights = ops.softmax(scores + (1.0 - keep) * -1e9)")


def _backend() -> str:
    for name in ("jax", "torch"):
        if importlib.util.find_spec(name) is not None:
            return name
    pytest.skip("neither jax nor torch is installed for Keras 3's non-TensorFlow backends")


def _cross_entropy(log_probs: np.ndarray) -> float:
    y = np.arange(len(log_probs)) % 3
    return float(-log_probs[np.arange(len(y)), y].mean())


def test_flagged_pattern_changes_the_loss() -> None:
    programs: dict[str, str] = {}
    for case, (act, flagged_loss, fixed_loss) in CASES.items():
        flagged = PROGRAM.format(act=act, loss=flagged_loss)
        fixed = PROGRAM.format(act=act, loss=fixed_loss)
        assert [rule for rule, _ in hits(flagged)] == ["KC101"], case
        assert hits(fixed) == [], case
        programs[f"{case} flagged"], programs[f"{case} fixed"] = flagged, fixed
    flagged, fixed = PADDED.format(softmax=PADDED_FLAGGED), PADDED.format(softmax=PADDED_FIXED)
    assert [rule for rule, _ in hits(flagged)] == ["KC102"]
    assert hits(fixed) == []
    programs["padded flagged"], programs["padded fixed"] = flagged, fixed
    env = {**os.environ, "KERAS_BACKEND": _backend(), "JAX_PLATFORMS": "cpu", "CUDA_VISIBLE_DEVICES": ""}
    done = subprocess.run([sys.executable, "-c", RUNNER], input=json.dumps(programs), capture_output=True,
                          text=True, env=env, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads(done.stdout.strip().splitlines()[-1])
    for case, (act, _, _) in CASES.items():
        bad_loss, bad_out = results[f"{case} flagged"]
        good_loss, good_out = results[f"{case} fixed"]
        out = np.asarray(good_out, dtype=np.float64)
        np.testing.assert_array_equal(np.asarray(bad_out), out)  # same seed, same weights: only the loss differs
        if act:  # the output is probabilities
            truth = _cross_entropy(np.log(out))
        else:  # the output is logits
            shifted = out - out.max(axis=1, keepdims=True)
            truth = _cross_entropy(shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True)))
        assert abs(good_loss - truth) < 1e-5, (case, good_loss, truth)
        assert abs(bad_loss - truth) > 0.05, (case, bad_loss, truth)

    # The real tokens' attention outputs, alone and followed by two padding tokens.
    short, padded = np.asarray(results["padded fixed"][1])
    np.testing.assert_allclose(padded, short, atol=1e-6)
    short, padded = np.asarray(results["padded flagged"][1])
    assert np.abs(padded - short).max() > 1e-3
