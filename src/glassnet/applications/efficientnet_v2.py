"""EfficientNetV2 B0 to B3, S, M and L (Tan & Le 2021), Keras 3.15's
``keras.applications.efficientnet_v2``: one ``EfficientNetV2`` builder over MBConv blocks (expand,
depthwise, squeeze-excite, project) and Fused-MBConv blocks (one full convolution in place of the
expansion and the depthwise), the same layers, names and weight order as Keras'.

With ``include_preprocessing`` (Keras' default) the model takes pixels in [0, 255]: B0 to B3 rescale
them to [0, 1] and standardise them with ImageNet's mean and deviation (a ``Normalization`` with
them given: no weights), S, M and L rescale them to [-1, 1), so ``preprocess_input`` returns its
input, as Keras'.

    base = EfficientNetV2B0(input_shape=(64, 64, 3), include_top=False, weights=None, pooling="avg")
    # base.output_shape == (None, 1280)
"""
import copy
import math

from . import imagenet_utils as iu
from .imagenet_utils import decode_predictions

__all__ = ["EfficientNetV2", "EfficientNetV2B0", "EfficientNetV2B1", "EfficientNetV2B2", "EfficientNetV2B3",
           "EfficientNetV2S", "EfficientNetV2M", "EfficientNetV2L", "preprocess_input", "decode_predictions"]

_KEYS = ("kernel_size", "num_repeat", "input_filters", "output_filters", "expand_ratio", "se_ratio", "strides",
         "conv_type")


def _blocks(*rows):
    return [dict(zip(_KEYS, row)) for row in rows]


# Keras' DEFAULT_BLOCKS_ARGS, one row a stage: (kernel, repeats, filters in, out, expansion, SE ratio,
# strides, conv_type: 1 Fused-MBConv, 0 MBConv); B1, B2 and B3 scale B0's
_B0 = _blocks((3, 1, 32, 16, 1, 0, 1, 1), (3, 2, 16, 32, 4, 0, 2, 1), (3, 2, 32, 48, 4, 0, 2, 1),
              (3, 3, 48, 96, 4, 0.25, 2, 0), (3, 5, 96, 112, 6, 0.25, 1, 0), (3, 8, 112, 192, 6, 0.25, 2, 0))
DEFAULT_BLOCKS_ARGS = {
    "efficientnetv2-s": _blocks((3, 2, 24, 24, 1, 0, 1, 1), (3, 4, 24, 48, 4, 0, 2, 1), (3, 4, 48, 64, 4, 0, 2, 1),
                                (3, 6, 64, 128, 4, 0.25, 2, 0), (3, 9, 128, 160, 6, 0.25, 1, 0),
                                (3, 15, 160, 256, 6, 0.25, 2, 0)),
    "efficientnetv2-m": _blocks((3, 3, 24, 24, 1, 0, 1, 1), (3, 5, 24, 48, 4, 0, 2, 1), (3, 5, 48, 80, 4, 0, 2, 1),
                                (3, 7, 80, 160, 4, 0.25, 2, 0), (3, 14, 160, 176, 6, 0.25, 1, 0),
                                (3, 18, 176, 304, 6, 0.25, 2, 0), (3, 5, 304, 512, 6, 0.25, 1, 0)),
    "efficientnetv2-l": _blocks((3, 4, 32, 32, 1, 0, 1, 1), (3, 7, 32, 64, 4, 0, 2, 1), (3, 7, 64, 96, 4, 0, 2, 1),
                                (3, 10, 96, 192, 4, 0.25, 2, 0), (3, 19, 192, 224, 6, 0.25, 1, 0),
                                (3, 25, 224, 384, 6, 0.25, 2, 0), (3, 7, 384, 640, 6, 0.25, 1, 0)),
    **{f"efficientnetv2-b{k}": _B0 for k in range(4)},
}
CONV_KERNEL_INITIALIZER = {"class_name": "VarianceScaling",
                           "config": {"scale": 2.0, "mode": "fan_out", "distribution": "truncated_normal"}}
DENSE_KERNEL_INITIALIZER = {"class_name": "VarianceScaling",
                            "config": {"scale": 1.0 / 3.0, "mode": "fan_out", "distribution": "uniform"}}


