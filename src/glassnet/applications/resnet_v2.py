"""ResNet50V2, ResNet101V2, ResNet152V2 (He et al. 2016, pre-activation), Keras 3.15's
``keras.applications.resnet_v2``: ``resnet.ResNet`` with its v2 blocks, as Keras builds them."""
from . import imagenet_utils as iu
from .imagenet_utils import decode_predictions
from .resnet import ResNet, stack_residual_blocks_v2

__all__ = ["ResNet50V2", "ResNet101V2", "ResNet152V2", "preprocess_input", "decode_predictions"]


def _v2(depths, name, include_top, weights, input_tensor, input_shape, pooling, classes, classifier_activation):
    def stack_fn(x):
        x = stack_residual_blocks_v2(x, 64, depths[0], name="conv2")
        x = stack_residual_blocks_v2(x, 128, depths[1], name="conv3")
        x = stack_residual_blocks_v2(x, 256, depths[2], name="conv4")
        return stack_residual_blocks_v2(x, 512, depths[3], stride1=1, name="conv5")
    return ResNet(stack_fn, True, True, name=name, include_top=include_top, weights=weights,
                  input_tensor=input_tensor, input_shape=input_shape, pooling=pooling, classes=classes,
                  classifier_activation=classifier_activation)


def ResNet50V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
               classifier_activation="softmax", name="resnet50v2"):
    """Keras' ResNet50V2: pre-activation stacks of 3, 4, 6, 3 blocks (see ``resnet.ResNet``)."""
    return _v2((3, 4, 6, 3), name, include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation)


def ResNet101V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax", name="resnet101v2"):
    """Keras' ResNet101V2: pre-activation stacks of 3, 4, 23, 3 blocks."""
    return _v2((3, 4, 23, 3), name, include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation)


def ResNet152V2(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax", name="resnet152v2"):
    """Keras' ResNet152V2: pre-activation stacks of 3, 8, 36, 3 blocks."""
    return _v2((3, 8, 36, 3), name, include_top, weights, input_tensor, input_shape, pooling, classes,
               classifier_activation)


def preprocess_input(x, data_format=None):
    """Keras' ResNetV2 preprocessing ("tf" mode): pixels in [0, 255] to [-1, 1]."""
    return iu.preprocess_input(x, data_format=data_format, mode="tf")
