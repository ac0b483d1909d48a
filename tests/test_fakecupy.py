"""The strict CuPy stand-in in tests/fakecupy: it refuses what CuPy refuses at the host/device
boundary and allows the explicit crossings. (It is not CuPy: see tests/fakecupy/README.md.)"""
import contextlib
import importlib
import importlib.util
import pathlib
import sys

import numpy as np
import pytest

FAKE_DIR = str(pathlib.Path(__file__).parent / "fakecupy")
IMPLICIT = "Implicit conversion to a NumPy array is not allowed"
HOST = r"Unsupported type <class 'numpy\.ndarray'>"


def _cupy_modules():
    return {name: mod for name, mod in sys.modules.items() if name == "cupy" or name.startswith("cupy.")}


@contextlib.contextmanager
def fake_cupy():
    """Import the fake as ``cupy``; afterwards leave sys.path, sys.modules and what
    ``import cupy`` finds (a real CuPy, if installed) as they were."""
    spec_before = importlib.util.find_spec("cupy")     # None, or a real CuPy (or an outer fake)
    saved = _cupy_modules()                            # an imported CuPy is set aside meanwhile
    for name in saved:
        del sys.modules[name]
    sys.path.insert(0, FAKE_DIR)
    try:
        fake = importlib.import_module("cupy")
        assert fake.__file__.startswith(FAKE_DIR)
        yield fake
    finally:
        sys.path.remove(FAKE_DIR)
        for name in _cupy_modules():
            del sys.modules[name]
        sys.modules.update(saved)
        spec_after = importlib.util.find_spec("cupy")
        assert (spec_after and spec_after.origin) == (spec_before and spec_before.origin)


@pytest.fixture(scope="module")
def cp():
    with fake_cupy() as module:
        yield module


def test_import_leaves_no_trace():
    path, modules = list(sys.path), _cupy_modules()
    with fake_cupy() as cp:
        assert cp.__name__ == "cupy" and "cupy.random" in sys.modules
    assert sys.path == path and _cupy_modules() == modules and FAKE_DIR not in sys.path


def test_device_array_type(cp):
    x = cp.zeros((2, 3), dtype=cp.float32)
    assert type(x) is cp.ndarray and type(x).__module__.startswith("cupy")
    assert isinstance(cp.ndarray((2,), cp.float64), cp.ndarray)
    assert x.shape == (2, 3) and x.dtype == np.float32 and x.ndim == 2 and x.size == 6
    assert x.nbytes == 24 and x.itemsize == 4 and x.strides == (12, 4) and x.flags.c_contiguous
    assert isinstance(x.T, cp.ndarray) and x.T.shape == (3, 2) and isinstance(x[0].base, cp.ndarray)
    assert cp.float32 is np.float32 and cp.dtype is np.dtype and cp.newaxis is None
    assert cp.pi == np.pi and cp.inf == np.inf and np.isnan(cp.nan)
    assert cp.finfo(cp.float32).eps == np.finfo(np.float32).eps and cp.iinfo(cp.int32).max == 2**31 - 1


MIXES = {
    "x + h": lambda cp, x, h: x + h,
    "h + x": lambda cp, x, h: h + x,
    "x * h": lambda cp, x, h: x * h,
    "x @ h.T": lambda cp, x, h: x @ h.T,
    "h @ x.T": lambda cp, x, h: h @ x.T,
    "x > h": lambda cp, x, h: x > h,
    "x + 0-d host": lambda cp, x, h: x + np.array(1.0),
    "cp.add": lambda cp, x, h: cp.add(x, h),
    "np.add": lambda cp, x, h: np.add(x, h),
    "np.maximum out=host": lambda cp, x, h: np.maximum(x, 0, out=h),
    "cp.concatenate": lambda cp, x, h: cp.concatenate([x, h]),
    "np.concatenate": lambda cp, x, h: np.concatenate([x, h]),
    "np.where": lambda cp, x, h: np.where(x > 0, x, h),
    "np.einsum": lambda cp, x, h: np.einsum("ij,kj->ik", x, h),
    "x.dot": lambda cp, x, h: x.dot(h.T),
    "x.reshape-then-add": lambda cp, x, h: x.reshape(3, 2) + h.reshape(3, 2),
    "cp.ascontiguousarray": lambda cp, x, h: cp.ascontiguousarray(h),
    "cp.linalg.norm": lambda cp, x, h: cp.linalg.norm(h),
    "cp.exp": lambda cp, x, h: cp.exp(h),
}


