"""The cross-entropies: binary (sigmoid outputs), categorical (softmax, one-hot or soft targets) and
sparse categorical (softmax, integer labels), each with its fused form from the logits.

``from_logits=True`` (Keras' argument) is for a model whose last layer has no activation: the loss
applies the sigmoid or softmax itself, and every one of its methods is then the fused form (the
value from the logits, exact for any of them, and dL/dz = (activation(z) - y) / N), with the
model's outputs as the logits.
"""
import numpy as np

from .. import activations, backend
from .._rows import row_max
from .._validation import check_class_labels, check_flag, check_number
from ._numerics import (_all_normal, _distributions, _flush_subnormals, _normal_from,
                        _per_sample, _zero_where_clipped)
from .base import DEFAULT_REDUCTION, Loss, WithSettings


def class_labels(y_pred, y_true, caller, hint="", positions=False):
    """``y_true`` checked as integer class labels (n,) (or (n, 1)) of the outputs ``y_pred`` (n, k),
    a ValueError naming ``caller`` (and ending with ``hint``) otherwise; returns them as (n,).
    ``positions``: outputs (n, ..., k) take one label per position, ``y_pred.shape[:-1]`` (or with
    a last axis of 1), returned in that shape."""
    y_true = backend.get_array_module(y_pred).asarray(y_true)
    shape = tuple(y_pred.shape[:-1]) if positions and y_pred.ndim > 2 else (y_pred.shape[0],)
    if y_true.shape == (*shape, 1):
        y_true = y_true[..., 0]
    if y_true.shape == shape and y_true.dtype.kind == "f":
        # labels held as floats (a float32 label array), as Keras casts them: whole numbers in
        # range become int64, a fraction is refused (fit's labels are int64 already: no cost there)
        return check_class_labels(y_true, y_pred.shape[-1], caller)
    if y_true.shape != shape or y_true.dtype.kind not in "iu":
        if getattr(y_pred, "dtype", None) is not None and y_pred.dtype.kind in "iub":
            # integer "predictions": the labels came first, in Keras' order, loss(y_true, y_pred)
            hint = ("; y_pred holds integers: called directly, a glassnet loss takes (y_pred, y_true), "
                    "PyTorch's order (Keras' is (y_true, y_pred))")
        raise ValueError(f"{caller}: expected integer class labels of shape {shape}, got "
                         f"{y_true.dtype} of shape {tuple(y_true.shape)}{hint}")
    # a label of -1 would pick the last class through NumPy's negative indexing, silently
    # (fit checks its labels once, in prepare_targets; this is the check of a direct call)
    k = y_pred.shape[-1]
    if y_true.size and (int(y_true.min()) < 0 or int(y_true.max()) >= k):
        raise ValueError(f"{caller}: labels must lie in [0, {k}) for {k} outputs, got values "
                         f"from {int(y_true.min())} to {int(y_true.max())}")
    return y_true


def _position_weights(sample_weight, terms):
    """Weights to multiply ``terms`` (n, ...) by: one per sample, (n,), shaped to scale each
    sample's positions (``_per_sample``), or one per position, of ``terms``' shape, as they are."""
    w = backend.get_array_module(terms).asarray(sample_weight)
    if w.ndim > 1 and w.shape == terms.shape:
        return w.astype(terms.dtype, copy=False)
    return _per_sample(sample_weight, terms)


def rescaled(p, sums=None):
    """Each row of outputs ``p`` (n, ..., k) divided by its sum over the last axis, as Keras'
    categorical cross-entropies do before the clip and the log (a row of a softmax sums to 1
    already; a linear head's does not). A row summing to 0 gives inf/nan, as in Keras. ``sums``:
    those sums (n, ..., 1), when the caller needs them again (``backprop_rescaled``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return p / (p.sum(axis=-1, keepdims=True) if sums is None else sums)


def backprop_rescaled(g, r, sums):
    """dL/dp from ``g`` = dL/dr, r = ``rescaled(p, sums)``, all (n, ..., k), ``sums`` = sum(p) over
    the last axis (n, ..., 1): dr_j/dp_i = (delta_ij - r_j) / s, so dL/dp_i = (g_i - sum_j g_j r_j) / s."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return (g - (g * r).sum(axis=-1, keepdims=True)) / sums


