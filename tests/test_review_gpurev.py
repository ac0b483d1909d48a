"""The CuPy stand-in (tests/fakecupy) refuses what CuPy 14 lacks, as a GPU would, so that the
backend's tests on machines without one catch a NumPy-only call: functions and methods CuPy does
not have, NumPy keyword arguments its functions do not take, and sorts it does not do (the table
of docs.cupy.dev/en/stable/reference/comparison.html, the signatures of CuPy 14.2's functions)."""
import numpy as np
import pytest

from test_fakecupy import fake_cupy


@pytest.fixture(scope="module")
def cp():
    with fake_cupy() as module:
        yield module


@pytest.mark.parametrize("name", ["insert", "geomspace", "nanpercentile", "spacing", "block", "unstack"])
def test_numpy_functions_cupy_lacks_are_refused(cp, name):       
    x = cp.arange(6, dtype=cp.float32)
    assert hasattr(np, name)
    with pytest.raises(AttributeError):
        getattr(cp, name)
    if name in ("insert", "nanpercentile"):
        # numpy's function on a device array: CuPy's __array_function__ answers NotImplemented
        with pytest.raises(TypeError, match="no implementation found"):
            getattr(np, name)(x, *((1, 0.0) if name == "insert" else (50,)))
    if name == "spacing":
        # a ufunc: CuPy's __array_ufunc__ answers NotImplemented for one that cupy lacks
        with pytest.raises(TypeError, match="NotImplemented"):
            np.spacing(x)


def test_linalg_functions_and_methods_cupy_lacks_are_refused(cp): 
    x = cp.ones((2, 3), dtype=cp.float32)
    for name in ("vector_norm", "matrix_norm", "multi_dot", "tensordot"):
        with pytest.raises(AttributeError):
            getattr(cp.linalg, name)
    with pytest.raises(TypeError, match="no implementation found"):
        np.linalg.vector_norm(x)
    assert float(cp.linalg.norm(x)) == pytest.approx(6 ** 0.5)      # what CuPy has still works
    assert float(np.trace(cp.eye(3))) == 3.0                       # numpy.trace: cupy.trace exists
    for method in ("resize", "setflags", "getfield", "to_device"):
        with pytest.raises(AttributeError):
            getattr(x, method)


@pytest.mark.parametrize("call", [
    lambda cp, x: x.sum(where=x > 0),
    lambda cp, x: x.max(initial=0.0),
    lambda cp, x: np.max(x, initial=0.0),
    lambda cp, x: np.mean(x, where=x > 0),
    lambda cp, x: np.std(x, correction=1),
    lambda cp, x: np.clip(x, min=0.0, max=1.0),
    lambda cp, x: cp.count_nonzero(x, axis=0, keepdims=True),
    lambda cp, x: cp.take(x, cp.asarray([0, 1]), axis=0, mode="clip"),
    lambda cp, x: x.take(cp.asarray([0, 1]), axis=0, mode="clip"),
    lambda cp, x: cp.add(x, x, where=x > 0),
    lambda cp, x: cp.exp(x, order="C"),
    lambda cp, x: x.item(0),
], ids=["sum-where", "max-initial", "np.max-initial", "np.mean-where", "np.std-correction", "clip-min-max",
        "count_nonzero-keepdims", "take-mode", "method-take-mode", "ufunc-where", "ufunc-order", "item-index"])
def test_numpy_keywords_cupy_lacks_are_refused(cp, call):   
    x = cp.asarray(np.arange(6, dtype=np.float32).reshape(2, 3) - 2)
    with pytest.raises(TypeError):
        call(cp, x)


def test_the_keywords_cupy_takes_still_work(cp):               
    x = cp.asarray(np.arange(6, dtype=np.float32).reshape(2, 3) - 2)
    assert x.sum(axis=1, keepdims=True).shape == (2, 1)
    assert float(np.max(x, axis=None)) == 3.0
    np.testing.assert_array_equal(x.clip(min=0, max=1).get(), np.clip(x.get(), 0, 1))   # the method's names
    np.testing.assert_array_equal(np.clip(x, 0, 1).get(), np.clip(x.get(), 0, 1))
    np.testing.assert_array_equal(cp.argsort(x, axis=-1, kind="stable").get(), [[0, 1, 2], [0, 1, 2]])
    assert cp.add(x, x, out=cp.empty_like(x), dtype=np.float32).dtype == np.float32


def test_sorts_are_stable_only_and_in_place_sorts_need_an_array_of_its_own(cp): 
    x = cp.asarray(np.array([[3.0, 1.0], [2.0, 0.0]], np.float32))
    with pytest.raises(ValueError, match="kind can only be None or 'stable'"):
        x.argsort(kind="quicksort")
    with pytest.raises(ValueError, match="kind can only be None or 'stable'"):
        np.sort(x, -1, "mergesort")
    with pytest.raises(NotImplementedError, match="non-contiguous"):
        x.T.sort()                      # a view: CuPy sorts only C-contiguous arrays in place
    np.testing.assert_array_equal(cp.sort(x.T).get(), [[2.0, 3.0], [0.0, 1.0]])    # a copy: fine
    y = x.copy()
    y.sort(axis=-1)
    np.testing.assert_array_equal(y.get(), [[1.0, 3.0], [0.0, 2.0]])
