"""VGG16 (Simonyan & Zisserman 2014), Keras 3.15's ``keras.applications.VGG16``: five blocks of
3x3 ReLU convolutions and 2x2 max pooling, then Flatten and two Dense(4096) with the top.

    base = VGG16(input_shape=(32, 32, 3), include_top=False, weights=None)    # 14.7 M weights
"""
from . import imagenet_utils as iu
from .imagenet_utils import decode_predictions

__all__ = ["VGG16", "preprocess_input", "decode_predictions"]

_BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))      # (filters, convolutions) per block


def VGG16(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name="vgg16"):
    """Keras' VGG16: 138 M weights with the top (which needs a static ``input_shape``), 14.7 M without.

    input_shape : (H, W, 3), each side at least 32; default (224, 224, 3) with the top.
    Output (n, classes) with the top, else (n, H/32, W/32, 512) (or (n, 512) with ``pooling``).
    """
    return build_vgg(_BLOCKS, include_top, weights, input_tensor, input_shape, pooling, classes,
                     classifier_activation, name)


def build_vgg(blocks, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation, name):
    """The VGG body Keras writes out in full in vgg16.py and again in vgg19.py, from ``blocks``."""
    from .. import layers
    iu.check_weights(weights, name)
    iu.check_pooling(pooling, name)
    img_input, sources = iu.image_input(input_tensor, input_shape, name)
    input_shape = iu.obtain_input_shape(input_shape, default_size=224, min_size=32, data_format="channels_last",
                                        require_flatten=include_top)
    x = img_input if img_input is not None else layers.Input(shape=input_shape)
    first = x
    for b, (filters, convs) in enumerate(blocks, start=1):
        for c in range(1, convs + 1):
            x = layers.Conv2D(filters, (3, 3), activation="relu", padding="same", name=f"block{b}_conv{c}")(x)
        x = layers.MaxPooling2D((2, 2), strides=(2, 2), name=f"block{b}_pool")(x)
    if include_top:
        x = layers.Flatten(name="flatten")(x)
        x = layers.Dense(4096, activation="relu", name="fc1")(x)
        x = layers.Dense(4096, activation="relu", name="fc2")(x)
        x = layers.Dense(classes, activation=classifier_activation, name="predictions")(x)
    else:
        x = iu.pool(x, pooling)
    return iu.finish(first, sources, x, name, weights)


def preprocess_input(x, data_format=None):
    """Keras' VGG preprocessing ("caffe" mode): RGB to BGR, minus ImageNet's mean pixel, no scaling."""
    return iu.preprocess_input(x, data_format=data_format, mode="caffe")
