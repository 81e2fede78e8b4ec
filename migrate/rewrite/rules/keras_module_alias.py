"""KM104: ``sys.modules['keras'] = tf.keras`` is deleted (left as ``pass``).

Code written for both standalone Keras and tf.keras chose one by aliasing the module:
bert4keras's backend does ``if TF_KERAS: sys.modules['keras'] = tf.keras`` before its
``import keras``, so that every later ``import keras`` meant tf.keras. With Keras 3,
``keras`` *is* the Keras that ``tf.keras`` names (TensorFlow's ``tf.keras`` is a lazy
loader of that very package), so the alias has nothing left to choose; worse, putting
the lazy loader itself in ``sys.modules['keras']`` makes it load ``keras`` from
``sys.modules``, that is itself, and the next ``import keras`` ends in a
``RecursionError``. The statement is replaced by ``pass`` (it may be alone in its
``if`` block); an alias of ``keras`` to anything else is left alone.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import ASSIGN, Hook, Order, RuleSpec, Site, Triggers

RULE = "KM104"

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(ASSIGN),),
    triggers=Triggers(methods=frozenset({"modules"})),  # sys.modules[...]
    after=(Order("batch_dot", "batch_dot's assignment hook only records ranks (check); this one may "
                 "replace the statement"),),
)


def _is_keras_key(node: cst.BaseExpression) -> bool:
    return isinstance(node, cst.SimpleString) and node.evaluated_value == "keras"


def on_assign(ctx: FileContext, site: Site) -> cst.BaseSmallStatement | None:
    node: cst.Assign = site.original
    if not ctx.enabled(RULE) or len(node.targets) != 1:
        return None
    target = node.targets[0].target
    if not (isinstance(target, cst.Subscript) and len(target.slice) == 1
            and isinstance(target.slice[0].slice, cst.Index) and _is_keras_key(target.slice[0].slice.value)
            and ctx.qualified(target.value) == "sys.modules"):
        return None
    raw = ctx.qualified_raw(node.value)
    if raw is None or raw[0] != "keras" or not raw[1]:
        return None  # only tf.keras (and the other TensorFlow spellings of it)
    ctx.report(RULE, node, "sys.modules['keras'] = tf.keras deleted: with Keras 3, keras is what tf.keras names, "
               "and the alias makes `import keras` recurse into itself", fixed=True)
    return cst.Pass()
