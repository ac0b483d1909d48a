"""ONNX forms of glassnet's depthwise, separable and transposed convolutions, and of the layers
that cut, repeat or resize (Cropping, UpSampling, RepeatVector, TimeDistributed); see
glassnet._onnx_ops for the converters' contract. Tensors stay channels-last between layers.

* ``DepthwiseConv1D/2D``: ONNX Conv with ``group = C`` (one group a channel), the kernel (*k, C,
  M) as (C M, 1, *k): output channel c M + m is channel c's m-th filter, Keras' order.
  ``SeparableConv1D/2D``: that, then the pointwise kernel as a 1x1 Conv, then the bias. float64
  (onnxruntime runs no float64 Conv): the depthwise product as window slices (each offset's
  slice times its (C, M) weights), the pointwise one as a MatMul.
* ``Conv1D/2D/3DTranspose``: ONNX ConvTranspose, the kernel (*k, out, in) as (in, out, *k); its
  ``pads`` and ``output_padding`` are worked out from the layer's own output size, with Keras'
  (TensorFlow's) placement: "same" crops ``(k - s) // 2`` before (the gradient of a "same"
  convolution over the output's size), a larger output than ``(n - 1) s + k`` grows after.
  float32 only (refused by name in float64).
* ``UpSampling2D(interpolation="bilinear")``: Resize, ``mode="linear"`` with half-pixel centres
  (``coordinate_transformation_mode="half_pixel"``), TensorFlow's resize that Keras uses, on the
  two spatial axes of the channels-last tensor. ``UpSampling1D/3D`` and nearest: each value
  repeated exactly (Reshape, Expand, Reshape).
"""
import numpy as np

from . import _onnx_windows as windows
from . import layers as layers_module
from ._onnx_layers import _channels_first, _padding, _spatial, _static, _to_channels_first, _to_channels_last
from ._onnx_ops import Unsupported, apply_activation


def _depthwise_weight(kernel):
    """(*k, C, M) -> ONNX's (C M, 1, *k) for ``group = C``."""
    dims = kernel.ndim - 2
    flat = np.reshape(kernel, (*kernel.shape[:dims], -1))
    return np.expand_dims(np.transpose(flat, (dims, *range(dims))), 1)


def _depthwise_part(b, layer, x, shape, kernel):
    """The depthwise convolution of ``x`` (channels last), without bias or activation, channels last."""
    rank, dims = len(shape) + 1, kernel.ndim - 2
    strides, dilation = list(layer.strides), list(layer.dilation_rate or (1,) * dims)
    padding = _padding(layer, _spatial(layer, shape), kernel.shape[:dims], strides, dilation, layer.padding)
    if b.dtype != np.float32:
        if _channels_first(layer):
            raise Unsupported(f"{layer.describe()}: a float64 channels_first depthwise convolution is not exported")
        if "auto_pad" in padding:       # "same" with strides over an open size: pads need the size
            _static(layer, _spatial(layer, shape), f"a {b.dtype} depthwise convolution with padding='same' and "
                                                   f"strides {tuple(strides)} (window slices)")
        return windows.depthwise(b, x, list(_spatial(layer, shape)), kernel, strides, dilation, padding["pads"])
    channels = kernel.shape[-2]
    y = b.op("Conv", [_to_channels_first(b, layer, x, rank), b.const(_depthwise_weight(kernel), "depthwise_kernel")],
             kernel_shape=list(kernel.shape[:dims]), strides=strides, dilations=dilation, group=int(channels),
             **padding)
    return _to_channels_last(b, layer, y, rank)


