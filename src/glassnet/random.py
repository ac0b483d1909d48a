"""Keras 3's ``keras.random``: random draws with Keras' signatures, defaults and seeds.

Functions: normal, uniform, truncated_normal, randint, categorical, dropout, shuffle, gamma, binomial,
beta, and ``SeedGenerator``. ``seed`` is Keras': an int (the same values at every call), a
``SeedGenerator`` (new values at every call, reproducibly from its seed: its state moves on by one
per draw) or None (a generator of the module's own, seeded once from ``glassnet.utils.set_random_seed``'s
root or the operating system). Float draws are float32 unless ``dtype`` says otherwise.

Each draw is Keras' NumPy backend's: ``np.random.default_rng([seed, counter])`` then NumPy's
sampler, so an int seed or a SeedGenerator gives the values Keras 3.15 gives on ``KERAS_BACKEND=numpy``
(TensorFlow's streams differ: its stateless kernels). ``shuffle`` moves whole slices along ``axis``,
as TensorFlow's (Keras' NumPy backend shuffles each slice on its own).

Inside a layer's or model's ``call`` (drawn once, on symbolic tensors: glassnet.graph) a draw whose
shape holds the batch size, ``ops.shape(z_mean)[0]`` (None while drawing), and ``dropout`` of a
tensor, become a graph node (``layers.RandomDraw``) that draws at every forward pass, in training
and in predict as Keras' do, and passes the gradient through what uses it. keras.io's VAE:

    class Sampling(gn.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.seed_generator = gn.random.SeedGenerator(1337)

        def call(self, inputs):
            z_mean, z_log_var = inputs
            batch, dim = ops.shape(z_mean)[0], ops.shape(z_mean)[1]
            epsilon = gn.random.normal(shape=(batch, dim), seed=self.seed_generator)
            return z_mean + ops.exp(0.5 * z_log_var) * epsilon

A node given seed None draws from its layer stream (the model's ``seed``); a node's SeedGenerator
state is written in model files, so a loaded model goes on drawing where the saved one stood.
"""
import numbers

import numpy as np

from . import backend
from ._names import auto_name

__all__ = ["SeedGenerator", "normal", "uniform", "truncated_normal", "randint", "categorical", "dropout",
           "shuffle", "gamma", "binomial", "beta"]


class SeedGenerator:
    """Keras' ``keras.random.SeedGenerator``: a state ``[seed, counter]`` (uint32) that each draw
    reads and moves on by one, so that draws seeded by it differ from call to call and repeat from
    the same ``seed``. ``seed`` None: one drawn from ``glassnet.utils.set_random_seed``'s root or the
    operating system.

    >>> g = SeedGenerator(42)
    >>> a, b = normal((2,), seed=g), normal((2,), seed=g)
    >>> bool((a != b).all()), g.state.tolist()
    (True, [42, 2])
    """

    def __init__(self, seed=None, name=None, **kwargs):
        if kwargs:
            raise ValueError(f"SeedGenerator: unrecognized keyword arguments: {sorted(kwargs)}")
        if name is not None and not isinstance(name, str):
            raise TypeError(f"SeedGenerator: name must be a string, got {name!r:.60}")
        # numbered as Keras' (auto_name: seed_generator, seed_generator_1, ...; again from the
        # first after clear_session), only for a generator made without a name
        self.name = name if name is not None else auto_name("seed_generator")
        self._initial_seed = seed
        if seed is None:
            from ._seeding import entropy
            seed = entropy() % 2 ** 32
        if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
            raise ValueError(f"SeedGenerator: argument `seed` must be an integer, got seed={seed!r:.60}")
        self.state = np.array([int(seed) % 2 ** 32, 0], dtype=np.uint32)

    def next(self, ordered=True):
        """The state to draw from now (a copy); the state moves on by one (``ordered``, Keras'
        default; else Keras' scramble ``(state + 1) * 5387 % 933199``)."""
        value = self.state.copy()
        if ordered:
            self.state[1] += np.uint32(1)
        else:
            self.state = ((self.state.astype(np.int64) + 1) * 5387 % 933199).astype(np.uint32)
        return value

    def get_config(self):
        return {"seed": self._initial_seed, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<SeedGenerator {self.name!r} state={self.state.tolist()}>"


_global = None


def _draw_seed(seed, function):
    """The ``[seed, counter]`` words a draw starts NumPy's generator from (Keras' ``draw_seed``)."""
    global _global
    if isinstance(seed, SeedGenerator):
        return seed.next()
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        return np.array([int(seed) % 2 ** 32, 0], dtype=np.uint32)
    if seed is None:
        if _global is None:
            _global = SeedGenerator()
        return _global.next()
    raise TypeError(f"random.{function}: seed must be None, an integer or a random.SeedGenerator, "
                    f"got {type(seed).__name__} {seed!r:.60}")


def _check_seed(seed, function):
    if not (seed is None or isinstance(seed, SeedGenerator) or (
            isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)))):
        _draw_seed(seed, function)          # (raises, naming seed)


