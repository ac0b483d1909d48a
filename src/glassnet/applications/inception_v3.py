"""InceptionV3 (Szegedy et al. 2016), Keras 3.15's ``keras.applications.InceptionV3``: a stem of
convolutions, then eleven Inception modules (``mixed0`` to ``mixed10``) of parallel branches
concatenated on the channels; every convolution is Keras' ``conv2d_bn`` (Conv2D without bias,
BatchNormalization without scale, ReLU). The same layers, names and weight order as Keras', so
``set_weights(keras_model.get_weights())`` carries a Keras model's weights over.

    base = InceptionV3(input_shape=(75, 75, 3), include_top=False, weights=None, pooling="avg")
    # base.output_shape == (None, 2048)
"""
from . import imagenet_utils as iu
from .imagenet_utils import decode_predictions

__all__ = ["InceptionV3", "preprocess_input", "decode_predictions"]


def InceptionV3(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax", name="inception_v3"):
    """Keras' InceptionV3: 23.9 M weights with the top.

    input_shape : (H, W, 3), each side at least 75; default (299, 299, 3) with the top,
        (None, None, 3) without.
    Returns a ``gn.Model`` named ``name``, output (n, classes) with the top, (n, h, w, 2048)
    without, (n, 2048) with ``pooling``.
    """
    from .. import layers
    iu.check_weights(weights, "InceptionV3")
    iu.check_pooling(pooling, "InceptionV3")
    img_input, sources = iu.image_input(input_tensor, input_shape, "InceptionV3")
    input_shape = iu.obtain_input_shape(input_shape, default_size=299, min_size=75, data_format="channels_last",
                                        require_flatten=include_top)
    if img_input is None:
        img_input = layers.Input(shape=input_shape)

    def avg_pool(t):
        return layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same")(t)

    x = conv2d_bn(img_input, 32, 3, 3, strides=(2, 2), padding="valid")
    x = conv2d_bn(x, 32, 3, 3, padding="valid")
    x = conv2d_bn(x, 64, 3, 3)
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = conv2d_bn(x, 80, 1, 1, padding="valid")
    x = conv2d_bn(x, 192, 3, 3, padding="valid")
    x = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)

    for i, pool_filters in enumerate((32, 64, 64)):           # mixed0-2: 35 x 35 modules
        branch1x1 = conv2d_bn(x, 64, 1, 1)
        branch5x5 = conv2d_bn(conv2d_bn(x, 48, 1, 1), 64, 5, 5)
        branch3x3dbl = conv2d_bn(conv2d_bn(conv2d_bn(x, 64, 1, 1), 96, 3, 3), 96, 3, 3)
        branch_pool = conv2d_bn(avg_pool(x), pool_filters, 1, 1)
        x = layers.concatenate([branch1x1, branch5x5, branch3x3dbl, branch_pool], axis=-1, name=f"mixed{i}")

    branch3x3 = conv2d_bn(x, 384, 3, 3, strides=(2, 2), padding="valid")    # mixed3: to 17 x 17
    branch3x3dbl = conv2d_bn(conv2d_bn(x, 64, 1, 1), 96, 3, 3)
    branch3x3dbl = conv2d_bn(branch3x3dbl, 96, 3, 3, strides=(2, 2), padding="valid")
    branch_pool = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = layers.concatenate([branch3x3, branch3x3dbl, branch_pool], axis=-1, name="mixed3")

    for i, width in enumerate((128, 160, 160, 192)):           # mixed4-7: factorised 7x7 modules
        branch1x1 = conv2d_bn(x, 192, 1, 1)
        branch7x7 = conv2d_bn(conv2d_bn(conv2d_bn(x, width, 1, 1), width, 1, 7), 192, 7, 1)
        branch7x7dbl = conv2d_bn(x, width, 1, 1)
        for filters, (rows, cols) in ((width, (7, 1)), (width, (1, 7)), (width, (7, 1)), (192, (1, 7))):
            branch7x7dbl = conv2d_bn(branch7x7dbl, filters, rows, cols)
        branch_pool = conv2d_bn(avg_pool(x), 192, 1, 1)
        x = layers.concatenate([branch1x1, branch7x7, branch7x7dbl, branch_pool], axis=-1, name=f"mixed{4 + i}")

    branch3x3 = conv2d_bn(conv2d_bn(x, 192, 1, 1), 320, 3, 3, strides=(2, 2), padding="valid")   # mixed8: to 8 x 8
    branch7x7x3 = conv2d_bn(conv2d_bn(conv2d_bn(x, 192, 1, 1), 192, 1, 7), 192, 7, 1)
    branch7x7x3 = conv2d_bn(branch7x7x3, 192, 3, 3, strides=(2, 2), padding="valid")
    branch_pool = layers.MaxPooling2D((3, 3), strides=(2, 2))(x)
    x = layers.concatenate([branch3x3, branch7x7x3, branch_pool], axis=-1, name="mixed8")

    for i in range(2):                                         # mixed9-10: expanded 8 x 8 modules
        branch1x1 = conv2d_bn(x, 320, 1, 1)
        branch3x3 = conv2d_bn(x, 384, 1, 1)
        branch3x3 = layers.concatenate([conv2d_bn(branch3x3, 384, 1, 3), conv2d_bn(branch3x3, 384, 3, 1)],
                                       axis=-1, name=f"mixed9_{i}")
        branch3x3dbl = conv2d_bn(conv2d_bn(x, 448, 1, 1), 384, 3, 3)
        branch3x3dbl = layers.concatenate([conv2d_bn(branch3x3dbl, 384, 1, 3), conv2d_bn(branch3x3dbl, 384, 3, 1)],
                                          axis=-1)
        branch_pool = conv2d_bn(avg_pool(x), 192, 1, 1)
        x = layers.concatenate([branch1x1, branch3x3, branch3x3dbl, branch_pool], axis=-1, name=f"mixed{9 + i}")

    if include_top:
        x = iu.classifier(x, classes, classifier_activation)
    else:
        x = iu.pool(x, pooling)
    return iu.finish(img_input, sources, x, name, weights)


def conv2d_bn(x, filters, num_row, num_col, padding="same", strides=(1, 1), name=None):
    """Keras' ``conv2d_bn``: Conv2D (no bias) ``num_row`` x ``num_col``, BatchNormalization
    without a scale (the ReLU after it makes one redundant), ReLU; named ``name_conv``,
    ``name_bn``, ``name`` when ``name`` is given, else by Keras' counters."""
    from .. import layers
    x = layers.Conv2D(filters, (num_row, num_col), strides=strides, padding=padding, use_bias=False,
                      name=None if name is None else f"{name}_conv")(x)
    x = layers.BatchNormalization(axis=3, scale=False, name=None if name is None else f"{name}_bn")(x)
    return layers.Activation("relu", name=name)(x)


def preprocess_input(x, data_format=None):
    """Keras' InceptionV3 preprocessing: pixels in [0, 255] to [-1, 1] ("tf" mode)."""
    return iu.preprocess_input(x, data_format=data_format, mode="tf")
