"""A focused subset of Keras 3's ``keras.ops``, on NumPy arrays and on symbolic tensors alike.

On arrays (or numbers, lists) each function computes at once and returns a NumPy array, with
Keras' dtype: float32 stays float32, float64 float64; a Python float beside integers gives
floatx (float32 unless ``config.set_floatx``), as do the float functions (exp, divide, ...) of
integers (``mean`` of integers: float32, as Keras'). On an ``Input`` or a
tensor drawn from one (a functional ``Model``, a subclass' ``call``) it computes nothing and returns
a new tensor: one node of the model's graph, a ``layers.TensorFunction`` (or, for add, subtract,
multiply, divide, negative and abs, the ``layers.TensorOp`` that Python's operators make), with a
forward and a backward, kept in model files as JSON:

    import glassnet as gn
    from glassnet import ops

    q = k = v = gn.Input((6, 8))
    scores = ops.matmul(q, ops.transpose(k, (0, 2, 1))) / ops.sqrt(8.0)
    attended = ops.matmul(ops.softmax(scores, axis=-1), v)          # (None, 6, 8)
    pooled = ops.mean(attended, axis=1)                              # (None, 8)

Argument names and defaults are Keras'. Axes count the batch axis as 0, as in Keras; on tensors
no function may reduce, move or join along it (``ops.stack([a, b])`` with Keras' default ``axis=0``,
``transpose`` without ``axes``): each is refused by name. ``ops.mean(x)`` and ``ops.sum(x)`` with
``axis=None`` make a term for ``add_loss`` alone (glassnet.added_losses), refused anywhere else; over
an axis tuple holding 0 they make a batch vector (one value per feature for the whole batch,
glassnet._batch_vectors), for add_loss terms alone too: keras.io's Switch Transformer's
``ops.mean(ops.mean(probs, axis=0) * ops.mean(mask, axis=0))``.

Functions: exp, log, sqrt, square, abs, negative, tanh, sigmoid, relu, softplus, maximum, minimum,
clip, add, subtract, multiply, divide, sum, mean, max, min, softmax, log_softmax, expand_dims,
squeeze, reshape, transpose, concatenate, stack, matmul, cast, shape; and ``arange``, which makes
a constant (NumPy, no batch axis) on arrays and tensors alike.

Element-wise maths, comparisons, logic and more reductions (_ops_math.py, layers/tensor_math.py):
log1p, expm1, sin, cos, erf, reciprocal, rsqrt, floor, sign, round, power, equal, not_equal,
greater, greater_equal, less, less_equal, logical_and, logical_or, logical_not, where, prod, std,
var, logsumexp, norm, argmax, argmin, any, all, cumsum, cumprod, one_hot. Results Keras gives as
booleans or integers are NumPy booleans and int32 on arrays, and floats of the model's dtype (0.0
and 1.0, indices) on tensors, without gradient:

    scores = ops.where(ops.greater(x, 0.0), x, 0.01 * x)            # a leaky ReLU
    labels = ops.one_hot(ops.argmax(logits, axis=-1), 10)

Structural functions (their nodes' maths in layers/tensor_structure.py): einsum, take,
take_along_axis, pad, split, tile, repeat, flip, broadcast_to, zeros_like, ones_like, top_k. On
tensors ``split`` gives a list of tensors (one node per piece) and ``top_k`` a pair (two nodes,
the indices as floats of the model's dtype, without gradient); a constant may stand among the
tensors of ``concatenate``/``stack`` (repeated over the batch) and of ``einsum``.

keras.ops' activations (_ops_activations.py, layers/tensor_activations.py): gelu (Keras' default
``approximate=True``, the tanh form), silu, swish, elu, selu, leaky_relu (Keras' slope 0.2), relu6,
hard_sigmoid, hard_silu, hard_swish, softsign, log_sigmoid, celu, hard_tanh, hard_shrink, soft_shrink,
tanh_shrink, sparse_plus, sparse_sigmoid, squareplus. These, relu, sigmoid, tanh, softplus, softmax,
log_softmax and exp may be a layer's activation, as in Keras: ``Dense(8, activation=ops.gelu)``
takes the activation ``"gelu(approximate=True)"`` (keras.ops' defaults; model files keep it).

More (_ops_more.py): tan, arcsin, arccos, arctan, sinh, cosh, arcsinh, arccosh, arctanh, log2, log10,
ceil, trunc, isnan, isinf, isfinite, floor_divide, mod, logical_xor, sort, argsort, slice (on tensors
the batch axis whole), slice_update, convert_to_tensor and convert_to_numpy (arrays only), stop_gradient
(the value, no gradient back: ``x + ops.stop_gradient(q - x)``, a straight-through estimator).

Constructors and a few more structural functions (_ops_fill.py): zeros, ones, full, eye, identity,
tri, linspace, meshgrid make NumPy constants (float32 unless ``dtype``, as Keras'), never tensors, as
``arange``: beside a tensor they are constants (``x * ops.tri(6, 6)``, ``ops.matmul(x, ops.eye(4))``).
tril and triu (on tensors a node on the last two axes, sample axes), unstack (on tensors one
``x[:, i]`` node per entry of a sample axis) and tensordot (on tensors a tensor and a constant, the
batch axis free: ``einsum``'s node) take arrays and tensors.

Convolutions and poolings (_ops_conv.py, nodes in layers/tensor_conv.py, on conv.py's, depthwise.py's
and pooling.py's kernels): conv, depthwise_conv, separable_conv, conv_transpose, max_pool, average_pool,
and ``ops.image.extract_patches``; channels last by default, 1 to 3 spatial axes. On tensors the kernel
is a constant array or a weight of a drawn call, which trains (``ops.conv(x, self.kernel)``).

arctan2, glu, threshold, sparsemax and the Fourier transforms fft, fft2, ifft2, rfft, irfft (_ops_spectral.py)
take arrays and tensors, with gradients; complex numbers are Keras' pairs ``(real, imag)``: keras.io's FNet
takes ``ops.fft2((x, ops.zeros_like(x)))[0]``. nonzero, count_nonzero, median, quantile, scatter,
scatter_update, adaptive_average_pool and adaptive_max_pool (_ops_arrays.py) take arrays only.
stft (arrays and tensors, with a gradient) and istft (arrays) are in _ops_stft.py; ctc_loss and
ctc_decode (arrays only, glassnet.losses' CTC code) in _ops_ctc.py.

NumPy-like functions (_ops_npmath.py, _ops_npshape.py, _ops_npmore.py; docs/ops_numpy.md): absolute,
fabs, cbrt, deg2rad, rad2deg, erfc, erfinv, exp2, fmax, fmin, fmod, heaviside, hypot, logaddexp,
logaddexp2, ldexp, sinc, i0, true_divide, divide_no_nan, nan_to_num, moveaxis, swapaxes, ravel, roll,
rot90, fliplr, flipud, diff, diag, diagflat, diagonal, trace, dot, inner, outer, vdot, kron, cross,
hstack, vstack, dstack, hsplit, vsplit, dsplit, array_split, append, select, rearrange, vander,
trapezoid, correlate, corrcoef. On tensors and GradientTape values each is Keras' TensorFlow formula
drawn from the nodes above (erfc, erfinv and i0 have nodes of their own), so gradients are TensorFlow's.

Python's operators on tensors that Keras 3 maps to keras.ops make these nodes: ``a @ b`` (matmul),
``//`` (floor_divide), ``%`` (mod), ``<``, ``<=``, ``>``, ``>=``, ``&``, ``|``, ``^``, ``~`` and
``round(x)``, and ``!=`` of a number or an array (not_equal); ``==``, and ``!=`` between tensors, stay
Python's identity (the graph code finds tensors by it).

Further reductions, counting and signals (_ops_reduce.py, _ops_count.py, _ops_signal.py; docs/ops_reductions.md):
amax, amin, ptp, average, percentile, nansum, nanmean, nanmax, nanmin, nanprod, nanvar, nanstd, nancumsum,
nancumprod, the segment reductions, extract_sequences and cdist are composed of the functions above, so they
take values a GradientTape records (their gradients) and, the reductions and extract_sequences, tensors (those
functions' nodes); nanargmax, nanargmin, nanmedian, nanpercentile, nanquantile, histogram, bincount, unique,
searchsorted, digitize, argpartition, in_top_k, isin, isclose, allclose, isneginf, isposinf, isreal, signbit,
nextafter, unravel_index, the bitwise functions and shifts, gcd, lcm, the windows (bartlett, blackman, hamming,
hanning, kaiser), geomspace, logspace and the complex helpers (angle, conj, conjugate, real, imag,
view_as_complex, view_as_real) take arrays.
Control flow and core helpers (_ops_flow.py, _ops_custom_gradient.py, _ops_core.py; docs/ops_opsflow.md):
cond, switch, while_loop, fori_loop, scan, associative_scan, map, vectorized_map and vectorize run
eagerly as Python branches and loops, so a tape records what their functions compute; a tensor
choosing a branch or counting a loop is refused by name, a loop over a Python count draws its body's
nodes. custom_gradient records one node whose backward is the grad_fn given (arrays and tapes only).
is_tensor, dtype, ndim, size, get_item, saturate_cast, copy, array, empty, empty_like, full_like and
view are keras.ops' helpers.
keras.ops.nn's dot_product_attention, batch_normalization, layer_normalization, rms_normalization,
moments, normalize, multi_hot, psnr, depth_to_space, space_to_depth, fold, unfold, polar and the
binary, categorical and sparse categorical crossentropies (_ops_nn.py, _ops_attention.py,
_ops_crossentropy.py) are composed of the functions above, so on tensors each is a few of their
nodes and on a tape their gradients; psnr, fold and unfold take arrays and recorded values, polar
arrays only (docs/ops_nn.md).
Linear algebra (_ops_linalg.py, layers/tensor_linalg.py; docs/ops_linalg.md): cholesky, cholesky_inverse,
det, eig, eigh, inv, lstsq, lu_factor, matrix_rank, pinv, qr, solve, solve_triangular, svd, slogdet, logdet
on matrices (..., M, N), floats alone (as Keras 3.15); tape gradients for all but eig, lu_factor and
matrix_rank; inv, det, slogdet, logdet, cholesky, solve and solve_triangular take tensors too.
"""
import numbers

