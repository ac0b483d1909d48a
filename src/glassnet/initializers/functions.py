"""The named initializers: functions ``f(shape, rng, dtype) -> ndarray`` with fixed settings.

Fans follow Keras: for a dense kernel ``(fan_in, fan_out)``; for a conv kernel ``(kh, kw, c_in, c_out)``
the receptive field ``kh * kw`` multiplies both.
"""
import numpy as np


def _fans(shape):
    """(fan_in, fan_out), each at least 1 (Keras' guard: an empty weight divides by neither)."""
    if len(shape) == 0:          # a scalar weight
        return 1, 1
    if len(shape) == 1:          # a bias
        return max(1, shape[0]), max(1, shape[0])
    receptive = int(np.prod(shape[:-2])) if len(shape) > 2 else 1
    return max(1, shape[-2] * receptive), max(1, shape[-1] * receptive)


def zeros(shape, rng, dtype):
    """All zeros (the usual bias initializer)."""
    return np.zeros(shape, dtype=dtype)


def ones(shape, rng, dtype):
    """All ones (BatchNormalization's gamma)."""
    return np.ones(shape, dtype=dtype)


def plain(shape, rng, dtype):
    """The seeds' "small random numbers": 0.01 x N(0, 1)."""
    return (0.01 * rng.standard_normal(shape)).astype(dtype)


def random_normal(shape, rng, dtype):
    """N(0, 0.05^2), Keras' RandomNormal default."""
    return (0.05 * rng.standard_normal(shape)).astype(dtype)


def random_uniform(shape, rng, dtype):
    """U(-0.05, 0.05), Keras' RandomUniform default."""
    return rng.uniform(-0.05, 0.05, shape).astype(dtype)


def glorot_uniform(shape, rng, dtype):
    """U(-l, l) with l = sqrt(6 / (fan_in + fan_out)) (Glorot & Bengio 2010)."""
    fan_in, fan_out = _fans(shape)
    limit = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, shape).astype(dtype)


def glorot_normal(shape, rng, dtype):
    """N(0, 2 / (fan_in + fan_out)), truncated at two standard deviations as in Keras."""
    fan_in, fan_out = _fans(shape)
    return _truncated_normal(shape, rng, np.sqrt(2.0 / (fan_in + fan_out)), dtype)


def he_uniform(shape, rng, dtype):
    """U(-l, l) with l = sqrt(6 / fan_in) (He et al. 2015), for ReLU networks."""
    fan_in, _ = _fans(shape)
    limit = np.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, shape).astype(dtype)


def he_normal(shape, rng, dtype):
    """N(0, 2 / fan_in), truncated at two standard deviations as in Keras."""
    fan_in, _ = _fans(shape)
    return _truncated_normal(shape, rng, np.sqrt(2.0 / fan_in), dtype)


def lecun_normal(shape, rng, dtype):
    """N(0, 1 / fan_in), truncated at two standard deviations as in Keras."""
    fan_in, _ = _fans(shape)
    return _truncated_normal(shape, rng, np.sqrt(1.0 / fan_in), dtype)


def lecun_uniform(shape, rng, dtype):
    """U(-l, l) with l = sqrt(3 / fan_in)."""
    fan_in, _ = _fans(shape)
    limit = np.sqrt(3.0 / fan_in)
    return rng.uniform(-limit, limit, shape).astype(dtype)


def _truncated_normal(shape, rng, stddev, dtype):
    # Keras divides by 0.8796... so that the truncated distribution keeps the intended variance.
    scale = stddev / 0.87962566103423978
    return (scale * _standard_truncated(shape, rng)).astype(dtype)


def _standard_truncated(shape, rng):
    """Standard normal draws with every value beyond two standard deviations drawn again, as
    truncation at +-2 means (Keras' rule)."""
    values = rng.standard_normal(shape)
    bad = np.abs(values) > 2.0
    while bad.any():
        values[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(values) > 2.0
    return values
