"""Keras' ``ops.ctc_decode``: the label sequences a CTC model's outputs spell, by one of two strategies.

A model trained with the ``"ctc"`` loss emits, at each of its T steps, logits over C classes, one
of them the blank (class 0 by default, Keras' ``mask_index``). A label sequence is read from a
path of one class per step by merging repeated classes and then dropping the blanks: the path
``- a a - b b -`` spells ``a b``, and ``a - a`` spells ``a a``. Many paths spell the same labels;
the probability of a label sequence is the sum over its paths (what the loss maximised).

``"greedy"`` (best path) takes the most likely class at each step and reads it: fast, and the
most likely *path*, which need not spell the most likely *label sequence*. Its score is Keras'
(TensorFlow's): minus the sum over the steps of the largest logit, not a log probability.

``"beam_search"`` is the CTC prefix beam search (Graves 2012, ch. 7.5; Hannun et al. 2014). It
keeps the ``beam_width`` most probable label prefixes; for each it carries the log probability of
the paths so far that spell it and end in a blank, and of those that end in its last label:

    blank(p)  at t = total(p) at t-1 + log y_t(blank)
    label(p)  at t = lse(label(p) at t-1, from_parent) + log y_t(last label of p)

where ``from_parent`` is the parent prefix's (p without its last label) total at t-1, or only its
blank part when p's last label repeats the parent's last (``a a`` needs a blank between). Every
prefix in the beam also grows by each label: its child's label part starts at ``from_parent +
log y_t(label)``. This is TensorFlow's ``ctc_beam_search_decoder``
(``tensorflow/core/util/ctc/ctc_beam_search.h``), which Keras 3.15's TensorFlow backend calls,
step by step, so that decodings are TensorFlow's and scores agree to float rounding:

* the probabilities are the log-softmax of the logits (``y_t``), and a score is the log
  probability of the label sequence summed over the paths the beam kept: paths through a prefix
  pushed out of the beam are lost (a prefix that comes back starts again from that step), so a
  score is a lower bound of the exact log P, and a narrow beam may miss the best sequence. With a
  beam as wide as the number of prefixes, values are exact (tests/test_ctc_decode.py enumerates
  every path).
* The beam at t is built as TensorFlow builds it: the prefixes it held, continued, then, in the
  beam's order, each prefix's children (those not in the beam already), each pushing out the
  weakest while the beam is full. That gives the ``beam_width`` best of all candidates but for
  one twist: a prefix pushed out by a new child and later regrown by its parent (too weak to join)
  has its probabilities wiped, so it grows no children at that step, where the best of all would
  count them. With class probabilities (blank, 1, 2, 3) of (.7, .02, .02, .26) then (.008, .041,
  .941, .01) and beam_width 2, the beam after step 0 is the empty prefix and ``3``; at step 1 the
  empty prefix's children ``1`` (P .029) and ``2`` (.66) push both out, ``3`` is regrown (.007)
  and wiped, and the result is ``2`` and ``1``, not ``2`` and ``3 2`` (.24). tests/test_ctc_decode.py
  checks that case against TensorFlow.
* ``merge_repeated`` does not apply (Keras calls TensorFlow's ``ctc_beam_search_decoder_v2``,
  which merges nothing beyond the CTC rule); equal totals may be ordered otherwise than by
  TensorFlow's heap.

Both return Keras' shapes: ``decoded`` int32 (paths, n, T), each sequence from the left and
padded with -1, and ``scores`` (n, paths), float32 (float64 logits stay float64).
"""
import heapq
import numbers

import numpy as np

from .. import activations, backend

STRATEGIES = ("greedy", "beam_search")


