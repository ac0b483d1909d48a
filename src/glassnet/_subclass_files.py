"""A subclass of ``gn.Model`` in model files and configs: its name, never its code.

A model file (and ``get_config``, ``to_json``) of a model whose class is a subclass of
``gn.Model`` of the user's own records, in the model's config::

    "subclass": {"class_name": "CustomModel", "registered_name": "CustomModel" (or "pkg>CustomModel"),
                 "module": "__main__",
                 "config": {...}}      # its constructor's arguments, when known (below)

The constructor's arguments are known when the class's ``get_config`` returns them (Keras'
idiom: a dict without ``"layers"``), or, for a subclass drawn by its ``call`` without a
``get_config`` of its own, when the arguments it was made with were JSON values (Keras' "auto
config": ``Model.__new__`` keeps them). A functional subclass (``CustomModel(inputs, outputs)``,
no ``call``) needs none: its graph rebuilds it, as Keras' ``functional_from_config(cls, ...)``.

Reading (``load_model``, ``model_from_json``, ``from_config``): the class is looked up by its
registered name, then its class name, in the ``custom_objects`` given and the registry
(``glassnet.saving``) only, never imported; it must be a subclass of ``gn.Model``. Found, the model
comes back as that class: made by the graph (functional subclass), or by ``cls.from_config(config)``
/ ``cls(**config)`` then drawn on the file's Inputs, its weights checked name by name and shape by
shape against the file's graph before they are set (while it is made and drawn, its layers may allocate
no more weights than the file's graph holds, give or take ``SLACK``: ``capped_like``). Not found, the functional ``gn.Model`` of the
graph comes back, as before, with a warning naming the class and saying how to get it back: its
``train_step``, ``compute_loss`` and other methods are in no file. So a file reaches no code but the
constructor (and ``build``/``call``) of a class the user registered or passed.

A subclass of ``gn.Sequential`` of the user's (its own methods, attributes its constructor sets) is
recorded the same way, with ``"base": "Sequential"`` and no constructor's arguments: as Keras 3.15's
``Sequential.from_config`` (``cls(name=name)``, then the layers added), the class found is made by
its constructor given the file's layers, ``cls(layers, name=, seed=, dtype=)``, then built and given
the file's weights, which are checked name by name against the layers it made. Not found, it is the
plain ``gn.Sequential`` of those layers, with the same warning (Keras 3.15 refuses to load it, a
TypeError "Could not locate class"): an older file, or one read without the class, still loads.
"""
import contextlib
import inspect
import math

from . import saving
from ._warnings import warn
from .errors import ModelFileError

KEY = "subclass"


def _model_class():
    from .graph import Model        # here: glassnet.graph imports this module's users
    return Model


def _sequential_class():
    from .model import Sequential
    return Sequential


def is_own_sequential(cls):
    """Whether ``cls`` is a subclass of ``gn.Sequential`` of the user's that is no ``gn.Model``."""
    Sequential = _sequential_class()
    return (inspect.isclass(cls) and issubclass(cls, Sequential) and not issubclass(cls, _model_class())
            and cls is not Sequential and not cls.__module__.startswith("glassnet."))


def is_own_subclass(cls):
    """Whether ``cls`` is a subclass of ``gn.Model`` of the user's (not ``Model``, not glassnet's own
    subclasses, Distiller's, whose files are glassnet's business)."""
    Model = _model_class()
    return (inspect.isclass(cls) and issubclass(cls, Model) and cls is not Model
            and not cls.__module__.startswith("glassnet."))


def capture(cls, args, kwargs):
    """The constructor's arguments as JSON values (``{name: value}``; ``**kwargs`` spread out), or
    None when they cannot be bound or are not all JSON values: Keras' auto config."""
    if not is_own_subclass(cls) or not callable(getattr(cls, "call", None)):
        return None
    try:
        bound = inspect.signature(cls.__init__).bind(None, *args, **kwargs)
    except (TypeError, ValueError):
        return None
    params = inspect.signature(cls.__init__).parameters
    config = {}
    for name, value in list(bound.arguments.items())[1:]:
        kind = params[name].kind
        if kind is inspect.Parameter.VAR_POSITIONAL:
            if value:
                return None         # no name to give them in a config
        elif kind is inspect.Parameter.VAR_KEYWORD:
            config.update(value)
        else:
            config[name] = value
    try:
        saving._check_json(config, "constructor")
    except TypeError:
        return None
    return config


def _own_get_config(cls):
    return cls.get_config is not _model_class().get_config


