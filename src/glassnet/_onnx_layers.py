"""ONNX forms of glassnet's layers, by family (see glassnet._onnx_ops for the converters' contract).

``CONVERTERS`` maps a layer class's name to ``convert(b, layer, xs, shapes) -> name``: ``xs`` the
names of the call's input tensors, ``shapes`` their sample shapes (no batch axis). A layer is
converted only when its class is glassnet's own of that name (a subclass may compute otherwise).
"""
import numpy as np

from . import _onnx_masks as masks
from . import _onnx_proto as proto
from . import _onnx_windows as windows
from ._onnx_ops import Unsupported, apply_activation


def _axes(axis, rank, who):
    """``axis`` (an int or a list, negative or not; over the sample's ``rank`` + 1 axes with the
    batch's) as sorted non-negative full-rank axes, none of them the batch's."""
    axes = sorted(a % (rank + 1) for a in ([axis] if isinstance(axis, int) else axis))
    if 0 in axes:
        raise Unsupported(f"{who}: axis {axis!r} includes the batch axis; export keeps the batch free")
    return axes


def _broadcast(weight, sample_shape, axes):
    """``weight`` (the shape of the input's ``axes``) reshaped to broadcast over a sample."""
    shape = [sample_shape[a - 1] if a in axes else 1 for a in range(1, len(sample_shape) + 1)]
    return np.reshape(weight, shape)


def _dense(b, layer, xs, shapes):
    y = b.op("MatMul", [xs[0], b.const(layer.params["kernel"], "kernel")])
    if layer.use_bias:
        y = b.op("Add", [y, b.const(layer.params["bias"], "bias")])
    return apply_activation(b, layer.activation, y, layer.describe())


def _activation(b, layer, xs, shapes):
    return apply_activation(b, layer.activation, xs[0], layer.describe())


def _identity(b, layer, xs, shapes):
    return b.op("Identity", xs)


def _leaky(b, layer, xs, shapes):
    x = xs[0]
    return b.op("Where", [b.op("Greater", [x, b.const(0.0)]), x, b.op("Mul", [x, b.const(layer.negative_slope)])])


def _prelu(b, layer, xs, shapes):
    """``max(x, 0) + alpha min(x, 0)``, glassnet's forward (alpha of the sample's shape, 1 on the
    shared axes: it broadcasts as there)."""
    zero = b.const(0.0)
    negative = b.op("Mul", [b.const(layer.params["alpha"], "alpha"), b.op("Min", [xs[0], zero])])
    return b.op("Add", [b.op("Max", [xs[0], zero]), negative])


def _relu_layer(b, layer, xs, shapes):
    x, slope, threshold = xs[0], layer.negative_slope, layer.threshold
    if not slope and not threshold:
        y = b.op("Relu", xs)
        return y if layer.max_value is None else b.op("Min", [y, b.const(layer.max_value)])
    if layer.max_value is None and not threshold:          # Keras' leaky relu
        return _leaky(b, layer, xs, shapes)
    # glassnet's forward: x (x > threshold), clipped to [0, max_value], less slope max(threshold - x, 0)
    zero = b.const(0.0)
    y = b.op("Mul", [x, b.op("Cast", [b.op("Greater", [x, b.const(threshold)])], to=proto.ELEM_TYPES[b.dtype])]) if threshold \
        else b.op("Max", [x, zero])
    if layer.max_value is not None:
        y = b.op("Min", [b.op("Max", [y, zero]), b.const(layer.max_value)])
    if slope:
        below = b.op("Max", [b.op("Sub", [b.const(threshold), x]), zero])
        y = b.op("Sub", [y, b.op("Mul", [b.const(slope), below])])
    return y


def _elu_layer(b, layer, xs, shapes):
    from ._onnx_ops import _elu
    return _elu(b, xs[0], alpha=layer.alpha)


