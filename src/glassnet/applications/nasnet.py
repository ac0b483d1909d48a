"""NASNet-A (Zoph et al. 2018), Keras 3.15's ``keras.applications.NASNetMobile`` and
``NASNetLarge``: cells found by architecture search, each taking the two previous cells' outputs
(``x`` and ``p``): a stem convolution, two reduction cells, then three stacks of ``num_blocks``
normal cells with a reduction cell between them. Each cell's branches are separable-convolution
blocks and 3x3 poolings added pairwise and concatenated; ``p`` is first brought to ``x``'s size
(a factorised reduction: two strided 1x1 paths, one shifted by a pixel) or channels (a 1x1
projection). The same layers, names and weight order as Keras', so
``set_weights(keras_model.get_weights())`` carries a Keras model's weights over.

    base = NASNetMobile(input_shape=(32, 32, 3), include_top=False, weights=None, pooling="avg")
    # base.output_shape == (None, 1056)
"""
from . import imagenet_utils as iu
from .imagenet_utils import decode_predictions

__all__ = ["NASNetMobile", "NASNetLarge", "NASNet", "preprocess_input", "decode_predictions"]

_BN = dict(axis=-1, momentum=0.9997, epsilon=1e-3)     # every BatchNormalization of NASNet's


def NASNetMobile(input_shape=None, include_top=True, weights="imagenet", input_tensor=None, pooling=None,
                 classes=1000, classifier_activation="softmax", name="nasnet_mobile"):
    """Keras' NASNetMobile (NASNet-A 4 @ 1056): 5.3 M weights with the top.

    input_shape : (H, W, 3), each side at least 32; default (224, 224, 3), with or without the
        top (Keras': not (None, None, 3)).
    Returns a ``gn.Model`` named ``name``, output (n, classes) with the top, (n, h, w, 1056)
    without (h = H/32 rounded up), (n, 1056) with ``pooling``.
    """
    if not include_top and input_shape is None:
        input_shape = (224, 224, 3)
    return NASNet(input_shape, penultimate_filters=1056, num_blocks=4, stem_block_filters=32, skip_reduction=False,
                  filter_multiplier=2, include_top=include_top, weights=weights, input_tensor=input_tensor,
                  pooling=pooling, classes=classes, default_size=224, classifier_activation=classifier_activation,
                  name=name, _builder="NASNetMobile")


def NASNetLarge(input_shape=None, include_top=True, weights="imagenet", input_tensor=None, pooling=None,
                classes=1000, classifier_activation="softmax", name="nasnet_large"):
    """Keras' NASNetLarge (NASNet-A 6 @ 4032): 88.9 M weights with the top.

    input_shape : (H, W, 3), each side at least 32; default (331, 331, 3) with the top,
        (None, None, 3) without.
    Returns a ``gn.Model`` named ``name``, output (n, classes) with the top, (n, h, w, 4032)
    without, (n, 4032) with ``pooling``.
    """
    return NASNet(input_shape, penultimate_filters=4032, num_blocks=6, stem_block_filters=96, skip_reduction=True,
                  filter_multiplier=2, include_top=include_top, weights=weights, input_tensor=input_tensor,
                  pooling=pooling, classes=classes, default_size=331, classifier_activation=classifier_activation,
                  name=name, _builder="NASNetLarge")