def generator(seed, function="draw"):
    """A NumPy ``Generator`` for one draw seeded by ``seed`` (see ``_draw_seed``)."""
    return np.random.default_rng(_draw_seed(seed, function))


# -- reading arguments ------------------------------------------------------------------------------
def _is_tensor(value):
    from ._ops_reading import _is_tensor as is_tensor
    return is_tensor(value)


def _shape(shape, function, batch=False):
    """``shape`` as a tuple of ints >= 0 (an int: one axis); ``batch``: its first entry may be None."""
    given = shape
    if isinstance(shape, (int, np.integer)) and not isinstance(shape, (bool, np.bool_)):
        shape = (shape,)
    if isinstance(shape, np.ndarray) and shape.ndim == 1:
        shape = shape.tolist()
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"random.{function}: shape must be a tuple of ints, got {type(given).__name__} {given!r:.60}")
    out = []
    for i, n in enumerate(shape):
        if n is None and batch and i == 0:
            out.append(None)
            continue
        if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)) or n < 0:
            raise (TypeError if not isinstance(n, (int, np.integer)) else ValueError)(
                f"random.{function}: shape must hold ints >= 0, got {given!r:.80}" + (
                    "; None stands for the batch size only as the first entry, inside a layer's call"
                    if n is None else ""))
        out.append(int(n))
    return tuple(out)


def _float_dtype(dtype, function):
    if dtype is None:
        return np.dtype(backend.floatx())       # Keras' floatx (config.set_floatx)
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"random.{function}: dtype must be a float dtype name, got {dtype!r:.60}") from None
    if resolved.kind != "f":
        raise TypeError(f"random.{function}: dtype must be a float dtype (float16, float32, float64), got {resolved.name}")
    return resolved


def _int_dtype(dtype, function):
    try:
        resolved = np.dtype(dtype)
    except TypeError:
        raise TypeError(f"random.{function}: dtype must be an integer dtype name, got {dtype!r:.60}") from None
    if resolved.kind not in "iu":
        raise TypeError(f"random.{function}: dtype must be an integer dtype (int32, int64, ...), got {resolved.name}")
    return resolved


def _number(value, name, function, rule=None):
    if _is_tensor(value) or isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.generic)):
        raise TypeError(f"random.{function}: {name} must be a number, got {type(value).__name__} {value!r:.60}")
    value = float(value)
    if rule == ">= 0" and not value >= 0:
        raise ValueError(f"random.{function}: {name} must be >= 0, got {value}")
    if rule == "> 0" and not value > 0:
        raise ValueError(f"random.{function}: {name} must be > 0, got {value}")
    return value