@pytest.mark.parametrize("mix", MIXES.values(), ids=MIXES.keys())
def test_mixing_host_and_device_is_refused(cp, mix):
    x, h = cp.arange(6.0).reshape(2, 3), np.ones((2, 3))
    with pytest.raises(TypeError, match=HOST):
        mix(cp, x, h)


def test_in_place_mixing_is_refused_and_changes_nothing(cp):
    x, h = cp.arange(6.0), np.ones(6)
    with pytest.raises(TypeError, match=HOST):
        x += h
    with pytest.raises(TypeError, match=HOST):
        h += x
    assert x.get().tolist() == list(range(6)) and h.tolist() == [1.0] * 6


def test_other_operands_are_refused(cp):
    with pytest.raises(TypeError):
        cp.arange(3) + [1, 2, 3]                        # CuPy: NotImplemented, numpy raises


@pytest.mark.parametrize("convert", [np.asarray, np.array, lambda x: np.asarray([x, x]),
                                     lambda x: np.testing.assert_allclose(x, x),
                                     lambda x: np.ones(3).__setitem__(slice(None), x)])
def test_implicit_conversion_is_refused(cp, convert):
    with pytest.raises(TypeError, match=IMPLICIT):
        convert(cp.arange(3.0))


def test_scalars_are_accepted(cp):
    x = cp.arange(3.0)
    for y in (x * np.float32(2), np.float64(2) * x, 2 * x, x / 2.0, x + True, x > np.array(0.5)):
        assert isinstance(y, cp.ndarray)
    assert (x > np.array(0.5)).get().tolist() == [False, True, True]   # CuPy's 0-d comparison rule


def test_explicit_transfers(cp):
    h = np.arange(4.0)
    x = cp.asarray(h)
    h[0] = 99                                           # the device copy is independent
    assert isinstance(x, cp.ndarray) and x.get().tolist() == [0.0, 1.0, 2.0, 3.0]
    host = x.get()
    host[1] = 99
    assert type(host) is np.ndarray and float(x[1]) == 1.0
    assert cp.asarray(x) is x and cp.array(x) is not x
    assert type(cp.asnumpy(x)) is np.ndarray and cp.asnumpy(h) is h
    assert cp.array([[1, 2], [3, 4]], dtype=cp.float32).dtype == np.float32
    assert cp.array([x, x]).shape == (2, 4)
    x.set(np.zeros(4))
    assert x.get().tolist() == [0.0] * 4
    with pytest.raises(TypeError):
        x.set(np.zeros(4, np.float32))                  # CuPy: dtypes must match
    assert float(cp.array(2.5)) == 2.5 and int(cp.array(3)) == 3 and complex(cp.array(1j)) == 1j
    assert bool(cp.array([1])) and cp.array([1.5]).item() == 1.5 and cp.arange(2).tolist() == [0, 1]
    assert repr(cp.arange(3)) == repr(np.arange(3)) and f"{cp.array(2.0):.2f}" == "2.00"


def test_results_are_device_arrays_and_reductions_are_0d(cp):
    x = cp.arange(6.0).reshape(2, 3)
    for r in (cp.sum(x), x.sum(), np.sum(x), np.mean(x), x.max(), x.argmax(), cp.linalg.norm(x),
              x[1, 2], x.std(), (x > 2).any()):
        assert isinstance(r, cp.ndarray) and r.ndim == 0
    assert float(cp.sum(x)) == 15.0 and float(np.mean(x)) == 2.5
    for r in (np.exp(x), np.einsum("ij,kj->ik", x, x), x.reshape(3, 2), x.astype(cp.float32),
              cp.maximum(x, 1), np.take(x, [0, 2], axis=1), x.take(np.array([0, 1])),
              cp.lib.stride_tricks.as_strided(x, (2, 2), x.strides)):
        assert isinstance(r, cp.ndarray)
    assert np.einsum("ij,kj->ik", x, x).get().tolist() == [[5.0, 14.0], [14.0, 50.0]]
    assert all(isinstance(a, cp.ndarray) for a in x.nonzero())
    assert np.maximum(x, 3, out=x) is x and x.get().min() == 3


def test_iteration_and_integer_indexing_give_0d_views(cp):
    x = cp.arange(3.0)
    items = list(x)
    assert all(isinstance(i, cp.ndarray) and i.ndim == 0 for i in items) and len(x) == 3
    x[1][...] = 7                                       # a 0-d view, as in CuPy
    assert x.get().tolist() == [0.0, 7.0, 2.0]


