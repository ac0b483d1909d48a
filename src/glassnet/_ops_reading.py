"""How ``glassnet.ops`` reads its arguments, as Keras' ``keras.ops`` does: tensors told from arrays,
arrays in Keras' dtypes (Python numbers weak, a Python float beside integers float32), axes and
dtype names, and the two-operand dispatch to a graph node or an eager NumPy function.

Why a module of its own: ``ops.py`` re-exports the functions of ``_ops_math``, ``_ops_more`` and
``_ops_activations``, which read their arguments with these helpers; kept here, each of those
modules imports on its own (a doctest run imports them one by one), with no cycle through ops.py.
"""
import numbers

import numpy as np

from . import backend
from .layers import tensor_math
from .layers.tensor_functions import FORWARD, TensorFunction

_builtin_max, _builtin_any = max, any


def _is_tensor(value):
    from .layers.input import InputLayer
    from .layers.symbolic import SymbolicTensor
    return isinstance(value, (SymbolicTensor, InputLayer))


# a bare None is also what GradientTape.gradient gives for a source the target does not depend on
# (a penalty's inner gradient, then squared): the drawing hint alone sent those users the wrong way
_NONE_GRADIENT = ("; or it is a GradientTape's gradient of a source the target does not depend on (None, as TF's: "
                  "give tape.gradient(..., unconnected_gradients=\"zero\") for zeros)")


def _array(value, name, function):
    """``value`` as a NumPy array, as Keras' convert_to_tensor makes one: an array keeps its dtype;
    Python floats (and lists of them) become float32, Python ints int32 (int64 beyond int32's
    range, as TensorFlow's convert_to_tensor: 2**40 wrapped to 0 before)."""
    if isinstance(value, (np.ndarray, np.generic)):
        array = np.asarray(value)
    else:
        if hasattr(value, "__cuda_array_interface__"):          # a CuPy array
            value = backend.to_numpy(value)
        try:
            array = np.asarray(value)
        except (TypeError, ValueError) as error:
            raise TypeError(f"ops.{function}: {name} must be an array or a number, got {type(value).__name__} "
                            f"({error})") from None
        if not isinstance(value, np.ndarray) and array.dtype.kind in "fi" and not hasattr(value, "dtype"):
            if array.dtype.kind == "f":
                array = array.astype(np.float32)
            elif array.size == 0 or -2**31 <= array.min() and array.max() < 2**31:
                array = array.astype(np.int32)
    if array.dtype.kind not in "biuf":
        if array.dtype.kind == "O" and _builtin_any(v is None for v in array.flat):
            # Keras' ops.shape(x)[0] is a tensor of the batch size; glassnet's shapes are static, the
            # batch's None: keras.io's get_causal_attention_mask (ops.tile to the batch size) met it here
            raise TypeError(f"ops.{function}: {name} holds None: while a model is drawn, ops.shape(x) gives None "
                            f"for the batch size (and an axis an Input leaves open), where Keras gives a tensor; for a "
                            f"causal attention mask give MultiHeadAttention use_causal_mask=True (docs/layers.md, "
                            f"Masks)" + (_NONE_GRADIENT if value is None else ""))
        raise TypeError(f"ops.{function}: {name} must hold numbers, got an array of {array.dtype}")
    return array


def _float(array):
    """Keras' float functions of integers (or booleans) give floatx (float32 unless
    ``config.set_floatx``: Keras resolves the weak float of its result type by it)."""
    return array if array.dtype.kind == "f" else array.astype(backend.floatx())


def _result_dtype(values, arrays):
    """Keras' result type of ``values`` (``arrays`` their arrays): the widest float among the
    arrays, else their integer type; a Python number is weak (it takes the arrays' type), but a
    Python float beside integers, or alone, gives floatx (float32 unless ``config.set_floatx``)."""
    strong = [a.dtype for v, a in zip(values, arrays) if not _weak(v)]
    if not strong:
        if _builtin_any(type(v) is float for v in values):
            return np.dtype(backend.floatx())     # Keras' weak float alone: floatx, not _array's float32
        strong = [a.dtype for a in arrays]
    floats = [d for d in strong if d.kind == "f"]
    if floats:
        return np.dtype(_builtin_max(floats, key=lambda d: d.itemsize))
    result = np.result_type(*strong)
    if _builtin_any(type(v) is float for v in values):
        return np.dtype(backend.floatx())
    if result.kind == "b" and _builtin_any(type(v) is int for v in values):
        return np.dtype(np.int32)
    return result


def _weak(value):
    """A Python number (not NumPy's): it takes the other operand's dtype, as in Keras."""
    return type(value) in (int, float, bool)


