"""KM312: register the module's Keras classes that ``.keras`` files name, for loading by name.

``model.save("m.keras")`` records each custom object as its class name plus the
name it is registered under; ``keras.models.load_model`` then finds the class by
that registered name and fails with "Could not locate class ..." unless the class
was registered or the caller passes ``custom_objects``. For every module-level
class deriving (through imports, aliases or a class of the same module) from a
Keras layer, model or ``LearningRateSchedule`` (``index.kind_of``), or from
a class of the other families a saved model holds by name (``keras.losses``,
``keras.metrics``, ``keras.initializers``, ``keras.regularizers``,
``keras.constraints``, ``keras.optimizers``: compiled losses, metrics and
optimizers, and the arguments of layers), the rule adds::

    @keras.saving.register_keras_serializable(package="encoder")
    class Encoder(keras.layers.Layer):

The registration takes effect when the defining module is imported, which any
code that builds the model has done; a saved file then reloads with no
``custom_objects`` in any process that imports the module. It changes nothing
else: the class, its instances and their configs stay as they were. Files are
now saved under ``"package>Name"``; one saved before under plain ``"Name"``
still loads, as before, with ``custom_objects={"Name": cls}``.

The package is the name of the file the class is defined in (``models/encoder.py``
gives ``"encoder"``, ``pkg/__init__.py`` gives ``"pkg"``, a notebook ``nb.ipynb``
gives ``"nb"`` for every cell). Keras registers under ``"package>ClassName"`` and a
second registration of the same key silently replaces the first, so with the
default package (``"Custom"``) two files that each define an ``Attention`` layer
would load each other's class. It is written out as a literal, not
``__name__``: a script run as ``python train.py`` is ``__main__`` while it saves
and ``train`` (or ``pkg.train``) where it is imported to load, so the key would
differ between saving and loading. Characters other than ASCII letters, digits,
``_``, ``.`` and ``-`` become ``_`` (the literal is plain ASCII whatever the file's
encoding, with no quote, backslash or ``>`` in it).
Two files of the same name that define a class of the same name still share a
key; rename one package by hand if both are loaded in one process.

Position: the new decorator goes first, above any decorators already there. The
outermost decorator runs last, so it registers the object the class name finally
refers to (what instances are made from, hence what Keras must find), whatever
the others return. Comments and blank lines above the class stay above the whole
decorated block (libcst keeps them on the class, not on its first decorator);
comments between decorators, or between the last decorator and ``class``, stay
where they are.

Left alone: a class already decorated with ``register_keras_serializable`` under
any spelling (``keras.saving.``, ``keras.utils.``, ``tf.keras.utils.``, an imported
or aliased bare name, called or not); a class nested in a function (a new class
object per call, each replacing the last one's registration) or in a class body
(not a module global: left to its author).
A class in a module-level block (``if``, ``try``, ``with``) is a module global like
any other and is registered; under ``if TYPE_CHECKING:`` it never runs, so the
decorator is inert there.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import libcst as cst

from migrate.rewrite.context import ClassInfo, FileContext
from migrate.rewrite.hooks import CLASS, Hook, Order, RuleSpec, Site
from migrate.rewrite.index import keras_base, layer_or_schedule
from migrate.rewrite.names import dotted_name

RULE = "KM312"

SPEC = RuleSpec(
    ids=(RULE,),
    hooks=(Hook(CLASS),),
    after=(Order("get_config", "the decorator goes on the class as KM309 completed it, above its other "
                 "decorators"),),
)
_REGISTER = "register_keras_serializable"
_DEFAULT_PACKAGE = "Custom"  # Keras's own default, for a path with no usable name
_CELL = re.compile(r"\[cell \d+\]$")  # notebook cells reach the rules as ``nb.ipynb[cell 3]``
_UNSAFE_CHARS = re.compile(r"[^A-Za-z0-9_.-]")
_SUFFIXES = (".py", ".pyi", ".ipynb")
# Besides layers, models and schedules (index.kind_of): the Keras 3 modules
# whose classes a .keras file records by registered name.
_NAMED_FAMILIES = (
    "keras.losses.",
    "keras.metrics.",
    "keras.initializers.",
    "keras.regularizers.",
    "keras.constraints.",
    "keras.optimizers.",
)


def package_of(path: str) -> str:
    """The registration package for a class defined in the file at ``path``: the module name."""
    path = _CELL.sub("", path)
    parts = [p for p in re.split(r"[\\/]", path) if p]
    name = parts[-1] if parts else ""
    for suffix in _SUFFIXES:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
            break
    if name == "__init__":  # a package's own module is named after its directory
        name = parts[-2] if len(parts) > 1 else ""
    name = _UNSAFE_CHARS.sub("_", name)
    return name if name.strip("_.-") else _DEFAULT_PACKAGE


def is_registered(ctx: FileContext, decorators: Sequence[cst.Decorator]) -> bool:
    """Whether one of ``decorators`` is ``register_keras_serializable``, however spelled.

    The name is resolved through the imports (``from keras.saving import
    register_keras_serializable as reg``); a dotted name whose last part is the
    function's counts too, since a second registration is never wanted.
    """
    for d in decorators:
        expr = d.decorator
        if isinstance(expr, cst.Call):
            expr = expr.func
        name = ctx.qualified(expr) or dotted_name(expr) or ""
        if name.rsplit(".", 1)[-1] == _REGISTER:
            return True
    return False


def is_saved_by_name(ctx: FileContext, info: ClassInfo) -> bool:
    """Whether a ``.keras`` file records instances of the class by its registered name.

    Layers, models and schedules (as ``kind_of`` classifies them), and
    subclasses of a class of :data:`_NAMED_FAMILIES`, through imports,
    aliases and the module's own classes (``keras_base``).
    """
    return keras_base(ctx, info, lambda target: layer_or_schedule(target) is not None
                      or target.startswith(_NAMED_FAMILIES) or None) is not None


def on_class(ctx: FileContext, site: Site) -> cst.ClassDef | None:
    """``updated`` with the registration decorator added first, or None to leave it.

    Module-level classes only: a class nested in a function is a new object per call, one nested
    in a class body is not a module global.
    """
    info = site.cls
    original: cst.ClassDef = site.original
    updated: cst.ClassDef = site.updated
    if not site.top_level:
        return None
    if not ctx.enabled(RULE) or info is None or not original.bases:
        return None
    if not is_saved_by_name(ctx, info):
        return None
    if is_registered(ctx, original.decorators):
        return None
    package = package_of(ctx.path)
    name = original.name.value
    decorator = cst.Decorator(ctx.expr(f'keras.saving.{_REGISTER}(package="{package}")'))
    ctx.report(RULE, original, f"{name}: registered as '{package}>{name}' so keras.models.load_model finds it "
               "without custom_objects", fixed=True)
    return updated.with_changes(decorators=[decorator, *updated.decorators])
