"""Name resolution through imports and aliases, without libcst's scope analysis.

The codemod resolves ``K.dot``, ``KB.dot``, ``tf.keras.backend.dot`` and
``keras.backend.dot`` to one qualified name. Imports are collected from the
whole module (any depth: an import inside ``if __name__ == '__main__':`` or a
function still counts), which is cheap because only statements are walked.
"""

from __future__ import annotations

from collections.abc import Iterator

import libcst as cst

from migrate.rewrite.tables import TF_KERAS_PREFIXES


def dotted_name(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a pure Name/Attribute chain, else None."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
        return ".".join(reversed(parts))
    return None


def module_name(node: cst.BaseExpression | None) -> str:
    if node is None:
        return ""
    name = dotted_name(node)
    return name or ""


def iter_statements(body: object) -> Iterator[cst.CSTNode]:
    """Every statement of a module, recursively through compound statements."""
    stack: list[object] = [body]
    while stack:
        item = stack.pop()
        if isinstance(item, (list, tuple)):
            stack.extend(reversed(item))
            continue
        if isinstance(item, cst.SimpleStatementLine):
            yield item
        elif isinstance(item, cst.BaseCompoundStatement):
            yield item
            inner = getattr(item, "body", None)
            if isinstance(inner, cst.BaseSuite):
                stack.append(inner.body)
            for extra in ("orelse", "finalbody"):
                sub = getattr(item, extra, None)
                if sub is not None:
                    stack.append([sub])
            handlers = getattr(item, "handlers", None)
            if handlers:
                stack.append(list(handlers))
        elif isinstance(item, (cst.Else, cst.ExceptHandler, cst.Finally, cst.If)):
            inner = item.body
            if isinstance(inner, cst.BaseSuite):
                stack.append(inner.body)
            if isinstance(item, cst.If) and item.orelse is not None:
                stack.append([item.orelse])
        elif isinstance(item, cst.BaseSuite):
            stack.append(item.body)


def collect_imports(module: cst.Module) -> dict[str, str]:
    """Map each bound local name to the qualified name it was imported as."""
    table: dict[str, str] = {}
    for stmt in iter_statements(module.body):
        if not isinstance(stmt, cst.SimpleStatementLine):
            continue
        for small in stmt.body:
            if isinstance(small, cst.Import):
                for alias in small.names:
                    full = module_name(alias.name)
                    if alias.asname is not None:
                        local = module_name(alias.asname.name)  # type: ignore[arg-type]
                        table[local] = full
                    else:
                        head = full.split(".")[0]
                        table.setdefault(head, head)
            elif isinstance(small, cst.ImportFrom):
                if small.relative or isinstance(small.names, cst.ImportStar):
                    continue
                mod = module_name(small.module)
                for alias in small.names:
                    name = module_name(alias.name)
                    local = module_name(alias.asname.name) if alias.asname else name  # type: ignore[arg-type]
                    table[local] = f"{mod}.{name}"
    return table


def canonical(qualified: str) -> tuple[str, bool]:
    """Fold ``tensorflow.keras``-style prefixes onto ``keras``; say whether one was folded."""
    for prefix in TF_KERAS_PREFIXES:
        if qualified == prefix or qualified.startswith(prefix + "."):
            return "keras" + qualified[len(prefix):], True
    return qualified, False


def resolve(node: cst.BaseExpression, imports: dict[str, str]) -> str | None:
    """The qualified name of a Name/Attribute chain whose head is an imported name."""
    name = dotted_name(node)
    if name is None:
        return None
    head, _, rest = name.partition(".")
    base = imports.get(head)
    if base is None:
        return None
    return f"{base}.{rest}" if rest else base


def build_dotted(name: str) -> cst.BaseExpression:
    parts = name.split(".")
    node: cst.BaseExpression = cst.Name(parts[0])
    for part in parts[1:]:
        node = cst.Attribute(value=node, attr=cst.Name(part))
    return node
