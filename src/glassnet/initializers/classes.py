"""Keras' initializer classes: initializers with settings of their own, which a model file
stores as ``{"class_name", "config"}`` (``Setting``)."""
import math

import numpy as np

from .. import _settings
from .. import backend
from .._validation import check_choice, check_number
from . import seeds
from .functions import (_fans, _standard_truncated, _truncated_normal, glorot_normal, glorot_uniform,
                        he_normal, he_uniform, lecun_normal, lecun_uniform, ones, zeros)


class Initializer(_settings.Setting):
    """The base of the initializer classes: ``initializer(shape, rng, dtype) -> ndarray``, and a
    ``get_config()`` of the settings that rebuild it (``repr`` and ``==`` come from it)."""

    def __call__(self, shape, rng, dtype):
        raise NotImplementedError


def _keras_call(rng, dtype):
    """``(rng, dtype)`` of a call written as Keras' ``init(shape, dtype=None)``: a dtype given
    second, where glassnet's generator goes (``Zeros()((2,), "float32")``), is the dtype; a missing
    dtype is ``floatx()``, as Keras' (keras.io's researchers guide:
    ``tf.zeros_initializer()(shape=(units,), dtype="float32")``)."""
    if isinstance(rng, (str, np.dtype, type)):
        if dtype is not None:
            raise TypeError(f"initializer: dtype given twice, {rng!r} second and dtype={dtype!r}")
        rng, dtype = None, rng
    return rng, np.dtype(backend.floatx() if dtype is None else dtype)


class RandomInitializer(Initializer):
    """The base of the initializers that draw random values, with Keras' ``seed`` (``seeds.py``):
    None (the default) draws from the generator the layer passes, the model's ``seed``; an int
    draws the same values at every call, whatever model builds the weight; a
    ``glassnet.random.SeedGenerator`` draws new values at each call, reproducibly. A seeded
    initializer draws as Keras 3.15's NumPy backend: the values are that backend's, bit for bit.

    Called as Keras' are too, ``init(shape)`` or ``init(shape, dtype="float64")``: with no
    generator and no seed it draws from ``glassnet.random``'s own stream.
    """
    seed = None

    def _set_seed(self, seed):
        self.seed = seeds.check_seed(seed, type(self).__name__)

    def __call__(self, shape, rng=None, dtype=None):
        shape = tuple(int(n) for n in shape)
        rng, dtype = _keras_call(rng, dtype)
        if self.seed is not None:
            return self._seeded(shape, dtype)
        return self._draw(shape, seeds.generator(None) if rng is None else rng, dtype)

    def _draw(self, shape, rng, dtype):         # glassnet's draw from the model's generator
        raise NotImplementedError

    def _seeded(self, shape, dtype):            # Keras' draw (NumPy backend) for a seed
        raise NotImplementedError

    def get_config(self):
        return seeds.seed_config(self.seed)


class _Named(Initializer):
    """A class for a named initializer function, with no settings: Keras' ``GlorotUniform()`` and
    friends draw exactly what ``"glorot_uniform"`` draws."""
    function = None

    def __call__(self, shape, rng=None, dtype=None):
        rng, dtype = _keras_call(rng, dtype)
        return type(self).function(shape, rng, dtype)


class _NamedRandom(RandomInitializer):
    """A class for a random named initializer function: unseeded, it draws exactly what the
    function draws; seeded, what Keras' ``VarianceScaling(*keras)`` with that seed draws."""
    function = None
    keras = None            # (scale, mode, distribution)

    def __init__(self, seed=None):
        self._set_seed(seed)

    def _draw(self, shape, rng, dtype):
        return type(self).function(shape, rng, dtype)

    def _seeded(self, shape, dtype):
        return seeds.variance_scaling(*self.keras, shape, dtype, self.seed)


class Zeros(_Named):
    """All zeros."""
    function = staticmethod(zeros)


class Ones(_Named):
    """All ones."""
    function = staticmethod(ones)


class GlorotUniform(_NamedRandom):
    """``"glorot_uniform"``: ``VarianceScaling(1.0, "fan_avg", "uniform")``."""
    function = staticmethod(glorot_uniform)
    keras = (1.0, "fan_avg", "uniform")


class GlorotNormal(_NamedRandom):
    """``"glorot_normal"``: ``VarianceScaling(1.0, "fan_avg", "truncated_normal")``."""
    function = staticmethod(glorot_normal)
    keras = (1.0, "fan_avg", "truncated_normal")


class HeUniform(_NamedRandom):
    """``"he_uniform"``: ``VarianceScaling(2.0, "fan_in", "uniform")``."""
    function = staticmethod(he_uniform)
    keras = (2.0, "fan_in", "uniform")


class HeNormal(_NamedRandom):
    """``"he_normal"``: ``VarianceScaling(2.0, "fan_in", "truncated_normal")``."""
    function = staticmethod(he_normal)
    keras = (2.0, "fan_in", "truncated_normal")


class LecunUniform(_NamedRandom):
    """``"lecun_uniform"``: ``VarianceScaling(1.0, "fan_in", "uniform")``."""
    function = staticmethod(lecun_uniform)
    keras = (1.0, "fan_in", "uniform")


