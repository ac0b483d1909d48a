"""Objects of your own in model files: losses, metrics, initializers, regularizers, constraints,
optimizers and learning-rate schedules (Keras' ``keras.saving`` registration API).

A model file never holds code. It names a custom object by the name it was registered under and
stores the object's ``get_config()`` (JSON values only)::

    {"registered_name": "Custom>ScaledMSE", "config": {"scale": 2.0}}    # an instance of a class
    {"registered_name": "Custom>top2"}                                    # a function

Loading looks that name up, never imports or evaluates it: in the ``custom_objects`` given to
``load_model`` (and in any ``custom_object_scope`` open), then in the registry that
``register_serializable`` fills. A class is then built by its constructor (or its own
``from_config``, where it defines one) from the stored config; a function is used as it is. So an
untrusted file can reach nothing but the constructors of the classes you registered or passed,
with JSON values, and only classes of the kind the entry stands in for (a regularizer entry must
name a ``Regularizer``, an optimizer entry an ``Optimizer``, a schedule entry a
``LearningRateSchedule``). An optimizer of yours keeps its state arrays in ``self.slots`` under the
names its ``slot_names`` declare; the file stores them as a built-in optimizer's (``glassnet.io``).

Why explicit registration, when a ``Layer`` of your own registers itself by its class name: a
loss, metric or initializer of your own is often a function, which has no class statement to hook;
class names collide with built-ins (a ``Huber`` or ``MeanIoU`` of your own), while a registered
name ``"package>name"`` never can (built-ins never have a ``>``); only what you chose can be built
from a file; and it is Keras' API (``@keras.saving.register_keras_serializable()``,
``custom_objects=``), so Keras code moves over unchanged. Layers keep their automatic
registration; decorating one as well is harmless (model files still name it by its class name).

>>> import glassnet as gn
>>> @gn.saving.register_serializable(package="Doc")
... class Halved(gn.regularizers.Regularizer):
...     def __init__(self, factor=0.5):
...         self.factor = factor
...     def __call__(self, w):
...         return self.factor * float((w ** 2).sum())
...     def add_gradient(self, w, grad):
...         grad += 2 * self.factor * w
...     def get_config(self):
...         return {"factor": self.factor}
>>> gn.saving.get_registered_name(Halved)
'Doc>Halved'
>>> serialize(Halved(0.25), "regularizer")
{'registered_name': 'Doc>Halved', 'config': {'factor': 0.25}}
"""
import contextlib
import errno
import importlib
import inspect
import math
import os
import threading

import numpy as np

from ._warnings import warn
from .errors import UnknownObjectError

__all__ = ["register_serializable", "register_keras_serializable", "get_registered_name", "get_registered_object",
           "custom_object_scope", "CustomObjectScope", "get_custom_objects", "serialize_keras_object",
           "deserialize_keras_object", "save_weights", "load_weights"]     # and load_model, save_model,
# KerasFileEditor: lazily

_OBJECTS = {}           # registered name -> class or function: what a file may name (get_custom_objects)
_NAMES = {}             # class or function -> the name register_serializable gave it last
_scopes = threading.local()         # .stack: the custom_objects dicts open in this thread, innermost last


def _qualified(obj):
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', getattr(obj, '__name__', repr(obj)))}"


def register_serializable(package="Custom", name=None):
    """A decorator that registers a class or function under ``"package>name"`` (``name``: its
    ``__name__`` when None), so that a model file can name it and ``load_model`` can rebuild it:
    a ``Loss``, ``Metric`` or metric function, ``Initializer`` or initializer function,
    ``Regularizer``, ``Constraint``, ``Optimizer`` or ``LearningRateSchedule`` of your own (Keras'
    ``register_keras_serializable``).
    Register it where it is defined, and import that module before loading.

    Registering again under a name already taken replaces the object there: silently for the same
    class statement run again (a notebook cell, ``importlib.reload``), with a warning for any other.

    >>> @register_serializable(package="Doc")
    ... def doubled_error(y_true, y_pred):
    ...     return 2 * float(abs(y_pred - y_true).mean())
    >>> get_registered_name(doubled_error)
    'Doc>doubled_error'
    """
    if not isinstance(package, str) or not package or ">" in package:
        hint = (" (write @register_serializable() with parentheses)" if callable(package) else "")
        raise TypeError(f"register_serializable: package: expected a non-empty str without '>', got "
                        f"{package!r:.80}{hint}")
    if name is not None and (not isinstance(name, str) or not name):
        raise TypeError(f"register_serializable: name: expected a non-empty str or None, got {name!r:.80}")

    def decorator(obj):
        if not callable(obj):
            raise TypeError(f"register_serializable: expected a class or a function, got {obj!r:.80}")
        if inspect.isclass(obj) and not hasattr(obj, "get_config"):
            raise ValueError(f"register_serializable: {obj.__name__} has no get_config(), which a model file "
                             f"stores to rebuild it")
        own = name if name is not None else getattr(obj, "__name__", None)
        if not isinstance(own, str) or not own or own == "<lambda>":
            raise ValueError(f"register_serializable: {obj!r:.80} has no name of its own; give name=")
        registered = f"{package}>{own}"
        previous = _OBJECTS.get(registered)
        if previous is not None and previous is not obj and _qualified(previous) != _qualified(obj):
            warn(f"register_serializable: {registered!r} was registered by {_qualified(previous)}; "
                 f"{_qualified(obj)} replaces it, and load_model will now build it for files naming "
                 f"{registered!r}")
        _OBJECTS[registered] = obj
        with contextlib.suppress(TypeError):        # an unhashable callable: found by the scan of _name_of
            _NAMES[obj] = registered
        return obj
    return decorator


