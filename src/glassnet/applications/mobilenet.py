"""MobileNet (Howard et al. 2017), Keras 3.15's ``keras.applications.MobileNet``: a 3x3 stem and 13
depthwise-separable blocks of ReLU6, the same layers, names and weight order as Keras'.

    base = MobileNet(input_shape=(128, 128, 3), include_top=False, weights=None, alpha=0.5)
"""
from . import imagenet_utils as iu
from .imagenet_utils import decode_predictions

__all__ = ["MobileNet", "preprocess_input", "decode_predictions"]

_SIZES = (128, 160, 192, 224)                      # the sizes Keras has weights for: the default name's
# (pointwise filters, strides) of blocks 1..13, as Keras lists them
_PLAN = ((64, 1), (128, 2), (128, 1), (256, 2), (256, 1), (512, 2), (512, 1), (512, 1), (512, 1), (512, 1), (512, 1),
         (1024, 2), (1024, 1))


def MobileNet(input_shape=None, alpha=1.0, depth_multiplier=1, dropout=1e-3, include_top=True, weights="imagenet",
              input_tensor=None, pooling=None, classes=1000, classifier_activation="softmax", name=None):
    """Keras' MobileNet: 4.3 M weights at ``alpha=1`` with the top.

    input_shape : (H, W, 3), each side at least 32; default (224, 224, 3) with the top.
    alpha : float > 0, the width multiplier; depth_multiplier : int >= 1, of the depthwise convolutions.
    dropout : the rate of the Dropout before the top's 1x1 convolution ``conv_preds``.

    Returns a ``gn.Model`` named ``mobilenet_{alpha:.2f}_{rows}``, output (n, classes) with the top,
    (n, H/32, W/32, 1024 alpha) without (or (n, 1024 alpha) with ``pooling``).
    """
    from .. import layers
    who = "MobileNet"
    iu.check_weights(weights, who)
    iu.check_pooling(pooling, who)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0:
        raise ValueError(f"{who}: alpha must be a positive number; received alpha={alpha!r}")
    if isinstance(depth_multiplier, bool) or not isinstance(depth_multiplier, int) or depth_multiplier < 1:
        raise ValueError(f"{who}: depth_multiplier must be a positive integer; received {depth_multiplier!r}")
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise ValueError(f"{who}: dropout must be a rate in [0, 1); received dropout={dropout!r}")
    default_size = 224
    if input_shape is not None and len(input_shape) == 3 and input_shape[0] == input_shape[1] \
            and input_shape[0] in _SIZES:
        default_size = input_shape[0]
    img_input, sources = iu.image_input(input_tensor, input_shape, who)
    input_shape = iu.obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                                        data_format="channels_last", require_flatten=include_top)
    rows = input_shape[0]
    if img_input is None:
        img_input = layers.Input(shape=input_shape)

    x = _conv_block(img_input, 32, alpha, strides=(2, 2))
    for block_id, (filters, stride) in enumerate(_PLAN, start=1):
        x = _depthwise_conv_block(x, filters, alpha, depth_multiplier, strides=(stride, stride), block_id=block_id)
    if include_top:
        x = layers.GlobalAveragePooling2D(keepdims=True)(x)
        x = layers.Dropout(dropout, name="dropout")(x)
        x = layers.Conv2D(classes, (1, 1), padding="same", name="conv_preds")(x)
        x = layers.Reshape((classes,), name="reshape_2")(x)
        x = layers.Activation(activation=classifier_activation, name="predictions")(x)
    else:
        x = iu.pool(x, pooling)
    return iu.finish(img_input, sources, x, name or f"mobilenet_{alpha:0.2f}_{rows}", weights)


def _conv_block(inputs, filters, alpha, kernel=(3, 3), strides=(1, 1)):
    """The stem: a 3x3 convolution of ``filters * alpha``, BatchNormalization, ReLU6."""
    from .. import layers
    x = layers.Conv2D(int(filters * alpha), kernel, padding="same", use_bias=False, strides=strides,
                      name="conv1")(inputs)
    x = layers.BatchNormalization(axis=-1, name="conv1_bn")(x)
    return layers.ReLU(6.0, name="conv1_relu")(x)


def _depthwise_conv_block(inputs, pointwise_conv_filters, alpha, depth_multiplier=1, strides=(1, 1), block_id=1):
    """Depthwise 3x3 (strided: padded one pixel right and bottom first, as Keras), then pointwise
    1x1, each with BatchNormalization and ReLU6."""
    from .. import layers
    pointwise_conv_filters = int(pointwise_conv_filters * alpha)
    x = inputs
    if strides != (1, 1):
        x = layers.ZeroPadding2D(((0, 1), (0, 1)), name=f"conv_pad_{block_id}")(inputs)
    x = layers.DepthwiseConv2D((3, 3), padding="same" if strides == (1, 1) else "valid",
                               depth_multiplier=depth_multiplier, strides=strides, use_bias=False,
                               name=f"conv_dw_{block_id}")(x)
    x = layers.BatchNormalization(axis=-1, name=f"conv_dw_{block_id}_bn")(x)
    x = layers.ReLU(6.0, name=f"conv_dw_{block_id}_relu")(x)
    x = layers.Conv2D(pointwise_conv_filters, (1, 1), padding="same", use_bias=False, strides=(1, 1),
                      name=f"conv_pw_{block_id}")(x)
    x = layers.BatchNormalization(axis=-1, name=f"conv_pw_{block_id}_bn")(x)
    return layers.ReLU(6.0, name=f"conv_pw_{block_id}_relu")(x)


def preprocess_input(x, data_format=None):
    """Keras' MobileNet preprocessing ("tf" mode): pixels in [0, 255] to [-1, 1]."""
    return iu.preprocess_input(x, data_format=data_format, mode="tf")
