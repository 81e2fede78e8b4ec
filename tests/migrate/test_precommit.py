"""The pre-commit hooks: the manifest is what pre-commit expects and its entries work as pre-commit runs them."""

from __future__ import annotations

import shlex
import tomllib
from pathlib import Path

import pytest
import yaml

from migrate.cli import main

ROOT = Path(__file__).resolve().parents[2]
LEGACY = "from keras import backend as K\ny = K.concatenate([a, b])\n"
MODERN = "import keras\nx = keras.layers.Dense(2)\n"


def _hooks() -> dict[str, dict]:
    data = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text(encoding="utf-8"))
    assert isinstance(data, list)
    return {hook["id"]: hook for hook in data}


def test_manifest_fields() -> None:
    hooks = _hooks()
    assert set(hooks) == {"migrate-rewrite", "migrate-check"}
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    for hook in hooks.values():
        assert {"id", "name", "entry", "language"} <= set(hook)  # what pre-commit requires
        assert hook["language"] == "python" and hook["types_or"] == ["python", "jupyter"]
        assert shlex.split(hook["entry"])[0] in scripts  # the console script pre-commit installs
    assert shlex.split(hooks["migrate-rewrite"]["entry"]) == ["migrate", "rewrite"]
    assert shlex.split(hooks["migrate-check"]["entry"]) == ["migrate", "rewrite", "--check"]


@pytest.mark.parametrize("hook_id", ["migrate-rewrite", "migrate-check"])
def test_entries_as_pre_commit_runs_them(hook_id: str, tmp_path: Path) -> None:
    """pre-commit appends the staged file names to the entry; the exit status decides."""
    legacy, modern = tmp_path / "old.py", tmp_path / "new.py"
    legacy.write_text(LEGACY)
    modern.write_text(MODERN)
    argv = shlex.split(_hooks()[hook_id]["entry"])[1:]
    assert main([*argv, str(modern)]) == 0
    if hook_id == "migrate-check":
        assert main([*argv, str(legacy), str(modern)]) == 1
        assert legacy.read_text() == LEGACY
    else:
        assert main([*argv, str(legacy), str(modern)]) == 0  # rewritten; pre-commit fails on the modified file
        assert "ops.concatenate" in legacy.read_text()
        assert main(["rewrite", "--check", str(legacy)]) == 0
