"""KM501-KM504: saving and checkpoints. Reported, never rewritten.

Changing a path changes which file a program reads or writes, and legacy
weight files need conversion, so these spots are only reported, each with what
to do: Keras 3 ``save_weights`` needs ``.weights.h5``, ``model.save`` needs
``.keras`` (or ``model.export`` for a SavedModel), and legacy HDF5 files and TF
object checkpoints are converted with ``migrate port``.
"""

from __future__ import annotations

import libcst as cst

from migrate.rewrite.context import FileContext
from migrate.rewrite.hooks import CALL, Hook, RuleSpec, Site, Triggers
from migrate.rewrite.names import dotted_name

#: files no Keras model.save writes: the receiver is something else (an array, a frame, a figure)
NOT_MODEL_FILES = (".npy", ".npz", ".pt", ".pth", ".pkl", ".pickle", ".joblib", ".json", ".csv", ".txt",
                   ".png", ".jpg", ".jpeg", ".pdf", ".svg", ".parquet", ".feather")
PORT_HINT = "convert the legacy file with `migrate port OLD --to model.keras`"


SPEC = RuleSpec(
    ids=("KM501", "KM502", "KM503", "KM504"),
    # every call: `model.save(...)` on any receiver, `ModelCheckpoint(...)`, `np.save(...)` told apart
    hooks=(Hook(CALL, check=True),),
    # `restore` is only a checkpoint's with a tensorflow import, which the file names anyway
    triggers=Triggers(methods=frozenset({"save", "save_weights", "load_weights", "restore"}),
                      statement_only=frozenset({"restore"})),
)


def _path_literal(call: cst.Call, keyword: str) -> str | None:
    for i, a in enumerate(call.args):
        if (a.keyword is None and i == 0) or (a.keyword is not None and a.keyword.value == keyword):
            if isinstance(a.value, cst.SimpleString) and isinstance(a.value.evaluated_value, str):
                return a.value.evaluated_value
            return ""
    return None


def _kw_true(call: cst.Call, keyword: str) -> bool:
    return any(a.keyword is not None and a.keyword.value == keyword and isinstance(a.value, cst.Name)
               and a.value.value == "True" for a in call.args)


def on_call(ctx: FileContext, site: Site) -> None:
    qualified = site.qualified
    original: cst.Call = site.original
    func = original.func
    if qualified in ("keras.callbacks.ModelCheckpoint",) and ctx.enabled("KM503"):
        path = _path_literal(original, "filepath")
        weights_only = _kw_true(original, "save_weights_only")
        need = ".weights.h5" if weights_only else ".keras"
        if path is None or path == "" or not path.endswith(need):
            ctx.report("KM503", original,
                       f"ModelCheckpoint filepath must end in {need} in Keras 3"
                       + (f" (got {path!r})" if path else ""), fixed=False)
        return
    if qualified in ("tensorflow.train.CheckpointManager",):
        return
    if not isinstance(func, cst.Attribute):
        return
    method = func.attr.value
    receiver = dotted_name(func.value)
    if method == "save_weights" and ctx.enabled("KM501"):
        path = _path_literal(original, "filepath")
        if path is None:
            return
        if not path.endswith(".weights.h5"):
            what = f"{path!r}" if path else "this path"
            ctx.report("KM501", original,
                       f"save_weights({what}): Keras 3 writes only .weights.h5 files; rename the path "
                       "(and every load_weights of it)", fixed=False)
    elif method == "load_weights" and ctx.enabled("KM501"):
        path = _path_literal(original, "filepath")
        if path is None:
            return
        if path.endswith(".weights.h5") or path.endswith(".keras"):
            return
        if path.endswith((".h5", ".hdf5")):
            ctx.report("KM501", original, f"load_weights({path!r}) of a legacy HDF5 file: {PORT_HINT}", fixed=False)
        elif ctx.enabled("KM504"):
            what = f"{path!r}" if path else "this path"
            ctx.report("KM504", original,
                       f"load_weights({what}) may be a TF checkpoint, which Keras 3 cannot load: {PORT_HINT}",
                       fixed=False)
    elif method == "save" and ctx.enabled("KM502") and original.args:
        if receiver is not None and (receiver in ctx.checkpoint_names or receiver.endswith("manager")):
            return
        owner = ctx.qualified(func)
        if owner is not None and not owner.startswith(("keras.", "tensorflow.")):
            return  # a module's own save function (numpy.save, torch.save, ...), not a Keras model
        path = _path_literal(original, "filepath")
        if path:
            if path.endswith(".keras") or path.endswith(NOT_MODEL_FILES):
                return
            kind = "a legacy HDF5 model" if path.endswith((".h5", ".hdf5")) else "a SavedModel directory"
            ctx.report("KM502", original,
                       f"save({path!r}) wrote {kind}; Keras 3 saves .keras files (model.export for a SavedModel)",
                       fixed=False)
    elif method == "restore" and ctx.enabled("KM504"):
        is_ckpt = receiver is not None and receiver in ctx.checkpoint_names
        if isinstance(func.value, cst.Call):
            is_ckpt = is_ckpt or ctx.qualified(func.value.func) == "tensorflow.train.Checkpoint"
        if is_ckpt:
            ctx.report("KM504", original,
                       f"tf.train.Checkpoint.restore of a legacy checkpoint: object paths differ in Keras 3; "
                       f"{PORT_HINT}", fixed=False)
