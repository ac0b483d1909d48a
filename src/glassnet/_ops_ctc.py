"""keras.ops' ``ctc_loss`` and ``ctc_decode`` for ``glassnet.ops`` (which re-exports them), on arrays
only: the CTC loss' forward algorithm (losses/connectionist.py) and its decoders (losses/decoding.py).

``ctc_loss`` is Keras 3.15's on TensorFlow (``tf.nn.ctc_loss``): one value per sample, -log P of
its first ``target_length`` labels given its first ``output_length`` steps of logits, the blank
class ``mask_index``. Tensors of a model being drawn are refused by name: the ``"ctc"`` loss
trains a model (``compile(loss="ctc")``).
"""
import numbers

import numpy as np

from . import activations
from ._ops_arrays import _is_tensor, _no_tensor
from ._ops_reading import _array
from .losses.connectionist import forward_backward
from .losses.decoding import ctc_decode as _decode


def _lengths(value, name, n, limit):
    lengths = _array(value, name, "ctc_loss")
    if lengths.dtype.kind not in "iu" or lengths.shape != (n,):
        raise ValueError(f"ops.ctc_loss: {name} must be {n} integers (one per sample), got {lengths.dtype} of shape "
                         f"{lengths.shape}")
    if lengths.size and (lengths.min() < 0 or lengths.max() > limit):
        raise ValueError(f"ops.ctc_loss: {name} must lie in [0, {limit}], got values from {lengths.min()} to "
                         f"{lengths.max()}")
    return lengths.astype(np.int64)


def ctc_loss(target, output, target_length, output_length, mask_index=0):
    """The CTC loss of each sample: -log P(target[i, :target_length[i]] | output[i, :output_length[i]]).

    target : int (n, L), labels in [0, C) other than ``mask_index``; output : logits (n, T, C);
    target_length, output_length : int (n,); mask_index : the blank class (negative counts from the end).
    Returns (n,), float32 (float64 logits: float64, where TensorFlow computes in float32).
    A label sequence that cannot fit in its steps gives inf (its probability is 0).

    >>> float(ctc_loss([[1]], np.zeros((1, 2, 3), np.float32), [1], [2])[0])   # -log(3 / 9)
    1.0986123085021973
    """
    if any(_is_tensor(v) for v in (target, output, target_length, output_length)):
        # keras.io's captcha OCR computes it in an endpoint layer's call and add_loss()es it: the
        # general "compute it on arrays" would send its users away from the CTC loss glassnet trains
        raise TypeError("ops.ctc_loss takes arrays, not tensors of a model being drawn (a CTC endpoint layer's "
                        "call, add_loss): train the model's logits (its last Dense without softmax, class 0 the "
                        "blank) with compile(loss=\"ctc\"), Keras' keras.losses.CTC(), and the label sequences as "
                        "fit's targets (docs/guide/outputs.md)")
    logits = _array(output, "output", "ctc_loss")
    if logits.dtype.kind not in "biuf" or logits.ndim != 3 or 0 in logits.shape[1:]:
        raise ValueError(f"ops.ctc_loss: output must be logits of shape (batch, steps, classes), got {logits.dtype} "
                         f"of shape {logits.shape}")
    dtype = np.float64 if logits.dtype == np.float64 else np.float32
    n, steps, classes = logits.shape
    if isinstance(mask_index, bool) or not isinstance(mask_index, numbers.Integral) \
            or not -classes <= mask_index < classes:
        raise ValueError(f"ops.ctc_loss: mask_index must be a class index in [{-classes}, {classes}), got "
                         f"{mask_index!r:.40}")
    blank = int(mask_index) % classes
    labels = _array(target, "target", "ctc_loss")
    if labels.dtype.kind not in "iu" or labels.ndim != 2 or labels.shape[0] != n:
        raise ValueError(f"ops.ctc_loss: target must be integer labels of shape ({n}, max_length), got "
                         f"{labels.dtype} of shape {labels.shape}")
    label_lengths = _lengths(target_length, "target_length", n, labels.shape[1])
    step_lengths = _lengths(output_length, "output_length", n, steps)
    used = np.arange(labels.shape[1]) < label_lengths[:, None]
    labels = np.where(used, labels, blank).astype(np.int64)
    if (labels[used] < 0).any() or (labels[used] >= classes).any() or (labels[used] == blank).any():
        raise ValueError(f"ops.ctc_loss: target's first target_length labels must lie in [0, {classes}) and not be "
                         f"the blank (mask_index {blank})")
    # the blank moved to class 0, glassnet's CTC's: the classes before it shift up by one
    order = np.r_[blank, np.delete(np.arange(classes), blank)]
    log_probs = activations.log_softmax(logits.astype(np.float64)[..., order])
    labels = np.where(used, labels + (labels < blank), 0)
    loss = np.empty(n, np.float64)
    for length in np.unique(step_lengths):       # each group of samples of one output length
        rows = np.flatnonzero(step_lengths == length)
        if length == 0:
            loss[rows] = np.where(label_lengths[rows] == 0, 0.0, np.inf)
            continue
        with np.errstate(invalid="ignore"):
            log_likelihood, _ = forward_backward(log_probs[rows, :length], labels[rows], label_lengths[rows],
                                                 posterior=False)
        loss[rows] = -log_likelihood
    return loss.astype(dtype)


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1, merge_repeated=True,
               mask_index=0):
    """Keras' ``ops.ctc_decode``: ``(decoded, scores)``, decoded int32 (top_paths, n, T) padded with
    -1, scores (n, top_paths); ``strategy`` "greedy" or "beam_search" (glassnet.losses.ctc_decode,
    whose docstring tells the two apart). Arrays only."""
    _no_tensor("ctc_decode", inputs=inputs, sequence_lengths=sequence_lengths)
    return _decode(inputs, sequence_lengths, strategy=strategy, beam_width=beam_width, top_paths=top_paths,
                   merge_repeated=merge_repeated, mask_index=mask_index)


__all__ = ["ctc_loss", "ctc_decode"]
