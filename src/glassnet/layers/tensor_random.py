"""``glassnet.random``'s draws on tensors while a model is drawn: one node per draw, drawing at every
forward pass (Keras runs ``call`` at every batch; glassnet draws it once, so the draw must be a node).

``gn.random.normal(shape=(ops.shape(z_mean)[0], dim), seed=g)`` inside a call gives a
``RandomDraw("normal", (dim,))`` called on the first tensor the call was given: it reads that
tensor's batch size only, and passes it no gradient; the ops using the noise pass theirs as usual.
``gn.random.dropout(x, rate)`` gives ``RandomDraw("dropout")`` on ``x``: the gradient passes through
the kept entries, scaled by ``1 / (1 - rate)``.
"""
import numpy as np

from .. import backend
from .base import Layer

DISTRIBUTIONS = ("normal", "uniform", "truncated_normal", "dropout")
_ARGUMENTS = {"normal": ("mean", "stddev"), "truncated_normal": ("mean", "stddev"), "uniform": ("minval", "maxval"),
              "dropout": ("rate", "noise_shape")}


class RandomDraw(Layer):
    """A ``glassnet.random`` draw in a model's graph (made by ``glassnet.random``'s functions inside
    a drawn call; you rarely make one yourself). No weights.

    Parameters
    ----------
    distribution : str
        "normal", "uniform", "truncated_normal" (values of ``shape`` per sample) or "dropout" (of its input).
    shape : tuple of int
        One sample's shape of the values drawn (None for dropout).
    arguments : dict
        ``{"mean", "stddev"}``, ``{"minval", "maxval"}``, or dropout's ``{"rate", "noise_shape"}``
        (noise_shape Keras', with the batch axis; None: the input's).
    draw_dtype : str
        The dtype the values are drawn in (keras.random's ``dtype``), then carried in the model's.
    draw_seed : None, int, random.SeedGenerator or its state ``{"seed", "state"}``
        An int draws the same values at each pass (Keras'); a SeedGenerator new ones, its state moved
        on by one per pass (written in model files); None draws from the layer's stream (the model's seed).

    Shapes: ``x`` (batch, ...) -> (batch, *shape), ``x`` giving the batch size only (its gradient 0);
    dropout: ``x``'s shape.

    >>> RandomDraw("uniform", (3,), {"minval": 2.0, "maxval": 3.0}, draw_seed=0)(np.zeros((2, 5))).shape
    (2, 3)
    """

    built_when_made = True

    def __init__(self, distribution, shape=None, arguments=None, draw_dtype="float32", draw_seed=None, **kwargs):
        super().__init__(**kwargs)
        from .. import random
        if distribution not in DISTRIBUTIONS:
            raise ValueError(f"RandomDraw: distribution must be one of {', '.join(DISTRIBUTIONS)}, got {distribution!r:.60}")
        self.distribution = distribution
        arguments = dict(arguments or {})
        if sorted(arguments) != sorted(_ARGUMENTS[distribution]):
            raise ValueError(f"RandomDraw: {distribution} takes the arguments {list(_ARGUMENTS[distribution])}, got "
                             f"{sorted(arguments)}")
        # checked as the functions that make the node check theirs: a model file's config reaches
        # here unchecked, and a rate of 2, a noise_shape of 10**9 or a NaN mean would otherwise load,
        # then fail at predict with NumPy's error, allocate gigabytes, or never end (truncated_normal)
        self.arguments = _checked_arguments(distribution, arguments)
        if distribution == "dropout":
            if shape is not None:
                raise ValueError(f"RandomDraw: dropout takes no shape (its input's), got {shape!r:.60}")
            self.draw_shape = None
        else:
            self.draw_shape = random._shape(shape, "RandomDraw")
        self.draw_dtype = random._float_dtype(draw_dtype, "RandomDraw").name
        if isinstance(draw_seed, dict):         # from a model file: the generator where it stood
            state = draw_seed.get("state")
            # the words as get_config wrote them: NumPy would truncate 1.5, or take [[1, 2]], silently
            if sorted(draw_seed) != ["seed", "state"] or not (
                    draw_seed["seed"] is None or (type(draw_seed["seed"]) is int)) or not (
                    isinstance(state, list) and len(state) == 2
                    and all(type(v) is int and 0 <= v < 2 ** 32 for v in state)):
                raise ValueError(f"RandomDraw: draw_seed as a dict holds seed (an integer or None) and state (two "
                                 f"integers in [0, 2**32)), got {draw_seed!r:.100}")
            generator = random.SeedGenerator(0)     # (its state set below: no entropy drawn)
            generator._initial_seed = draw_seed["seed"]
            generator.state = np.array(draw_seed["state"], dtype=np.uint32).reshape(2)
            draw_seed = generator
        random._check_seed(draw_seed, "RandomDraw")
        self.draw_seed = draw_seed
        self.kept = None            # dropout's mask of the last pass (its backward's)

    def output_shape(self, input_shape):
        if self.distribution == "dropout" and self.arguments["noise_shape"] is not None:
            from .. import random
            random._check_noise_shape(self.arguments["noise_shape"], (None, *input_shape))
        return tuple(input_shape) if self.distribution == "dropout" else self.draw_shape

    def _stream(self):
        from .. import random
        if self.draw_seed is None:
            return self._generator()
        return random.generator(self.draw_seed)

    def forward(self, x, training=False):
        # drawn in training and inference alike: keras.random's functions do not read training
        from .. import random
        xp = backend.get_array_module(x)
        self._input_shape, self._input_dtype = x.shape, x.dtype
        if self.distribution == "dropout":
            out, self.kept = random.dropout_array(backend.to_numpy(x), self.arguments["rate"],
                                                  self.arguments["noise_shape"], self._stream())
            return xp.asarray(out)
        values = random.draw_values(self.distribution, self._stream(), (x.shape[0], *self.draw_shape), self.arguments)
        # rounded to keras.random's dtype, then carried in the model's (as ops.cast on a tensor)
        return xp.asarray(values.astype(self.draw_dtype).astype(x.dtype, copy=False))

    def backward(self, grad_output):
        if not self.needs_input_gradient:
            return None
        xp = backend.get_array_module(grad_output)
        if self.distribution != "dropout":          # the values depend on the input's batch size only
            return xp.zeros(self._input_shape, self._input_dtype)
        keep = 1.0 - self.arguments["rate"]
        if self.kept is None:                       # rate 0: the identity
            return grad_output
        return xp.where(xp.asarray(self.kept), grad_output / keep if keep else grad_output * 0, 0).astype(grad_output.dtype)

    def get_config(self):
        seed = self.draw_seed
        if seed is not None and not isinstance(seed, (int, np.integer)):
            seed = {"seed": seed._initial_seed, "state": [int(v) for v in seed.state]}
        return {**super().get_config(), "distribution": self.distribution,
                "shape": None if self.draw_shape is None else list(self.draw_shape),
                "arguments": dict(self.arguments), "draw_dtype": self.draw_dtype,
                "draw_seed": None if seed is None else seed if isinstance(seed, dict) else int(seed)}


def _checked_arguments(distribution, arguments):
    """``arguments`` of ``distribution`` checked, by ``glassnet.random``'s own rules, as numbers."""
    from .. import random
    if distribution == "dropout":
        rate = random._number(arguments["rate"], "rate", "RandomDraw")
        if not 0 <= rate <= 1:
            raise ValueError(f"random.RandomDraw: rate must be in [0, 1], got {rate}")
        noise_shape = arguments["noise_shape"]
        if noise_shape is not None:         # (its fit to the input's shape: output_shape)
            noise_shape = list(random._shape(noise_shape, "RandomDraw", batch=True))
        return {"rate": rate, "noise_shape": noise_shape}
    first, second = _ARGUMENTS[distribution]
    low = random._number(arguments[first], first, "RandomDraw")
    high = random._number(arguments[second], second, "RandomDraw", None if distribution == "uniform" else ">= 0")
    if distribution == "uniform" and not low <= high:
        raise ValueError(f"random.RandomDraw: minval must be <= maxval, got minval={low}, maxval={high}")
    if distribution == "truncated_normal":
        random._check_truncation(low, high, "RandomDraw")
    return {first: low, second: high}