class LecunNormal(_NamedRandom):
    """``"lecun_normal"``: ``VarianceScaling(1.0, "fan_in", "truncated_normal")``."""
    function = staticmethod(lecun_normal)
    keras = (1.0, "fan_in", "truncated_normal")


class Constant(Initializer):
    """Every value ``value`` (Keras' ``Constant``): a number, or an array of numbers broadcast to
    the weight's shape, as Keras 3.15 multiplies it by ones (keras.io's PointNet starts a
    ``Dense(n * n)``'s bias at the identity, ``Constant(np.eye(n).flatten())``, shape ``(n * n,)``).
    An array that does not broadcast to the weight's shape is refused when the layer is built.

    >>> Constant(0.1)((2, 2), np.random.default_rng(0), np.float32).tolist()
    [[0.10000000149011612, 0.10000000149011612], [0.10000000149011612, 0.10000000149011612]]
    >>> Constant(np.eye(2).flatten())((4,), np.random.default_rng(0), np.float32).tolist()
    [1.0, 0.0, 0.0, 1.0]
    """

    def __init__(self, value=0.0):
        if isinstance(value, dict) and value.get("class_name") == "__numpy__":
            config = value.get("config")
            value = config.get("value") if isinstance(config, dict) else None   # Keras' entry of an array
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value[()]           # Keras' Constant(np.array(0.5)): the number it holds
        if isinstance(value, (list, tuple, np.ndarray)):
            # kept as float64 (Keras keeps the array), cast to the weight's dtype when it is drawn
            try:
                array = np.asarray(value)
            except ValueError:          # ragged nested lists: NumPy's message named no argument
                array = np.asarray([], dtype=object)
            if array.dtype.kind not in "iuf" or not np.isfinite(array).all():
                raise ValueError(f"Constant: value must be a finite number or an array of finite numbers, "
                                 f"got {value!r:.100}")
            self.value = array.astype(np.float64)
        else:
            self.value = check_number(value, "Constant: value", "finite")

    def __call__(self, shape, rng=None, dtype=None):
        rng, dtype = _keras_call(rng, dtype)
        if isinstance(self.value, np.ndarray):
            try:
                filled = np.broadcast_to(self.value, shape)
            except ValueError:
                raise ValueError(f"Constant: a value of shape {self.value.shape} does not broadcast to the "
                                 f"weight's shape {tuple(shape)}") from None
            return filled.astype(dtype)     # (a new, writable array)
        return np.full(shape, self.value, dtype=dtype)

    def get_config(self):
        # JSON values only (a model file): an array as nested lists, which __init__ takes back
        return {"value": self.value.tolist() if isinstance(self.value, np.ndarray) else self.value}


class RandomNormal(RandomInitializer):
    """N(mean, stddev^2); the defaults are ``"random_normal"``'s, and ``RandomNormal(stddev=0.01)``
    is the seeds' ``"plain"``. ``seed``: see ``RandomInitializer``.

    >>> bool((RandomNormal(seed=42)((2, 3)) == RandomNormal(seed=42)((2, 3))).all())
    True
    """
    distribution = "normal"

    def __init__(self, mean=0.0, stddev=0.05, seed=None):
        self.mean = check_number(mean, f"{type(self).__name__}: mean", "finite")
        self.stddev = check_number(stddev, f"{type(self).__name__}: stddev", ">= 0")
        self._set_seed(seed)

    def _draw(self, shape, rng, dtype):
        return (self.mean + self.stddev * rng.standard_normal(shape)).astype(dtype)

    def _seeded(self, shape, dtype):
        return seeds.draw(self.distribution, shape, dtype, self.seed, mean=self.mean, stddev=self.stddev)

    def get_config(self):
        return {"mean": self.mean, "stddev": self.stddev, **super().get_config()}


class RandomUniform(RandomInitializer):
    """U(minval, maxval); the defaults are ``"random_uniform"``'s. ``seed``: see ``RandomInitializer``."""

    def __init__(self, minval=-0.05, maxval=0.05, seed=None):
        self.minval = check_number(minval, "RandomUniform: minval", "finite")
        self.maxval = check_number(maxval, "RandomUniform: maxval", "finite")
        if not self.minval < self.maxval:
            raise ValueError(f"RandomUniform: minval must be below maxval, got minval={minval!r}, "
                             f"maxval={maxval!r}")
        self._set_seed(seed)

    def _draw(self, shape, rng, dtype):
        return rng.uniform(self.minval, self.maxval, shape).astype(dtype)

    def _seeded(self, shape, dtype):
        return seeds.draw("uniform", shape, dtype, self.seed, minval=self.minval, maxval=self.maxval)

    def get_config(self):
        return {"minval": self.minval, "maxval": self.maxval, **super().get_config()}