import numpy as np

from . import _tape_state

from ._ops_reading import _array, _arrays, _axis_argument, _each, _float, _is_tensor, _keras_dtype, _two, _unary
from .layers.tensor_functions import FORWARD, TensorFunction

__all__ = ["exp", "log", "sqrt", "square", "abs", "negative", "tanh", "sigmoid", "relu", "softplus",
           "maximum", "minimum", "clip", "add", "subtract", "multiply", "divide", "sum", "mean", "max",
           "min", "softmax", "log_softmax", "expand_dims", "squeeze", "reshape", "transpose", "concatenate",
           "stack", "matmul", "cast", "shape", "arange"]
__all__ += ["einsum", "take", "take_along_axis", "pad", "split", "tile", "repeat", "flip", "broadcast_to",
            "zeros_like", "ones_like", "top_k"]

_builtin_abs, _builtin_max, _builtin_sum = abs, max, sum
_builtin_all, _builtin_any = all, any      # ops.all and ops.any (below) take their names



# -- elementwise ---------------------------------------------------------------------------------
def exp(x):
    """e to the ``x``, elementwise: any shape, the same shape back."""
    return _unary("exp", x)


def log(x):
    """The natural logarithm, elementwise."""
    return _unary("log", x)


def sqrt(x):
    """The square root, elementwise."""
    return _unary("sqrt", x)


def square(x):
    """``x * x``, elementwise (integers stay integers; booleans give int32, as Keras'); of an add_loss
    batch term or batch vector, that term times itself."""
    from .added_losses import is_term
    if _is_batch_vector(x) or is_term(x):
        return x * x
    if not _is_tensor(x):
        array = _array(x, "x", "square")
        return _each(FORWARD["square"], array.astype(np.int32) if array.dtype.kind == "b" else array)
    return _unary("square", x, floats=False)


def tanh(x):
    """The hyperbolic tangent, elementwise."""
    return _unary("tanh", x)


def sigmoid(x):
    """``1 / (1 + exp(-x))``, elementwise, without overflow."""
    return _unary("sigmoid", x)


