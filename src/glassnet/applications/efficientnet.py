"""EfficientNetB0 to B7 (Tan & Le 2019), Keras 3.15's ``keras.applications.efficientnet``: one
``EfficientNet`` builder scaling the B0 blocks (MBConv: expand, depthwise, squeeze-excite,
project) by a width and a depth coefficient, the same layers, names and weight order as Keras'.

The model takes pixels in [0, 255]: it rescales them itself (``Rescaling(1/255)``, then a
``Normalization`` that stays the identity until its mean and variance are set), so
``preprocess_input`` returns its input, as Keras'. Keras' Normalization has a third weight,
``count``, that glassnet's has not: from a Keras model, ``ws = keras_model.get_weights(); del ws[2]``
before ``set_weights(ws)``, and ``count_params()`` is one less than Keras'.

    base = EfficientNetB0(input_shape=(64, 64, 3), include_top=False, weights=None, pooling="avg")
    # base.output_shape == (None, 1280)
"""
import copy
import math

from . import imagenet_utils as iu
from .imagenet_utils import decode_predictions

__all__ = ["EfficientNet", "EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "EfficientNetB4",
           "EfficientNetB5", "EfficientNetB6", "EfficientNetB7", "preprocess_input", "decode_predictions"]


def _args(kernel_size, repeats, filters_in, filters_out, expand_ratio, strides):
    return {"kernel_size": kernel_size, "repeats": repeats, "filters_in": filters_in, "filters_out": filters_out,
            "expand_ratio": expand_ratio, "id_skip": True, "strides": strides, "se_ratio": 0.25}


DEFAULT_BLOCKS_ARGS = [_args(3, 1, 32, 16, 1, 1), _args(3, 2, 16, 24, 6, 2), _args(5, 2, 24, 40, 6, 2),
                       _args(3, 3, 40, 80, 6, 2), _args(5, 3, 80, 112, 6, 1), _args(5, 4, 112, 192, 6, 2),
                       _args(3, 1, 192, 320, 6, 1)]
CONV_KERNEL_INITIALIZER = {"class_name": "VarianceScaling",
                           "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"}}
DENSE_KERNEL_INITIALIZER = {"class_name": "VarianceScaling",
                            "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"}}


