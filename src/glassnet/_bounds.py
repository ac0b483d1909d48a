"""How large one sample may grow inside a model: a cap checked when shapes become known (a model's
build, a layer's first call), never per training step.

Why: a model file or config is a few bytes of JSON, and some numbers in it size arrays without
being weights that the file must hold: ``UpSampling2D(size=(10**5, 10**5))``, ``RepeatVector(n=10**9)``,
``Resizing(10**6, 10**6)``, ``CategoryEncoding(num_tokens=10**10)``. Such a model loads in
milliseconds and then makes ``predict`` allocate terabytes. Every layer's output sample shape is
known at build time, so the model refuses one holding more than ``MAX_SAMPLE_VALUES`` numbers,
naming the layer, its shape and the cap; layers whose settings size a working array that does not
show in their output (a filter bank, an interpolation matrix, a histogram, a padded input) check
that array against the same cap in their own ``build``.

``MAX_SAMPLE_VALUES = 2 ** 32`` numbers (16 GiB of float32 for ONE sample): the largest output in
glassnet's examples is 21,952 numbers (a Conv3D's 14 x 14 x 14 x 8) and a VGG's widest map,
224 x 224 x 64, is 3.2 million, but a 3-D U-Net's first map on 256^3 volumes with 32 filters is
537 million, and the same cap applies to models built on the data's own shape (no Input): so the
cap is far above any array one sample can really use, and still refuses the terabytes a crafted
number asks for (what it lets through fails at once with NumPy's MemoryError).

>>> import glassnet as gn
>>> gn.Sequential([gn.layers.Input((4,)), gn.layers.RepeatVector(10 ** 10)])
Traceback (most recent call last):
...
ValueError: layer repeat_vector (RepeatVector): its output samples (n=10000000000) would be of shape (10000000000, 4), 40,000,000,000 numbers each, over MAX_SAMPLE_VALUES = 4,294,967,296 (16 GiB of float32): a damaged or crafted config?
"""
import math

MAX_SAMPLE_VALUES = 2 ** 32


def sample_values(shape):
    """The numbers one sample of ``shape`` holds, its axes of any size (None) counted as 1: the
    least it can hold, what can be told before the data comes."""
    return math.prod(1 if size is None else int(size) for size in shape)


# what every refusal ends with: the cap, by its name and value (a crafted config, most likely)
_CAP = f"MAX_SAMPLE_VALUES = {MAX_SAMPLE_VALUES:,} (16 GiB of float32): a damaged or crafted config?"


def _settings(layer):
    """The layer's settings that size its output, `` (name=value, ...)`` (``shape_arguments``), or ""."""
    names = getattr(type(layer), "shape_arguments", ())
    settings = ", ".join(f"{name}={getattr(layer, name)!r}" for name in names if hasattr(layer, name))
    return f" ({settings})" if settings else ""


def check_sample_values(layer, count, what):
    """Refuse ``count`` numbers per sample in ``what`` (an array the layer's forward pass would make
    for each sample: "its filter bank (num_mel_bins x (fft_length // 2 + 1))"), when over the cap."""
    if count > MAX_SAMPLE_VALUES:
        raise ValueError(f"{layer.describe()}: {what}{_settings(layer)} would hold {count:,} numbers per sample, "
                         f"over {_CAP}")


def check_output(layer, shape):
    """Refuse an output sample ``shape`` of ``layer`` holding more than ``MAX_SAMPLE_VALUES``
    numbers. ``shape`` may be a list of shapes (a layer of several outputs)."""
    shapes = shape if shape and isinstance(shape[0], (tuple, list)) else [shape]
    count = sum(sample_values(s) for s in shapes)
    if count > MAX_SAMPLE_VALUES:
        described = tuple(shapes[0]) if len(shapes) == 1 else [tuple(s) for s in shapes]
        raise ValueError(f"{layer.describe()}: its output samples{_settings(layer)} would be of shape {described}, "
                         f"{count:,} numbers each, over {_CAP}")


# An Input's fixed batch size, as a model file keeps it (Keras' InputLayer "batch_shape"[0]):
# glassnet allocates nothing from it, but code ported from Keras does (a stateful RNN's states,
# ``np.zeros((model.input_shape[0], units))``), so a file may not ask for more rows than any batch
# can hold: 2 ** 31 - 1, the int32 dimensions Keras' TensorFlow backend counts rows in
MAX_BATCH_SIZE = 2 ** 31 - 1


def check_file_batch_size(value, where):
    """``value``, a model file's (or config's) Input batch size at ``where``: None (any) or an int
    in [1, MAX_BATCH_SIZE]; anything else a ModelFileError naming ``where``."""
    if value is None or (isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_BATCH_SIZE):
        return value
    from .errors import ModelFileError
    raise ModelFileError(f"config: {where} must be null (any batch) or a whole number from 1 to MAX_BATCH_SIZE = "
                         f"{MAX_BATCH_SIZE:,}, got {value!r:.60}: a damaged or crafted config?")
