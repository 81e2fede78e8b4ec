"""The pitfall checks of ``migrate check``: stable ids ``KC1xx``, one module each.

Plain data, like ``migrate.rewrite.catalog``, so that listing them imports nothing.
They are kept out of the rewrite catalogue's ``RULES`` because no rewrite hook
implements them (``migrate rules`` lists the rewrite rules; ``migrate check
--list`` these). Every check only reports: each finding needs a human.
"""

from __future__ import annotations

from migrate.rewrite.catalog import UNSAFE, RuleInfo
from migrate.rewrite.catalog import expand_selection as _expand

FAMILY = "KC1"
FAMILY_DESCRIPTION = "pitfall checks (migrate check): programs that run but compute the wrong numbers"

CHECKS: tuple[RuleInfo, ...] = (
    RuleInfo("KC101", "logits-probabilities", UNSAFE,
             "logits fed to a cross-entropy that expects probabilities, or softmax/sigmoid outputs fed to one "
             "with from_logits=True (compile, custom loops, loss objects)"),
    RuleInfo("KC102", "softmax-padded-axis", UNSAFE,
             "softmax over attention scores of a padded sequence with no mask applied (mask_zero Embedding, "
             "or a mask argument that is ignored)"),
    RuleInfo("KC103", "mask-polarity", UNSAFE,
             "a mask built with 1 = keep added as `mask * -1e9` (1 = masked), or the reverse"),
    RuleInfo("KC104", "lr-set-twice", UNSAFE,
             "an optimizer given a learning-rate schedule and a callback (LearningRateScheduler, "
             "ReduceLROnPlateau, one setting optimizer.lr) that sets the rate too"),
    RuleInfo("KC105", "accuracy-on-logits", UNSAFE,
             "binary accuracy (threshold 0.5) computed on logits: a linear output, or 'accuracy' with a "
             "from_logits binary loss"),
)

CHECKS_BY_ID: dict[str, RuleInfo] = {c.id: c for c in CHECKS}


def expand_selection(items: list[str] | None) -> set[str]:
    """``KC1``, ``KC10``, ``KC103`` (comma- or space-separated) to check ids; ``ValueError`` names an unknown one."""
    return _expand(items, CHECKS, "migrate check --list")
