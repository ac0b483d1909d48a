"""Losses: a value and its gradient with respect to the predictions, side by side.

Conventions (n = number of samples, k = number of outputs):

=============================== ================================== ==============================
name                            value                              gradient dL/dy_hat
=============================== ================================== ==============================
mse                             mean((y_hat - y)^2) over n*k       2 (y_hat - y) / (n k)
squared_error                   sum((y_hat - y)^2) / (2 n)         (y_hat - y) / n
mae                             mean(|y_hat - y|)                  sign(y_hat - y) / (n k)
binary_crossentropy             -mean(y log p + (1-y) log(1-p))    (p - y) / (p (1 - p) n k)
categorical_crossentropy        -sum(y log p) / n                  -y / (p n)
sparse_categorical_crossentropy same, y as integer labels          same
=============================== ================================== ==============================

In the cross-entropies p is the prediction clipped to [EPSILON, 1 - EPSILON] (Keras), so that an
output that is not a probability (a tanh or linear output below 0 or above 1) gives a finite value;
the value does not change where a prediction was clipped, so the gradient is 0 there. Keras'
categorical cross-entropy also rescales each row of predictions to sum to 1 before the log; glassnet
does not. A softmax output sums to 1 already; an output that does not (a sigmoid or relu layer given
this loss, usually a slip) gives a different value and gradient from Keras'.

With a sigmoid (binary) or softmax (categorical) output the model uses the *fused* form: the loss is
computed from the logits z without ever taking log(0), and dL/dz = (y_hat - y) / N directly, which
is both cheaper and exact (scikit-learn's and every framework's trick). N is n for the categorical
losses and n*k for binary cross-entropy, whose value is a mean over all outputs (Keras).

Sample weights (``fit(..., sample_weight=w)``) have methods of their own -- ``weighted``,
``weighted_gradient``, ``weighted_from_logits``, ``weighted_gradient_from_logits`` -- so that the
unweighted ones, which training calls on every batch, stay exactly as they are. Keras semantics
(``reduction="sum_over_batch_size"``): each sample's loss is multiplied by its weight w_i and the sum
is divided by the number of samples n, *not* by the sum of the weights; every gradient above is
multiplied row by row by w_i. Each weighted method computes the same terms as its unweighted
twin, scaled by w before the same reduction, so weights of exactly 1 give bit-identical results.
"""
import numpy as np

from . import backend
from ._rows import row_max
from .optimizers import flush_subnormals

EPSILON = 1e-7    # probabilities are clipped to [EPSILON, 1 - EPSILON] on the unfused path (Keras)

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
    """True when every value of p is at least the smallest normal number of its dtype (False for nan)."""
    return _normal_from(float(p.min()), p.dtype)


def _zero_where_clipped(g, y_pred):
    """Set to 0, in place, the entries of the gradient ``g`` whose prediction in ``y_pred`` (of
    ``g``'s shape) the loss clipped to [EPSILON, 1 - EPSILON]. Returns ``g``.

    Why: the loss value is computed from the clipped prediction, which does not change when a
    prediction outside that range moves a little, so the loss's derivative there is 0 (Keras, and
    the gradient of torch.clamp). Outputs that are not a sigmoid or softmax (tanh, linear) can lie
    outside [0, 1]. The usual case, nothing clipped, costs a minimum and a maximum and changes no
    entry; a NaN prediction keeps its NaN gradient (it compares False below).
    """
    if y_pred.size and (y_pred.min() < EPSILON or y_pred.max() > 1 - EPSILON):
        g[(y_pred < EPSILON) | (y_pred > 1 - EPSILON)] = 0
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
_CLASSIFICATION = frozenset({"binary_crossentropy", "categorical_crossentropy", "accuracy",
                             "binary_accuracy", "categorical_accuracy"})


