"""Compare freshly generated golden cases with committed golden files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from legacy_ref.goldens.format import GoldenCase

# Inputs and weights come from seeded NumPy generators and must be identical.
# Outputs come from TensorFlow kernels, whose reduction order may differ
# between CPUs (oneDNN picks kernels by instruction set), hence a small
# absolute tolerance, an order of magnitude below the migration tolerance.
OUTPUT_ATOL = 1e-6
# After optimizer steps those last-bit differences are amplified (Adam
# divides by sqrt(v) + tiny epsilon): a tutorial trained on an AMD EPYC
# without AVX-512 ends 3.7e-6 from the goldens made elsewhere. Trained cases
# (a "train_step" or "optimizer" in their config) are held to the migration
# tolerance instead (DESIGN 6).
TRAINED_OUTPUT_ATOL = 1e-5
# Figures stored in a config (an argmax margin) are measured from outputs and
# rounded; they may move in their last digit with the outputs.
CONFIG_RTOL = 1e-3


def _same_config(fresh: object, committed: object) -> bool:
    if isinstance(fresh, dict) and isinstance(committed, dict):
        return fresh.keys() == committed.keys() and all(_same_config(fresh[k], committed[k]) for k in fresh)
    if isinstance(fresh, list) and isinstance(committed, list):
        return len(fresh) == len(committed) and all(map(_same_config, fresh, committed))
    if isinstance(fresh, float) and isinstance(committed, float):
        return bool(np.isclose(fresh, committed, rtol=CONFIG_RTOL, atol=0.0))
    return fresh == committed


def compare_case(name: str, fresh: GoldenCase, committed: GoldenCase) -> list[str]:
    """Return a human-readable line per difference between two cases."""
    problems: list[str] = []
    if not _same_config(fresh.config, committed.config):
        problems.append(f"{name}: config differs: {fresh.config} != {committed.config}")
    for section, new, old, atol in (
        ("input", fresh.inputs, committed.inputs, 0.0),
        ("weight", fresh.weights, committed.weights, 0.0),
        ("output", fresh.outputs, committed.outputs,
         TRAINED_OUTPUT_ATOL if {"train_step", "optimizer"} & committed.config.keys() else OUTPUT_ATOL),
    ):
        if new.keys() != old.keys():
            problems.append(
                f"{name}: {section} names differ: only fresh {sorted(new.keys() - old.keys())}, "
                f"only committed {sorted(old.keys() - new.keys())}"
            )
        for key in sorted(new.keys() & old.keys()):
            a, b = np.asarray(new[key]), np.asarray(old[key])
            if a.shape != b.shape or a.dtype != b.dtype:
                problems.append(f"{name}: {section}.{key}: {a.dtype}{a.shape} != committed {b.dtype}{b.shape}")
            elif a.dtype.kind in "fc":
                diff = float(np.max(np.abs(a - b), initial=0.0))
                if not diff <= atol:
                    problems.append(f"{name}: {section}.{key}: max abs diff {diff:.3g} > {atol:g}")
            elif not np.array_equal(a, b):
                problems.append(f"{name}: {section}.{key}: values differ")
    return problems


def compare_cases(cases: dict[str, GoldenCase], directory: Path, *, check_stale: bool = True) -> list[str]:
    """Compare every case with ``directory/<name>.npz``; also flag stale files."""
    problems: list[str] = []
    for name, case in sorted(cases.items()):
        path = directory / f"{name}.npz"
        if not path.exists():
            problems.append(f"{name}: {path} is missing; run python -m legacy_ref.goldens")
            continue
        problems.extend(compare_case(name, case, GoldenCase.load(path)))
    stale = sorted(p.stem for p in directory.glob("*.npz") if p.stem not in cases)
    if check_stale and stale:
        problems.append(f"golden files without a case (delete them): {stale}")
    return problems