def _softmax_layer(b, layer, xs, shapes):
    axes = _axes(layer.axis, len(shapes[0]), layer.describe())
    if len(axes) == 1:
        return b.op("Softmax", xs, axis=axes[0])
    # over several axes as glassnet's forward: exp(x - max) / sum, both over the axes
    e = b.op("Exp", [b.op("Sub", [xs[0], b.op("ReduceMax", xs, axes=axes, keepdims=1)])])
    return b.op("Div", [e, b.op("ReduceSum", [e, b.ints(axes)], keepdims=1)])


def _batch_norm(b, layer, xs, shapes):
    if getattr(layer, "renorm", False):
        pass            # inference reads the moving statistics as without renorm (see its docstring)
    axes = _axes(layer.axis, len(shapes[0]), layer.describe())
    mean = np.asarray(layer.state["moving_mean"], np.float64)
    inv = 1.0 / np.sqrt(np.asarray(layer.state["moving_variance"], np.float64) + layer.epsilon)
    y = b.op("Sub", [xs[0], b.const(_broadcast(mean, shapes[0], axes), "moving_mean")])
    scale = inv * np.asarray(layer.params["gamma"], np.float64) if layer.scale else inv
    y = b.op("Mul", [y, b.const(_broadcast(scale, shapes[0], axes), "scale")])
    if layer.center:
        y = b.op("Add", [y, b.const(_broadcast(layer.params["beta"], shapes[0], axes), "beta")])
    return y


def _layer_norm(b, layer, xs, shapes):
    axes, x = _axes(layer.axis, len(shapes[0]), layer.describe()), xs[0]
    centred = b.op("Sub", [x, b.op("ReduceMean", [x], axes=axes, keepdims=1)])
    variance = b.op("ReduceMean", [b.op("Mul", [centred, centred])], axes=axes, keepdims=1)
    # rms_scaling (Keras' deprecated option): x itself, not centred, over the standard deviation
    y = b.op("Div", [x if layer.rms_scaling else centred,
                     b.op("Sqrt", [b.op("Add", [variance, b.const(layer.epsilon)])])])
    if layer._has_gamma:          # (rms_scaling always scales and never shifts: Keras')
        y = b.op("Mul", [y, b.const(_broadcast(layer.params["gamma"], shapes[0], axes), "gamma")])
    if layer._has_beta:
        y = b.op("Add", [y, b.const(_broadcast(layer.params["beta"], shapes[0], axes), "beta")])
    return y


def _channels_first(layer):
    return getattr(layer, "data_format", "channels_last") == "channels_first"


def _flatten(b, layer, xs, shapes):
    if _channels_first(layer) and len(shapes[0]) > 1:
        # Keras' channels_first Flatten moves the channels last first
        rank = len(shapes[0]) + 1
        xs = [b.op("Transpose", xs, perm=[0, *range(2, rank), 1])]
    return b.op("Flatten", xs, axis=1)


def _reshape(b, layer, xs, shapes):
    # 0 copies the batch size from the input (allowzero=0, the default)
    return b.op("Reshape", [xs[0], b.ints([0, *layer.target_shape])])


def _permute(b, layer, xs, shapes):
    return b.op("Transpose", xs, perm=[0, *layer.dims])


def _rescaling(b, layer, xs, shapes):
    y = b.op("Mul", [xs[0], b.const(np.asarray(layer.scale, np.float64), "scale")])
    return b.op("Add", [y, b.const(np.asarray(layer.offset, np.float64), "offset")])


def _same_rank(b, xs, shapes):
    """The merge's inputs with as many axes each: one of fewer axes gets axes of size 1 after the
    batch's, Keras' ``expand_dims(x, axis=1)`` (glassnet's merges too); ONNX's broadcasting would
    put them first, before the batch's, and mix samples up (or refuse other batch sizes)."""
    rank = max(len(shape) for shape in shapes)
    return [x if len(shape) == rank else b.op("Unsqueeze", [x, b.ints(list(range(1, 1 + rank - len(shape))))])
            for x, shape in zip(xs, shapes)]


