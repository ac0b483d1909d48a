"""keras.ops' convolutions and poolings for ``glassnet.ops`` (which re-exports them): conv,
depthwise_conv, separable_conv, conv_transpose, max_pool, average_pool; and ``ops.image``'s
extract_patches (_ops_image.py) on the same nodes.

On arrays each computes at once (channels last unless ``data_format="channels_first"``; 1 to 3
spatial axes, depthwise and separable 1 or 2): floats keep their dtype (a float32 input and a
float64 kernel give float64, where Keras 3.15 on TensorFlow refuses the mix); integer inputs of the
convolutions are computed in float64 and given back in their integer dtype (Keras' int32); the
poolings give integers float32 (Keras' 2-D max_pool does), but a 1-D max_pool keeps them (Keras'
does). On a tensor each makes one
``TensorFunction`` node (layers/tensor_conv.py) whose kernel is a constant array or a weight made
by ``add_weight`` in a drawn call (it trains: ``ops.conv(x, self.kernel)``); ``separable_conv`` is
two nodes, depthwise then a 1x1 conv, as TensorFlow's ``separable_conv2d`` computes it.
"""
import numpy as np

from . import _tape_state
from ._call_weights import is_weight
from ._ops_reading import _array, _is_tensor
from .layers import tensor_conv
from .layers.tensor_functions import TensorFunction


def _kernel_node(op, x, kernel, arguments):
    """``op`` of ``x`` and ``kernel``: a node on a tensor, the value on arrays."""
    if _tape_state.recording() and _tape_state.holds_recorded([x, kernel]):
        from .tape import record_conv           # a GradientTape records it (glassnet.tape)
        return record_conv(op, x, kernel, arguments)
    if _is_tensor(kernel):
        raise TypeError(f"ops.{op}: kernel is a tensor of a model being drawn (it would carry a batch axis); give an "
                        f"array, or a weight made by self.add_weight in build (it trains)")
    if _is_tensor(x):
        constant = kernel if is_weight(kernel) else _array(kernel, "kernel", op)
        if not is_weight(kernel) and constant.dtype.kind not in "iuf":
            raise TypeError(f"ops.{op}: kernel must hold numbers, got an array of {constant.dtype}")
        return TensorFunction(op, arguments, constant=constant)(x)
    if is_weight(kernel):
        raise TypeError(f"ops.{op}: kernel is a weight of a model drawn from call ({kernel!r}) but inputs is not a "
                        f"tensor of that call; numpy() gives the weight's value now")
    array, weights = _array(x, "inputs", op), _array(kernel, "kernel", op)
    for name, value in (("inputs", array), ("kernel", weights)):
        if value.dtype.kind not in "iuf":
            raise TypeError(f"ops.{op}: {name} must hold numbers (integers or floats), got an array of {value.dtype}")
    dtype = np.result_type(array, weights)
    work = dtype if dtype.kind == "f" else np.float64          # integers: exact sums in float64
    who = f"ops.{op}"
    y, _ = tensor_conv.forward(op, tensor_conv.arguments(op, {**tensor_conv.ARGUMENTS[op], **arguments}, who),
                               array.astype(work, copy=False), weights.astype(work, copy=False), who)
    return y if dtype.kind == "f" else np.rint(y).astype(dtype)


def _window_node(op, x, arguments, dtype=None):
    """A pooling (or extract_patches) of ``x``: a node on a tensor, the value on arrays."""
    if _tape_state.recording() and _tape_state.holds_recorded([x]):
        from .tape import record_conv
        return record_conv(op, x, None, arguments)
    if _is_tensor(x):
        return TensorFunction(op, arguments)(x)
    array = _array(x, "inputs" if op != "extract_patches" else "images", op)
    keep = None
    if op == "max_pool" and array.ndim == 3 and array.dtype.kind in "iu":
        # Keras 3.15 on TensorFlow keeps the integer dtype of a 1-D max_pool (TensorFlow's 2-D
        # one gives float32): the largest value, exact in float64, given back as that integer
        keep, array = array.dtype, array.astype(np.float64)
    elif dtype is not None and array.dtype.kind != "f":
        array = array.astype(dtype)
    who = f"ops.{op}"
    args = tensor_conv.arguments(op, {**tensor_conv.ARGUMENTS[op], **arguments}, who)
    y = tensor_conv.forward(op, args, array, None, who)[0]
    return y if keep is None else y.astype(keep)


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """The N-D convolution (Keras' ``ops.conv``, TensorFlow's padding: "same" puts the odd pixel after).

    inputs : (batch, *spatial, C), 1 to 3 spatial axes; kernel : (*window, C, filters).
    Returns (batch, *output spatial, filters).

    >>> conv(np.ones((1, 4, 1), "float32"), np.ones((2, 1, 1), "float32")).ravel().tolist()
    [2.0, 2.0, 2.0]
    """
    return _kernel_node("conv", inputs, kernel, {"strides": strides, "padding": padding, "data_format": data_format,
                                                 "dilation_rate": dilation_rate})


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """Each channel convolved on its own (Keras' ``ops.depthwise_conv``): inputs (batch, *spatial, C)
    (1 or 2 spatial axes), kernel (*window, C, multiplier) -> (batch, *output spatial, C * multiplier),
    output channel ``c * multiplier + m`` from channel c's kernel m."""
    return _kernel_node("depthwise_conv", inputs, kernel, {"strides": strides, "padding": padding,
                                                           "data_format": data_format, "dilation_rate": dilation_rate})


def separable_conv(inputs, depthwise_kernel, pointwise_kernel, strides=1, padding="valid", data_format=None,
                   dilation_rate=1):
    """A depthwise convolution then a 1x1 one mixing the channels (Keras' ``ops.separable_conv``):
    depthwise_kernel (*window, C, multiplier), pointwise_kernel (1, [1,] C * multiplier, filters) ->
    (batch, *output spatial, filters). On tensors two nodes, each kernel a constant or a weight."""
    depthwise = depthwise_conv(inputs, depthwise_kernel, strides, padding, data_format, dilation_rate)
    return conv(depthwise, pointwise_kernel, 1, "valid", data_format, 1)


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    """The transposed convolution (Keras' ``ops.conv_transpose``): inputs (batch, *spatial, C), kernel
    (*window, filters, C) -> (batch, *spatial', filters), each length Keras' ("valid": ``(n - 1) * s
    + max(k, s)``, "same": ``n * s``; with ``output_padding`` p, ``(n - 1) * s + k + p`` or ``(n - 1) * s
    + k % 2 + p``). ``dilation_rate`` > 1 is refused by name (not implemented)."""
    return _kernel_node("conv_transpose", inputs, kernel, {
        "strides": strides, "padding": padding, "output_padding": output_padding, "data_format": data_format,
        "dilation_rate": dilation_rate})


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """The largest value of each window (Keras' ``ops.max_pool``): (batch, *spatial, C) ->
    (batch, *output spatial, C), ``strides`` None: ``pool_size``; "same" padding never wins. Ties
    give the gradient to the first in the window."""
    return _window_node("max_pool", inputs, {"pool_size": pool_size, "strides": strides, "padding": padding,
                                             "data_format": data_format}, np.float32)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """The mean of each window (Keras' ``ops.average_pool``): (batch, *spatial, C) ->
    (batch, *output spatial, C), ``strides`` None: ``pool_size``; "same" padding not counted."""
    return _window_node("average_pool", inputs, {"pool_size": pool_size, "strides": strides, "padding": padding,
                                                 "data_format": data_format}, np.float32)
