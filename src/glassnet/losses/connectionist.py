"""Keras' CTC loss (connectionist temporal classification, Graves et al. 2006): the negative log
probability of a label sequence summed over every alignment of it to the output's steps, for
models that read a sequence and emit one (speech, handwriting, captchas) without a label per step.

The outputs are logits (n, T, C), no softmax: the loss takes their log-softmax. Class 0 is the
blank (Keras' ``mask_index=0``): the real classes are 1 .. C - 1. Targets (n, L) are label
sequences padded at the end with 0, each of length = its count of non-zero labels (Keras'). Every
sample uses all T steps (Keras' ``input_length`` is T for all).

The forward-backward algorithm, in log space, vectorised over the batch: over the extended label
l' = (blank, l_1, blank, l_2, ..., l_L, blank) of S = 2 L + 1 states,

    alpha_t(s) = lse(alpha_{t-1}(s), alpha_{t-1}(s - 1), alpha_{t-1}(s - 2) where l'_s is not blank
                 and l'_s != l'_{s-2}) + log p_t(l'_s)
    beta_t(s)  = the same backwards, from the last label or the last blank at step T - 1

log P(l) = lse(alpha_{T-1}(2 L), alpha_{T-1}(2 L - 1)), and with the state's posterior
gamma_t(s) = exp(alpha_t(s) + beta_t(s) - log p_t(l'_s) - log P), the gradient of -log P with
respect to the logits z_t is ``softmax(z_t) - q_t``, q_t(k) the sum of gamma_t(s) over the states
labelled k (each step's alphas and betas are kept scaled, for float32's sake: see
``forward_backward``). The loss is the mean of -log P over the samples (Keras' ``sum_over_batch_size``:
PyTorch's ``ctc_loss(reduction="none")`` averaged, not its ``"mean"``, which also divides each by
its label length).
"""
import numpy as np

from .. import activations, backend
from ._numerics import _per_sample
from .base import Loss

BLANK = 0


def _lse3(a, b, c):
    """log(e^a + e^b + e^c), elementwise; -inf where all three are -inf (no warning)."""
    return np.logaddexp(np.logaddexp(a, b), c)


def _shifted(x, by):
    """``x`` (n, S) moved ``by`` states along S (right for by > 0), -inf filling the gap."""
    out = np.full_like(x, -np.inf)
    if by > 0:
        out[:, by:] = x[:, :-by]
    else:
        out[:, :by] = x[:, -by:]
    return out


def _scaled(x):
    """Subtract from each row of ``x`` (n, S), in place, its largest value, and return those (n,);
    a row of -inf (no state reachable: a -inf logit) is left as it is, its value 0."""
    top = x.max(axis=1)
    top[~np.isfinite(top)] = 0
    x -= top[:, None]
    return top


