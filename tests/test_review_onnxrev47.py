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


@pytest.mark.parametrize("n", [3, None], ids=["unrolled", "loop"])
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
