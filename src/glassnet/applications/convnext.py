"""ConvNeXt Tiny, Small, Base, Large and XLarge (Liu et al. 2022, "A ConvNet for the 2020s"),
Keras 3.15's ``keras.applications.convnext``: one ``ConvNeXt`` builder, the same layers, names
(the stem and the three downsampling steps are nested ``Sequential`` models, as Keras'), model
name and weight order as Keras', so ``set_weights(keras_model.get_weights())`` carries a Keras
model's weights over.

A block: 7x7 depthwise convolution (a ``Conv2D`` with ``groups`` = channels), LayerNormalization
(epsilon 1e-6), Dense to 4x the channels, exact GELU, Dense back, ``LayerScale`` (1e-6 at first),
``StochasticDepth`` (Keras' variants use a rate of 0: an identity ``Activation("linear")`` then),
added to the block's input.

With ``include_preprocessing`` (Keras' default) the model takes pixels in [0, 255] and standardises
them itself with ImageNet's mean and deviation (a ``Normalization`` with them given: no weights), so
``preprocess_input`` returns its input, as Keras'.

    base = ConvNeXtTiny(input_shape=(64, 64, 3), include_top=False, weights=None, pooling="avg")
    # base.output_shape == (None, 768)
"""
import numpy as np

from . import imagenet_utils as iu
from .imagenet_utils import decode_predictions

__all__ = ["ConvNeXt", "ConvNeXtTiny", "ConvNeXtSmall", "ConvNeXtBase", "ConvNeXtLarge", "ConvNeXtXLarge",
           "preprocess_input", "decode_predictions", "MODEL_CONFIGS"]

MODEL_CONFIGS = {
    "tiny": {"depths": [3, 3, 9, 3], "projection_dims": [96, 192, 384, 768], "default_size": 224},
    "small": {"depths": [3, 3, 27, 3], "projection_dims": [96, 192, 384, 768], "default_size": 224},
    "base": {"depths": [3, 3, 27, 3], "projection_dims": [128, 256, 512, 1024], "default_size": 224},
    "large": {"depths": [3, 3, 27, 3], "projection_dims": [192, 384, 768, 1536], "default_size": 224},
    "xlarge": {"depths": [3, 3, 27, 3], "projection_dims": [256, 512, 1024, 2048], "default_size": 224},
}


def ConvNeXtBlock(projection_dim, drop_path_rate=0.0, layer_scale_init_value=1e-6, name=None):
    """Keras' ConvNeXt block, as a function of the input ``(n, H, W, projection_dim)`` returning
    the same shape. ``drop_path_rate`` 0 puts an identity where the StochasticDepth would be
    (Keras' ``{name}_identity``); ``layer_scale_init_value`` None leaves out the LayerScale."""
    from .. import layers

    def apply(inputs):
        x = layers.Conv2D(filters=projection_dim, kernel_size=7, padding="same", groups=projection_dim,
                          name=f"{name}_depthwise_conv")(inputs)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_layernorm")(x)
        x = layers.Dense(4 * projection_dim, name=f"{name}_pointwise_conv_1")(x)
        x = layers.Activation("gelu", name=f"{name}_gelu")(x)
        x = layers.Dense(projection_dim, name=f"{name}_pointwise_conv_2")(x)
        if layer_scale_init_value is not None:
            x = layers.LayerScale(layer_scale_init_value, projection_dim, name=f"{name}_layer_scale")(x)
        if drop_path_rate:
            layer = layers.StochasticDepth(drop_path_rate, name=f"{name}_stochastic_depth")
        else:
            layer = layers.Activation("linear", name=f"{name}_identity")
        return inputs + layer(x)          # Keras' ``+``: an "add" node, as Keras draws it
    return apply