def _chain(op):
    def convert(b, layer, xs, shapes):
        xs = _same_rank(b, xs, shapes)
        y = xs[0]
        for x in xs[1:]:
            y = b.op(op, [y, x])
        return y
    return convert


def _average(b, layer, xs, shapes):
    return b.op("Div", [_chain("Add")(b, layer, xs, shapes), b.const(float(len(xs)))])


def _concatenate(b, layer, xs, shapes):
    axes = _axes(layer.axis, len(shapes[0]), layer.describe())
    return b.op("Concat", xs, axis=axes[0])


def _embedding(b, layer, xs, shapes):
    ids = b.op("Cast", xs, to=7)        # TensorProto.INT64
    if id(layer) in b.masks:            # mask_zero=True, and a layer after it reads the mask
        b.masks[id(layer)] = masks.embedding_mask(b, ids)
    return b.op("Gather", [b.const(layer.params["embeddings"], "embeddings"), ids], axis=0)


def _reversible_embedding(b, layer, xs, shapes):
    """ReversibleEmbedding: the lookup (``Embedding``'s Gather), or in a call with
    ``reverse=True`` (set on the layer while it is converted) the logits ``x @ W`` (W the table's
    transpose, or ``reverse_embeddings`` untied), ``c tanh(logits / c)`` with ``logit_soft_cap``."""
    if not layer.reverse:
        return _embedding(b, layer, xs, shapes)
    logits = b.op("MatMul", [xs[0], b.const(layer._reverse_kernel(), "reverse_kernel")])
    if layer.logit_soft_cap is None:
        return logits
    cap = b.const(layer.logit_soft_cap, "logit_soft_cap")
    return b.op("Mul", [b.op("Tanh", [b.op("Div", [logits, cap])]), cap])


_reversible_embedding.call_options = ("reverse",)
_reversible_embedding.sets_call_arguments = True          # (set on the layer: glassnet._onnx_graph)


def _to_channels_first(b, layer, x, rank):
    """``x`` (rank axes with the batch's) in NCHW order for an ONNX Conv/Pool node."""
    return x if _channels_first(layer) else b.op("Transpose", [x], perm=[0, rank - 1, *range(1, rank - 1)])


def _to_channels_last(b, layer, x, rank):
    return x if _channels_first(layer) else b.op("Transpose", [x], perm=[0, *range(2, rank), 1])


def _spatial(layer, shape):
    return shape[1:] if _channels_first(layer) else shape[:-1]


def _static(layer, sizes, why):
    """``sizes`` (spatial sizes), refused by name where one is None (an Input's open axis, such as
    a sequence's length) and the nodes need it: ``why`` says which setting does."""
    if any(n is None for n in sizes):
        raise Unsupported(f"{layer.describe()}: {why} is exported for inputs of fixed sizes only, got the spatial "
                          f"sizes {tuple(sizes)} (None: any size)")
    return sizes