class TruncatedNormal(RandomNormal):
    """N(mean, stddev^2) with every draw beyond two ``stddev`` from the mean drawn again (Keras'
    ``TruncatedNormal``: ``stddev`` is the untruncated normal's, so the values' spread is ~0.88 of it).
    Seeded, Keras' rejection: whole batches drawn again, the values inside kept in order."""
    distribution = "truncated_normal"

    def _draw(self, shape, rng, dtype):
        return (self.mean + self.stddev * _standard_truncated(shape, rng)).astype(dtype)


class VarianceScaling(RandomInitializer):
    """Draws of variance ``scale / n``, n the fan ``mode`` names (Keras' ``VarianceScaling``).

    mode : "fan_in", "fan_out" or "fan_avg" ((fan_in + fan_out) / 2).
    distribution : "truncated_normal" (truncated at two standard deviations and widened by
    1 / 0.8796, so the variance is still ``scale / n``; "normal" is taken as this, as in Keras),
    "untruncated_normal", or "uniform" (U(-l, l), l = sqrt(3 * scale / n)).
    seed : see ``RandomInitializer``.

    >>> VarianceScaling(2.0, "fan_in", "uniform")
    VarianceScaling(scale=2.0, mode='fan_in', distribution='uniform')
    """
    MODES = ("fan_in", "fan_out", "fan_avg")
    DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")

    def __init__(self, scale=1.0, mode="fan_in", distribution="truncated_normal", seed=None):
        self.scale = check_number(scale, "VarianceScaling: scale", "> 0")
        check_choice(mode, "VarianceScaling: mode", self.MODES)
        # Keras lower-cases it and reads "normal" as "truncated_normal"
        distribution = check_choice(distribution, "VarianceScaling: distribution", self.DISTRIBUTIONS + ("normal",),
                                    lower=True, expected=f"one of {list(self.DISTRIBUTIONS)}")
        if distribution == "normal":
            distribution = "truncated_normal"
        self.mode, self.distribution = mode, distribution
        self._set_seed(seed)

    def _seeded(self, shape, dtype):
        return seeds.variance_scaling(self.scale, self.mode, self.distribution, shape, dtype, self.seed)

    def _draw(self, shape, rng, dtype):
        fan_in, fan_out = _fans(shape)
        n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2}[self.mode]
        variance = self.scale / n
        if self.distribution == "uniform":
            limit = math.sqrt(3.0 * variance)
            return rng.uniform(-limit, limit, shape).astype(dtype)
        if self.distribution == "untruncated_normal":
            return (math.sqrt(variance) * rng.standard_normal(shape)).astype(dtype)
        return _truncated_normal(shape, rng, math.sqrt(variance), dtype)

    def get_config(self):
        return {"scale": self.scale, "mode": self.mode, "distribution": self.distribution, **super().get_config()}


class Orthogonal(RandomInitializer):
    """A random orthogonal matrix times ``gain`` (Saxe et al. 2014; Keras' ``Orthogonal``).

    The weight is seen as a matrix of shape (prod(shape[:-1]), shape[-1]): its columns are
    orthonormal when there are at least as many rows, else its rows are. Drawn as Keras does: the
    Q of the QR decomposition of a standard normal matrix, each column's sign set by R's diagonal
    (so Q is uniformly distributed). Unseeded, in float64 then cast; seeded (see
    ``RandomInitializer``), in ``dtype`` as Keras' NumPy backend.

    >>> w = Orthogonal()((4, 3), np.random.default_rng(0), np.float64)
    >>> bool(np.allclose(w.T @ w, np.eye(3)))
    True
    """

    def __init__(self, gain=1.0, seed=None):
        self.gain = check_number(gain, "Orthogonal: gain", "finite")
        self._set_seed(seed)

    def __call__(self, shape, rng=None, dtype=None):
        if len(shape) < 2:
            raise ValueError(f"Orthogonal: needs a weight of at least two axes, got shape {tuple(shape)}")
        return super().__call__(shape, rng, dtype)

    def _seeded(self, shape, dtype):
        return seeds.orthogonal(self.gain, shape, dtype, self.seed)

    def _draw(self, shape, rng, dtype):
        rows, cols = math.prod(shape[:-1]), shape[-1]
        a = rng.standard_normal((max(rows, cols), min(rows, cols)))
        q, r = np.linalg.qr(a)
        q *= np.sign(np.diag(r))        # a sign of 0 (measure zero) would zero a column
        if rows < cols:
            q = q.T
        return (self.gain * q).reshape(shape).astype(dtype, order="C")

    def get_config(self):
        return {"gain": self.gain, **super().get_config()}


class Identity(Initializer):
    """``gain`` times the identity matrix, for a 2-D weight (a rectangular one gets ones on its
    main diagonal), as Keras' ``Identity``.

    >>> Identity()((2, 3), np.random.default_rng(0), np.float32).tolist()
    [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    """

    def __init__(self, gain=1.0):
        self.gain = check_number(gain, "Identity: gain", "finite")

    def __call__(self, shape, rng=None, dtype=None):
        rng, dtype = _keras_call(rng, dtype)
        if len(shape) != 2:
            raise ValueError(f"Identity: needs a 2-D weight, got shape {tuple(shape)}")
        return (self.gain * np.eye(*shape)).astype(dtype)

    def get_config(self):
        return {"gain": self.gain}
