"""``migrate port``: a legacy checkpoint into a verified Keras 3 ``.keras`` file.

The steps, each of which can stop the port with a one-line :class:`PortError`
and leave nothing at OUT:

1. check OUT (``.keras`` suffix, its directory exists, not there yet unless
   ``--force``) before any heavy work;
2. read SOURCE as data (:mod:`migrate.weights.h5`,
   :mod:`migrate.weights.tf_checkpoint`);
3. get the Keras 3 model to fill: ``--model SPEC`` (the user's factory), or
   the source's own ``model_config`` translated to Keras 3
   (:mod:`migrate.weights.config`, with what each legacy family becomes
   from :mod:`migrate.weights.families`);
4. plan (:mod:`migrate.weights.plan`): through a family's ``modern`` weight
   map (``--map``), else by structure;
5. ``--dry-run`` prints the plan and stops here;
6. assign the weights, one source array in memory at a time;
7. ``--verify``: the same probe input through the legacy model (on tf_keras)
   and the ported one; fail above the tolerance;
8. save to a temporary ``.keras`` file, reload with ``safe_mode=True``,
   compare, move into place; write the JSON report.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TextIO

from migrate.weights.errors import PortError, one_line
from migrate.weights.h5 import DEFAULT_MAX_WEIGHT_BYTES
from migrate.weights.inputs import call_factory, load_factory, read_source
from migrate.weights.quiet import quiet_tensorflow
from migrate.weights.source import WeightSource
from migrate.weights.writer import (
    check_out,
    check_writable_dir,
    drop_temp_file,
    new_temp_file,
    same_file,
    user_file_mode,
)

DEFAULT_ATOL = 1e-5


@dataclass
class PortRequest:
    source: Path
    out: Path | None
    model_spec: str | None = None
    map_name: str | None = None
    legacy_spec: str | None = None
    verify: bool = False
    dry_run: bool = False
    report: Path | None = None
    force: bool = False
    atol: float = DEFAULT_ATOL
    # The most SOURCE's weights may declare, all together (--max-weight-bytes).
    max_weight_bytes: int = DEFAULT_MAX_WEIGHT_BYTES
    # --no-optimizer: drop the optimizer state (a problem with it is a warning).
    no_optimizer: bool = False
    # --root: the saved object of a TF checkpoint that is the model (None: the
    # only candidate; several candidates are refused).
    root: str | None = None
    # A last check of the staged file (its temporary path) before it is moved to
    # OUT, e.g. --verify-training; what it raises leaves nothing written.
    before_commit: Callable[[Path], None] | None = None


@dataclass
class PortResult:
    plan_lines: list[str] = field(default_factory=list)
    verify_diff: float | None = None
    reload_diff: float | None = None
    seconds: float = 0.0
    # The optimizer step the written file resumes at (None: no optimizer ported).
    optimizer_step: int | None = None
    # The ported optimizer for --report: classes, step, slot pairs.
    optimizer: dict[str, Any] | None = None


def module_custom_objects(factory: Callable[[], Any]) -> dict[str, Any]:
    """Keras classes defined in the factory's own module, by name.

    A model built from the user's rewritten code holds their custom layers;
    reloading the written ``.keras`` file needs those classes unless the code
    registers them with ``keras.saving.register_keras_serializable``.
    """
    import keras

    module = sys.modules.get(getattr(factory, "__module__", ""), None)
    if module is None:
        return {}
    kinds = (keras.layers.Layer, keras.optimizers.schedules.LearningRateSchedule)
    return {
        name: value for name, value in vars(module).items()
        if isinstance(value, type) and issubclass(value, kinds) and value.__module__ == module.__name__
    }


def unregistered_classes(custom_objects: dict[str, Any]) -> list[str]:
    """Names of the classes ``load_model`` will not find by itself (no registration)."""
    import keras

    return sorted(name for name, cls in custom_objects.items()
                  if keras.saving.get_registered_name(cls) == cls.__name__)


def build_target(request: PortRequest, source: WeightSource) -> tuple[Any, dict[str, Any]]:
    """The Keras 3 model to fill, and the user's classes needed to reload it."""
    if request.model_spec:
        factory = load_factory(request.model_spec, "--model")
        model = call_factory(factory, request.model_spec, "--model")
        import keras

        if not isinstance(model, keras.Model):
            raise PortError(request.model_spec, f"--model factory returned {type(model).__name__}, not a keras.Model")
        return model, module_custom_objects(factory)
    if source.model_config is not None:
        from migrate.weights.config import check_declared_sizes, check_legacy_config, model_from_legacy_config

        check_legacy_config(source.model_config, source.path)
        check_declared_sizes(source.model_config, source)
        return model_from_legacy_config(source.model_config, path=source.path), {}
    raise PortError(
        source.path,
        f"a {source.format} source carries no architecture; pass --model path/to/file.py:factory "
        "returning the Keras 3 model to fill",
    )