class TermsFromLogits:
    """The fused values of a loss over integer labels whose ``_terms_from_logits(z, a, y_true)``
    gives each sample's term (sparse cross-entropy's -log p, the generalized cross-entropy's
    (1 - p^q) / q): their mean, and their weighted sum over the samples."""

    def value_from_logits(self, z, a, y_true):
        return float(self._terms_from_logits(z, a, y_true).sum()) / _distributions(z)

    def per_sample_from_logits(self, z, a, y_true):
        return self._terms_from_logits(z, a, self._targets(a, y_true))

    def weighted_from_logits(self, z, a, y_true, sample_weight):
        terms = self._terms_from_logits(z, a, y_true)
        terms *= _position_weights(sample_weight, terms)
        return float(terms.sum()) / _distributions(z)


class _Logits(WithSettings):
    """``from_logits`` and ``label_smoothing``: the settings (Keras' attributes too), the methods a
    cross-entropy uses when its inputs are logits, and the smoothing of its targets.

    ``label_smoothing=s`` (Keras'): the loss trains on ``y (1 - s) + s / k`` instead of y, k the
    classes (2 for the binary loss: ``y (1 - s) + s / 2``), so that no output is pushed all the way
    to 0 or 1. Only the loss sees them: metrics score the targets as given. Each public method
    smooths the targets it is given, once."""
    from_logits = False         # also what a loss pickled before the settings reads
    label_smoothing = 0.0
    axis = -1                   # Keras' axis= of the classes (another: glassnet.losses.adapted)
    keras_axis = True           # its constructor takes Keras' axis= (base._taking_keras_defaults)
    _SETTINGS = "from_logits, label_smoothing"

    def __init__(self, from_logits=False, label_smoothing=0.0, reduction=DEFAULT_REDUCTION, name=None, **unknown):
        if unknown:         # (Keras' dtype=None and axis=-1 are taken before: base._taking_keras_defaults)
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument {sorted(unknown)[0]!r}; it takes "
                            f"{self._SETTINGS}, reduction and name")
        self.from_logits = check_flag(from_logits, f"{type(self).__name__}: from_logits")
        self.label_smoothing = check_number(label_smoothing, f"{type(self).__name__}: label_smoothing", "[0, 1]")
        self._take_reduction(reduction, name)

    def _smooth(self, y):
        """The targets the loss trains on: ``y`` itself, or smoothed (see the class docstring)."""
        if not self.label_smoothing:
            return y
        share = 0.5 if self.applies == "sigmoid" else 1.0 / y.shape[-1]
        return y * (1 - self.label_smoothing) + self.label_smoothing * share

    def _outputs(self, y_pred):
        """The probabilities the loss's formula reads: ``y_pred``, or its activation on logits."""
        return self.probabilities(y_pred) if self.from_logits else y_pred

    def probabilities(self, z):
        """What a model trained with this loss on logits ``z`` (its ``predict``) gives as
        probabilities: their sigmoid (binary) or softmax (categorical)."""
        return activations.sigmoid(z) if self.applies == "sigmoid" else activations.softmax(z)

    def _through_activation(self, grad, z, p):
        """dL/dz from dL/dp, p = ``probabilities(z)``: back through the sigmoid or the softmax."""
        if self.applies == "sigmoid":
            return activations.backprop_sigmoid(grad, z, p)
        return activations.backprop_softmax(grad, z, p)

    def _value_of_logits(self, z, y_true, sample_weight=None):
        y_true = self._targets(z, y_true)
        if sample_weight is None:
            return self.value_from_logits(z, self.probabilities(z), y_true)
        return self.weighted_from_logits(z, self.probabilities(z), y_true, sample_weight)

    def _gradient_of_logits(self, z, y_true):
        # weighted: Loss.weighted_gradient scales this row by row, as it scales any gradient
        return self.gradient_from_logits(self.probabilities(z), self._targets(z, y_true))

    def fused_activation(self):
        # on logits there is no output activation to fuse with: the loss holds it
        return None if self.from_logits else super().fused_activation()

