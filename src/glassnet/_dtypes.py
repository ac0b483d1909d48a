"""Keras 3.15's dtype rules (keras/src/backend/common/dtypes.py): ``result_type``, the dtype two or
more dtypes promote to, and ``is_float_dtype`` / ``is_int_dtype`` (exported by glassnet.backend).

Keras' promotion is JAX's lattice, not NumPy's table: ``int8`` with ``uint8`` is ``int16`` in
both, but an int with ``float16`` stays ``float16`` (NumPy: float16 for int8, float64 for int64),
and Python's ``int`` and ``float`` are "weak": they take the other dtype's kind and width
(``result_type("int8", int)`` is ``"int8"``, ``result_type("bfloat16", float)`` ``"bfloat16"``).
The table is Keras' with its TensorFlow backend, whose names glassnet's ``standardize_dtype``
gives (``int`` -> ``"int64"``): int64 and float64 stay 64-bit; uint64 and complex128 become
uint32 and complex64, as in every Keras backend.
"""
import functools

from . import backend
from ._keras_helpers import standardize_dtype

__all__ = ["result_type", "is_float_dtype", "is_int_dtype"]

_WEAK = ("int", "float")
_FLOAT8 = ("float8_e4m3fn", "float8_e5m2")
# each dtype -> those immediately above it (JAX's lattice, as Keras adapts it)
_LATTICE = {"bool": ["int"], "uint8": ["int16", "uint16"], "uint16": ["int32", "uint32"],
            "uint32": ["int64", "uint64"], "uint64": ["float"], "int": ["uint8", "int8", "complex64"],
            "int8": ["int16"], "int16": ["int32"], "int32": ["int64"], "int64": ["float"],
            "float": ["bfloat16", "float16"], "bfloat16": ["float32"], "float16": ["float32"],
            "float32": ["float64", "complex64"], "float64": ["complex128"], "complex64": ["complex128"],
            "complex128": []}
# Keras' BIT64_TO_BIT32_DTYPE with the TensorFlow backend (int64 and float64 kept)
_NARROWED = {"uint64": "uint32", "complex128": "complex64"}


def _upper_bounds():
    """Each dtype -> every dtype at or above it on the lattice."""
    bounds = {node: {node} for node in _LATTICE}
    for node in _LATTICE:
        while True:
            above = set().union(*(_LATTICE[b] for b in bounds[node]))
            if above <= bounds[node]:
                break
            bounds[node] |= above
    return bounds


_BOUNDS = _upper_bounds()


@functools.lru_cache(maxsize=512)
def _least_upper_bound(*nodes):
    given = set(nodes)
    for node in given:
        if node not in _BOUNDS:
            raise ValueError(f"result_type: dtypes: {node!r} is not a dtype Keras' type promotion takes")
    common = set.intersection(*(_BOUNDS[n] for n in given))
    least = (common & given) or {c for c in common if common <= _BOUNDS[c]}
    if len(least) != 1:
        raise ValueError(f"result_type: dtypes: {tuple(nodes)} have no implicit dtype promotion path; cast them to "
                         f"one dtype first")
    return least.pop()


def _weak(dtype):
    """A weak (Python scalar) dtype's kind: "int", "float", or "bool"."""
    if dtype == "bool":
        return dtype
    for kind in ("float", "int", "complex"):
        if kind in dtype:
            return kind
    raise ValueError(f"result_type: dtypes: no weak form of {dtype!r}")


def _resolve_weak(dtype, precision):
    """A weak "int" or "float" at floatx's width (Keras' ``_resolve_weak_type``)."""
    first = "f" if dtype == "bfloat16" else dtype[:1]
    if first == "b":
        return "bool"
    return {"i": f"int{precision}", "u": f"uint{precision}"}.get(first, f"float{precision}")


def result_type(*dtypes):
    """The dtype Keras' type promotion gives ``dtypes`` (Keras' ``keras.backend.result_type``):
    each standardised as ``standardize_dtype`` does (None is floatx), Python's ``int`` and ``float``
    weak. No dtypes: floatx. Returns a dtype name.

    >>> result_type("int8", "uint8"), result_type("int32", "float16"), result_type("float16", int)
    ('int16', 'float16', 'float16')
    >>> result_type(int), result_type(float, "int8")
    ('int32', 'float32')
    """
    if not dtypes:
        return backend.floatx()
    for dtype in dtypes:
        if isinstance(dtype, str) and dtype in _FLOAT8:
            raise ValueError(f"result_type: dtypes: there are no implicit conversions from float8 dtypes to others; "
                             f"cast them first, got {dtypes}")
    given = [backend.floatx() if d is None else d for d in dtypes]
    names = [standardize_dtype(d) for d in given]
    weak = [d is int or d is float for d in given]
    if len(names) == 1:
        out, out_weak = names[0], weak[0]
    elif len(set(names)) == 1 and not all(weak):
        out, out_weak = names[0], False
    elif all(weak):
        out, out_weak = _least_upper_bound(*set(names)), True
    else:
        out = _least_upper_bound(*{_weak(n) if w else n for n, w in zip(names, weak)})
        out_weak = out in _WEAK
    if out_weak and out != "bool":
        out = _resolve_weak(out, backend.floatx()[-2:])
    return _NARROWED.get(out, out)


def is_float_dtype(dtype):
    """Whether ``dtype`` (anything ``standardize_dtype`` takes) is a float: float16/32/64, bfloat16
    or a float8 (Keras' ``keras.backend.is_float_dtype``).

    >>> is_float_dtype("bfloat16"), is_float_dtype(int)
    (True, False)
    """
    name = standardize_dtype(dtype)
    return name.startswith("float") or name.startswith("bfloat")


def is_int_dtype(dtype):
    """Whether ``dtype`` is a signed or unsigned integer (Keras' ``keras.backend.is_int_dtype``;
    bool is not).

    >>> is_int_dtype("uint8"), is_int_dtype("bool")
    (True, False)
    """
    name = standardize_dtype(dtype)
    return name.startswith("int") or name.startswith("uint")
