"""Keras 3.15's ``keras.quantizers``, the arithmetic part: ``abs_max_quantize``, ``Quantizer``,
``AbsMaxQuantizer``, ``compute_float8_scale``, ``compute_float8_amax_history``, ``pack_int4``,
``unpack_int4``, and ``get`` / ``serialize`` / ``deserialize`` of the quantizer classes.

Abs-max quantization scales ``x`` so that its largest magnitude along ``axis`` lands on
``value_range[1]`` (127 for int8), rounds and clips: ``q = clip(round(x * s), lo, hi)`` with
``s = hi / (max|x| + epsilon)`` of shape ``x`` with ``axis`` kept as 1; ``q / s`` is ``x`` to
within half a step. ``round`` is NumPy's (halves to even), as TensorFlow's.

>>> import numpy as np
>>> q, scale = abs_max_quantize(np.array([[0.5, -1.0, 0.25]], "float32"), axis=-1)
>>> q, q.dtype.name
(array([[  63, -127,   32]], dtype=int8), 'int8')

(0.5 gives 63, not 64: ``epsilon`` puts the scale a hair under 127, and 63.49999 rounds down, in
Keras too.)

``QuantizationConfig``, ``Int8QuantizationConfig`` and ``Int4QuantizationConfig`` (what
``model.quantize`` takes, glassnet.quantization_config) and
``abs_max_quantize_grouped_with_zero_point`` (int4's default sub-channel weights) are here too;
the quantized layers are glassnet.layers.quantized. Not built: float8, GPTQ and AWQ and their
configs, ``fake_quant_with_min_max_vars``, ``quantize_and_dequantize`` (float8 needs ml_dtypes).
"""
import numpy as np

__all__ = ["Quantizer", "AbsMaxQuantizer", "abs_max_quantize", "abs_max_quantize_grouped_with_zero_point",
           "compute_float8_scale", "compute_float8_amax_history", "pack_int4", "unpack_int4", "get", "serialize",
           "deserialize", "QuantizationConfig", "Int8QuantizationConfig", "Int4QuantizationConfig"]

_EPSILON = 1e-7         # Keras' backend.epsilon() when its module is imported


def _float_array(x, where):
    array = np.asarray(x)
    if array.dtype.kind not in "fiu":
        raise TypeError(f"{where}: expected a numeric array, got dtype {array.dtype}")
    return array if array.dtype.kind == "f" else array.astype("float32")


def abs_max_quantize(inputs, axis, value_range=(-127, 127), dtype="int8", epsilon=_EPSILON, to_numpy=False):
    """Keras' ``abs_max_quantize``: ``(quantized, scale)``, ``quantized`` of ``dtype`` and the
    shape of ``inputs``, ``scale`` in the dtype of ``inputs`` (float32 for integers) with each axis
    of ``axis`` (an int or a tuple) kept as 1. ``to_numpy`` changes nothing here (NumPy always)."""
    x = _float_array(inputs, "abs_max_quantize: inputs")
    lo, hi = _value_range(value_range, "abs_max_quantize")
    axis = tuple(axis) if isinstance(axis, (list, tuple)) else axis
    # each step in the inputs' dtype, as Keras' ops round each one (equal to the bit: tests/test_topnames.py)
    peak = np.max(np.abs(x), axis=axis, keepdims=True)
    scale = np.divide(x.dtype.type(hi), peak + x.dtype.type(epsilon)).astype(x.dtype)
    outputs = np.clip(np.round(x * scale), lo, hi).astype(dtype)
    return outputs, scale