def ctc_decode(inputs, sequence_lengths, strategy="greedy", beam_width=100, top_paths=1, merge_repeated=True,
               mask_index=0):
    """Decode a CTC model's outputs (Keras 3.15's ``keras.ops.ctc_decode``).

    Parameters
    ----------
    inputs : array of shape (n, T, C)
        Logits, as the model's last layer without activation gives them (no softmax).
    sequence_lengths : int array of shape (n,)
        How many of the T steps each sample uses (0 .. T); the steps after are ignored.
    strategy : "greedy" or "beam_search"
    beam_width : int, the prefixes the beam search keeps (beam search only)
    top_paths : int, 1 .. beam_width, the decodings returned per sample (beam search only)
    merge_repeated : bool, greedy only: False keeps a class repeated over steps as repeated labels
    mask_index : int or None
        The blank class, 0 by default (glassnet's CTC loss); negative counts from the end, None is
        the last class (TensorFlow's default).

    Returns
    -------
    decoded : int32 array of shape (top_paths, n, T)
        Each sample's label sequences, best first, from the left, padded with -1 (greedy: one).
    scores : array of shape (n, top_paths)
        Beam search: the log probability of each sequence. Greedy (top_paths 1): minus the sum of
        the largest logit of each step (Keras'), which ranks paths but is no probability.

    >>> z = np.log(np.array([[[0.1, 0.6, 0.3], [0.1, 0.6, 0.3], [0.8, 0.1, 0.1], [0.1, 0.2, 0.7]]]))
    >>> decoded, _ = ctc_decode(z, [4])             # 1 1 - 2: merge the 1s, drop the blank
    >>> decoded[0].tolist()
    [[1, 2, -1, -1]]
    """
    logits = _logits(inputs)
    n, steps, classes = logits.shape
    lengths = _lengths(sequence_lengths, n, steps)
    blank = _blank(mask_index, classes)
    if not isinstance(strategy, str) or strategy not in STRATEGIES:
        raise ValueError(f"ctc_decode: strategy: expected one of {list(STRATEGIES)}, got {strategy!r}")
    if strategy == "greedy":
        if not isinstance(merge_repeated, (bool, np.bool_)):
            raise TypeError(f"ctc_decode: merge_repeated: expected True or False, got {merge_repeated!r}")
        return _greedy(logits, lengths, blank, bool(merge_repeated))
    beam_width = _count(beam_width, "beam_width")
    top_paths = _count(top_paths, "top_paths")
    if top_paths > beam_width:
        raise ValueError(f"ctc_decode: top_paths ({top_paths}) cannot exceed beam_width ({beam_width}): the beam "
                         f"holds the candidates")
    if np.isposinf(logits).any():
        raise ValueError("ctc_decode: inputs: beam search takes the log-softmax of the logits, which +inf makes "
                         "undefined; got +inf")
    log_probs = activations.log_softmax(logits)
    decoded = np.full((top_paths, n, steps), -1, dtype=np.int32)
    scores = np.empty((n, top_paths), dtype=logits.dtype)
    for i in range(n):
        best = _beam_search(log_probs[i, :lengths[i]], blank, beam_width)
        if len(best) < top_paths:
            raise ValueError(f"ctc_decode: top_paths={top_paths}, but sample {i}'s {lengths[i]} steps spell only "
                             f"{len(best)} label sequences (TensorFlow fails alike: 'Less leaves in the beam search "
                             f"than requested'); ask for at most {len(best)}")
        for rank, (prefix, score) in enumerate(best[:top_paths]):
            decoded[rank, i, :len(prefix)] = prefix
            scores[i, rank] = score
    return decoded, scores


# --- inputs -------------------------------------------------------------------------------------

def _logits(inputs):
    """``inputs`` as a float (n, T, C) array on the host: float32 and float64 kept, any other
    numbers (lists, integers, float16) float32, as Keras' ``result_type(dtype, "float32")``."""
    given = inputs
    inputs = np.asarray(backend.to_numpy(inputs))
    if inputs.dtype.kind not in "biuf":
        raise TypeError(f"ctc_decode: inputs: expected an array of logits, got {inputs.dtype}")
    if inputs.dtype not in (np.float32, np.float64) or not hasattr(given, "dtype"):
        inputs = inputs.astype(np.float32)  # a list of Python floats is float64 to NumPy: floatx for Keras
    if inputs.ndim != 3 or 0 in inputs.shape[1:]:
        raise ValueError(f"ctc_decode: inputs: expected logits of shape (n_samples, steps, classes) with at least "
                         f"one step and one class, got shape {inputs.shape}")
    if np.isnan(inputs).any():
        raise ValueError("ctc_decode: inputs: expected logits, got NaN")
    return inputs