def _node(distribution, shape, arguments, dtype, seed, function):
    """A draw of shape (None, ...) inside a call being drawn: a RandomDraw node on the batch of the
    first tensor the call was given (glassnet._draw_sources)."""
    from ._draw_sources import batch_source
    source = batch_source()
    if source is None:
        raise ValueError(f"random.{function}: shape {shape} holds None (the batch size) outside a layer's or model's "
                         f"call being drawn; give a shape of ints, or draw inside call with a shape taken from a "
                         f"tensor, (ops.shape(x)[0], dim)")
    _check_seed(seed, function)
    from .layers.tensor_random import RandomDraw
    return RandomDraw(distribution, shape[1:], arguments, draw_dtype=dtype.name, draw_seed=seed)(source)


def draw_values(distribution, rng, shape, arguments):
    """Float64 values of ``distribution`` (normal, uniform, truncated_normal) drawn by ``rng``, as
    Keras' NumPy backend draws them (the nodes draw by this too)."""
    if distribution == "normal":
        return rng.normal(size=shape, loc=arguments["mean"], scale=arguments["stddev"])
    if distribution == "uniform":
        return rng.uniform(size=shape, low=arguments["minval"], high=arguments["maxval"])
    mean, stddev = arguments["mean"], arguments["stddev"]
    low, high, count = mean - 2 * stddev, mean + 2 * stddev, int(np.prod(shape))
    values = np.empty(0)
    while values.shape[0] < count:      # Keras' rejection: draws outside 2 stddev are drawn again
        batch = rng.normal(loc=mean, scale=stddev, size=count)
        values = np.append(values, batch[(batch >= low) & (batch <= high)])
    return values[:count].reshape(shape)


def _continuous(distribution, shape, arguments, dtype, seed, function):
    dtype = _float_dtype(dtype, function)
    shape = _shape(shape, function, batch=True)
    if shape and shape[0] is None:
        return _node(distribution, shape, arguments, dtype, seed, function)
    return draw_values(distribution, generator(seed, function), shape, arguments).astype(dtype)


# -- the functions ------------------------------------------------------------------------------
def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal values of ``shape``, mean ``mean``, standard deviation ``stddev``, in ``dtype``
    (float32). Inside a drawn call a shape (batch, ...) with the batch None makes a node."""
    arguments = {"mean": _number(mean, "mean", "normal"), "stddev": _number(stddev, "stddev", "normal", ">= 0")}
    return _continuous("normal", shape, arguments, dtype, seed, "normal")


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Uniform values of ``shape`` in ``[minval, maxval)``, in ``dtype`` (float32)."""
    arguments = {"minval": _number(minval, "minval", "uniform"), "maxval": _number(maxval, "maxval", "uniform")}
    if not arguments["minval"] <= arguments["maxval"]:
        raise ValueError(f"random.uniform: minval must be <= maxval, got minval={minval}, maxval={maxval}")
    return _continuous("uniform", shape, arguments, dtype, seed, "uniform")


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal values of ``shape`` within ``mean +- 2 stddev`` (those outside drawn again), in ``dtype``."""
    arguments = {"mean": _number(mean, "mean", "truncated_normal"),
                 "stddev": _number(stddev, "stddev", "truncated_normal", ">= 0")}
    _check_truncation(arguments["mean"], arguments["stddev"], "truncated_normal")
    return _continuous("truncated_normal", shape, arguments, dtype, seed, "truncated_normal")


def _check_truncation(mean, stddev, function):
    # Keras' rejection draws again each value outside mean +- 2 stddev: with a bound NaN (a NaN
    # mean, or inf - inf) no value is ever inside, and the loop of draw_values would never end
    if not mean - 2 * stddev <= mean + 2 * stddev:
        raise ValueError(f"random.{function}: mean +- 2 stddev must be numbers (the values are drawn within "
                         f"them), got mean={mean}, stddev={stddev}")


def _arrays_only(function, **named):
    for name, value in named.items():
        if _is_tensor(value):
            raise TypeError(f"random.{function}: {name} is a tensor of a model being drawn; glassnet's {function} "
                            f"takes arrays (on tensors: normal, uniform, truncated_normal with the batch in the "
                            f"shape, and dropout)")


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers of ``shape`` in ``[minval, maxval)``, in ``dtype`` (int32)."""
    _arrays_only("randint", minval=minval, maxval=maxval)
    shape, dtype = _shape(shape, "randint"), _int_dtype(dtype, "randint")
    for name, value in (("minval", minval), ("maxval", maxval)):
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
            raise TypeError(f"random.randint: {name} must be an integer, got {value!r:.60}")
    if not minval < maxval:
        raise ValueError(f"random.randint: minval must be < maxval, got minval={minval}, maxval={maxval}")
    return generator(seed, "randint").integers(low=minval, high=maxval, size=shape, dtype=dtype)