def ConvNeXt(depths, projection_dims, drop_path_rate=0.0, layer_scale_init_value=1e-6, default_size=224,
             name="convnext", include_preprocessing=True, include_top=True, weights=None, input_tensor=None,
             input_shape=None, pooling=None, classes=1000, classifier_activation="softmax", weights_name=None):
    """Keras' ConvNeXt: four stages of ``depths[i]`` blocks at ``projection_dims[i]`` channels,
    a 4x4 stride-4 stem and 2x2 stride-2 downsamplings between them; ``drop_path_rate`` grows
    linearly from 0 over the blocks.

    input_shape : (H, W, 3), each side at least 32; default (default_size, default_size, 3) with
        the top, (None, None, 3) without. Output (n, classes) with the top; without it, Keras'
        ending: the map (n, H/32, W/32, C), or its pooling (n, C), then a LayerNormalization.
    """
    from .. import layers
    from ..model import Sequential
    iu.check_weights(weights, name)
    iu.check_pooling(pooling, name)
    if len(depths) != 4 or len(projection_dims) != 4:
        raise ValueError(f"{name}: depths and projection_dims must have 4 entries (one per stage); "
                         f"received depths={depths!r}, projection_dims={projection_dims!r}")
    img_input, sources = iu.image_input(input_tensor, input_shape, name)
    input_shape = iu.obtain_input_shape(iu.tensor_shape(input_tensor, input_shape), default_size=default_size,
                                        min_size=32, data_format="channels_last", require_flatten=include_top)
    if img_input is None:
        img_input = layers.Input(shape=input_shape)
    x = img_input
    if include_preprocessing and input_shape[2] == 3:
        x = layers.Normalization(mean=[0.485 * 255, 0.456 * 255, 0.406 * 255],
                                 variance=[(0.229 * 255) ** 2, (0.224 * 255) ** 2, (0.225 * 255) ** 2],
                                 name=f"{name}_prestem_normalization")(x)

    stem = Sequential([layers.Conv2D(projection_dims[0], kernel_size=4, strides=4, name=f"{name}_stem_conv"),
                       layers.LayerNormalization(epsilon=1e-6, name=f"{name}_stem_layernorm")],
                      name=f"{name}_stem")
    downsample_layers = [stem] + [
        Sequential([layers.LayerNormalization(epsilon=1e-6, name=f"{name}_downsampling_layernorm_{i}"),
                    layers.Conv2D(projection_dims[i + 1], kernel_size=2, strides=2,
                                  name=f"{name}_downsampling_conv_{i}")],
                   name=f"{name}_downsampling_block_{i}") for i in range(3)]

    # the stochastic depth schedule of the ConvNeXt paper's code (Keras' too)
    depth_drop_rates = [float(r) for r in np.linspace(0.0, drop_path_rate, sum(depths))]
    cur = 0
    for i in range(4):
        x = downsample_layers[i](x)
        for j in range(depths[i]):
            x = ConvNeXtBlock(projection_dim=projection_dims[i], drop_path_rate=depth_drop_rates[cur + j],
                              layer_scale_init_value=layer_scale_init_value, name=f"{name}_stage_{i}_block_{j}")(x)
        cur += depths[i]

    if include_top:
        x = layers.GlobalAveragePooling2D(name=f"{name}_head_gap")(x)
        x = layers.LayerNormalization(epsilon=1e-6, name=f"{name}_head_layernorm")(x)
        x = layers.Dense(classes, activation=classifier_activation, name=f"{name}_head_dense")(x)
    else:
        x = iu.pool(x, pooling)
        # Keras' ending without the top: a LayerNormalization even on the 4D map
        x = layers.LayerNormalization(epsilon=1e-6)(x)
    return iu.finish(img_input, sources, x, name, weights)


def _variant(size, name, include_top, include_preprocessing, weights, input_tensor, input_shape, pooling, classes,
             classifier_activation):
    config = MODEL_CONFIGS[size]
    return ConvNeXt(config["depths"], config["projection_dims"], drop_path_rate=0.0, layer_scale_init_value=1e-6,
                    default_size=config["default_size"], name=name, include_preprocessing=include_preprocessing,
                    include_top=include_top, weights=weights, input_tensor=input_tensor, input_shape=input_shape,
                    pooling=pooling, classes=classes, classifier_activation=classifier_activation,
                    weights_name=f"convnext_{size}")


def ConvNeXtTiny(include_top=True, include_preprocessing=True, weights="imagenet", input_tensor=None,
                 input_shape=None, pooling=None, classes=1000, classifier_activation="softmax", name="convnext_tiny"):
    """Keras' ConvNeXtTiny: depths (3, 3, 9, 3), 96 to 768 channels; 28.6 M weights with the top."""
    return _variant("tiny", name, include_top, include_preprocessing, weights, input_tensor, input_shape, pooling,
                    classes, classifier_activation)


def ConvNeXtSmall(include_top=True, include_preprocessing=True, weights="imagenet", input_tensor=None,
                  input_shape=None, pooling=None, classes=1000, classifier_activation="softmax",
                  name="convnext_small"):
    """Keras' ConvNeXtSmall: depths (3, 3, 27, 3), 96 to 768 channels."""
    return _variant("small", name, include_top, include_preprocessing, weights, input_tensor, input_shape, pooling,
                    classes, classifier_activation)


def ConvNeXtBase(include_top=True, include_preprocessing=True, weights="imagenet", input_tensor=None,
                 input_shape=None, pooling=None, classes=1000, classifier_activation="softmax", name="convnext_base"):
    """Keras' ConvNeXtBase: depths (3, 3, 27, 3), 128 to 1024 channels."""
    return _variant("base", name, include_top, include_preprocessing, weights, input_tensor, input_shape, pooling,
                    classes, classifier_activation)


def ConvNeXtLarge(include_top=True, include_preprocessing=True, weights="imagenet", input_tensor=None,
                  input_shape=None, pooling=None, classes=1000, classifier_activation="softmax",
                  name="convnext_large"):
    """Keras' ConvNeXtLarge: depths (3, 3, 27, 3), 192 to 1536 channels."""
    return _variant("large", name, include_top, include_preprocessing, weights, input_tensor, input_shape, pooling,
                    classes, classifier_activation)


def ConvNeXtXLarge(include_top=True, include_preprocessing=True, weights="imagenet", input_tensor=None,
                   input_shape=None, pooling=None, classes=1000, classifier_activation="softmax",
                   name="convnext_xlarge"):
    """Keras' ConvNeXtXLarge: depths (3, 3, 27, 3), 256 to 2048 channels."""
    return _variant("xlarge", name, include_top, include_preprocessing, weights, input_tensor, input_shape, pooling,
                    classes, classifier_activation)


def preprocess_input(x, data_format=None):
    """Keras' placeholder: the model standardises its input itself (``include_preprocessing``), so
    ``x`` comes back unchanged."""
    return x
