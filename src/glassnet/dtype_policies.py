"""Keras 3.15's ``keras.dtype_policies``: ``DTypePolicy``, ``FloatDTypePolicy``, ``get``,
``serialize``, ``deserialize``, on glassnet's float dtypes.

A policy names the dtype a layer computes in (``compute_dtype``) and keeps its weights in
(``variable_dtype``). glassnet computes in float32 or float64 and keeps weights in the same, so
its policies are Keras' float policies of those two: ``compute_dtype == variable_dtype == name``.
Keras' mixed policies (``"mixed_float16"``, ``"mixed_bfloat16"``: half-precision compute over
float32 weights) and half precision are refused by name: glassnet has no float16 kernels, and a
model silently computing in float32 under a policy saying float16 would not be Keras' model.
A quantized layer (``layer.quantize("int8")``, glassnet.layers.quantized) has Keras' quantized
policy, ``QuantizedDTypePolicy("int8", "float32")`` named ``"int8_from_float32"`` (int4:
``Int4DTypePolicy("int4/128", "float32")``, ``"int4/128_from_float32"``); ``get`` of those names
is refused, as Keras' float8, GPTQ and AWQ ones: quantize a layer with ``quantize``.

>>> from glassnet import dtype_policies
>>> dtype_policies.get("float64"), dtype_policies.serialize(dtype_policies.DTypePolicy())["config"]
(<DTypePolicy "float64">, {'name': 'float32'})
"""
__all__ = ["DTypePolicy", "FloatDTypePolicy", "QuantizedDTypePolicy", "Int4DTypePolicy", "get", "serialize",
           "deserialize"]

_NAMES = ("float32", "float64")
_REFUSED = ("float16", "bfloat16", "mixed_float16", "mixed_bfloat16")


def check_policy_name(name, where):
    """``name`` if glassnet computes in it ("float32", "float64"); a TypeError or a ValueError
    naming ``where`` otherwise (Keras' mixed and half-precision policies by name)."""
    if not isinstance(name, str):
        raise TypeError(f"{where}: expected a string such as 'float32' or 'float64', got "
                        f"{type(name).__name__} {name!r:.40}")
    if name in _REFUSED or "_from_" in name:
        raise ValueError(f"{where}: glassnet computes in 'float32' or 'float64' only (no mixed, half-precision or "
                         f"quantized policies), got {name!r}")
    if name not in _NAMES:
        raise ValueError(f"{where}: expected 'float32' or 'float64', got {name!r:.60}")
    return name


class DTypePolicy:
    """Keras' ``DTypePolicy(name=None)``: ``name`` "float32" or "float64" (None: floatx). Its
    ``name``, ``compute_dtype`` and ``variable_dtype`` are that name; ``quantization_mode`` is None.
    ``get_config()`` gives ``{"name": name}``; ``from_config`` makes it again."""
    quantization_mode = None

    def __init__(self, name=None):
        if name is None:
            from .backend import floatx
            name = floatx()
        self.name = self.compute_dtype = self.variable_dtype = check_policy_name(name, f"{type(self).__name__}: name")

    def get_config(self):
        return {"name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f'<DTypePolicy "{self.name}">'

    def __eq__(self, other):
        return isinstance(other, DTypePolicy) and other.name == self.name

    __hash__ = None


class FloatDTypePolicy(DTypePolicy):
    """Keras' ``FloatDTypePolicy``: a ``DTypePolicy`` of a float dtype (what every glassnet one is);
    Keras 3.15 keeps it as a subclass for old configs."""


class QuantizedDTypePolicy(DTypePolicy):
    """Keras' ``QuantizedDTypePolicy(mode, source_name=None)`` of a quantized layer: ``name``
    ``f"{mode}_from_{source_name}"``, ``quantization_mode`` ``mode`` ("int8"), computing in
    ``source_name`` ("float32", "float64"; None: the global policy's). ``get_config``:
    ``{"mode", "source_name"}``, Keras'."""

    def __init__(self, mode, source_name=None):
        if mode not in ("int8", "int4"):
            raise ValueError(f"{type(self).__name__}: mode: expected 'int8' or 'int4', got {mode!r:.40}")
        source = DTypePolicy(source_name).name
        self.compute_dtype = self.variable_dtype = self.source_name = source
        self.quantization_mode = mode
        self.name = f"{mode}_from_{source}"

    def get_config(self):
        return {"mode": self.quantization_mode, "source_name": self.source_name}

    def __repr__(self):
        return f'<{type(self).__name__} "{self.name}">'


class Int4DTypePolicy(QuantizedDTypePolicy):
    """Keras' ``Int4DTypePolicy("int4/<block_size>", source_name)``: int4 weights in groups of
    ``block_size`` input rows (-1: one scale per output unit); ``name`` ``"int4/128_from_float32"``."""

    def __init__(self, mode, source_name=None):
        parts = mode.split("/") if isinstance(mode, str) else ()
        block = parts[1] if len(parts) == 2 and parts[0] == "int4" else ""
        if not block.lstrip("-").isdigit() or int(block) < -1 or int(block) == 0:
            raise ValueError(f"Int4DTypePolicy: mode: expected 'int4/<block_size>' with block_size -1 or positive, "
                             f"got {mode!r:.40}")
        super().__init__("int4", source_name)
        self.block_size = int(block)
        self.name = f"int4/{self.block_size}_from_{self.source_name}"

    def get_config(self):
        return {"mode": f"int4/{self.block_size}", "source_name": self.source_name}


_CLASSES = {"DTypePolicy": DTypePolicy, "FloatDTypePolicy": FloatDTypePolicy,
            "QuantizedDTypePolicy": QuantizedDTypePolicy, "Int4DTypePolicy": Int4DTypePolicy}


def get(identifier):
    """Keras' ``dtype_policies.get``: a policy from a name ("float32"), a policy (returned as it
    is), a ``serialize`` dict, or None (the global policy, ``config.dtype_policy()``)."""
    if identifier is None:
        from .config import dtype_policy
        return dtype_policy()
    if isinstance(identifier, DTypePolicy):
        return identifier
    if isinstance(identifier, dict):
        return deserialize(identifier)
    if isinstance(identifier, str):
        return DTypePolicy(identifier)
    raise ValueError(f"dtype_policies.get: identifier: expected a string or a DTypePolicy, got "
                     f"{type(identifier).__name__} {identifier!r:.40}")


def serialize(dtype_policy):
    """Keras' dict of a policy: ``{"module": "keras", "class_name": "DTypePolicy", "config":
    {"name": "float32"}, "registered_name": None}`` (what Keras' model files hold)."""
    if not isinstance(dtype_policy, DTypePolicy):
        raise TypeError(f"dtype_policies.serialize: dtype_policy: expected a DTypePolicy, got "
                        f"{type(dtype_policy).__name__}")
    return {"module": "keras", "class_name": type(dtype_policy).__name__, "config": dtype_policy.get_config(),
            "registered_name": None}


def deserialize(config, custom_objects=None):
    """The policy ``serialize`` wrote (``class_name`` DTypePolicy or FloatDTypePolicy)."""
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise TypeError(f"dtype_policies.deserialize: config: expected a dict with 'class_name' and 'config', got "
                        f"{config!r:.80}")
    cls = (custom_objects or {}).get(config.get("class_name")) or _CLASSES.get(config.get("class_name"))
    if cls is None:
        raise ValueError(f"dtype_policies.deserialize: config: class_name: expected one of {sorted(_CLASSES)}, got "
                         f"{config.get('class_name')!r:.60}")
    return cls.from_config(config["config"])
