"""utils.pad_sequences: Keras' function, against Keras and by hand."""
import numpy as np
import pytest

from glassnet.utils import pad_sequences


def test_matches_keras_on_every_setting(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    sequences = [list(rng.integers(1, 50, int(n))) for n in rng.integers(0, 9, 30)]
    for maxlen in (None, 1, 4, 12):
        for padding in ("pre", "post"):
            for truncating in ("pre", "post"):
                ours = pad_sequences(sequences, maxlen=maxlen, padding=padding, truncating=truncating, value=-1)
                theirs = keras.utils.pad_sequences(sequences, maxlen=maxlen, padding=padding,
                                                   truncating=truncating, value=-1)
                np.testing.assert_array_equal(ours, theirs)
                assert ours.dtype == theirs.dtype == np.int32


def test_items_that_are_vectors_and_other_dtypes():
    out = pad_sequences([np.ones((2, 3)), np.zeros((1, 3))], dtype="float32", value=0.5)
    assert out.shape == (2, 2, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(out[1, 0], 0.5)
    assert pad_sequences([]).shape == (0, 0)
    assert pad_sequences([[], [1]]).tolist() == [[0], [1]]


@pytest.mark.parametrize("call, error, message", [
    (lambda: pad_sequences([[1]], padding="middle"), ValueError, "padding must be 'pre' or 'post'"),
    (lambda: pad_sequences([[1]], truncating="end"), ValueError, "truncating must be 'pre' or 'post'"),
    (lambda: pad_sequences([[1]], maxlen=0), ValueError, "pad_sequences: maxlen: expected a positive integer"),
    (lambda: pad_sequences([[1]], dtype="U5"), ValueError, "dtype must be a numeric dtype"),
    (lambda: pad_sequences([[1], 5]), TypeError, r"sequences\[1\] must be a sequence of numbers, got int 5"),
    (lambda: pad_sequences(["ab"]), TypeError, r"sequences\[0\] must be a sequence of numbers, got str"),
    (lambda: pad_sequences([[[1, 2]], [[1, 2, 3]]]), ValueError, r"sequences\[1\] has items of shape \(3,\)"),
])
def test_bad_input_is_refused_by_name(call, error, message):
    with pytest.raises(error, match=message):
        call()