def abs_max_quantize_grouped_with_zero_point(inputs, block_size, value_range=(-8, 7), dtype="int8",
                                             epsilon=_EPSILON, to_numpy=False):
    """Keras' grouped asymmetric quantization of a 2-D ``inputs`` (in, out): ``(quantized, scale,
    zero)``, each run of ``block_size`` rows (the last one zero-padded) with its own ``scale``
    and int8 ``zero`` point per column, both (ceil(in / block_size), out); ``quantized`` (in,
    out) of ``dtype`` is ``clip(round(x / scale) + zero)``, so ``(quantized - zero) * scale`` is
    ``x`` to within half a step. Each step in the inputs' dtype, as Keras' NumPy path."""
    x = _float_array(inputs, "abs_max_quantize_grouped_with_zero_point: inputs")
    if x.ndim != 2:
        raise ValueError(f"abs_max_quantize_grouped_with_zero_point: inputs: expected a 2-D array (in, out), got "
                         f"shape {x.shape}")
    if isinstance(block_size, bool) or not isinstance(block_size, (int, np.integer)) or block_size <= 0:
        raise ValueError(f"abs_max_quantize_grouped_with_zero_point: block_size: expected a positive integer, got "
                         f"{block_size!r:.40}")
    lo, hi = _value_range(value_range, "abs_max_quantize_grouped_with_zero_point")
    rows, cols = x.shape
    groups = -(-rows // block_size)
    padded = np.concatenate([x, np.zeros((groups * block_size - rows, cols), x.dtype)]) if groups * block_size > rows \
        else x
    blocks = padded.reshape(groups, block_size, cols)
    low, high = blocks.min(axis=1, keepdims=True), blocks.max(axis=1, keepdims=True)
    # Python numbers with float arrays keep the arrays' dtype (NumPy 2), as in Keras' own NumPy code
    scale = (high - low + epsilon) / (hi - lo)
    zero = np.clip(np.round(-low / scale) + lo, lo, hi)
    outputs = np.clip(np.round(blocks / scale) + zero, lo, hi).astype(dtype)
    outputs = outputs.reshape(groups * block_size, cols)[:rows]
    return outputs, scale[:, 0].astype(x.dtype), zero[:, 0].astype("int8")


def _value_range(value_range, where):
    if not isinstance(value_range, (tuple, list)) or len(value_range) != 2 or value_range[0] >= value_range[1]:
        raise ValueError(f"{where}: value_range: expected (low, high) with low < high, got {value_range!r:.60}")
    return value_range


class Quantizer:
    """Keras' ``Quantizer(output_dtype="int8")``: the base of quantizers; called, it returns its
    input. ``get_config``/``from_config`` as Keras'."""

    def __init__(self, output_dtype="int8"):
        self.output_dtype = output_dtype

    def __call__(self, x):
        return x

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def get_config(self):
        raise NotImplementedError(f"{type(self).__name__} does not implement get_config()")


class AbsMaxQuantizer(Quantizer):
    """Keras' ``AbsMaxQuantizer(axis=None, value_range=(-127, 127), epsilon=1e-7,
    output_dtype="int8")``: ``quantizer(x, axis=None, to_numpy=False)`` is
    ``abs_max_quantize(x, axis)``, ``axis`` the call's, else the constructor's, else -1."""

    def __init__(self, axis=None, value_range=(-127, 127), epsilon=_EPSILON, output_dtype="int8"):
        super().__init__(output_dtype=output_dtype)
        self.axis = None if axis is None else ((axis,) if isinstance(axis, int) else tuple(axis))
        self.value_range = _value_range(value_range, "AbsMaxQuantizer")
        self.epsilon = epsilon
        if output_dtype == "int8" and (value_range[0] < -128 or value_range[1] > 127):
            raise ValueError(f"AbsMaxQuantizer: value_range: output_dtype='int8' needs a range within [-128, 127], "
                             f"got {value_range!r}")

    def __call__(self, x, axis=None, to_numpy=False):
        axis = self.axis if axis is None else axis
        return abs_max_quantize(x, -1 if axis is None else axis, self.value_range, self.output_dtype, self.epsilon)

    def get_config(self):
        config = {"value_range": self.value_range, "epsilon": self.epsilon, "output_dtype": self.output_dtype}
        if self.axis is not None:
            config["axis"] = self.axis
        return config


def compute_float8_scale(amax, scale, dtype_max, margin=0):
    """Keras' ``compute_float8_scale``: the new scale ``amax / dtype_max * 2**margin`` (the
    reciprocal of Transformer Engine's), ``scale`` kept where ``amax`` is 0 or not finite."""
    amax = _float_array(amax, "compute_float8_scale: amax")
    scale = np.asarray(scale, dtype=amax.dtype)
    with np.errstate(divide="ignore", invalid="ignore"):
        factor = amax.dtype.type(dtype_max) / amax / amax.dtype.type(2.0 ** margin)
        factor = np.where((amax > 0) & np.isfinite(amax), factor, 1 / scale)
        return (1 / factor).astype(amax.dtype)


def compute_float8_amax_history(x, amax_history):
    """Keras' ``compute_float8_amax_history``: the history rolled one place to the front (the
    oldest value moves last), then ``max|x|`` written first."""
    history = np.roll(np.asarray(amax_history), -1).copy()
    history[0] = np.max(np.abs(np.asarray(x)))
    return history


def _int4_dtype(dtype):
    if dtype not in ("int8", "uint8"):
        raise ValueError(f"int4 packing: dtype: expected 'int8' or 'uint8', got {dtype!r:.40}")
    return np.dtype(dtype)


def pack_int4(arr, axis=0, dtype="int8"):
    """Keras' ``pack_int4``: ``(packed, packed_shape, orig_len)``, two values of ``[-8, 7]``
    along ``axis`` in one byte (the first in the low nibble), an odd length padded with 0."""
    np_dtype = _int4_dtype(dtype)
    arr = np.asarray(arr)
    if arr.dtype != np_dtype:
        raise TypeError(f"pack_int4: arr: expected a {dtype} array, got {arr.dtype}")
    moved = np.moveaxis(arr, axis, 0)
    n = moved.shape[0]
    if n % 2:
        moved = np.concatenate([moved, np.zeros((1,) + moved.shape[1:], np_dtype)])
    mask = np_dtype.type(0x0F)
    packed = ((moved[::2] & mask) | ((moved[1::2] & mask) << np_dtype.type(4))).astype(np_dtype)
    packed = np.moveaxis(packed, 0, axis)
    return packed, tuple(packed.shape), n


def unpack_int4(packed, orig_len, axis=0, dtype="int8"):
    """Keras' ``unpack_int4``: ``pack_int4`` undone, ``orig_len`` values along ``axis`` (signed
    ``[-8, 7]`` for "int8", the nibbles ``[0, 15]`` for "uint8")."""
    np_dtype = _int4_dtype(dtype)
    packed = np.asarray(packed)
    if packed.dtype not in (np.int8, np.uint8):
        raise TypeError(f"unpack_int4: packed: expected an int8 or uint8 array, got {packed.dtype}")
    moved = np.moveaxis(packed, axis, 0)
    mask = packed.dtype.type(0x0F)
    low, high = moved & mask, (moved >> packed.dtype.type(4)) & mask
    if dtype == "int8":                 # nibbles 8..15 are -8..-1: (x ^ 8) - 8
        eight = packed.dtype.type(8)
        low, high = (low ^ eight) - eight, (high ^ eight) - eight
    stacked = np.stack([low.astype(np_dtype), high.astype(np_dtype)], axis=1)
    unpacked = stacked.reshape((-1,) + moved.shape[1:])[:orig_len]
    return np.moveaxis(unpacked, 0, axis)


_CLASSES = {"Quantizer": Quantizer, "AbsMaxQuantizer": AbsMaxQuantizer,
            "quantizer": Quantizer, "abs_max_quantizer": AbsMaxQuantizer}


def serialize(initializer):
    """Keras' dict of a quantizer: ``{"module": "keras.quantizers", "class_name": ..., "config":
    get_config(), "registered_name": None}`` (Keras' argument name, ``initializer``, kept)."""
    if not isinstance(initializer, Quantizer):
        raise TypeError(f"quantizers.serialize: initializer: expected a Quantizer, got {type(initializer).__name__}")
    return {"module": "keras.quantizers", "class_name": type(initializer).__name__, "config": initializer.get_config(),
            "registered_name": None}


def deserialize(config, custom_objects=None):
    """The quantizer ``serialize`` wrote (or a class name, Keras' snake-case one too)."""
    if isinstance(config, str):
        config = {"class_name": config, "config": {}}
    if not isinstance(config, dict) or not isinstance(config.get("config", {}), dict):
        raise TypeError(f"quantizers.deserialize: config: expected a dict with 'class_name' and 'config', got "
                        f"{config!r:.80}")
    name = config.get("class_name")
    cls = (custom_objects or {}).get(name) or _CLASSES.get(name)
    if cls is None:
        raise ValueError(f"quantizers.deserialize: config: class_name: expected one of {sorted(_CLASSES)}, got "
                         f"{name!r:.60}")
    inner = dict(config.get("config", {}))
    if isinstance(inner.get("value_range"), list):
        inner["value_range"] = tuple(inner["value_range"])
    return cls.from_config(inner)


def get(identifier, **kwargs):
    """Keras' ``quantizers.get``: None, a quantizer (as it is), a class name (an instance made with
    ``kwargs``), or a ``serialize`` dict."""
    if identifier is None:
        return None
    if isinstance(identifier, Quantizer):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str) and identifier in _CLASSES:
        return _CLASSES[identifier](**kwargs)
    raise ValueError(f"quantizers.get: identifier: expected None, a Quantizer, one of {sorted(_CLASSES)} or a "
                     f"serialize dict, got {identifier!r:.60}")



# the configs model.quantize takes, in their own module (which reads this one's quantizers lazily)
from .quantization_config import Int4QuantizationConfig, Int8QuantizationConfig, QuantizationConfig  # noqa: E402
