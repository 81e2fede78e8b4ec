"""The code that KM322 and KM323 tell a user to write works (issue 12).

Five of Keras 2.2.4's examples stay red after ``migrate rewrite`` because what they do
has no mechanical Keras 3 form: the two VAEs add a symbolic loss to a functional model
(KM322), the three CIFAR-10 scripts augment with ``ImageDataGenerator`` (KM323). Their
findings say what to write instead. Here that code is put into one rewritten script of
each kind (variational_autoencoder, cifar10_cnn; see ``VAES``/``CIFAR``), as
a user following the findings would (the VAE's loss statements move into the ``AddLoss``
layer the finding describes; the CIFAR scripts get the finding's own ``augment = ...``
line and the ``PyDataset`` it describes), and the scripts run on Keras 3 in one process of
the examples harness against the legacy oracle (cached by the tier's own run): the
oracle's initial weights load, the same batch is predicted, one training step runs with
the script's own loss and optimizer, and the ``.keras`` file reloads with
``safe_mode=True`` and no ``custom_objects``.

The CIFAR-10 models are deterministic: their predictions must equal the oracle's (1e-5).
The VAEs sample ``z`` with fresh noise on every call (their ``Lambda(sampling)``), so no
two predictions agree, the legacy ones included; for them the test shows that the legacy
weights load into the rebuilt model, that it trains (Keras 3's ``fit`` refuses a model
with no loss, and this one has only the ``AddLoss`` layer's) and that its ``.keras`` file
reloads.

Further hand edits, each what another finding of the rewrite says (cifar10_cnn's
``keras.optimizers.rmsprop``, 2.2.4's lower-case alias, is the rewrite's own work now:
KM101 renames it and KM401 converts its ``lr=``/``decay=`` in the same pass):
cifar10_cnn_capsule's ``K.conv1d(inputs, self.kernel)`` (KM209) becomes
``ops.conv(inputs, self.kernel)`` (same kernel layout, stride 1, ``'valid'``), and its
``Lambda(lambda z: ...)`` a registered module-level function (KM330's advice; the rule
does not see that ``Lambda``, which comes from ``from keras.layers import *``). (The capsule
script is measured by hand, not in the suite: see ``CIFAR``; its ``margin_loss`` is now
registered by KM330 itself.)
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from tests.realworld.keras_examples import harness

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(harness.missing() is not None, reason=str(harness.missing()))]

# One script per finding: the code each finding gives is the same for the scripts of its
# kind (measured for all five once, 2026-12-03: cifar10_resnet 6.0e-08 and
# cifar10_cnn_capsule 1.8e-07 against the oracle, variational_autoencoder_deconv loaded,
# trained and reloaded), and running all five cost 158 s of the suite's 45-minute budget.
VAES = ("variational_autoencoder",)
CIFAR = ("cifar10_cnn",)

# The PyDataset that KM323 describes in place of datagen.flow(x, y, batch_size=n).
_PYDATASET = '''\
class AugmentedBatches(keras.utils.PyDataset):
    """Batch i: (augment(x[idx], training=True), y[idx]), idx the i-th slice of a permutation."""

    def __init__(self, augment, x, y, batch_size=32, **kwargs):
        super().__init__(**kwargs)
        self.augment, self.x, self.y, self.batch_size = augment, x, y, batch_size
        self.order = np.random.permutation(len(x))

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        idx = self.order[i * self.batch_size:(i + 1) * self.batch_size]
        return keras.ops.convert_to_numpy(self.augment(self.x[idx], training=True)), self.y[idx]

    def on_epoch_end(self):
        self.order = np.random.permutation(len(self.x))
'''


def _findings(report: dict[str, Any], rule: str) -> dict[str, dict[str, Any]]:
    return {Path(f["path"]).stem: f for f in report["findings"] if f["rule"] == rule}


def _fix_vae(text: str, finding: dict[str, Any]) -> str:
    """KM322's code: the loss statements move into AddLoss.call; the model is rebuilt on its output,
    with z_mean and z_log_var taken from ``encoder(inputs)`` (the model's own graph)."""
    assert "class AddLoss(keras.layers.Layer)" in finding["message"]
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("# VAE loss"))
    call = finding["message"].split(":", 1)[0]  # `vae.add_loss(vae_loss)`, as the finding names it
    end = next(i for i, line in enumerate(lines) if line.strip() == call)  # (finding lines are the legacy text's)
    indent = lines[end][: len(lines[end]) - len(lines[end].lstrip())]
    body = textwrap.indent(textwrap.dedent("\n".join(lines[start:end])), indent + " " * 8)
    head = ["@keras.saving.register_keras_serializable()", "class AddLoss(keras.layers.Layer):",
            "    def call(self, tensors):", "        outputs, inputs, z_mean, z_log_var = tensors"]
    tail = ["        self.add_loss(vae_loss)", "        return outputs", "",
            "z_mean, z_log_var, z = encoder(inputs)",
            "vae = Model(inputs, AddLoss()([decoder(z), inputs, z_mean, z_log_var]), name=vae.name)"]
    fix = "\n".join([*(indent + line for line in head), body, *(indent + line if line else "" for line in tail)])
    return "\n".join([*lines[:start], fix, *lines[end + 1:]]) + "\n"