def aligned_targets(y_pred, y_true, caller):
    """``y_true`` in the shape of ``y_pred`` (n, k). Targets of shape (n,) for a single output
    unit (n, 1) are reshaped, as Keras does; any other shape is refused, because broadcasting
    would turn (n, 1) against (n,) into an (n, n) matrix and a plausible but wrong number.

    >>> aligned_targets(np.zeros((3, 1)), np.array([0, 1, 1]), "mse").shape
    (3, 1)
    """
    y_true = backend.get_array_module(y_pred).asarray(y_true)
    if y_true.shape == y_pred.shape:
        return y_true
    if y_pred.shape[-1] == 1 and y_true.shape == y_pred.shape[:-1]:
        return y_true.reshape(y_pred.shape)
    hint = ""
    if y_true.ndim == y_pred.ndim - 1:
        # one dimension short: class labels for a classifier, one target per sample for a
        # regression model with several outputs; only the first is about labels
        if caller in _CLASSIFICATION:
            hint = ("; it takes targets shaped like the output, not class labels (those go with "
                    "'sparse_categorical_crossentropy' and 'accuracy', or one-hot encode them with "
                    "glassnet.utils.to_categorical)")
        else:
            shape = "(n, " + ", ".join(str(d) for d in y_pred.shape[1:]) + ")"
            hint = (f"; it takes targets shaped like the output, {shape}: one value for each of its "
                    f"{y_pred.shape[-1]} output units")
    raise ValueError(f"{caller}: expected targets of the output's shape {tuple(y_pred.shape)}, got "
                     f"shape {tuple(y_true.shape)}{hint}")


class Loss:
    """Base class. ``fuses`` names the output activation whose gradient this loss can fuse.

    A model compiled with a subclass of your own trains and evaluates, but ``save_model`` refuses
    it: a model file records the loss by its name, which ``load_model`` looks up in ``LOSSES``."""
    name = None
    fuses = None
    sparse = False          # targets are integer labels rather than arrays shaped like the output

    def __call__(self, y_pred, y_true):
        """The loss value (a float) for predictions ``y_pred`` (n, k) and targets ``y_true``."""
        raise NotImplementedError

    def _targets(self, y_pred, y_true):
        """``y_true`` checked against ``y_pred`` (see ``aligned_targets``): each public method of a
        loss starts with it, so a call with mismatched shapes fails instead of broadcasting."""
        return aligned_targets(y_pred, y_true, self.name)

    def gradient(self, y_pred, y_true):
        """dL/d(y_pred), shape (n, k): a new array (the weighted methods scale it in place)."""
        raise NotImplementedError

    def weighted(self, y_pred, y_true, sample_weight):
        """The loss with sample ``i``'s loss multiplied by ``sample_weight[i]`` (shape (n,)), summed and
        divided by n (Keras' ``sum_over_batch_size``); equals ``__call__`` for weights of ones.

        >>> get("mse").weighted(np.array([[1.0], [3.0]]), np.zeros((2, 1)), np.array([1.0, 0.0]))
        0.5
        """
        raise NotImplementedError(f"{type(self).__name__} does not support sample weights: implement "
                                  f"weighted(y_pred, y_true, sample_weight)")

    def weighted_gradient(self, y_pred, y_true, sample_weight):
        """d(weighted)/d(y_pred), shape (n, k): the unweighted gradient with row i times w_i, which
        holds for every loss that is a sum of per-sample terms."""
        g = self.gradient(y_pred, y_true)
        g *= _per_sample(sample_weight, g)
        return g

    def from_logits_and_gradient(self, z, a, y_true):
        """``(from_logits(z, a, y_true), gradient_from_logits(a, y_true))``, the training step's
        pair for losses that fuse; a loss may override it to share work between the two.

        z, a : the logits and the output activation's values, (n, k); y_true : the targets as
        the loss takes them. Returns (the loss value, a float; dL/dz, an array of z's shape).
        """
        return self.from_logits(z, a, y_true), self.gradient_from_logits(a, y_true)

    def weighted_gradient_from_logits(self, a, y_true, sample_weight):
        """The fused dL/dz of ``gradient_from_logits`` with row i times w_i (losses that fuse)."""
        g = self.gradient_from_logits(a, y_true)
        g *= _per_sample(sample_weight, g)
        return g

    def fused_activation(self):
        """The output activation this loss fuses with (``fuses``), or None when it must not.

        A subclass that overrides the value or the gradient of a loss that fuses (a focal or
        re-weighted cross-entropy) but inherits its fused methods would train on the parent's
        maths whenever the model ends in that activation: it does not fuse. A class that sets
        ``fuses`` in its own body says its fused methods match its value and gradient.
        """
        if self.fuses is None:
            return None
        owner = next(cls for cls in type(self).__mro__ if "fuses" in vars(cls))
        unfused = ("__call__", "gradient", "weighted", "weighted_gradient")
        if any(getattr(type(self), m) is not getattr(owner, m) for m in unfused):
            return None
        return self.fuses

    def prepare_targets(self, y, n_outputs, dtype, name="y"):
        """Validate ``y`` (already a finite numeric array) against an output of ``n_outputs``
        units and return it in the form ``__call__`` expects."""
        if y.ndim == 1 and n_outputs == 1:
            y = y[:, None]                          # (n,) labels for one output unit
        if y.ndim != 2 or y.shape[1] != n_outputs:
            hint = ""
            if y.ndim == 1 and n_outputs > 1:       # labels for a classifier (see aligned_targets)
                hint = ("; for integer class labels use loss='sparse_categorical_crossentropy' "
                        "or one-hot encode them with glassnet.utils.to_categorical"
                        if self.name in _CLASSIFICATION else
                        f"; a model with {n_outputs} output units takes {n_outputs} target values per sample")
            raise ValueError(f"{name}: expected targets of shape (n_samples, {n_outputs}) to match "
                             f"the model's output, got shape {y.shape}{hint}")
        return y.astype(dtype, copy=False)

    def get_config(self):
        return self.name

    def __repr__(self):
        return f"<loss {self.name}>"


