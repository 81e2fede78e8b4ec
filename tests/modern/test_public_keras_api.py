"""``modern`` uses public Keras API only (DESIGN.md section 8).

A static check of the source: no ``keras.src`` import, and every
``_private`` attribute that ``modern`` reads is one that ``modern`` itself
defines (a method, a class, or an attribute it assigns), so none of Keras'
private members is reached into. Where the speed work needs something
Keras has no hook for, it lives in ``modern/layers/_attention_kernel.py``
and says so in its docstring.
"""

from __future__ import annotations

import ast
from pathlib import Path

MODERN = Path(__file__).resolve().parents[2] / "modern"

# Private names that Keras documents as the subclassing API: the docstring of
# keras.optimizers.Optimizer shows a subclass's update_step finding its slot with
# ``self.momentums[self._get_variable_index(variable)]``, and no public hook exists.
DOCUMENTED_FOR_SUBCLASSES = {"_get_variable_index"}


def _sources():
    return {path: ast.parse(path.read_text(), filename=str(path)) for path in sorted(MODERN.rglob("*.py"))}


def test_no_keras_src_imports():
    found = []
    for path, tree in _sources().items():
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            found += [f"{path}:{node.lineno}: {name}" for name in names if name.startswith("keras.src")]
    assert not found, "modern imports Keras internals:\n" + "\n".join(found)


def test_private_attributes_read_are_modern_own():
    defined, read = set(), {}
    for path, tree in _sources().items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defined.add(node.name)
            elif isinstance(node, ast.Attribute) and node.attr.startswith("_") and not node.attr.startswith("__"):
                if isinstance(node.ctx, ast.Store):
                    defined.add(node.attr)
                else:
                    read.setdefault(node.attr, []).append(f"{path.relative_to(MODERN.parent)}:{node.lineno}")
    foreign = {name: places for name, places in read.items()
               if name not in defined and name not in DOCUMENTED_FOR_SUBCLASSES}
    assert not foreign, f"modern reads private attributes it does not define (Keras internals?): {foreign}"
