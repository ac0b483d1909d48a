"""VGG19 (Simonyan & Zisserman 2014), Keras 3.15's ``keras.applications.VGG19``: VGG16 with a
fourth convolution in blocks 3, 4 and 5 (``block3_conv4``, ...)."""
from .imagenet_utils import decode_predictions
from .vgg16 import build_vgg, preprocess_input

__all__ = ["VGG19", "preprocess_input", "decode_predictions"]

_BLOCKS = ((64, 2), (128, 2), (256, 4), (512, 4), (512, 4))      # (filters, convolutions) per block


def VGG19(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None, classes=1000,
          classifier_activation="softmax", name="vgg19"):
    """Keras' VGG19: 144 M weights with the top, 20 M without; shapes as ``VGG16``'s."""
    return build_vgg(_BLOCKS, include_top, weights, input_tensor, input_shape, pooling, classes,
                     classifier_activation, name)
