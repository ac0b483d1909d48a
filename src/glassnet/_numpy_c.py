"""NumPy's C functions for ``np.dot`` and ``np.einsum``, without the Python layer in front of them.

Why: a small network's training step is a few dozen NumPy calls on small arrays, so what a call
costs before its arithmetic starts is a large part of the step. ``np.dot`` first runs a Python
function that lists the arguments an ``__array_function__`` override could come from (~0.2 us, an
eighth of a (32, 25) @ (25, 50) product); ``np.einsum`` is a Python function that, without
``optimize``, hands its arguments to ``c_einsum`` (~1.3 us on top of a 4 us outer product).

For NumPy arrays both wrappers end in exactly these functions, so results are bit for bit the same.
Only NumPy arrays may be passed: an override (a CuPy array) is never consulted here, so callers
keep ``np.dot`` / ``np.einsum`` for other arrays. Where a NumPy version lacks one of these names
the public function is used instead: slower by the wrapper, never different.
"""
import numpy as np

# np.dot is the dispatching wrapper of the C function it keeps as ``_implementation`` (NEP 18)
dot = getattr(np.dot, "_implementation", np.dot)

try:                                                     # NumPy 2
    from numpy._core.multiarray import c_einsum as einsum
except ImportError:                                      # pragma: no cover - NumPy 1.x
    try:
        from numpy.core.multiarray import c_einsum as einsum
    except ImportError:
        einsum = np.einsum
