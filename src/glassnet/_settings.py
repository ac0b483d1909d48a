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

    def __repr__(self):
        args = ", ".join(f"{key}={value!r}" for key, value in self.get_config().items())
        return f"{type(self).__name__}({args})"

    def __eq__(self, other):
        return type(self) is type(other) and self.get_config() == other.get_config()

    __hash__ = None


def from_file_entry(identifier, registry, name, base=None):
    """The instance a model file's ``{"class_name": ..., "config": {...}}`` names, for a class of
    ``registry``, or, given the ``base`` class of its kind, the entry of a registered subclass of
    it (``glassnet.saving.deserialize``); None when ``identifier`` is not such an entry. A
    setting the class does not take is a ValueError starting with ``name``."""
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