def entry(model):
    """The ``"subclass"`` entry of ``model``'s config, or None for a model that is no subclass of the user's."""
    cls = type(model)
    if is_own_sequential(cls):      # made again from its layers (Keras' Sequential.from_config): no arguments
        return {"class_name": cls.__name__, "registered_name": saving._name_of(cls) or cls.__name__,
                "module": str(cls.__module__), "base": "Sequential"}
    if not is_own_subclass(cls):
        return None
    spec = {"class_name": cls.__name__, "registered_name": saving._name_of(cls) or cls.__name__,
            "module": str(cls.__module__)}
    config = None
    if _own_get_config(cls):
        config = model.get_config()
        if not isinstance(config, dict):
            raise TypeError(f"save_model: {cls.__name__}.get_config() must return a dict (its constructor's "
                            f"arguments), got {type(config).__name__}")
        if "layers" in config:          # a graph's config, extended: the graph rebuilds it
            config = None
        else:
            saving._check_json(config, f"{cls.__name__}.get_config()")
    elif callable(getattr(cls, "call", None)):
        config = model.__dict__.get("_auto_config")
    if config is not None:
        spec["config"] = dict(config)
    return spec


def _checked(spec, caller):
    if not (isinstance(spec, dict) and set(spec) <= {"class_name", "registered_name", "module", "config", "base"}
            and spec.get("base", "Sequential") == "Sequential" and not ("base" in spec and "config" in spec)
            and all(isinstance(spec.get(k), str) and spec[k] for k in ("class_name", "registered_name"))
            and isinstance(spec.get("module", ""), str) and isinstance(spec.get("config", {}), dict)):
        raise ModelFileError(f"config: 'subclass' must be {{'class_name': str, 'registered_name': str, "
                             f"'module': str, 'config': {{...}} (optional)}} or, for a Sequential's, "
                             f"'base': 'Sequential' for 'config'; got {spec!r:.200}")
    return spec


def _how(spec):
    name, klass = spec["registered_name"][:100], spec["class_name"][:100]
    return (f"pass custom_objects={{{name!r}: {klass}}} or register the class with "
            f"@glassnet.saving.register_serializable() where it is defined")


def resolve(config, caller, given=None):
    """``(cls, spec)``: the user's class ``config`` names (its ``"subclass"`` entry), found in
    ``given`` (the class ``from_config`` was called on), the open ``custom_objects`` scopes or the
    registry; ``(None, spec)`` with a warning when none has it; ``(None, None)`` for a config
    naming no subclass."""
    spec = config.get(KEY) if isinstance(config, dict) else None
    if spec is None:
        return None, None
    spec = _checked(spec, caller)
    sequential = spec.get("base") == "Sequential"
    if sequential and isinstance(config.get("inbound"), list):
        raise ModelFileError("config: 'subclass' names a subclass of Sequential, but the config is a functional "
                             "Model's (it has 'inbound')")
    mine = is_own_sequential if sequential else is_own_subclass
    if given is not None and mine(given) and spec["registered_name"] in (saving._name_of(given), given.__name__):
        return given, spec
    found = saving.get_registered_object(spec["registered_name"])
    if found is None:
        found = saving.scoped_object(spec["class_name"])
    if found is None and sequential:
        warn(f"{caller}: the model is a {spec['class_name'][:100]!r} (module {spec.get('module', '?')[:100]!r}), "
             f"a subclass of gn.Sequential; a model file holds no code, so its own methods and attributes are not "
             f"in it, and this is a plain gn.Sequential of its layers. To get the subclass back, {_how(spec)}")
        return None, spec
    if sequential and not is_own_sequential(found):
        raise ModelFileError(f"the config names the model class {spec['registered_name'][:100]!r}, found as "
                             f"{found!r:.100}, which is not a subclass of glassnet.Sequential (nor of glassnet.Model)")
    if sequential:
        return found, spec
    if found is None:
        warn(f"{caller}: the model is a {spec['class_name'][:100]!r} (module "
             f"{spec.get('module', '?')[:100]!r}), a subclass of gn.Model; a model file holds no code, so its "
             f"own methods (train_step, compute_loss, call, ...) are not in it, and this is the functional "
             f"gn.Model of its graph: a further fit runs the compiled loss's ordinary step, not the class's own. To get the "
             f"subclass back, {_how(spec)}")
        return None, spec
    if not is_own_subclass(found):
        raise ModelFileError(f"the config names the model class {spec['registered_name'][:100]!r}, found as "
                             f"{found!r:.100}, which is not a subclass of glassnet.Model")
    return found, spec


def graph_class(cls, spec):
    """The class the graph is made as: ``cls`` for a functional subclass rebuilt by its graph, else None."""
    if cls is not None and "config" not in spec and not callable(getattr(cls, "call", None)):
        return cls          # (a Sequential's: made by its constructor from the file's layers)
    return None