def make_plan(request: PortRequest, source: WeightSource, model: Any):
    from migrate.weights import plan as planning

    if request.map_name:
        from migrate.weights.families import family_for_map

        return family_for_map(request.map_name).map_plan(source, model)
    if source.model_config is not None and not request.model_spec:
        from migrate.weights.config import plan_for_translated_model

        return plan_for_translated_model(source, model)
    if source.format.startswith("keras-h5"):
        return planning.plan_by_layers(source, model)
    return planning.plan_by_object_paths(source, model, root=source.metadata.get("root", ""))


def choose_root(request: PortRequest, source: WeightSource, model: Any) -> WeightSource:
    """The source narrowed to the saved object that is the model (``--root``; TF checkpoints).

    A checkpoint holding several models (a GAN's generator and discriminator)
    is refused without ``--root``; with it, the other objects' weights and
    optimizer state are dropped. A ``--map`` plan names its own prefix, so
    the checkpoint is narrowed only when ``--root`` is given.
    """
    from migrate.weights.plan import resolve_root
    from migrate.weights.tf_checkpoint import restrict_to_root

    if source.format.startswith("keras-h5"):
        if request.root is not None:
            raise PortError(source.path, "--root chooses a saved object of a TF checkpoint or SavedModel; an HDF5 "
                                         "file holds one model (leave --root out)")
        return source
    if request.map_name and request.root is None:
        return source
    root = resolve_root(source, model, request.root)
    narrowed = restrict_to_root(source, root)
    narrowed.metadata["root"] = root
    return narrowed