def _depthwise(b, layer, xs, shapes):
    kernel = np.asarray(layer.params.get("depthwise_kernel", layer.params.get("kernel")))
    y = _depthwise_part(b, layer, xs[0], shapes[0], kernel)
    axis = 1 if _channels_first(layer) else -1
    if "pointwise_kernel" in layer.params:          # SeparableConv: the 1x1 product over the channels
        pointwise = np.asarray(layer.params["pointwise_kernel"])
        pointwise = np.reshape(pointwise, pointwise.shape[-2:])
        if axis == 1:
            rank = len(shapes[0]) + 1
            y = b.op("Transpose", [y], perm=[0, *range(2, rank), 1])
        y = b.op("MatMul", [y, b.const(pointwise, "pointwise_kernel")])
        if axis == 1:
            y = b.op("Transpose", [y], perm=[0, rank - 1, *range(1, rank - 1)])
    if layer.use_bias:
        bias = np.asarray(layer.params["bias"])
        bias = np.reshape(bias, (-1,) + (1,) * (len(shapes[0]) - 1)) if axis == 1 else bias
        y = b.op("Add", [y, b.const(bias, "bias")])
    return apply_activation(b, layer.activation, y, layer.describe())


def _transpose_pads(layer, sizes, outs, kernel, strides, dilation):
    """ConvTranspose's pads (begins, ends) and output_padding giving the layer's output sizes."""
    begins, ends, extra = [], [], []
    for n, want, k, s, d in zip(sizes, outs, kernel, strides, dilation):
        natural = (n - 1) * s + (k - 1) * d + 1
        begin = max(natural - want, 0) // 2 if layer.padding == "same" else 0
        rest = natural - begin - want
        begins.append(begin)
        ends.append(max(rest, 0))
        extra.append(max(-rest, 0))
    return begins + ends, extra


def _conv_transpose(b, layer, xs, shapes):
    who = layer.describe()
    if b.dtype != np.float32:
        raise Unsupported(f"{who}: a transposed convolution is exported for float32 models only (onnxruntime "
                          "has no float64 ConvTranspose)")
    if int(getattr(layer, "groups", 1)) != 1:
        raise Unsupported(f"{who}: groups > 1 is not exported")
    kernel, rank = np.asarray(layer.params["kernel"]), len(shapes[0]) + 1
    dims = rank - 2
    strides, dilation = list(layer.strides), list(layer.dilation_rate or (1,) * dims)
    out = _spatial(layer, layer.output_shape(shapes[0]))
    pads, extra = _transpose_pads(layer, _spatial(layer, shapes[0]), out, kernel.shape[:dims], strides, dilation)
    if any(e >= max(s, d) for e, s, d in zip(extra, strides, dilation)):
        raise Unsupported(f"{who}: output_padding {layer.output_padding!r} has no ONNX ConvTranspose form here")
    # glassnet's kernel (*k, out, in); ONNX's (in, out, *k)
    inputs = [_to_channels_first(b, layer, xs[0], rank),
              b.const(np.transpose(kernel, (dims + 1, dims, *range(dims))), "kernel")]
    if layer.use_bias:
        inputs.append(b.const(layer.params["bias"], "bias"))
    y = b.op("ConvTranspose", inputs, kernel_shape=list(kernel.shape[:dims]), strides=strides, dilations=dilation,
             pads=pads, output_padding=extra)
    return apply_activation(b, layer.activation, _to_channels_last(b, layer, y, rank), who)


def _cropping(b, layer, xs, shapes):
    # a Slice whose ends count back from each axis' end: any size (an Input's None) too
    first = 2 if _channels_first(layer) else 1
    crops = [tuple(c) for c in layer.cropping]
    ends = [-after if after else np.iinfo(np.int64).max for _, after in crops]
    axes = list(range(first, first + len(crops)))
    return b.op("Slice", [xs[0], b.ints([before for before, _ in crops]), b.ints(ends), b.ints(axes)])


def _repeat_vector(b, layer, xs, shapes):
    (features,) = shapes[0]
    y = b.op("Reshape", [xs[0], b.ints([0, 1, features])])
    return b.op("Expand", [y, b.ints([1, layer.n, 1])])           # (batch, n, features)