def _pads(layer, sizes, kernel, strides, dilation, padding):
    """ONNX ``pads`` (all begins, then all ends) for Keras' ``padding``: "same" puts the odd
    pixel after, as TensorFlow does; "causal" pads (k - 1) d before."""
    begins, ends = [], []
    for n, k, s, d in zip(sizes, kernel, strides, dilation):
        span = (k - 1) * d + 1
        if padding == "same":
            if n is None and s != 1:
                _static(layer, sizes, f"padding='same' with strides {tuple(strides)}")
            # strides 1 pad span - 1 in all, whatever the size (an open axis: n None)
            total = span - 1 if s == 1 else max((-(-n // s) - 1) * s + span - n, 0)
            begins.append(total // 2)
            ends.append(total - total // 2)
        elif padding == "causal":
            begins.append(span - 1)
            ends.append(0)
        elif padding == "valid":
            begins.append(0)
            ends.append(0)
        else:
            raise Unsupported(f"{layer.describe()}: padding {padding!r} is not exported")
    return begins + ends


def _padding(layer, sizes, kernel, strides, dilation, padding):
    """A node's padding attributes: ``pads`` spelled out, or ``auto_pad="SAME_UPPER"`` for
    "same" with strides over an open size (None), whose padding ONNX then works out from the
    size it runs: its odd pixel after, as TensorFlow's (and so Keras') "same"."""
    if padding == "same" and any(n is None and s != 1 for n, s in zip(sizes, strides)):
        return {"auto_pad": "SAME_UPPER"}
    return {"pads": _pads(layer, sizes, kernel, strides, dilation, padding)}


def _conv(b, layer, xs, shapes):
    rank, kernel = len(shapes[0]) + 1, np.asarray(layer.params["kernel"])
    dims = rank - 2
    if b.dtype != np.float32:
        return apply_activation(b, layer.activation, _sliced_conv(b, layer, xs[0], shapes[0], kernel), layer.describe())
    x = _to_channels_first(b, layer, xs[0], rank)
    # glassnet's kernel (*k, in / groups, out); ONNX's (out, in / groups, *k)
    weight = b.const(np.transpose(kernel, (dims + 1, dims, *range(dims))), "kernel")
    inputs = [x, weight] + ([b.const(layer.params["bias"], "bias")] if layer.use_bias else [])
    strides, dilation = list(layer.strides), list(layer.dilation_rate)
    y = b.op("Conv", inputs, kernel_shape=list(kernel.shape[:dims]), strides=strides, dilations=dilation,
             group=int(getattr(layer, "groups", 1)),
             **_padding(layer, _spatial(layer, shapes[0]), kernel.shape[:dims], strides, dilation, layer.padding))
    return apply_activation(b, layer.activation, _to_channels_last(b, layer, y, rank), layer.describe())


def _sliced_conv(b, layer, x, shape, kernel):
    """The convolution as window slices (glassnet._onnx_windows): onnxruntime runs no float64 Conv."""
    rank, dims = len(shape) + 1, kernel.ndim - 2
    if int(getattr(layer, "groups", 1)) != 1:
        raise Unsupported(f"{layer.describe()}: groups > 1 is exported for float32 models only")
    strides, dilation = list(layer.strides), list(layer.dilation_rate)
    # (any size: the slices' ends are counted from the axis' end; "same" with strides over an open
    # size, whose pads need the size, is refused by _pads)
    pads = _pads(layer, _spatial(layer, shape), kernel.shape[:dims], strides, dilation, layer.padding)
    if _channels_first(layer):
        x = b.op("Transpose", [x], perm=[0, *range(2, rank), 1])
    y = windows.conv(b, x, list(_spatial(layer, shape)), kernel, layer.params["bias"] if layer.use_bias else None,
                     strides, dilation, pads)
    return b.op("Transpose", [y], perm=[0, rank - 1, *range(1, rank - 1)]) if _channels_first(layer) else y


def _pool(op):
    def convert(b, layer, xs, shapes):
        rank = len(shapes[0]) + 1
        pool, strides = list(layer.pool_size), list(layer.strides)
        padding = _padding(layer, _spatial(layer, shapes[0]), pool, strides, [1] * len(pool), layer.padding)
        if op == "AveragePool" and b.dtype != np.float32:        # no float64 AveragePool in onnxruntime
            if "auto_pad" in padding:           # "same" with strides over an open size: pads need the size
                _static(layer, _spatial(layer, shapes[0]), f"a {b.dtype} average pooling with padding='same' and "
                                                           f"strides {tuple(strides)} (window slices)")
            pads = padding["pads"]
            x = b.op("Transpose", xs, perm=[0, *range(2, rank), 1]) if _channels_first(layer) else xs[0]
            y = windows.average_pool(b, x, list(_spatial(layer, shapes[0])), pool, strides, pads)
            return b.op("Transpose", [y], perm=[0, rank - 1, *range(1, rank - 1)]) if _channels_first(layer) else y
        x = _to_channels_first(b, layer, xs[0], rank)
        sizes = _spatial(layer, shapes[0])
        if "auto_pad" in padding and any(k < s for k, s in zip(pool, strides)):
            # a window smaller than its stride (on any axis: auto_pad is the node's, for all of
            # them): SAME_UPPER's padding can come out negative there
            y = windows.open_same_pool(b, op, x, list(sizes), pool, strides)
            return _to_channels_last(b, layer, y, rank)
        # AveragePool's count_include_pad=0 (the default): padding is left out of the mean, as Keras
        y = b.op(op, [x], kernel_shape=pool, strides=strides, **padding)
        return _to_channels_last(b, layer, y, rank)
    return convert


def _global_pool(op):
    def convert(b, layer, xs, shapes):
        rank = len(shapes[0]) + 1
        axes = list(range(2, rank)) if _channels_first(layer) else list(range(1, rank - 1))
        return b.op(op, xs, axes=axes, keepdims=int(bool(getattr(layer, "keepdims", False))))
    return convert


def _zero_padding(b, layer, xs, shapes):
    rank = len(shapes[0]) + 1
    padding = [tuple(p) for p in np.reshape(np.asarray(layer.padding, np.int64), (rank - 2, 2))]
    begins, ends = [p[0] for p in padding], [p[1] for p in padding]
    if _channels_first(layer):
        pads = [0, 0, *begins, 0, 0, *ends]
    else:
        pads = [0, *begins, 0, 0, *ends, 0]
    return b.op("Pad", [xs[0], b.ints(pads)], mode="constant")


CONVERTERS = {
    "Dense": _dense, "Activation": _activation, "LeakyReLU": _leaky, "ReLU": _relu_layer, "PReLU": _prelu, "ELU": _elu_layer,
    "Softmax": _softmax_layer,
    "Dropout": _identity, "SpatialDropout1D": _identity, "SpatialDropout2D": _identity,
    "SpatialDropout3D": _identity, "GaussianNoise": _identity, "GaussianDropout": _identity,
    "AlphaDropout": _identity, "ActivityRegularization": _identity,
    "BatchNormalization": _batch_norm, "LayerNormalization": _layer_norm,
    "Flatten": _flatten, "Reshape": _reshape, "Permute": _permute, "Rescaling": _rescaling,
    "Add": _chain("Add"), "Subtract": _chain("Sub"), "Multiply": _chain("Mul"), "Maximum": _chain("Max"),
    "Minimum": _chain("Min"), "Average": _average, "Concatenate": _concatenate,
    "Embedding": _embedding, "ReversibleEmbedding": _reversible_embedding,
    "Conv1D": _conv, "Conv2D": _conv, "Conv3D": _conv,
    "MaxPooling1D": _pool("MaxPool"), "MaxPooling2D": _pool("MaxPool"), "MaxPooling3D": _pool("MaxPool"),
    "AveragePooling1D": _pool("AveragePool"), "AveragePooling2D": _pool("AveragePool"),
    "AveragePooling3D": _pool("AveragePool"),
    "GlobalAveragePooling1D": _global_pool("ReduceMean"), "GlobalAveragePooling2D": _global_pool("ReduceMean"),
    "GlobalAveragePooling3D": _global_pool("ReduceMean"),
    "GlobalMaxPooling1D": _global_pool("ReduceMax"), "GlobalMaxPooling2D": _global_pool("ReduceMax"),
    "GlobalMaxPooling3D": _global_pool("ReduceMax"),
    "ZeroPadding1D": _zero_padding, "ZeroPadding2D": _zero_padding, "ZeroPadding3D": _zero_padding,
}
