"""DenseNet121, DenseNet169, DenseNet201 (Huang et al. 2017), Keras 3.15's
``keras.applications.densenet``: one ``DenseNet`` builder of dense blocks (each layer concatenates
32 new channels) and transitions (1x1 convolution halving the channels, 2x2 average pooling).

    base = DenseNet121(input_shape=(32, 32, 3), include_top=False, weights=None, pooling="avg")
    # base.output_shape == (None, 1024)
"""
from . import imagenet_utils as iu
from .imagenet_utils import decode_predictions

__all__ = ["DenseNet121", "DenseNet169", "DenseNet201", "DenseNet", "preprocess_input", "decode_predictions"]

_EPS = 1.001e-5                                   # Keras' BatchNormalization epsilon in DenseNet


def dense_block(x, blocks, name):
    """``blocks`` conv blocks, each adding 32 channels."""
    for i in range(blocks):
        x = conv_block(x, 32, name=f"{name}_block{i + 1}")
    return x


def transition_block(x, reduction, name):
    """BatchNormalization, ReLU, 1x1 convolution to ``reduction`` of the channels, 2x2 average pooling."""
    from .. import layers
    x = layers.BatchNormalization(axis=3, epsilon=_EPS, name=f"{name}_bn")(x)
    x = layers.Activation("relu", name=f"{name}_relu")(x)
    x = layers.Conv2D(int(x.shape[3] * reduction), 1, use_bias=False, name=f"{name}_conv")(x)
    return layers.AveragePooling2D(2, strides=2, name=f"{name}_pool")(x)


def conv_block(x, growth_rate, name):
    """BN-ReLU-1x1 (4 * growth_rate), BN-ReLU-3x3 (growth_rate), concatenated to the input."""
    from .. import layers
    x1 = layers.BatchNormalization(axis=3, epsilon=_EPS, name=f"{name}_0_bn")(x)
    x1 = layers.Activation("relu", name=f"{name}_0_relu")(x1)
    x1 = layers.Conv2D(4 * growth_rate, 1, use_bias=False, name=f"{name}_1_conv")(x1)
    x1 = layers.BatchNormalization(axis=3, epsilon=_EPS, name=f"{name}_1_bn")(x1)
    x1 = layers.Activation("relu", name=f"{name}_1_relu")(x1)
    x1 = layers.Conv2D(growth_rate, 3, padding="same", use_bias=False, name=f"{name}_2_conv")(x1)
    return layers.Concatenate(axis=3, name=f"{name}_concat")([x, x1])


def DenseNet(blocks, include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
             classes=1000, classifier_activation="softmax", name="densenet"):
    """Keras' DenseNet with ``blocks`` conv blocks in its four dense blocks.

    input_shape : (H, W, 3), each side at least 32; default (224, 224, 3) with the top, (None, None, 3)
        without. Output (n, classes) with the top, else (n, H/32, W/32, channels) (or pooled).
    """
    from .. import layers
    iu.check_weights(weights, name)
    iu.check_pooling(pooling, name)
    img_input, sources = iu.image_input(input_tensor, input_shape, name)
    input_shape = iu.obtain_input_shape(input_shape, default_size=224, min_size=32, data_format="channels_last",
                                        require_flatten=include_top)
    if img_input is None:
        img_input = layers.Input(shape=input_shape)
    x = layers.ZeroPadding2D(padding=((3, 3), (3, 3)))(img_input)
    x = layers.Conv2D(64, 7, strides=2, use_bias=False, name="conv1_conv")(x)
    x = layers.BatchNormalization(axis=3, epsilon=_EPS, name="conv1_bn")(x)
    x = layers.Activation("relu", name="conv1_relu")(x)
    x = layers.ZeroPadding2D(padding=((1, 1), (1, 1)))(x)
    x = layers.MaxPooling2D(3, strides=2, name="pool1")(x)
    x = dense_block(x, blocks[0], name="conv2")
    x = transition_block(x, 0.5, name="pool2")
    x = dense_block(x, blocks[1], name="conv3")
    x = transition_block(x, 0.5, name="pool3")
    x = dense_block(x, blocks[2], name="conv4")
    x = transition_block(x, 0.5, name="pool4")
    x = dense_block(x, blocks[3], name="conv5")
    x = layers.BatchNormalization(axis=3, epsilon=_EPS, name="bn")(x)
    x = layers.Activation("relu", name="relu")(x)
    if include_top:
        x = iu.classifier(x, classes, classifier_activation)
    else:
        x = iu.pool(x, pooling, named=True)
    return iu.finish(img_input, sources, x, name, weights)


def DenseNet121(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax", name="densenet121"):
    """Keras' DenseNet121: dense blocks of 6, 12, 24, 16 layers, 8.1 M weights with the top."""
    return DenseNet([6, 12, 24, 16], include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, name=name)


def DenseNet169(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax", name="densenet169"):
    """Keras' DenseNet169: dense blocks of 6, 12, 32, 32 layers."""
    return DenseNet([6, 12, 32, 32], include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, name=name)


def DenseNet201(include_top=True, weights="imagenet", input_tensor=None, input_shape=None, pooling=None,
                classes=1000, classifier_activation="softmax", name="densenet201"):
    """Keras' DenseNet201: dense blocks of 6, 12, 48, 32 layers."""
    return DenseNet([6, 12, 48, 32], include_top, weights, input_tensor, input_shape, pooling, classes,
                    classifier_activation, name=name)


def preprocess_input(x, data_format=None):
    """Keras' DenseNet preprocessing ("torch" mode): to [0, 1], then each channel standardised by
    ImageNet's mean and standard deviation."""
    return iu.preprocess_input(x, data_format=data_format, mode="torch")