class MeanSquaredError(Loss):
    name = "mse"

    def __call__(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        d = y_pred - y_true
        return float(np.vdot(d, d)) / d.size

    def weighted(self, y_pred, y_true, sample_weight):
        y_true = self._targets(y_pred, y_true)
        d = y_pred - y_true
        return float(np.vdot(d * _per_sample(sample_weight, d), d)) / d.size

    def gradient(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        d = np.subtract(y_pred, y_true)
        d *= 2.0 / d.size
        return d


class SquaredError(Loss):
    """Half the summed squares, averaged over samples (seed 003, scikit-learn)."""
    name = "squared_error"

    def __call__(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        d = y_pred - y_true
        return 0.5 * float(np.vdot(d, d)) / d.shape[0]

    def weighted(self, y_pred, y_true, sample_weight):
        y_true = self._targets(y_pred, y_true)
        d = y_pred - y_true
        return 0.5 * float(np.vdot(d * _per_sample(sample_weight, d), d)) / d.shape[0]

    def gradient(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        d = np.subtract(y_pred, y_true)
        d *= 1.0 / d.shape[0]
        return d


class MeanAbsoluteError(Loss):
    name = "mae"

    def __call__(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        return float(np.abs(y_pred - y_true).mean())

    def weighted(self, y_pred, y_true, sample_weight):
        y_true = self._targets(y_pred, y_true)
        terms = np.abs(y_pred - y_true)
        terms *= _per_sample(sample_weight, terms)
        return float(terms.mean())

    def gradient(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        g = np.sign(y_pred - y_true)
        g *= 1.0 / g.size
        return g


class BinaryCrossentropy(Loss):
    name = "binary_crossentropy"
    fuses = "sigmoid"

    def prepare_targets(self, y, n_outputs, dtype, name="y"):
        y = super().prepare_targets(y, n_outputs, dtype, name)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(f"{name}: binary cross-entropy expects targets in [0, 1], got values "
                             f"from {y.min()} to {y.max()}")
        return y

    def __call__(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        p = np.clip(y_pred, EPSILON, 1 - EPSILON)
        return -float(np.mean(y_true * np.log(p) + (1 - y_true) * np.log1p(-p)))

    def weighted(self, y_pred, y_true, sample_weight):
        y_true = self._targets(y_pred, y_true)
        p = np.clip(y_pred, EPSILON, 1 - EPSILON)
        terms = y_true * np.log(p) + (1 - y_true) * np.log1p(-p)
        terms *= _per_sample(sample_weight, terms)
        return -float(np.mean(terms))

    def gradient(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        p = np.clip(y_pred, EPSILON, 1 - EPSILON)
        return _zero_where_clipped((p - y_true) / (p * (1 - p) * y_pred.size), y_pred)

    def from_logits(self, z, a, y_true):
        """The value from the logits z: log(1 + e^z) - z y, with logaddexp(0, z) = log(1 + e^z)
        computed without overflow; never log(0)."""
        terms = np.logaddexp(0, z)
        terms -= z * y_true
        return float(np.add.reduce(terms, axis=None)) / terms.size

    def weighted_from_logits(self, z, a, y_true, sample_weight):
        terms = np.logaddexp(0, z)
        terms -= z * y_true
        terms *= _per_sample(sample_weight, terms)
        return float(np.add.reduce(terms, axis=None)) / terms.size

    def output_gradient_unclipped(self, a, y_true):
        """dL/dA of the value the fused path computes, which clips nothing: ``-y/a + (1-y)/(1-a)``
        over the number of outputs (a term with a zero coefficient is 0). Where a sigmoid output
        is exactly 0 or 1 a term is infinite, while dL/dz = (a - y) / N stays finite: that is what
        fusing buys. ``model.trace`` shows it as the output's dA."""
        y = self._targets(a, y_true)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(y == 0, 0.0, -y / a) + np.where(y == 1, 0.0, (1 - y) / (1 - a))
        return (g / a.size).astype(a.dtype, copy=False)

    def gradient_from_logits(self, a, y_true):
        """dL/dz = (sigmoid(z) - y) / (n k)."""
        g = np.subtract(a, y_true)
        g *= 1.0 / g.size
        return _flush_subnormals(g, float(a.min()), 1.0 / g.size)


class CategoricalCrossentropy(Loss):
    """Targets one-hot (or any distribution) of shape (n, k)."""
    name = "categorical_crossentropy"
    fuses = "softmax"

    def prepare_targets(self, y, n_outputs, dtype, name="y"):
        """Also checks that every row is a distribution (>= 0, summing to 1). Why refuse other
        rows: the fused gradient softmax - y is dL/dz only when each row sums to 1 (in general
        it is softmax * sum(y) - y), so such targets would train on a gradient that is not the
        loss's. A row of zeros, say, to leave a sample out, is what ``sample_weight`` is for."""
        y = super().prepare_targets(y, n_outputs, dtype, name)
        if y.size:
            sums = y.sum(axis=1, dtype=np.float64)
            worst = int(np.argmax(np.abs(sums - 1)))
            if y.min() < 0 or abs(sums[worst] - 1) > 1e-3:
                raise ValueError(
                    f"{name}: categorical cross-entropy expects each row to be a distribution "
                    f"(one-hot or soft labels: values >= 0 that sum to 1), got row {worst} summing "
                    f"to {sums[worst]:.6g} and values from {y.min()} to {y.max()}; to weigh or "
                    f"leave out samples, use sample_weight")
        return y

    def __call__(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        p = np.clip(y_pred, EPSILON, 1 - EPSILON)
        return -float(np.vdot(y_true, np.log(p))) / _distributions(y_pred)

    def weighted(self, y_pred, y_true, sample_weight):
        y_true = self._targets(y_pred, y_true)
        p = np.clip(y_pred, EPSILON, 1 - EPSILON)
        return -float(np.vdot(y_true * _per_sample(sample_weight, p), np.log(p))) / _distributions(y_pred)

    def gradient(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        p = np.clip(y_pred, EPSILON, 1 - EPSILON)
        return _zero_where_clipped(-y_true / (p * _distributions(y_pred)), y_pred)

    def from_logits(self, z, a, y_true):
        """The value from the logits z and the softmax a = softmax(z).

        -sum(y log a) / n is the loss itself and costs one log over a. It needs every output to be
        a normal number: an output whose logit is ~87 below its row's largest (float32) is
        subnormal, with too few bits for an accurate log, and ~104 below it is exactly 0, where
        log(0) = -inf would turn y = 0 into nan. Then the log-sum-exp form, exact for any logits,
        takes over. (Why not always that form: it needs row maxima, which NumPy reduces row by row
        along the short last axis -- on (100, 10) float32, 7 us each against 2 us for the log;
        the loss went from 20 to 7 us.)
        """
        return self._value_from_logits(z, a, y_true, float(a.min()))

    def _value_from_logits(self, z, a, y_true, a_min):
        if _normal_from(a_min, a.dtype):     # every log is finite and accurate
            return -float(np.vdot(y_true, np.log(a))) / _distributions(z)
        # sum of y * (lse - z) position by position: each difference is exact where the target
        # sits on the row's largest logit (lse - z_max = -log(max a)), whereas the difference of two
        # batch sums, vdot(lse, sum y) - vdot(y, z), cancels (logits ~1e5: 0.016 for a true 0)
        lse = self._logsumexp(z, a)
        return float(np.vdot(y_true, lse[..., None] - z)) / _distributions(z)

    def weighted_from_logits(self, z, a, y_true, sample_weight):
        # the loss is linear in y: weighting each sample's targets weighs its loss
        return self.from_logits(z, a, y_true * _per_sample(sample_weight, z))

    @staticmethod
    def _logsumexp(z, a):
        # log(sum(exp(z))) = z_j - log(softmax(z)_j) for any j; at the argmax, softmax >= 1/k, so
        # the log is exact: no second pass of exponentials is needed.
        return row_max(z) - np.log(row_max(a))

    def output_gradient_unclipped(self, a, y_true):
        """dL/dA of the value the fused path computes, which clips nothing: ``-y / a`` per
        distribution (0 where y is 0); infinite where a softmax output underflowed to 0 under a
        target, while dL/dz = (a - y) / n stays finite. ``model.trace`` shows it as the output's dA."""
        y = self._dense_targets(a, y_true)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(y == 0, 0.0, -y / a)
        return (g / _distributions(a)).astype(a.dtype, copy=False)

    def _dense_targets(self, a, y_true):
        """The targets as an array of ``a``'s shape (one-hot for sparse labels)."""
        return self._targets(a, y_true)

    def gradient_from_logits(self, a, y_true):
        return self._gradient_from_logits(a, y_true, float(a.min()))

    def _gradient_from_logits(self, a, y_true, a_min):
        g = np.subtract(a, y_true)
        scale = 1.0 / _distributions(g)
        g *= scale
        return _flush_subnormals(g, a_min, scale)

    def from_logits_and_gradient(self, z, a, y_true):
        # both need the smallest output (the log's check, the gradient's flush): one minimum
        # for the two (~1.5 us on a (1, 10) output, 2% of a per-sample SGD step)
        a_min = float(a.min())
        return self._value_from_logits(z, a, y_true, a_min), self._gradient_from_logits(a, y_true, a_min)


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Targets as integer class labels of shape (n,) (or (n, 1))."""
    name = "sparse_categorical_crossentropy"
    fuses = "softmax"       # its own value, gradient and fused methods (see Loss.fused_activation)
    sparse = True

    def prepare_targets(self, y, n_outputs, dtype, name="y"):
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"{name}: sparse categorical cross-entropy expects integer labels of shape "
                             f"(n_samples,), got shape {y.shape}")
        if y.dtype.kind == "f":
            if not np.all(y == np.round(y)):
                raise ValueError(f"{name}: expected integer class labels, got non-integer values")
        labels = y.astype(np.int64)
        if labels.min() < 0 or labels.max() >= n_outputs:
            raise ValueError(f"{name}: labels must lie in [0, {n_outputs}) for a model with {n_outputs} "
                             f"outputs, got values from {labels.min()} to {labels.max()}")
        return labels

    def _targets(self, y_pred, y_true):
        y_true = backend.get_array_module(y_pred).asarray(y_true)
        n = y_pred.shape[0]
        if y_true.shape == (n, 1):
            y_true = y_true[:, 0]
        if y_true.shape != (n,) or y_true.dtype.kind not in "iu":
            raise ValueError(f"{self.name}: expected integer class labels of shape ({n},), got "
                             f"{y_true.dtype} of shape {tuple(y_true.shape)}; one-hot targets go "
                             f"with 'categorical_crossentropy'")
        return y_true

    @staticmethod
    def _picked(values, labels):
        return values[np.arange(labels.shape[0]), labels]

    def _dense_targets(self, a, y_true):
        labels = self._targets(a, y_true)
        onehot = backend.get_array_module(a).zeros_like(a)
        onehot[np.arange(labels.shape[0]), labels] = 1
        return onehot

    def __call__(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        p = np.clip(self._picked(y_pred, y_true), EPSILON, 1 - EPSILON)
        return -float(np.log(p).sum()) / y_pred.shape[0]

    def weighted(self, y_pred, y_true, sample_weight):
        y_true = self._targets(y_pred, y_true)
        p = np.clip(self._picked(y_pred, y_true), EPSILON, 1 - EPSILON)
        terms = np.log(p)
        terms *= _per_sample(sample_weight, terms)
        return -float(terms.sum()) / y_pred.shape[0]

    def gradient(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        g = np.zeros_like(y_pred)
        rows = np.arange(y_true.shape[0])
        picked = y_pred[rows, y_true]
        g[rows, y_true] = _zero_where_clipped(
            -1.0 / (np.clip(picked, EPSILON, 1 - EPSILON) * y_pred.shape[0]), picked)
        return g

    # not CategoricalCrossentropy's shared minimum: here the value's check is on the picked outputs
    from_logits_and_gradient = Loss.from_logits_and_gradient

    def _terms_from_logits(self, z, a, y_true):
        """Each sample's loss, -log a[label]: from the picked softmax outputs when all of them are
        normal numbers, else as lse - z[label] (see CategoricalCrossentropy.from_logits)."""
        picked = self._picked(a, y_true)
        if _all_normal(picked):
            return -np.log(picked)
        return self._logsumexp(z, a) - self._picked(z, y_true)

    def from_logits(self, z, a, y_true):
        return float(self._terms_from_logits(z, a, y_true).sum()) / z.shape[0]

    def weighted_from_logits(self, z, a, y_true, sample_weight):
        terms = self._terms_from_logits(z, a, y_true)
        terms *= _per_sample(sample_weight, terms)
        return float(terms.sum()) / z.shape[0]

    def gradient_from_logits(self, a, y_true):
        g = a.copy()
        g[np.arange(y_true.shape[0]), y_true] -= 1
        g *= 1.0 / g.shape[0]
        return _flush_subnormals(g, float(a.min()), 1.0 / g.shape[0])


LOSSES = {cls.name: cls for cls in (MeanSquaredError, SquaredError, MeanAbsoluteError,
                                    BinaryCrossentropy, CategoricalCrossentropy,
                                    SparseCategoricalCrossentropy)}
ALIASES = {"mean_squared_error": "mse", "mean_absolute_error": "mae"}


def get(identifier):
    """Return a ``Loss`` for a name in ``LOSSES`` (or its alias) or a ``Loss`` instance."""
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, str):
        name = ALIASES.get(identifier, identifier)
        if name in LOSSES:
            return LOSSES[name]()
    raise ValueError(f"loss: expected one of {sorted(LOSSES) + sorted(ALIASES)} or a Loss instance, "
                     f"got {identifier!r}")
