"""Protobuf's wire format, the few pieces glassnet writes by hand (its ONNX export and its
TensorBoard event files: no protobuf package at run time).

Each field is a key, ``field_number << 3 | wire_type``, as a varint, then its value: a varint
(wire type 0: ints, enums, bools), 8 bytes little-endian (type 1: a double), 4 bytes (type 5: a
float), or a length-delimited run of bytes (type 2: strings, bytes, nested messages, and packed
repeated numbers). Each function returns the field's bytes; a message is its fields joined.

>>> varint(300).hex()
'ac02'
>>> varint(-1).hex()          # an int64's two's complement: ten bytes
'ffffffffffffffffff01'
"""
import struct


def varint(value):
    """``value`` (an int; a negative one as its 64-bit two's complement, as protobuf's int64) as
    a base-128 varint: 7 bits a byte, low bits first, the top bit set on every byte but the last."""
    value = int(value)
    if value < 0:
        value += 1 << 64
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        if value:
            out.append(low | 0x80)
        else:
            out.append(low)
            return bytes(out)


def _key(field, wire_type):
    return varint(field << 3 | wire_type)


def int_field(field, value):
    """A varint field (int64, int32, enum)."""
    return _key(field, 0) + varint(value)


def double_field(field, value):
    """A 64-bit float field (wire type 1)."""
    return _key(field, 1) + struct.pack("<d", value)


def float_field(field, value):
    """A 32-bit float field (wire type 5)."""
    return _key(field, 5) + struct.pack("<f", value)


def bytes_field(field, data):
    """A length-delimited field: bytes, a UTF-8 string, or a nested message's bytes."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return _key(field, 2) + varint(len(data)) + data


def packed_ints(field, values):
    """A packed repeated varint field (proto3's default for repeated numbers)."""
    return bytes_field(field, b"".join(varint(v) for v in values))


def packed_floats(field, values):
    """A packed repeated 32-bit float field (``values``: a sequence of numbers, little-endian)."""
    return bytes_field(field, struct.pack(f"<{len(values)}f", *values))