def _arrays(function, *named):
    """``(name, value)`` pairs as arrays of their common Keras dtype."""
    arrays = [_array(v, n, function) for n, v in named]
    dtype = _result_dtype([v for _, v in named], arrays)
    # a Python float takes a float dtype from its own value, as Keras': 0.1 beside float64 is 0.1, not
    # _array's float32 0.10000000149 widened (add(x, 0.1) was 1.5e-9 off, 9.0 // 0.1 gave 89.0)
    return [np.asarray(v, dtype) if type(v) is float and dtype.kind == "f" else a.astype(dtype, copy=False)
            for (_, v), a in zip(named, arrays)]


def _each(f, array):
    """``f`` on ``array``, a 0-d array too (the activations' in-place forms want one axis)."""
    return f(array.reshape(1)).reshape(()) if array.ndim == 0 else f(array)


def _unary(op, x, floats=True, bools=True):
    """A function of one operand: a node on a tensor, else ``op``'s forward on the array (the
    tables of layers/tensor_functions.py and layers/tensor_math.py). ``floats``: integers give
    float32, as Keras' float functions; ``bools=False``: booleans refused, as Keras on TensorFlow."""
    if _is_tensor(x):
        return TensorFunction(op)(x)
    array = _array(x, "x", op)
    if not bools and array.dtype.kind == "b":
        raise TypeError(f"ops.{op}: x must hold numbers, not booleans (as Keras 3.15 on TensorFlow), got bool")
    forward = FORWARD[op] if op in FORWARD else tensor_math.FORWARD[op]
    return _each(forward, _float(array) if floats else array)


def _two(op, x1, x2, eager):
    """A function of two operands: a node when either is a tensor, else ``eager`` on arrays. An
    add_loss batch term or batch vector (glassnet.added_losses, glassnet._batch_vectors) in +, -,
    * and /: Python's operator on it, as ``ops.multiply(density_proxy, density)`` is written."""
    if op in _OPERATORS and (_is_batch(x1) or _is_batch(x2)):
        return _OPERATORS[op](x1, x2)
    if _is_tensor(x1) or _is_tensor(x2):
        if op in ("add", "subtract", "multiply", "true_divide"):
            from .layers.tensor_ops import operate
            return operate(op, x1, x2)
        if _is_tensor(x1) and _is_tensor(x2):
            return TensorFunction(op)([x1, x2])
        tensor, constant = (x1, x2) if _is_tensor(x1) else (x2, x1)
        # reverse: the constant is the first operand (matmul's order; maximum's and minimum's ties)
        return TensorFunction(op, constant=constant, reverse=tensor is x2)(tensor)
    a, b = _arrays(op, ("x1", x1), ("x2", x2))
    # a 0-d array, as Keras' 0-d tensor: NumPy's ufuncs give a NumPy scalar for 0-d operands
    return np.asarray(eager(a, b))


_OPERATORS = {"add": lambda a, b: a + b, "subtract": lambda a, b: a - b, "multiply": lambda a, b: a * b,
              "true_divide": lambda a, b: a / b}


def _is_batch(value):
    from ._batch_vectors import BatchVector
    from .added_losses import BatchScalar
    return isinstance(value, (BatchVector, BatchScalar))


def _axis_argument(axis, function):
    if axis is None or isinstance(axis, (numbers.Integral, list, tuple)) and not isinstance(axis, bool):
        return tuple(axis) if isinstance(axis, list) else axis
    raise TypeError(f"ops.{function}: axis must be an integer, a tuple of them or None, got {axis!r:.60}")


def _keras_dtype(dtype, op):
    """The NumPy dtype Keras reads ``dtype`` as (``keras.backend.standardize_dtype``: Python's
    ``float`` is float32, Keras' floatx, where NumPy reads float64; ``"float"`` is refused)."""
    from ._keras_helpers import standardize_dtype
    try:
        return np.dtype(standardize_dtype(dtype))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"ops.{op}: dtype must name a dtype ('float32', 'int32'), got {dtype!r:.60} ({exc})") from None


def composed(function):
    """Mark ``function`` as written with ``glassnet.ops``' own functions (or, as control flow, running
    the functions given to it): a GradientTape runs it as it is, each ops call inside recorded one by
    one (glassnet._tape_record), so its gradient, and on symbolic tensors its nodes, are those
    functions'. A function whose recorded form differs from its array form sets ``function.composed``
    to that form instead."""
    function.composed = function
    return function


def public_ops():
    """``glassnet.ops``, the public functions (wrapped so that a tape records each call): for the
    modules ops.py imports, which call ops' functions at call time."""
    from . import ops
    return ops