def NASNet(input_shape=None, penultimate_filters=4032, num_blocks=6, stem_block_filters=96, skip_reduction=True,
           filter_multiplier=2, include_top=True, weights="imagenet", input_tensor=None, pooling=None, classes=1000,
           default_size=None, classifier_activation="softmax", name="NASNet", _builder="NASNet"):
    """Keras' generic ``keras.src.applications.nasnet.NASNet`` (NASNet-A ``num_blocks`` @
    ``penultimate_filters``), which NASNetMobile and NASNetLarge call.

    penultimate_filters : int, a multiple of 24 * filter_multiplier ** 2; the last cells'
        channels.
    num_blocks : int, the normal cells of each of the three stacks.
    stem_block_filters : int, the stem convolution's filters.
    skip_reduction : bool, whether a stack's first normal cell takes the cell before the
        reduction as its ``p`` (True, NASNetLarge) or the reduction's input (False).
    filter_multiplier : int, the growth of the channels at each reduction.
    default_size : int, the side of the default input (331 when None).
    """
    from .. import layers
    iu.check_weights(weights, _builder)
    iu.check_pooling(pooling, _builder)
    for value, what in ((penultimate_filters, "penultimate_filters"), (num_blocks, "num_blocks"),
                        (stem_block_filters, "stem_block_filters"), (filter_multiplier, "filter_multiplier")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{_builder}: {what} must be a positive integer; received {what}={value!r}")
    if penultimate_filters % (24 * filter_multiplier ** 2) != 0:
        raise ValueError(f"{_builder}: for NASNet-A models, penultimate_filters must be a multiple of 24 * "
                         f"filter_multiplier ** 2 = {24 * filter_multiplier ** 2}; received "
                         f"penultimate_filters={penultimate_filters}")
    img_input, sources = iu.image_input(input_tensor, input_shape, _builder)
    input_shape = iu.obtain_input_shape(input_shape, default_size=331 if default_size is None else default_size,
                                        min_size=32, data_format="channels_last", require_flatten=include_top)
    if img_input is None:
        img_input = layers.Input(shape=input_shape)

    filters = penultimate_filters // 24
    x = layers.Conv2D(stem_block_filters, (3, 3), strides=(2, 2), padding="valid", use_bias=False,
                      name="stem_conv1", kernel_initializer="he_normal")(img_input)
    x = layers.BatchNormalization(name="stem_bn1", **_BN)(x)

    p = None
    x, p = _reduction_a_cell(x, p, filters // (filter_multiplier ** 2), block_id="stem_1")
    x, p = _reduction_a_cell(x, p, filters // filter_multiplier, block_id="stem_2")
    for stack in range(3):          # normal cells, a reduction cell between two stacks
        if stack:
            x, p0 = _reduction_a_cell(x, p, filters * filter_multiplier ** stack,
                                      block_id=f"reduce_{stack * num_blocks}")
            p = p if skip_reduction else p0
        for i in range(num_blocks):
            x, p = _normal_a_cell(x, p, filters * filter_multiplier ** stack,
                                  block_id=f"{stack * num_blocks + i + (1 if stack else 0)}")
    x = layers.Activation("relu")(x)

    if include_top:
        x = layers.GlobalAveragePooling2D()(x)           # unnamed here, as Keras' NASNet has it
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = iu.pool(x, pooling)
    return iu.finish(img_input, sources, x, name, weights)


def _bn(x, name):
    from .. import layers
    return layers.BatchNormalization(name=name, **_BN)(x)


def _separable_conv_block(ip, filters, kernel_size=(3, 3), strides=(1, 1), block_id=None):
    """Keras' two [ReLU, SeparableConv2D, BN]; the first strided (then zero-padded as TensorFlow's
    'same', ``iu.correct_pad``, and 'valid'). Shapes: (n, h, w, c) -> (n, h/s, w/s, filters)."""
    from .. import layers
    x = layers.Activation("relu")(ip)
    conv_pad = "same"
    if strides == (2, 2):
        x = layers.ZeroPadding2D(padding=iu.correct_pad(x, kernel_size), name=f"separable_conv_1_pad_{block_id}")(x)
        conv_pad = "valid"
    x = layers.SeparableConv2D(filters, kernel_size, strides=strides, name=f"separable_conv_1_{block_id}",
                               padding=conv_pad, use_bias=False)(x)
    x = _bn(x, f"separable_conv_1_bn_{block_id}")
    x = layers.Activation("relu")(x)
    x = layers.SeparableConv2D(filters, kernel_size, name=f"separable_conv_2_{block_id}", padding="same",
                               use_bias=False)(x)
    return _bn(x, f"separable_conv_2_bn_{block_id}")


def _adjust_block(p, ip, filters, block_id=None):
    """Keras' ``_adjust_block``: ``p`` (the cell before the last) brought to ``ip``'s width and
    ``filters`` channels: at another width, the factorised reduction (ReLU; two 1x1/2 average
    poolings, the second on ``p`` shifted by one pixel, each to filters/2 channels by a 1x1
    convolution; concatenated; BN); with other channels, ReLU, 1x1 convolution, BN."""
    from .. import layers
    if p is None:
        return ip
    if p.shape[-2] != ip.shape[-2]:
        p = layers.Activation("relu", name=f"adjust_relu_1_{block_id}")(p)
        paths = []
        for k in (1, 2):
            path = p
            if k == 2:          # shift by one pixel: pad the bottom right, crop the top left
                path = layers.ZeroPadding2D(padding=((0, 1), (0, 1)))(path)
                path = layers.Cropping2D(cropping=((1, 0), (1, 0)))(path)
            path = layers.AveragePooling2D((1, 1), strides=(2, 2), padding="valid",
                                           name=f"adjust_avg_pool_{k}_{block_id}")(path)
            paths.append(layers.Conv2D(filters // 2, (1, 1), padding="same", use_bias=False,
                                       name=f"adjust_conv_{k}_{block_id}", kernel_initializer="he_normal")(path))
        p = _bn(layers.concatenate(paths, axis=-1), f"adjust_bn_{block_id}")
    elif p.shape[-1] != filters:
        p = layers.Activation("relu")(p)
        p = layers.Conv2D(filters, (1, 1), strides=(1, 1), padding="same", name=f"adjust_conv_projection_{block_id}",
                          use_bias=False, kernel_initializer="he_normal")(p)
        p = _bn(p, f"adjust_bn_{block_id}")
    return p


def _squeeze(ip, filters, kind, block_id):
    """The cell's input: ReLU, 1x1 convolution to ``filters``, BN (``{kind}_conv_1_...``)."""
    from .. import layers
    h = layers.Activation("relu")(ip)
    h = layers.Conv2D(filters, (1, 1), strides=(1, 1), padding="same", name=f"{kind}_conv_1_{block_id}",
                      use_bias=False, kernel_initializer="he_normal")(h)
    return _bn(h, f"{kind}_bn_1_{block_id}")


def _normal_a_cell(ip, p, filters, block_id=None):
    """Keras' NASNet-A normal cell (the paper's Fig. 4): five pairs added, concatenated with ``p``.
    Returns ``(x, ip)``: x (n, h, w, 6 * filters) at ``ip``'s size, and ``ip``, the next ``p``."""
    from .. import layers

    def avg_pool(t, side):
        return layers.AveragePooling2D((3, 3), strides=(1, 1), padding="same", name=f"normal_{side}_{block_id}")(t)

    p = _adjust_block(p, ip, filters, block_id)
    h = _squeeze(ip, filters, "normal", block_id)
    x1 = layers.add([_separable_conv_block(h, filters, kernel_size=(5, 5), block_id=f"normal_left1_{block_id}"),
                     _separable_conv_block(p, filters, block_id=f"normal_right1_{block_id}")],
                    name=f"normal_add_1_{block_id}")
    x2 = layers.add([_separable_conv_block(p, filters, (5, 5), block_id=f"normal_left2_{block_id}"),
                     _separable_conv_block(p, filters, (3, 3), block_id=f"normal_right2_{block_id}")],
                    name=f"normal_add_2_{block_id}")
    x3 = layers.add([avg_pool(h, "left3"), p], name=f"normal_add_3_{block_id}")
    x4 = layers.add([avg_pool(p, "left4"), avg_pool(p, "right4")], name=f"normal_add_4_{block_id}")
    x5 = layers.add([_separable_conv_block(h, filters, block_id=f"normal_left5_{block_id}"), h],
                    name=f"normal_add_5_{block_id}")
    x = layers.concatenate([p, x1, x2, x3, x4, x5], axis=-1, name=f"normal_concat_{block_id}")
    return x, ip


def _reduction_a_cell(ip, p, filters, block_id=None):
    """Keras' NASNet-A reduction cell: strided separable blocks and 3x3/2 poolings added pairwise,
    four sums concatenated. Returns ``(x, ip)``: x (n, h/2, w/2, 4 * filters), ``ip`` the next ``p``.
    (Keras' names, uneven as they are: ``reduction_add3_``, ``reduction_left4_`` twice.)"""
    from .. import layers
    p = _adjust_block(p, ip, filters, block_id)
    h = _squeeze(ip, filters, "reduction", block_id)
    h3 = layers.ZeroPadding2D(padding=iu.correct_pad(h, 3), name=f"reduction_pad_1_{block_id}")(h)

    def pool(kind, side, t, strides=(2, 2), padding="valid"):
        return kind((3, 3), strides=strides, padding=padding, name=f"reduction_{side}_{block_id}")(t)

    def sep(t, kernel, side):
        return _separable_conv_block(t, filters, kernel, strides=(2, 2), block_id=f"reduction_{side}_{block_id}")

    x1 = layers.add([sep(h, (5, 5), "left1"), sep(p, (7, 7), "right1")], name=f"reduction_add_1_{block_id}")
    x2 = layers.add([pool(layers.MaxPooling2D, "left2", h3), sep(p, (7, 7), "right2")],
                    name=f"reduction_add_2_{block_id}")
    x3 = layers.add([pool(layers.AveragePooling2D, "left3", h3), sep(p, (5, 5), "right3")],
                    name=f"reduction_add3_{block_id}")
    x4 = layers.add([x2, pool(layers.AveragePooling2D, "left4", x1, (1, 1), "same")])
    x5_1 = _separable_conv_block(x1, filters, (3, 3), block_id=f"reduction_left4_{block_id}")
    x5 = layers.add([x5_1, pool(layers.MaxPooling2D, "right5", h3)], name=f"reduction_add4_{block_id}")
    x = layers.concatenate([x2, x3, x4, x5], axis=-1, name=f"reduction_concat_{block_id}")
    return x, ip


def preprocess_input(x, data_format=None):
    """Keras' NASNet preprocessing: pixels in [0, 255] to [-1, 1] ("tf" mode)."""
    return iu.preprocess_input(x, data_format=data_format, mode="tf")