def run_port(request: PortRequest, out: TextIO | None = None, err: TextIO | None = None) -> PortResult:
    """Run one port; raises :class:`PortError` on any failure (nothing written)."""
    out = out or sys.stdout
    err = err or sys.stderr
    from migrate.weights.plan import apply_plan
    from migrate.weights.writer import predict, probe_inputs, stage_keras_file

    started = time.perf_counter()
    result = PortResult()
    if not request.dry_run:
        # Everything that can be known about OUT and the report is checked
        # before the slow part, so that a bad path fails at once, and never
        # after OUT was written.
        check_out(request.out, request.force, request.source)
        if request.report is not None:
            check_report(request)
    with read_source(request.source, request.max_weight_bytes) as source:
        # Keras and TensorFlow from here on; an HDF5 file refused above did
        # not wait for them.
        quiet_tensorflow()
        model, custom_objects = build_target(request, source)
        source = choose_root(request, source, model)
        plan = make_plan(request, source, model)
        optimizer_plan = plan_training_state(request, source, model, plan, out, err)
        result.plan_lines = plan.describe() + (optimizer_plan.describe() if optimizer_plan is not None else [])
        if request.dry_run:
            for line in result.plan_lines:
                print(line, file=out)
            status = "complete" if plan.complete else "INCOMPLETE"
            print(f"plan {status}: {len(plan.assignments)} assignments, {len(plan.unmatched_sources)} unmatched "
                  f"sources, {len(plan.unfilled_targets)} unfilled targets, {len(plan.dropped)} dropped", file=out)
            if not plan.complete:
                plan.raise_if_incomplete(source.path)
            return result

        def progress(done: int, total: int) -> None:
            if err.isatty() and (done == total or done % 16 == 0):
                print(f"\rassigning weights {done}/{total}", end="\n" if done == total else "", file=err, flush=True)

        apply_plan(plan, source.path, progress)
        if optimizer_plan is not None:
            result.optimizer_step = optimizer_plan.apply(model, source.path)
            result.optimizer = {
                "legacy": optimizer_plan.legacy,
                "keras3": optimizer_plan.summary,
                "step": result.optimizer_step,
                "slots": [{"source": p.source.name, "shape": list(p.source.shape), "target": p.target_name,
                           "transform": p.transform} for p in optimizer_plan.pairs],
                "notes": optimizer_plan.notes,
            }
        if request.verify:
            from migrate.weights.verify import legacy_outputs

            probe = probe_inputs(model)
            expected = legacy_outputs(request, source, probe)
            import numpy as np

            ported = predict(model, probe)
            if ported.shape != expected.shape:
                raise PortError(source.path, f"--verify: ported output shape {ported.shape} != legacy {expected.shape}")
            result.verify_diff = float(np.max(np.abs(ported - expected), initial=0.0))
            if not result.verify_diff <= request.atol:
                raise PortError(
                    source.path,
                    f"--verify: max abs diff {result.verify_diff:.3g} between the legacy and the ported model "
                    f"exceeds {request.atol:g}; nothing written (raise it with --atol if this is expected)",
                )
        assert request.out is not None
        staged = stage_keras_file(model, request.out, force=request.force, custom_objects=custom_objects,
                                  source=request.source)
        result.reload_diff = staged.reload_diff
        if request.before_commit is not None:
            try:
                request.before_commit(staged.temp)
            except BaseException:
                staged.discard()
                raise
        result.seconds = time.perf_counter() - started
        # The report goes to a temporary name first; OUT and then the report
        # are moved into place, so that a report that cannot be written
        # leaves no OUT behind.
        try:
            report_temp = stage_report(request, source, plan, result) if request.report is not None else None
        except BaseException:
            staged.discard()
            raise
        try:
            staged.commit()
        except BaseException:
            if report_temp is not None:
                drop_temp_file(report_temp)
            raise
        if report_temp is not None:
            assert request.report is not None
            try:
                os.replace(report_temp, request.report)
            finally:
                drop_temp_file(report_temp)
        verified = f", verified max abs diff {result.verify_diff:.2e}" if result.verify_diff is not None else ""
        unregistered = unregistered_classes(custom_objects)
        if unregistered:
            print(f"note: {request.out} uses your classes {unregistered}, which are not registered; load it "
                  "with custom_objects=... or decorate them with @keras.saving.register_keras_serializable() "
                  "(`migrate rewrite` does: rule KM312)", file=out)
        modern_classes = sorted({type(layer).__name__ for layer in model._flatten_layers()
                                 if type(layer).__module__.startswith("modern.")})
        if modern_classes:
            print(f"note: {request.out} uses modern layers {modern_classes}: `import modern` before "
                  "keras.saving.load_model(...) so Keras finds them (any backend; TensorFlow not needed)", file=out)
        if optimizer_plan is not None:
            training = (f"; optimizer {optimizer_plan.legacy} -> {optimizer_plan.summary} with "
                        f"{len(optimizer_plan.pairs)} slots at step "
                        f"{result.optimizer_step} (training resumes)")
        else:
            training = (" (--no-optimizer)" if request.no_optimizer else "")
        root = f" (saved object {source.metadata['root']!r})" if source.metadata.get("root") else ""
        whys = set(plan.dropped_why.values())
        dropped_kinds = "optimizer/counter" + ("/metric" if "metric state" in whys else "") + (
            "/other objects'" if any(why.startswith("another saved object") for why in whys) else "") + " entries"
        print(
            f"ported {len(plan.assignments)} weights from {source.path} ({source.format}) to {request.out}"
            f"{verified}{root}; dropped {len(plan.dropped)} {dropped_kinds}{training}; {result.seconds:.1f} s",
            file=out,
        )
    return result


