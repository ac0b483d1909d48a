"""What session 47's ONNX review (random models of the session's new exports against
onnxruntime, ``predict`` and Keras 3.15) found, each checked against ``predict`` (float32 1e-5
relative, float64 1e-10) after onnx's checker (full_check)."""
import numpy as np
import pytest

import glassnet as gn

pytest.importorskip("onnx", reason="onnx (test oracle) not installed")
pytest.importorskip("onnxruntime", reason="onnxruntime (test oracle) not installed")
from onnx_checks import TOLERANCES, exported as _exported  # noqa: E402


def _diagonals(big, small):
    """diag(big, big, 0) (det 0), diag(big, big, small) (det big² small, representable where big² is
    not) and a 2 x 2 block of big entries (det of the same size as big²)."""
    return np.array([np.diag([big, big, 0.0]), np.diag([big, big, small]),
                     [[big, 1.0, 0.0], [2.0, big, 0.0], [0.0, 0.0, 1.0 / big]]])


@pytest.mark.parametrize("n", [3, None], ids=["fixed", "open"])
@pytest.mark.parametrize("dtype, big, small", [("float32", 1e20, 1e-30), ("float64", 1e200, 1e-300)])
def test_det_of_pivots_whose_running_product_overflows(dtype, big, small, n, tmp_path):
    """The pivots' running product overflowed before the last pivot: the file gave NaN for a
    singular matrix (inf * 0; glassnet, NumPy's det: 0) and inf for a determinant the dtype holds
    (1e10, 1e100). NumPy's det is sign * exp(sum log |u_kk|), which the file now falls back on where
    the product is not finite or is 0."""
    x = gn.Input((n, n))
    model = gn.Model(x, gn.ops.det(x), dtype=dtype)
    _, session = _exported(model, tmp_path)
    data = _diagonals(big, small).astype(dtype)
    got = session.run(None, {session.get_inputs()[0].name: data})[0]
    want = model.predict(data, verbose=0)
    assert got[0] == 0 and np.isfinite(got[1]) and np.all(np.isfinite(want))
    np.testing.assert_allclose(got, want, **TOLERANCES[dtype])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("call", ["keywords", "key_and_mask_by_keyword"])
def test_attention_given_its_tensors_by_keyword(call, dtype, rng, tmp_path):
    """``mha(query=q, value=v, key=k)`` (keras.io's cross-attention) and ``mha(q, v, key=k,
    attention_mask=m)`` record the order Keras' call reads its inputs in (the call's option
    ``keras_order``, which orders the model's layers only): the export refused such a model,
    naming an argument ['keras_order'] that the user never gave."""
    q, v, k, m = gn.Input((3, 4)), gn.Input((5, 2)), gn.Input((5, 3)), gn.Input((3, 5))
    mha = gn.layers.MultiHeadAttention(2, 3, use_gate=dtype == "float32")
    if call == "keywords":
        inputs, out = [q, v, k], mha(query=q, value=v, key=k)
    else:
        inputs, out = [q, v, k, m], mha(q, v, key=k, attention_mask=m)
    model = gn.Model(inputs, out, dtype=dtype)
    data = [rng.normal(size=(4, *x.shape[1:])).astype(dtype) for x in inputs[:3]]
    data += [(rng.random((4, 3, 5)) < 0.7).astype(dtype)] if call != "keywords" else []
    _, session = _exported(model, tmp_path)
    got = session.run(None, {i.name: x for i, x in zip(session.get_inputs(), data)})[0]
    np.testing.assert_allclose(got, model.predict(data, verbose=0), **TOLERANCES[dtype])


def _unmerged(k, kind, own, masked, sequences, dtype=None, Input=None, Model=None):
    """``ahead, behind = Bidirectional(..., merge_mode=None)(x)``, each read on (an LSTM over the
    sequences, masked where the input is), as Keras 3.15's unmerged wrapper."""
    Input, Model = Input or gn.Input, Model or gn.Model
    make = getattr(k.layers, kind)
    options = dict(backward_layer=make(3, go_backwards=True, activation="relu", return_sequences=sequences)) if own else {}
    if masked:
        x = Input((6,), dtype="int32")
        h = k.layers.Embedding(10, 3, mask_zero=True)(x)
    else:
        x = h = Input((6, 3))
    ahead, behind = k.layers.Bidirectional(make(3, return_sequences=sequences), merge_mode=None, **options)(h)
    if sequences:
        ahead, behind = k.layers.LSTM(2)(ahead), k.layers.LSTM(2)(behind)
    return Model(x, [ahead, behind], **({"dtype": dtype} if dtype else {}))


def _unmerged_data(rng, masked, dtype):
    if masked:
        from onnx_checks import masked_ids
        return masked_ids(rng)
    return rng.normal(size=(7, 6, 3)).astype(dtype)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("masked", [False, True], ids=["plain", "masked"])
@pytest.mark.parametrize("kind, own, sequences", [("LSTM", False, False), ("GRU", True, True), ("SimpleRNN", False, True),
                                                  ("LSTM", True, True)])
def test_bidirectional_merge_mode_none(kind, own, sequences, masked, dtype, rng, tmp_path):
    """kargs2's ``merge_mode=None`` (both readers' outputs) was refused by the export ("merge_mode
    None is not exported"): the call's output is the forward reader's and its BackwardOutput the
    backward one's, from ONNX's bidirectional node or the two Scans."""
    from onnx_checks import check, jitter
    model = jitter(_unmerged(gn, kind, own, masked, sequences, dtype), rng)
    check(model, _unmerged_data(rng, masked, dtype), tmp_path, dtype)


@pytest.mark.parametrize("masked", [False, True], ids=["plain", "masked"])
def test_bidirectional_merge_mode_none_against_keras(masked, rng, tmp_path):
    keras = pytest.importorskip("keras")
    from onnx_checks import jitter
    model = jitter(_unmerged(gn, "GRU", True, masked, True), rng)
    theirs = _unmerged(keras, "GRU", True, masked, True, Input=keras.Input, Model=keras.Model)
    theirs.set_weights(model.get_weights())
    data = _unmerged_data(rng, masked, "float32")
    _, session = _exported(model, tmp_path)
    got = session.run(None, {session.get_inputs()[0].name: data})
    for g, w in zip(got, theirs.predict(data, verbose=0)):
        np.testing.assert_allclose(g, np.asarray(w), rtol=1e-5, atol=1e-5)


def test_backward_output_hands_the_mask_on(rng):
    """glassnet's own forward (``predict``): the BackwardOutput of a masked ``merge_mode=None``
    wrapper returning sequences handed no mask on, so an LSTM reading ``behind`` read the padding
    as data (0.15 from Keras 3.15's, which gives both outputs the wrapper's mask)."""
    keras = pytest.importorskip("keras")
    from onnx_checks import jitter, masked_ids

    def build(k):
        ids = k.Input((6,), dtype="int32")
        _, behind = k.layers.Bidirectional(k.layers.GRU(3, return_sequences=True), merge_mode=None)(
            k.layers.Embedding(10, 3, mask_zero=True)(ids))
        return k.Model(ids, k.layers.LSTM(2)(behind))
    model = jitter(build(gn), rng)
    theirs = build(keras)
    theirs.set_weights(model.get_weights())
    data = masked_ids(rng)
    np.testing.assert_allclose(model.predict(data, verbose=0), np.asarray(theirs.predict(data, verbose=0)),
                               rtol=1e-5, atol=1e-6)