class BinaryCrossentropy(_Logits, Loss):
    """``-mean(y log p + (1 - y) log(1 - p))`` over all n * k outputs, p clipped to [1e-7, 1 - 1e-7]
    as Keras clips it; targets in [0, 1], (n, k) or (n,) for one unit. After a sigmoid output it is
    fused: the value from the logits, ``log(1 + e^z) - z y``, and dL/dz = (p - y) / (n k).
    ``from_logits=True``: the outputs are the logits z (no sigmoid in the model), and that fused
    form is the loss, unclipped. ``label_smoothing=s``: targets ``y (1 - s) + s / 2``."""
    name = "binary_crossentropy"
    fuses = "sigmoid"
    applies = "sigmoid"      # what from_logits=True applies to the outputs (the focal loss too)

    def prepare_targets(self, y, n_outputs, dtype, name="y"):
        y = super().prepare_targets(y, n_outputs, dtype, name)
        if y.size and (y.min() < 0 or y.max() > 1):
            raise ValueError(f"{name}: {self.name} expects targets in [0, 1], got values "
                             f"from {y.min()} to {y.max()}")
        return y

    def _targets(self, y_pred, y_true):
        # the check of a direct call (fit checks its targets once, in prepare_targets): Keras'
        # order, loss(y_true, y_pred), gave logits as targets and a plausible but wrong number
        # (keras.io's GANs call loss_fn(labels, predictions), in a test_step or a logging step too)
        y_true = super()._targets(y_pred, y_true)
        if y_true.size and (y_true.min() < 0 or y_true.max() > 1):
            raise ValueError(f"{self.name}: expects targets in [0, 1], got values from {y_true.min()} to "
                             f"{y_true.max()}; called directly, a glassnet loss takes (y_pred, y_true), PyTorch's "
                             f"order (Keras' is (y_true, y_pred))")
        return y_true

    def __call__(self, y_pred, y_true):
        if self.from_logits:
            return self._value_of_logits(y_pred, y_true)
        y_true = self._smooth(self._targets(y_pred, y_true))
        p = np.clip(y_pred, backend.epsilon(), 1 - backend.epsilon())
        return -float(np.mean(y_true * np.log(p) + (1 - y_true) * np.log1p(-p)))

    def per_sample(self, y_pred, y_true):
        y_true = self._smooth(self._targets(y_pred, y_true))
        if self.from_logits:
            return (np.logaddexp(0, y_pred) - y_pred * y_true).mean(axis=-1)
        p = np.clip(y_pred, backend.epsilon(), 1 - backend.epsilon())
        return -(y_true * np.log(p) + (1 - y_true) * np.log1p(-p)).mean(axis=-1)

    def weighted(self, y_pred, y_true, sample_weight):
        if self.from_logits:
            return self._value_of_logits(y_pred, y_true, sample_weight)
        y_true = self._smooth(self._targets(y_pred, y_true))
        p = np.clip(y_pred, backend.epsilon(), 1 - backend.epsilon())
        terms = y_true * np.log(p) + (1 - y_true) * np.log1p(-p)
        terms *= _per_sample(sample_weight, terms)
        return -float(np.mean(terms))

    def gradient(self, y_pred, y_true):
        if self.from_logits:
            return self._gradient_of_logits(y_pred, y_true)
        y_true = self._smooth(self._targets(y_pred, y_true))
        p = np.clip(y_pred, backend.epsilon(), 1 - backend.epsilon())
        return _zero_where_clipped((p - y_true) / (p * (1 - p) * y_pred.size), y_pred)

    def value_from_logits(self, z, a, y_true):
        """The value from the logits z: log(1 + e^z) - z y, with logaddexp(0, z) = log(1 + e^z)
        computed without overflow; never log(0)."""
        terms = np.logaddexp(0, z)
        terms -= z * self._smooth(y_true)
        return float(np.add.reduce(terms, axis=None)) / terms.size

    def per_sample_from_logits(self, z, a, y_true):
        """The mean of log(1 + e^z) - z y over the last axis, unclipped (Keras-TF's, from the logits)."""
        return (np.logaddexp(0, z) - z * self._smooth(self._targets(a, y_true))).mean(axis=-1)

    def weighted_from_logits(self, z, a, y_true, sample_weight):
        terms = np.logaddexp(0, z)
        terms -= z * self._smooth(y_true)
        terms *= _per_sample(sample_weight, terms)
        return float(np.add.reduce(terms, axis=None)) / terms.size

    def output_gradient_unclipped(self, a, y_true):
        """dL/dA of the value the fused path computes, which clips nothing: ``-y/a + (1-y)/(1-a)``
        over the number of outputs (a term with a zero coefficient is 0). Where a sigmoid output
        is exactly 0 or 1 a term is infinite, while dL/dz = (a - y) / N stays finite: that is what
        fusing buys. ``model.trace`` shows it as the output's dA.

        a : the sigmoid outputs, (n, k) or (n, ..., k); y_true : targets of the same shape (or (n,)
        for one unit). Returns an array of ``a``'s shape and dtype."""
        y = self._smooth(self._targets(a, y_true))
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(y == 0, 0.0, -y / a) + np.where(y == 1, 0.0, (1 - y) / (1 - a))
        return (g / a.size).astype(a.dtype, copy=False)

    def gradient_from_logits(self, a, y_true):
        """dL/dz = (sigmoid(z) - y) / (n k)."""
        g = np.subtract(a, self._smooth(y_true))
        g *= 1.0 / g.size
        return _flush_subnormals(g, float(a.min()), 1.0 / g.size)


