"""Keras 3.15's ``keras.applications`` architectures, built from scratch (``weights=None``): the
same layers, layer names, model name and weight order as Keras', so that
``model.set_weights(keras_model.get_weights())`` carries a Keras model's weights over and both
predict the same. Nothing is downloaded: ``weights="imagenet"`` is refused by name.

    import glassnet as gn
    base = gn.applications.MobileNetV2(input_shape=(96, 96, 3), include_top=False, weights=None)
    base.trainable = False
    x = gn.layers.GlobalAveragePooling2D()(base.output)
    model = gn.Model(base.input, gn.layers.Dense(10, activation="softmax")(x))

Each family is a module with its ``preprocess_input`` (``gn.applications.mobilenet_v2.preprocess_input``).
``import glassnet`` does not import this package (``gn.applications`` does, on first use).
"""
from . import imagenet_utils, mobilenet_v2
from .mobilenet_v2 import MobileNetV2

__all__ = ["MobileNetV2", "imagenet_utils", "mobilenet_v2"]