def EfficientNet(width_coefficient, depth_coefficient, default_size, dropout_rate=0.2, drop_connect_rate=0.2,
                 depth_divisor=8, activation="swish", blocks_args="default", name="efficientnet", include_top=True,
                 weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
                 classifier_activation="softmax", weights_name=None):
    """Keras' EfficientNet: filters scaled by ``width_coefficient`` (to multiples of
    ``depth_divisor``), block repeats by ``depth_coefficient``; ``drop_connect_rate`` grows
    linearly over the blocks (a Dropout of whole samples on each residual branch).

    input_shape : (H, W, 3), each side at least 32; default (default_size, default_size, 3) with
        the top, (None, None, 3) without. Output (n, classes) with the top, else (n, H/32, W/32, C).
    """
    from .. import layers
    if blocks_args == "default":
        blocks_args = DEFAULT_BLOCKS_ARGS
    iu.check_weights(weights, name)
    iu.check_pooling(pooling, name)
    img_input, sources = iu.image_input(input_tensor, input_shape, name)
    input_shape = iu.obtain_input_shape(input_shape, default_size=default_size, min_size=32,
                                        data_format="channels_last", require_flatten=include_top)
    if img_input is None:
        img_input = layers.Input(shape=input_shape)

    def round_filters(filters, divisor=depth_divisor):
        filters *= width_coefficient
        new_filters = max(divisor, int(filters + divisor / 2) // divisor * divisor)
        if new_filters < 0.9 * filters:           # never round down by more than 10%
            new_filters += divisor
        return int(new_filters)

    def round_repeats(repeats):
        return int(math.ceil(depth_coefficient * repeats))

    x = layers.Rescaling(1.0 / 255.0)(img_input)
    norm = layers.Normalization(axis=3)
    # unadapted on purpose (Keras' ImageNet weights set its statistics; from scratch it is the
    # identity until the user adapts it): no warning on each first call, as Keras gives none
    norm._warned = True
    x = norm(x)
    x = layers.ZeroPadding2D(padding=iu.correct_pad(x, 3), name="stem_conv_pad")(x)
    x = layers.Conv2D(round_filters(32), 3, strides=2, padding="valid", use_bias=False,
                      kernel_initializer=CONV_KERNEL_INITIALIZER, name="stem_conv")(x)
    x = layers.BatchNormalization(axis=3, name="stem_bn")(x)
    x = layers.Activation(activation, name="stem_activation")(x)

    blocks_args = copy.deepcopy(blocks_args)
    b = 0
    blocks = float(sum(round_repeats(args["repeats"]) for args in blocks_args))
    for i, args in enumerate(blocks_args):
        if args["repeats"] <= 0:
            raise ValueError(f"{name}: the number of repeats in blocks_args must be > 0; "
                             f"received repeats={args['repeats']}")
        args["filters_in"] = round_filters(args["filters_in"])
        args["filters_out"] = round_filters(args["filters_out"])
        for j in range(round_repeats(args.pop("repeats"))):
            if j > 0:                              # the repeats keep the size and the channels
                args["strides"] = 1
                args["filters_in"] = args["filters_out"]
            x = block(x, activation, drop_connect_rate * b / blocks, name=f"block{i + 1}{chr(j + 97)}_", **args)
            b += 1

    x = layers.Conv2D(round_filters(1280), 1, padding="same", use_bias=False,
                      kernel_initializer=CONV_KERNEL_INITIALIZER, name="top_conv")(x)
    x = layers.BatchNormalization(axis=3, name="top_bn")(x)
    x = layers.Activation(activation, name="top_activation")(x)
    if include_top:
        x = iu.classifier(x, classes, classifier_activation, dropout_rate, DENSE_KERNEL_INITIALIZER)
    else:
        x = iu.pool(x, pooling, named=True)
    return iu.finish(img_input, sources, x, name, weights)


def block(inputs, activation="swish", drop_rate=0.0, name="", filters_in=32, filters_out=16, kernel_size=3, strides=1,
          expand_ratio=1, se_ratio=0.0, id_skip=True):
    """One MBConv block: 1x1 expansion (``expand_ratio`` != 1), depthwise ``kernel_size``
    (strided: padded as TensorFlow's 'same'), squeeze-and-excitation (``se_ratio``), 1x1
    projection; with a residual Add (after a per-sample Dropout of ``drop_rate``) when the shapes allow."""
    from .. import layers
    filters = filters_in * expand_ratio
    if expand_ratio != 1:
        x = layers.Conv2D(filters, 1, padding="same", use_bias=False, kernel_initializer=CONV_KERNEL_INITIALIZER,
                          name=f"{name}expand_conv")(inputs)
        x = layers.BatchNormalization(axis=3, name=f"{name}expand_bn")(x)
        x = layers.Activation(activation, name=f"{name}expand_activation")(x)
    else:
        x = inputs
    if strides == 2:
        x = layers.ZeroPadding2D(padding=iu.correct_pad(x, kernel_size), name=f"{name}dwconv_pad")(x)
        conv_pad = "valid"
    else:
        conv_pad = "same"
    x = layers.DepthwiseConv2D(kernel_size, strides=strides, padding=conv_pad, use_bias=False,
                               depthwise_initializer=CONV_KERNEL_INITIALIZER, name=f"{name}dwconv")(x)
    x = layers.BatchNormalization(axis=3, name=f"{name}bn")(x)
    x = layers.Activation(activation, name=f"{name}activation")(x)
    if 0 < se_ratio <= 1:
        filters_se = max(1, int(filters_in * se_ratio))
        se = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
        se = layers.Reshape((1, 1, filters), name=f"{name}se_reshape")(se)
        se = layers.Conv2D(filters_se, 1, padding="same", activation=activation,
                           kernel_initializer=CONV_KERNEL_INITIALIZER, name=f"{name}se_reduce")(se)
        se = layers.Conv2D(filters, 1, padding="same", activation="sigmoid",
                           kernel_initializer=CONV_KERNEL_INITIALIZER, name=f"{name}se_expand")(se)
        x = layers.multiply([x, se], name=f"{name}se_excite")
    x = layers.Conv2D(filters_out, 1, padding="same", use_bias=False, kernel_initializer=CONV_KERNEL_INITIALIZER,
                      name=f"{name}project_conv")(x)
    x = layers.BatchNormalization(axis=3, name=f"{name}project_bn")(x)
    if id_skip and strides == 1 and filters_in == filters_out:
        if drop_rate > 0:
            x = layers.Dropout(drop_rate, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = layers.add([x, inputs], name=f"{name}add")
    return x


# (width, depth, default size, dropout) of B0..B7, Keras'
_SCALES = {0: (1.0, 1.0, 224, 0.2), 1: (1.0, 1.1, 240, 0.2), 2: (1.1, 1.2, 260, 0.3), 3: (1.2, 1.4, 300, 0.3),
           4: (1.4, 1.8, 380, 0.4), 5: (1.6, 2.2, 456, 0.4), 6: (1.8, 2.6, 528, 0.5), 7: (2.0, 3.1, 600, 0.5)}


def _scaled(k, name, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation):
    width, depth, size, dropout = _SCALES[k]
    return EfficientNet(width, depth, size, dropout, name=name, include_top=include_top, weights=weights,
                        input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                        classifier_activation=classifier_activation, weights_name=f"b{k}")


def EfficientNetB0(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                   classes=1000, classifier_activation="softmax", name="efficientnetb0"):
    """Keras' EfficientNetB0: 5.3 M weights with the top, default input 224 x 224."""
    return _scaled(0, name, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation)


def EfficientNetB1(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                   classes=1000, classifier_activation="softmax", name="efficientnetb1"):
    """Keras' EfficientNetB1: width 1.0, depth 1.1, default input 240 x 240."""
    return _scaled(1, name, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation)


def EfficientNetB2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                   classes=1000, classifier_activation="softmax", name="efficientnetb2"):
    """Keras' EfficientNetB2: width 1.1, depth 1.2, default input 260 x 260."""
    return _scaled(2, name, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation)


def EfficientNetB3(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                   classes=1000, classifier_activation="softmax", name="efficientnetb3"):
    """Keras' EfficientNetB3: width 1.2, depth 1.4, default input 300 x 300."""
    return _scaled(3, name, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation)


def EfficientNetB4(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                   classes=1000, classifier_activation="softmax", name="efficientnetb4"):
    """Keras' EfficientNetB4: width 1.4, depth 1.8, default input 380 x 380."""
    return _scaled(4, name, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation)


def EfficientNetB5(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                   classes=1000, classifier_activation="softmax", name="efficientnetb5"):
    """Keras' EfficientNetB5: width 1.6, depth 2.2, default input 456 x 456."""
    return _scaled(5, name, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation)


def EfficientNetB6(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                   classes=1000, classifier_activation="softmax", name="efficientnetb6"):
    """Keras' EfficientNetB6: width 1.8, depth 2.6, default input 528 x 528."""
    return _scaled(6, name, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation)


def EfficientNetB7(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                   classes=1000, classifier_activation="softmax", name="efficientnetb7"):
    """Keras' EfficientNetB7: width 2.0, depth 3.1, default input 600 x 600."""
    return _scaled(7, name, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation)


def preprocess_input(x, data_format=None):
    """Keras' placeholder: the model rescales its input itself, so ``x`` comes back unchanged."""
    return x