# the values beyond the file's weights that a subclass made from the file may make (4 MiB of float32):
# a class whose constructor's arguments changed a little since the file was saved is still drawn,
# and draw_like's error names both lists of weights; only a crafted size is refused on the way
SLACK = 2 ** 20


@contextlib.contextmanager
def capped_like(model, state_budget):
    """Within it, the weights layers make (the constructor's and ``build``'s of the class a file names)
    may hold ``model``'s number of values in all (the file's graph, built within the file's budget:
    the subclass made must have its weights) and ``SLACK`` more, and the other arrays they reserve
    ``state_budget`` (statistics: glassnet.io's cap). Why: the file's constructor's arguments are
    data, ``{"units": 10**9}`` among them; checked only after drawing, they made a 24 GB allocation."""
    from .layers.base import ALLOCATION_CAP
    weights = sum(int(w.size) for _, w in model._weight_items()) if model.built else 0
    left = {"weight": weights + SLACK, "state": state_budget}

    def cap(what, name, shape):
        size = math.prod(int(d) for d in shape)
        if size > left[what]:
            raise ModelFileError(f"the class the file names, made from its constructor's arguments, makes more "
                                 f"{'parameters than the file holds' if what == 'weight' else 'statistics than allowed'} "
                                 f"(at {name!r} of shape {tuple(shape)!r:.80}): corrupt or crafted")
        left[what] -= size
    token = ALLOCATION_CAP.set(cap)
    try:
        yield
    finally:
        ALLOCATION_CAP.reset(token)


def construct(cls, spec, caller):
    """The model ``cls`` makes from the constructor's arguments ``spec`` records (its own
    ``from_config`` where it defines one, else ``cls(**config)``); None, with a warning, when the
    file has none (a ``call`` subclass whose ``get_config`` returns no constructor's arguments)."""
    if cls is None or graph_class(cls, spec) is not None:
        return None
    if "config" not in spec:
        warn(f"{caller}: {cls.__name__} is drawn by its call and the file holds no constructor's arguments "
             f"for it (its get_config returns none, and it was made with arguments that are not JSON values), "
             f"so this is the functional gn.Model of its graph, without {cls.__name__}'s own methods; return "
             f"the constructor's arguments from {cls.__name__}.get_config() and save it again")
        return None
    config = dict(spec["config"])
    own = any("from_config" in vars(klass) for klass in cls.__mro__[:cls.__mro__.index(_model_class())])
    try:
        made = cls.from_config(config) if own else cls(**config)
    except Exception as exc:
        raise ModelFileError(f"{cls.__name__} cannot be made from the constructor's arguments the file "
                             f"records, {config!r:.200} ({type(exc).__name__}: {str(exc)[:200]})") from exc
    if not isinstance(made, cls):
        raise ModelFileError(f"{cls.__name__}.from_config gave {type(made).__name__}, not a {cls.__name__}")
    return made


def draw_like(made, model, caller):
    """Draw ``made`` (just constructed) on ``model``'s Inputs and check that it has ``model``'s
    weights (names and shapes, in order); raise ModelFileError naming the first difference."""
    if not made._calls:
        shapes = [(None, *shape) for shape in model.input_shapes]
        if model._input_keys is not None:
            shape = dict(zip(sorted(model._input_keys), shapes))
        else:
            shape = shapes[0] if len(shapes) == 1 else shapes
        try:
            made._own_build_ran = True
            made.build(shape)
            if not made._calls:
                made._draw(shape)
        except Exception as exc:
            raise ModelFileError(f"{type(made).__name__} made from the file's constructor's arguments "
                                 f"could not be drawn on its Inputs {shape!r:.200} ({type(exc).__name__}: "
                                 f"{str(exc)[:200]})") from exc
    mine = [(name, tuple(w.shape)) for name, w in made._weight_items()]
    theirs = [(name, tuple(w.shape)) for name, w in model._weight_items()]
    if mine != theirs or len(made.layers) != len(model.layers):
        raise ModelFileError(f"{type(made).__name__} made from the file's constructor's arguments has the "
                             f"weights {mine!r:.300}, the file's graph {theirs!r:.300}: its get_config does not "
                             f"give back the model that was saved")
    return made


def swap(made, model, listed, spec):
    """``made`` with ``model``'s weights, and ``listed`` (the file's order of ``model``'s layers) as
    ``made``'s layers at the same places (``model.layers`` and ``made.layers`` match one to one)."""
    position = {id(layer): i for i, layer in enumerate(model.layers)}
    if model.built:
        made.set_weights(model.get_weights())
    if "name" not in spec.get("config", {}):      # (a name among the arguments: the constructor gave it)
        made.name = model.name
    return made, [made.layers[position[id(layer)]] for layer in listed]