def plan_training_state(request: PortRequest, source: WeightSource, model: Any, plan: Any, out: TextIO,
                        err: TextIO) -> Any:
    """The optimizer port (:mod:`migrate.weights.optimizer_state`), or ``None`` when dropped or absent.

    What it consumes leaves ``plan.dropped``; with ``--no-optimizer`` it is
    still planned (so a mismatch is seen) but only warned about, and dropped.
    A TF checkpoint ported into an uncompiled ``--model`` keeps its state out
    with a ``note:`` saying how to port it (the checkpoint does not say which
    optimizer to build).
    """
    from migrate.weights.optimizer_state import OptimizerNotGiven, plan_optimizer

    if not plan.complete:
        return None  # the weight plan's own error comes first
    try:
        optimizer_plan = plan_optimizer(source, model, plan)
    except OptimizerNotGiven as exc:
        if not request.no_optimizer:
            print(f"note: optimizer state not ported: {exc}", file=out)
        return None
    except PortError as exc:
        if not request.no_optimizer:
            raise
        print(f"migrate port: warning: {exc} -- dropped (--no-optimizer)", file=err)
        return None
    if optimizer_plan is None or request.no_optimizer:
        return None
    consumed = {w.name for w in optimizer_plan.consumed}
    plan.dropped = [(name, shape) for name, shape in plan.dropped
                    if name not in consumed and name.removeprefix("optimizer_weights/").removesuffix(":0") not in consumed]
    return optimizer_plan


def check_report(request: PortRequest) -> None:
    """``--report`` names a new file in a writable directory, not OUT or SOURCE."""
    report = request.report
    assert report is not None
    if request.out is not None and os.path.abspath(report) == os.path.abspath(request.out):
        raise PortError(report, "--report: is the same path as --to; name another file")
    if report.exists() and same_file(report, request.source):
        raise PortError(report, "--report: is the source checkpoint itself; name another file")
    check_writable_dir(report, "--report")


def stage_report(request: PortRequest, source: WeightSource, plan: Any, result: PortResult) -> Path:
    """Write the JSON report to a temporary file beside ``--report``; return it."""
    report = {
        "source": source.path,
        "format": source.format,
        "out": str(request.out),
        "assignments": [
            {"source": a.source.name, "shape": list(a.source.shape), "target": a.target_name,
             "target_shape": [int(d) for d in a.target.shape], "transform": a.transform}
            for a in plan.assignments
        ],
        "dropped": [{"name": name, "shape": list(shape), **({"why": plan.dropped_why[name]} if name in plan.dropped_why
                                                             else {})} for name, shape in plan.dropped],
        "root": source.metadata.get("root"),
        "optimizer": result.optimizer,
        "verify_max_abs_diff": result.verify_diff,
        "reload_max_abs_diff": result.reload_diff,
        "atol": request.atol,
        "seconds": round(result.seconds, 3),
    }
    assert request.report is not None
    try:
        temp = new_temp_file(request.report.parent, f".{request.report.name}.", ".tmp")
    except OSError as exc:
        raise PortError(request.report, f"--report: cannot be written ({exc.strerror or one_line(exc)}); nothing written") from exc
    try:
        temp.write_text(json.dumps(report, indent=2) + "\n")
        os.chmod(temp, user_file_mode())
    except OSError as exc:
        drop_temp_file(temp)
        raise PortError(request.report, f"--report: cannot be written ({exc.strerror or one_line(exc)}); nothing written") from exc
    except BaseException:
        drop_temp_file(temp)
        raise
    return temp

