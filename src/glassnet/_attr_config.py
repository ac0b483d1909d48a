"""Keras 3.15's ``keras.utils.Config``: a dict of named settings also read and written as
attributes, which can be frozen and written as JSON (exported by glassnet.utils)."""
import copy
import difflib
import json

__all__ = ["Config"]


class Config:
    """A dict-like container of named values (Keras' ``Config``).

    >>> config = Config(learning_rate=0.1, momentum=0.9)
    >>> config.seed = 123                   # attribute-style, or config["seed"] = 123
    >>> config["learning_rate"], config.seed, sorted(config)
    (0.1, 123, ['learning_rate', 'momentum', 'seed'])
    >>> config.freeze()
    >>> config.seed = 1
    Traceback (most recent call last):
    ValueError: Cannot mutate attribute(s) because the config is frozen.
    >>> config.to_json()
    '{"learning_rate": 0.1, "momentum": 0.9, "seed": 123}'

    Iterating gives the keys sorted (Keras' ``__iter__``); ``keys()``, ``items()``, ``values()``
    and ``to_json()`` keep the order of insertion. ``as_dict()`` is a shallow copy.
    """

    __attrs__ = None

    def __init__(self, **kwargs):
        self._config = kwargs
        self._frozen = False
        # the object's own names, fixed here: every other attribute is a value of the config
        self.__attrs__ = set(dir(self))

    @property
    def frozen(self):
        """True once ``freeze()`` was called (and not ``unfreeze()``)."""
        return self._frozen

    def freeze(self):
        """Refuse any change from now on (ValueError), until ``unfreeze()``."""
        self._frozen = True

    def unfreeze(self):
        self._frozen = False

    def _raise_if_frozen(self):
        if self._frozen:
            raise ValueError("Cannot mutate attribute(s) because the config is frozen.")

    def as_dict(self):
        return copy.copy(self._config)

    def to_json(self):
        return json.dumps(self._config)

    def keys(self):
        return self._config.keys()

    def values(self):
        return self._config.values()

    def items(self):
        return self._config.items()

    def pop(self, *args):
        self._raise_if_frozen()
        return self._config.pop(*args)

    def update(self, *args, **kwargs):
        self._raise_if_frozen()
        return self._config.update(*args, **kwargs)

    def get(self, keyname, value=None):
        return self._config.get(keyname, value)

    def __setattr__(self, name, value):
        attrs = object.__getattribute__(self, "__attrs__")
        if attrs is None or name in attrs:
            return object.__setattr__(self, name, value)
        self._raise_if_frozen()
        self._config[name] = value

    def __getattr__(self, name):
        # (called only for names the object itself lacks)
        attrs = object.__getattribute__(self, "__attrs__")
        if attrs is None or name in attrs:
            return object.__getattribute__(self, name)
        config = object.__getattribute__(self, "_config")
        if name in config:
            return config[name]
        message = f"Unknown attribute: '{name}'."
        closest = difflib.get_close_matches(name, config.keys(), n=1, cutoff=0.7)
        if closest:
            message += f" Did you mean '{closest[0]}'?"
        raise AttributeError(message)

    def __setitem__(self, key, item):
        self._raise_if_frozen()
        self._config[key] = item

    def __getitem__(self, key):
        return self._config[key]

    def __repr__(self):
        return f"<Config {self._config}>"

    def __iter__(self):
        yield from sorted(self._config.keys())

    def __len__(self):
        return len(self._config)

    def __delitem__(self, key):
        self._raise_if_frozen()
        del self._config[key]

    def __contains__(self, item):
        return item in self._config
