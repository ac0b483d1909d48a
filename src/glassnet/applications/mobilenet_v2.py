"""MobileNetV2 (Sandler et al. 2018), Keras 3.15's ``keras.applications.MobileNetV2`` layer for
layer: the same layers, names, weight shapes and order, so ``set_weights(keras_model.get_weights())``
carries a Keras model's weights over.

    base = MobileNetV2(input_shape=(96, 96, 3), include_top=False, weights=None, pooling="avg")
    # base.output_shape == (None, 1280)
"""
from . import imagenet_utils as iu
from .imagenet_utils import decode_predictions

__all__ = ["MobileNetV2", "preprocess_input", "decode_predictions"]

_SIZES = (96, 128, 160, 192, 224)                 # the sizes Keras has weights for: the default name's


def MobileNetV2(input_shape=None, alpha=1.0, include_top=True, weights="imagenet", input_tensor=None, pooling=None,
                classes=1000, classifier_activation="softmax", name=None):
    """Keras' MobileNetV2: inverted residual blocks of ReLU6, 3.5 M weights at ``alpha=1``.

    input_shape : (H, W, 3), each side at least 32; default (224, 224, 3) with the top, (None, None, 3) without.
    alpha : float > 0, the width multiplier (Keras' ImageNet weights exist for 0.35, 0.5, 0.75, 1.0,
        1.3, 1.4; any positive value builds).
    weights : None or the path of a glassnet weights file (``"imagenet"``, Keras' default, is refused).

    Returns a ``gn.Model`` named ``mobilenetv2_{alpha:.2f}_{rows}``, output (n, classes) with the top,
    (n, H/32, W/32, 1280) without (or (n, 1280) with ``pooling``).
    """
    from .. import layers
    who = "MobileNetV2"
    iu.check_weights(weights, who)
    iu.check_pooling(pooling, who)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not alpha > 0:
        raise ValueError(f"{who}: alpha must be a positive number; received alpha={alpha!r}")
    shape = iu.tensor_shape(input_tensor, input_shape)
    rows, cols = (shape[0], shape[1]) if shape is not None and len(shape) == 3 else (None, None)
    default_size = rows if rows == cols and rows in _SIZES else 224
    img_input, sources = iu.image_input(input_tensor, input_shape, who)
    # as Keras, the shape of the model's input is input_shape's (or its default), not input_tensor's
    input_shape = iu.obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                                        data_format="channels_last", require_flatten=include_top)
    rows = input_shape[0]
    if input_tensor is None:
        img_input = layers.Input(shape=input_shape)

    x = layers.Conv2D(_make_divisible(32 * alpha, 8), kernel_size=3, strides=(2, 2), padding="same", use_bias=False,
                      name="Conv1")(img_input)
    x = layers.BatchNormalization(axis=-1, epsilon=1e-3, momentum=0.999, name="bn_Conv1")(x)
    x = layers.ReLU(6.0, name="Conv1_relu")(x)
    # (filters, stride, expansion) of blocks 0..16, as Keras lists them
    plan = ([(16, 1, 1), (24, 2, 6), (24, 1, 6), (32, 2, 6), (32, 1, 6), (32, 1, 6)]
            + [(64, 2, 6)] + [(64, 1, 6)] * 3 + [(96, 1, 6)] * 3 + [(160, 2, 6)] + [(160, 1, 6)] * 2 + [(320, 1, 6)])
    for block_id, (filters, stride, expansion) in enumerate(plan):
        x = _inverted_res_block(x, expansion=expansion, stride=stride, alpha=alpha, filters=filters,
                                block_id=block_id)
    # no alpha on the last convolution below 1 (the paper's choice, Keras')
    last_block_filters = _make_divisible(1280 * alpha, 8) if alpha > 1.0 else 1280
    x = layers.Conv2D(last_block_filters, kernel_size=1, use_bias=False, name="Conv_1")(x)
    x = layers.BatchNormalization(axis=-1, epsilon=1e-3, momentum=0.999, name="Conv_1_bn")(x)
    x = layers.ReLU(6.0, name="out_relu")(x)
    if include_top:
        x = layers.GlobalAveragePooling2D()(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = iu.pool(x, pooling)
    return iu.finish(img_input, sources, x, name or f"mobilenetv2_{alpha:0.2f}_{rows}", weights)


def _inverted_res_block(inputs, expansion, stride, alpha, filters, block_id):
    """Expand (1x1, except block 0), depthwise 3x3, project (1x1, linear); a residual Add when the
    shapes allow it."""
    from .. import layers
    in_channels = inputs.shape[-1]
    pointwise_filters = _make_divisible(int(filters * alpha), 8)
    x = inputs
    prefix = f"block_{block_id}_"
    if block_id:
        x = layers.Conv2D(expansion * in_channels, kernel_size=1, padding="same", use_bias=False, activation=None,
                          name=f"{prefix}expand")(x)
        x = layers.BatchNormalization(axis=-1, epsilon=1e-3, momentum=0.999, name=f"{prefix}expand_BN")(x)
        x = layers.ReLU(6.0, name=f"{prefix}expand_relu")(x)
    else:
        prefix = "expanded_conv_"
    if stride == 2:
        x = layers.ZeroPadding2D(padding=iu.correct_pad(x, 3), name=f"{prefix}pad")(x)
    x = layers.DepthwiseConv2D(kernel_size=3, strides=stride, activation=None, use_bias=False,
                               padding="same" if stride == 1 else "valid", name=f"{prefix}depthwise")(x)
    x = layers.BatchNormalization(axis=-1, epsilon=1e-3, momentum=0.999, name=f"{prefix}depthwise_BN")(x)
    x = layers.ReLU(6.0, name=f"{prefix}depthwise_relu")(x)
    x = layers.Conv2D(pointwise_filters, kernel_size=1, padding="same", use_bias=False, activation=None,
                      name=f"{prefix}project")(x)
    x = layers.BatchNormalization(axis=-1, epsilon=1e-3, momentum=0.999, name=f"{prefix}project_BN")(x)
    if in_channels == pointwise_filters and stride == 1:
        return layers.Add(name=f"{prefix}add")([inputs, x])
    return x


def _make_divisible(v, divisor, min_value=None):
    """``v`` rounded to a multiple of ``divisor`` (at least ``min_value``), never more than 10% down."""
    if min_value is None:
        min_value = divisor
    new_v = max(min_value, int(v + divisor / 2) // divisor * divisor)
    if new_v < 0.9 * v:
        new_v += divisor
    return new_v


def preprocess_input(x, data_format=None):
    """Keras' MobileNetV2 preprocessing: pixels in [0, 255] to [-1, 1] ("tf" mode)."""
    return iu.preprocess_input(x, data_format=data_format, mode="tf")
