"""Keras' ``seed`` of the random initializers: reading it, writing it in a config, and the draws a
seeded initializer makes.

A seed of None draws from the generator the layer passes (the model's ``seed``): glassnet's own
draws, unchanged. An int seed or a ``glassnet.random.SeedGenerator`` draws as Keras 3.15's NumPy
backend does: ``np.random.default_rng([seed, counter])`` then NumPy's sampler
(``glassnet.random.draw_values``), with Keras' formulas for the scale, so the values are Keras'
on ``KERAS_BACKEND=numpy`` bit for bit (TensorFlow's and JAX's streams differ). An int seed gives
the same values at every call (counter 0); a SeedGenerator's counter moves on by one per call.

``glassnet.random`` is imported only when a seed is given: ``import glassnet`` stays light.
"""
import math

import numpy as np

from .functions import _fans


def check_seed(seed, owner):
    """``seed`` as an initializer holds it: None, an int, or a ``glassnet.random.SeedGenerator``
    (Keras' serialized form of one, ``{"class_name": "SeedGenerator", "config": {...}}``, is made
    into one, as Keras' constructor does). Anything else is a TypeError naming ``owner: seed``."""
    if seed is None:
        return None
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, (bool, np.bool_)):
        return int(seed)
    from .. import random
    if isinstance(seed, random.SeedGenerator):
        return seed
    if (isinstance(seed, dict) and seed.get("class_name") == "SeedGenerator" and isinstance(seed.get("config"), dict)
            and set(seed) <= {"module", "class_name", "config", "registered_name"}):
        try:
            return random.SeedGenerator(**seed["config"])
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{owner}: seed: bad SeedGenerator config {seed['config']!r:.100} ({exc})") from None
    raise TypeError(f"{owner}: seed must be None, an int or a glassnet.random.SeedGenerator, "
                    f"got {type(seed).__name__} {seed!r:.60}")


def seed_config(seed):
    """``{"seed": ...}`` for a config, or ``{}`` for None (the config of an unseeded initializer,
    its ``repr`` and model files stay as before). A SeedGenerator is written in Keras' serialized
    form, its initial seed, which Keras' ``from_config`` reads back too."""
    if seed is None:
        return {}
    if isinstance(seed, int):
        return {"seed": seed}
    return {"seed": {"module": "keras.random", "class_name": "SeedGenerator", "config": seed.get_config(),
                     "registered_name": None}}


def generator(seed):
    """The NumPy ``Generator`` of one seeded draw (Keras' ``draw_seed``: a SeedGenerator moves on)."""
    from .. import random
    return random.generator(seed, "initializer")


def draw(distribution, shape, dtype, seed, **arguments):
    """Keras' ``random.normal`` / ``uniform`` / ``truncated_normal`` on the NumPy backend: float64
    draws cast to ``dtype``."""
    from .. import random
    return random.draw_values(distribution, generator(seed), tuple(shape), arguments).astype(dtype)


def variance_scaling(scale, mode, distribution, shape, dtype, seed):
    """Keras' ``VarianceScaling.__call__``, its arithmetic as written (Keras divides by
    ``max(1.0, n)``, then takes the square root), so the scale rounds as Keras' does."""
    fan_in, fan_out = _fans(shape)
    n = {"fan_in": fan_in, "fan_out": fan_out, "fan_avg": (fan_in + fan_out) / 2.0}[mode]
    scale = scale / max(1.0, n)
    if distribution == "truncated_normal":
        return draw("truncated_normal", shape, dtype, seed, mean=0.0, stddev=math.sqrt(scale) / 0.87962566103423978)
    if distribution == "untruncated_normal":
        return draw("normal", shape, dtype, seed, mean=0.0, stddev=math.sqrt(scale))
    limit = math.sqrt(3.0 * scale)
    return draw("uniform", shape, dtype, seed, minval=-limit, maxval=limit)


def orthogonal(gain, shape, dtype, seed):
    """Keras' ``Orthogonal.__call__`` on the NumPy backend: the normal matrix drawn in ``dtype``,
    then its QR there (np.linalg.qr), each column's sign from R's diagonal."""
    rows, cols = math.prod(shape[:-1]), shape[-1]
    a = draw("normal", (max(rows, cols), min(rows, cols)), dtype, seed, mean=0.0, stddev=1.0)
    q, r = np.linalg.qr(a)
    q *= np.sign(np.diag(r))
    if rows < cols:
        q = q.T
    return (gain * q.reshape(shape)).astype(dtype, order="C")
