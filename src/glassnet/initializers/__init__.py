"""Weight initializers: each is ``f(shape, rng, dtype) -> ndarray``.

Two kinds, used alike: functions with fixed settings, by name (``"glorot_uniform"``, the seeds'
``"plain"``), and Keras' classes with settings of their own (``RandomNormal(stddev=0.01)``,
``VarianceScaling(2.0, "fan_out")``, ``Orthogonal()``), whose instances a model file stores as
``{"class_name", "config"}``.

They draw with a NumPy ``Generator`` (never the global NumPy state), so one model seed fixes every
weight; the model moves the arrays to the backend afterwards (Thinc's pattern). The random classes
also take Keras' ``seed`` (``RandomInitializer``, ``seeds.py``): None, the default, draws from the
model's generator; an int draws the same values at every call, in any model; a
``glassnet.random.SeedGenerator`` new values at each call. Seeded draws are Keras 3.15's NumPy
backend's, bit for bit (not TensorFlow's).

Fans follow Keras: for a dense kernel ``(fan_in, fan_out)``; for a conv kernel ``(kh, kw, c_in, c_out)``
the receptive field ``kh * kw`` multiplies both.
"""
from .. import _settings, saving
from .classes import (Constant, GlorotNormal, GlorotUniform, HeNormal, HeUniform, Identity, Initializer,
                      LecunNormal, LecunUniform, Ones, Orthogonal, RandomInitializer, RandomNormal, RandomUniform,
                      TruncatedNormal, VarianceScaling, Zeros)
from .functions import (glorot_normal, glorot_uniform, he_normal, he_uniform, lecun_normal, lecun_uniform,
                        ones, plain, random_normal, random_uniform, zeros)
from .fourier import STFT

INITIALIZERS = {
    "zeros": zeros, "ones": ones, "plain": plain, "random_normal": random_normal,
    "random_uniform": random_uniform, "glorot_uniform": glorot_uniform, "glorot_normal": glorot_normal,
    "xavier": glorot_normal, "xavier_uniform": glorot_uniform, "xavier_normal": glorot_normal,
    "he_uniform": he_uniform, "he_normal": he_normal, "he": he_normal,
    "lecun_normal": lecun_normal, "lecun_uniform": lecun_uniform,
    # Keras' names for classes whose defaults have no function of their own: each ``get`` makes a
    # new instance (one shared instance changed by one model would change every model)
    "truncated_normal": TruncatedNormal, "variance_scaling": VarianceScaling,
    "orthogonal": Orthogonal, "identity": Identity, "stft": STFT,
    # Keras' short names (Embedding's default is "uniform"); a config records the long ones
    "uniform": random_uniform, "normal": random_normal, "zero": zeros, "one": ones,
}

# Keras' other names for classes: lower-case (keras.initializers.orthogonal(gain=2.0)) and long
constant, truncated_normal, variance_scaling, orthogonal, identity, stft = (
    Constant, TruncatedNormal, VarianceScaling, Orthogonal, Identity, STFT)
OrthogonalInitializer, IdentityInitializer, STFTInitializer = Orthogonal, Identity, STFT
# Keras' long class names, read in a config's class_name (Keras' deserialize takes them) or as a string
_LONG_NAMES = {"OrthogonalInitializer": "Orthogonal", "IdentityInitializer": "Identity", "STFTInitializer": "STFT"}

# the classes a model file may name; a subclass of one of them would load as its parent, so it is
# refused when saving (``_settings.serialize``)
INITIALIZER_CLASSES = {cls.__name__: cls for cls in (
    Zeros, Ones, Constant, RandomNormal, RandomUniform, TruncatedNormal, VarianceScaling,
    GlorotUniform, GlorotNormal, HeUniform, HeNormal, LecunUniform, LecunNormal, Orthogonal, Identity, STFT)}


# the settings of Keras' initializers that glassnet's classes do not take: None, their default, says
# nothing (the fan axes are a kernel's usual ones); ``seed`` the random classes take
_KERAS_ONLY = ("input_axes", "output_axes")


