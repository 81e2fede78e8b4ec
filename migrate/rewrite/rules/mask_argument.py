"""KM313: a layer's ``mask`` argument that is not a Keras mask gets ``compute_mask`` -> None.

A ``mask`` passed by keyword is special to Keras 3: on a layer that does not
support masking, ``Layer.__call__`` warns on every call that it "will therefore
destroy the mask information". Code such as the 2021 tutorial passes an
attention mask under that name, and KM301 must pass it by keyword (after a
keyword ``training``), so the bundled translator warned 17 times per run.

A module's layer class whose ``call`` takes a *required* ``mask`` (no default:
an ordinary argument, not the optional Keras mask) and that says nothing about
masking (no ``compute_mask``, no ``supports_masking``) gets, right after its
``call``::

    def compute_mask(self, inputs, mask=None):
        return None

Keras 3 then counts the layer as mask-aware (it derives ``supports_masking``
from an overridden ``compute_mask``), so it does not warn, and the layer's
outputs carry no mask, which is what Keras 2 did with a layer that did not
support masking: the numbers stay the same.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CLASS, Hook, Order, RuleSpec, Site
from migrate.rewrite.index import rewritable_layer_class
from migrate.rewrite.names import iter_statements

RULE = "KM313"

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CLASS, chain=True),),
    before=(Order("get_config", "compute_mask goes right after call(), before KM309 and KM312 complete the "
                  "class"),),
)

_COMPUTE_MASK = (
    "def compute_mask(self, inputs, mask=None):\n"
    "    # `mask` is an argument of call(), not a Keras mask: the outputs carry none (as in Keras 2), and\n"
    "    # defining this tells Keras 3 so (no warning that the mask information is destroyed)\n"
    "    return None\n")


def _says_masking(body: list[cst.BaseStatement]) -> bool:
    """Whether the class body defines ``compute_mask`` or assigns ``supports_masking`` anywhere."""
    for stmt in iter_statements(body):
        if isinstance(stmt, cst.FunctionDef) and stmt.name.value == "compute_mask":
            return True
        if isinstance(stmt, cst.SimpleStatementLine):
            for small in stmt.body:
                targets = [t.target for t in small.targets] if isinstance(small, cst.Assign) else (
                    [small.target] if isinstance(small, (cst.AnnAssign, cst.AugAssign)) else [])
                for target in targets:
                    name = target.attr.value if isinstance(target, cst.Attribute) else (
                        target.value if isinstance(target, cst.Name) else None)
                    if name == "supports_masking":
                        return True
    return False


def _required_mask(fn: cst.FunctionDef) -> bool:
    ps = fn.params
    return any(p.name.value == "mask" and p.default is None for p in (*ps.posonly_params, *ps.params))


def on_class(ctx: FileContext, site: Site) -> cst.ClassDef | None:
    """A layer whose call() takes a required ``mask`` argument gets a ``compute_mask`` returning None."""
    info = site.cls
    updated: cst.ClassDef = site.updated
    if not rewritable_layer_class(ctx, site, RULE) or info.call_params is None or "mask" not in info.call_params:
        return None
    members = list(updated.body.body)
    at = next((i for i, m in enumerate(members) if isinstance(m, cst.FunctionDef) and m.name.value == "call"), None)
    if at is None or not _required_mask(members[at]) or _says_masking(members):  # type: ignore[arg-type]
        return None
    method = ctx.statement(_COMPUTE_MASK).with_changes(leading_lines=[cst.EmptyLine(indent=False)])
    members.insert(at + 1, method)
    ctx.report(RULE, site.original, f"{info.name}: compute_mask returning None added (its call() takes `mask` "
               "as an argument; Keras 3 warns on every call that passes mask= to a layer without one)", fixed=True)
    return updated.with_changes(body=updated.body.with_changes(body=members))