class CategoricalCrossentropy(_Logits, Loss):
    """Targets one-hot (or any distribution) of shape (n, k). ``from_logits=True``: the outputs
    are the logits (no softmax in the model), and the loss is its fused form, unclipped.
    ``label_smoothing=s``: targets ``y (1 - s) + s / k``.

    On outputs that are not a softmax (a plain ``Dense(k)`` head, from_logits=False), each row of
    outputs is first divided by its sum, then clipped to [1e-7, 1 - 1e-7], as Keras does: the loss
    is ``-sum(y log clip(p / sum(p))) / n``, and its gradient goes back through the clip and the
    division. After a softmax output the loss is fused (value from the logits, dL/dz = (a - y) / n):
    its rows already sum to 1, so the division changes nothing there and is not done."""
    name = "categorical_crossentropy"
    fuses = "softmax"
    applies = "softmax"

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

    def invalid_output(self, y_pred):
        """Why the loss is NaN on finite outputs ``y_pred`` (n, ..., k): a row summing to 0 (a ReLU
        head's all-zero row) is divided by its sum, 0 / 0, as in Keras (the sparse loss too).
        ``from_logits`` does not divide, so says nothing."""
        if self.from_logits or not y_pred.size:
            return None
        zero = np.argwhere(y_pred.sum(axis=-1) == 0)
        if not zero.size:
            return None
        row = tuple(int(i) for i in zero[0])
        return (f"row {row[0] if len(row) == 1 else row} of the outputs sums to 0, and {self.name} divides "
                f"each row by its sum before the log, as Keras does; end the model in a softmax (or in no "
                f"activation, with from_logits=True) rather than one that can give a row of zeros (ReLU)")

    def __call__(self, y_pred, y_true):
        if self.from_logits:
            return self._value_of_logits(y_pred, y_true)
        y_true = self._smooth(self._targets(y_pred, y_true))
        p = np.clip(rescaled(y_pred), backend.epsilon(), 1 - backend.epsilon())
        return -float(np.vdot(y_true, np.log(p))) / _distributions(y_pred)

    def per_sample(self, y_pred, y_true):
        y_true = self._dense_targets(y_pred, y_true)
        if self.from_logits:        # lse - z, exact for any logits
            top = y_pred.max(axis=-1, keepdims=True)
            lse = top + np.log(np.exp(y_pred - top).sum(axis=-1, keepdims=True))
            return (y_true * (lse - y_pred)).sum(axis=-1)
        return -(y_true * np.log(np.clip(rescaled(y_pred), backend.epsilon(), 1 - backend.epsilon()))).sum(axis=-1)

    def weighted(self, y_pred, y_true, sample_weight):
        if self.from_logits:
            return self._value_of_logits(y_pred, y_true, sample_weight)
        y_true = self._smooth(self._targets(y_pred, y_true))
        p = np.clip(rescaled(y_pred), backend.epsilon(), 1 - backend.epsilon())
        return -float(np.vdot(y_true * _per_sample(sample_weight, p), np.log(p))) / _distributions(y_pred)

    def gradient(self, y_pred, y_true):
        """dL/d(y_pred). On logits (``from_logits=True``) it is ``(softmax(z) sum(y) - y) / n`` per
        distribution, the derivative of the value for any targets (PyTorch's autograd), where
        ``fit`` trains on ``softmax(z) - y``, the same for the distributions it takes (rows summing
        to 1: ``prepare_targets``) and one row sum cheaper (``_fit_gradient``)."""
        if self.from_logits:
            return self._general_gradient_of_logits(y_pred, y_true)
        return CategoricalCrossentropy._fit_gradient(self, y_pred, y_true)     # (a subclass's may be this one)

    def _general_gradient_of_logits(self, z, y_true):
        a = self.probabilities(z)
        y = self._targets(z, y_true)
        sums = self._smooth(y.astype(a.dtype, copy=False)).sum(axis=-1, keepdims=True)
        # targets y' whose fused gradient (a - smooth(y')) / n is (a sum(smooth(y)) - smooth(y)) / n:
        # smooth(y') = smooth(y) - a (sums - 1), so y' = y - a (sums - 1) / (1 - s) (rows summing to
        # 1 keep y itself, bit for bit; s = 1 smooths every row to sum 1)
        if self.label_smoothing < 1 and np.any(sums != 1):
            y = y - a * ((sums - 1) / (1 - self.label_smoothing))
        return self.gradient_from_logits(a, y)

    def _fit_weighted_gradient(self, y_pred, y_true, sample_weight):
        g = self._fit_gradient(y_pred, y_true)
        g *= _per_sample(sample_weight, g)
        return g

    def _fit_gradient(self, y_pred, y_true):
        if self.from_logits:
            return self._gradient_of_logits(y_pred, y_true)
        y_true = self._smooth(self._targets(y_pred, y_true))
        sums = y_pred.sum(axis=-1, keepdims=True)
        r = rescaled(y_pred, sums)
        # dL/dr of -sum(y log clip(r)) / n: 0 where r was clipped (the clip's derivative)
        g = _zero_where_clipped(-y_true / (np.clip(r, backend.epsilon(), 1 - backend.epsilon()) * _distributions(y_pred)), r)
        return backprop_rescaled(g, r, sums)

    def value_from_logits(self, z, a, y_true):
        """The value from the logits z and the softmax a = softmax(z).

        -sum(y log a) / n is the loss itself and costs one log over a. It needs every output to be
        a normal number: an output whose logit is ~87 below its row's largest (float32) is
        subnormal, with too few bits for an accurate log, and ~104 below it is exactly 0, where
        log(0) = -inf would turn y = 0 into nan. Then the log-sum-exp form, exact for any logits,
        takes over. (Why not always that form: it needs row maxima, which NumPy reduces row by row
        along the short last axis -- on (100, 10) float32, 7 us each against 2 us for the log;
        the loss went from 20 to 7 us.)
        """
        return self._value_from_logits(z, a, self._smooth(y_true), float(a.min()))

    def _value_from_logits(self, z, a, y_true, a_min):
        if _normal_from(a_min, a.dtype):     # every log is finite and accurate
            return -float(np.vdot(y_true, np.log(a))) / _distributions(z)
        # sum of y * (lse - z) position by position: each difference is exact where the target
        # sits on the row's largest logit (lse - z_max = -log(max a)), whereas the difference of two
        # batch sums, vdot(lse, sum y) - vdot(y, z), cancels (logits ~1e5: 0.016 for a true 0)
        lse = self._logsumexp(z, a)
        return float(np.vdot(y_true, lse[..., None] - z)) / _distributions(z)

    def per_sample_from_logits(self, z, a, y_true):
        """sum(y (lse - z)) over the last axis: the softmax cross-entropy from the logits, exact."""
        y = self._smooth(self._targets(a, y_true))
        return (y * (self._logsumexp(z, a)[..., None] - z)).sum(axis=-1)

    def weighted_from_logits(self, z, a, y_true, sample_weight):
        # the loss is linear in y: weighting each sample's (smoothed) targets weighs its loss
        return self._value_from_logits(z, a, self._smooth(y_true) * _per_sample(sample_weight, z), float(a.min()))

    @staticmethod
    def _logsumexp(z, a):
        # log(sum(exp(z))) = z_j - log(softmax(z)_j) for any j; at the argmax, softmax >= 1/k, so
        # the log is exact: no second pass of exponentials is needed.
        return row_max(z) - np.log(row_max(a))

    def output_gradient_unclipped(self, a, y_true):
        """dL/dA of the value the fused path computes, which clips nothing: ``-y / a`` per
        distribution (0 where y is 0); infinite where a softmax output underflowed to 0 under a
        target, while dL/dz = (a - y) / n stays finite. ``model.trace`` shows it as the output's dA.

        a : the softmax outputs, (n, k) (or (n, ..., k) for the non-sparse loss); y_true : the
        targets as the loss takes them. Returns an array of ``a``'s shape and dtype."""
        y = self._dense_targets(a, y_true)
        with np.errstate(divide="ignore", invalid="ignore"):
            g = np.where(y == 0, 0.0, -y / a)
        return (g / _distributions(a)).astype(a.dtype, copy=False)

    def _dense_targets(self, a, y_true):
        """The targets the loss trains on as an array of ``a``'s shape (one-hot for sparse labels)."""
        return self._smooth(self._targets(a, y_true))

    def gradient_from_logits(self, a, y_true):
        return self._gradient_from_logits(a, self._smooth(y_true), float(a.min()))

    def _gradient_from_logits(self, a, y_true, a_min):
        g = np.subtract(a, y_true)
        scale = 1.0 / _distributions(g)
        g *= scale
        return _flush_subnormals(g, a_min, scale)

    def from_logits_and_gradient(self, z, a, y_true):
        # both need the smallest output (the log's check, the gradient's flush): one minimum
        # for the two (~1.5 us on a (1, 10) output, 2% of a per-sample SGD step)
        a_min, y_true = float(a.min()), self._smooth(y_true)
        return self._value_from_logits(z, a, y_true, a_min), self._gradient_from_logits(a, y_true, a_min)