def test_indexing(cp):
    x = cp.arange(6.0).reshape(2, 3)
    # host index arrays are copied to the device by CuPy: accepted
    assert x[np.array([1])].get().tolist() == [[3.0, 4.0, 5.0]]
    assert x[np.array([True, False])].shape == (1, 3) and x[cp.array([0, 0])].shape == (2, 3)
    assert x[:, None, ..., 1:].shape == (2, 1, 2) and x[[1, 0], 0].get().tolist() == [3.0, 0.0]
    x[0] = 1.0
    x[1] = cp.full(3, 2.0)
    x[0, 0] = np.float32(5)
    x[np.array([1])] = np.array([[7.0, 8.0, 9.0]])     # advanced index: host value copied over
    x[:, 2] = np.array(4.0)                             # 0-d host value: a scalar to fill()
    assert x.get().tolist() == [[5.0, 1.0, 4.0], [7.0, 8.0, 4.0]]
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray cannot be used for fill"):
        x[0] = np.zeros(3)                              # basic index: CuPy refuses a host array
    with pytest.raises(ValueError, match="non-scalar numpy.ndarray cannot be used for fill"):
        x.fill(np.zeros(3))
    with pytest.raises(TypeError, match="Unsupported type <class 'list'>"):
        x[0] = [1.0, 2.0, 3.0]


def test_get_array_module(cp):
    x, h = cp.zeros(2), np.zeros(2)
    assert cp.get_array_module(x) is cp and cp.get_array_module(h, x) is cp
    assert cp.get_array_module(h) is np and cp.get_array_module() is np and cp.get_array_module(1.0) is np


def test_creation(cp):
    for a in (cp.zeros(3), cp.ones((2, 2)), cp.empty(2), cp.full(2, 7.0), cp.arange(4),
              cp.linspace(0, 1, 5), cp.eye(3), cp.zeros_like(cp.ones(2)), np.zeros_like(cp.ones(2)),
              cp.empty_like(cp.ones(2)), cp.zeros_like(np.ones(2))):   # CuPy: a host prototype lends its shape
        assert isinstance(a, cp.ndarray)


def test_random_draws_are_device_arrays(cp):
    rs = cp.random.RandomState(0)
    a = rs.standard_normal((2, 3), dtype=cp.float32)
    assert isinstance(a, cp.ndarray) and a.dtype == np.float32 and a.shape == (2, 3)
    assert cp.random.RandomState(0).standard_normal((2, 3), dtype=cp.float32).get().tolist() == a.get().tolist()
    cp.random.seed(1)
    for r in (cp.random.rand(2), cp.random.randn(2, 2), cp.random.uniform(0, 1, 3), cp.random.normal(size=3),
              cp.random.standard_normal(3), cp.random.random(3), cp.random.randint(0, 5, 3),
              cp.random.permutation(4), cp.random.permutation(cp.arange(4)), cp.random.default_rng(0).random(3),
              cp.random.default_rng(0).standard_normal(2, dtype=np.float32), rs.rand(3, dtype=np.float32)):
        assert isinstance(r, cp.ndarray)
    x = cp.arange(5)
    cp.random.shuffle(x)
    assert sorted(x.get().tolist()) == list(range(5))
    with pytest.raises(TypeError, match="must be cupy.ndarray"):
        cp.random.shuffle(np.arange(5))
    with pytest.raises(AttributeError):
        cp.random.get_state                             # NumPy's, not CuPy's


def test_stubs(cp):
    with cp.cuda.Device(0) as device:
        device.synchronize()
    cp.cuda.Stream.null.synchronize()
    cp.cuda.runtime.deviceSynchronize()
    assert cp.cuda.is_available() and cp.zeros(1).device.id == 0

    @cp.fuse()
    def square(v):
        return v * v
    assert cp.fuse(square) is square and float(square(cp.array(3.0))) == 9.0
    for missing in ("ElementwiseKernel", "RawKernel"):
        assert not hasattr(cp, missing)
    assert not hasattr(cp.zeros(1), "__array_interface__") and not hasattr(cp.zeros(1), "ctypes")


def test_testing_module_compares_on_the_host(cp):
    cp.testing.assert_allclose(cp.arange(3.0), np.arange(3.0))     # as cupy.testing does
    with pytest.raises(AssertionError):
        cp.testing.assert_array_equal(cp.arange(3), np.arange(1, 4))


def test_ufuncs_take_cupy_s_keywords_only(cp):
    x = cp.asarray(np.array([1.0, 4.0], np.float32))
    out = cp.empty_like(x)
    assert cp.sqrt(x, out=out) is out and out.get().tolist() == [1.0, 2.0]
    assert np.multiply(x, 2, dtype=np.float64).dtype == np.float64
    with pytest.raises(TypeError, match="Wrong arguments"):       # NumPy's where= is not CuPy's
        np.power(x, 2.0, out=out, where=x > 1)