def _fix_cifar(text: str, finding: dict[str, Any]) -> str:
    """KM323's code: its ``augment = ...`` and the PyDataset in place of the generator and its flow."""
    augment = re.search(r"Write `(augment = keras\.Sequential\(\[.*?\]\))`", finding["message"])
    assert augment is not None, finding["message"]
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if "= ImageDataGenerator(" in line)
    indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
    end = next(i for i in range(start, len(lines)) if lines[i].strip() == "datagen.fit(x_train)")
    fix = textwrap.indent("import numpy as np\n\n\n" + _PYDATASET + "\n" + augment.group(1) + "\n", indent)
    text = "\n".join([*lines[:start], fix, *lines[end + 1:]]) + "\n"
    text = re.sub(r"datagen\.flow\(x_train,\s*y_train,\s*batch_size=batch_size\)",
                  "AugmentedBatches(augment, x_train, y_train, batch_size=batch_size)", text)
    text = text.replace("from keras.preprocessing.image import ImageDataGenerator\n", "")
    # cifar10_cnn_capsule: KM330's advice for Lambda(lambda ...), by hand (the rule misses the Lambda that
    # `from keras.layers import *` brings), and KM209's for K.conv1d
    text, count = re.subn(r"^output = Lambda\(lambda z: (.*)\)\(capsule\)$", (
        "@keras.saving.register_keras_serializable()\ndef capsule_length(z):\n    return \\1\n\n\n"
        "output = Lambda(capsule_length)(capsule)"), text, flags=re.M)
    assert count == (finding["path"].endswith("capsule.py"))
    # and the registration KM330 would give margin_loss (compile(loss=margin_loss)) had KM317, which
    # registers the script's softmax in the same MODULE hook dispatch, not ended that dispatch first
    text = text.replace("\ndef margin_loss(", "\n@keras.saving.register_keras_serializable()\ndef margin_loss(")
    return text.replace("K.conv1d(inputs, self.kernel)", "ops.conv(inputs, self.kernel)")


