"""Keras 3.15's ``keras.applications`` architectures, built from scratch (``weights=None``): the
same layers, layer names, model name and weight order as Keras', so that
``model.set_weights(keras_model.get_weights())`` carries a Keras model's weights over and both
predict the same. Nothing is downloaded: ``weights="imagenet"`` is refused by name.

    import glassnet as gn
    base = gn.applications.MobileNetV2(input_shape=(96, 96, 3), include_top=False, weights=None)
    base.trainable = False
    x = gn.layers.GlobalAveragePooling2D()(base.output)
    model = gn.Model(base.input, gn.layers.Dense(10, activation="softmax")(x))

Each family is a module with its ``preprocess_input`` (``gn.applications.mobilenet_v2.preprocess_input``),
as Keras'. ``import glassnet`` does not import this package (``gn.applications`` does, on first use).
"""
from . import (convnext, densenet, efficientnet, efficientnet_v2, imagenet_utils, inception_resnet_v2, inception_v3,
               mobilenet, mobilenet_v2, mobilenet_v3, nasnet, resnet, resnet_v2, vgg16, vgg19, xception)
from .convnext import ConvNeXtBase, ConvNeXtLarge, ConvNeXtSmall, ConvNeXtTiny, ConvNeXtXLarge
from .densenet import DenseNet121, DenseNet169, DenseNet201
from .efficientnet import (EfficientNetB0, EfficientNetB1, EfficientNetB2, EfficientNetB3, EfficientNetB4,
                           EfficientNetB5, EfficientNetB6, EfficientNetB7)
from .efficientnet_v2 import (EfficientNetV2B0, EfficientNetV2B1, EfficientNetV2B2, EfficientNetV2B3,
                              EfficientNetV2L, EfficientNetV2M, EfficientNetV2S)
from .inception_resnet_v2 import InceptionResNetV2
from .inception_v3 import InceptionV3
from .mobilenet import MobileNet
from .mobilenet_v2 import MobileNetV2
from .mobilenet_v3 import MobileNetV3Large, MobileNetV3Small
from .nasnet import NASNetLarge, NASNetMobile
from .resnet import ResNet50, ResNet101, ResNet152
from .resnet_v2 import ResNet50V2, ResNet101V2, ResNet152V2
from .vgg16 import VGG16
from .vgg19 import VGG19
from .xception import Xception

resnet50 = resnet                 # Keras' keras.applications.resnet50 module: ResNet50 and its helpers

__all__ = ["MobileNetV2", "MobileNet", "MobileNetV3Small", "MobileNetV3Large", "ResNet50", "ResNet101", "ResNet152",
           "ResNet50V2", "ResNet101V2", "ResNet152V2", "VGG16", "VGG19", "DenseNet121", "DenseNet169", "DenseNet201",
           "EfficientNetB0", "EfficientNetB1", "EfficientNetB2", "EfficientNetB3", "EfficientNetB4", "EfficientNetB5",
           "EfficientNetB6", "EfficientNetB7", "Xception", "InceptionV3", "ConvNeXtTiny", "ConvNeXtSmall",
           "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtXLarge", "EfficientNetV2B0", "EfficientNetV2B1",
           "EfficientNetV2B2", "EfficientNetV2B3", "EfficientNetV2S", "EfficientNetV2M", "EfficientNetV2L",
           "InceptionResNetV2", "NASNetMobile", "NASNetLarge", "convnext",
           "densenet", "efficientnet", "efficientnet_v2", "imagenet_utils",
           "inception_resnet_v2", "inception_v3", "mobilenet", "mobilenet_v2",
           "mobilenet_v3", "nasnet", "resnet", "resnet50", "resnet_v2", "vgg16", "vgg19", "xception"]
