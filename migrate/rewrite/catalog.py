"""Every rule the codemod knows: stable id, tier, family and a one-line description.

This module is plain data so that ``migrate rules`` lists the catalogue without
importing libcst. Rule ids are grouped by family:

* ``KM1xx`` imports and namespaces (``keras.engine``, 2.2 submodules, ``tf.keras``)
* ``KM2xx`` the Keras 2 backend (``K.*``) to ``keras.ops``
* ``KM3xx`` layers and calls (positional ``training``/``mask``, ``add_weight``,
  Keras 2.2 recurrent defaults, raw TF ops in functional code, ``get_config`` and
  registration for saving)
* ``KM4xx`` training (optimizer ``lr``/``decay``, ``fit_generator``, metrics,
  learning-rate schedules, removed ``compile``/``fit`` arguments)
* ``KM5xx`` saving and checkpoints (always reported; weights go through ``migrate port``)
* ``KM6xx`` silent changes: defaults and meanings that differ in Keras 3 without an error
  (the table is ``legacy_defaults.py``)
* ``KC1xx`` pitfall checks of ``migrate check`` (report only): listed in
  ``migrate/check/catalog.py``, not in ``RULES`` or ``FAMILIES`` here, because no
  rewrite hook implements them (the registry tests require one per id here)

Tiers: ``safe`` rewrites keep behaviour exactly and are applied; ``unsafe``
entries may change numbers or need a human, and are only reported (and, with
``--todo-comments``, marked in the code). A safe rule may still report an
individual spot it cannot convert; such findings are unfixed and need a human.
"""

from __future__ import annotations

from dataclasses import dataclass

SAFE = "safe"
UNSAFE = "unsafe"


@dataclass(frozen=True)
class RuleInfo:
    id: str
    name: str
    tier: str
    description: str


FAMILIES: dict[str, str] = {
    "KM1": "imports and namespaces",
    "KM2": "Keras 2 backend (K.*) to keras.ops",
    "KM3": "layers and calls",
    "KM4": "training: optimizers, fit, metrics, schedules",
    "KM5": "saving and checkpoints",
    "KM6": "silent changes: legacy defaults and meanings",
}