register_keras_serializable = register_serializable     # Keras' name


def get_custom_objects():
    """The registry itself, ``{registered name: class or function}`` (Keras' ``get_custom_objects``):
    an entry added to it (``get_custom_objects()["MyLoss"] = MyLoss``) registers under that key."""
    return _OBJECTS


def _stack():
    if not hasattr(_scopes, "stack"):
        _scopes.stack = []
    return _scopes.stack


def scoped_object(name):
    """What the open ``custom_object_scope``s (``load_model``'s ``custom_objects`` among them) give
    under ``name``, innermost first; None when none does. The registry is not read: its keys are
    ``"package>name"``, while a file names its layers by class name (see ``layers.base.lookup``)."""
    for objects in reversed(_stack()):
        if name in objects:
            return objects[name]
    return None


def _checked_objects(objects, caller):
    if objects is None:
        return {}
    if not isinstance(objects, dict) or not all(isinstance(k, str) and k for k in objects):
        raise TypeError(f"{caller}: expected a dict {{name: class or function}} (or None), got {objects!r:.100}")
    for key, value in objects.items():
        if not callable(value):
            raise TypeError(f"{caller}: {key!r} must map to a class or a function, got {value!r:.80}")
    return dict(objects)


class CustomObjectScope:
    """``with custom_object_scope({"Custom>MyLoss": MyLoss}):`` makes the objects of the given dicts
    findable by their keys in this thread, ahead of the registry, until the block ends: what
    ``load_model(..., custom_objects=)`` does around its reading. Inside one, ``save`` also names
    an object by its key there when it was not registered."""

    def __init__(self, *objects):
        self.objects = {}
        for given in objects:
            self.objects.update(_checked_objects(given, "custom_object_scope"))

    def __enter__(self):
        _stack().append(self.objects)
        return self

    def __exit__(self, *exc):
        _stack().pop()


custom_object_scope = CustomObjectScope


def scope_of(custom_objects, caller):
    """The scope a loader opens for its ``custom_objects=`` argument, a TypeError for a bad one
    naming that argument (``"load_model: custom_objects: ..."``), not the scope."""
    return CustomObjectScope(_checked_objects(custom_objects, f"{caller}: custom_objects"))


def get_registered_object(name, custom_objects=None, module_objects=None):
    """The class or function registered under ``name``: looked up in the open
    ``custom_object_scope``s (innermost first), the registry, then ``custom_objects`` and
    ``module_objects`` (dicts); None when none has it. Never imports anything."""
    for objects in (*reversed(_stack()), _OBJECTS, custom_objects or {}, module_objects or {}):
        if name in objects:
            return objects[name]
    return None


def get_registered_name(obj):
    """The name ``obj`` (a class or function) is registered under, else its ``__name__`` (Keras')."""
    found = _name_of(obj)
    return found if found is not None else obj.__name__


def _name_of(obj):
    """The name a file gives ``obj``: the one ``register_serializable`` gave it, else its key in an
    open scope (innermost first) or in the registry; None when it has none."""
    with contextlib.suppress(TypeError):
        name = _NAMES.get(obj)
        if name is not None and _OBJECTS.get(name) is obj:
            return name
    for objects in (*reversed(_stack()), _OBJECTS):
        for key, value in objects.items():
            if value is obj:
                return key
    return None


def is_entry(value):
    """Whether ``value`` is a file's entry for a registered object (checked by ``deserialize``)."""
    return isinstance(value, dict) and "registered_name" in value


def _class_of(obj):
    """The class a file names ``obj`` by: its own, or for a loss with another reduction (an instance
    of a subclass made at run time, glassnet.losses.base._reduced_class) the class it was built from."""
    return type(obj).__dict__.get("_plain", type(obj))


def is_registered(obj):
    """Whether a file can name ``obj``: a registered function, or an instance of a registered class."""
    return not inspect.isclass(obj) and (_name_of(obj) is not None or _name_of(_class_of(obj)) is not None)