def forward_backward(log_probs, labels, lengths, posterior=True):
    """The CTC log-likelihoods and the posterior of each class at each step.

    log_probs : ndarray (n, T, C), log-softmax of the logits; labels : int (n, L), padded with 0;
    lengths : int (n,), each sample's number of labels. Returns (log P (n,), q (n, T, C)); with
    ``posterior=False`` (the value alone) the forward pass only, and None for q.
    """
    n, steps, classes = log_probs.shape
    states = 2 * labels.shape[1] + 1
    extended = np.zeros((n, states), dtype=np.int64)
    extended[:, 1::2] = labels
    # p_t(l'_s) for every step and state: (T, n, S)
    emit = np.take_along_axis(log_probs, np.broadcast_to(extended[:, None, :], (n, steps, states)), axis=2)
    emit = np.ascontiguousarray(emit.transpose(1, 0, 2))
    skip = np.zeros((n, states), dtype=bool)        # state s may be reached from s - 2
    skip[:, 2:] = (extended[:, 2:] != BLANK) & (extended[:, 2:] != extended[:, :-2])
    rows = np.arange(n)
    last, before = 2 * lengths, 2 * lengths - 1        # the two states a path may end in

    # Each step's alphas (and betas) are kept divided by their largest (its log subtracted, and the
    # alphas' saved in ``scale``): unscaled they fall to -1000 and below on long sequences, where
    # float32's spacing (6e-5 at 1000) rounds every step and the errors add up along the recursion
    # (3e-4 in the gradient at T = 300, L = 60). Scaled, they stay near 0; log P adds the scales back.
    alpha = np.full((steps, n, states), -np.inf, dtype=log_probs.dtype)
    scale = np.empty((steps, n), dtype=log_probs.dtype)
    alpha[0, :, 0] = emit[0, :, 0]
    if states > 1:
        alpha[0, :, 1] = emit[0, :, 1]
    scale[0] = _scaled(alpha[0])
    for t in range(1, steps):
        prev = alpha[t - 1]
        alpha[t] = _lse3(prev, _shifted(prev, 1), np.where(skip, _shifted(prev, 2), -np.inf)) + emit[t]
        scale[t] = _scaled(alpha[t])
    ends = lengths > 0
    final = alpha[-1]
    log_likelihood = scale.sum(axis=0) + np.logaddexp(final[rows, last],
                                                      np.where(ends, final[rows, np.maximum(before, 0)], -np.inf))
    if not posterior:
        return log_likelihood, None

    beta = np.full((steps, n, states), -np.inf, dtype=log_probs.dtype)
    beta[-1, rows, last] = emit[-1, rows, last]
    beta[-1, rows[ends], before[ends]] = emit[-1, rows[ends], before[ends]]
    _scaled(beta[-1])
    skip_ahead = np.zeros_like(skip)                 # state s may go on to s + 2
    skip_ahead[:, :-2] = skip[:, 2:]
    for t in range(steps - 2, -1, -1):
        nxt = beta[t + 1]
        beta[t] = _lse3(nxt, _shifted(nxt, -1), np.where(skip_ahead, _shifted(nxt, -2), -np.inf)) + emit[t]
        _scaled(beta[t])

    # gamma_t(s) = alpha_t(s) beta_t(s) / (p_t(l'_s) P): at every step the sum over s of
    # alpha_t(s) beta_t(s) / p_t(l'_s) is P, so dividing by that step's sum (its scales cancel) is
    # dividing by P, without the unscaled numbers
    occupancy = alpha + beta
    # a state whose class has probability 0 at a step (a -inf logit) holds no path: its alpha,
    # beta and emit are all -inf, and -inf - -inf is NaN, which spread over the whole step's
    # gradient; its occupancy is -inf (gamma 0)
    with np.errstate(invalid="ignore"):
        occupancy -= emit
    occupancy[np.isneginf(emit)] = -np.inf
    occupancy -= occupancy.max(axis=2, keepdims=True)
    np.exp(occupancy, out=occupancy)
    occupancy /= occupancy.sum(axis=2, keepdims=True)    # gamma_t(s), (T, n, S)
    onehot = np.zeros((n, states, classes), dtype=log_probs.dtype)
    onehot[rows[:, None], np.arange(states)[None, :], extended] = 1
    return log_likelihood, np.matmul(occupancy.transpose(1, 0, 2), onehot)      # q: (n, T, C)


