"""glassnet._erf, the error function behind gelu: against math.erf in float64 and float32, odd,
stable at the extremes, and its coefficient tables what their documented fit gives."""
import math
import warnings

import numpy as np
import pytest

from glassnet import _erf


def test_float64_within_2e_15_of_math_erf():
    x = np.concatenate([np.linspace(-7, 7, 140_001), np.geomspace(1e-300, 1e-3, 200)])
    expected = np.array([math.erf(v) for v in x])
    got = _erf.erf(x)
    assert got.dtype == np.float64
    np.testing.assert_allclose(got, expected, rtol=2e-15, atol=0)


def test_float32_within_three_ulps_of_math_erf():
    # a dense run around 0.055, where a review found the worst (2.64 ulps), and the whole range
    x = np.concatenate([np.linspace(-7, 7, 70_001), np.linspace(0.05, 0.06, 20_001)]).astype(np.float32)
    got = _erf.erf(x)
    assert got.dtype == np.float32
    expected = np.array([math.erf(float(v)) for v in x])
    ulps = np.abs(got - expected) / np.spacing(np.abs(expected).astype(np.float32))
    assert ulps.max() <= 3


def test_other_dtypes():
    np.testing.assert_allclose(_erf.erf(np.array([1, -2])), [math.erf(1), math.erf(-2)], rtol=2e-15)
    half = _erf.erf(np.array([0.5, 2.0], dtype=np.float16))
    assert half.dtype == np.float16
    np.testing.assert_allclose(half, [math.erf(0.5), math.erf(2.0)], rtol=1e-3)
    with pytest.raises(TypeError, match="erf: expected a numeric array, got dtype <U1"):
        _erf.erf(np.array(["a"]))


def test_odd_exact_at_zero_and_saturating():
    x = np.linspace(0, 10, 1001)
    np.testing.assert_array_equal(_erf.erf(-x), -_erf.erf(x))
    assert _erf.erf(np.array([0.0]))[0] == 0.0
    np.testing.assert_array_equal(_erf.erf(np.array([6.0, 8.0, 1e300, np.inf])), [1.0, 1.0, 1.0, 1.0])
    assert np.isnan(_erf.erf(np.array([np.nan])))[0]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_no_warning_at_any_finite_input(dtype):
    x = np.array([-np.finfo(dtype).max, -1e30, -1e4, -1e-30, 0.0, 1e-30, 1e4, 1e30, np.finfo(dtype).max],
                 dtype=dtype)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with np.errstate(over="raise", invalid="raise", divide="raise"):
            got = _erf.erf(x)
    # +-1 beyond 6; 2 / sqrt(pi) * x near 0
    expected = np.where(np.abs(x) > 1, np.sign(x), 2 / np.sqrt(np.pi) * np.clip(x.astype(np.float64), -1, 1))
    np.testing.assert_allclose(got, expected, rtol=2 * np.finfo(dtype).eps, atol=0)
    assert got.dtype == dtype


def test_the_tables_are_what_the_fit_gives():
    small, large = _erf.fit_coefficients()
    assert len(small) == len(_erf._SMALL) and len(large) == len(_erf._LARGE)
    # refitting may differ in the last bit from one BLAS to another, never by more
    np.testing.assert_allclose(small, _erf._SMALL, rtol=0, atol=1e-15)
    np.testing.assert_allclose(large, _erf._LARGE, rtol=0, atol=1e-15)
