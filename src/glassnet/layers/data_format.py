"""Keras' ``data_format`` argument for the layers that compute channels last: the convolutions
(and their transposed, depthwise and separable kinds), the windowed and adaptive poolings,
ZeroPadding, Cropping, UpSampling, Flatten, SpatialDropout, and the image preprocessing and
augmentation layers (Resizing, the crops, the random ones, MixUp, CutMix, AugMix, RandAugment...).

``data_format="channels_first"`` takes samples (C, *spatial) and gives (filters, *out spatial), as
Keras and PyTorch's NCHW layers do. It is done simply: the batch's channel axis is moved last (one
contiguous copy), the layer's own channels-last forward runs, and its output's channel axis is
moved back (one more copy); the backward pass mirrors it. Kernels keep Keras' shapes, the same in
both formats (Keras' are too), so weights move between the formats and from Keras as they are.

Why per instance: a channels-first layer gets its entry points (forward, backward, build, the
shape questions) as attributes of its own, wrapping its class's; a channels-last layer has none,
so its hot path is the class's methods, untouched: no extra call, no transpose, the same bits.
A random layer draws from its generator inside its channels-last code, so one seed gives the same
draws in both formats; the segmentation masks of Keras' dict form ((N, C, H, W) too) are moved by
the same wrapping (``_transform_masks``).

While a wrapped method runs, ``layer.input_shape`` reads channels last, as the layer's own code
expects (``input_shape[-1]`` are its channels); outside, it is the sample shape the layer is given,
channels first, as models, summaries and configs show it.
"""
from .. import backend
from .._validation import check_choice

FORMATS = ("channels_last", "channels_first")
# the entry points a channels-first layer wraps, those its class has
_SHAPE_METHODS = ("build", "output_shape", "check_input_shape", "numbers_per_sample")
# (_transform_masks: the image layers' dict form, segmentation.py)
_ENTRY_POINTS = ("forward", "backward", "backward_from_logits", "matmul_flops", "_transform_masks", *_SHAPE_METHODS)


def set_data_format(layer, data_format):
    """Check ``data_format`` (None: ``gn.config.image_data_format()`` now, as Keras' constructors read
    it), set ``layer.data_format`` and, for "channels_first", give the layer its transposing entry
    points (``DataFormat``'s)."""
    if "data_format" in getattr(type(layer), "_not_taken", ()):
        # a rank Keras gives none (Cropping1D, UpSampling1D, SpatialDropout1D): channels last always,
        # whatever the global format
        layer.data_format = "channels_last"
        return
    layer.data_format = check_choice(backend.standardize_data_format(data_format),
                                     f"{type(layer).__name__}: data_format", FORMATS)
    if layer.data_format == "channels_first":
        layer._install_channels_first()


# activations along the last axis: on a channels-first output Keras takes them along its width
_LAST_AXIS = ("softmax", "log_softmax", "sparsemax")


def refuse_last_axis_activation(layer):
    """A channels-first layer's ``activation`` must act value by value: Keras applies softmax (and
    log_softmax, sparsemax) along the output's last axis, its width here, where glassnet's layer
    would take it along the channels; refused by name rather than computed otherwise than Keras."""
    name = getattr(layer.activation, "name", None)
    if layer.data_format == "channels_first" and name in _LAST_AXIS:
        raise ValueError(f"{type(layer).__name__}: activation={name!r} with data_format='channels_first' is not "
                         f"implemented (Keras takes it along the last axis, the width); give the layer no activation "
                         f"and put layers.Softmax(axis=1) (or the axis you mean) after it")


def config_entry(layer):
    """``{"data_format": "channels_first"}`` for a channels-first layer, {} otherwise: configs and
    model files of channels-last layers keep the bytes they had before the option."""
    return {"data_format": layer.data_format} if layer.data_format == "channels_first" else {}


def from_config_default(config):
    """A config without ``data_format`` (a file written before the option, or by a channels-last
    layer, which leaves it out) is channels last, whatever the global format when it is read."""
    return {"data_format": "channels_last", **config}


