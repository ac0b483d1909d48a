"""What Keras 3.15's applications share (``keras.applications.imagenet_utils``): the input-shape
rules (``obtain_input_shape``), the padding of a strided convolution (``correct_pad``), the three
ImageNet preprocessings (``preprocess_input``) and, here, the ``weights`` argument and the model's
input and pooling, which each Keras builder repeats in its own body.

No file is downloaded: ``weights="imagenet"`` (Keras' default) and ``decode_predictions`` (whose
class index Keras downloads, it is not in its package) are refused by name.
"""
import os
import warnings

import numpy as np

__all__ = ["preprocess_input", "decode_predictions", "obtain_input_shape", "correct_pad"]

_MODES = ("caffe", "tf", "torch")
_CAFFE_MEAN = (103.939, 116.779, 123.68)          # BGR, ImageNet's mean pixel (Keras')
_TORCH_MEAN, _TORCH_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def preprocess_input(x, data_format=None, mode="caffe"):
    """Keras' ImageNet preprocessing of images ``x`` with values in [0, 255].

    x : array of shape (n, H, W, 3) or (H, W, 3) (channels_last; (n, 3, H, W) channels_first)
        A float array is written over, as Keras' is (pass ``np.copy(x)`` to keep it); another dtype
        is first converted to float32.
    mode : "caffe" (RGB to BGR, minus the ImageNet mean pixel), "tf" (to [-1, 1]) or "torch" (to
        [0, 1], then each channel standardised by ImageNet's mean and deviation).

    Returns the array of the same shape.

    >>> preprocess_input(np.array([[[0.0, 127.5, 255.0]]]), mode="tf")
    array([[[-1.,  0.,  1.]]])
    """
    if mode not in _MODES:
        raise ValueError(f"preprocess_input: mode must be one of {_MODES}; received mode={mode!r}")
    if data_format is None:
        data_format = "channels_last"
    elif data_format not in ("channels_first", "channels_last"):
        raise ValueError("preprocess_input: data_format must be 'channels_first' or 'channels_last'; "
                         f"received data_format={data_format!r}")
    x = x if isinstance(x, np.ndarray) else np.asarray(x)
    if not np.issubdtype(x.dtype, np.floating):
        x = x.astype(np.float32)
    if mode == "tf":
        x /= 127.5
        x -= 1.0
        return x
    channels_first = data_format == "channels_first"
    axis = (0 if x.ndim == 3 else 1) if channels_first else x.ndim - 1
    if x.shape[axis] != 3:
        raise ValueError(f"preprocess_input: x must have 3 colour channels on axis {axis} ({data_format}); "
                         f"received shape {x.shape}")
    shape = [1] * x.ndim
    shape[axis] = 3
    if mode == "torch":
        x /= 255.0
        mean, std = _TORCH_MEAN, _TORCH_STD
    else:
        x = np.flip(x, axis=axis)                   # RGB -> BGR, a view as Keras' x[..., ::-1]
        mean, std = _CAFFE_MEAN, None
    x -= np.asarray(mean, x.dtype).reshape(shape)
    if std is not None:
        x /= np.asarray(std, x.dtype).reshape(shape)
    return x


def decode_predictions(preds, top=5):
    """Keras' ``decode_predictions`` reads ImageNet's class index, a file Keras downloads (it is not
    in Keras' package): glassnet downloads nothing, so it is refused, after Keras' shape check.
    ``np.argsort(preds, axis=1)[:, ::-1][:, :top]`` gives the top class numbers."""
    shape = np.shape(preds)
    if len(shape) != 2 or shape[1] != 1000:
        raise ValueError("decode_predictions expects a batch of predictions (a 2D array of shape (samples, 1000)); "
                         f"received an array of shape {shape}")
    raise NotImplementedError(
        "decode_predictions needs ImageNet's class index (imagenet_class_index.json), which Keras downloads "
        "and glassnet does not: take the top classes with np.argsort(preds, axis=1)[:, ::-1][:, :top] and name "
        "them from an index file of your own")


def obtain_input_shape(input_shape, default_size, min_size, data_format, require_flatten, weights=None):
    """Keras' input-shape rules: the shape of one image, ``default_size`` square with 3 channels
    when ``input_shape`` is None (``(None, None, 3)`` when the top is left out), else
    ``input_shape`` checked: three numbers, each side at least ``min_size``, a static shape when a
    flattening top needs one (``require_flatten``)."""
    if input_shape is not None:
        if not isinstance(input_shape, (tuple, list)) or not all(
                d is None or (isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0)
                for d in input_shape):
            raise ValueError("input_shape must be a tuple of three positive integers (or None for a side); "
                             f"received input_shape={input_shape!r}")
        input_shape = tuple(None if d is None else int(d) for d in input_shape)
    if input_shape and len(input_shape) == 3:
        channels = input_shape[0] if data_format == "channels_first" else input_shape[-1]
        if channels not in (1, 3):
            warnings.warn("This model usually expects 1 or 3 input channels. However, it was passed an "
                          f"input_shape with {channels} input channels.", stacklevel=3)
        default_shape = ((channels, default_size, default_size) if data_format == "channels_first"
                         else (default_size, default_size, channels))
    else:
        default_shape = (3, default_size, default_size) if data_format == "channels_first" else (
            default_size, default_size, 3)
    if input_shape:
        if len(input_shape) != 3:
            raise ValueError(f"input_shape must be a tuple of three integers; received input_shape={input_shape}")
        sides = input_shape[1:] if data_format == "channels_first" else input_shape[:2]
        if any(side is not None and side < min_size for side in sides):
            raise ValueError(f"Input size must be at least {min_size}x{min_size}; received input_shape={input_shape}")
    elif require_flatten:
        input_shape = default_shape
    else:
        input_shape = (3, None, None) if data_format == "channels_first" else (None, None, 3)
    if require_flatten and None in input_shape:
        raise ValueError("If include_top is True, you should specify a static input_shape; "
                         f"received input_shape={input_shape}")
    return input_shape


