"""Name resolution through imports and aliases, without libcst's scope analysis.

The codemod resolves ``K.dot``, ``KB.dot``, ``tf.keras.backend.dot`` and
``keras.backend.dot`` to one qualified name. Imports are collected from the
whole module (any depth: an import inside ``if __name__ == '__main__':`` or a
function still counts), which is cheap because only statements are walked.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

import libcst as cst

from migrate.rewrite.keras3_api import KERAS3_NAMES
from migrate.rewrite.symbols import map_name
from migrate.rewrite.tables import LEGACY_ALIASES, TF_KERAS_PREFIXES


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


def module_aliases(module: cst.Module, imports: dict[str, str]) -> dict[str, str]:
    """Module-level names bound once to an imported name: ``RNN = recurrent.LSTM``.

    Keras 2.2.4's babi_rnn calls its layer through such a name; seen only as
    ``RNN(...)``, the call escaped the rules that pin Keras 2.2 defaults (a
    silent drift). A name that is bound anywhere else in the module (another
    assignment, a def, a class, an import, a loop) is left unresolved, except in the
    ``try``/``except`` fallback between two spellings of one Keras name
    (:func:`_fallback_alias`).
    """
    candidates: dict[str, str] = {}
    bindings: dict[str, int] = {}
    for node in _binding_nodes(module):
        for name in node:
            bindings[name] = bindings.get(name, 0) + 1
    for stmt in module.body:
        if isinstance(stmt, cst.Try):
            fallback = _fallback_alias(stmt, imports)
            if fallback is not None:
                name, qualified, branches = fallback
                candidates[name] = qualified
                bindings[name] = bindings.get(name, 0) - branches + 1  # the whole try binds it once
            continue
        alias = _simple_alias(stmt, imports)
        if alias is not None:
            candidates[alias[0]] = alias[1]
    return {name: q for name, q in candidates.items() if bindings.get(name) == 1 and name not in imports}


def _simple_alias(stmt: cst.CSTNode, imports: dict[str, str]) -> tuple[str, str] | None:
    """``(name, qualified)`` for a statement line ``name = <imported name>``, else None."""
    if not (isinstance(stmt, cst.SimpleStatementLine) and len(stmt.body) == 1):
        return None
    small = stmt.body[0]
    if (isinstance(small, cst.Assign) and len(small.targets) == 1
            and isinstance(small.targets[0].target, cst.Name)
            and isinstance(small.value, (cst.Name, cst.Attribute))):
        qualified = resolve(small.value, imports)
        if qualified is not None:
            return small.targets[0].target.value, qualified
    return None


def _fallback_alias(stmt: cst.Try, imports: dict[str, str]) -> tuple[str, str, int] | None:
    """The version-fallback idiom (keras-multi-head)::

        try:
            Wrapper = keras.layers.Wrapper
        except AttributeError:
            Wrapper = keras.layers.wrappers.Wrapper

    Every branch binds the same name to a spelling of one Keras 3 name, so the name is
    that class whichever branch ran. Returns ``(name, the try branch's name, branches)``,
    or None when a branch does anything else or the spellings differ in Keras 3.
    """
    if stmt.orelse is not None or stmt.finalbody is not None or not stmt.handlers:
        return None
    found = []
    for block in (stmt.body, *(handler.body for handler in stmt.handlers)):
        body = block.body if isinstance(block, cst.IndentedBlock) else ()
        alias = _simple_alias(body[0], imports) if len(body) == 1 else None
        if alias is None:
            return None
        found.append(alias)
    names = {name for name, _ in found}
    targets = {map_name(canonical(qualified)[0])[0] for _, qualified in found}
    if len(names) != 1 or len(targets) != 1 or None in targets:
        return None
    return found[0][0], found[0][1], len(found)


def _binding_nodes(module: cst.Module) -> Iterator[list[str]]:
    """The names each binding statement of the module binds (any depth)."""

    class Bindings(cst.CSTVisitor):
        def __init__(self) -> None:
            self.found: list[list[str]] = []

        def visit_AssignTarget(self, node: cst.AssignTarget) -> None:
            self.found.append(_target_names(node.target))

        def visit_AnnAssign(self, node: cst.AnnAssign) -> None:
            self.found.append(_target_names(node.target))

        def visit_AugAssign(self, node: cst.AugAssign) -> None:
            self.found.append(_target_names(node.target))

        def visit_For(self, node: cst.For) -> None:
            self.found.append(_target_names(node.target))

        def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
            self.found.append([node.name.value])

        def visit_ClassDef(self, node: cst.ClassDef) -> None:
            self.found.append([node.name.value])

        def visit_ImportAlias(self, node: cst.ImportAlias) -> None:
            bound = node.asname.name if node.asname is not None else node.name
            self.found.append([module_name(bound).split(".")[0]])  # type: ignore[arg-type]

        def visit_AsName(self, node: cst.AsName) -> None:
            if isinstance(node.name, cst.Name):  # with ... as x, except ... as x
                self.found.append([node.name.value])

        def visit_NamedExpr(self, node: cst.NamedExpr) -> None:
            self.found.append(_target_names(node.target))

    visitor = Bindings()
    module.visit(visitor)
    return iter(visitor.found)


def _target_names(node: cst.BaseExpression) -> list[str]:
    if isinstance(node, cst.Name):
        return [node.value]
    if isinstance(node, (cst.Tuple, cst.List)):
        return [name for element in node.elements for name in _target_names(element.value)]
    if isinstance(node, cst.StarredElement):
        return _target_names(node.value)
    return []


def canonical(qualified: str) -> tuple[str, bool]:
    """Fold ``tensorflow.keras``-style prefixes onto ``keras``; say whether one was folded.

    Keras 2.2's second spellings of a class (``keras.optimizers.rmsprop``, see
    ``tables.LEGACY_ALIASES``) are folded onto the class too, so that a rule written for
    ``keras.optimizers.RMSprop`` sees them (KM401's ``lr=`` and ``decay=``); KM101 renames
    the spelling itself (:func:`alias_spelled`). Reached through ``tensorflow.keras`` (which
    never exported them) the spelling is folded the same way, as ``map_name`` renames it.
    """
    for prefix in TF_KERAS_PREFIXES:
        if qualified == prefix or qualified.startswith(prefix + "."):
            folded = "keras" + qualified[len(prefix):]
            return LEGACY_ALIASES.get(folded, folded), True
    return LEGACY_ALIASES.get(qualified, qualified), False


def alias_spelled(node: cst.Attribute, canon: str) -> str | None:
    """The legacy alias that the chain ``node`` spells, when :func:`canonical` folded it onto
    ``canon`` (``keras.optimizers.rmsprop`` for ``optimizers.rmsprop`` resolved to
    ``keras.optimizers.RMSprop``); None when the chain spells ``canon``'s own name."""
    spelled = f"{canon.rpartition('.')[0]}.{node.attr.value}"
    return spelled if spelled != canon and LEGACY_ALIASES.get(spelled) == canon else None


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


# ---------------------------------------------------------------------------
# Names re-exported across the tree being rewritten
# ---------------------------------------------------------------------------
# A library may reach Keras through a module of its own: bert4keras's backend.py does
# `import keras.backend as K` and every other module `from bert4keras.backend import K`
# (or `from bert4keras.layers import *`, which passes K on). Seen file by file, that K
# is unknown and its calls stay Keras 2 calls. ``tree_imports`` is a cheap pre-pass over
# the whole tree (Python's own parser, only on the modules that other files import
# from) that tells each file which of its imported names are Keras or TensorFlow
# names; ``FileContext`` adds them to the file's import table.

_IMPORT_FROM = re.compile(rb"^[ \t]*from[ \t]+(\.*[\w.]*)[ \t]+import\b", re.M)
_IMPORT = re.compile(rb"^[ \t]*import[ \t]+([\w.]+)", re.M)
_KERAS_STAR = re.compile(rb"^[ \t]*from[ \t]+(?:tensorflow\.)?keras(?:\.\w+)*[ \t]+import[ \t]+\*", re.M)
#: the roots a re-exported name must resolve to for it to count
_ROOTS = ("keras", "tensorflow")


def module_of(path: str) -> tuple[str, bool]:
    """The dotted module name of a file, by the packages (``__init__.py``) above it,
    and whether it is a package's ``__init__``."""
    p = Path(path).resolve()
    parts = [] if p.stem == "__init__" else [p.stem]
    folder = p.parent
    while (folder / "__init__.py").is_file() and folder.parent != folder:
        parts.append(folder.name)
        folder = folder.parent
    return ".".join(reversed(parts)), p.stem == "__init__"


def _absolute(module: str | None, level: int, here: str, is_package: bool) -> str:
    """``from .x import y`` in module ``here`` -> the absolute module name."""
    if not level:
        return module or ""
    base = here.split(".") if here else []
    drop = level - 1 if is_package else level
    if drop > len(base):
        return ""
    base = base[: len(base) - drop]
    return ".".join([*base, module] if module else base)


def _bindings(tree: ast.Module, here: str, is_package: bool,
              patched: dict[str, str] | None = None) -> tuple[dict[str, str], list[str], list[str] | None]:
    """Module-level names bound by imports and plain aliases (``K = keras.backend``), the
    modules star-imported, and ``__all__`` when it is a literal list of strings.

    ``patched`` receives the attributes the module sets on an imported module
    (bert4keras: ``K.where = where``), as ``{"keras.backend.where": "<here>.K.where"}``:
    from then on that name is the library's own function, not Keras's."""
    bound: dict[str, str] = {}
    stars: list[str] = []
    public: list[str] | None = None
    stack: list[ast.stmt] = list(tree.body)
    while stack:
        node = stack.pop(0)
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    bound[alias.asname] = alias.name
                else:
                    head = alias.name.split(".")[0]
                    bound[head] = head
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node.module, node.level, here, is_package)
            for alias in node.names:
                if alias.name == "*":
                    stars.append(module)
                elif module:
                    bound[alias.asname or alias.name] = f"{module}.{alias.name}"
        elif (isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Attribute)
              and patched is not None):
            dotted = _ast_dotted(node.targets[0])
            head = dotted.split(".")[0] if dotted else None
            if dotted and head in bound:
                patched[bound[head] + dotted[len(head):]] = f"{here}.{dotted}"
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            target = node.targets[0].id
            if target == "__all__" and isinstance(node.value, (ast.List, ast.Tuple)):
                items = [e.value for e in node.value.elts if isinstance(e, ast.Constant)]
                if all(isinstance(i, str) for i in items):
                    public = items  # type: ignore[assignment]
                continue
            dotted = _ast_dotted(node.value)
            head = dotted.split(".")[0] if dotted else None
            if dotted and head in bound:
                bound[target] = bound[head] + dotted[len(head):]
            else:
                bound[target] = f"{here}.{target}"  # the module's own value
        elif isinstance(node, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            # The module's own class or function: it hides a star-imported name of the same name.
            bound[node.name] = f"{here}.{node.name}"
        elif isinstance(node, (ast.If, ast.Try)):
            # `if TF_KERAS: ...` and `try: import ... except ImportError: ...` still bind at module level.
            stack[:0] = [*node.body, *getattr(node, "handlers", []), *node.orelse, *getattr(node, "finalbody", [])]
        elif isinstance(node, ast.ExceptHandler):
            stack[:0] = list(node.body)
    return bound, stars, public


def _ast_dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _keras_star(module: str) -> dict[str, str]:
    """``from keras.layers import *``: the class names of that Keras module that Keras 3 also has
    (``Add``, ``Dense``, ...; lower-case functions are left out, as they are too often local names)."""
    names = KERAS3_NAMES.get(canonical(module)[0], frozenset())
    return {name: f"{module}.{name}" for name in names if name[:1].isupper()}


def _is_api(qualified: str) -> bool:
    return qualified.split(".")[0] in _ROOTS


def tree_imports(paths: Iterable[str], max_bytes: int | None = None) -> dict[str, dict[str, str]]:
    """For each file (by resolved path) that imports Keras or TensorFlow names from another
    module of the tree, those names: ``{local name: qualified name}``.

    Under the key ``"<path>#exported"`` (a file's path plus ``#exported``), the names of
    that file which other files of the tree import (by name or by a star import) and
    which must therefore stay bound in it, with the same values; the rewrite never
    drops their imports even when the file itself stops using them.

    Under the key ``"#patched"``: attributes that a module of the tree sets on a Keras
    module (``K.where = where``), by their canonical Keras name, each mapped to a name of
    the library; no Keras rule applies to them anywhere in the tree.

    Only modules imported from by some file are parsed, so a tree that does not
    re-export costs one regular-expression scan per file. Files are read as the
    rewrite reads them (:func:`migrate.rewrite.source.read_source`: regular files
    only, at most ``max_bytes``); one that cannot be read is left out here and
    reported by the rewrite itself.
    """
    from migrate.rewrite.source import DEFAULT_MAX_BYTES, RewriteError, read_source

    files: dict[str, tuple[str, bool, bytes]] = {}  # module -> (path, is_package, source)
    for path in paths:
        if not path.endswith(".py"):
            continue
        try:
            source, _ = read_source(path, DEFAULT_MAX_BYTES if max_bytes is None else max_bytes)
        except RewriteError:
            continue  # a FIFO, a device, an oversized file: never opened for a blocking read here
        module, is_package = module_of(path)
        if module:
            files[module] = (str(Path(path).resolve()), is_package, source)
    if len(files) < 2:
        return {}
    # The tree's modules that some file imports from (absolute or relative).
    wanted: set[str] = set()
    for module, (_, is_package, source) in files.items():
        for match in _IMPORT_FROM.finditer(source):
            text = match.group(1).decode("ascii", "replace")
            level = len(text) - len(text.lstrip("."))
            name = _absolute(text.lstrip(".") or None, level, module, is_package)
            if name in files and name != module:
                wanted.add(name)
        for match in _IMPORT.finditer(source):
            name = match.group(1).decode("ascii", "replace")
            if name in files and name != module:
                wanted.add(name)
    if not wanted and not any(_KERAS_STAR.search(source) for _, _, source in files.values()):
        return {}
    parsed: dict[str, tuple[dict[str, str], list[str], list[str] | None]] = {}
    patched: dict[str, str] = {}  # canonical legacy name -> the library's own (see _bindings)

    def parse(module: str) -> tuple[dict[str, str], list[str], list[str] | None] | None:
        if module not in files:
            return None
        if module not in parsed:
            _, is_package, source = files[module]
            try:
                tree = ast.parse(source)
            except (SyntaxError, ValueError, RecursionError, MemoryError):
                tree = ast.Module(body=[], type_ignores=[])
            parsed[module] = _bindings(tree, module, is_package, patched)
        return parsed[module]

    done: dict[str, dict[str, str]] = {}

    def exported(module: str, seen: frozenset[str] = frozenset()) -> dict[str, str]:
        """Names the module binds, each resolved to its Keras/TensorFlow origin (others dropped)."""
        if module in done:
            return done[module]
        info = parse(module)
        if info is None or module in seen:
            return {}  # not the tree's, or an import cycle: what the cycle adds is not followed
        bound, stars, public = info
        out: dict[str, str] = {}
        for star in stars:
            out.update(exported(star, seen | {module}) if star in files else _keras_star(star))
        for local, qualified in bound.items():
            out[local] = resolved(qualified, seen | {module})
        out = {k: v for k, v in out.items() if _is_api(v)}
        if public is not None:
            out = {k: v for k, v in out.items() if k in public}
        else:
            out = {k: v for k, v in out.items() if not k.startswith("_")}
        done[module] = out
        return out

    def resolved(qualified: str, seen: frozenset[str]) -> str:
        """``pkg.mod.K`` -> what ``K`` is in the tree's module ``pkg.mod`` (unchanged if not the tree's)."""
        module, _, name = qualified.rpartition(".")
        while module:
            if module in files:
                inner = exported(module, seen)
                if name.split(".")[0] in inner:
                    head, _, rest = name.partition(".")
                    return inner[head] + (f".{rest}" if rest else "")
                return qualified
            module, _, part = module.rpartition(".")
            name = f"{part}.{name}"
        return qualified

    result: dict[str, dict[str, str]] = {}

    def keep(module: str, names: Iterable[str]) -> None:
        """``names`` of ``module`` are imported elsewhere; follow them through its star imports."""
        info = parse(module)
        if info is None:
            return
        bound, stars, _ = info
        mine = exported(module)
        key = f"{files[module][0]}#exported"
        for name in names:
            if name in mine and name not in result.setdefault(key, {}):
                result[key][name] = mine[name]
                if name not in bound:  # it came from a star import: keep it there too
                    for star in stars:
                        if name in exported(star):
                            keep(star, [name])

    for module in wanted:
        parse(module)
    for module, (path, is_package, source) in files.items():
        if not any(w.rpartition(".")[2].encode() in source for w in wanted) and not _KERAS_STAR.search(source):
            continue  # imports from none of them
        bound, stars, _ = parse(module) or ({}, [], None)
        extra: dict[str, str] = {}
        for star in stars:
            if star in files:
                names = exported(star, frozenset({module}))
                extra.update(names)
                keep(star, names)
            else:
                extra.update(_keras_star(star))
        for local, qualified in bound.items():
            extra.pop(local, None)  # the file's own binding of the name wins over a star import's
            if any(qualified.startswith(f"{m}.") for m in files):
                target = resolved(qualified, frozenset({module}))
                if target != qualified and _is_api(target):
                    extra[local] = target
                    source_module, _, name = qualified.rpartition(".")
                    if source_module in files:
                        keep(source_module, [name])
        if extra:
            result[path] = extra
    if patched:
        # Every file that can see the patched module (the patching one included) reads these names
        # as the library's: `K.where(...)` after bert4keras's `K.where = where` is its own where.
        result["#patched"] = {canonical(k)[0]: v for k, v in patched.items()}
    return result
