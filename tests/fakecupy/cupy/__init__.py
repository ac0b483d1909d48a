"""A strict, NumPy-backed stand-in for CuPy, for tests on machines without a GPU.

This is NOT CuPy. Every computation runs with NumPy on the host; what it reproduces is CuPy's
*boundary between host and device*, so that a test can prove that code written for the CuPy backend
never mixes NumPy (host) arrays with device arrays and never converts device arrays implicitly:

* ``cupy.ndarray`` wraps a private numpy array. A numpy.ndarray operand raises TypeError
  ("Unsupported type <class 'numpy.ndarray'>"); ``np.asarray(x)`` raises CuPy's "Implicit conversion"
  TypeError. Python and NumPy scalars are accepted. Results are device arrays; reductions and integer
  indexing give 0-d device arrays, never scalars (as CuPy).
* The explicit crossings work: ``cupy.asarray/array/asanyarray(host)``, ``x.get()``, ``x.set(host)``,
  ``cupy.asnumpy``, ``float(x)``, ``int(x)``, ``bool(x)``, ``x.item()``, ``x.tolist()``.
* What CuPy 14 lacks is refused: NumPy's functions and methods that CuPy does not have
  (``np.insert(x)``, ``cupy.linalg.vector_norm``, ``x.resize``), NumPy's keyword arguments that
  CuPy's functions of the same name do not take (``x.sum(where=)``, ``np.max(x, initial=)``,
  ``cupy.add(x, y, where=)``), sorts of a ``kind`` other than "stable" and in-place sorts of views.

Its limits: numerics, dtype promotion, random streams and speed are NumPy's, not CuPy's; integer
array indices out of bounds raise IndexError (CuPy wraps them round); CUDA kernels (ElementwiseKernel,
RawKernel), ``x.data``/``x.flat``, cupyx and CUPY_EXPERIMENTAL_SLICE_COPY are not provided; ``cupy.cuda`` is a
stub. Real CuPy behaviour must still be checked on a GPU. The comments name the CuPy source
(github.com/cupy/cupy) each rule mirrors.
"""
import functools as _functools
import sys as _sys
import types as _types
import warnings as _warnings

import numpy as _np
from numpy.lib.mixins import NDArrayOperatorsMixin as _OperatorsMixin

# cupy/_core/_scalar.pyx scalar_type_set: Python scalars and the NumPy scalar types CuPy supports
_SCALAR_TYPES = frozenset({bool, int, float, complex} | {_np.dtype(c).type for c in "?bhilqBHILQefdFD"})
# core.pyx __array_ufunc__ turns a 0-d numpy operand into a scalar for these only (numpy#12142)
_COMPARISONS = {"greater", "greater_equal", "less", "less_equal", "equal", "not_equal"}
# arguments CuPy copies to the device itself: indices and values of take/put (_routines_indexing.pyx:
# core.array), and the prototype of *_like, of which only shape/dtype/strides are read
# (cupy/_creation/basic.py; _core/internal.pyx: "x here can be either numpy.ndarray or cupy.ndarray")
_LIKE = {0, "a", "prototype"}
_HOST_OK = {"take": {1, "indices"}, "put": {1, 2, "ind", "v"}, "empty_like": _LIKE,
            "zeros_like": _LIKE, "ones_like": _LIKE, "full_like": _LIKE}
_MISSING = object()
# what NumPy 2 has and CuPy 14.2 lacks (dir(numpy) and dir(numpy.linalg), less cupy's; the table
# docs.cupy.dev/en/stable/reference/comparison.html): cupy.<name> is an AttributeError, and numpy's
# function on a device array a TypeError (core.pyx __array_function__: NotImplemented for a name
# cupy lacks, then numpy's "no implementation found")
_LACKING = frozenset("""asmatrix block bmat busday_count busday_offset datetime_as_string datetime_data
    einsum_path frompyfunc fromregex geomspace get_include getbufsize geterr geterrcall
    histogram_bin_edges info insert is_busday isnat matvec nanpercentile nanquantile nested_iters
    polyder polydiv polyint setbufsize seterr seterrcall show_runtime spacing test unstack vecdot
    vecmat""".split())
