"""Xception (Chollet 2017), Keras 3.15's ``keras.applications.Xception``: depthwise separable
convolutions in residual stages (entry flow: blocks 2-4, middle flow: blocks 5-12, exit flow:
blocks 13-14), the same layers, names and weight order as Keras', so
``set_weights(keras_model.get_weights())`` carries a Keras model's weights over.

    base = Xception(input_shape=(71, 71, 3), include_top=False, weights=None, pooling="avg")
    # base.output_shape == (None, 2048)
"""
from . import imagenet_utils as iu
from .imagenet_utils import decode_predictions

__all__ = ["Xception", "preprocess_input", "decode_predictions"]


def Xception(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
             classifier_activation="softmax", name="xception"):
    """Keras' Xception: 22.9 M weights with the top.

    input_shape : (H, W, 3), each side at least 71; default (299, 299, 3) with the top,
        (None, None, 3) without.
    Returns a ``gn.Model`` named ``name``, output (n, classes) with the top, (n, h, w, 2048) without
    (h = W/32 rounded up, after two 'valid' 3x3 convolutions), (n, 2048) with ``pooling``.
    """
    from .. import layers
    iu.check_weights(weights, "Xception")
    iu.check_pooling(pooling, "Xception")
    img_input, sources = iu.image_input(input_tensor, input_shape, "Xception")
    input_shape = iu.obtain_input_shape(input_shape, default_size=299, min_size=71, data_format="channels_last",
                                        require_flatten=include_top)
    if img_input is None:
        img_input = layers.Input(shape=input_shape)

    x = layers.Conv2D(32, (3, 3), strides=(2, 2), use_bias=False, name="block1_conv1")(img_input)
    x = layers.BatchNormalization(axis=-1, name="block1_conv1_bn")(x)
    x = layers.Activation("relu", name="block1_conv1_act")(x)
    x = layers.Conv2D(64, (3, 3), use_bias=False, name="block1_conv2")(x)
    x = layers.BatchNormalization(axis=-1, name="block1_conv2_bn")(x)
    x = layers.Activation("relu", name="block1_conv2_act")(x)

    # entry flow: a strided 1x1 shortcut (unnamed, as Keras') beside two separable convolutions
    # and a max pooling; block 2 has no ReLU before its first one (block 1's ends in one)
    for block, filters in ((2, 128), (3, 256), (4, 728)):
        x = _downsampling_block(x, block, filters, filters, first_act=block != 2)
    for i in range(8):                            # middle flow: three separable convolutions + identity
        residual = x
        prefix = f"block{i + 5}"
        for k in (1, 2, 3):
            x = layers.Activation("relu", name=f"{prefix}_sepconv{k}_act")(x)
            x = layers.SeparableConv2D(728, (3, 3), padding="same", use_bias=False, name=f"{prefix}_sepconv{k}")(x)
            x = layers.BatchNormalization(axis=-1, name=f"{prefix}_sepconv{k}_bn")(x)
        x = layers.add([x, residual])
    x = _downsampling_block(x, 13, 728, 1024, first_act=True)   # exit flow

    x = layers.SeparableConv2D(1536, (3, 3), padding="same", use_bias=False, name="block14_sepconv1")(x)
    x = layers.BatchNormalization(axis=-1, name="block14_sepconv1_bn")(x)
    x = layers.Activation("relu", name="block14_sepconv1_act")(x)
    x = layers.SeparableConv2D(2048, (3, 3), padding="same", use_bias=False, name="block14_sepconv2")(x)
    x = layers.BatchNormalization(axis=-1, name="block14_sepconv2_bn")(x)
    x = layers.Activation("relu", name="block14_sepconv2_act")(x)
    if include_top:
        x = iu.classifier(x, classes, classifier_activation)
    else:
        x = iu.pool(x, pooling)
    return iu.finish(img_input, sources, x, name, weights)


def _downsampling_block(x, block, filters1, filters2, first_act):
    """Keras' entry/exit-flow block ``block``: [ReLU], SeparableConv ``filters1``, BN, ReLU,
    SeparableConv ``filters2``, BN, 3x3/2 max pooling, plus a 1x1/2 convolution shortcut.
    (Block 2's one ReLU is named ``block2_sepconv2_act``, as Keras names it.)"""
    from .. import layers
    residual = layers.Conv2D(filters2, (1, 1), strides=(2, 2), padding="same", use_bias=False)(x)
    residual = layers.BatchNormalization(axis=-1)(residual)
    p = f"block{block}_"
    if first_act:
        x = layers.Activation("relu", name=f"{p}sepconv1_act")(x)
    x = layers.SeparableConv2D(filters1, (3, 3), padding="same", use_bias=False, name=f"{p}sepconv1")(x)
    x = layers.BatchNormalization(axis=-1, name=f"{p}sepconv1_bn")(x)
    x = layers.Activation("relu", name=f"{p}sepconv2_act")(x)
    x = layers.SeparableConv2D(filters2, (3, 3), padding="same", use_bias=False, name=f"{p}sepconv2")(x)
    x = layers.BatchNormalization(axis=-1, name=f"{p}sepconv2_bn")(x)
    x = layers.MaxPooling2D((3, 3), strides=(2, 2), padding="same", name=f"{p}pool")(x)
    return layers.add([x, residual])


def preprocess_input(x, data_format=None):
    """Keras' Xception preprocessing: pixels in [0, 255] to [-1, 1] ("tf" mode)."""
    return iu.preprocess_input(x, data_format=data_format, mode="tf")