def serialize(obj, kind, config=None):
    """The entry a model file stores for ``obj``, a registered function or an instance of a
    registered class (``config``: its settings, ``obj.get_config()`` when None); None when ``obj``
    is neither. TypeError when the config is not JSON values, or leaves out an argument the class's
    constructor takes (it would load with that argument's default)."""
    if inspect.isclass(obj):
        return None
    name = _name_of(obj)
    if name is not None:
        return {"registered_name": name}
    name = _name_of(_class_of(obj))
    if name is None:
        return None
    config = obj.get_config() if config is None else config
    if not isinstance(config, dict):
        raise TypeError(f"save_model: {kind} {name!r} ({type(obj).__name__}): get_config() must return a dict "
                        f"of its constructor's arguments, got {type(config).__name__}")
    _check_json(config, f"{kind} {name!r} ({type(obj).__name__}): get_config()")
    missing = _missing_arguments(_class_of(obj), config)
    if missing:
        raise TypeError(f"save_model: {kind} {name!r} ({type(obj).__name__}) takes the arguments {missing} but "
                        f"get_config() leaves them out, so the file would load it with their defaults; return "
                        f"them from get_config: {{{', '.join(f'{a!r}: self.{a}' for a in missing)}, ...}}")
    return {"registered_name": name, "config": config}


def _missing_arguments(cls, config):
    """The named arguments of ``cls``'s constructor absent from ``config`` (none when it defines its
    own ``from_config``, which may read the config its own way)."""
    if any(_own_from_config(klass) for klass in cls.__mro__[:-1]):
        return []
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return []
    return [p.name for p in parameters if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name not in config]


def _own_from_config(klass):
    """Whether ``klass`` defines a ``from_config`` that may read a config its own way (not
    ``Setting``'s, which passes the config to the constructor)."""
    method = vars(klass).get("from_config")
    function = getattr(method, "__func__", method)
    return method is not None and not getattr(function, "reads_constructor_arguments", False)


def _check_json(value, where, path="config"):
    """Refuse anything but JSON values, naming where (tuples pass: they are stored as lists)."""
    if value is None or isinstance(value, (bool, str)) or type(value) is int:
        return
    if type(value) is float:
        if not math.isfinite(value):
            raise TypeError(f"save_model: {where} holds {value!r} at {path}, which JSON has no value for")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json(item, where, f"{path}[{i}]")
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"save_model: {where} has the key {key!r:.50} at {path}: JSON keys are strings")
            _check_json(item, where, f"{path}[{key!r}]")
        return
    raise TypeError(f"save_model: {where} is not JSON-serialisable: {path} is {value!r:.80} "
                    f"({type(value).__name__}); a model file stores numbers, strings, flags, lists and dicts only")


def deserialize(entry, kind, bases, functions=False):
    """The object a file's ``entry`` names: a registered class (a subclass of one of ``bases``)
    built from the entry's config, or a registered function where ``functions`` allows one.
    ValueError, starting with ``kind``, for anything else: an entry of the wrong shape or the wrong
    kind of object, and a name nothing is registered under (a ``ModelFileError``, which
    ``load_model`` passes on whole, saying how to register it)."""
    if not (is_entry(entry) and isinstance(entry["registered_name"], str)
            and set(entry) <= {"registered_name", "config"}):
        raise ValueError(f"{kind}: expected {{'registered_name': str}} or {{'registered_name': str, 'config': "
                         f"{{...}}}}, got {entry!r:.200}")
    name = entry["registered_name"]
    obj = get_registered_object(name)
    if obj is None:
        raise UnknownObjectError(f"{kind}: {name[:100]!r} is not registered; the file names a class or function of "
                                 f"your own: {_how_to_register(name[:100])} and import that module before loading, "
                                 f"or pass custom_objects={{{name[:100]!r}: ...}} to load_model", name)
    wanted = " or ".join(base.__name__ for base in bases)
    if "config" not in entry:
        if inspect.isclass(obj) or not functions:
            raise ValueError(f"{kind}: the file names {name!r:.100} as a function, but it is registered as "
                             f"{_qualified(obj)}{'' if functions else f', and a {kind} must be a {wanted}'}")
        return obj
    config = entry["config"]
    if not inspect.isclass(obj) or not issubclass(obj, bases):
        raise ValueError(f"{kind}: {name!r:.100} is registered as {_qualified(obj)}, not a {wanted} subclass, "
                         f"which the file names here")
    if not isinstance(config, dict):
        raise ValueError(f"{kind}: the config of {name!r:.100} must be a dict, got {config!r:.100}")
    try:
        made = obj.from_config(config) if hasattr(obj, "from_config") else obj(**config)
    except Exception as exc:    # an argument it does not take, or its own checks refusing a value: say whose
        raise ValueError(f"{kind}: {name!r:.100} ({_qualified(obj)}) cannot be built from the config "
                         f"{config!r:.200} ({type(exc).__name__}: {exc})") from exc
    if not isinstance(made, bases):
        raise ValueError(f"{kind}: {_qualified(obj)}.from_config gave {type(made).__name__}, not a {wanted}")
    return made