def categorical(logits, num_samples, dtype="int32", seed=None):
    """``num_samples`` class indices per row of ``logits`` (batch, classes), each drawn with the
    probabilities ``softmax(row)``: (batch, num_samples) in ``dtype`` (int32)."""
    _arrays_only("categorical", logits=logits)
    array = np.asarray(logits)
    if array.dtype.kind not in "fiu" or array.ndim != 2 or array.shape[1] == 0:
        raise ValueError(f"random.categorical: logits must be a 2-D array of numbers (batch_size, num_classes), got "
                         f"{array.dtype.name} of shape {array.shape}")
    if isinstance(num_samples, (bool, np.bool_)) or not isinstance(num_samples, (int, np.integer)) or num_samples < 0:
        raise ValueError(f"random.categorical: num_samples must be an integer >= 0, got {num_samples!r:.60}")
    dtype = _int_dtype(dtype, "categorical")
    rng = generator(seed, "categorical")
    array = array if array.dtype.kind == "f" else array.astype(np.float32)
    out = np.empty((len(array), int(num_samples)), dtype=dtype)
    for i, row in enumerate(array):     # Keras' NumPy backend: one choice per row, in turn
        p = np.exp(row - row.max())
        out[i] = rng.choice(np.arange(len(row)), size=int(num_samples), p=p / p.sum())
    return out


def dropout(inputs, rate, noise_shape=None, seed=None):
    """``inputs`` with each entry kept with probability ``1 - rate`` (and scaled by ``1 / (1 -
    rate)``) or zeroed; ``noise_shape`` (a shape broadcast to ``inputs``', None entries taking its
    sizes) draws one decision per entry of it. Always applied, as Keras' function (Dropout layers
    read ``training``). On a tensor, a node: the gradient passes through the kept entries, scaled."""
    rate = _number(rate, "rate", "dropout")
    if not 0 <= rate <= 1:
        raise ValueError(f"random.dropout: rate must be in [0, 1], got {rate}")
    if noise_shape is not None:
        noise_shape = _shape(noise_shape, "dropout", batch=True)
        if any(n is None for n in noise_shape[1:]):       # (_shape let only the first be None)
            raise ValueError(f"random.dropout: noise_shape {noise_shape}")
    if _is_tensor(inputs):
        from .layers.symbolic import sample_shape_of
        from .layers.tensor_random import RandomDraw
        if noise_shape is not None:
            _check_noise_shape(noise_shape, (None, *sample_shape_of(inputs)))
        _check_seed(seed, "dropout")
        return RandomDraw("dropout", None, {"rate": rate, "noise_shape": None if noise_shape is None else list(noise_shape)},
                          draw_seed=seed)(inputs)
    array = np.asarray(inputs)
    if array.dtype.kind not in "f":
        array = array.astype(np.float32)
    if noise_shape is not None:
        _check_noise_shape(noise_shape, array.shape)
    return dropout_array(array, rate, noise_shape, generator(seed, "dropout"))[0]