_LACKING_LINALG = frozenset("diagonal matrix_norm multi_dot outer svdvals tensordot trace vecdot vector_norm".split())
_LACKING_METHODS = frozenset({"ctypes", "data", "flat", "resize", "getfield", "setfield", "setflags", "to_device"})
# keyword arguments of NumPy's that CuPy's function or ndarray method of the same name does not
# take (their signatures in CuPy 14.2: cupy/_core/core.pyx, cupy/_math, cupy/_statistics,
# cupy/_sorting, cupy/_indexing): a TypeError, as Python gives for an unexpected keyword
_NO_KEYWORDS = {
    **dict.fromkeys(("sum", "prod", "nansum", "nanprod", "max", "min", "amax", "amin", "nanmax", "nanmin"),
                    {"initial", "where"}),
    **dict.fromkeys(("mean", "nanmean", "all", "any"), {"where"}),
    **dict.fromkeys(("std", "var", "nanstd", "nanvar"), {"where", "mean", "correction"}),
    **dict.fromkeys(("sort", "argsort"), {"order", "stable"}),
    **dict.fromkeys(("partition", "argpartition"), {"kind", "order"}),
    "count_nonzero": {"keepdims"}, "take": {"mode"}, "unique": {"sorted"}, "isin": {"kind"},
    "percentile": {"weights"}, "quantile": {"weights"}, "broadcast_to": {"subok"}, "copy": {"subok"},
}
# cupy.clip(a, a_min, a_max, out=None): NumPy 2.1's min=/max= are the ndarray method's names only
_NO_FUNCTION_KEYWORDS = {"clip": {"min", "max"}}
_UFUNC_KEYWORDS = {"out", "dtype", "casting"}       # _kernel.pyx ufunc.__call__ takes these only


def _unwrap(obj, host_ok=False):
    """Device arrays -> their numpy array, also inside lists and tuples; a host array -> TypeError."""
    if isinstance(obj, ndarray):
        return obj._a
    if isinstance(obj, _np.ndarray) and not host_ok:
        # _core/_scalar.pyx CScalar: a kernel argument that is neither a device array nor a scalar
        raise TypeError(f"Unsupported type {type(obj)}")
    if type(obj) in (list, tuple):
        return type(obj)(_unwrap(o, host_ok) for o in obj)
    return obj


def _wrap(obj):
    """numpy results -> device arrays; a numpy scalar becomes a 0-d array, as CuPy returns them."""
    if isinstance(obj, (_np.ndarray, _np.generic)):
        return ndarray._from(_np.asarray(obj))
    if type(obj) in (list, tuple):
        return type(obj)(_wrap(o) for o in obj)
    return obj


def _check_cupy_signature(func, args, kwargs):
    """Refuse what CuPy's function (or method) of ``func``'s name does not take; see _NO_KEYWORDS."""
    name = getattr(func, "__name__", None)
    method = isinstance(getattr(func, "__self__", None), _np.ndarray)
    if isinstance(func, _np.ufunc):
        unknown = set(kwargs) - _UFUNC_KEYWORDS
        if unknown:
            raise TypeError(f"Wrong arguments {dict((k, kwargs[k]) for k in sorted(unknown))}")
        return
    refused = _NO_KEYWORDS.get(name, set()) | (set() if method else _NO_FUNCTION_KEYWORDS.get(name, set()))
    for keyword in sorted(refused & set(kwargs)):
        raise TypeError(f"{name}() got an unexpected keyword argument '{keyword}'")
    if method and name == "item" and args:       # core.pyx: item(self), of a one-element array only
        raise TypeError(f"item() takes no arguments ({len(args)} given)")
    if name in ("sort", "argsort"):
        # core.pyx _check_kind_sort; kind is the second argument of the method, the third of the function
        position = 1 if method else 2
        kind = kwargs.get("kind", args[position] if len(args) > position else None)
        if kind is not None and kind != "stable":
            raise ValueError("kind can only be None or 'stable'")
        # _routines_sorting.pyx _ndarray_sort: ndarray.sort sorts in place an array with its own data
        if method and name == "sort" and not func.__self__.flags.c_contiguous:
            raise NotImplementedError("Sorting non-contiguous array is not supported.")


