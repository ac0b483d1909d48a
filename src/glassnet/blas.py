"""How many threads NumPy's matrix products use, and the rule ``fit`` follows for small networks.

OpenBLAS (the BLAS inside NumPy's wheels) splits a matrix product across all cores. For the small
products of a small network that costs more than it gains: measured on a 2-core machine, a
(64, 128) @ (128, 128) product takes 29 us on one thread and 39 us on two, and the idle BLAS threads
then spin on the second core while NumPy's element-wise work runs on the first. From about 10 MFLOP
on, two threads win (a (128, 512) @ (512, 512) product: 767 us on one, 408 us on two).

So ``fit`` runs on one BLAS thread when the largest product of a training step stays below
``SMALL_MATMUL_FLOPS``, and leaves BLAS alone otherwise. It never overrides a choice the user made:
not when ``OPENBLAS_NUM_THREADS`` (or ``OMP_NUM_THREADS``) is set, not after
``set_auto_threads(False)``, and not when NumPy uses another BLAS (MKL, Accelerate), which this
module does not touch. The count is restored when ``fit`` returns.

>>> from glassnet import blas
>>> blas.get_threads()                       # doctest: +SKIP
2
>>> with blas.threads(1):                    # doctest: +SKIP
...     model.fit(X, y)
"""
import contextlib
import ctypes
import glob
import os
import threading

import numpy as np

from ._validation import check_flag

SMALL_MATMUL_FLOPS = 4e6      # below this, one thread was faster on every shape measured
_USER_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")
_NAMES = [("scipy_openblas_get_num_threads64_", "scipy_openblas_set_num_threads64_"),
          ("scipy_openblas_get_num_threads", "scipy_openblas_set_num_threads"),
          ("openblas_get_num_threads64_", "openblas_set_num_threads64_"),
          ("openblas_get_num_threads", "openblas_set_num_threads")]
# "active": the counts of the threads() blocks now open, in the order they were entered (one
# list entry per block); "saved": the count before the first of them
_state = {"functions": None, "searched": False, "auto": True, "active": [], "saved": None}
_lock = threading.Lock()


def _candidate_libraries():
    # where the wheels put the bundled OpenBLAS: numpy.libs (Linux, Windows), numpy/.dylibs (macOS)
    numpy_dir = os.path.dirname(np.__file__)
    for folder in (os.path.join(os.path.dirname(numpy_dir), "numpy.libs"), os.path.join(numpy_dir, ".dylibs")):
        yield from sorted(glob.glob(os.path.join(folder, "*openblas*")))
    # Linux: a system OpenBLAS that NumPy was built against. Copies bundled in other wheels (SciPy
    # and PyTorch ship their own) live under site-packages and are skipped: not NumPy's BLAS.
    with contextlib.suppress(OSError):
        with open("/proc/self/maps") as maps:
            yield from sorted({path for path in (line.split()[-1] for line in maps)
                               if "openblas" in path.lower() and path.startswith("/")
                               and "site-packages" not in path and "dist-packages" not in path})


def _functions():
    """(get, set) for NumPy's OpenBLAS thread count, or None where it cannot be found."""
    if not _state["searched"]:
        _state["searched"] = True
        for path in _candidate_libraries():
            try:
                lib = ctypes.CDLL(path)       # already loaded by NumPy: the same library, no new copy
            except OSError:
                continue
            for get_name, set_name in _NAMES:
                if hasattr(lib, get_name) and hasattr(lib, set_name):
                    get, set_ = getattr(lib, get_name), getattr(lib, set_name)
                    get.restype, set_.argtypes, set_.restype = ctypes.c_int, [ctypes.c_int], None
                    _state["functions"] = (get, set_)
                    return _state["functions"]
    return _state["functions"]


def get_threads():
    """The number of threads NumPy's OpenBLAS uses, or None when it is not OpenBLAS."""
    functions = _functions()
    return None if functions is None else int(functions[0]())


@contextlib.contextmanager
def threads(n):
    """Run the block with ``n`` BLAS threads, then restore the count it had before.

    Safe to nest and to enter from several Python threads at once (as Dask's threaded scheduler
    does): the first block to open saves the count; a block that closes hands the count back to the
    most recently opened block still open (a ``fit`` inside ``threads(2)`` leaves 2, not its own 1),
    and the last to close restores the saved count. A no-op when NumPy's BLAS is not OpenBLAS.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"threads: expected a positive integer, got {n!r}")
    functions = _functions()
    if functions is None:
        yield
        return
    get, set_ = functions
    entry = [n]              # this block's own list object: removed by identity, not by value
    active = _state["active"]
    with _lock:
        if not active:
            _state["saved"] = get()
        active.append(entry)
        set_(n)
    try:
        yield
    finally:
        with _lock:
            del active[next(i for i, e in enumerate(active) if e is entry)]
            set_(active[-1][0] if active else _state["saved"])


def set_auto_threads(enabled):
    """Turn ``fit``'s one-thread rule for small networks on (the default) or off."""
    _state["auto"] = check_flag(enabled, "set_auto_threads")


def for_training(largest_matmul_flops):
    """The context ``fit`` trains in: one BLAS thread for small products, unless the user chose."""
    if (not _state["auto"] or largest_matmul_flops >= SMALL_MATMUL_FLOPS
            or any(os.environ.get(v) for v in _USER_VARIABLES)):
        return contextlib.nullcontext()
    return threads(1)
