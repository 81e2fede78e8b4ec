"""KM605: a custom object registered under the name of a Keras 3 activation (reported).

Keras 2 looked an activation given by name (``Dense(activation='gelu')``) up in the
global custom objects first, so a program could put its own function behind a name:
bert4keras's ``set_gelu('tanh')`` does ``get_custom_objects()['gelu'] = gelu_tanh``.
Keras 3's ``keras.activations.get`` consults only its own table: every
``activation='gelu'`` then silently means Keras 3's exact erf gelu, whatever was
registered (row ``custom-activation-name`` of ``legacy_defaults.py``; a name Keras 3
does not have raises instead, which is loud). Registration and use are usually in
different modules, so the registration is reported, with the fix: pass the function
itself where the name is used.

Seen: ``get_custom_objects()[NAME] = f`` and ``get_custom_objects().update(D)`` where
``D`` is a dict literal or a module-level name bound to one, for any ``NAME`` that is a
``keras.activations`` function in Keras 3.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import MODULE, Hook, RuleSpec, Site, Triggers
from migrate.rewrite.keras3_api import KERAS3_NAMES

RULE = "KM605"
_GETTERS = frozenset({"keras.utils.get_custom_objects", "keras.utils.generic_utils.get_custom_objects",
                      "keras.saving.get_custom_objects"})
#: Keras 3's activation functions (not the lookup helpers): the names a registration shadows in vain.
ACTIVATIONS = KERAS3_NAMES["keras.activations"] - {"get", "serialize", "deserialize"}

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(MODULE, check=True),),
    triggers=Triggers(methods=frozenset({"get_custom_objects"}), names=frozenset({"get_custom_objects"})),
)


def _is_getter(ctx: FileContext, node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.Call) and not node.args and ctx.qualified(node.func) in _GETTERS


def _dict_keys(node: cst.BaseExpression | None) -> list[tuple[str, cst.BaseExpression]]:
    if not isinstance(node, cst.Dict):
        return []
    out = []
    for element in node.elements:
        if isinstance(element, cst.DictElement) and isinstance(element.key, cst.SimpleString):
            key = element.key.evaluated_value
            if isinstance(key, str):
                out.append((key, element.value))
    return out


class _Finder(cst.CSTVisitor):
    def __init__(self, ctx: FileContext, dicts: dict[str, cst.Dict]) -> None:
        self.ctx = ctx
        self.dicts = dicts

    def _report(self, node: cst.CSTNode, key: str, value: cst.BaseExpression) -> None:
        if key not in ACTIVATIONS:
            return
        fn = self.ctx.code(value).strip()
        self.ctx.report(RULE, node, f"custom object {key!r} = {fn}: Keras 3 resolves activation={key!r} to its own "
                        f"keras.activations.{key}, never to this registration; pass the function itself "
                        f"(activation={fn}) where the name is used", fixed=False)

    def visit_Assign(self, node: cst.Assign) -> None:
        for target in node.targets:
            t = target.target
            if isinstance(t, cst.Subscript) and _is_getter(self.ctx, t.value) and len(t.slice) == 1:
                index = t.slice[0].slice
                if isinstance(index, cst.Index) and isinstance(index.value, cst.SimpleString):
                    key = index.value.evaluated_value
                    if isinstance(key, str):
                        self._report(node, key, node.value)

    def visit_Call(self, node: cst.Call) -> None:
        func = node.func
        if not (isinstance(func, cst.Attribute) and func.attr.value == "update" and _is_getter(self.ctx, func.value)):
            return
        for arg in node.args:
            value = arg.value
            if isinstance(value, cst.Name):
                value = self.dicts.get(value.value, value)
            for key, fn in _dict_keys(value):
                self._report(node, key, fn)


def on_module(ctx: FileContext, site: Site) -> None:
    if not ctx.enabled(RULE) or "get_custom_objects" not in ctx.source_text:
        return None
    module: cst.Module = site.original
    dicts: dict[str, cst.Dict] = {}
    for stmt in module.body:  # module-level `NAME = {...}`, the usual way to collect custom objects
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                if (isinstance(small, cst.Assign) and len(small.targets) == 1
                        and isinstance(small.targets[0].target, cst.Name) and isinstance(small.value, cst.Dict)):
                    dicts[small.targets[0].target.value] = small.value
    module.visit(_Finder(ctx, dicts))
    return None
