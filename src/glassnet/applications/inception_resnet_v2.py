"""Inception-ResNet v2 (Szegedy et al. 2017), Keras 3.15's ``keras.applications.InceptionResNetV2``:
InceptionV3's stem, then Inception modules with residual connections: 10 ``block35``, a reduction
(``mixed_6a``), 20 ``block17``, a reduction (``mixed_7a``), 10 ``block8``; each block adds its
branches' 1x1 projection to its input scaled by 0.17, 0.1 or 0.2 (``CustomScaleLayer``, Keras'
class, ``gn.layers`` here). The same layers, names and weight order as Keras', so
``set_weights(keras_model.get_weights())`` carries a Keras model's weights over.

    base = InceptionResNetV2(input_shape=(75, 75, 3), include_top=False, weights=None, pooling="avg")
    # base.output_shape == (None, 1536)
"""
from . import imagenet_utils as iu
from .imagenet_utils import decode_predictions

__all__ = ["InceptionResNetV2", "preprocess_input", "decode_predictions"]


def InceptionResNetV2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                      classes=1000, classifier_activation="softmax", name="inception_resnet_v2"):
    """Keras' InceptionResNetV2: 55.9 M weights with the top.

    input_shape : (H, W, 3), each side at least 75; default (299, 299, 3) with the top,
        (None, None, 3) without.
    Returns a ``gn.Model`` named ``name``, output (n, classes) with the top, (n, h, w, 1536)
    without (h = 1 at 75, 8 at 299), (n, 1536) with ``pooling``.
    """
    from .. import layers
    iu.check_weights(weights, "InceptionResNetV2")
    iu.check_pooling(pooling, "InceptionResNetV2")
    img_input, sources = iu.image_input(input_tensor, input_shape, "InceptionResNetV2")
    input_shape = iu.obtain_input_shape(input_shape, default_size=299, min_size=75, data_format="channels_last",
                                        require_flatten=include_top)
    if img_input is None:
        img_input = layers.Input(shape=input_shape)

    x = conv2d_bn(img_input, 32, 3, strides=2, padding="valid")       # stem: 35 x 35 x 192 at 299
    x = conv2d_bn(x, 32, 3, padding="valid")
    x = conv2d_bn(x, 64, 3)
    x = layers.MaxPooling2D(3, strides=2)(x)
    x = conv2d_bn(x, 80, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, padding="valid")
    x = layers.MaxPooling2D(3, strides=2)(x)

    branch_0 = conv2d_bn(x, 96, 1)                                     # mixed_5b (Inception-A)
    branch_1 = conv2d_bn(conv2d_bn(x, 48, 1), 64, 5)
    branch_2 = conv2d_bn(conv2d_bn(conv2d_bn(x, 64, 1), 96, 3), 96, 3)
    branch_pool = conv2d_bn(layers.AveragePooling2D(3, strides=1, padding="same")(x), 64, 1)
    x = layers.Concatenate(axis=3, name="mixed_5b")([branch_0, branch_1, branch_2, branch_pool])

    for block_idx in range(1, 11):
        x = inception_resnet_block(x, scale=0.17, block_type="block35", block_idx=block_idx)

    branch_0 = conv2d_bn(x, 384, 3, strides=2, padding="valid")        # mixed_6a (Reduction-A)
    branch_1 = conv2d_bn(conv2d_bn(conv2d_bn(x, 256, 1), 256, 3), 384, 3, strides=2, padding="valid")
    branch_pool = layers.MaxPooling2D(3, strides=2, padding="valid")(x)
    x = layers.Concatenate(axis=3, name="mixed_6a")([branch_0, branch_1, branch_pool])

    for block_idx in range(1, 21):
        x = inception_resnet_block(x, scale=0.1, block_type="block17", block_idx=block_idx)

    branch_0 = conv2d_bn(conv2d_bn(x, 256, 1), 384, 3, strides=2, padding="valid")   # mixed_7a (Reduction-B)
    branch_1 = conv2d_bn(conv2d_bn(x, 256, 1), 288, 3, strides=2, padding="valid")
    branch_2 = conv2d_bn(conv2d_bn(conv2d_bn(x, 256, 1), 288, 3), 320, 3, strides=2, padding="valid")
    branch_pool = layers.MaxPooling2D(3, strides=2, padding="valid")(x)
    x = layers.Concatenate(axis=3, name="mixed_7a")([branch_0, branch_1, branch_2, branch_pool])

    for block_idx in range(1, 10):
        x = inception_resnet_block(x, scale=0.2, block_type="block8", block_idx=block_idx)
    # the last block8 adds its branch unscaled and without the ReLU (Keras')
    x = inception_resnet_block(x, scale=1.0, activation=None, block_type="block8", block_idx=10)
    x = conv2d_bn(x, 1536, 1, name="conv_7b")

    if include_top:
        x = iu.classifier(x, classes, classifier_activation)
    else:
        x = iu.pool(x, pooling)
    return iu.finish(img_input, sources, x, name, weights)


