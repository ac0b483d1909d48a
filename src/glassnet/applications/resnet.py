"""ResNet50, ResNet101, ResNet152 (He et al. 2015), Keras 3.15's ``keras.applications.resnet``:
one ``ResNet`` builder and its residual blocks (v1 here, v2's pre-activation blocks for
``resnet_v2``), the same layers, names and weight order as Keras'.

    base = ResNet50(input_shape=(64, 64, 3), include_top=False, weights=None, pooling="avg")
    # base.output_shape == (None, 2048)
"""
from . import imagenet_utils as iu
from .imagenet_utils import decode_predictions

__all__ = ["ResNet50", "ResNet101", "ResNet152", "ResNet", "preprocess_input", "decode_predictions"]

_EPS = 1.001e-5                                   # Keras' BatchNormalization epsilon in every ResNet


def ResNet(stack_fn, preact, use_bias, include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
           pooling=None, classes=1000, classifier_activation="softmax", name="resnet", weights_name=None):
    """Keras' common ResNet: a 7x7 stride-2 stem, 3x3 max pooling, ``stack_fn``'s residual stacks,
    then the top or ``pooling``. ``preact`` (ResNetV2) moves the stem's BatchNormalization and ReLU
    after the stacks (``post_bn``, ``post_relu``). ``weights_name`` is Keras' (its download's), unused.

    input_shape : (H, W, 3), each side at least 32; default (224, 224, 3) with the top, (None, None, 3)
        without. Output (n, classes) with the top, else (n, H/32, W/32, 2048) (or (n, 2048) pooled).
    """
    from .. import layers
    iu.check_weights(weights, name)
    iu.check_pooling(pooling, name)
    img_input, sources = iu.image_input(input_tensor, input_shape, name)
    input_shape = iu.obtain_input_shape(input_shape, default_size=224, min_size=32, data_format="channels_last",
                                        require_flatten=include_top)
    if img_input is None:
        img_input = layers.Input(shape=input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)), name="conv1_pad")(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=use_bias, name="conv1_conv")(x)
    if not preact:
        x = layers.BatchNormalization(axis=3, epsilon=_EPS, name="conv1_bn")(x)
        x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name="pool1_pad")(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    x = stack_fn(x)
    if preact:
        x = layers.BatchNormalization(axis=3, epsilon=_EPS, name="post_bn")(x)
        x = layers.Activation("relu", name="post_relu")(x)
    if include_top:
        x = iu.classifier(x, classes, classifier_activation)
    else:
        x = iu.pool(x, pooling, named=True)
    return iu.finish(img_input, sources, x, name, weights)


def residual_block_v1(x, filters, kernel_size=3, stride=1, conv_shortcut=True, name=None):
    """Bottleneck block: 1x1 (strided), 3x3, 1x1 to ``4 * filters``, added to the shortcut (a
    strided 1x1 convolution when ``conv_shortcut``), then ReLU."""
    from .. import layers
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(x)
        shortcut = layers.BatchNormalization(axis=3, epsilon=_EPS, name=f"{name}_0_bn")(shortcut)
    else:
        shortcut = x
    x = layers.Conv2D(filters, 1, strides=stride, name=f"{name}_1_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=_EPS, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.Conv2D(filters, kernel_size, padding="same", name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=_EPS, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=_EPS, name=f"{name}_3_bn")(x)
    x = layers.Add(name=f"{name}_add")([shortcut, x])
    return layers.Activation("relu", name=f"{name}_out")(x)


def stack_residual_blocks_v1(x, filters, blocks, stride1=2, name=None):
    """``blocks`` v1 blocks; the first (stride ``stride1``) with a convolution shortcut."""
    x = residual_block_v1(x, filters, stride=stride1, name=f"{name}_block1")
    for i in range(2, blocks + 1):
        x = residual_block_v1(x, filters, conv_shortcut=False, name=f"{name}_block{i}")
    return x


def residual_block_v2(x, filters, kernel_size=3, stride=1, conv_shortcut=False, name=None):
    """Pre-activation bottleneck (ResNetV2): BatchNormalization and ReLU first, the stride on the
    3x3 convolution, the shortcut a 1x1 convolution, a 1x1 max pooling (stride > 1) or the input."""
    from .. import layers
    preact = layers.BatchNormalization(axis=3, epsilon=_EPS, name=f"{name}_preact_bn")(x)
    preact = layers.Activation("relu", name=f"{name}_preact_relu")(preact)
    if conv_shortcut:
        shortcut = layers.Conv2D(4 * filters, 1, strides=stride, name=f"{name}_0_conv")(preact)
    else:
        shortcut = layers.MaxPooling2D(1, strides=stride)(x) if stride > 1 else x
    x = layers.Conv2D(filters, 1, strides=1, use_bias=False, name=f"{name}_1_conv")(preact)
    x = layers.BatchNormalization(axis=3, epsilon=_EPS, name=f"{name}_1_bn")(x)
    x = layers.Activation("relu", name=f"{name}_1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)), name=f"{name}_2_pad")(x)
    x = layers.Conv2D(filters, kernel_size, strides=stride, use_bias=False, name=f"{name}_2_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=_EPS, name=f"{name}_2_bn")(x)
    x = layers.Activation("relu", name=f"{name}_2_relu")(x)
    x = layers.Conv2D(4 * filters, 1, name=f"{name}_3_conv")(x)
    return layers.Add(name=f"{name}_out")([shortcut, x])


def stack_residual_blocks_v2(x, filters, blocks, stride1=2, name=None):
    """``blocks`` v2 blocks: the first with a convolution shortcut, the last strided ``stride1``."""
    x = residual_block_v2(x, filters, conv_shortcut=True, name=f"{name}_block1")
    for i in range(2, blocks):
        x = residual_block_v2(x, filters, name=f"{name}_block{i}")
    return residual_block_v2(x, filters, stride=stride1, name=f"{name}_block{blocks}")


def _v1(depths, name, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation):
    def stack_fn(x):
        x = stack_residual_blocks_v1(x, 64, depths[0], stride1=1, name="conv2")
        x = stack_residual_blocks_v1(x, 128, depths[1], name="conv3")
        x = stack_residual_blocks_v1(x, 256, depths[2], name="conv4")
        return stack_residual_blocks_v1(x, 512, depths[3], name="conv5")
    return ResNet(stack_fn, preact=False, use_bias=True, include_top=include_top, weights=weights,
                  input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                  classifier_activation=classifier_activation, name=name)


def ResNet50(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name="resnet50"):
    """Keras' ResNet50: stacks of 3, 4, 6, 3 bottleneck blocks, 25.6 M weights with the top."""
    return _v1((3, 4, 6, 3), name, include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation)


def ResNet101(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name="resnet101"):
    """Keras' ResNet101: stacks of 3, 4, 23, 3 bottleneck blocks."""
    return _v1((3, 4, 23, 3), name, include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation)


def ResNet152(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
              classifier_activation="softmax", name="resnet152"):
    """Keras' ResNet152: stacks of 3, 8, 36, 3 bottleneck blocks."""
    return _v1((3, 8, 36, 3), name, include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation)


def preprocess_input(x, data_format=None):
    """Keras' ResNet preprocessing ("caffe" mode): RGB to BGR, minus ImageNet's mean pixel, no scaling."""
    return iu.preprocess_input(x, data_format=data_format, mode="caffe")