def sample_last(shape):
    """A sample shape (C, *spatial) as (*spatial, C); None (and ()) stay as they are."""
    return (*shape[1:], shape[0]) if shape else shape


def sample_first(shape):
    """A sample shape (*spatial, C) as (C, *spatial); None (and ()) stay as they are."""
    return (shape[-1], *shape[:-1]) if shape else shape


def to_last(x):
    """A batch (N, C, *spatial) as a contiguous (N, *spatial, C)."""
    am = backend.get_array_module(x)
    return am.ascontiguousarray(am.moveaxis(x, 1, -1))


def to_first(x):
    """A batch (N, *spatial, C) as a contiguous (N, C, *spatial)."""
    am = backend.get_array_module(x)
    return am.ascontiguousarray(am.moveaxis(x, -1, 1))


class _LastView:
    """``with _LastView(layer):`` the layer is a channels-last one inside: its ``input_shape`` reads
    channels last and its channels-first entry points are put away (its class's methods call each
    other, ``build`` calling ``output_shape``: those must be the class's); on the way out both come
    back (``input_shape`` channels first again, or, after a build, set so)."""

    def __init__(self, layer):
        self.layer = layer

    def __enter__(self):
        state = self.layer.__dict__
        self.entry_points = {name: state.pop(name) for name in _ENTRY_POINTS if name in state}
        self.layer.input_shape = sample_last(self.layer.input_shape)

    def __exit__(self, *exc):
        self.layer.input_shape = sample_first(self.layer.input_shape)
        self.layer.__dict__.update(self.entry_points)


class DataFormat:
    """The base (before ``Layer``) of the layers that take ``data_format``: the channels-first
    entry points that ``set_data_format`` puts on an instance, as bound methods (so that a deep copy
    or a pickle of the layer keeps them, bound to the copy), and ``from_config``'s default."""
    moves_output = True         # the output has the input's axes (not so for Flatten)
    data_format = "channels_last"       # (a layer pickled before the option)

    @classmethod
    def from_config(cls, config):
        from .base import own_arguments           # (base imports nothing of this module's)
        if "data_format" in own_arguments(cls):   # (not so for a base's other subclasses: RandomContrast)
            config = from_config_default(config)
        return super().from_config(config)

    def _install_channels_first(self):
        for name in _ENTRY_POINTS:
            if hasattr(type(self), name):
                setattr(self, name, getattr(self, f"_{name.lstrip('_')}_first"))

    def _forward_first(self, x, training=False, **kwargs):
        with _LastView(self):
            if x.ndim < 3:      # (batch, C) has no spatial axis: as it is (the layer's own check names it)
                return self.forward(x, training, **kwargs)
            out = self.forward(to_last(x), training, **kwargs)
        return to_first(out) if self.moves_output else out

    def _backward_first(self, grad_output, method="backward"):
        with _LastView(self):
            dx = getattr(self, method)(to_last(grad_output) if self.moves_output else grad_output)
        return None if dx is None else to_first(dx)

    def _backward_from_logits_first(self, grad_z):
        return self._backward_first(grad_z, "backward_from_logits")

    def _transform_masks_first(self, masks):
        # the masks of the images the last forward moved: (N, C, H, W) as the images
        with _LastView(self):
            return to_first(self._transform_masks(to_last(masks)))

    def _shape_first(self, method, sample_shape, *args, **kwargs):
        sample_shape = tuple(sample_shape)
        with _LastView(self):
            out = getattr(self, method)(sample_last(sample_shape) if sample_shape else sample_shape,
                                       *args, **kwargs)
        return sample_first(tuple(out)) if method == "output_shape" and self.moves_output else out

    def _build_first(self, input_shape):
        return self._shape_first("build", input_shape)

    def _output_shape_first(self, input_shape):
        return self._shape_first("output_shape", input_shape)

    def _check_input_shape_first(self, sample_shape):
        return self._shape_first("check_input_shape", sample_shape)

    def _numbers_per_sample_first(self, input_shape):
        return self._shape_first("numbers_per_sample", input_shape)

    def _matmul_flops_first(self, batch_size):
        with _LastView(self):
            return self.matmul_flops(batch_size)