def _time_distributed(b, layer, xs, shapes):
    from ._onnx_converters import CONVERTERS
    inner, who = layer.layer, layer.describe()
    kind = type(inner).__name__
    wraps_model = getattr(layer, "wrapped_model", None) is not None
    if not wraps_model and (kind not in CONVERTERS or getattr(layers_module, kind, None) is not type(inner)):
        raise Unsupported(f"{who}: the wrapped {kind} has no ONNX form here")
    # a mask of the steps goes no further than the wrapper (glassnet's, Keras'), and those with
    # axes within the steps are refused where they are made (glassnet._onnx_masks.plan)
    b.mask = None
    steps, rest = shapes[0][0], tuple(shapes[0][1:])
    # the steps become the batch (batch * steps, *rest), as glassnet's wrapper computes them; the
    # sizes an Input leaves open (any number of steps) read with Shape when the file runs
    fixed = steps is not None and None not in rest
    merged = b.op("Reshape", [xs[0], b.ints([-1, *rest]) if fixed else
                              b.op("Concat", [b.ints([-1]), b.op("Shape", [xs[0]], start=2)], axis=0)])
    outer, b.folded_steps = b.folded_steps, (*b.folded_steps, steps)     # (a stateful layer's states)
    if wraps_model:
        y, out_shape = _wrapped_model(b, inner, merged, rest, who)
    else:
        y, out_shape = CONVERTERS[kind](b, inner, [merged], [rest]), inner.output_shape(rest)
    b.folded_steps = outer
    if fixed:
        return b.op("Reshape", [y, b.ints([-1, steps, *out_shape])])
    unfolded = b.op("Concat", [b.op("Shape", [xs[0]], start=0, end=2), b.op("Shape", [y], start=1)], axis=0)
    return b.op("Reshape", [y, unfolded])


def _wrapped_model(b, model, x, shape, who):
    """A model's calls (of one input and one output) on ``x`` (batch * steps, *shape), converted
    as the exported model's own (glassnet._onnx_graph.convert_calls): ``(output, its shape)``."""
    from ._onnx_graph import convert_calls
    at = list(getattr(model, "_outputs_at", None) or [len(model._node_layers) - 1])
    inputs = getattr(model, "_input_names", None) or [None]
    if len(at) != 1 or len(inputs) != 1:
        raise Unsupported(f"{who}: a wrapped model of {len(inputs)} inputs and {len(at)} outputs is not exported "
                          "(one of each is)")
    # (an integer Input of the model reads the wrapper's numbers, as glassnet's wrapper hands them)
    outs, out_shapes = convert_calls(b, model, [x], [shape], [b.dtype.name])
    return outs[at[0]], out_shapes[at[0]]


_time_distributed.reads_masks = True       # (and leaves it)


def _spectral_normalization(b, layer, xs, shapes):
    """SpectralNormalization at inference is its layer with the kernel as it stands (the division
    happens in training calls only, glassnet's and Keras'): the wrapped layer's own converter, its
    weights the wrapper's."""
    from ._onnx_converters import CONVERTERS
    inner, who = layer.layer, layer.describe()
    kind = type(inner).__name__
    if kind not in CONVERTERS or getattr(layers_module, kind, None) is not type(inner):
        raise Unsupported(f"{who}: the wrapped {kind} has no ONNX form here")
    if getattr(inner, "mask_zero", False):
        raise Unsupported(f"{who}: a wrapped Embedding with mask_zero=True is not exported (its mask is planned "
                          f"for the wrapper)")
    return CONVERTERS[kind](b, inner, xs, shapes)
CONVERTERS = {
    "DepthwiseConv1D": _depthwise, "DepthwiseConv2D": _depthwise, "SeparableConv1D": _depthwise,
    "SeparableConv2D": _depthwise,
    "Conv1DTranspose": _conv_transpose, "Conv2DTranspose": _conv_transpose, "Conv3DTranspose": _conv_transpose,
    "Cropping1D": _cropping, "Cropping2D": _cropping, "Cropping3D": _cropping,
    "RepeatVector": _repeat_vector, "TimeDistributed": _time_distributed,
    "SpectralNormalization": _spectral_normalization,
}
