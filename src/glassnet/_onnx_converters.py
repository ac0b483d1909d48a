"""Every layer's ONNX converter, by layer class name: the families' tables joined
(glassnet._onnx_layers: core, convolution, pooling; glassnet._onnx_recurrent: SimpleRNN, LSTM, GRU,
Bidirectional; glassnet._onnx_rnn: RNN(cell), a cell of your own drawn by glassnet._onnx_cell;
glassnet._onnx_conv_lstm: ConvLSTM1D/2D/3D; glassnet._onnx_shapes: cropping, repeats,
TimeDistributed, SpectralNormalization, transposed and depthwise convolutions, attention; glassnet._onnx_tensor_ops: a
functional model's operation nodes, TensorOp and TensorFunction; glassnet._onnx_attention:
MultiHeadAttention, Attention, ..., EinsumDense; glassnet._onnx_masks: Masking, a call's mask=,
and GlobalAveragePooling1D reading a mask; glassnet._onnx_merge_masks: Maximum, Minimum and
Multiply, reading their inputs' masks or not; glassnet._onnx_preprocessing: the augmentation
layers (identities at inference), Normalization; glassnet._onnx_normalizations: UnitNormalization,
RMSNormalization, GroupNormalization; glassnet._onnx_images: Resizing, CenterCrop, RandomCrop, the
adaptive poolings, UpSampling, DepthToSpace, SpaceToDepth, their resizes by glassnet._onnx_resize)."""
from ._onnx_attention import CONVERTERS as _ATTENTION
from ._onnx_conv_lstm import CONVERTERS as _CONV_LSTM
from ._onnx_images import CONVERTERS as _IMAGES
from ._onnx_layers import CONVERTERS as _CORE
from ._onnx_masks import CONVERTERS as _MASKS
from ._onnx_merge_masks import CONVERTERS as _MERGE_MASKS
from ._onnx_recurrent import CONVERTERS as _RECURRENT
from ._onnx_rnn import CONVERTERS as _RNN
from ._onnx_shapes import CONVERTERS as _SHAPES
from ._onnx_normalizations import CONVERTERS as _NORMALIZATIONS
from ._onnx_preprocessing import CONVERTERS as _PREPROCESSING
from ._onnx_tensor_ops import CONVERTERS as _TENSOR_OPS

CONVERTERS = {**_CORE, **_RECURRENT, **_RNN, **_SHAPES, **_TENSOR_OPS, **_ATTENTION, **_MASKS, **_MERGE_MASKS, **_CONV_LSTM,
              **_PREPROCESSING, **_NORMALIZATIONS, **_IMAGES}
