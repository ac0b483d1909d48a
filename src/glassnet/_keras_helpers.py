"""Keras' small ``keras.utils`` helpers about tensors and dtypes: ``is_keras_tensor``,
``get_source_inputs`` and ``standardize_dtype`` (exported by ``glassnet.utils``).

glassnet's symbolic tensors are ``glassnet.layers.Input`` (an ``InputLayer``, which is both the
layer and the tensor a functional model starts from) and the ``SymbolicTensor`` a layer called on
one returns (glassnet/layers/symbolic.py). The layer modules are imported when these functions are
first called, so ``import glassnet.utils`` stays as fast as it was.
"""
from . import backend

__all__ = ["is_keras_tensor", "get_source_inputs", "standardize_dtype"]

# Keras 3.15's dtype names (keras.src.backend.common.dtypes.ALLOWED_DTYPES), and the Python types
# (and the string "int") it maps to them
ALLOWED_DTYPES = ("float16", "float32", "float64", "bfloat16", "float8_e4m3fn", "float8_e5m2", "uint8", "uint16",
                  "uint32", "uint64", "int8", "int16", "int32", "int64", "bool", "string", "complex64", "complex128")
_PYTHON_DTYPES = {bool: "bool", int: "int64", float: "float32", str: "string", "int": "int64", complex: "complex128"}


def _symbolic_classes():
    from .layers.input import InputLayer
    from .layers.symbolic import SymbolicTensor
    return InputLayer, SymbolicTensor


def is_keras_tensor(x):
    """Whether ``x`` is a symbolic tensor (Keras' ``is_keras_tensor``): an ``Input`` or what a layer
    called on one returned, which holds a shape but no values. Arrays, layers, models and lists of
    tensors are not.

    >>> from glassnet.layers import Dense, Input
    >>> x = Input((3,))
    >>> is_keras_tensor(x), is_keras_tensor(Dense(2)(x)), is_keras_tensor([x])
    (True, True, False)

    glassnet's ``Input(...)`` is its ``InputLayer``, so an ``InputLayer((3,))`` made directly (to
    start a Sequential) counts too, where Keras' ``InputLayer`` is a layer holding its tensor.
    """
    return isinstance(x, _symbolic_classes())


def get_source_inputs(tensor):
    """The Inputs a symbolic tensor is computed from (Keras' ``get_source_inputs``): a list, each
    Input once, in the order Keras finds them (depth first, each layer's inputs in the order it was
    called on them). An Input gives ``[itself]``; anything that is not a symbolic tensor (an array,
    a list of tensors) is returned as it is, as Keras returns it.

    >>> from glassnet.layers import Concatenate, Dense, Input
    >>> a, b = Input((3,), name="a"), Input((2,), name="b")
    >>> y = Dense(1)(Concatenate()([Dense(2)(b), a]))
    >>> [t.name for t in get_source_inputs(y)]
    ['b', 'a']
    """
    input_class, tensor_class = _symbolic_classes()
    if isinstance(tensor, input_class):
        return [tensor]
    if not isinstance(tensor, tensor_class):
        return tensor
    from .layers.symbolic import in_drawing_order
    # each tensor's sources from its inputs' (already found: in_drawing_order lists a tensor after
    # those it was called on), without recursion, which a deep graph would take past Python's limit
    sources = {}
    for drawn in in_drawing_order([tensor]):
        found = []
        for given in drawn.inputs:
            for source in ([given] if isinstance(given, input_class) else sources.get(id(given), [])):
                if all(source is not kept for kept in found):
                    found.append(source)
        sources[id(drawn)] = found
    return sources[id(tensor)]


def standardize_dtype(dtype):
    """Keras' name for ``dtype`` (Keras' ``standardize_dtype``): None is the default float dtype,
    ``"float32"``; a NumPy dtype or scalar type (``np.float64``), a torch or TensorFlow dtype gives
    its name; Python's ``float``, ``int``, ``bool``, ``str``, ``complex`` give ``"float32"``,
    ``"int64"``, ``"bool"``, ``"string"``, ``"complex128"`` (and the string ``"int"``, ``"int64"``).
    Only Keras' names come out (``ALLOWED_DTYPES``): NumPy's other spellings, ``"float"``,
    ``"double"``, ``"f4"``, are refused, as Keras refuses them.

    >>> import numpy as np
    >>> standardize_dtype(None), standardize_dtype(np.float64), standardize_dtype(int), standardize_dtype("bool")
    ('float32', 'float64', 'int64', 'bool')
    """
    if dtype is None:
        return backend.floatx()       # Keras' standardize_dtype(None): floatx, not the dtype policy
    given = dtype
    try:
        dtype = _PYTHON_DTYPES.get(dtype, dtype)
    except TypeError:       # unhashable (a list): no Python type; refused below
        pass
    if hasattr(dtype, "name"):                  # np.dtype("int8"), tf.float32
        dtype = dtype.name
    elif hasattr(dtype, "__name__"):            # np.float64, the scalar types
        dtype = dtype.__name__
    elif "torch" in str(dtype) or "jax.numpy" in str(dtype):     # torch.float16 is named by its str
        dtype = str(dtype).split(".")[-1]
    if not isinstance(dtype, str) or dtype not in ALLOWED_DTYPES:
        raise ValueError(f"standardize_dtype: dtype: expected None, one of {list(ALLOWED_DTYPES)}, a NumPy, torch or "
                         f"TensorFlow dtype of one, or a Python type (float, int, bool, str, complex), got "
                         f"{given!r:.80}")
    return dtype
