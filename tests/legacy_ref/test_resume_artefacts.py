"""The committed resume references are what ``legacy_ref`` produces now (they stay honest).

``tests/fixtures/legacy/resume`` is written by
:func:`legacy_ref.artefacts.resume.write_artefacts`; this regenerates it in a
temporary directory and compares every array, and the saved HDF5 file's
weights and optimizer state, with the committed ones.
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest

from legacy_ref.artefacts import resume

COMMITTED = Path(__file__).resolve().parents[1] / "fixtures" / "legacy" / resume.RESUME_DIR

pytestmark = pytest.mark.slow


def _datasets(path: Path) -> dict[str, np.ndarray]:
    found: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as handle:
        handle.visititems(lambda name, item: found.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None)
    return found


def test_regenerated_resume_references_equal_the_committed_ones(tmp_path: Path) -> None:
    resume.write_artefacts(tmp_path)
    fresh = tmp_path / resume.RESUME_DIR
    for name in ("keras22.npz", "tutorial.npz"):
        with np.load(COMMITTED / name, allow_pickle=False) as old, np.load(fresh / name, allow_pickle=False) as new:
            assert sorted(old.files) == sorted(new.files)
            for key in old.files:
                if old[key].dtype.kind == "f":
                    np.testing.assert_allclose(new[key], old[key], rtol=1e-6, atol=1e-7, err_msg=f"{name}:{key}")
                else:  # token ids, the JSON config
                    np.testing.assert_array_equal(new[key], old[key], err_msg=f"{name}:{key}")
    h5 = f"keras22_step{resume.N_STEPS}.model.h5"
    old_sets, new_sets = _datasets(COMMITTED / h5), _datasets(fresh / h5)
    assert sorted(old_sets) == sorted(new_sets)
    for key, value in old_sets.items():
        np.testing.assert_allclose(new_sets[key], value, rtol=1e-6, atol=1e-7, err_msg=key)
    assert (fresh / "tutorial_ckpt" / "checkpoint").read_text() == (COMMITTED / "tutorial_ckpt" / "checkpoint").read_text()
