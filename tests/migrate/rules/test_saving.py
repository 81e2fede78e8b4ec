"""KM501-KM504: saving and checkpoints, reported only (rules/saving.py)."""

from tests.migrate.helpers import assert_fixed_point, rules_of, rw

SRC = '''
import tensorflow as tf
model.save_weights('w.h5')
model.load_weights('ckpt/model')
model.save('saved_dir')
cb = tf.keras.callbacks.ModelCheckpoint('best.h5', save_weights_only=True)
ckpt = tf.train.Checkpoint(model=model)
ckpt.restore(path)
'''


def test_positive_all_reported_unfixed():
    code, findings = rw(SRC)
    assert "model.save_weights('w.h5')" in code
    assert rules_of(findings, fixed=False) == {"KM501", "KM502", "KM503", "KM504"}
    assert any("migrate port" in f.message for f in findings)


def test_noop_modern_paths():
    src = "model.save_weights('w.weights.h5')\nmodel.save('m.keras')\nmodel.load_weights('w.weights.h5')\n"
    assert rw(src) == (src, [])


def test_noop_other_libraries_save():
    """Only a Keras model's save is about model files: numpy, torch, pandas and plots are left alone."""
    src = ("import numpy as np\nimport torch\nfrom numpy import save\n"
           "np.save('x.npy', a)\ntorch.save(state, 'm.pt')\nframe.save('table.csv')\nfig.save('plot.png')\n"
           "np.savez('x.npz', a=a)\n")
    assert rw(src) == (src, [])
    _, findings = rw("import numpy as np\nmodel.save('model.h5')\n")
    assert rules_of(findings, fixed=False) == {"KM502"}


def test_alias_checkpoint_restore_chain():
    _, findings = rw("from tensorflow import train\nimport tensorflow as tf\n"
                     "tf.train.Checkpoint(model=m).restore(p)\n")
    assert "KM504" in rules_of(findings)


def test_unsupported_todo_comment():
    code, _ = rw("model.save_weights('w.h5')\n", todo_comments=True)
    assert code.startswith("# TODO(migrate KM501): save_weights('w.h5')")


def test_idempotent_with_todo_comments():
    assert_fixed_point(SRC, todo_comments=True)
