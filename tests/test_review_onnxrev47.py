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