def _how_to_register(name):
    package, _, own = name.partition(">")
    if package and own:
        return (f"decorate it with @glassnet.saving.register_serializable(package={package!r}, name={own!r}) "
                f"where it is defined")
    return f"register it with glassnet.saving.get_custom_objects()[{name!r}] = ... where it is defined"


def serialize_keras_object(obj):
    """Any object a config holds as a dict of plain values (Keras' ``serialize_keras_object``): a
    layer, loss, metric, optimizer, schedule, initializer, regularizer, constraint, activation or
    function, glassnet's own or registered here (see glassnet._keras_objects)."""
    from ._keras_objects import serialize_keras_object as serialize_object     # (it imports every kind)
    return serialize_object(obj)


def deserialize_keras_object(config, custom_objects=None, safe_mode=True):
    """The object ``serialize_keras_object`` (glassnet's or Keras 3's) described (Keras'
    ``deserialize_keras_object``; see glassnet._keras_objects)."""
    from ._keras_objects import deserialize_keras_object as deserialize_object
    return deserialize_object(config, custom_objects, safe_mode)


def _checked_model(model, where):
    from .model import Sequential      # here: glassnet.model imports this module
    if not isinstance(model, Sequential):
        raise TypeError(f"{where}: model must be a glassnet Sequential or Model, got {type(model).__name__}")


def save_weights(model, filepath, overwrite=True):
    """Keras 3's ``keras.saving.save_weights``: ``model.save_weights(filepath)`` (see
    ``Sequential.save_weights``: glassnet's ``.npz`` file, written atomically, any file name).
    ``overwrite=False`` refuses a file that exists (FileExistsError naming it), leaving it as it
    was; Keras asks on the terminal instead, which would stop a script or a notebook cell."""
    where = "save_weights"
    _checked_model(model, where)
    if not isinstance(filepath, (str, os.PathLike)):
        raise TypeError(f"{where}: filepath must be a str or os.PathLike, got {type(filepath).__name__}")
    check_overwrite(filepath, overwrite, where)
    model.save_weights(filepath)


def check_overwrite(filepath, overwrite, where):
    """Keras' ``overwrite`` of ``save``/``save_weights``: True, or False refusing a file that exists
    (FileExistsError naming it), where Keras asks on the terminal (which stops a script)."""
    if not isinstance(overwrite, (bool, np.bool_)):     # "no" would be truthy; NumPy's bools are taken
        raise TypeError(f"{where}: overwrite must be True or False, got {overwrite!r:.40}")
    if not overwrite and isinstance(filepath, (str, os.PathLike)) and os.path.exists(filepath):
        raise FileExistsError(errno.EEXIST, f"{where}: the file exists and overwrite=False (give overwrite=True "
                                            f"to replace it)", os.fspath(filepath))


def load_weights(model, filepath, skip_mismatch=False):
    """Keras 3's ``keras.saving.load_weights``: ``model.load_weights(filepath)``, the weights of a
    file of ``save_weights``, ``save`` or ``ModelCheckpoint`` set layer by layer in order, count and
    shapes checked before any is written. ``skip_mismatch=True`` (Keras: leave out, with a warning,
    the layers whose weights do not fit) is not implemented and refused: glassnet names the first
    weight that differs instead."""
    where = "load_weights"
    _checked_model(model, where)
    check_skip_mismatch(skip_mismatch, where)
    model.load_weights(filepath)


def check_skip_mismatch(skip_mismatch, where):
    """Keras' ``skip_mismatch`` of ``load_weights``: False, or True refused by name (not implemented)."""
    if not isinstance(skip_mismatch, (bool, np.bool_)):
        raise TypeError(f"{where}: skip_mismatch must be True or False, got {skip_mismatch!r:.40}")
    if skip_mismatch:
        raise ValueError(f"{where}: skip_mismatch=True is not implemented (glassnet loads every weight, in order, "
                         f"and refuses a file whose weights do not fit, naming the first that differs); "
                         f"give skip_mismatch=False")


def __getattr__(name):
    # Keras has them here too; glassnet.io imports the model, so not at import time
    if name in ("load_model", "save_model"):
        return getattr(importlib.import_module(".io", __package__), name)
    if name == "KerasFileEditor":       # (its module reads h5py files: imported when asked for)
        return importlib.import_module("._file_editor", __package__).KerasFileEditor
    raise AttributeError(f"module 'glassnet.saving' has no attribute {name!r}")