def get(identifier, name="initializer"):
    """The initializer for a name in ``INITIALIZERS`` or of a class in ``INITIALIZER_CLASSES``
    (``"Orthogonal"``: its defaults, as Keras reads it), an ``Initializer`` (or its class), a model
    file's ``{"class_name": ..., "config": {...}}``, or any callable ``f(shape, rng, dtype)``.
    Errors start with ``name`` (e.g. "Dense: kernel_initializer")."""
    if isinstance(identifier, str):
        identifier = _LONG_NAMES.get(identifier, identifier)
        identifier = INITIALIZERS.get(identifier, INITIALIZER_CLASSES.get(identifier, identifier))
    if isinstance(identifier, type) and issubclass(identifier, Initializer):   # the class: Keras makes one
        if identifier in (Initializer, RandomInitializer):
            raise ValueError(f"{name}: {identifier.__name__} is a base of the initializer classes; give one of "
                             f"{', '.join(INITIALIZER_CLASSES)} or a subclass of your own")
        return identifier()
    if callable(identifier) and not getattr(identifier, "is_model", False):    # a model(x) is no f(shape, ...)
        return identifier
    # Keras' serialize() form: its fan axes at None (their default) say nothing glassnet's classes
    # need, and are refused otherwise; its seed goes to the class
    identifier = _settings.keras_entry(identifier, name, _KERAS_ONLY)
    if isinstance(identifier, dict) and isinstance(identifier.get("class_name"), str) \
            and identifier["class_name"] in _LONG_NAMES:
        identifier = {**identifier, "class_name": _LONG_NAMES[identifier["class_name"]]}
    if (isinstance(identifier, dict) and identifier.get("class_name") in INITIALIZER_CLASSES
            and isinstance(identifier.get("config"), dict)
            and any(key in identifier["config"] for key in _KERAS_ONLY)):
        # Keras' get_config() in the short form (a Keras 2 or tf.keras model's JSON, or Keras 3.15's
        # {"class_name", "config": init.get_config()}, whose VarianceScaling family adds the fan
        # axes): its fan axes, which glassnet's classes never hold, dropped at None as in the form
        # above, refused otherwise
        identifier = _settings.keras_entry({"module": "keras.initializers", **identifier}, name, _KERAS_ONLY)
    if (initializer := _settings.from_file_entry(identifier, INITIALIZER_CLASSES, name)) is not None:
        return initializer
    if saving.is_entry(identifier):          # one of yours, registered: a class's instance or a function
        return saving.deserialize(identifier, name, (Initializer,), functions=True)
    raise ValueError(f"{name}: expected one of {sorted(INITIALIZERS)}, an Initializer such as "
                     f"RandomNormal(stddev=0.01), or a callable f(shape, rng, dtype), got {identifier!r:.100}")


def deserialize(config, custom_objects=None):
    """The initializer ``config`` describes (Keras' ``deserialize``): what ``get`` takes, a name,
    glassnet's ``{"class_name", "config"}`` or Keras' ``serialize()`` form; ``custom_objects``,
    ``{registered name: class or function}``, for one of yours not registered."""
    with saving.scope_of(custom_objects, "initializers.deserialize"):
        return get(config)


def serialize(initializer):
    """How a config records ``initializer`` (Keras' ``serialize``): see ``name_of``."""
    return name_of(initializer)


def name_of(initializer):
    """How a model config records an initializer: the name of a named function, a built-in
    class's instance as ``{"class_name", "config"}``, a function or class of your own registered
    with ``glassnet.saving.register_serializable`` as ``{"registered_name", ...}``; ValueError for
    any other callable or class, which a file cannot hold (it never stores code)."""
    if isinstance(initializer, str):
        return initializer
    for name, fn in INITIALIZERS.items():
        if fn is initializer:
            return name
    if isinstance(initializer, Initializer):        # a built-in class's, or a registered one of yours
        return _settings.serialize(initializer, INITIALIZER_CLASSES, "initializer", Initializer)
    if callable(initializer) and saving.is_registered(initializer):
        return saving.serialize(initializer, "initializer")
    raise ValueError(f"initializer {initializer!r} is not registered; only named initializers, the "
                     f"built-in Initializer classes and those of your own registered with "
                     f"@glassnet.saving.register_serializable() can be saved")
