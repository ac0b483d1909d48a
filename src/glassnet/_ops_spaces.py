"""Keras 3.15's ``keras.ops`` namespaces for ``glassnet.ops``: ``ops.nn``, ``ops.numpy``, ``ops.linalg``.

Each namespace holds, under Keras' names, the very function objects ``glassnet.ops`` holds (the
recording wrappers ops.py makes at its end), so ``ops.nn.relu is ops.relu`` and a ``GradientTape``
records a call made through a namespace as it records any other::

    from glassnet.ops import linalg, nn
    import glassnet.ops.numpy            # as ``import keras.ops.numpy``

    y = nn.relu(linalg.inv(a))

The lists below are Keras 3.15's (``dir(keras.ops.nn)`` and so on, its public callables), written
out because Keras is not installed where glassnet runs. A name Keras lists that glassnet.ops has not
built would be absent, and reading it would raise an AttributeError saying so (every one is built
since ``jvp``, glassnet._ops_jvp). Keras 3.15 has
no public ``keras.ops.math`` or ``keras.ops.core`` (``keras.src.ops.math`` and ``core`` are its
internal modules, whose functions keras.ops has at top level), so glassnet has none either;
``ops.image`` is _ops_image.py.
"""
import sys
import types

NN = (
    "adaptive_average_pool", "adaptive_max_pool", "average_pool", "batch_normalization", "binary_crossentropy",
    "categorical_crossentropy", "celu", "conv", "conv_transpose", "ctc_decode", "ctc_loss", "depth_to_space",
    "depthwise_conv", "dot_product_attention", "elu", "fold", "gelu", "glu", "hard_shrink", "hard_sigmoid",
    "hard_silu", "hard_swish", "hard_tanh", "layer_normalization", "leaky_relu", "log_sigmoid", "log_softmax",
    "max_pool", "moments", "multi_hot", "normalize", "one_hot", "polar", "psnr", "relu", "relu6",
    "rms_normalization", "selu", "separable_conv", "sigmoid", "silu", "soft_shrink", "softmax", "softplus",
    "softsign", "space_to_depth", "sparse_categorical_crossentropy", "sparse_plus", "sparse_sigmoid", "sparsemax",
    "squareplus", "swish", "tanh_shrink", "threshold", "unfold",
)
NUMPY = (
    "abs", "absolute", "add", "all", "allclose", "amax", "amin", "angle", "any", "append", "arange", "arccos",
    "arccosh", "arcsin", "arcsinh", "arctan", "arctan2", "arctanh", "argmax", "argmin", "argpartition", "argsort",
    "array", "array_split", "average", "bartlett", "bincount", "bitwise_and", "bitwise_invert",
    "bitwise_left_shift", "bitwise_not", "bitwise_or", "bitwise_right_shift", "bitwise_xor", "blackman",
    "broadcast_to", "cbrt", "ceil", "clip", "concatenate", "conj", "conjugate", "copy", "corrcoef", "correlate",
    "cos", "cosh", "count_nonzero", "cross", "cumprod", "cumsum", "deg2rad", "diag", "diagflat", "diagonal", "diff",
    "digitize", "divide", "divide_no_nan", "dot", "dsplit", "dstack", "einsum", "empty", "empty_like", "equal",
    "exp", "exp2", "expand_dims", "expm1", "eye", "fabs", "flip", "fliplr", "flipud", "floor", "floor_divide",
    "fmax", "fmin", "fmod", "full", "full_like", "gcd", "geomspace", "get_item", "greater", "greater_equal",
    "hamming", "hanning", "heaviside", "histogram", "hsplit", "hstack", "hypot", "i0", "identity", "imag", "inner",
    "isclose", "isfinite", "isin", "isinf", "isnan", "isneginf", "isposinf", "isreal", "kaiser", "kron", "lcm",
    "ldexp", "left_shift", "less", "less_equal", "linspace", "log", "log10", "log1p", "log2", "logaddexp",
    "logaddexp2", "logical_and", "logical_not", "logical_or", "logical_xor", "logspace", "matmul", "max", "maximum",
    "mean", "median", "meshgrid", "min", "minimum", "mod", "moveaxis", "multiply", "nan_to_num", "nanargmax",
    "nanargmin", "nancumprod", "nancumsum", "nanmax", "nanmean", "nanmedian", "nanmin", "nanpercentile", "nanprod",
    "nanquantile", "nanstd", "nansum", "nanvar", "ndim", "negative", "nextafter", "nonzero", "not_equal", "ones",
    "ones_like", "outer", "pad", "percentile", "power", "prod", "ptp", "quantile", "rad2deg", "ravel", "real",
    "reciprocal", "repeat", "reshape", "right_shift", "roll", "rot90", "round", "searchsorted", "select", "sign",
    "signbit", "sin", "sinc", "sinh", "size", "slogdet", "sort", "split", "sqrt", "square", "squeeze", "stack",
    "std", "subtract", "sum", "swapaxes", "take", "take_along_axis", "tan", "tanh", "tensordot", "tile", "trace",
    "transpose", "trapezoid", "tri", "tril", "triu", "true_divide", "trunc", "unique", "unravel_index", "vander",
    "var", "vdot", "vectorize", "view", "vsplit", "vstack", "where", "zeros", "zeros_like",
)
LINALG = (
    "cholesky", "cholesky_inverse", "det", "eig", "eigh", "inv", "jvp", "lstsq", "lu_factor", "matrix_rank", "norm",
    "pinv", "qr", "solve", "solve_triangular", "svd",
)
SPACES = {"nn": NN, "numpy": NUMPY, "linalg": LINALG}
# namespaces Keras 3.15 does not export (keras.src's internal modules): named in the error
INTERNAL = ("math", "core")


def missing(module, name):
    """The AttributeError message for ``module.name`` (module ``"glassnet.ops"`` or one of its
    namespaces, ``"glassnet.ops.linalg"``): a keras.ops function glassnet has not built says so."""
    space = module.rpartition(".")[2]
    if name in SPACES.get(space, ()) or (space == "ops" and any(name in names for names in SPACES.values())):
        return (f"{module} has no {name!r}: keras.ops' {name} is not built in glassnet "
                f"(docs/keras_parity.md lists what is not)")
    if space == "ops" and name in INTERNAL:
        return (f"{module} has no {name!r}: Keras 3.15 has no keras.ops.{name} namespace either (keras.src.ops.{name} "
                f"is internal; its functions are keras.ops' own, as they are glassnet.ops')")
    return f"module {module!r} has no attribute {name!r}"


def spaces(functions, public, image):
    """``functions``: glassnet.ops' globals, ``public`` its ``__all__`` -> ``(nn, numpy, linalg)``,
    one module each holding the functions of ``public`` Keras lists there; each (and ``image``, the
    ops.image module) registered in ``sys.modules`` as ``glassnet.ops.<name>``, so that ``import
    glassnet.ops.nn`` finds it as ``import keras.ops.nn`` does."""
    public = set(public)
    made = []
    for space, names in SPACES.items():
        name = f"glassnet.ops.{space}"
        module = types.ModuleType(name, f"Keras 3.15's keras.ops.{space}: glassnet.ops' functions of its names.")
        module.__all__ = [each for each in names if each in public]
        module.__dict__.update({each: functions[each] for each in module.__all__})

        def __getattr__(attribute, _module=name):       # names Keras lists and glassnet lacks
            raise AttributeError(missing(_module, attribute))
        module.__getattr__ = __getattr__
        sys.modules[name] = module
        made.append(module)
    sys.modules["glassnet.ops.image"] = image
    return tuple(made)