def _lengths(sequence_lengths, n, steps):
    """``sequence_lengths`` as int64 (n,), each in 0 .. steps."""
    lengths = np.asarray(backend.to_numpy(sequence_lengths))
    if lengths.dtype.kind not in "iuf" or (lengths.dtype.kind == "f" and not np.all(lengths == np.round(lengths))):
        raise TypeError(f"ctc_decode: sequence_lengths: expected integers, got {lengths.dtype} values")
    if lengths.shape != (n,):
        raise ValueError(f"ctc_decode: sequence_lengths: expected shape ({n},), one length per sample, got shape "
                         f"{lengths.shape}")
    lengths = lengths.astype(np.int64)
    wrong = np.flatnonzero((lengths < 0) | (lengths > steps))
    if wrong.size:
        raise ValueError(f"ctc_decode: sequence_lengths: expected lengths from 0 to the inputs' {steps} steps, got "
                         f"{lengths[wrong[0]]} for sample {wrong[0]}")
    return lengths


def _blank(mask_index, classes):
    """The blank's class, 0 .. classes - 1."""
    if mask_index is None:
        return classes - 1
    if not isinstance(mask_index, numbers.Integral) or isinstance(mask_index, bool):
        raise TypeError(f"ctc_decode: mask_index: expected an int (the blank class) or None, got {mask_index!r}")
    if not -classes <= mask_index < classes:
        raise ValueError(f"ctc_decode: mask_index: expected a class of the inputs' {classes}, from {-classes} to "
                         f"{classes - 1}, got {mask_index}")
    return int(mask_index) % classes


def _count(value, name):
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"ctc_decode: {name}: expected an int of at least 1, got {value!r}")
    return int(value)


# --- the strategies -----------------------------------------------------------------------------

def _greedy(logits, lengths, blank, merge_repeated):
    """Best path: returns decoded int32 (1, n, T) and scores (n, 1), as documented above."""
    n, steps, _ = logits.shape
    used = np.arange(steps)[None, :] < lengths[:, None]           # (n, T): steps within each length
    best = logits.argmax(axis=-1)                                  # the first of equal maxima, as TF
    keep = used & (best != blank)
    if merge_repeated:                                              # a class again on the next step is the same label
        keep[:, 1:] &= best[:, 1:] != best[:, :-1]
    decoded = np.full((n, steps), -1, dtype=np.int32)
    rows, _ = np.nonzero(keep)
    decoded[rows, np.cumsum(keep, axis=1)[keep] - 1] = best[keep]  # each sample's kept labels, from the left
    # summed step after step in the logits' dtype, as TensorFlow adds them (a pairwise sum rounds otherwise)
    largest = np.where(used, logits.max(axis=-1), logits.dtype.type(0))
    scores = -np.cumsum(largest, axis=1)[:, -1:] if steps else np.zeros((n, 1), logits.dtype)
    return decoded[None], scores