def _call(func, args, kwargs):
    """Run numpy's ``func`` on device arrays: unwrap them, refuse host arrays, wrap the results."""
    _check_cupy_signature(func, args, kwargs)
    allowed = _HOST_OK.get(getattr(func, "__name__", None), ())
    result = func(*[_unwrap(a, i in allowed) for i, a in enumerate(args)],
                  **{k: _unwrap(v, k in allowed) for k, v in kwargs.items()})
    out = kwargs.get("out")
    return out if isinstance(out, ndarray) and result is out._a else _wrap(result)


def _device_func(func):
    @_functools.wraps(func)
    def call(*args, **kwargs):
        return _call(func, args, kwargs)
    if isinstance(func, _np.ufunc):     # CuPy's ufuncs have these methods (core.pyx __array_ufunc__)
        for method in ("reduce", "accumulate", "reduceat", "outer", "at"):
            setattr(call, method, _device_func(getattr(func, method)))
    return call


def _export(attr):
    """numpy's types, dtypes and constants are CuPy's too (cupy/__init__.py); functions get the rules."""
    return attr if isinstance(attr, type) or not callable(attr) else _device_func(attr)


def _index(key):
    """Device, host and list indices all go (_routines_indexing.pyx _prepare_slice_list copies host
    ones over); a trailing Ellipsis makes an integer index give a 0-d view, as CuPy's does."""
    key = _unwrap(key, host_ok=True)
    parts = key if type(key) is tuple else (key,)
    return key if any(p is Ellipsis for p in parts) else parts + (Ellipsis,)


def _is_advanced(key):
    parts = key if type(key) is tuple else (key,)
    return any(isinstance(p, (ndarray, _np.ndarray, list, tuple, bool, _np.bool_)) for p in parts)


def _fill_scalar(value):
    # core.pyx fill(): a 0-d numpy array is used as a scalar, a larger one is refused
    if value.shape != ():
        raise ValueError("non-scalar numpy.ndarray cannot be used for fill")
    return value.item()


