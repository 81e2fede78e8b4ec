"""``--model`` factories for porting the bundled checkpoints into ``modern`` models."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

CHECKPOINTS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "legacy"


def seq2seq():
    """A built ``Seq2SeqTransformer`` with the sizes the tutorial checkpoint was trained with."""
    from modern.models import Seq2SeqTransformer

    args = json.loads((CHECKPOINTS / "tutorial_ckpt" / "model_args.json").read_text())["args"]
    model = Seq2SeqTransformer(**args)
    model((np.ones((1, 4), "int32"), np.ones((1, 3), "int32")), training=False)
    return model
