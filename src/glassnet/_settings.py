"""What regularizers, constraints and learning-rate schedules share: small objects described by
their ``get_config()``, which gives their ``repr`` and ``==``, and stored in configs and model files
as ``{"class_name", "config"}``, the built-in classes only (a file never stores code, and a subclass
would load as its parent); regularizers and constraints of your own registered with
``glassnet.saving`` as ``{"registered_name", "config"}``."""
from . import saving


class Setting:
    """The base of ``Regularizer``, ``Constraint`` and ``LearningRateSchedule``: ``repr`` and ``==``
    from ``get_config()``."""

    def get_config(self):
        return {}

    @classmethod
    def from_config(cls, config):
        """The instance ``config`` (a ``get_config()``) describes: ``cls(**config)``, as Keras'
        ``from_config`` of initializers, regularizers, constraints and schedules."""
        return cls(**config)

    # saving's check that get_config() gives every constructor argument skips a class with a
    # from_config of its own; this one reads the constructor's arguments, so it is still checked
    from_config.__func__.reads_constructor_arguments = True

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    __hash__ = None


_KERAS_KEYS = {"module", "class_name", "config", "registered_name"}


def keras_entry(identifier, kind, unsupported=(), ignored=()):
    """Keras' ``serialize()`` form, ``{"module", "class_name", "config", "registered_name"}``, as
    glassnet's: ``{"class_name", "config"}`` for a built-in (``registered_name`` None), or
    ``{"registered_name", "config"}`` for one registered by name (``"Custom>MyLoss"``). The
    ``unsupported`` config keys are dropped at None, Keras' default (a Keras initializer's
    ``input_axes``), and refused by name otherwise; the ``ignored`` ones are dropped whatever they hold
    (a Keras schedule's ``name``, which glassnet's do not take). Keras' form of a function,
    ``{"class_name": "function", "config": "mean_squared_error", ...}`` (``loss=keras.losses.mse``
    in a compile config), comes back as its name, which glassnet's own names are looked up by, or
    for one registered as ``"package>name"``, as the entry ``{"registered_name": ...}``. Anything
    else comes back unchanged."""
    if (isinstance(identifier, dict) and set(identifier) == _KERAS_KEYS and identifier["class_name"] == "function"
            and isinstance(identifier["config"], str)):
        # only a name to look up in glassnet's tables or the registry: nothing is imported
        name = identifier["config"]
        return {"registered_name": name} if ">" in name else name
    if not (isinstance(identifier, dict) and "module" in identifier and "class_name" in identifier
            and set(identifier) <= _KERAS_KEYS and isinstance(identifier.get("config", {}), dict)):
        return identifier
    config = dict(identifier.get("config") or {})
    for key in unsupported:
        if config.get(key) is not None:
            raise ValueError(f"{kind}: {identifier['class_name']!r:.60} with {key}={config[key]!r:.60} is not "
                             f"supported by glassnet (only None, Keras' default)")
        config.pop(key, None)
    for key in ignored:
        config.pop(key, None)
    registered = identifier.get("registered_name")
    if isinstance(registered, str) and registered != identifier["class_name"]:
        return {"registered_name": registered, "config": config}
    return {"class_name": identifier["class_name"], "config": config}


def from_file_entry(identifier, registry, name, base=None):
    """The instance a model file's ``{"class_name": ..., "config": {...}}`` names, for a class of
    ``registry``, or, given the ``base`` class of its kind, the entry of a registered subclass of
    it (``glassnet.saving.deserialize``); None when ``identifier`` is not such an entry. A
    setting the class does not take is a ValueError starting with ``name``. Keras' form with
    ``"module"`` and ``"registered_name"`` is read too (``keras_entry``)."""
    identifier = keras_entry(identifier, name)
    if base is not None and saving.is_entry(identifier):
        return saving.deserialize(identifier, name, (base,))
    if not (isinstance(identifier, dict) and set(identifier) == {"class_name", "config"}
            and isinstance(identifier["class_name"], str) and identifier["class_name"] in registry
            and isinstance(identifier["config"], dict)):
        return None
    try:
        return registry[identifier["class_name"]](**identifier["config"])
    except TypeError as exc:
        raise ValueError(f"{name}: bad config {identifier!r:.200} ({exc})") from None
    except ValueError as exc:           # a setting out of range: say whose it is
        raise ValueError(f"{name}: {exc}") from None


def serialize(setting, registry, kind, base=None):
    """A built-in ``setting`` (its class in ``registry``) as a model file stores it, or, given the
    ``base`` class of its kind, an instance of a registered subclass (``glassnet.saving``);
    ValueError for any other. ``kind`` names it in the message ("regularizer", "constraint",
    "learning rate schedule")."""
    if type(setting) not in registry.values():
        if base is not None and isinstance(setting, base) and saving.is_registered(setting):
            return saving.serialize(setting, kind)
        how = ", or register your class with @glassnet.saving.register_serializable()" if base is not None else ""
        raise ValueError(f"{kind} {setting!r:.80} ({type(setting).__name__}) is not a built-in one, so a "
                         f"model file cannot store it; use {_one_of(sorted(registry))}{how}")
    return {"class_name": type(setting).__name__, "config": setting.get_config()}


def config_entries(layer, keys, registry, kind, base=None):
    """A layer's config entries for the attributes ``keys`` (``kernel_regularizer``, ...), only
    those set: a model file without them still loads in a glassnet from before they existed."""
    return {key: serialize(value, registry, kind, base) for key in keys
            if (value := getattr(layer, key, None)) is not None}


def _one_of(names):
    """["L1", "L1L2", "L2"] as "L1, L1L2 or L2"."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} or {names[-1]}"