class ndarray(_OperatorsMixin):
    """Device array: a private numpy array behind CuPy's host/device rules."""

    __array_priority__ = 100            # core.pyx

    def __init__(self, shape, dtype=float, memptr=None, strides=None, order="C"):
        if memptr is not None or strides is not None:
            raise NotImplementedError("fake cupy: memptr and strides are not supported")
        self._a = _np.empty(shape, dtype, order=order)      # uninitialised, as cupy.ndarray(shape)

    @classmethod
    def _from(cls, a):
        self = object.__new__(cls)
        self._a = a
        return self

    shape = property(lambda self: self._a.shape, lambda self, s: setattr(self._a, "shape", s))
    dtype = property(lambda self: self._a.dtype)
    ndim = property(lambda self: self._a.ndim)
    size = property(lambda self: self._a.size)
    strides = property(lambda self: self._a.strides)
    nbytes = property(lambda self: self._a.nbytes)
    itemsize = property(lambda self: self._a.itemsize)
    flags = property(lambda self: self._a.flags)
    T = property(lambda self: _wrap(self._a.T))
    real = property(lambda self: _wrap(self._a.real), lambda self, v: setattr(self._a, "real", _unwrap(v)))
    imag = property(lambda self: _wrap(self._a.imag), lambda self, v: setattr(self._a, "imag", _unwrap(v)))
    base = property(lambda self: _wrap(self._a.base) if isinstance(self._a.base, _np.ndarray) else None)
    device = property(lambda self: cuda.Device(0))

    def __getattr__(self, name):
        # the other numpy.ndarray methods (reshape, astype, sum, argmax, ...) under the same rules;
        # no dunders (__array_interface__ would let numpy read the data), ctypes, data or flat
        if name.startswith("_") or name in _LACKING_METHODS:
            raise AttributeError(f"'cupy.ndarray' object has no attribute {name!r}")
        attr = getattr(self._a, name)
        return _device_func(attr) if callable(attr) else _wrap(attr)

    # --- the host/device boundary
    def __array__(self, *args, **kwargs):                 # core.pyx
        raise TypeError("Implicit conversion to a NumPy array is not allowed. "
                        "Please use `.get()` to construct a NumPy array explicitly.")

    def get(self, stream=None, order="C", out=None, blocking=True):      # core.pyx get()
        if out is None:
            return _np.array(self._a, order=order)
        if not isinstance(out, _np.ndarray):
            raise TypeError("Only numpy.ndarray can be obtained from cupy.ndarray")
        if out.dtype != self.dtype:
            raise TypeError(f"{out.dtype} array cannot be obtained from {self.dtype} array")
        if out.shape != self.shape:
            raise ValueError(f"Shape mismatch. Expected shape: {self.shape}, actual shape: {out.shape}")
        out[...] = self._a
        return out

    def set(self, arr, stream=None):                     # core.pyx set()
        if not isinstance(arr, _np.ndarray):
            raise TypeError("Only numpy.ndarray can be set to cupy.ndarray")
        if arr.dtype != self.dtype:
            raise TypeError(f"{arr.dtype} array cannot be set to {self.dtype} array")
        if arr.shape != self.shape:
            raise ValueError(f"Shape mismatch. Old shape: {self.shape}, new shape: {arr.shape}")
        self._a[...] = arr

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        # core.pyx: an operand other than an array or a supported scalar -> NotImplemented (numpy
        # then raises TypeError); a numpy.ndarray goes on and is refused as a kernel argument
        out = kwargs.get("out")
        # _kernel.pyx ufunc.__call__: keyword arguments other than out, dtype and casting (NumPy's
        # where=, order=, subok=) -> TypeError('Wrong arguments ...')
        unknown = set(kwargs) - {"out", "dtype", "casting"}
        if method == "__call__" and unknown:
            raise TypeError(f"Wrong arguments {dict((k, kwargs[k]) for k in sorted(unknown))}")
        if out is not None and len(out) != 1:
            raise ValueError("The 'out' parameter must have exactly one array value")
        for x in inputs + (out or ()):
            if not isinstance(x, (ndarray, _np.ndarray)) and type(x) not in _SCALAR_TYPES:
                return NotImplemented
        if ufunc.__name__ in _LACKING:        # core.pyx: NotImplemented for a ufunc cupy lacks (np.spacing)
            return NotImplemented
        if ufunc.__name__ in _COMPARISONS:
            inputs = tuple(x.item() if isinstance(x, _np.ndarray) and x.ndim == 0 else x for x in inputs)
        result = getattr(ufunc, method)(*_unwrap(inputs), **{k: _unwrap(v) for k, v in kwargs.items()})
        return None if method == "at" else out[0] if out is not None else _wrap(result)

    def __array_function__(self, func, types, args, kwargs):
        # core.pyx: only cupy.ndarray and numpy.ndarray are handled; the numpy ones are refused in
        # _call. CuPy answers NotImplemented for functions it lacks (numpy then raises TypeError).
        if not all(issubclass(t, (ndarray, _np.ndarray)) for t in types):
            return NotImplemented
        module = getattr(func, "__module__", "") or ""
        if func.__name__ in (_LACKING_LINALG if module.endswith("linalg") else _LACKING):
            return NotImplemented
        return _call(func, args, kwargs)

    # --- conversions sync and copy to the host in CuPy (core.pyx: int(self.get()), repr(self.get()), ...)
    __int__ = lambda self: int(self.get())                # noqa: E731
    __float__ = lambda self: float(self.get())            # noqa: E731
    __complex__ = lambda self: complex(self.get())        # noqa: E731
    __repr__ = lambda self: repr(self.get())              # noqa: E731
    __str__ = lambda self: str(self.get())                # noqa: E731
    __format__ = lambda self, spec: format(self.get(), spec)      # noqa: E731
    __reduce__ = lambda self: (array, (self.get(),))      # noqa: E731
    __copy__ = lambda self: self.copy()                   # noqa: E731
    __deepcopy__ = lambda self, memo: self.copy()         # noqa: E731

    def __bool__(self):                                   # core.pyx __nonzero__
        if self.size == 0:
            _warnings.warn("The truth value of an empty array is ambiguous. Returning False, but in "
                           "future this will result in an error. Use `array.size > 0` to check that "
                           "an array is not empty.", DeprecationWarning, stacklevel=2)
            return False
        return bool(self.get())                           # size > 1: numpy's (= CuPy's) ValueError

    def __len__(self):
        if self.ndim == 0:
            raise TypeError("len() of unsized object")
        return self.shape[0]

    def __iter__(self):                                   # core.pyx: yields self[i]
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(self.shape[0]))

    def __getitem__(self, key):
        return _wrap(self._a[_index(key)])

    def __setitem__(self, key, value):
        # _routines_indexing.pyx _scatter_op: with advanced indices a host value is copied over
        # (core.array); with basic ones a non-device value goes to fill(), which takes only scalars
        if not isinstance(value, ndarray) and not _is_advanced(key):
            if isinstance(value, _np.ndarray):
                value = _fill_scalar(value)
            elif type(value) not in _SCALAR_TYPES:
                raise TypeError(f"Unsupported type {type(value)}")
        self._a[_index(key)] = _unwrap(value, host_ok=True)

    def fill(self, value):
        self._a.fill(_fill_scalar(value) if isinstance(value, _np.ndarray) else _unwrap(value))

    def take(self, indices, axis=None, out=None):
        return _call(_np.take, (self, indices), {"axis": axis, "out": out})

    def put(self, indices, values, mode="wrap"):          # CuPy's default mode is "wrap"
        _call(_np.put, (self, indices, values), {"mode": mode})