def round_filters(filters, width_coefficient, min_depth, depth_divisor):
    """Keras': ``filters * width_coefficient`` to the nearest multiple of ``depth_divisor``, at
    least ``min_depth`` (unlike EfficientNet's, it may round down by more than 10%)."""
    filters *= width_coefficient
    minimum_depth = min_depth or depth_divisor
    return int(max(minimum_depth, int(filters + depth_divisor / 2) // depth_divisor * depth_divisor))


def round_repeats(repeats, depth_coefficient):
    return int(math.ceil(depth_coefficient * repeats))


def _conv(layers, filters, kernel_size, strides, name):
    return layers.Conv2D(filters, kernel_size, strides=strides, kernel_initializer=CONV_KERNEL_INITIALIZER,
                         padding="same", use_bias=False, name=name)


def _se(layers, x, input_filters, filters, se_ratio, activation, name):
    """Squeeze-and-excitation: the map times a per-channel sigmoid gate of its average."""
    filters_se = max(1, int(input_filters * se_ratio))
    se = layers.GlobalAveragePooling2D(name=f"{name}se_squeeze")(x)
    se = layers.Reshape((1, 1, filters), name=f"{name}se_reshape")(se)
    se = layers.Conv2D(filters_se, 1, padding="same", activation=activation,
                       kernel_initializer=CONV_KERNEL_INITIALIZER, name=f"{name}se_reduce")(se)
    se = layers.Conv2D(filters, 1, padding="same", activation="sigmoid", kernel_initializer=CONV_KERNEL_INITIALIZER,
                       name=f"{name}se_expand")(se)
    return layers.multiply([x, se], name=f"{name}se_excite")


def _residual(layers, x, inputs, input_filters, output_filters, strides, survival_probability, name):
    if strides == 1 and input_filters == output_filters:
        if survival_probability:
            # Keras passes its "survival probability" as the Dropout's rate (the rate of dropping):
            # kept as Keras has it, so that training matches
            x = layers.Dropout(survival_probability, noise_shape=(None, 1, 1, 1), name=f"{name}drop")(x)
        x = layers.add([x, inputs], name=f"{name}add")
    return x


def MBConvBlock(input_filters, output_filters, expand_ratio=1, kernel_size=3, strides=1, se_ratio=0.0,
                bn_momentum=0.9, activation="swish", survival_probability=0.8, name=""):
    """Keras' MBConv block as a function of its input ``(n, H, W, input_filters)``: 1x1 expansion
    (``expand_ratio`` != 1), depthwise ``kernel_size`` ('same', ``strides``), squeeze-excite
    (``se_ratio``), 1x1 projection to ``output_filters``; a residual add when the shapes allow."""
    from .. import layers

    def apply(inputs):
        filters = input_filters * expand_ratio
        x = inputs
        if expand_ratio != 1:
            x = _conv(layers, filters, 1, 1, f"{name}expand_conv")(x)
            x = layers.BatchNormalization(axis=3, momentum=bn_momentum, name=f"{name}expand_bn")(x)
            x = layers.Activation(activation, name=f"{name}expand_activation")(x)
        x = layers.DepthwiseConv2D(kernel_size, strides=strides, depthwise_initializer=CONV_KERNEL_INITIALIZER,
                                   padding="same", use_bias=False, name=f"{name}dwconv2")(x)
        x = layers.BatchNormalization(axis=3, momentum=bn_momentum, name=f"{name}bn")(x)
        x = layers.Activation(activation, name=f"{name}activation")(x)
        if 0 < se_ratio <= 1:
            x = _se(layers, x, input_filters, filters, se_ratio, activation, name)
        x = _conv(layers, output_filters, 1, 1, f"{name}project_conv")(x)
        x = layers.BatchNormalization(axis=3, momentum=bn_momentum, name=f"{name}project_bn")(x)
        return _residual(layers, x, inputs, input_filters, output_filters, strides, survival_probability, name)
    return apply


def FusedMBConvBlock(input_filters, output_filters, expand_ratio=1, kernel_size=3, strides=1, se_ratio=0.0,
                     bn_momentum=0.9, activation="swish", survival_probability=0.8, name=""):
    """Keras' Fused-MBConv block: one ``kernel_size`` convolution (``strides``) expanding the
    channels, squeeze-excite, 1x1 projection; without expansion the projection is that convolution
    (then an activation after its BatchNormalization)."""
    from .. import layers

    def apply(inputs):
        filters = input_filters * expand_ratio
        x = inputs
        if expand_ratio != 1:
            x = _conv(layers, filters, kernel_size, strides, f"{name}expand_conv")(x)
            x = layers.BatchNormalization(axis=3, momentum=bn_momentum, name=f"{name}expand_bn")(x)
            x = layers.Activation(activation, name=f"{name}expand_activation")(x)
        if 0 < se_ratio <= 1:
            x = _se(layers, x, input_filters, filters, se_ratio, activation, name)
        fused = expand_ratio == 1
        x = _conv(layers, output_filters, kernel_size if fused else 1, strides if fused else 1,
                  f"{name}project_conv")(x)
        x = layers.BatchNormalization(axis=3, momentum=bn_momentum, name=f"{name}project_bn")(x)
        if fused:
            x = layers.Activation(activation, name=f"{name}project_activation")(x)
        return _residual(layers, x, inputs, input_filters, output_filters, strides, survival_probability, name)
    return apply


def EfficientNetV2(width_coefficient, depth_coefficient, default_size, dropout_rate=0.2, drop_connect_rate=0.2,
                   depth_divisor=8, min_depth=8, bn_momentum=0.9, activation="swish", blocks_args="default",
                   name="efficientnetv2", include_top=True, weights="imagenet", input_tensor=None, input_shape=None,
                   pooling=None, classes=1000, classifier_activation="softmax", include_preprocessing=True,
                   weights_name=None):
    """Keras' EfficientNetV2: ``blocks_args`` (a list of stage dicts; "default": Keras' table for
    ``name``, one of ``DEFAULT_BLOCKS_ARGS``' keys) with filters scaled by ``width_coefficient``
    and repeats by ``depth_coefficient``; ``drop_connect_rate`` grows linearly over the blocks.

    input_shape : (H, W, 3), each side at least 32; default (default_size, default_size, 3) with
        the top, (None, None, 3) without. Output (n, classes) with the top, else (n, H/32, W/32, C)
        or its pooling (n, C).
    """
    from .. import layers
    if isinstance(blocks_args, str) and blocks_args == "default":
        if name not in DEFAULT_BLOCKS_ARGS:
            # Keras fails there with a KeyError
            raise ValueError(f"{name}: blocks_args='default' takes Keras' table for the model's name, one of "
                             f"{sorted(DEFAULT_BLOCKS_ARGS)}; received name={name!r}: pass blocks_args")
        blocks_args = DEFAULT_BLOCKS_ARGS[name]
    iu.check_weights(weights, name)
    iu.check_pooling(pooling, name)
    img_input, sources = iu.image_input(input_tensor, input_shape, name)
    input_shape = iu.obtain_input_shape(iu.tensor_shape(input_tensor, input_shape), default_size=default_size,
                                        min_size=32, data_format="channels_last", require_flatten=include_top)
    if img_input is None:
        img_input = layers.Input(shape=input_shape)
    x = img_input
    if include_preprocessing:
        # the B models standardise as ImageNet's: Keras tells them by the model's name, a variant
        # here by its own key (``weights_name``, the same for Keras' names), so it keeps its
        # preprocessing under another name
        variant = weights_name if weights_name is not None else name.split("-")[-1]
        if variant.startswith("b") and input_shape[2] == 3:
            x = layers.Rescaling(scale=1.0 / 255)(x)
            x = layers.Normalization(mean=[0.485, 0.456, 0.406], variance=[0.229 ** 2, 0.224 ** 2, 0.225 ** 2],
                                     axis=3)(x)
        else:
            x = layers.Rescaling(scale=1.0 / 128.0, offset=-1)(x)

    def scaled(filters):
        return round_filters(filters, width_coefficient, min_depth, depth_divisor)

    x = _conv(layers, scaled(blocks_args[0]["input_filters"]), 3, 2, "stem_conv")(x)
    x = layers.BatchNormalization(axis=3, momentum=bn_momentum, name="stem_bn")(x)
    x = layers.Activation(activation, name="stem_activation")(x)

    blocks_args = copy.deepcopy(blocks_args)
    b = 0
    blocks = float(sum(args["num_repeat"] for args in blocks_args))
    for i, args in enumerate(blocks_args):
        if args["num_repeat"] <= 0:
            raise ValueError(f"{name}: the number of repeats in blocks_args must be > 0; "
                             f"received num_repeat={args['num_repeat']}")
        args["input_filters"] = scaled(args["input_filters"])
        args["output_filters"] = scaled(args["output_filters"])
        block = {0: MBConvBlock, 1: FusedMBConvBlock}[args.pop("conv_type")]
        for j in range(round_repeats(args.pop("num_repeat"), depth_coefficient)):
            if j > 0:                              # the repeats keep the size and the channels
                args["strides"] = 1
                args["input_filters"] = args["output_filters"]
            x = block(activation=activation, bn_momentum=bn_momentum,
                      survival_probability=drop_connect_rate * b / blocks, name=f"block{i + 1}{chr(j + 97)}_",
                      **args)(x)
            b += 1

    x = _conv(layers, scaled(1280), 1, 1, "top_conv")(x)
    x = layers.BatchNormalization(axis=3, momentum=bn_momentum, name="top_bn")(x)
    x = layers.Activation(activation, name="top_activation")(x)
    if include_top:
        x = iu.classifier(x, classes, classifier_activation, dropout_rate, DENSE_KERNEL_INITIALIZER)
    else:
        x = iu.pool(x, pooling, named=True)
    return iu.finish(img_input, sources, x, name, weights)


# (width, depth, default size) of each variant, Keras'
_SCALES = {"b0": (1.0, 1.0, 224), "b1": (1.0, 1.1, 240), "b2": (1.1, 1.2, 260), "b3": (1.2, 1.4, 300),
           "s": (1.0, 1.0, 384), "m": (1.0, 1.0, 480), "l": (1.0, 1.0, 480)}


def _variant(key, name, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation,
             include_preprocessing):
    width, depth, size = _SCALES[key]
    # the variant's own table whatever its name (Keras looks it up by the name, failing on another)
    return EfficientNetV2(width, depth, size, blocks_args=DEFAULT_BLOCKS_ARGS[f"efficientnetv2-{key}"], name=name,
                          include_top=include_top, weights=weights, input_tensor=input_tensor,
                          input_shape=input_shape, pooling=pooling, classes=classes,
                          classifier_activation=classifier_activation, include_preprocessing=include_preprocessing,
                          weights_name=key)


def EfficientNetV2B0(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                     classes=1000, classifier_activation="softmax", include_preprocessing=True,
                     name="efficientnetv2-b0"):
    """Keras' EfficientNetV2B0: 7.2 M weights with the top, default input 224 x 224."""
    return _variant("b0", name, include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, include_preprocessing)


def EfficientNetV2B1(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                     classes=1000, classifier_activation="softmax", include_preprocessing=True,
                     name="efficientnetv2-b1"):
    """Keras' EfficientNetV2B1: width 1.0, depth 1.1, default input 240 x 240."""
    return _variant("b1", name, include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, include_preprocessing)


def EfficientNetV2B2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                     classes=1000, classifier_activation="softmax", include_preprocessing=True,
                     name="efficientnetv2-b2"):
    """Keras' EfficientNetV2B2: width 1.1, depth 1.2, default input 260 x 260."""
    return _variant("b2", name, include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, include_preprocessing)


def EfficientNetV2B3(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                     classes=1000, classifier_activation="softmax", include_preprocessing=True,
                     name="efficientnetv2-b3"):
    """Keras' EfficientNetV2B3: width 1.2, depth 1.4, default input 300 x 300."""
    return _variant("b3", name, include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, include_preprocessing)


def EfficientNetV2S(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                    classes=1000, classifier_activation="softmax", include_preprocessing=True,
                    name="efficientnetv2-s"):
    """Keras' EfficientNetV2S: its own stages, default input 384 x 384."""
    return _variant("s", name, include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, include_preprocessing)


def EfficientNetV2M(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                    classes=1000, classifier_activation="softmax", include_preprocessing=True,
                    name="efficientnetv2-m"):
    """Keras' EfficientNetV2M: its own stages, default input 480 x 480."""
    return _variant("m", name, include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, include_preprocessing)


def EfficientNetV2L(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                    classes=1000, classifier_activation="softmax", include_preprocessing=True,
                    name="efficientnetv2-l"):
    """Keras' EfficientNetV2L: its own stages, default input 480 x 480."""
    return _variant("l", name, include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, include_preprocessing)


def preprocess_input(x, data_format=None):
    """Keras' placeholder: the model rescales its input itself (``include_preprocessing``), so ``x``
    comes back unchanged."""
    return x