class CTC(Loss):
    """Keras' ``CTC`` loss (``"ctc"``): the mean over samples of -log P(labels | logits), summed over
    every alignment (see the module docstring). y_pred : logits (n, T, C), from a last layer without
    activation, class 0 the blank; y_true : int labels (n, L), 1 .. C - 1, padded with 0 at the end.

    Label sequences that cannot fit in T steps (a label sequence needs its length plus one step
    for each pair of equal neighbours, a blank between them) are refused by name, where Keras
    gives a huge finite loss and PyTorch an infinite one.

    >>> z = np.zeros((1, 2, 3))                 # two steps, uniform over blank, 1, 2
    >>> round(CTC()(z, np.array([[1]])), 6)     # three alignments: 1 1, 1 -, - 1; -log(3 / 9)
    1.098612
    """
    name = "ctc"
    per_position = False        # a masked output would hand it rows of steps (glassnet.training)

    def prepare_targets(self, y, n_outputs, dtype, name="y"):
        raise ValueError(f"{name}: ctc scores sequences: it takes a model whose output is (n_samples, steps, "
                         f"classes) logits, got an output of {n_outputs} values per sample")

    def prepare_output_targets(self, y, shape, dtype, name, output="the model's output"):
        """Targets for ``output`` of sample shape (T, C): int64 label sequences (n, L) (see ``_labels``)."""
        if len(shape) != 2:
            raise ValueError(f"{name}: ctc takes {output} of shape (n_samples, steps, classes), got sample "
                             f"shape {tuple(shape)}")
        steps = np.inf if shape[0] is None else shape[0]    # steps left open: each batch's call checks
        return self._labels(np.asarray(y), steps, shape[1], name)[0]

    @staticmethod
    def _labels(y, steps, classes, name):
        """``y`` checked as label sequences for outputs of ``steps`` steps and ``classes`` classes:
        returns (labels as int64 (n, L), their lengths (n,))."""
        if y.ndim != 2 or y.dtype.kind not in "iuf" or (y.dtype.kind == "f" and not np.all(y == np.round(y))):
            raise ValueError(f"{name}: ctc expects integer label sequences of shape (n_samples, max_label_length), "
                             f"padded with 0, got {y.dtype} of shape {tuple(y.shape)}")
        labels = y.astype(np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= classes):
            raise ValueError(f"{name}: ctc labels must lie in [1, {classes}) (0 is the blank, padding) for "
                             f"{classes} classes, got values from {labels.min()} to {labels.max()}")
        present = labels != BLANK
        lengths = present.sum(axis=1)
        inner = np.flatnonzero((present & (np.arange(labels.shape[1]) >= lengths[:, None])).any(axis=1))
        if inner.size:
            raise ValueError(f"{name}: ctc label sequences are padded with 0 at the end only (0 is the blank), "
                             f"got a 0 before a label in sample {inner[0]}: {labels[inner[0]].tolist()}")
        repeats = (present[:, 1:] & (labels[:, 1:] == labels[:, :-1])).sum(axis=1)
        too_long = np.flatnonzero(lengths + repeats > steps)
        if too_long.size:
            i = too_long[0]
            raise ValueError(f"{name}: ctc label sequence of sample {i} needs at least {lengths[i] + repeats[i]} "
                             f"steps (its {lengths[i]} labels and a blank between each pair of equal ones), "
                             f"the outputs have {steps}")
        return labels, lengths

    def _targets(self, y_pred, y_true):
        if y_pred.ndim != 3:
            raise ValueError(f"ctc: expected logits of shape (n_samples, steps, classes), got shape {tuple(y_pred.shape)}")
        y_true = np.asarray(y_true)
        if y_true.shape[:1] != y_pred.shape[:1]:
            raise ValueError(f"ctc: expected label sequences for {y_pred.shape[0]} samples, got shape "
                             f"{tuple(y_true.shape)}")
        return self._labels(y_true, y_pred.shape[1], y_pred.shape[2], "y_true")

    def _solve(self, y_pred, y_true, posterior=True):
        # on the host: the recursion is a loop over the steps, and the labels' checks read their
        # values (a GPU model's outputs and labels are CuPy arrays; the gradient goes back there)
        y_pred, y_true = backend.to_numpy(y_pred), backend.to_numpy(y_true)
        labels, lengths = self._targets(y_pred, y_true)
        log_probs = activations.log_softmax(y_pred)
        return forward_backward(log_probs, labels, lengths, posterior), log_probs

    def __call__(self, y_pred, y_true):
        (log_likelihood, _), _ = self._solve(y_pred, y_true, posterior=False)
        return -float(log_likelihood.sum()) / y_pred.shape[0]

    def per_sample(self, y_pred, y_true):
        (log_likelihood, _), _ = self._solve(y_pred, y_true, posterior=False)
        return -log_likelihood

    def _value_count(self, y_pred, y_true):
        return y_pred.shape[0]          # one value per sample, over all its steps

    def weighted(self, y_pred, y_true, sample_weight):
        (log_likelihood, _), _ = self._solve(y_pred, y_true, posterior=False)
        weights = _per_sample(backend.to_numpy(sample_weight), log_likelihood)
        return -float((log_likelihood * weights).sum()) / y_pred.shape[0]

    def gradient(self, y_pred, y_true):
        (_, posterior), log_probs = self._solve(y_pred, y_true)
        g = np.exp(log_probs)
        g -= posterior
        g *= 1.0 / y_pred.shape[0]
        return backend.get_array_module(y_pred).asarray(g)
