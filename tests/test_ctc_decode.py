"""glassnet.losses.ctc_decode (glassnet/losses/decoding.py) against Keras 3.15's ``ops.ctc_decode``
on TensorFlow (greedy: decodings and scores equal; beam search: decodings equal, scores to float32
rounding) on random and peaked logits, many shapes, lengths, blanks, beam widths and top_paths;
against every path enumerated on tiny cases; against glassnet's own CTC loss; and the errors."""
import itertools

import numpy as np
import pytest

from glassnet import losses
from glassnet.losses import ctc_decode


def _cases(rng, count, peaked):
    """(logits, lengths, mask_index) of random shapes: logits N(0, 1.5) or, peaked like a trained
    model's, N(0, 8) (most steps one class near probability 1)."""
    for trial in range(count):
        n, steps, classes = rng.integers(1, 5), rng.integers(1, 25), rng.integers(2, 12)
        z = rng.standard_normal((n, steps, classes)) * (8.0 if peaked else 1.5)
        lengths = rng.integers(0, steps + 1, n)
        lengths[0] = steps                  # one sample uses every step
        yield z, lengths, (int(rng.integers(0, classes)) if trial % 3 == 0 else 0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("peaked", [False, True])
def test_greedy_matches_keras_exactly(keras, rng, dtype, peaked):
    for z, lengths, mask in _cases(rng, 40, peaked):
        z = z.astype(dtype)
        if rng.random() < 0.3:              # ties in the argmax: the first class wins in both
            z[:, ::2, :2] = z[:, ::2, :1]
        for merge in (True, False):
            theirs = keras.ops.ctc_decode(z, lengths, strategy="greedy", merge_repeated=merge, mask_index=mask)
            decoded, scores = ctc_decode(z, lengths, strategy="greedy", merge_repeated=merge, mask_index=mask)
            np.testing.assert_array_equal(decoded, np.asarray(theirs[0]))
            np.testing.assert_array_equal(scores, np.asarray(theirs[1]))
            assert decoded.dtype == np.int32 and scores.dtype == dtype and scores.shape == (z.shape[0], 1)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("peaked", [False, True])
def test_beam_search_matches_keras(keras, rng, dtype, peaked):
    compared = 0
    for z, lengths, mask in _cases(rng, 50, peaked):
        z = z.astype(dtype)
        width = int(rng.choice([1, 2, 3, 5, 10, 100]))
        top = int(rng.integers(1, width + 1))
        try:
            theirs = keras.ops.ctc_decode(z, lengths, strategy="beam_search", beam_width=width, top_paths=top,
                                          mask_index=mask)
        except Exception as exc:            # too few sequences for top_paths: both refuse
            assert "Less leaves" in str(exc)
            with pytest.raises(ValueError, match="top_paths=.* label sequences"):
                ctc_decode(z, lengths, strategy="beam_search", beam_width=width, top_paths=top, mask_index=mask)
            continue
        decoded, scores = ctc_decode(z, lengths, strategy="beam_search", beam_width=width, top_paths=top,
                                     mask_index=mask)
        np.testing.assert_array_equal(decoded, np.asarray(theirs[0]))
        tolerance = 2e-5 if dtype == np.float32 else 1e-7  # TF float64 is ~3e-8 off the exact
        np.testing.assert_allclose(scores, np.asarray(theirs[1]), rtol=tolerance, atol=tolerance)
        assert decoded.shape == (top, *z.shape[:2]) and scores.shape == (z.shape[0], top) and scores.dtype == dtype
        compared += 1
    assert compared > 35


def test_beam_search_keeps_tensorflows_wiped_prefix(keras):
    # the module docstring's case: the prefix "3" is pushed out at step 1, then regrown from the empty
    # prefix (too weak to join), which wipes it: "3 2" (P .24) is never grown, "1" (P .029) stays
    p = np.array([[[.7, .02, .02, .26], [.008, .041, .941, .01]]])
    decoded, scores = ctc_decode(np.log(p), [2], strategy="beam_search", beam_width=2, top_paths=2)
    theirs = keras.ops.ctc_decode(np.log(p).astype(np.float32), np.array([2]), strategy="beam_search", beam_width=2,
                                  top_paths=2)
    np.testing.assert_array_equal(decoded, np.asarray(theirs[0]))
    assert decoded[:, 0, :1].ravel().tolist() == [2, 1]
    np.testing.assert_allclose(np.exp(scores[0]), [.7 * .941, .7 * .041], rtol=1e-12)
    # a beam wide enough keeps "3 2", worth more than "1"
    wide, wide_scores = ctc_decode(np.log(p), [2], strategy="beam_search", beam_width=20, top_paths=3)
    assert wide[1, 0].tolist() == [3, 2] and np.exp(wide_scores[0, 1]) == pytest.approx(.26 * .941)


def _exact(log_probs, blank):
    """{label sequence: log P} over every path of the (T, C) log-probabilities, by enumeration."""
    sequences = {}
    for path in itertools.product(range(log_probs.shape[1]), repeat=log_probs.shape[0]):
        spelled = tuple(k for t, k in enumerate(path) if k != blank and (t == 0 or k != path[t - 1]))
        value = log_probs[np.arange(len(path)), path].sum()
        sequences[spelled] = np.logaddexp(sequences.get(spelled, -np.inf), value)
    return sequences


@pytest.mark.parametrize("steps,classes", [(1, 2), (2, 3), (3, 3), (4, 2), (4, 3), (5, 3)])
def test_a_wide_beam_gives_every_sequences_exact_probability(rng, steps, classes):
    for trial in range(4):
        z = rng.standard_normal((1, steps, classes)) * (4.0 if trial % 2 else 1.0)
        blank = trial % classes
        log_probs = z[0] - np.logaddexp.reduce(z[0], axis=-1, keepdims=True)
        exact = _exact(log_probs, blank)
        best = sorted(exact.items(), key=lambda item: -item[1])
        top = len(exact)            # every sequence: a beam of 100 holds all of them at these sizes
        decoded, scores = ctc_decode(z, [steps], strategy="beam_search", beam_width=100, top_paths=top,
                                     mask_index=blank)
        found = {tuple(int(k) for k in row if k >= 0): score for row, score in zip(decoded[:, 0], scores[0])}
        assert found.keys() == exact.keys()
        for sequence, value in exact.items():
            assert found[sequence] == pytest.approx(value, abs=1e-12)
        assert tuple(k for k in decoded[0, 0] if k >= 0) == best[0][0]
        # the greedy decoding is the sequence the single best path spells
        paths = list(itertools.product(range(classes), repeat=steps))
        path = max(paths, key=lambda p: log_probs[np.arange(steps), p].sum())
        spelled = [k for t, k in enumerate(path) if k != blank and (t == 0 or k != path[t - 1])]
        greedy, _ = ctc_decode(z, [steps], mask_index=blank)
        assert [k for k in greedy[0, 0] if k >= 0] == spelled


def test_beam_scores_are_minus_the_ctc_loss_of_the_decodings(rng):
    # glassnet's own CTC loss sums over every alignment: on a beam wide enough the two agree
    z = rng.standard_normal((3, 5, 4)) * 2
    decoded, scores = ctc_decode(z, [5, 5, 5], strategy="beam_search", beam_width=100, top_paths=3)
    for rank in range(3):
        labels = np.where(decoded[rank] < 0, 0, decoded[rank])
        nonempty = labels.any(axis=1)
        loss = losses.CTC(reduction="none")(z[nonempty], labels[nonempty])
        np.testing.assert_allclose(-loss, scores[nonempty, rank], rtol=1e-10)


def test_sequence_lengths_cut_each_sample_and_float32_is_kept(rng):
    z = rng.standard_normal((2, 6, 4)).astype(np.float32)
    for strategy in ("greedy", "beam_search"):
        decoded, scores = ctc_decode(z, [6, 3], strategy=strategy)
        alone, alone_scores = ctc_decode(z[1:, :3], [3], strategy=strategy)
        np.testing.assert_array_equal(decoded[:, 1, :3], alone[:, 0])
        assert (decoded[:, 1, 3:] == -1).all() and scores.dtype == np.float32
        np.testing.assert_array_equal(scores[1], alone_scores[0])
    assert ctc_decode(z.tolist(), [6, 3])[1].dtype == np.float32          # a list: floatx, as Keras
    empty, zero = ctc_decode(z, [0, 0], strategy="beam_search")
    assert (empty == -1).all() and (zero == 0).all()


def test_merge_repeated_and_the_blank():
    one_hot = np.log(np.eye(3)[[1, 1, 0, 1, 2, 2]] * 0.98 + 0.01)[None]   # 1 1 - 1 2 2
    assert ctc_decode(one_hot, [6])[0][0, 0, :4].tolist() == [1, 1, 2, -1]
    assert ctc_decode(one_hot, [6], merge_repeated=False)[0][0, 0, :6].tolist() == [1, 1, 1, 2, 2, -1]
    assert ctc_decode(one_hot, [6], mask_index=2)[0][0, 0, :4].tolist() == [1, 0, 1, -1]   # 2 the blank
    assert ctc_decode(one_hot, [6], mask_index=-1)[0][0, 0, :4].tolist() == [1, 0, 1, -1]  # the last class
    assert ctc_decode(one_hot, [6], mask_index=None, strategy="beam_search")[0][0, 0, :4].tolist() == [1, 0, 1, -1]


@pytest.mark.parametrize("kwargs,error,match", [
    ({"strategy": "beam"}, ValueError, r"strategy: expected one of \['greedy', 'beam_search'\], got 'beam'"),
    ({"mask_index": 4}, ValueError, "mask_index: expected a class of the inputs' 4, from -4 to 3, got 4"),
    ({"mask_index": 1.0}, TypeError, "mask_index: expected an int"),
    ({"sequence_lengths": [3, 7]}, ValueError, "lengths from 0 to the inputs' 6 steps, got 7 for sample 1"),
    ({"sequence_lengths": [3]}, ValueError, r"sequence_lengths: expected shape \(2,\)"),
    ({"sequence_lengths": [1.5, 2]}, TypeError, "sequence_lengths: expected integers"),
    ({"strategy": "beam_search", "beam_width": 0}, ValueError, "beam_width: expected an int of at least 1, got 0"),
    ({"strategy": "beam_search", "top_paths": True}, ValueError, "top_paths: expected an int of at least 1"),
    ({"strategy": "beam_search", "beam_width": 2, "top_paths": 3}, ValueError, r"top_paths \(3\) cannot exceed"),
    ({"merge_repeated": "yes"}, TypeError, "merge_repeated: expected True or False"),
])
def test_refuses_by_name(rng, kwargs, error, match):
    arguments = {"inputs": rng.standard_normal((2, 6, 4)), "sequence_lengths": [6, 2], **kwargs}
    with pytest.raises(error, match=match):
        ctc_decode(**arguments)


def test_refuses_inputs_that_are_not_logits(rng):
    with pytest.raises(ValueError, match=r"inputs: expected logits of shape \(n_samples, steps, classes\)"):
        ctc_decode(rng.standard_normal((6, 4)), [6])
    with pytest.raises(ValueError, match="inputs: expected logits, got NaN"):
        ctc_decode(np.full((1, 2, 3), np.nan), [2])
    with pytest.raises(TypeError, match="inputs: expected an array of logits, got <U1"):
        ctc_decode(np.array([[["a"]]]), [1])
    with pytest.raises(ValueError, match="top_paths=3, but sample 0's 1 steps spell only 2 label sequences"):
        ctc_decode(np.zeros((1, 1, 2)), [1], strategy="beam_search", top_paths=3)


def test_the_guides_ctc_example_reads_its_captchas():
    import re
    from pathlib import Path
    text = (Path(__file__).resolve().parents[1] / "docs" / "guide" / "outputs.md").read_text(encoding="utf-8")
    section = text[text.index("`gn.losses.ctc_decode` reads what it predicts"):]
    namespace = {}
    exec(re.search(r"```python\n(.*?)```", section, re.S).group(1), namespace)
    assert namespace["read_right"] == 1.0
    assert namespace["words"][:3] == ["caa", "cac", "ccc"]
    np.testing.assert_array_equal(namespace["best"][0], namespace["decoded"][0])   # peaked: the beam agrees
