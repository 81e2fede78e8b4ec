"""No finding on code that is right: the bundled programs, the real-world libraries, and what
``migrate rewrite`` makes of both (the Keras 3 code users will run ``migrate check`` on)."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from migrate.check.driver import check_file
from migrate.cli import main
from migrate.rewrite.engine import discover

ROOT = Path(__file__).resolve().parents[3]
REALWORLD = Path(sys.prefix) / "realworld"
BUNDLED = ("legacy_ref", "examples")


def _check_tree(tree: Path) -> tuple[int, list[str]]:
    pairs, results = discover([str(tree)], None)
    assert not results, [r.error for r in results]
    out = [check_file(src, None) for src, _ in pairs]
    failed = [f"{r.path}: {r.error}" for r in out if r.status != "checked"]
    assert not failed, failed
    return len(out), [f.format() for r in out for f in r.findings]


@pytest.fixture(scope="module")
def copies(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The bundled programs (and the real-world libraries where installed), as they are and rewritten."""
    base = tmp_path_factory.mktemp("kc")
    trees = {name: ROOT / name for name in BUNDLED}
    if REALWORLD.is_dir():
        trees["realworld"] = REALWORLD
    out: dict[str, Path] = {}
    for name, src in trees.items():
        shutil.copytree(src, base / "original" / name, ignore=shutil.ignore_patterns("*.dist-info", "__pycache__"))
        shutil.copytree(src, base / "rewritten" / name, ignore=shutil.ignore_patterns("*.dist-info", "__pycache__"))
        out[name] = base / "original" / name
        out[name + " rewritten"] = base / "rewritten" / name
    # one rewrite run over all the copies; exit 1 means findings for a human, not a failure
    assert main(["rewrite", "-q", "-j", "2", str(base / "rewritten")]) in (0, 1)
    return out


@pytest.mark.parametrize("name", ["legacy_ref", "examples", "legacy_ref rewritten", "examples rewritten"])
def test_bundled_programs(copies: dict[str, Path], name: str) -> None:
    count, findings = _check_tree(copies[name])
    assert count >= 2 and findings == []


@pytest.mark.parametrize("name", ["realworld", "realworld rewritten"])
def test_realworld_libraries(copies: dict[str, Path], name: str) -> None:
    if name not in copies:
        pytest.skip(f"the real-world libraries are not installed in {REALWORLD} (./dev installs them)")
    count, findings = _check_tree(copies[name])
    assert count > 100 and findings == []


def test_rewrite_changed_what_is_checked(copies: dict[str, Path]) -> None:
    """The rewritten copies really are Keras 3 code, not the originals checked twice."""
    for name in BUNDLED:
        changed = [p for p in copies[name].rglob("*.py")
                   if p.read_bytes() != (copies[name + " rewritten"] / p.relative_to(copies[name])).read_bytes()]
        assert changed, name
