"""Numerical helpers the losses share: the clip bound, subnormal outputs, per-sample weights.

Kept apart from the loss classes, which read like their formulas, so that the floating-point care
(why a log is safe, when a gradient entry is flushed to 0) sits in one place.
"""
import numpy as np

from .. import backend
from ..optimizers import flush_subnormals

# probabilities are clipped to [eps, 1 - eps] on the unfused path (Keras), eps = backend.epsilon()
# read at each call (set_epsilon); EPSILON is its default, kept as a public name
EPSILON = 1e-7

# the smallest normal number per floating dtype ('e' float16, 'f' float32, 'd' float64): below it
# a probability keeps fewer significant bits, and its log loses accuracy
_SMALLEST_NORMAL = {c: float(np.finfo(c).tiny) for c in "efdg"}


def _flush_subnormals(g, a_min, scale):
    """Set to 0, in place, the values of the fused gradient ``g = (a - y) * scale`` that are too
    small to be normal numbers; ``a_min`` is the smallest output (probabilities, >= 0). Returns ``g``.

    A confident network's softmax or sigmoid gives the wrong classes outputs below float32's
    smallest normal number (a logit ~87 below the largest). The matrix products of the backward
    pass take a slow microcode path for every vector holding such a subnormal number on many x86
    CPUs (late in mnist1d's MLP training, about 1 ms of a 14 ms epoch). A gradient of 1e-38
    changes no float32 weight. Only when the output can hold such values (its minimum tells)
    does this cost a pass over ``g``.
    """
    if a_min * scale < _SMALLEST_NORMAL[g.dtype.char]:
        flush_subnormals(g)
    return g


def _normal_from(smallest, dtype):
    """True when ``smallest`` (a float: the minimum of an array of ``dtype``) is at least that
    dtype's smallest normal number, i.e. the whole array is normal and positive (False for nan)."""
    return smallest >= _SMALLEST_NORMAL[dtype.char]


def _all_normal(p):
    """True when every value of p is at least the smallest normal number of its dtype (False for nan);
    True for no values (an empty batch has no minimum)."""
    return not p.size or _normal_from(float(p.min()), p.dtype)


def _zero_where_clipped(g, y_pred, upper=None):
    """Set to 0, in place, the entries of the gradient ``g`` whose prediction in ``y_pred`` (of
    ``g``'s shape) the loss clipped to [EPSILON, upper]. Returns ``g``.

    Why: the loss value is computed from the clipped prediction, which does not change when a
    prediction outside that range moves a little, so the loss's derivative there is 0 (Keras, and
    the gradient of torch.clamp). Outputs that are not a sigmoid or softmax (tanh, linear) can lie
    outside [0, 1]. The usual case, nothing clipped, costs a minimum and a maximum and changes no
    entry; a NaN prediction keeps its NaN gradient (it compares False below).
    """
    eps = backend.epsilon()
    upper = 1 - eps if upper is None else upper
    if y_pred.size and (y_pred.min() < eps or y_pred.max() > upper):
        g[(y_pred < eps) | (y_pred > upper)] = 0
    return g


def _per_sample(sample_weight, values):
    """``sample_weight`` of shape (n,) reshaped to scale the rows of ``values`` (n, ...): (n, 1, ...),
    in the dtype of ``values`` (float32 stays float32).

    Any other length is refused rather than broadcast: a (1,) vector would silently scale every
    sample, and an (n, 1) array against (n,) labels would make an (n, n) matrix.

    >>> _per_sample(np.array([1.0, 2.0]), np.zeros((2, 3))).shape
    (2, 1)
    """
    n = values.shape[0]
    w = backend.get_array_module(values).asarray(sample_weight, dtype=values.dtype)
    if w.shape != (n,):
        raise ValueError(f"sample_weight: expected one weight per sample, shape ({n},), got shape {w.shape}")
    return w.reshape((n,) + (1,) * (values.ndim - 1))


def _distributions(values):
    """How many distributions ``values`` (..., k) holds: n for (n, k); n * H * W for the per-pixel
    outputs (n, H, W, k) of a model that ends in a convolution, whose loss is their mean (Keras)."""
    return values.size // values.shape[-1]


# the callers of aligned_targets (losses and metrics, by name) whose targets may be class labels