def relu(x):
    """``max(x, 0)``, elementwise (integers stay integers); its gradient at 0 is 0."""
    return _unary("relu", x, floats=False)


def softplus(x):
    """``log(1 + exp(x))``, elementwise, without overflow."""
    return _unary("softplus", x)


def abs(x):
    """``|x|``, elementwise: on a tensor, the ``TensorOp`` that ``abs(x)`` makes (``absolute``)."""
    if _is_tensor(x):
        return _builtin_abs(x)
    return np.asarray(np.abs(_array(x, "x", "abs")))


def negative(x):
    """``-x``, elementwise: on a tensor, the ``TensorOp`` that ``-x`` makes."""
    if _is_tensor(x):
        return -x
    return np.asarray(np.negative(_array(x, "x", "negative")))


def cast(x, dtype):
    """``x`` in ``dtype`` (floats to integers truncate toward 0, as Keras' cast).

    On a tensor, ``dtype`` must be a float dtype: a model's values travel as floats of the
    model's dtype, so the cast rounds each value to ``dtype`` and carries it in the model's
    (``cast(x, "float32")`` in a float32 model passes ``x`` on); integer casts are refused by name."""
    if _is_tensor(x):
        return TensorFunction("cast", {"dtype": dtype})(x)
    return _array(x, "x", "cast").astype(_keras_dtype(dtype, "cast"))


def add(x1, x2):
    """``x1 + x2``, broadcast as NumPy's; on tensors, the ``TensorOp`` that ``+`` makes."""
    return _two("add", x1, x2, np.add)


def subtract(x1, x2):
    """``x1 - x2``, broadcast as NumPy's."""
    return _two("subtract", x1, x2, np.subtract)


def multiply(x1, x2):
    """``x1 * x2``, broadcast as NumPy's."""
    return _two("multiply", x1, x2, np.multiply)


def divide(x1, x2):
    """``x1 / x2``, broadcast as NumPy's; integers divide to floatx (float32 unless set_floatx), as Keras'. On tensors
    the ``TensorOp`` that ``/`` makes, named ``true_divide`` (Keras names this function's node ``divide``)."""
    # a Python int goes to the float result as it is (Keras' result type holds float): read as the
    # integers' dtype first, -2 beside uint8 wrapped to 254 and 2**33 beside int32 to 0
    x1, x2 = (float(v) if type(v) is int else v for v in (x1, x2))
    return _two("true_divide", x1, x2, lambda a, b: np.true_divide(_float(a), _float(b)))


def maximum(x1, x2):
    """The larger of ``x1`` and ``x2``, elementwise, broadcast as NumPy's. On tensors (two, or a
    tensor and a constant) a tie gives its gradient to the first operand (TensorFlow's rule): a
    tensor behind a constant, ``maximum(0.0, x)``, gets none where it equals the constant."""
    return _two("maximum", x1, x2, np.maximum)


def minimum(x1, x2):
    """The smaller of ``x1`` and ``x2``, elementwise (ties: as ``maximum``)."""
    return _two("minimum", x1, x2, np.minimum)


def clip(x, x_min, x_max):
    """``x`` limited to ``[x_min, x_max]`` (numbers); the gradient passes inside, bounds included."""
    if _is_tensor(x):
        return TensorFunction("clip", {"x_min": x_min, "x_max": x_max})(x)
    bounds = []
    for name, bound in (("x_min", x_min), ("x_max", x_max)):
        if not isinstance(bound, (numbers.Real, np.ndarray, np.generic)) or isinstance(bound, bool):
            raise TypeError(f"ops.clip: {name} must be a number, got {bound!r:.60}")
        # a NumPy scalar bound is a number, as a Python one: Keras' clip keeps x's dtype (a float64
        # bound leaves float32 x float32)
        bounds.append(bound.item() if isinstance(bound, (np.ndarray, np.generic)) and np.ndim(bound) == 0 else bound)
    array, low, high = _arrays("clip", ("x", x), ("x_min", bounds[0]), ("x_max", bounds[1]))
    return np.asarray(np.clip(array, low, high))


def matmul(x1, x2):
    """The matrix product, as NumPy's ``matmul``: batched on the leading axes. On tensors: two
    tensors of samples (..., n, k) and (..., k, m); or a tensor and a constant matrix, ``x @ W``
    (W (k, m) on the tensor's last axis) or ``W @ x`` (W (m, n) on its last two)."""
    return _two("matmul", x1, x2, _matmul)


def _matmul(a, b):
    """NumPy's matmul in Keras' dtype: two int8 operands give int32 (their products overflow int8)."""
    if a.dtype == b.dtype == np.int8:
        a, b = a.astype(np.int32), b.astype(np.int32)
    return np.matmul(a, b)


# -- reductions ----------------------------------------------------------------------------------

def _reduce(op, x, axis, keepdims, initial=None):
    if op in ("mean", "sum") and _is_batch_vector(x):
        return x.reduce(op, axis, keepdims)         # over its axes: a batch vector, or a term when none is left
    if _is_tensor(x):
        if axis is None and op in ("mean", "sum"):
            # over the batch axis too: one number per batch, a term for add_loss only (glassnet.added_losses)
            from .added_losses import reduce_tensor
            return reduce_tensor(op, x)
        if op in ("mean", "sum") and _has_batch_axis(axis, x):
            # over the batch axis first: a batch vector, for add_loss terms only (glassnet._batch_vectors)
            from ._batch_vectors import reduce_tensor
            return reduce_tensor(op, x, axis, keepdims)
        arguments = {"axis": axis, "keepdims": keepdims}
        if initial is not None:
            arguments["initial"] = initial
        return TensorFunction(op, arguments)(x)
    axis = _axis_argument(axis, op)
    array = _array(x, "x", op)
    # (np.asarray: NumPy gives a scalar, not an array, for a reduction to one number)
    if op == "sum":
        # Keras' (JAX's) rule: int32 and wider integers keep their type (NumPy's sum would widen int32 to
        # int64), booleans, int8 and int16 count in int32, uint8 and uint16 in uint32 (no wrap-around)
        dtype = array.dtype
        if dtype.kind == "b" or (dtype.kind in "iu" and dtype.itemsize < 4):
            dtype = np.dtype(np.uint32 if dtype.kind == "u" else np.int32)
        return np.asarray(np.sum(array, axis=axis, keepdims=keepdims, dtype=dtype))
    if op == "mean":
        # integers give float32 whatever floatx: Keras' mean computes in result_type(x, "float32")
        floats = array if array.dtype.kind == "f" else array.astype(np.float32)
        return np.asarray(np.mean(floats, axis=axis, keepdims=keepdims))
    return np.asarray(FORWARD[op](array, axis=axis, keepdims=keepdims, initial=initial))