def conv2d_bn(x, filters, kernel_size, strides=1, padding="same", activation="relu", use_bias=False, name=None):
    """Keras' InceptionResNetV2 ``conv2d_bn``: Conv2D, then (without a bias) BatchNormalization
    without a scale, then ``activation`` (None: none); named ``name``, ``name_bn``, ``name_ac``
    when ``name`` is given, else by Keras' counters. (InceptionV3's own ``conv2d_bn`` names them
    otherwise and always has the BN and ReLU.)"""
    from .. import layers
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding, use_bias=use_bias, name=name)(x)
    if not use_bias:
        x = layers.BatchNormalization(axis=3, scale=False, name=None if name is None else f"{name}_bn")(x)
    if activation is not None:
        x = layers.Activation(activation, name=None if name is None else f"{name}_ac")(x)
    return x


_BRANCHES = {   # block type -> each branch's convolutions, (filters, kernel size) in order
    "block35": (((32, 1),), ((32, 1), (32, 3)), ((32, 1), (48, 3), (64, 3))),
    "block17": (((192, 1),), ((128, 1), (160, (1, 7)), (192, (7, 1)))),
    "block8": (((192, 1),), ((192, 1), (224, (1, 3)), (256, (3, 1)))),
}


def inception_resnet_block(x, scale, block_type, block_idx, activation="relu"):
    """Keras' ``inception_resnet_block``: the branches of ``block_type`` ("block35", "block17",
    "block8") concatenated (``{block_type}_{block_idx}_mixed``), a 1x1 convolution with a bias back
    to ``x``'s channels (``..._conv``), ``x + scale * that`` (``CustomScaleLayer``), then
    ``activation`` (``..._ac``; None: none). Shapes: (n, h, w, c) -> (n, h, w, c)."""
    from .. import layers
    if block_type not in _BRANCHES:
        raise ValueError("Unknown Inception-ResNet block type. Expects 'block35', 'block17' or 'block8'; "
                         f"received block_type={block_type!r}")
    branches = []
    for convs in _BRANCHES[block_type]:
        branch = x
        for filters, kernel_size in convs:
            branch = conv2d_bn(branch, filters, kernel_size)
        branches.append(branch)
    block_name = f"{block_type}_{block_idx}"
    mixed = layers.Concatenate(axis=3, name=f"{block_name}_mixed")(branches)
    up = conv2d_bn(mixed, x.shape[3], 1, activation=None, use_bias=True, name=f"{block_name}_conv")
    x = layers.CustomScaleLayer(scale)([x, up])
    if activation is not None:
        x = layers.Activation(activation, name=f"{block_name}_ac")(x)
    return x


def preprocess_input(x, data_format=None):
    """Keras' InceptionResNetV2 preprocessing: pixels in [0, 255] to [-1, 1] ("tf" mode)."""
    return iu.preprocess_input(x, data_format=data_format, mode="tf")