def patched(work: Path) -> Path:
    """The scripts rewritten, with the findings' code put in by the rules of this module."""
    scripts = work / "rewritten"
    scripts.mkdir()
    for name in (*VAES, *CIFAR):
        shutil.copy(harness.EXAMPLES / f"{name}.py", scripts / f"{name}.py")
    report = work / "report.json"
    done = subprocess.run([str(Path(sys.executable).parent / "migrate"), "rewrite", "--from", "keras-2.2",
                           "--jobs", "1", "--report", str(report), str(scripts)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode in (0, 1), done.stderr
    findings = json.loads(report.read_text())
    add_loss, generators = _findings(findings, "KM322"), _findings(findings, "KM323")
    assert set(add_loss) == set(VAES) and set(generators) == set(CIFAR)
    for name in VAES:
        path = scripts / f"{name}.py"
        path.write_text(_fix_vae(path.read_text(), add_loss[name]))
    for name in CIFAR:
        path = scripts / f"{name}.py"
        path.write_text(_fix_cifar(path.read_text(), generators[name]))
    return scripts


def _keras224_weights(legacy: Path, out: Path) -> None:
    """The oracle's ``init.h5`` as Keras 2.2.4 wrote it for the VAE: without the repeated layers.

    tf_keras's ``add_loss`` of a symbolic tensor inserts the tensor's history into the model
    (the loss ops as layers, and the encoder's ``dense``, ``z_mean``, ``z_log_var`` again, shared),
    so its file lists those layers a second time; Keras 2.2.4 only recorded the loss and its
    file holds ``encoder`` and ``decoder``, like the rebuilt Keras 3 model. A repeated entry is
    dropped only after checking that it holds the same arrays as the first."""
    import h5py
    import numpy as np

    with h5py.File(legacy, "r") as src, h5py.File(out, "w") as dst:
        seen: dict[str, np.ndarray] = {}
        kept = []
        for raw in src.attrs["layer_names"]:
            name = raw.decode() if isinstance(raw, bytes) else str(raw)
            group = src[name]
            weights = [w.decode() if isinstance(w, bytes) else str(w) for w in group.attrs["weight_names"]]
            if weights and all(w in seen for w in weights):
                for w in weights:
                    np.testing.assert_array_equal(group[w][()], seen[w])
                continue
            seen.update((w, group[w][()]) for w in weights)
            kept.append(name)
            src.copy(group, dst, name=name)
        for key, value in src.attrs.items():
            dst.attrs[key] = value
        dst.attrs["layer_names"] = np.array([k.encode() for k in kept])


@pytest.fixture(scope="module")
def records(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    work = Path(tmp_path_factory.mktemp("suggested-fixes"))
    scripts = patched(work)
    names = [*VAES, *CIFAR]
    oracles = {name: harness._oracle_dir(name) for name in names}
    todo = [n for n in names if not (oracles[n] / "record.json").exists()]
    if todo:  # the tier's own run makes these first; alone, this module makes them
        harness._run_group("legacy", [{"name": n, "script": str(harness.EXAMPLES / f"{n}.py"),
                                       "oracle": str(oracles[n]), "out": str(oracles[n])} for n in todo], work, "fix")
    for name in VAES:
        own = work / "oracle" / name
        own.mkdir(parents=True)
        shutil.copy(oracles[name] / "oracle.npz", own / "oracle.npz")
        _keras224_weights(oracles[name] / "init.h5", own / "init.h5")
        oracles[name] = own
    harness._run_group("modern", [{"name": n, "script": str(scripts / f"{n}.py"), "oracle": str(oracles[n]),
                                   "out": str(work / "modern" / n)} for n in names], work, "fix")
    return {n: json.loads((work / "modern" / n / "record.json").read_text()) for n in names}


@pytest.mark.parametrize("example", CIFAR)
def test_image_data_generator_replacement_matches_the_oracle(example: str, records: dict[str, dict[str, Any]]) -> None:
    record = records[example]
    assert "error" not in record, f"{record.get('failed_stage')}: {record.get('error')}"
    print(f"{example}: max diff {record['max_diff']:.1e}, round trip {record['roundtrip_diff']:.1e}")
    assert record["max_diff"] <= 1e-5 and record["fit"] and record["roundtrip_diff"] <= 1e-5


@pytest.mark.parametrize("example", VAES)
def test_add_loss_layer_loads_trains_and_reloads(example: str, records: dict[str, dict[str, Any]]) -> None:
    record = records[example]
    assert "error" not in record, f"{record.get('failed_stage')}: {record.get('error')}"
    # predictions are samples (fresh noise each call): loaded, trained, reloaded is what can be shown
    assert record["load"] and record["fit"] and "roundtrip_diff" in record