RULES: tuple[RuleInfo, ...] = (
    RuleInfo("KM101", "legacy-module", SAFE,
             "keras.engine/topology, 2.2 submodules (layers.core, .recurrent, ...), utils.np_utils etc. to their Keras 3 homes; "
             "Keras 2 aliases Keras 3 dropped (losses.mse, optimizers.rmsprop) to the name it kept"),
    RuleInfo("KM102", "tf-keras-namespace", SAFE,
             "`from tensorflow import keras`, `tf.keras.*`, `tensorflow.python.keras` to the `keras` package"),
    RuleInfo("KM103", "unknown-legacy-symbol", UNSAFE,
             "a legacy keras name with no known Keras 3 home is reported"),
    RuleInfo("KM104", "keras-module-alias", SAFE,
             "`sys.modules['keras'] = tf.keras` (a dual-Keras switch such as bert4keras's TF_KERAS) deleted: "
             "Keras 3 is what tf.keras names, and the alias makes `import keras` recurse"),
    RuleInfo("KM201", "backend-op", SAFE,
             "K.<fn> (any alias, incl. tf.keras.backend) to the keras.ops function with the same semantics"),
    RuleInfo("KM202", "backend-default-axis", SAFE,
             "K.argmax/cumsum/concatenate/expand_dims/...: the legacy default axis is written out (ops defaults differ)"),
    RuleInfo("KM203", "backend-renamed-op", SAFE,
             "K.permute_dimensions/pow/repeat/repeat_elements/int_shape/sqrt/...: rewritten to the equivalent ops expression"),
    RuleInfo("KM204", "batch-dot", SAFE,
             "K.batch_dot to ops.matmul/ops.einsum when ranks are visible, else to modern.compat.batch_dot"),
    RuleInfo("KM205", "switch", SAFE,
             "K.switch to ops.cond (literal scalar, lambda branches) else modern.compat.switch; never ops.switch"),
    RuleInfo("KM206", "get-set-value", SAFE,
             "K.get_value(x) to ops.convert_to_numpy(x); K.set_value(x, v) to x.assign(v)"),
    RuleInfo("KM207", "backend-config", SAFE,
             "K.epsilon/floatx/image_data_format/clear_session kept (via keras.backend, which still has them)"),
    RuleInfo("KM208", "keras1-relics", SAFE,
             "`_keras_shape` to `.shape`, `shape[i].value` to `shape[i]`; image_dim_ordering reported"),
    RuleInfo("KM209", "backend-unsupported", UNSAFE,
             "K.<fn> without a keras.ops equivalent (placeholder, function, gradients, rnn, learning_phase, ...)"),
    RuleInfo("KM210", "backend-tensor-ctor", SAFE,
             "K.constant/K.variable to ops.convert_to_tensor/keras.Variable with the floatx default written out; "
             "K.zeros/ones/eye (variables in Keras 2) to keras.Variable(ops.zeros(...)) for static shapes"),
    RuleInfo("KM211", "backend-random", SAFE,
             "seedless K.random_normal/random_uniform/truncated_normal/dropout to keras.random.*; seeded calls "
             "reported (an int seed repeats the same draw in Keras 3)"),
    RuleInfo("KM212", "backend-name", SAFE,
             "K.backend() (the name of the backend in use) to keras.backend.backend(); the standalone "
             "spelling is already Keras 3"),
    RuleInfo("KM213", "in-train-phase", SAFE,
             "K.in_train_phase(x, alt, training=t) -> (x if t else alt), calling function branches; without "
             "`training` (the learning phase) reported"),
    RuleInfo("KM214", "variable-update", SAFE,
             "K.update/update_add/update_sub(v, x) -> v.assign/assign_add/assign_sub(x); self.add_update of one -> "
             "the assignment (Keras 3 has no add_update)"),
    RuleInfo("KM301", "positional-call-args", SAFE,
             "non-input positional arguments (training, mask, ...) to keywords, from the callee's `call` signature in the module"),
    RuleInfo("KM302", "add-weight-positional", SAFE,
             "add_weight(name, shape, ...) positional arguments to keywords in the Keras 2 order"),
    RuleInfo("KM303", "keras22-rnn-defaults", SAFE,
             "Keras 2.2 LSTM/GRU defaults pinned: recurrent_activation=hard_sigmoid (2.2 formula), GRU reset_after=False; "
             "tf.keras 2 ConvLSTM1D/2D/3D recurrent_activation=hard_sigmoid"),
    RuleInfo("KM304", "keras2-hard-sigmoid", SAFE,
             "'hard_sigmoid' activations in Keras 2 code to modern.compat.legacy_hard_sigmoid (0.2*x+0.5, not "
             "relu6(x+3)/6)"),
    RuleInfo("KM305", "functional-raw-tf", SAFE,
             "tf.* ops on symbolic tensors in functional model code to keras.ops where 1:1, reported otherwise"),
    RuleInfo("KM306", "keras1-layer-kwargs", SAFE,
             "Keras 1 layer keywords (output_dim, init, W_regularizer, border_mode, subsample, ...) renamed"),
    RuleInfo("KM307", "keras-version-unknown", UNSAFE,
             "standalone `keras` code with no Keras 2.2 marker: recurrent defaults not pinned; pass --from"),
    RuleInfo("KM308", "keras2-hard-sigmoid-ref", SAFE,
             "keras.activations.hard_sigmoid references (and imports) in Keras 2 code to "
             "modern.compat.legacy_hard_sigmoid"),
    RuleInfo("KM309", "get-config", SAFE,
             "get_config added to layers/models/schedules (from their attributes, else from the constructor "
             "arguments as passed; **kwargs added where missing); reported when neither is exact"),
    RuleInfo("KM310", "layer-weights-arg", UNSAFE,
             "weights=[...] on layers other than Embedding/Bidirectional reported (Keras 3 does not accept it)"),
    RuleInfo("KM311", "merge-layer", UNSAFE,
             "the Keras 1 Merge layer / merge() reported with its Keras 3 replacement for the mode"),
    RuleInfo("KM312", "register-serializable", SAFE,
             "module-level layers/models/schedules/losses/metrics/initializers/regularizers/constraints/"
             "optimizers decorated with @keras.saving.register_keras_serializable("
             "package=<file name>), so load_model finds them without custom_objects"),
    RuleInfo("KM313", "mask-argument", SAFE,
             "a layer whose call() takes a required `mask` argument (not a Keras mask) gets compute_mask "
             "returning None: no Keras 3 warning on mask=, outputs without a mask as in Keras 2"),
    RuleInfo("KM314", "multi-output-subclass", SAFE,
             "a subclass of a built-in layer (Embedding, ...) whose call() returns several outputs gets "
             "compute_output_spec tracing call(): Keras 3's parent spec makes one tensor"),
    RuleInfo("KM315", "merge-mask", SAFE,
             "Keras 2 Add/Subtract/Multiply/Average/Maximum/Minimum -> their modern.compat twins with Keras 2's "
             "output mask (AND of the masks given; Keras 3 drops it when one input has none)"),
    RuleInfo("KM316", "build-shape-list", SAFE,
             "isinstance(input_shape, list) in a layer's build/compute_output_shape -> a test for a list of "
             "shapes (Keras 3 rebuilds a loaded layer from a JSON list)"),
    RuleInfo("KM317", "activation-name", SAFE,
             "a module-level function named like a Keras 3 activation (gelu, swish, ...) is registered, so a "
             ".keras file does not load Keras 3's own function of that name in its place"),
    RuleInfo("KM318", "build-sublayers", SAFE,
             "a layer with its own compute_output_shape that makes sublayers in build() gets a compute_output_spec "
             "tracing call() (Keras 3 would leave them unbuilt: no weights to load or save)"),
    RuleInfo("KM320", "wrapper-legacy-tracking", SAFE,
             "a keras.layers.Wrapper subclass's Keras 2 bookkeeping: trainable_weights/updates/losses properties over "
             "private lists and get_updates_for/get_losses_for deleted; a template it copies in build() left unbuilt; "
             "a sublayer's Keras 2 config dict -> keras.layers.serialize"),
    RuleInfo("KM330", "saved-functions", SAFE,
             "a module-level function passed to Lambda(...) or compile(loss=, metrics=) is registered, so the "
             ".keras file reloads with safe_mode=True and no custom_objects; Lambda(lambda ...) is reported"),
    RuleInfo("KM319", "mask-with-kwargs", SAFE,
             "a layer whose call(inputs, mask=None, **kwargs) Keras 3 would call without the inputs' masks gets a "
             "__call__ that passes them, as Keras 2 did"),
    RuleInfo("KM321", "numpy-layer-size", SAFE,
             "a layer size (units, input_dim/output_dim, filters, kernel_size, n) that is visibly a NumPy integer "
             "(np.max(y) + 1, np.prod(shape), through names and module-level function parameters) -> int(...): "
             "Keras 3 refuses NumPy integers there"),
    RuleInfo("KM322", "symbolic-add-loss", UNSAFE,
             "model.add_loss(tensor) on a functional model (NotImplementedError in Keras 3) reported with the code "
             "to write: a layer whose call() does self.add_loss, on the rebuilt model's output"),
    RuleInfo("KM323", "image-data-generator", UNSAFE,
             "ImageDataGenerator(...) reported with the Keras 3 code for its arguments: a keras.Sequential of "
             "Random* layers applied to each batch of a keras.utils.PyDataset in place of datagen.flow"),
    RuleInfo("KM324", "tensor-augmented-assignment", SAFE,
             "x op= y on a name in a layer's call() -> x = x op y (the same value on TensorFlow/JAX, whose tensors "
             "are immutable; no in-place write on torch, which broke autograd)"),
    RuleInfo("KM325", "init-before-super", SAFE,
             "attributes a layer's __init__ sets on self before the base __init__ -> locals, set on self right "
             "after the call (a torch Module refuses a sublayer before its own __init__); those the base __init__ "
             "sets itself (supports_masking, trainable, a Wrapper's layer) are not set again"),
    RuleInfo("KM401", "optimizer-lr-kwarg", SAFE,
             "optimizer `lr=` to `learning_rate=`; `decay=` to an exact InverseTimeDecay schedule"),
    RuleInfo("KM402", "optimizer-lr-attr", SAFE,
             "optimizer.lr reads/writes (incl. K.get_value/K.set_value on it) to optimizer.learning_rate"),
    RuleInfo("KM403", "fit-generator", SAFE,
             "fit_generator/evaluate_generator/predict_generator to fit/evaluate/predict with keyword arguments"),
    RuleInfo("KM404", "metric-reset-states", SAFE,
             "metric.reset_states() to metric.reset_state()"),
    RuleInfo("KM405", "predict-classes", SAFE,
             "model.predict_classes/predict_proba to modern.compat.predict_classes / model.predict"),
    RuleInfo("KM406", "keras1-fit-kwargs", SAFE,
             "Keras 1 fit keywords (nb_epoch) renamed; samples_per_epoch/nb_val_samples reported"),
    RuleInfo("KM407", "removed-fit-compile-args", SAFE,
             "workers/use_multiprocessing/max_queue_size dropped from fit/evaluate/predict; removed compile args reported"),
    RuleInfo("KM408", "float-step-schedule", SAFE,
             "LearningRateSchedule.__call__ casts `step` to float32 (Keras 3 passes an integer step)"),
    RuleInfo("KM409", "keras2-optimizer-args", SAFE,
             "optimizer epsilon=None (Keras 2: K.epsilon()) to keras.config.epsilon(); Keras 2.2 Adagrad "
             "accumulator start pinned to 0; tf.keras 2 Lion learning_rate=1e-4 pinned; Nadam schedule_decay, "
             "the 2.2 Nadam momentum schedule and the 2.2 Adagrad/RMSprop epsilon placement reported"),
    RuleInfo("KM415", "keras2-optimizer-get-updates", SAFE,
             "a Keras 2 optimizer subclass with get_updates(loss, params) of the common shape (slots from K.zeros per "
             "param, K.update of params and slots, self.iterations increment) -> build + update_step; otherwise "
             "reported with what to write (and the ready modern.optimizers class for AdamWarmup/RAdam/Lookahead)"),
    RuleInfo("KM416", "optimizer-v2-subclass", SAFE,
             "a tf.keras 2 OptimizerV2 subclass (_set_hyper, _create_slots/add_slot, _resource_apply_dense with "
             "state_ops.assign) -> build + update_step with attributes, keras.ops and self.assign; otherwise "
             "reported with what to write"),
    RuleInfo("KM417", "library-optimizer", UNSAFE,
             "keras-bert AdamWarmup, keras-radam RAdam, keras-lookahead Lookahead reported with the ready "
             "modern.optimizers class; bert4keras extend_with_* reported with the Keras 3 argument or what to write"),
    RuleInfo("KM418", "tensorboard-removed-args", SAFE,
             "TensorBoard(batch_size=, write_grads=, embeddings_layer_names=, embeddings_data=) dropped (Keras 3 "
             "raises TypeError; logging only); more than two positional arguments reported"),
    RuleInfo("KM501", "save-weights-path", UNSAFE,
             "save_weights/load_weights paths must end in .weights.h5 in Keras 3"),
    RuleInfo("KM502", "model-save-format", UNSAFE,
             "model.save to a directory/.h5 (SavedModel/legacy) reported: use .keras or model.export"),
    RuleInfo("KM503", "model-checkpoint-path", UNSAFE,
             "ModelCheckpoint filepath must end in .keras (or .weights.h5 with save_weights_only)"),
    RuleInfo("KM504", "legacy-checkpoint-restore", UNSAFE,
             "load_weights of TF checkpoints / tf.train.Checkpoint restore of legacy checkpoints: use `migrate port`"),
    RuleInfo("KM601", "keras2-l1-l2-defaults", SAFE,
             "keras.regularizers.l1_l2() in Keras 2 code: l1=0.01, l2=0.01 written out (Keras 3 defaults to 0.0)"),
    RuleInfo("KM602", "keras22-clipnorm", SAFE,
             "optimizer clipnorm= in Keras 2.2 code -> global_clipnorm= (2.2 clipped the norm of all gradients "
             "together; Keras 3's clipnorm clips each variable)"),
    RuleInfo("KM603", "keras22-metric-by-loss", SAFE,
             "compile metrics 'acc'/'accuracy'/'ce'/'crossentropy' in Keras 2.2 code as 2.2 chose them from the loss "
             "(binary_crossentropy -> keras.metrics.BinaryAccuracy(name='acc'), ...) and named them ('acc', 'ce')"),
    RuleInfo("KM604", "keras22-sample-weight-scale", UNSAFE,
             "fit/evaluate(sample_weight=...) in Keras 2.2 code reported: 2.2 divided the weighted loss by the "
             "count of non-zero weights, Keras 3 by the batch size"),
    RuleInfo("KM605", "custom-activation-name", UNSAFE,
             "get_custom_objects()[name] = f for a name Keras 3 has as an activation (gelu, swish, ...) reported: "
             "Keras 3 resolves the name to its own function"),
    RuleInfo("KM606", "keras22-frozen-batchnorm", UNSAFE,
             "Keras 2.2 code that freezes BatchNormalization (trainable=False) reported: frozen BN used batch "
             "statistics in 2.2 and moving statistics in Keras 3"),
)

RULES_BY_ID: dict[str, RuleInfo] = {r.id: r for r in RULES}


def expand_selection(items: list[str] | None, rules: tuple[RuleInfo, ...] | None = None,
                     listing: str = "migrate rules") -> set[str]:
    """Expand rule ids and prefixes (``KM2``, ``KM20``) to the matching ids.

    ``rules``: the catalogue to match in (default ``RULES``; ``migrate check`` passes
    its own), ``listing``: the command that lists it, for the error message.
    Raises ``ValueError`` naming the unknown entry so the CLI can say what to fix.
    """
    rules = RULES if rules is None else rules
    if not items:
        return set()
    out: set[str] = set()
    for raw in items:
        for item in raw.split(","):
            item = item.strip().upper()
            if not item:
                continue
            matched = {r.id for r in rules if r.id.startswith(item)}
            if not matched:
                raise ValueError(f"unknown rule id or prefix {item!r}; see `{listing}`")
            out |= matched
    return out
