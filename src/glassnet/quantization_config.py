"""Keras 3.15's quantization configs (``keras.quantizers.QuantizationConfig``,
``Int8QuantizationConfig``, ``Int4QuantizationConfig``): what ``model.quantize(mode, config=)``
takes, how the weights and the inputs of a quantized layer are quantized.

``Int8QuantizationConfig()``: the weights per output unit, the inputs per row at every call
(``AbsMaxQuantizer(axis=-1)``). ``Int4QuantizationConfig(block_size=128)``: the weights in groups
of ``block_size`` input rows, each with a scale and a zero point (``block_size`` None or -1: one
scale per output unit, no zero point); the inputs are not quantized. ``get_config`` and the
``serialize`` dicts are Keras' (a layer's ``quantization_config`` in a ``.keras`` file).

>>> config = Int4QuantizationConfig(block_size=64)
>>> config.mode, config.get_config()["block_size"]
('int4', 64)
"""
__all__ = ["QuantizationConfig", "Int8QuantizationConfig", "Int4QuantizationConfig", "resolve", "serialize",
           "deserialize"]

MODES = ("int8", "int4")         # what glassnet's layers quantize to
_KERAS_ONLY = ("float8", "gptq", "awq")


def _quantizer(value, where):
    from .quantizers import Quantizer, deserialize as quantizer_from
    if value is None or isinstance(value, Quantizer):
        return value
    if isinstance(value, dict):
        return quantizer_from(value)
    raise TypeError(f"{where}: expected None, a Quantizer or its serialize dict, got {type(value).__name__}")


class QuantizationConfig:
    """Keras' base config: ``weight_quantizer`` and ``activation_quantizer`` (None: the mode's
    default). ``mode`` is the subclass's."""
    mode = None

    def __init__(self, weight_quantizer=None, activation_quantizer=None):
        where = type(self).__name__
        self.weight_quantizer = _quantizer(weight_quantizer, f"{where}: weight_quantizer")
        self.activation_quantizer = _quantizer(activation_quantizer, f"{where}: activation_quantizer")

    def get_config(self):
        from .quantizers import serialize as quantizer_dict
        return {key: None if value is None else quantizer_dict(value) for key, value in
                (("weight_quantizer", self.weight_quantizer), ("activation_quantizer", self.activation_quantizer))}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} {self.get_config()}>"


class Int8QuantizationConfig(QuantizationConfig):
    """Keras' ``Int8QuantizationConfig(weight_quantizer=None, activation_quantizer="default")``:
    "default" is ``AbsMaxQuantizer()`` (each input row at every call); None quantizes no input."""
    mode = "int8"

    def __init__(self, weight_quantizer=None, activation_quantizer="default"):
        from .quantizers import AbsMaxQuantizer
        if isinstance(activation_quantizer, str) and activation_quantizer == "default":
            activation_quantizer = AbsMaxQuantizer()
        super().__init__(weight_quantizer, activation_quantizer)
        if self.weight_quantizer is not None and self.weight_quantizer.output_dtype != "int8":
            raise ValueError(f"Int8QuantizationConfig: weight_quantizer: expected output_dtype='int8', got "
                             f"{self.weight_quantizer.output_dtype!r}")


class Int4QuantizationConfig(QuantizationConfig):
    """Keras' ``Int4QuantizationConfig(weight_quantizer=None, activation_quantizer="default",
    block_size=128)``: "default" quantizes no input; ``block_size`` a positive integer (groups of
    input rows, with zero points) or None / -1 (one scale per output unit); custom quantizers only
    with the latter, as Keras'."""
    mode = "int4"

    def __init__(self, weight_quantizer=None, activation_quantizer="default", block_size=128):
        if isinstance(activation_quantizer, str) and activation_quantizer == "default":
            activation_quantizer = None
        super().__init__(weight_quantizer, activation_quantizer)
        if block_size is not None and (isinstance(block_size, bool) or not isinstance(block_size, int)
                                       or (block_size != -1 and block_size <= 0)):
            raise ValueError(f"Int4QuantizationConfig: block_size: expected None, -1 or a positive integer, got "
                             f"{block_size!r:.40}")
        self.block_size = block_size
        if self.grouped and (self.weight_quantizer is not None or self.activation_quantizer is not None):
            raise ValueError("Int4QuantizationConfig: custom quantizers need per-channel weights (block_size None or "
                             f"-1), got block_size={block_size}")
        if self.weight_quantizer is not None and (tuple(self.weight_quantizer.value_range) != (-8, 7)
                                                  or self.weight_quantizer.output_dtype != "int8"):
            raise ValueError("Int4QuantizationConfig: weight_quantizer: expected value_range=(-8, 7) and "
                             "output_dtype='int8'")

    @property
    def grouped(self):
        """Whether the weights are quantized in groups of ``block_size`` rows (with zero points)."""
        return self.block_size is not None and self.block_size > 0

    def get_config(self):
        return {**super().get_config(), "block_size": self.block_size}


_CLASSES = {"Int8QuantizationConfig": Int8QuantizationConfig, "Int4QuantizationConfig": Int4QuantizationConfig}


def resolve(mode, config, where="quantize"):
    """Keras' ``validate_and_resolve_config``: the config for ``mode`` ("int8", "int4") and/or
    ``config`` (a config, or a mode's name), refused by name when they disagree or name a mode
    glassnet does not quantize to (float8, GPTQ, AWQ)."""
    if isinstance(config, str):
        mode, config = config, None
    if config is not None and not isinstance(config, QuantizationConfig):
        raise TypeError(f"{where}: config: expected an Int8QuantizationConfig or Int4QuantizationConfig, got "
                        f"{type(config).__name__}")
    named = mode if mode is not None else (config.mode if config is not None else None)
    if named is None:
        raise ValueError(f"{where}: give mode ('int8' or 'int4') or config")
    if named in _KERAS_ONLY:
        raise NotImplementedError(f"{where}: mode={named!r} is Keras' but not built in glassnet, which quantizes to "
                                  f"{' and '.join(map(repr, MODES))} (Dense, EinsumDense, Embedding)")
    if named not in MODES:
        raise ValueError(f"{where}: mode: expected one of {MODES}, got {named!r:.40}")
    if config is None:
        config = Int8QuantizationConfig() if named == "int8" else Int4QuantizationConfig()
    if config.mode != named:
        raise ValueError(f"{where}: mode={named!r} but config is for {config.mode!r}")
    return config


def serialize(config):
    """Keras' dict of a config (``{"module": "keras.quantizers", "class_name", "config",
    "registered_name": None}``), None for None."""
    if config is None:
        return None
    return {"module": "keras.quantizers", "class_name": type(config).__name__, "config": config.get_config(),
            "registered_name": None}


def deserialize(entry, where="quantization_config"):
    """The config ``serialize`` wrote (Keras' too); None for None."""
    if entry is None or isinstance(entry, QuantizationConfig):
        return entry
    if not isinstance(entry, dict) or not isinstance(entry.get("config", {}), dict):
        raise TypeError(f"{where}: expected a dict with 'class_name' and 'config', got {entry!r:.80}")
    cls = _CLASSES.get(entry.get("class_name"))
    if cls is None:
        raise ValueError(f"{where}: class_name: expected one of {sorted(_CLASSES)}, got {entry.get('class_name')!r:.60}")
    return cls.from_config(dict(entry.get("config") or {}))