class SparseCategoricalCrossentropy(TermsFromLogits, CategoricalCrossentropy):
    """Targets as integer class labels of shape (n,) (or (n, 1)); ``from_logits`` as for
    ``CategoricalCrossentropy`` (no ``label_smoothing``, as in Keras). Outputs with positions,
    (n, steps, k) (or (n, H, W, k)), take one label per position, (n, steps) (or with a last axis
    of 1), as Keras': the loss is the mean over all positions, ``per_sample`` gives (n, steps), and
    sample weights (n,) weigh each sample's positions (weights of the labels' shape, one per
    position, are taken too).

    ``ignore_class=c`` (Keras'): the samples (or positions, for labels per position) labelled c
    count for nothing, a void label in segmentation; c may lie outside the classes (255, -1). The
    loss is the mean over those that count (with sample weights, sum(w loss) over them divided by
    how many count), 0 when none does; their gradient is 0.

    On outputs that are not a softmax (a sigmoid or linear head, from_logits=False), each row is
    first divided by its sum, then the labelled entry clipped to [1e-7, 1 - 1e-7], as for
    ``CategoricalCrossentropy`` (and Keras): each term is ``-log clip(p[label] / sum(p))``, and the
    gradient goes back through the clip and the division, to every output of the row. After a
    softmax output the loss is fused, as the categorical one is, and divides nothing. (Keras 3.15's
    TensorFlow backend clips every output before dividing instead; the two differ only on rows with
    an output outside [1e-7, 1 - 1e-7], a linear head's, where glassnet keeps its categorical loss's
    order, which is Keras' on its other backends; see docs/keras_parity.md.)"""
    _SETTINGS = "from_logits, ignore_class"
    ignore_class = None         # also what a loss pickled before the setting reads
    keras_axis = "last"         # Keras-TF takes -1 or the last axis' number only (adapted._LastAxis)

    def __init__(self, from_logits=False, ignore_class=None, reduction=DEFAULT_REDUCTION, name=None, **unknown):
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument {sorted(unknown)[0]!r}; it takes "
                            f"{self._SETTINGS}, reduction and name (no label_smoothing, as in Keras: use "
                            f"categorical_crossentropy)")
        if ignore_class is not None and (isinstance(ignore_class, bool) or not isinstance(ignore_class, (int, np.integer))):
            raise ValueError(f"SparseCategoricalCrossentropy: ignore_class must be None or an integer label, got "
                             f"{ignore_class!r:.60}")
        self.ignore_class = None if ignore_class is None else int(ignore_class)
        super().__init__(from_logits, reduction=reduction, name=name)
    name = "sparse_categorical_crossentropy"
    fuses = "softmax"       # its own value, gradient and fused methods (see Loss.fused_activation)
    sparse = True
    position_weights = True

    def prepare_targets(self, y, n_outputs, dtype, name="y"):
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(f"{name}: sparse categorical cross-entropy expects integer labels of shape "
                             f"(n_samples,), got shape {y.shape}")
        if self.ignore_class is None:
            return check_class_labels(y, n_outputs, name)
        ignored = y == self.ignore_class
        labels = check_class_labels(np.where(ignored, 0, y), n_outputs, f"{name} (other than ignore_class={self.ignore_class})")
        labels[ignored] = self.ignore_class
        return labels

    def _masked(self, y_pred, y_true):
        if self.ignore_class is None:
            return y_true, None
        labels = backend.get_array_module(y_pred).asarray(y_true)
        if labels.shape == (*y_pred.shape[:-1], 1):
            # (n, 1) for outputs (n, k), (n, steps, 1) for (n, steps, k); not (n, 1) for one step
            # (n, 1, k), which are its labels already
            labels = labels[..., 0]
        mask = labels != self.ignore_class
        return self._targets(y_pred, np.where(mask, labels, 0).astype(labels.dtype, copy=False)), mask

    def per_sample(self, y_pred, y_true):
        y_true = self._targets(y_pred, y_true)
        if self.from_logits:
            return self._terms_from_logits(y_pred, self.probabilities(y_pred), y_true)
        return -np.log(np.clip(self._picked_rescaled(y_pred, y_true), backend.epsilon(), 1 - backend.epsilon()))

    def _picked_rescaled(self, y_pred, labels):
        """Each row's output at its label divided by the row's sum, ``rescaled(y_pred)`` at the labels
        (the same division of the same two numbers, so the same bits) without dividing the other
        k - 1 outputs, which the value never reads. y_pred (n, ..., k), labels (n, ...); returns (n, ...)."""
        return rescaled(self._picked(y_pred, labels), y_pred.sum(axis=-1))

    def _targets(self, y_pred, y_true):
        return class_labels(y_pred, y_true, self.name, "; one-hot targets go with 'categorical_crossentropy'", True)

    @staticmethod
    def _picked(values, labels):
        if labels.ndim == 1:
            return values[np.arange(labels.shape[0]), labels]
        return np.take_along_axis(values, labels[..., None], axis=-1)[..., 0]

    @staticmethod
    def _put(g, labels, value):
        """``g`` at each row's label set to ``value`` (a number or one per row); returns ``g``."""
        if labels.ndim == 1:
            g[np.arange(labels.shape[0]), labels] = value
        else:
            np.put_along_axis(g, labels[..., None], np.expand_dims(value, -1) if np.ndim(value) else value, axis=-1)
        return g

    def _dense_targets(self, a, y_true):
        return self._put(backend.get_array_module(a).zeros_like(a), self._targets(a, y_true), 1)

    def __call__(self, y_pred, y_true):
        if self.from_logits:
            return self._value_of_logits(y_pred, y_true)
        y_true = self._targets(y_pred, y_true)
        p = np.clip(self._picked_rescaled(y_pred, y_true), backend.epsilon(), 1 - backend.epsilon())
        return -float(np.log(p).sum()) / _distributions(y_pred)

    def weighted(self, y_pred, y_true, sample_weight):
        if self.from_logits:
            return self._value_of_logits(y_pred, y_true, sample_weight)
        y_true = self._targets(y_pred, y_true)
        p = np.clip(self._picked_rescaled(y_pred, y_true), backend.epsilon(), 1 - backend.epsilon())
        terms = np.log(p)
        terms *= _position_weights(sample_weight, terms)
        return -float(terms.sum()) / _distributions(y_pred)

    def weighted_gradient(self, y_pred, y_true, sample_weight):
        g = self.gradient(y_pred, y_true)
        g *= _position_weights(sample_weight, g[..., 0])[..., None]
        return g

    def weighted_gradient_from_logits(self, a, y_true, sample_weight):
        # weights per position too (ignore_class's mask on an output with steps (n, steps, k) of a
        # model of several outputs, whose losses see the steps unflattened), as weighted_gradient
        g = self.gradient_from_logits(a, y_true)
        g *= _position_weights(sample_weight, g[..., 0])[..., None]
        return g

    def gradient(self, y_pred, y_true):
        if self.from_logits:
            return self._gradient_of_logits(y_pred, y_true)
        y_true = self._targets(y_pred, y_true)
        sums = y_pred.sum(axis=-1, keepdims=True)
        r = rescaled(y_pred, sums)
        picked = self._picked(r, y_true)
        # dL/dr of -sum(log clip(r[label])) / n: -1 / (r[label] n) at each label, 0 where it was
        # clipped (the clip's derivative) and at the other outputs; then back through the division,
        # which reaches every output of the row through its sum (CategoricalCrossentropy's helper)
        g = self._put(np.zeros_like(y_pred), y_true, _zero_where_clipped(
            -1.0 / (np.clip(picked, backend.epsilon(), 1 - backend.epsilon()) * _distributions(y_pred)), picked))
        return backprop_rescaled(g, r, sums)

    # not CategoricalCrossentropy's shared minimum: here the value's check is on the picked outputs
    from_logits_and_gradient = Loss.from_logits_and_gradient

    def _terms_from_logits(self, z, a, y_true):
        """Each sample's loss, -log a[label]: from the picked softmax outputs when all of them are
        normal numbers, else as lse - z[label] (see CategoricalCrossentropy.value_from_logits)."""
        picked = self._picked(a, y_true)
        if _all_normal(picked):
            return -np.log(picked)
        return self._logsumexp(z, a) - self._picked(z, y_true)

    def gradient_from_logits(self, a, y_true):
        g = a.copy()
        if y_true.ndim == 1:        # training's rows (positions come flattened: glassnet.scoring)
            g[np.arange(y_true.shape[0]), y_true] -= 1
        else:
            self._put(g, y_true, self._picked(g, y_true) - 1)
        scale = 1.0 / _distributions(g)
        g *= scale
        return _flush_subnormals(g, float(a.min()), scale)