def _check_noise_shape(noise_shape, shape):
    fits = len(noise_shape) == len(shape) and all(n is None or n == 1 or s is None or n == s
                                                 for n, s in zip(noise_shape, shape))
    if not fits or (shape[0] is None and noise_shape[0] not in (None, 1)):
        raise ValueError(f"random.dropout: noise_shape must have inputs' rank, each entry None, 1 or inputs' size "
                         f"there (the batch's None or 1 on a tensor), got {tuple(noise_shape)} for inputs of shape "
                         f"{tuple(shape)}")


def dropout_array(x, rate, noise_shape, rng):
    """Keras' NumPy backend's dropout of the array ``x``: ``(out, kept)``, ``kept`` the boolean mask
    (broadcast to ``x``; None where rate is 0)."""
    if rate == 1.0:
        return np.zeros_like(x), np.zeros(x.shape, bool)
    if rate == 0.0:
        return x, None
    keep = 1.0 - rate
    shape = x.shape if noise_shape is None else [x.shape[i] if n is None else n for i, n in enumerate(noise_shape)]
    kept = np.broadcast_to(rng.uniform(size=shape) < keep, x.shape)
    return np.where(kept, (x / keep).astype(x.dtype), np.zeros_like(x)), kept


def shuffle(x, axis=0, seed=None):
    """``x`` with its slices along ``axis`` in a random order (a permutation of them, each whole)."""
    _arrays_only("shuffle", x=x)
    array = np.asarray(x)
    if isinstance(axis, (bool, np.bool_)) or not isinstance(axis, (int, np.integer)) or not -array.ndim <= axis < max(array.ndim, 1):
        raise ValueError(f"random.shuffle: axis must be an integer in [-{array.ndim}, {array.ndim}), got {axis!r:.40} "
                         f"for x of shape {array.shape}")
    return generator(seed, "shuffle").permutation(array, axis=int(axis))


def gamma(shape, alpha, dtype=None, seed=None):
    """Gamma values of ``shape``, shape parameter ``alpha`` (scale 1), in ``dtype`` (float32)."""
    _arrays_only("gamma", alpha=alpha)
    alpha = _number(alpha, "alpha", "gamma", "> 0")
    shape, dtype = _shape(shape, "gamma"), _float_dtype(dtype, "gamma")
    return generator(seed, "gamma").gamma(alpha, scale=1.0, size=shape).astype(dtype)


def binomial(shape, counts, probabilities, dtype=None, seed=None):
    """Binomial counts of ``shape`` (``counts`` trials of success probability ``probabilities``,
    numbers or arrays broadcast to ``shape``), as floats of ``dtype`` (float32), as Keras'."""
    _arrays_only("binomial", counts=counts, probabilities=probabilities)
    shape, dtype = _shape(shape, "binomial"), _float_dtype(dtype, "binomial")
    counts, probabilities = np.asarray(counts), np.asarray(probabilities)
    if counts.dtype.kind not in "fiu" or np.any(counts < 0):
        raise ValueError(f"random.binomial: counts must be numbers >= 0, got {counts!r:.60}")
    if probabilities.dtype.kind not in "fiu" or np.any((probabilities < 0) | (probabilities > 1)):
        raise ValueError(f"random.binomial: probabilities must be in [0, 1], got {probabilities!r:.60}")
    return generator(seed, "binomial").binomial(n=counts, p=probabilities, size=shape).astype(dtype)


def beta(shape, alpha, beta, dtype=None, seed=None):
    """Beta values of ``shape`` with parameters ``alpha`` and ``beta`` (> 0), in ``dtype`` (float32)."""
    _arrays_only("beta", alpha=alpha, beta=beta)
    a, b = _number(alpha, "alpha", "beta", "> 0"), _number(beta, "beta", "beta", "> 0")
    shape, dtype = _shape(shape, "beta"), _float_dtype(dtype, "beta")
    return generator(seed, "beta").beta(a=a, b=b, size=shape).astype(dtype)
