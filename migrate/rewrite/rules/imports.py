"""KM101/KM102/KM103: legacy modules and the ``tf.keras`` namespace to Keras 3.

Import statements are rewritten name by name (one ``from`` import may split in
two when its names moved to different modules); attribute chains such as
``tf.keras.layers.Dense`` or ``keras.layers.core.Dense`` are rewritten where
they are used. Names Keras 3 does not have are reported, never guessed.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import IMPORT, REFERENCE, Hook, Order, RuleSpec, Site
from migrate.rewrite.names import alias_spelled, build_dotted, canonical, module_name
from migrate.rewrite.rules import hard_sigmoid
from migrate.rewrite.symbols import map_name
from migrate.rewrite.tables import MERGE_RULE


SPEC = RuleSpec(
    ids=("KM101", "KM102", "KM103"),
    hooks=(Hook(IMPORT), Hook(REFERENCE, prefixes=("keras.",))),
    after=(Order("backend", "a K.<fn> chain is rewritten to keras.ops or reported by the backend rules; "
                 "keras.backend is not a namespace to move"),),
)


def on_import(ctx: FileContext, site: Site) -> list[cst.SimpleStatementLine] | None:
    """New lines for a statement line holding one import, or None to keep it."""
    line: cst.SimpleStatementLine = site.updated
    origin: cst.SimpleStatementLine = site.original
    return rewrite_import(ctx, line, line.body[0], origin.body[0])  # type: ignore[arg-type]


def on_reference(ctx: FileContext, site: Site) -> cst.BaseExpression | None:
    """``tf.keras.layers.Dense`` -> ``keras.layers.Dense`` and friends, where the chain is used."""
    return rewrite_chain(ctx, site.original, site.updated, called=site.called)


def rewrite_chain(ctx: FileContext, original: cst.Attribute, updated: cst.Attribute,
                  called: bool = False) -> cst.BaseExpression | None:
    """``tf.keras.layers.Dense`` -> ``keras.layers.Dense`` and friends.

    ``called``: the chain is the callee of a call (a call-site rule may report it instead).
    """
    raw = ctx.qualified_raw(original)
    if raw is None:
        return None
    canon, via_tf = raw
    if not canon.startswith("keras.") or canon.startswith("keras.backend"):
        return None
    head = ctx.dotted(original)
    # the name resolution folded Keras 2.2's keras.optimizers.rmsprop onto RMSprop; the spelling still moves
    target, rule, reason = map_name(alias_spelled(original, canon) or canon)
    if target is None:
        if rule == MERGE_RULE and called:
            return None  # reported at the call, with the replacement for its mode
        if ctx.enabled(rule):
            ctx.report(rule, original, reason, fixed=False)
        return None
    if target == head:
        return None
    rule = rule or ("KM102" if via_tf else "")
    if not rule:
        # Same name, only reached differently (e.g. an alias); nothing to do.
        return None
    if via_tf and rule != "KM102" and not ctx.enabled("KM102"):
        return None
    if not ctx.enabled(rule):
        return None
    if target.startswith("modern.compat."):  # a Keras 2 name kept in modern.compat (keras.preprocessing.text)
        target = target[len("modern."):]
        ctx.needs.add("compat")
    else:
        ctx.needs.add("keras")
    ctx.report(rule, original, f"{head} -> {target}" + (f" ({reason})" if reason else ""), fixed=True)
    return build_dotted(target)


def _alias(name: str, asname: str | None) -> cst.ImportAlias:
    as_node = cst.AsName(name=cst.Name(asname)) if asname and asname != name else None
    return cst.ImportAlias(name=build_dotted(name), asname=as_node)  # type: ignore[arg-type]


def rewrite_import(ctx: FileContext, stmt: cst.SimpleStatementLine, small: cst.Import | cst.ImportFrom,
                   origin: cst.CSTNode | None = None) -> list[cst.SimpleStatementLine] | None:
    """New import lines for one legacy import statement, or None to keep it.

    ``origin``: the statement as parsed, which findings point at (``small`` may be a rebuilt copy).
    """
    where = origin if origin is not None else small
    if isinstance(small, cst.ImportFrom):
        return _rewrite_from(ctx, stmt, small, where)
    return _rewrite_plain(ctx, stmt, small, where)


def _line(stmt: cst.SimpleStatementLine, small: cst.BaseSmallStatement,
          first: bool) -> cst.SimpleStatementLine:
    return cst.SimpleStatementLine(
        body=[small], leading_lines=stmt.leading_lines if first else (),
        trailing_whitespace=stmt.trailing_whitespace)


def _rewrite_from(ctx: FileContext, stmt: cst.SimpleStatementLine, node: cst.ImportFrom,
                  where: cst.CSTNode) -> list[cst.SimpleStatementLine] | None:
    if node.relative or isinstance(node.names, cst.ImportStar) or node.module is None:
        return None
    mod = module_name(node.module)
    canon_mod, via_tf = canonical(mod)
    if canon_mod != "keras" and not canon_mod.startswith("keras."):
        if mod in ("tensorflow", "tensorflow.python", "tensorflow.compat.v1", "tensorflow.compat.v2"):
            return _rewrite_from_tensorflow(ctx, stmt, node, mod, where)
        return None
    groups: dict[str, list[tuple[str, str | None]]] = {}
    order: list[str] = []
    changed = False
    notes: list[tuple[str, str]] = []
    for alias in node.names:
        name = module_name(alias.name)
        asname = module_name(alias.asname.name) if alias.asname else None  # type: ignore[arg-type]
        legacy = f"{canon_mod}.{name}"
        special = hard_sigmoid.import_target(ctx, legacy, where)
        if special is not None:
            target, rule, reason = special
        elif canon_mod == "keras.backend" or canon_mod.startswith("keras.backend.") or legacy == "keras.backend":
            # (keras.backend_config is a module of its own, moved to keras.config)
            target = legacy
            rule, reason = "", ""
        else:
            target, rule, reason = map_name(legacy)
        if target is None:
            if ctx.enabled(rule):
                ctx.report(rule, where, reason, fixed=False)
            target = legacy if via_tf and ctx.enabled("KM102") else f"{mod}.{name}"
            rule = "KM102" if via_tf else ""
        elif not rule and via_tf:
            rule = "KM102"
        if rule and not ctx.enabled(rule):
            target = f"{mod}.{name}"
        elif rule:
            notes.append((rule, reason))
        new_mod, _, new_name = target.rpartition(".")
        if not new_mod:
            new_mod, new_name = target, ""
        if new_mod != mod or new_name != name:
            changed = True
        key = new_mod
        if key not in groups:
            groups[key] = []
            order.append(key)
        groups[key].append((new_name, asname or (name if new_name != name else None)))
    if not changed:
        return None
    lines: list[cst.SimpleStatementLine] = []
    for key in order:
        plain = [(n, a) for n, a in groups[key] if n]
        whole = [(n, a) for n, a in groups[key] if not n]
        for _, a in whole:  # `from tensorflow import keras` style: a whole module
            imp = cst.Import(names=[_alias(key, a)])
            lines.append(_line(stmt, imp, not lines))
        if plain:
            imp_from = cst.ImportFrom(
                module=build_dotted(key),  # type: ignore[arg-type]
                names=[cst.ImportAlias(name=cst.Name(n),
                                       asname=cst.AsName(name=cst.Name(a)) if a and a != n else None)
                       for n, a in plain])
            lines.append(_line(stmt, imp_from, not lines))
    for rule, reason in notes:
        ctx.report(rule, where, f"import from {mod} rewritten" + (f" ({reason})" if reason else ""), fixed=True)
    return lines


def _rewrite_from_tensorflow(ctx: FileContext, stmt: cst.SimpleStatementLine, node: cst.ImportFrom,
                             mod: str, where: cst.CSTNode) -> list[cst.SimpleStatementLine] | None:
    """``from tensorflow import keras`` -> ``import keras`` (other names stay)."""
    assert not isinstance(node.names, cst.ImportStar)
    keep: list[cst.ImportAlias] = []
    moved: list[cst.ImportAlias] = []
    for alias in node.names:
        if module_name(alias.name) == "keras":
            moved.append(alias)
        else:
            keep.append(alias)
    if not moved or not ctx.enabled("KM102"):
        return None
    lines: list[cst.SimpleStatementLine] = []
    if keep:
        keep[-1] = keep[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        lines.append(_line(stmt, node.with_changes(names=keep), True))
    for alias in moved:
        asname = module_name(alias.asname.name) if alias.asname else None  # type: ignore[arg-type]
        imp = cst.Import(names=[cst.ImportAlias(
            name=cst.Name("keras"),
            asname=cst.AsName(name=cst.Name(asname)) if asname and asname != "keras" else None)])
        lines.append(_line(stmt, imp, not lines))
    ctx.report("KM102", where, f"from {mod} import keras -> import keras (Keras 3 package)", fixed=True)
    return lines


def _rewrite_plain(ctx: FileContext, stmt: cst.SimpleStatementLine, node: cst.Import,
                   where: cst.CSTNode) -> list[cst.SimpleStatementLine] | None:
    new_aliases: list[cst.ImportAlias] = []
    changed = False
    for alias in node.names:
        name = module_name(alias.name)
        canon, via_tf = canonical(name)
        if canon != "keras" and not canon.startswith("keras."):
            new_aliases.append(alias.with_changes(comma=cst.MaybeSentinel.DEFAULT))
            continue
        target, rule, reason = map_name(canon)
        rule = rule or ("KM102" if via_tf else "")
        if target is None:
            if ctx.enabled(rule):
                ctx.report(rule, where, reason, fixed=False)
            new_aliases.append(alias.with_changes(comma=cst.MaybeSentinel.DEFAULT))
            continue
        if not rule or not ctx.enabled(rule) or target == name:
            new_aliases.append(alias.with_changes(comma=cst.MaybeSentinel.DEFAULT))
            continue
        changed = True
        if alias.asname is not None:
            asname = module_name(alias.asname.name)  # type: ignore[arg-type]
            new_aliases.append(cst.ImportAlias(
                name=build_dotted(target),  # type: ignore[arg-type]
                asname=None if asname == target else cst.AsName(name=cst.Name(asname))))
        else:
            # `import tensorflow.keras` bound `tensorflow`; uses are rewritten to `keras.*`.
            new_aliases.append(cst.ImportAlias(name=cst.Name("keras")))
            if via_tf:
                new_aliases.append(cst.ImportAlias(name=cst.Name("tensorflow")))
        ctx.report(rule, where, f"import {name} -> import {target}", fixed=True)
    if not changed:
        return None
    seen: set[str] = set()
    uniq = []
    for a in new_aliases:
        key = FileContext.code(a)
        if key not in seen:
            seen.add(key)
            uniq.append(a)
    return [_line(stmt, node.with_changes(names=uniq), True)]
