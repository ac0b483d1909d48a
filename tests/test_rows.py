"""glassnet._rows: the fast row reductions give exactly NumPy's own results."""
import numpy as np
import pytest

from glassnet._rows import SHORT_ROW, row_argmax, row_max

SHAPES = [(1, 10), (7, 1), (64, 10), (300, 2), (50, SHORT_ROW), (50, SHORT_ROW + 1), (3, 200), (0, 10),
          (4, 5, 6)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
def test_row_max_and_argmax_equal_numpys(shape, dtype, rng):
    x = (rng.standard_normal(shape) * 3).round().astype(dtype)   # rounded: many ties
    if x.size:
        for keepdims in (False, True):
            got = row_max(x, keepdims=keepdims)
            assert got.dtype == x.dtype
            np.testing.assert_array_equal(got, x.max(axis=-1, keepdims=keepdims))
        np.testing.assert_array_equal(row_argmax(x), x.argmax(axis=-1))


def test_views_and_nan(rng):
    x = rng.standard_normal((40, 12))
    for view in (x[::2], x[:, 1:7], x.T[:5].T, np.asfortranarray(x)):
        np.testing.assert_array_equal(row_max(view), view.max(axis=-1))
        np.testing.assert_array_equal(row_argmax(view), view.argmax(axis=-1))
    x[3, 4] = np.nan
    x[5, 0] = x[5, 2] = np.nan
    np.testing.assert_array_equal(row_max(x), x.max(axis=-1))          # nan propagates alike
    np.testing.assert_array_equal(row_argmax(x), x.argmax(axis=-1))    # the first nan wins alike