def correct_pad(inputs, kernel_size):
    """The ``((top, bottom), (left, right))`` zero padding before a stride-2 'valid' convolution of
    ``kernel_size`` that takes the same pixels as TensorFlow's 'same' (one less on the top and left
    of an even side; a side of unknown size is taken as even), for a channels_last ``inputs``."""
    size = inputs.shape[1:3]
    if isinstance(kernel_size, int):
        kernel_size = (kernel_size, kernel_size)
    adjust = (1, 1) if size[0] is None else (1 - size[0] % 2, 1 - size[1] % 2)
    correct = (kernel_size[0] // 2, kernel_size[1] // 2)
    return ((correct[0] - adjust[0], correct[0]), (correct[1] - adjust[1], correct[1]))


# --- what each Keras builder repeats in its body ---------------------------------------------------

def check_weights(weights, name):
    """Refuse ``weights`` that are not None or a glassnet weights file, by name. Keras' default,
    "imagenet", is a download (and an ``.h5`` file one of Keras' files, which glassnet cannot read)."""
    if weights is None:
        return
    if isinstance(weights, str) and weights == "imagenet":
        raise ValueError(f"{name}: weights='imagenet' (Keras' default) downloads pre-trained weights, which "
                         "glassnet does not do: pass weights=None to build the architecture to train from "
                         "scratch, or the path of a file written by glassnet's save_weights")
    if not isinstance(weights, (str, os.PathLike)):
        raise TypeError(f"{name}: weights must be None or the path of a weights file; "
                        f"received {type(weights).__name__}")
    path = os.fspath(weights)
    if path.endswith((".h5", ".hdf5", ".keras")):
        raise ValueError(f"{name}: weights={path!r} is a Keras file (HDF5/.keras), which glassnet does not "
                         "read: load the weights in Keras and copy them with model.set_weights("
                         "keras_model.get_weights()), or pass a file written by glassnet's save_weights")
    if not os.path.exists(path):
        raise ValueError(f"{name}: the weights argument should be either None (random initialization) or "
                         f"the path to the weights file to be loaded; received weights={path!r}, not found")


def check_pooling(pooling, name):
    if pooling not in (None, "avg", "max"):
        raise ValueError(f"{name}: pooling must be None, 'avg' or 'max'; received pooling={pooling!r}")


def image_input(input_tensor, input_shape, name):
    """``input_tensor`` checked (a glassnet symbolic tensor, of ``input_shape`` when one is given),
    and the source inputs the model will take. Returns ``(input_tensor, inputs)``, ``(None, None)``
    without one (the builder makes its ``Input`` once the shape is settled)."""
    from .. import utils
    if input_tensor is None:
        return None, None
    if not utils.is_keras_tensor(input_tensor):
        raise TypeError(f"{name}: input_tensor must be a glassnet symbolic tensor (gn.Input(...) or a layer's "
                        f"output on one); received {type(input_tensor).__name__}")
    if input_shape is not None and tuple(input_tensor.shape[1:]) != tuple(input_shape):
        raise ValueError(f"{name}: input_tensor's shape {tuple(input_tensor.shape)} does not match "
                         f"input_shape={tuple(input_shape)}")
    return input_tensor, utils.get_source_inputs(input_tensor)


def tensor_shape(input_tensor, input_shape):
    """``input_shape``, or, when None, the sample shape of ``input_tensor`` (Keras' builders read it
    from there)."""
    if input_shape is None and input_tensor is not None:
        return tuple(input_tensor.shape[1:])
    return input_shape


def finish(img_input, sources, x, model_name, weights):
    """The functional model from the input (or ``input_tensor``'s sources) to ``x``, with the
    weights file loaded when one was given."""
    from ..graph import Model
    inputs = img_input if sources is None else (sources[0] if len(sources) == 1 else sources)
    model = Model(inputs, x, name=model_name)
    if weights is not None:
        model.load_weights(os.fspath(weights))
    return model


def pool(x, pooling, named=False):
    """Keras' ending without the top: global average or max pooling, or (None) the 4D feature map.
    ``named``: the pooling layer is "avg_pool" or "max_pool", as Keras' ResNet, DenseNet, EfficientNet
    (V2) and MobileNetV3 name it (the other families leave it unnamed)."""
    from .. import layers
    if pooling == "avg":
        return layers.GlobalAveragePooling2D(**({"name": "avg_pool"} if named else {}))(x)
    if pooling == "max":
        return layers.GlobalMaxPooling2D(**({"name": "max_pool"} if named else {}))(x)
    return x


def classifier(x, classes, classifier_activation, dropout_rate=0.0, kernel_initializer=None):
    """Keras' top of most families: "avg_pool" global average pooling, a "top_dropout" Dropout when
    ``dropout_rate`` > 0 (EfficientNet's), and the "predictions" Dense of ``classes`` units."""
    from .. import layers
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    if dropout_rate > 0:
        x = layers.Dropout(dropout_rate, name="top_dropout")(x)
    initializer = {} if kernel_initializer is None else {"kernel_initializer": kernel_initializer}
    return layers.Dense(classes, activation=classifier_activation, name="predictions", **initializer)(x)