def _beam_search(log_probs, blank, beam_width):
    """The prefix beam search over one sample's log-probabilities (T, C), step by step as
    TensorFlow's (the module docstring). Returns the beam at the end as a list of (label prefix as
    a tuple, log probability), best first.
    """
    dtype = log_probs.dtype
    labels = np.array([k for k in range(log_probs.shape[1]) if k != blank], dtype=np.int64)
    column = np.full(log_probs.shape[1], -1)                        # a label's column in ``labels``
    column[labels] = np.arange(labels.size)
    prefixes = [()]                                                 # the beam, best first
    blank_part = np.zeros(1, dtype)                                 # log P of its paths ending in a blank,
    label_part = np.full(1, -np.inf, dtype)                         # and of those ending in its last label
    for y in log_probs:
        total = np.logaddexp(blank_part, label_part)
        row = {prefix: i for i, prefix in enumerate(prefixes)}
        last = np.array([prefix[-1] if prefix else -1 for prefix in prefixes])
        parent = np.array([row.get(prefix[:-1], -1) if prefix else -1 for prefix in prefixes])
        # the paths from the parent: all of them, or those ending in a blank where the label repeats
        has_parent = parent >= 0
        from_parent = np.where(last == last[parent], blank_part[parent], total[parent])
        from_parent[~has_parent] = -np.inf
        # the prefixes in the beam, continued by a blank or by their last label (the root has none)
        continued_blank = total + y[blank]
        continued_label = np.where(last >= 0, np.logaddexp(label_part, from_parent) + y[last], -np.inf)
        # each prefix grown by each label, (beam, labels); child_row: the child's row where it is in the beam
        grown = np.where(last[:, None] == labels[None, :], blank_part[:, None], total[:, None]) + y[labels]
        child_row = np.full(grown.shape, -1)
        child_row[parent[has_parent], column[last[has_parent]]] = np.flatnonzero(has_parent)
        beam = _grow(np.logaddexp(continued_blank, continued_label), total, grown, child_row, beam_width)
        # the new beam, best first: ("continued", i) rows of the old one, ("grown", i, c) children
        beam.sort(key=lambda entry: -entry[0])
        prefixes = [prefixes[key[1]] if key[0] == "continued" else prefixes[key[1]] + (int(labels[key[2]]),)
                    for _, _, key in beam]
        blank_part = np.array([continued_blank[key[1]] if key[0] == "continued" else -np.inf
                               for _, _, key in beam], dtype)
        label_part = np.array([continued_label[key[1]] if key[0] == "continued" else grown[key[1], key[2]]
                               for _, _, key in beam], dtype)
    total = np.logaddexp(blank_part, label_part)
    return [(prefixes[i], total[i]) for i in np.argsort(-total, kind="stable")]


def _grow(continued, old_total, grown, child_row, beam_width):
    """One step's new beam, as TensorFlow's ``CTCBeamSearchDecoder::Step`` builds it.

    continued : (B,) the new totals of the B prefixes of the beam, continued (all stay, for now);
    old_total : (B,) their totals at the step before, the beam's order (best first);
    grown : (B, K) the totals of each prefix's child by each of the K labels;
    child_row : (B, K) the row of a child that is in the beam already, else -1.

    Returns the new beam as a list of (total, count, key), key ("continued", row) or ("grown", row,
    column). In the beam's order each prefix adds its children, one label after another, each
    pushing out the weakest while the beam is full (so the beam ends as the beam_width best of all,
    equal totals aside), with TensorFlow's one twist: a prefix of the beam pushed out by a new child
    and then regrown by its parent (too weak to join) has its totals wiped, and so adds no children
    itself this step, where the best of all would count them.
    """
    beam = [(float(value), -i, ("continued", i)) for i, value in enumerate(continued)]
    heapq.heapify(beam)                                             # the weakest on top
    inside = set(range(len(continued)))                             # the old rows still in the beam
    count = 0                                                       # breaks ties between equal totals
    grows_from = old_total.astype(float)
    for i in range(len(continued)):
        full = len(beam) == beam_width
        if not grows_from[i] > -np.inf or full and not grows_from[i] > beam[0][0]:
            continue                                                # its children cannot beat the weakest
        weakest = beam[0][0] if full else -np.inf                   # a child at or below it never joins
        for c in np.flatnonzero((grown[i] > weakest) | (child_row[i] >= 0)):
            row = child_row[i, c]
            if row >= 0:
                if row not in inside:                               # regrown after it was pushed out:
                    grows_from[row] = -np.inf                       # TensorFlow wipes it
                continue                                            # in the beam: continued above
            value = float(grown[i, c])
            if value == -np.inf or len(beam) == beam_width and not value > beam[0][0]:
                continue
            if len(beam) == beam_width:
                _, _, out = heapq.heappop(beam)
                if out[0] == "continued":
                    inside.discard(out[1])
            count += 1
            heapq.heappush(beam, (value, -len(continued) - count, ("grown", i, c)))
    return beam