# --- host-to-device entry points (cupy/_creation/from_data.py -> _core.array): host input accepted.
# Not cupy.ascontiguousarray/asfortranarray: _core's take a `_ndarray_base a`, so numpy -> TypeError.
def array(obj, dtype=None, copy=True, order="K", subok=False, ndmin=0, *, blocking=False):
    if isinstance(obj, ndarray):
        a = _np.array(obj._a, dtype=dtype, copy=copy, order=order, ndmin=ndmin)
        return obj if a is obj._a else ndarray._from(a)
    # a list of device arrays is joined on the device; host data is always copied over
    return ndarray._from(_np.array(_unwrap(obj, host_ok=True), dtype=dtype, order=order, ndmin=ndmin))


def asarray(a, dtype=None, order=None, *, copy=None, blocking=False):
    return array(a, dtype, copy, order or "K", blocking=blocking)


asanyarray = asarray


def asnumpy(a, stream=None, order="C", out=None, *, blocking=True):      # cupy/__init__.py
    if isinstance(a, ndarray):
        return a.get(stream, order, out)
    temp = _np.asarray(a, order=order)
    if out is None:
        return temp
    out[...] = temp
    return out


def get_array_module(*args):                                            # cupy/__init__.py
    return _sys.modules[__name__] if any(isinstance(a, ndarray) for a in args) else _np


def is_available():
    return True


def fuse(*args, **kwargs):
    """``cupy.fuse``: the function runs unfused."""
    return args[0] if len(args) == 1 and callable(args[0]) and not kwargs else (lambda f: f)


def __getattr__(name):
    # any other numpy name: functions and ufuncs under the device rules, types and constants as is
    attr = _MISSING if name.startswith("_") or name in _LACKING else getattr(_np, name, _MISSING)
    if attr is _MISSING or isinstance(attr, _types.ModuleType):
        raise AttributeError(f"module 'cupy' (fake) has no attribute {name!r}")
    globals()[name] = value = _export(attr)
    return value


class _Namespace(_types.ModuleType):
    """cupy.linalg, cupy.fft, cupy.lib, cupy.testing: numpy's submodule behind ``export``."""

    def __init__(self, name, source, export, lacking=frozenset()):
        super().__init__(name, source.__doc__)
        self._source, self._export, self._lacking = source, export, lacking
        _sys.modules[name] = self

    def __getattr__(self, name):
        if name.startswith("_") or name in self._lacking:
            raise AttributeError(f"module {self.__name__!r} (fake) has no attribute {name!r}")
        attr = getattr(self._source, name)
        value = (_Namespace(f"{self.__name__}.{name}", attr, self._export)
                 if isinstance(attr, _types.ModuleType) else self._export(attr))
        setattr(self, name, value)
        return value


def _host_export(attr):
    """cupy.testing compares on the host: it takes device and host arrays alike (cupy.asnumpy)."""
    if isinstance(attr, type) or not callable(attr):
        return attr
    host = _functools.partial(_unwrap, host_ok=True)
    return _functools.wraps(attr)(lambda *a, **k: attr(*map(host, a), **{n: host(v) for n, v in k.items()}))