def _is_batch_vector(x):
    from ._batch_vectors import BatchVector
    return isinstance(x, BatchVector)


def _has_batch_axis(axis, tensor):
    """Whether ``axis`` (an int or a tuple; already known not None) names ``tensor``'s axis 0 (or -rank)."""
    from ._batch_vectors import sample_shape_of
    rank = 1 + len(sample_shape_of(tensor))
    axes = axis if isinstance(axis, (tuple, list)) else (axis,)
    return _builtin_any(isinstance(a, numbers.Integral) and not isinstance(a, bool) and a in (0, -rank) for a in axes)


def sum(x, axis=None, keepdims=False):
    """The sum over ``axis`` (None: all; on tensors, sample axes only)."""
    return _reduce("sum", x, axis, keepdims)


def mean(x, axis=None, keepdims=False):
    """The mean over ``axis``; integers give float32."""
    return _reduce("mean", x, axis, keepdims)


def max(x, axis=None, keepdims=False, initial=None):
    """The largest value over ``axis`` (``initial``: a floor). On tensors, the gradient is shared
    equally by the entries equal to the maximum (TensorFlow's rule)."""
    return _reduce("max", x, axis, keepdims, initial)


def min(x, axis=None, keepdims=False, initial=None):
    """The smallest value over ``axis`` (``initial``: a ceiling)."""
    return _reduce("min", x, axis, keepdims, initial)


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis`` (an integer, or a tuple: one softmax over those axes
    together), without overflow."""
    if _is_tensor(x):
        return TensorFunction("softmax", {"axis": axis})(x)
    return FORWARD["softmax"](_float(_array(x, "x", "softmax")), axis=axis)


def log_softmax(x, axis=-1):
    """``x - log(sum(exp(x)))`` along ``axis`` (an integer or a tuple), exact where softmax underflows."""
    if _is_tensor(x):
        return TensorFunction("log_softmax", {"axis": axis})(x)
    return FORWARD["log_softmax"](_float(_array(x, "x", "log_softmax")), axis=axis)


# -- shapes --------------------------------------------------------------------------------------
def expand_dims(x, axis):
    """``x`` with a new axis of size 1 at ``axis`` (an axis of the result)."""
    if _is_tensor(x):
        return TensorFunction("expand_dims", {"axis": axis})(x)
    return np.expand_dims(_array(x, "x", "expand_dims"), axis)


def squeeze(x, axis=None):
    """``x`` without its axes of size 1 (``axis``: those only). On tensors never the batch axis,
    even for a batch of one."""
    if _is_tensor(x):
        return TensorFunction("squeeze", {"axis": axis})(x)
    return np.squeeze(_array(x, "x", "squeeze"), _axis_argument(axis, "squeeze"))


def _is_call_weight(x):
    from ._call_weights import CallWeight
    return isinstance(x, CallWeight)


def reshape(x, newshape):
    """``x`` in ``newshape``, Keras' full shape: on tensors the batch first as -1 or None
    (``reshape(x, (-1, 4, 2))``), one other -1 at most."""
    if _is_tensor(x):
        return TensorFunction("reshape", {"newshape": newshape})(x)
    if _is_call_weight(x):
        # a block's weight (add_weight in a drawn call) in another shape: a handle still, which the
        # nodes taking weights read so reshaped and train (glassnet._call_weights)
        return x.reshape([newshape] if isinstance(newshape, numbers.Integral) else newshape)
    if not isinstance(newshape, (list, tuple, numbers.Integral)):
        raise TypeError(f"ops.reshape: newshape must be a tuple of sizes, got {newshape!r:.60}")
    shape = [newshape] if isinstance(newshape, numbers.Integral) else newshape
    return np.reshape(_array(x, "x", "reshape"), tuple(-1 if n is None else n for n in shape))


def transpose(x, axes=None):
    """``x`` with its axes in the order ``axes`` (None: reversed). On tensors ``axes`` must keep
    the batch axis first: ``transpose(k, (0, 2, 1))``."""
    if _is_tensor(x):
        return TensorFunction("transpose", {"axes": axes})(x)
    if _is_call_weight(x):
        # a block's weight transposed (ops.matmul(codes, ops.transpose(self.codebook))): a handle
        # still, which the nodes taking weights read so transposed and train (glassnet._call_weights)
        return x.transpose(axes)
    return np.transpose(_array(x, "x", "transpose"), axes)


def _several(op, xs, axis, name):
    if not isinstance(xs, (list, tuple)) or not xs:
        raise TypeError(f"ops.{op}: {name} must be a list of arrays or tensors, got {type(xs).__name__}")
    tensors = [_is_tensor(v) for v in xs]
    if _builtin_sum(tensors) and not _builtin_all(tensors):
        # constants among tensors: each repeated over the batch (the sample's shape, or a batch axis of 1)
        constants = [None if t else _array(v, f"{name}[{k}]", op) for k, (t, v) in enumerate(zip(tensors, xs))]
        return TensorFunction(op, {"axis": axis, "constants": constants})([v for t, v in zip(tensors, xs) if t])
    if _builtin_all(tensors):
        return TensorFunction(op, {"axis": axis})(list(xs))
    arrays = _arrays(op, *((f"{name}[{k}]", v) for k, v in enumerate(xs)))
    return (np.concatenate if op == "concatenate" else np.stack)(arrays, axis=axis)


def concatenate(xs, axis=0):
    """``xs`` (a list) joined along ``axis``; on tensors a sample axis (Keras' default 0 is refused)."""
    return _several("concatenate", xs, axis, "xs")


def stack(x, axis=0):
    """The arrays of the list ``x`` stacked on a new ``axis``; on tensors a sample axis, ``axis=1``
    or later (Keras' default 0 is refused)."""
    return _several("stack", x, axis, "x")


def shape(x):
    """The shape as a tuple; a tensor's has None for the batch (Keras' static shape)."""
    if _is_tensor(x):
        from .layers.symbolic import sample_shape_of
        return (None, *sample_shape_of(x))
    return tuple(np.shape(_array(x, "x", "shape")))


def arange(start, stop=None, step=None, dtype=None):
    """Evenly spaced numbers in ``[start, stop)`` (``arange(stop)``: from 0), step ``step`` (None: 1):
    a NumPy array of shape (ceil((stop - start) / step),), Keras' dtype (Python ints int32, a Python
    float float32, NumPy numbers their own; ``dtype`` sets it).

    It is a constant, never a tensor, also inside a subclass' ``call``: there add it to a tensor to
    give it a batch axis before a layer reads it. keras.io's TokenAndPositionEmbedding, on ids ``x``
    of shape (batch, maxlen): ``self.pos_emb(x * 0 + ops.arange(0, maxlen))`` (docs/layers.md).

    >>> arange(0, 10, 3)
    array([0, 3, 6, 9], dtype=int32)
    """
    named = [("start", start), ("stop", stop), ("step", step)]
    for name, value in named:
        if _is_tensor(value):
            raise TypeError(f"ops.arange: {name} is a tensor of a model being drawn; arange takes numbers "
                            f"(a sample axis' size: ops.shape(x)[-1])")
        if value is not None and np.ndim(value) != 0:
            raise TypeError(f"ops.arange: {name} must be a number, got {type(value).__name__} of shape "
                            f"{np.shape(value)}")
    given = [(name, value) for name, value in named if value is not None]
    arrays = _arrays("arange", *given)
    if step is not None and arrays[-1] == 0:
        raise ValueError("ops.arange: step must not be 0")
    if stop is None:        # arange(stop), Keras' reading of one bound (step may still be given)
        bounds = [0, start] + ([step] if step is not None else [])
    else:
        bounds = [value for _, value in given]
    return np.arange(*bounds, dtype=arrays[0].dtype if dtype is None else _keras_dtype(dtype, "arange"))


# -- structure (the nodes' maths: layers/tensor_structure.py) -------------------------------------------
def _node(op, arguments, x):
    return TensorFunction(op, arguments)(x)


def einsum(subscripts, *operands):
    """Einstein summation, NumPy's ``einsum`` (``"bij,jk->bik"``, ``...`` broadcast), the result in
    the operands' Keras dtype. On tensors, constants (arrays) may stand among the operands; each
    tensor's first index is its batch axis, one letter for all, in no constant and first in the
    output (each sample computed on its own), e.g. ``einsum("bqd,bkd->bqk", q, k)``."""
    if not isinstance(subscripts, str):
        raise TypeError(f"ops.einsum: subscripts must be a string ('ij,jk->ik'), got {subscripts!r:.60}")
    if not operands:
        raise TypeError("ops.einsum: give one operand or more after subscripts")
    tensors = [_is_tensor(v) for v in operands]
    if _builtin_any(tensors):
        constants = [None if t else _array(v, f"operands[{k}]", "einsum") for k, (t, v) in enumerate(zip(tensors, operands))]
        inputs = [v for t, v in zip(tensors, operands) if t]
        return _node("einsum", {"subscripts": subscripts, "constants": constants},
                     inputs if len(inputs) > 1 else inputs[0])
    arrays = _arrays("einsum", *((f"operands[{k}]", v) for k, v in enumerate(operands)))
    if arrays[0].dtype == np.int8:
        # Keras' dtype, as matmul's: int8 operands give int32 (their products and sums overflow int8)
        arrays = [a.astype(np.int32) for a in arrays]
    return np.asarray(np.einsum(subscripts, *arrays))


def _integer_indices(indices, function):
    array = _array(indices, "indices", function)
    if array.dtype.kind not in "iu":
        raise TypeError(f"ops.{function}: indices must be integers, got an array of {array.dtype}")
    return array


def take(x, indices, axis=None):
    """The entries of ``x`` at ``indices`` along ``axis`` (None: of the flattened ``x``), NumPy's
    ``take``: shape ``x.shape[:axis] + indices.shape + x.shape[axis + 1:]``, x's dtype. On tensors:
    a tensor ``x`` at constant indices on a sample axis (gradient scattered back), or a constant
    table ``x`` read at a tensor of indices (``take(table, ids)``, axis 0 or None; the ids take
    no gradient). Two tensors are refused (the batch axis would appear twice: take_along_axis)."""
    if _is_tensor(x) and _is_tensor(indices):
        raise TypeError("ops.take: x and indices are both tensors of a model being drawn (the result would hold "
                        "the batch axis twice); per-sample indices: ops.take_along_axis")
    if _is_tensor(x):
        return _node("take", {"indices": _integer_indices(indices, "take"), "axis": axis}, x)
    if _is_tensor(indices):
        return _node("take", {"x": _array(x, "x", "take"), "axis": axis}, indices)
    return np.take(_array(x, "x", "take"), _integer_indices(indices, "take"), axis=axis)


def take_along_axis(x, indices, axis=None):
    """``x``'s entries at ``indices`` along ``axis`` (NumPy's ``take_along_axis``; the other axes
    broadcast). On tensors ``indices`` is an integer tensor (its values rounded) or a constant with
    a batch axis of size 1, ``axis`` a sample axis."""
    if _is_tensor(x):
        if _is_tensor(indices):
            return _node("take_along_axis", {"axis": axis}, [x, indices])
        return _node("take_along_axis", {"indices": _integer_indices(indices, "take_along_axis"), "axis": axis}, x)
    if _is_tensor(indices):
        raise TypeError("ops.take_along_axis: indices is a tensor but x is not; x must be a tensor (a constant: "
                        "add it to a tensor first)")
    array, idx = _array(x, "x", "take_along_axis"), _integer_indices(indices, "take_along_axis")
    if axis is None:
        array, idx = array.reshape(-1), idx.reshape(-1)
        axis = 0
    shape = list(np.broadcast_shapes(*(s[:axis % array.ndim] + (1,) + s[axis % array.ndim + 1:] for s in (array.shape, idx.shape))))
    a, i = (np.broadcast_to(v, shape[:axis % array.ndim] + [v.shape[axis]] + shape[axis % array.ndim + 1:])
            for v in (array, idx))
    return np.take_along_axis(a, i, axis)


def pad(x, pad_width, mode="constant", constant_values=None):
    """``x`` padded by ``pad_width``, one ``(before, after)`` per axis (NumPy's forms on arrays; on
    tensors a pair per axis, the batch axis' ``(0, 0)``). ``mode``: "constant" (``constant_values``,
    None: 0), "reflect", "symmetric" (Keras' on TensorFlow), "edge", "wrap"."""
    from .layers.tensor_structure import PAD_MODES
    if mode not in PAD_MODES:
        raise ValueError(f"ops.pad: mode must be one of {', '.join(PAD_MODES)}, got {mode!r:.40}")
    if constant_values is not None and mode != "constant":
        raise ValueError(f"ops.pad: constant_values is for mode='constant', not {mode!r}")
    if _is_tensor(x):
        return _node("pad", {"pad_width": pad_width, "mode": mode, "constant_values": constant_values}, x)
    array = _array(x, "x", "pad")
    extra = {"constant_values": constant_values} if mode == "constant" and constant_values is not None else {}
    return np.pad(array, np.asarray(pad_width, dtype=int), mode=mode, **extra)


def split(x, indices_or_sections, axis=0):
    """``x`` cut along ``axis`` into ``indices_or_sections`` equal pieces (an integer) or at those
    indices (a list): a list of arrays; on tensors a list of tensors, one node per piece (a sample
    axis)."""
    if _is_tensor(x):
        sections = isinstance(indices_or_sections, numbers.Integral)
        count = int(indices_or_sections) if sections else len(list(indices_or_sections)) + 1
        return [_node("split", {"indices_or_sections": indices_or_sections if sections
                                else list(indices_or_sections), "axis": axis, "index": k}, x) for k in range(count)]
    return np.split(_array(x, "x", "split"), indices_or_sections, axis=axis)


def tile(x, repeats):
    """``x`` repeated ``repeats`` times along each axis (NumPy's ``tile``; on tensors the sample
    axes' repeats, or a batch axis' 1 first)."""
    if _is_tensor(x):
        return _node("tile", {"repeats": repeats}, x)
    return np.tile(_array(x, "x", "tile"), repeats)


def repeat(x, repeats, axis=None):
    """Each entry of ``x`` repeated ``repeats`` times (an integer, or one per entry) along ``axis``
    (None: of the flattened ``x``; on tensors a sample axis)."""
    if _is_tensor(x):
        return _node("repeat", {"repeats": repeats, "axis": axis}, x)
    return np.repeat(_array(x, "x", "repeat"), repeats, axis=axis)


def flip(x, axis=None):
    """``x`` with the order of its entries reversed along ``axis`` (None: every axis; on tensors
    sample axes)."""
    if _is_tensor(x):
        return _node("flip", {"axis": axis}, x)
    return np.asarray(np.flip(_array(x, "x", "flip"), _axis_argument(axis, "flip")))


def broadcast_to(x, shape):
    """``x`` broadcast to ``shape`` (NumPy's rules). On tensors ``shape`` is the full shape of the
    same rank, the batch's entry None: ``broadcast_to(x, (None, 5, 4))``."""
    if _is_tensor(x):
        return _node("broadcast_to", {"shape": shape}, x)
    return np.broadcast_to(_array(x, "x", "broadcast_to"), shape).copy()


def zeros_like(x, dtype=None):
    """Zeros of ``x``'s shape and dtype (or ``dtype``); on tensors a node without gradient."""
    if _is_tensor(x):
        return _node("zeros_like", {"dtype": dtype}, x)
    array = _array(x, "x", "zeros_like")
    return np.zeros_like(array, dtype=None if dtype is None else _keras_dtype(dtype, "zeros_like"))


def ones_like(x, dtype=None):
    """Ones of ``x``'s shape and dtype (or ``dtype``); on tensors a node without gradient."""
    if _is_tensor(x):
        return _node("ones_like", {"dtype": dtype}, x)
    array = _array(x, "x", "ones_like")
    return np.ones_like(array, dtype=None if dtype is None else _keras_dtype(dtype, "ones_like"))


def top_k(x, k, sorted=True):
    """The ``k`` largest entries along the last axis and their indices (int32), largest first (also
    for ``sorted=False``), ties to the lower index, as TensorFlow's; ``k=0`` gives both empty. On tensors two nodes: the values
    (gradient to the entries taken) and the indices (floats of the model's dtype, no gradient)."""
    if _is_tensor(x):
        return tuple(_node("top_k", {"k": k, "sorted": sorted, "output": output}, x) for output in ("values", "indices"))
    from .layers.tensor_structure import top_k_indices
    array = _array(x, "x", "top_k")
    if not array.ndim:
        raise ValueError("ops.top_k: x must have one axis or more (as Keras 3.15), got a single number")
    # k = 0 gives empty values and indices, (..., 0), as Keras'
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or not 0 <= k <= array.shape[-1]:
        raise ValueError(f"ops.top_k: k must be an integer from 0 to the last axis' size {array.shape[-1]}, "
                         f"got {k!r:.40}")
    order = top_k_indices(array, int(k))
    return np.take_along_axis(array, order, -1), order.astype(np.int32)


# element-wise maths, comparisons, logic and more reductions: _ops_math.py (its functions import the
# helpers above, so they come last)
from ._ops_math import (  # noqa: E402
    all, any, argmax, argmin, cos, cumprod, cumsum, equal, erf, expm1, floor, greater, greater_equal, less,
    less_equal, log1p, logical_and, logical_not, logical_or, logsumexp, norm, not_equal, one_hot, power, prod,
    reciprocal, round, rsqrt, sign, sin, std, var, where)
__all__ += ["log1p", "expm1", "sin", "cos", "erf", "reciprocal", "rsqrt", "floor", "sign", "round", "power", "equal",
            "not_equal", "greater", "greater_equal", "less", "less_equal", "logical_and", "logical_or", "logical_not",
            "where", "prod", "std", "var", "logsumexp", "norm", "argmax", "argmin", "any", "all", "cumsum", "cumprod",
            "one_hot"]

# keras.ops' activations (their nodes' maths: layers/tensor_activations.py)
from ._ops_activations import (  # noqa: E402
    celu, elu, gelu, hard_shrink, hard_sigmoid, hard_silu, hard_swish, hard_tanh, leaky_relu, log_sigmoid, relu6, selu,
    silu, soft_shrink, softsign, sparse_plus, sparse_sigmoid, squareplus, swish, tanh_shrink)
__all__ += ["gelu", "silu", "swish", "elu", "selu", "leaky_relu", "relu6", "hard_sigmoid", "hard_silu", "hard_swish",
            "softsign", "log_sigmoid", "celu", "hard_tanh", "hard_shrink", "soft_shrink", "tanh_shrink", "sparse_plus",
            "sparse_sigmoid", "squareplus"]
# a layer's activation=ops.relu takes the activation of that name, as Keras takes keras.ops.relu
# (glassnet.activations.get reads _activation)
for _function, _name in ((relu, "relu"), (sigmoid, "sigmoid"), (tanh, "tanh"), (softplus, "softplus"),
                         (softmax, "softmax"), (log_softmax, "log_softmax"), (exp, "exponential")):
    _function._activation = _name
del _function, _name

# more maths, comparisons, sorting and slicing (their nodes' maths: layers/tensor_math.py)
from ._ops_more import (  # noqa: E402
    arccos, arccosh, arcsin, arcsinh, arctan, arctanh, argsort, ceil, convert_to_numpy, convert_to_tensor, cosh,
    floor_divide, isfinite, isinf, isnan, log10, log2, logical_xor, mod, sinh, slice, slice_update, sort, stop_gradient,
    tan, trunc)
__all__ += ["tan", "arcsin", "arccos", "arctan", "sinh", "cosh", "arcsinh", "arccosh", "arctanh", "log2", "log10",
            "ceil", "trunc", "isnan", "isinf", "isfinite", "floor_divide", "mod", "logical_xor", "sort", "argsort",
            "slice", "slice_update", "convert_to_tensor", "convert_to_numpy", "stop_gradient"]

# constructors (NumPy constants), tril, triu, unstack, tensordot (their nodes: layers/tensor_structure.py, einsum's,
# get_item's)
from ._ops_fill import (  # noqa: E402
    eye, full, identity, linspace, meshgrid, ones, tensordot, tri, tril, triu, unstack, zeros)
__all__ += ["zeros", "ones", "full", "eye", "identity", "tri", "linspace", "meshgrid", "tril", "triu", "unstack",
            "tensordot"]

# convolutions and poolings, and the ops.image namespace (their nodes: layers/tensor_conv.py)
from ._ops_conv import average_pool, conv, conv_transpose, depthwise_conv, max_pool, separable_conv  # noqa: E402
from . import _ops_image  # noqa: E402
image = _ops_image      # keras.ops.image's namespace: ops.image.extract_patches
__all__ += ["conv", "depthwise_conv", "separable_conv", "conv_transpose", "max_pool", "average_pool"]  # (and the namespace image)


# arctan2, glu, threshold, sparsemax and the Fourier transforms (their nodes: layers/tensor_math.py,
# tensor_activations.py, tensor_spectral.py)
from ._ops_spectral import arctan2, fft, fft2, glu, ifft2, irfft, rfft, sparsemax, threshold  # noqa: E402
__all__ += ["arctan2", "glu", "threshold", "sparsemax", "fft", "fft2", "ifft2", "rfft", "irfft"]


# on arrays only: counting, quantiles, scatters, adaptive poolings (layers/adaptive_pooling.py's code)
from ._ops_arrays import (  # noqa: E402
    adaptive_average_pool, adaptive_max_pool, count_nonzero, median, nonzero, quantile, scatter, scatter_update)
__all__ += ["nonzero", "count_nonzero", "median", "quantile", "scatter", "scatter_update", "adaptive_average_pool",
            "adaptive_max_pool"]

# short-time Fourier transforms (the stft node: layers/tensor_stft.py) and CTC on arrays (glassnet.losses' code)
from ._ops_stft import istft, stft  # noqa: E402
from ._ops_ctc import ctc_decode, ctc_loss  # noqa: E402
__all__ += ["stft", "istft", "ctc_loss", "ctc_decode"]

# keras.ops' NumPy-like element-wise and structural functions (docs/ops_numpy.md; erfc, erfinv, i0's nodes:
# layers/tensor_npmath.py, the others drawn from existing nodes)
from ._ops_npmath import (  # noqa: E402
    absolute, cbrt, deg2rad, divide_no_nan, erfc, erfinv, exp2, fabs, fmax, fmin, fmod, heaviside, hypot, i0, ldexp,
    logaddexp, logaddexp2, nan_to_num, rad2deg, sinc, true_divide)
from ._ops_npshape import (  # noqa: E402
    append, array_split, cross, diag, diagflat, diagonal, diff, dot, dsplit, dstack, fliplr, flipud, hsplit, hstack,
    inner, kron, moveaxis, outer, ravel, roll, rot90, select, swapaxes, trace, vdot, vsplit, vstack)
from ._ops_npmore import corrcoef, correlate, rearrange, trapezoid, vander  # noqa: E402
__all__ += ["absolute", "fabs", "cbrt", "deg2rad", "rad2deg", "erfc", "erfinv", "exp2", "fmax", "fmin", "fmod",
            "heaviside", "hypot", "logaddexp", "logaddexp2", "ldexp", "sinc", "i0", "true_divide", "divide_no_nan",
            "nan_to_num", "moveaxis", "swapaxes", "ravel", "roll", "rot90", "fliplr", "flipud", "diff", "diag",
            "diagflat", "diagonal", "trace", "dot", "inner", "outer", "vdot", "kron", "cross", "hstack", "vstack",
            "dstack", "hsplit", "vsplit", "dsplit", "array_split", "append", "select", "rearrange", "vander",
            "trapezoid", "correlate", "corrcoef"]
# further reductions, NaN-skipping and segment reductions (composed of the ops above: their nodes and
# gradients), counting, searching and integer functions (arrays only), windows, frames and distances
from ._ops_reduce import (  # noqa: E402
    amax, amin, average, nanargmax, nanargmin, nancumprod, nancumsum, nanmax, nanmean, nanmedian, nanmin,
    nanpercentile, nanprod, nanquantile, nanstd, nansum, nanvar, percentile, ptp, segment_max, segment_min,
    segment_prod, segment_sum)
from ._ops_count import (  # noqa: E402
    allclose, argpartition, bincount, bitwise_and, bitwise_invert, bitwise_left_shift, bitwise_not, bitwise_or,
    bitwise_right_shift, bitwise_xor, digitize, gcd, histogram, in_top_k, isclose, isin, isneginf, isposinf, isreal,
    lcm, left_shift, nextafter, right_shift, searchsorted, signbit, unique, unravel_index)
from ._ops_signal import (  # noqa: E402
    angle, bartlett, blackman, cdist, conj, conjugate, extract_sequences, geomspace, hamming, hanning, imag, kaiser,
    logspace, real, view_as_complex, view_as_real)
__all__ += ["amax", "amin", "average", "ptp", "percentile", "nansum", "nanmean", "nanmax", "nanmin", "nanprod",
            "nanstd", "nanvar", "nancumsum", "nancumprod", "nanargmax", "nanargmin", "nanmedian", "nanpercentile",
            "nanquantile", "segment_sum", "segment_max", "segment_min", "segment_prod", "histogram", "bincount",
            "unique", "searchsorted", "digitize", "argpartition", "in_top_k", "isin", "isclose", "allclose",
            "isneginf", "isposinf", "isreal", "signbit", "nextafter", "unravel_index", "bitwise_and",
            "bitwise_or", "bitwise_xor", "bitwise_not", "bitwise_invert", "bitwise_left_shift",
            "bitwise_right_shift", "left_shift", "right_shift", "gcd", "lcm", "bartlett", "blackman", "hamming",
            "hanning", "kaiser", "geomspace", "logspace", "extract_sequences", "cdist", "angle", "conj",
            "conjugate", "real", "imag", "view_as_complex", "view_as_real"]
# control flow run eagerly (their bodies' ops are what a tape records and a model draws), custom_gradient and
# the core helpers (_ops_flow.py, _ops_custom_gradient.py, _ops_core.py)
from ._ops_flow import (  # noqa: E402
    associative_scan, cond, fori_loop, map, scan, switch, vectorize, vectorized_map, while_loop)
from ._ops_custom_gradient import custom_gradient  # noqa: E402
from ._ops_core import (  # noqa: E402
    array, copy, dtype, empty, empty_like, full_like, get_item, is_tensor, ndim, saturate_cast, size, view)
__all__ += ["cond", "switch", "while_loop", "fori_loop", "scan", "associative_scan", "map", "vectorized_map",
            "vectorize", "custom_gradient", "is_tensor", "dtype", "ndim", "size", "get_item", "saturate_cast", "copy",
            "array", "empty", "empty_like", "full_like", "view"]
# keras.ops.nn's normalizations, attention, crossentropies, rearrangements, fold/unfold, polar: composed of
# the functions above, so their gradients and graph nodes are theirs (glassnet._ops_nn)
from ._ops_nn import (  # noqa: E402
    batch_normalization, depth_to_space, fold, layer_normalization, moments, multi_hot, normalize, polar, psnr,
    rms_normalization, space_to_depth, unfold)
from ._ops_attention import dot_product_attention  # noqa: E402
from ._ops_crossentropy import binary_crossentropy, categorical_crossentropy, sparse_categorical_crossentropy  # noqa: E402,E501
__all__ += ["dot_product_attention", "batch_normalization", "layer_normalization", "rms_normalization", "moments",
            "normalize", "multi_hot", "psnr", "depth_to_space", "space_to_depth", "fold", "unfold", "polar",
            "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy"]
# linear algebra (its maths and nodes: layers/tensor_linalg.py)
from ._ops_linalg import (  # noqa: E402
    cholesky, cholesky_inverse, det, eig, eigh, inv, logdet, lstsq, lu_factor, matrix_rank, pinv, qr, slogdet, solve,
    solve_triangular, svd)
__all__ += ["cholesky", "cholesky_inverse", "det", "eig", "eigh", "inv", "lstsq", "lu_factor", "matrix_rank", "pinv",
            "qr", "solve", "solve_triangular", "svd", "slogdet", "logdet"]


# while a GradientTape records, a call holding a recorded value is recorded (glassnet.tape): each
# public function checks the thread's tapes first, one look at a list when none is open
def _recording(name, function):
    def record(function, args, kwargs):
        from .tape import record_ops_call
        return record_ops_call(name, function, args, kwargs)
    return _tape_state.when_recording(function, record)


for _name in __all__:
    globals()[_name] = _recording(_name, globals()[_name])
del _name


def jvp(fun, primals, tangents, has_aux=False):
    """``(fun(*primals), J @ tangents)`` (``aux`` third with ``has_aux``): Keras 3.15's forward-mode
    Jacobian-vector product (keras.ops.jvp, keras.ops.linalg.jvp), exact, from the second-order
    tape's tangent rules (glassnet._ops_jvp). Takes a callable, so it is not recorded itself: it
    refuses to run while a GradientTape records.

    >>> y, ty = jvp(sin, (np.float32(0.1),), (np.float32(0.2),))   # doctest: +SKIP
    """
    from ._ops_jvp import jvp as forward_mode
    return forward_mode(fun, primals, tangents, has_aux=has_aux)


__all__ += ["jvp"]


# Keras 3.15's namespaces keras.ops.nn, keras.ops.numpy, keras.ops.linalg: the recording functions above
# under the names Keras lists there (glassnet._ops_spaces); `import glassnet.ops.nn` works as Keras'
from ._ops_spaces import missing as _missing, spaces as _spaces  # noqa: E402
nn, numpy, linalg = _spaces(globals(), __all__, image)


def __getattr__(name):
    """A name glassnet.ops lacks: one of keras.ops' own not built here would say so (none is now)."""
    raise AttributeError(_missing(__name__, name))
