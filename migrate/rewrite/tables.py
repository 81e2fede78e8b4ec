"""Mechanical rewrites as data. Every row names its rule id and says why.

Nothing here imports libcst or keras: the CLI lists rules from these tables at
start-up, and ``tests/migrate/test_tables.py`` checks every target against the
installed Keras 3 and every legacy signature against ``tf_keras.backend``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# --------------------------------------------------------------------------
# KM1xx: namespaces
# --------------------------------------------------------------------------

#: Prefixes that mean "the legacy Keras API reached through TensorFlow". They
#: are folded onto ``keras.`` before any lookup (KM102).
TF_KERAS_PREFIXES: tuple[str, ...] = (
    "tensorflow.compat.v1.keras",
    "tensorflow.compat.v2.keras",
    "tensorflow.python.keras",
    "tensorflow.keras",
)


@dataclass(frozen=True)
class ModuleRow:
    """A legacy module whose public names moved, with per-name exceptions."""

    legacy: str
    target: str  # the Keras 3 module the names now live in
    reason: str
    symbols: dict[str, str] = field(default_factory=dict)  # name -> full Keras 3 name
    rule: str = "KM101"


_ENGINE_SYMBOLS = {
    "Layer": "keras.layers.Layer",
    "InputSpec": "keras.layers.InputSpec",
    "Input": "keras.layers.Input",
    "InputLayer": "keras.layers.InputLayer",
    "Model": "keras.Model",
    "Sequential": "keras.Sequential",
    "Network": "keras.Model",
    "Container": "keras.Model",
    "Node": "",  # internal graph bookkeeping: no public Keras 3 equivalent
}

_LAYER_SUBMODULES = (
    "core", "recurrent", "merge", "wrappers", "convolutional", "pooling",
    "normalization", "embeddings", "advanced_activations", "noise", "local",
    "convolutional_recurrent", "cudnn_recurrent", "dense_attention",
    "multi_head_attention", "preprocessing", "experimental.preprocessing",
    "experimental", "rnn", "einsum_dense",
)

MODULE_ROWS: tuple[ModuleRow, ...] = (
    # Keras 2.2 kept the layer base classes in keras.engine; Keras 3 exports them publicly.
    ModuleRow("keras.engine.topology", "keras.layers", "keras.engine is private in Keras 3", _ENGINE_SYMBOLS),
    ModuleRow("keras.engine.base_layer", "keras.layers", "keras.engine is private in Keras 3", _ENGINE_SYMBOLS),
    ModuleRow("keras.engine.input_layer", "keras.layers", "keras.engine is private in Keras 3", _ENGINE_SYMBOLS),
    ModuleRow("keras.engine.training", "keras", "keras.engine is private in Keras 3", _ENGINE_SYMBOLS),
    ModuleRow("keras.engine.network", "keras", "keras.engine is private in Keras 3", _ENGINE_SYMBOLS),
    ModuleRow("keras.engine.sequential", "keras", "keras.engine is private in Keras 3", _ENGINE_SYMBOLS),
    ModuleRow("keras.engine.functional", "keras", "keras.engine is private in Keras 3", _ENGINE_SYMBOLS),
    ModuleRow("keras.engine", "keras.layers", "keras.engine is private in Keras 3", _ENGINE_SYMBOLS),
    # Keras 3 flattens every layer into keras.layers.
    *(ModuleRow(f"keras.layers.{sub}", "keras.layers", f"keras.layers.{sub} is gone; layers live in keras.layers")
      for sub in _LAYER_SUBMODULES),
    ModuleRow("keras.utils.np_utils", "keras.utils", "np_utils folded into keras.utils"),
    ModuleRow("keras.utils.generic_utils", "keras.utils", "generic_utils folded into keras.utils / keras.saving",
              {"get_custom_objects": "keras.saving.get_custom_objects",
               "custom_object_scope": "keras.saving.custom_object_scope",
               "CustomObjectScope": "keras.saving.CustomObjectScope",
               "serialize_keras_object": "keras.saving.serialize_keras_object",
               "deserialize_keras_object": "keras.saving.deserialize_keras_object",
               "register_keras_serializable": "keras.saving.register_keras_serializable"}),
    ModuleRow("keras.utils.data_utils", "keras.utils", "data_utils folded into keras.utils",
              {"Sequence": "keras.utils.PyDataset"}),
    ModuleRow("keras.utils.vis_utils", "keras.utils", "vis_utils folded into keras.utils"),
    ModuleRow("keras.utils.io_utils", "keras.utils", "io_utils folded into keras.utils"),
    ModuleRow("keras.utils.layer_utils", "keras.utils", "layer_utils folded into keras.utils"),
    ModuleRow("keras.utils.conv_utils", "keras.utils", "conv_utils folded into keras.utils"),
    ModuleRow("keras.preprocessing.sequence", "keras.utils", "sequence helpers moved to keras.utils"),
    ModuleRow("keras.preprocessing.image", "keras.utils", "image helpers moved to keras.utils"),
    # Keras 3 has no text preprocessing; modern.compat keeps Keras 2's Tokenizer and helpers,
    # equal to tf_keras's (tests/modern/test_compat_text.py); reuters_mlp of Keras 2.2.4's examples.
    ModuleRow("keras.preprocessing.text", "modern.compat", "Keras 3 has no keras.preprocessing.text; "
              "modern.compat keeps Keras 2's Tokenizer, text_to_word_sequence, one_hot, hashing_trick"),
    # tf.keras's private backend_config (epsilon, floatx, image_data_format and their setters,
    # imported by keras-bert's optimizers) is Keras 3's keras.config, same functions and values.
    ModuleRow("keras.backend_config", "keras.config", "backend_config's functions live in keras.config"),
    ModuleRow("keras.optimizers.legacy", "keras.optimizers",
              "legacy OptimizerV2 classes are gone; the Keras 3 optimizer differs in details", {}, "KM103"),
)

MODULE_ROWS_BY_LEGACY: dict[str, ModuleRow] = {r.legacy: r for r in MODULE_ROWS}

#: Keras 3 modules whose public names are known (see keras3_api); a name in one of
#: these that Keras 3 lacks is reported (KM103) instead of rewritten blindly.
CHECKED_MODULES: tuple[str, ...] = (
    "keras.layers", "keras.utils", "keras.optimizers", "keras.callbacks", "keras.models",
    "keras.losses", "keras.metrics", "keras.activations", "keras.initializers",
    "keras.regularizers", "keras.constraints", "keras.optimizers.schedules", "keras.saving",
)

#: KM103: what to use instead of a legacy name Keras 3 dropped, by the Keras 3 name the legacy one
#: would have moved to (the report names it; nothing is rewritten).
KERAS3_REMOVED: dict[str, str] = {
    # Keras 2.0's abstract base of recurrent layers (step() API); Keras 3 recurrent layers take a cell
    "keras.layers.Recurrent": "subclass keras.layers.RNN with a cell (the step() API is gone)",
    # the generator of augmented image batches is gone; datasets and preprocessing layers replace it
    "keras.utils.ImageDataGenerator": "load with keras.utils.image_dataset_from_directory and augment "
                                      "with preprocessing layers (keras.layers.RandomFlip, ...)",
}

#: KM101: the short aliases of loss and metric functions that Keras 2 exported and Keras 3
#: dropped (``from keras.losses import mse`` fails at import), to the same function's long
#: name; same formula (variational_autoencoder of Keras 2.2.4's examples imports ``mse``).
RENAMED_NAMES: dict[str, str] = {
    f"keras.{module}.{short}": f"keras.{module}.{long}"
    for module in ("losses", "metrics")
    for short, long in (("mse", "mean_squared_error"), ("MSE", "mean_squared_error"),
                        ("mae", "mean_absolute_error"), ("MAE", "mean_absolute_error"),
                        ("mape", "mean_absolute_percentage_error"), ("MAPE", "mean_absolute_percentage_error"),
                        ("msle", "mean_squared_logarithmic_error"), ("MSLE", "mean_squared_logarithmic_error"),
                        ("kld", "kl_divergence"), ("KLD", "kl_divergence"),
                        ("kullback_leibler_divergence", "kl_divergence"))
}

#: Second spellings of a Keras class, folded onto the class by the name resolution
#: (``names.canonical``), so that every rule matching the class also matches them, and
#: renamed to it by KM101. Keras 2.2.4's keras/optimizers.py ends with "# Aliases."
#: ``sgd = SGD`` ... ``nadam = Nadam`` (the same class objects); Keras 3 has none of them
#: (cifar10_cnn of Keras 2.2.4's examples calls ``keras.optimizers.rmsprop(lr=..., decay=...)``).
#: tf.keras 2.x (tf_keras) never exported them either; where code spells one through
#: ``tf.keras`` it is folded and renamed all the same, as the name meant that class wherever it existed.
#: The string identifiers (``optimizer="rmsprop"``) are another matter: Keras 3's
#: ``keras.optimizers.get`` still accepts them, and they are left alone.
LEGACY_ALIASES: dict[str, str] = {
    f"keras.optimizers.{cls.lower()}": f"keras.optimizers.{cls}"
    for cls in ("SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "Adamax", "Nadam")
}

# --------------------------------------------------------------------------
# KM2xx: the Keras 2 backend
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class BackendRow:
    """``K.<legacy>`` rewritten by a template.

    ``params``: the legacy signature, ``name`` or ``name=default`` (checked
    against tf_keras.backend by the tests). ``template``: Python source with
    ``{param}`` placeholders (the argument, or its legacy default), and
    ``{param?}`` for ``, param=<arg>`` only when the caller passed it.
    ``needs``: extra modules the template references (``keras``, ``compat``);
    ``ops`` is always assumed. ``ref``: what a bare reference (``K.sum`` without a
    call) becomes; empty when only a call can be rewritten.
    """

    legacy: str
    params: tuple[str, ...]
    template: str
    rule: str
    reason: str
    ref: str = ""
    needs: tuple[str, ...] = ()
    drop: tuple[str, ...] = ()  # legacy parameters that do nothing in Keras 3 (TF op names)


def _same(name: str, params: tuple[str, ...], target: str | None = None, reason: str = "") -> BackendRow:
    """A 1:1 row: same argument order and the same defaults."""
    target = target or name
    parts = []
    for p in params:
        pname = p.split("=")[0]
        parts.append("{" + pname + "}" if "=" not in p else "{" + pname + "?}")
    tmpl = f"ops.{target}(" + ", ".join(x for x in parts if not x.endswith("?}")) + "".join(
        x for x in parts if x.endswith("?}")) + ")"
    return BackendRow(name, params, tmpl, "KM201", reason or "same semantics and defaults",
                      ref=f"ops.{target}")


BACKEND_ROWS: tuple[BackendRow, ...] = (
    # KM201: one-to-one, defaults identical (checked with inspect.signature on both sides).
    *(_same(n, ("x",)) for n in (
        "abs", "cos", "sin", "exp", "log", "sign", "square", "tanh", "sigmoid", "softplus",
        "softsign", "transpose", "shape", "floor", "ceil")),
    *(_same(n, ("x", "y")) for n in (
        "equal", "not_equal", "greater", "greater_equal", "less", "less_equal", "maximum",
        "minimum", "dot")),
    *(_same(n, ("x", "axis=None", "keepdims=False")) for n in (
        "all", "any", "max", "min", "mean", "sum", "prod", "std", "var", "logsumexp")),
    _same("cast", ("x", "dtype")),
    _same("reshape", ("x", "shape")),
    _same("tile", ("x", "n")),
    _same("stack", ("x", "axis=0")),
    _same("softmax", ("x", "axis=-1")),
    _same("elu", ("x", "alpha=1.0")),
    _same("round", ("x",), reason="both round half to even"),
    _same("one_hot", ("indices", "num_classes"), reason="float one-hot on the last axis"),
    _same("stop_gradient", ("variables",)),
    BackendRow("ones_like", ("x", "dtype=None", "name=None"), "ops.ones_like({x}{dtype?})", "KM201",
               "same; `name` only named a TF op", ref="ops.ones_like", drop=("name",)),
    BackendRow("zeros_like", ("x", "dtype=None", "name=None"), "ops.zeros_like({x}{dtype?})", "KM201",
               "same; `name` only named a TF op", ref="ops.zeros_like", drop=("name",)),
    BackendRow("squeeze", ("x", "axis"), "ops.squeeze({x}, axis={axis})", "KM201", "axis is required in both"),
    BackendRow("clip", ("x", "min_value", "max_value"), "ops.clip({x}, {min_value}, {max_value})", "KM201",
               "same clipping (parameters renamed x_min/x_max)"),
    BackendRow("arange", ("start", "stop=None", "step=1", "dtype='int32'"),
               "ops.arange({start}{stop?}{step?}{dtype?})", "KM201",
               "int arguments give int32 and float ones float32 in both"),
    BackendRow("categorical_crossentropy", ("target", "output", "from_logits=False", "axis=-1"),
               "ops.categorical_crossentropy({target}, {output}{from_logits?}{axis?})", "KM201",
               "same normalisation and epsilon clipping"),
    BackendRow("sparse_categorical_crossentropy", ("target", "output", "from_logits=False", "axis=-1"),
               "ops.sparse_categorical_crossentropy({target}, {output}{from_logits?}{axis?})", "KM201",
               "same computation"),
    BackendRow("binary_crossentropy", ("target", "output", "from_logits=False"),
               "ops.binary_crossentropy({target}, {output}{from_logits?})", "KM201", "same computation"),
    BackendRow("in_top_k", ("predictions", "targets", "k"), "ops.in_top_k({targets}, {predictions}, {k})", "KM201",
               "false friend: ops.in_top_k takes targets first"),
    # KM202: the legacy default axis differs from keras.ops, so it is always written out.
    BackendRow("argmax", ("x", "axis=-1"), "ops.argmax({x}, axis={axis})", "KM202",
               "ops.argmax flattens by default; K.argmax used axis=-1 (result is int32, K gave int64)"),
    BackendRow("argmin", ("x", "axis=-1"), "ops.argmin({x}, axis={axis})", "KM202",
               "ops.argmin flattens by default; K.argmin used axis=-1"),
    BackendRow("cumsum", ("x", "axis=0"), "ops.cumsum({x}, axis={axis})", "KM202",
               "ops.cumsum flattens by default; K.cumsum used axis=0"),
    BackendRow("cumprod", ("x", "axis=0"), "ops.cumprod({x}, axis={axis})", "KM202",
               "ops.cumprod flattens by default; K.cumprod used axis=0"),
    BackendRow("concatenate", ("tensors", "axis=-1"), "ops.concatenate({tensors}, axis={axis})", "KM202",
               "ops.concatenate defaults to axis=0; K.concatenate used axis=-1"),
    BackendRow("expand_dims", ("x", "axis=-1"), "ops.expand_dims({x}, axis={axis})", "KM202",
               "ops.expand_dims has no default axis; K.expand_dims used -1"),
    # KM203: renamed or re-expressed.
    BackendRow("permute_dimensions", ("x", "pattern"), "ops.transpose({x}, axes={pattern})", "KM203",
               "renamed"),
    BackendRow("pow", ("x", "a"), "ops.power({x}, {a})", "KM203", "renamed"),
    BackendRow("sqrt", ("x",), "ops.sqrt(ops.maximum({x}, 0.0))", "KM203",
               "K.sqrt clipped negative inputs to 0 before the root; ops.sqrt does not"),
    BackendRow("repeat_elements", ("x", "rep", "axis"), "ops.repeat({x}, {rep}, axis={axis})", "KM203",
               "K.repeat_elements is ops.repeat along an axis"),
    BackendRow("repeat", ("x", "n"), "ops.repeat(ops.expand_dims({x}, axis=1), {n}, axis=1)", "KM203",
               "false friend: K.repeat is RepeatVector semantics (b, d) -> (b, n, d), not ops.repeat"),
    BackendRow("int_shape", ("x",), "tuple({x}.shape)", "KM203", "static shape as a tuple of ints/None"),
    BackendRow("ndim", ("x",), "len({x}.shape)", "KM203", "static rank as a Python int"),
    BackendRow("dtype", ("x",), "keras.backend.standardize_dtype({x}.dtype)", "KM203",
               "dtype name string", needs=("keras",)),
    BackendRow("flatten", ("x",), "ops.reshape({x}, (-1,))", "KM203", "flatten to rank 1"),
    BackendRow("batch_flatten", ("x",), "ops.reshape({x}, (ops.shape({x})[0], -1))", "KM203",
               "keep the batch axis, flatten the rest"),
    BackendRow("gather", ("reference", "indices"), "ops.take({reference}, {indices}, axis=0)", "KM203",
               "tf.gather on axis 0"),
    BackendRow("reverse", ("x", "axes"), "ops.flip({x}, axis={axes})", "KM203", "renamed"),
    BackendRow("l2_normalize", ("x", "axis=None"), "compat.l2_normalize({x}, axis={axis})", "KM203",
               "tf.math.l2_normalize semantics (epsilon 1e-12 on the squared norm)", needs=("compat",)),
    BackendRow("hard_sigmoid", ("x",), "compat.legacy_hard_sigmoid({x})", "KM203",
               "K.hard_sigmoid is 0.2*x+0.5; ops.hard_sigmoid is x/6+0.5", ref="compat.legacy_hard_sigmoid",
               needs=("compat",)),
    BackendRow("relu", ("x", "alpha=0.0", "max_value=None", "threshold=0.0"),
               "keras.activations.relu({x}, negative_slope={alpha}, max_value={max_value}, threshold={threshold})",
               "KM203", "K.relu with options is keras.activations.relu", needs=("keras",)),
    BackendRow("bias_add", ("x", "bias", "data_format=None"), "ops.add({x}, {bias})", "KM203",
               "channels-last bias_add is a broadcast add"),
    BackendRow("name_scope", ("name",), "keras.name_scope({name})", "KM203",
               "the same context manager: it prefixes the names of the variables created inside "
               "(keras-multi-head's MultiHead builds its copies under it)", ref="keras.name_scope", needs=("keras",)),
    # Reading and setting values (TensorFlow 2 is eager: K.eval is K.get_value).
    BackendRow("eval", ("x",), "ops.convert_to_numpy({x})", "KM203",
               "K.eval of a variable or an eager tensor is its NumPy value (as K.get_value, KM206)"),
    BackendRow("batch_get_value", ("tensors",), "[ops.convert_to_numpy(value) for value in {tensors}]", "KM203",
               "the NumPy value of each, in a list"),
    BackendRow("batch_set_value", ("tuples",), "[variable.assign(value) for variable, value in {tuples}]",
               "KM203", "each (variable, value) pair assigned, in order (the call was a statement; so is the "
                        "comprehension)"),
    BackendRow("temporal_padding", ("x", "padding=(1, 1)"), "ops.pad({x}, [[0, 0], list({padding}), [0, 0]])",
               "KM203", "zeros before and after the time axis of a (batch, time, features) tensor"),
    BackendRow("pool2d", ("x", "pool_size", "strides=(1, 1)", "padding='valid'", "data_format=None", "pool_mode='max'"),
               "(ops.max_pool if {pool_mode} == 'max' else ops.average_pool)({x}, {pool_size}, strides={strides}, "
               "padding={padding}, data_format={data_format})", "KM203",
               "K.pool2d's pool_mode picks ops.max_pool or ops.average_pool ('avg'); strides written out, since "
               "ops' default is the pool size, not 1"),
    # KM204 / KM205 / KM206 are structural (batch_dot.py, switch.py, get_set_value.py).
    # KM207: still in keras.backend in Keras 3.
    *(BackendRow(n, (), f"keras.backend.{n}()", "KM207", "kept: Keras 3 keras.backend still has it",
                 ref=f"keras.backend.{n}", needs=("keras",))
      for n in ("epsilon", "floatx", "image_data_format", "clear_session")),
    *(BackendRow(n, (p,), f"keras.backend.{n}({{{p}}})", "KM207", "kept: Keras 3 keras.backend still has it",
                 ref=f"keras.backend.{n}", needs=("keras",))
      for n, p in (("set_floatx", "value"), ("set_epsilon", "value"), ("set_image_data_format", "data_format"))),
    BackendRow("is_keras_tensor", ("x",), "keras.backend.is_keras_tensor({x})", "KM207",
               "kept: Keras 3 keras.backend still has it", ref="keras.backend.is_keras_tensor", needs=("keras",)),
)

BACKEND_BY_NAME: dict[str, BackendRow] = {r.legacy: r for r in BACKEND_ROWS}

#: Names that stay valid on Keras 3's ``keras.backend`` (so a ``K`` alias of the
#: standalone package may keep them unchanged).
BACKEND_KEPT: frozenset[str] = frozenset(
    {"epsilon", "floatx", "image_data_format", "clear_session", "set_floatx", "set_epsilon",
     "set_image_data_format", "is_keras_tensor"})

#: KM209: no keras.ops equivalent; reported with what to do instead.
BACKEND_UNSUPPORTED: dict[str, str] = {
    "placeholder": "use keras.Input",
    "function": "call the model/layer directly",
    "gradients": "use the backend's autodiff (tf.GradientTape / jax.grad)",
    "rnn": "use a keras.layers.RNN with a cell",
    "learning_phase": "pass training= explicitly",
    "set_learning_phase": "pass training= explicitly",
    "in_test_phase": "branch on the `training` argument of call()",
    "update": "use variable.assign",
    "update_add": "use variable.assign_add",
    "update_sub": "use variable.assign_sub",
    "moving_average_update": "use variable.assign with the moving-average formula",
    "get_session": "sessions are gone in Keras 3",
    "set_session": "sessions are gone in Keras 3",
    "random_normal_variable": "use keras.Variable with a keras.initializers.RandomNormal",
    "map_fn": "use ops.vectorized_map or a Python loop",
    "foldl": "no ops equivalent",
    "foldr": "no ops equivalent",
    "count_params": "use math.prod(x.shape)",
    "image_dim_ordering": "use keras.backend.image_data_format() ('channels_first'/'channels_last')",
    "set_image_dim_ordering": "use keras.backend.set_image_data_format",
    "print_tensor": "use ops/print or jax.debug.print",
    "conv1d": "use a keras.layers.Conv1D or ops.conv (argument layout differs)",
    "conv2d": "use a keras.layers.Conv2D or ops.conv (argument layout differs)",
    "resize_images": "use ops.image.resize",
    "spatial_2d_padding": "use ops.pad",
    "batch_normalization": "use ops.batch_normalization (argument order differs)",
    "normalize_batch_in_training": "use ops.moments + ops.batch_normalization",
    "ctc_batch_cost": "use keras.losses.CTC",
    "ctc_decode": "use ops.ctc_decode",
    "tf": "use tensorflow directly",
}

#: KM211: Keras 2 random ops with a ``keras.random`` twin: same distribution, same
#: defaults (dtype ``None`` means floatx on both sides). Only seedless calls are
#: rewritten: an integer seed made a Keras 2 op draw anew on every call, while
#: ``keras.random`` repeats the same draw for an integer seed.
#: name -> (legacy params, template without the seed)
RANDOM_OPS: dict[str, tuple[tuple[str, ...], str]] = {
    "random_normal": (("shape", "mean=0.0", "stddev=1.0", "dtype=None", "seed=None"),
                      "keras.random.normal({shape}{mean?}{stddev?}{dtype?})"),
    "random_uniform": (("shape", "minval=0.0", "maxval=1.0", "dtype=None", "seed=None"),
                       "keras.random.uniform({shape}{minval?}{maxval?}{dtype?})"),
    "truncated_normal": (("shape", "mean=0.0", "stddev=1.0", "dtype=None", "seed=None"),
                         "keras.random.truncated_normal({shape}{mean?}{stddev?}{dtype?})"),
    # both scale the kept units by 1 / (1 - rate)
    "dropout": (("x", "level", "noise_shape=None", "seed=None"),
                "keras.random.dropout({x}, {level}{noise_shape?})"),
}

# --------------------------------------------------------------------------
# KM3xx: layers
# --------------------------------------------------------------------------

#: KM310: Keras 3 layers whose constructor still takes ``weights=`` (checked against
#: the installed Keras). Keras 2 accepted it on every layer.
LAYERS_WITH_WEIGHTS_ARG: frozenset[str] = frozenset({"Embedding", "Bidirectional"})

#: KM311: the Keras 1 ``Merge`` layer under every legacy path; Keras 3 has no such class.
MERGE_RULE = "KM311"
MERGE_LAYER_NAMES: tuple[str, ...] = (
    "keras.layers.Merge", "keras.layers.merge.Merge", "keras.legacy.layers.Merge", "keras.engine.topology.Merge")
MERGE_REASON = "the Keras 1 Merge layer is gone: use the layer for its mode (Add, Concatenate, Multiply, ...)"

#: KM311: what a Keras 1 ``Merge(mode=...)`` / ``merge(..., mode=...)`` becomes by hand.
MERGE_MODES: dict[str, str] = {
    "sum": "keras.layers.Add()",
    "mul": "keras.layers.Multiply()",
    "ave": "keras.layers.Average()",
    "max": "keras.layers.Maximum()",
    "concat": "keras.layers.Concatenate(axis=concat_axis)  (concat_axis defaulted to -1)",
    "dot": "keras.layers.Dot(axes=dot_axes)",
    "cos": "keras.layers.Dot(axes=dot_axes, normalize=True)",
}

#: Keras 2 ``Layer.add_weight`` positional order (KM302). Keras 3 makes
#: everything after ``shape`` keyword-only and puts ``shape`` first.
ADD_WEIGHT_KERAS2_ORDER: tuple[str, ...] = (
    "name", "shape", "dtype", "initializer", "regularizer", "trainable", "constraint",
)

#: Keras 1 layer keywords (KM306) with their Keras 2/3 names.
KERAS1_LAYER_KWARGS: dict[str, str] = {
    "output_dim": "units",
    "init": "kernel_initializer",
    "inner_init": "recurrent_initializer",
    "W_regularizer": "kernel_regularizer",
    "b_regularizer": "bias_regularizer",
    "U_regularizer": "recurrent_regularizer",
    "W_constraint": "kernel_constraint",
    "b_constraint": "bias_constraint",
    "U_constraint": "recurrent_constraint",
    "bias": "use_bias",
    "border_mode": "padding",
    "subsample": "strides",
    "subsample_length": "strides",
    "nb_filter": "filters",
    "filter_length": "kernel_size",
    "inner_activation": "recurrent_activation",
    "dropout_W": "dropout",
    "dropout_U": "recurrent_dropout",
}

#: Keras 1 keyword names that a layer still takes, with the same meaning, in Keras 2
#: and 3: KM306 leaves them alone there. ``Embedding(input_dim, output_dim)`` never
#: renamed ``output_dim`` (``units=`` raised "missing 1 required positional argument:
#: 'output_dim'" in every program that passed it by keyword, keras-bert among them).
KERAS1_KWARGS_KEPT: dict[str, frozenset[str]] = {
    "Embedding": frozenset({"output_dim"}),
}

#: Layers whose Keras 2.2 defaults differ from Keras 3 (KM303): pinned explicitly.
KERAS22_RNN_DEFAULTS: dict[str, tuple[tuple[str, str], ...]] = {
    "LSTM": (("recurrent_activation", "compat.legacy_hard_sigmoid"),),
    "GRU": (("recurrent_activation", "compat.legacy_hard_sigmoid"), ("reset_after", "False")),
    "LSTMCell": (("recurrent_activation", "compat.legacy_hard_sigmoid"),),
    "GRUCell": (("recurrent_activation", "compat.legacy_hard_sigmoid"), ("reset_after", "False")),
    "ConvLSTM2D": (("recurrent_activation", "compat.legacy_hard_sigmoid"),),
}

#: KM305: tf.* ops with a 1:1 keras.ops form, for symbolic tensors in functional code.
#: name -> (legacy params, template) in the same template language as BackendRow.
FUNCTIONAL_TF_OPS: dict[str, tuple[tuple[str, ...], str]] = {
    "tensorflow.shape": (("input", "out_type=None", "name=None"), "ops.shape({input})"),
    "tensorflow.reduce_sum": (("input_tensor", "axis=None", "keepdims=False", "name=None"),
                              "ops.sum({input_tensor}{axis?}{keepdims?})"),
    "tensorflow.reduce_mean": (("input_tensor", "axis=None", "keepdims=False", "name=None"),
                               "ops.mean({input_tensor}{axis?}{keepdims?})"),
    "tensorflow.reduce_max": (("input_tensor", "axis=None", "keepdims=False", "name=None"),
                              "ops.max({input_tensor}{axis?}{keepdims?})"),
    "tensorflow.concat": (("values", "axis", "name=None"), "ops.concatenate({values}, axis={axis})"),
    "tensorflow.expand_dims": (("input", "axis", "name=None"), "ops.expand_dims({input}, axis={axis})"),
    "tensorflow.squeeze": (("input", "axis=None", "name=None"), "ops.squeeze({input}{axis?})"),
    "tensorflow.reshape": (("tensor", "shape", "name=None"), "ops.reshape({tensor}, {shape})"),
    "tensorflow.transpose": (("a", "perm=None", "conjugate=False", "name=None"), "ops.transpose({a}{perm?})"),
    "tensorflow.matmul": (("a", "b"), "ops.matmul({a}, {b})"),
    "tensorflow.nn.softmax": (("logits", "axis=None", "name=None"), "ops.softmax({logits}{axis?})"),
    "tensorflow.nn.relu": (("features", "name=None"), "ops.relu({features})"),
    "tensorflow.math.sqrt": (("x", "name=None"), "ops.sqrt({x})"),
    "tensorflow.sqrt": (("x", "name=None"), "ops.sqrt({x})"),
    "tensorflow.cast": (("x", "dtype", "name=None"), "ops.cast({x}, {dtype})"),
    "tensorflow.stack": (("values", "axis=0", "name=None"), "ops.stack({values}, axis={axis})"),
}

# --------------------------------------------------------------------------
# KM4xx: training
# --------------------------------------------------------------------------

#: KM409: the Keras 2.2 Adagrad kept its squared-gradient accumulator from 0
#: (``K.zeros``); Keras 3 starts it at ``initial_accumulator_value=0.1``.
KERAS22_ADAGRAD_ACCUMULATOR = "0.0"

#: Optimizer classes whose ``lr``/``decay`` keywords are rewritten (KM401).
OPTIMIZERS: frozenset[str] = frozenset(
    {"SGD", "RMSprop", "Adagrad", "Adadelta", "Adam", "Adamax", "Nadam", "AdamW", "Ftrl", "Optimizer"})

#: Generator-era methods (KM403): legacy name -> (Keras 3 name, legacy positional order).
GENERATOR_METHODS: dict[str, tuple[str, tuple[str, ...]]] = {
    "fit_generator": ("fit", ("generator", "steps_per_epoch", "epochs", "verbose", "callbacks",
                              "validation_data", "validation_steps", "validation_freq", "class_weight",
                              "max_queue_size", "workers", "use_multiprocessing", "shuffle",
                              "initial_epoch")),
    "evaluate_generator": ("evaluate", ("generator", "steps", "callbacks", "max_queue_size", "workers",
                                        "use_multiprocessing", "verbose")),
    "predict_generator": ("predict", ("generator", "steps", "callbacks", "max_queue_size", "workers",
                                      "use_multiprocessing", "verbose")),
}

#: ``fit``/``predict``/... positional order in Keras 2, used to name positional
#: arguments before dropping removed ones.
FIT_KERAS2_ORDER: tuple[str, ...] = (
    "x", "y", "batch_size", "epochs", "verbose", "callbacks", "validation_split",
    "validation_data", "shuffle", "class_weight", "sample_weight", "initial_epoch",
    "steps_per_epoch", "validation_steps",
)

#: Arguments Keras 3 no longer accepts (KM407): method -> {arg: why}.
#: KM418: Keras 2's ``TensorBoard`` arguments that Keras 3 removed -> what they did (the finding).
#: Logging only: dropping them changes no number of the model.
TENSORBOARD_REMOVED_ARGS: dict[str, str] = {
    "batch_size": "it only sized the batches of the histogram data; Keras 3 logs what fit computes",
    "write_grads": "gradient histograms are gone from Keras 3's TensorBoard",
    "embeddings_layer_names": "Keras 3 projects every Embedding layer's weights (embeddings_freq, "
                              "embeddings_metadata stay)",
    "embeddings_data": "Keras 2.2's projector export of a data sample's activations is gone; Keras 3 exports "
                       "Embedding weights only",
}

REMOVED_ARGS: dict[str, dict[str, str]] = {
    "fit": {"max_queue_size": "moved to keras.utils.PyDataset",
            "workers": "moved to keras.utils.PyDataset",
            "use_multiprocessing": "moved to keras.utils.PyDataset"},
    "evaluate": {"max_queue_size": "moved to keras.utils.PyDataset",
                 "workers": "moved to keras.utils.PyDataset",
                 "use_multiprocessing": "moved to keras.utils.PyDataset"},
    "predict": {"max_queue_size": "moved to keras.utils.PyDataset",
                "workers": "moved to keras.utils.PyDataset",
                "use_multiprocessing": "moved to keras.utils.PyDataset"},
    "compile": {"target_tensors": "removed in TF 2 / Keras 3",
                "sample_weight_mode": "removed in Keras 3",
                "distribute": "removed; use a distribution strategy scope",
                "experimental_run_tf_function": "removed in Keras 3"},
}

#: Keras 1 fit keywords (KM406): renamed ones, and ones that cannot be renamed.
KERAS1_FIT_RENAMES: dict[str, str] = {"nb_epoch": "epochs"}
KERAS1_FIT_REPORT: dict[str, str] = {
    "samples_per_epoch": "counts samples; Keras 3 steps_per_epoch counts batches (divide by the batch size)",
    "nb_val_samples": "counts samples; Keras 3 validation_steps counts batches (divide by the batch size)",
}
