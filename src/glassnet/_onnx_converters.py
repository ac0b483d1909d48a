"""Every layer's ONNX converter, by layer class name: the families' tables joined
(glassnet._onnx_layers: core, convolution, pooling; glassnet._onnx_recurrent: SimpleRNN, LSTM, GRU,
Bidirectional; glassnet._onnx_shapes: cropping, upsampling, repeats, TimeDistributed, transposed
and depthwise convolutions, attention)."""
from ._onnx_layers import CONVERTERS as _CORE
from ._onnx_recurrent import CONVERTERS as _RECURRENT
from ._onnx_shapes import CONVERTERS as _SHAPES

CONVERTERS = {**_CORE, **_RECURRENT, **_SHAPES}