linalg = _Namespace(f"{__name__}.linalg", _np.linalg, _export, _LACKING_LINALG)
fft = _Namespace(f"{__name__}.fft", _np.fft, _export)
lib = _Namespace(f"{__name__}.lib", _np.lib, _export)
lib.stride_tricks                       # registered now, so that `import cupy.lib.stride_tricks` works
testing = _Namespace(f"{__name__}.testing", _np.testing, _host_export)


# --- cupy.random (names from cupy/random/__init__.py): NumPy's streams, drawn as device arrays
class _Rng:
    def __init__(self, impl):
        self._impl = impl

    def __getattr__(self, name):
        if name.startswith("_"):
            raise AttributeError(name)
        method = getattr(self._impl, name)

        def draw(*args, **kwargs):
            args, kwargs = _unwrap(args), {k: _unwrap(v) for k, v in kwargs.items()}
            try:
                return _wrap(method(*args, **kwargs))
            except TypeError:           # CuPy's float draws take dtype=, NumPy's RandomState's do not
                if "dtype" not in kwargs:
                    raise
                dtype = kwargs.pop("dtype")
                return _wrap(_np.asarray(method(*args, **kwargs), dtype=dtype))
        return draw if callable(method) else method

    def shuffle(self, a):               # cupy/random/_generator.py shuffle()
        if not isinstance(a, ndarray):
            raise TypeError("The array must be cupy.ndarray")
        if a.ndim == 0:
            raise TypeError("An array whose ndim is 0 is not supported")
        self._impl.shuffle(a._a)


class _RandomState(_Rng):
    def __init__(self, seed=None, method=None):
        super().__init__(_np.random.RandomState(seed))


_RANDOM_API = frozenset("""beta binomial chisquare dirichlet exponential f gamma geometric gumbel
    hypergeometric laplace logistic lognormal logseries multivariate_normal negative_binomial
    noncentral_chisquare noncentral_f normal pareto poisson power rayleigh standard_cauchy
    standard_exponential standard_gamma standard_normal standard_t triangular uniform vonmises wald
    weibull zipf permutation shuffle choice multinomial rand randint randn random_integers
    random_sample random ranf sample""".split())


def _random_getattr(name):
    if name not in _RANDOM_API:
        raise AttributeError(f"module 'cupy.random' (fake) has no attribute {name!r}")
    return getattr(random._state, name)


random = _types.ModuleType(f"{__name__}.random", "cupy.random stand-in: NumPy's streams.")
_sys.modules[random.__name__] = random
random.__getattr__, random.RandomState, random.Generator = _random_getattr, _RandomState, _Rng
random.default_rng = lambda seed=None: _Rng(_np.random.default_rng(seed))
random.bytes = _np.random.bytes         # host bytes in CuPy too
random._state = _RandomState()
random.get_random_state = lambda: random._state
random.set_random_state = lambda rs: setattr(random, "_state", rs)
random.seed = lambda seed=None: setattr(random, "_state", _RandomState(seed))
random.reset_states = lambda: setattr(random, "_state", _RandomState())


# --- cupy.cuda: a stub, only so that code which picks a device, or synchronises, runs
class _Device:
    def __init__(self, device=None, *args, **kwargs):
        self.id = 0 if device is None or isinstance(device, bool) else int(device)

    __enter__ = lambda self: self                         # noqa: E731
    __exit__ = lambda self, *exc: False                   # noqa: E731
    use = synchronize = lambda self: None                 # noqa: E731


class _Stream(_Device):
    null = None                         # set below: cupy.cuda.Stream.null


_Stream.null = _Stream(True)
cuda = _types.ModuleType(f"{__name__}.cuda", "Stub of cupy.cuda: one device, nothing to wait for.")
_sys.modules[cuda.__name__] = cuda
cuda.Device, cuda.Stream, cuda.is_available = _Device, _Stream, is_available
cuda.get_current_stream = lambda: _Stream.null
cuda.runtime = _types.SimpleNamespace(deviceSynchronize=lambda: None, getDeviceCount=lambda: 1,
                                      getDevice=lambda: 0)
