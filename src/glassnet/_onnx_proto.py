"""A small protobuf wire-format writer for the ONNX messages glassnet's export needs (no ``onnx``
package at run time).

The wire format's fields come from glassnet._protobuf. The field numbers are onnx.proto3's
(onnx 1.x, the same in onnx.proto):

=================== ==========================================================================
message             fields written here
=================== ==========================================================================
ModelProto          ir_version 1, producer_name 2, producer_version 3, graph 7, opset_import 8
OperatorSetIdProto  domain 1, version 2
GraphProto          node 1, name 2, initializer 5, input 11, output 12
NodeProto           input 1, output 2, name 3, op_type 4, attribute 5
AttributeProto      name 1, f 2, i 3, s 4, g 6, floats 7, ints 8, strings 9, type 20
TensorProto         dims 1, data_type 2, name 8, raw_data 9
ValueInfoProto      name 1, type 2
TypeProto           tensor_type 1 -> (elem_type 1, shape 2 -> dim 1 -> (dim_value 1, dim_param 2))
=================== ==========================================================================

Each function returns the message's bytes; a parent takes them as a length-delimited field.
"""
import numpy as np

from ._protobuf import bytes_field, float_field, int_field, packed_floats, packed_ints

# TensorProto.DataType
FLOAT, INT64, BOOL, DOUBLE = 1, 7, 9, 11
ELEM_TYPES = {np.dtype(np.float32): FLOAT, np.dtype(np.int64): INT64, np.dtype(np.float64): DOUBLE}
BATCH = "batch"         # the symbolic name of every batch axis in a file
# AttributeProto.AttributeType
_ATTR_FLOAT, _ATTR_INT, _ATTR_STRING, _ATTR_GRAPH, _ATTR_FLOATS, _ATTR_INTS, _ATTR_STRINGS = 1, 2, 3, 5, 6, 7, 8


class Subgraph(bytes):
    """A GraphProto's bytes given as an attribute (a Scan's ``body``), told apart from a string."""


def tensor(name, array):
    """A TensorProto holding ``array`` (float32, float64 or int64) as raw little-endian bytes."""
    array = np.asarray(array)
    if array.dtype not in ELEM_TYPES:
        raise TypeError(f"onnx tensor {name!r}: expected float32, float64 or int64, got {array.dtype}")
    data = np.ascontiguousarray(array, array.dtype.newbyteorder("<")).tobytes()
    return (packed_ints(1, array.shape) + int_field(2, ELEM_TYPES[array.dtype]) + bytes_field(8, name)
            + bytes_field(9, data))


def attribute(name, value):
    """An AttributeProto: an int, a float, a string, or a list of ints, of floats or of strings
    (by the Python type of ``value``; a list's elements decide), or a ``Subgraph``."""
    head = bytes_field(1, name)
    if isinstance(value, Subgraph):
        return head + bytes_field(6, bytes(value)) + int_field(20, _ATTR_GRAPH)
    if isinstance(value, bool) or isinstance(value, (int, np.integer)):
        return head + int_field(3, value) + int_field(20, _ATTR_INT)
    if isinstance(value, (float, np.floating)):
        return head + float_field(2, value) + int_field(20, _ATTR_FLOAT)
    if isinstance(value, (str, bytes)):
        return head + bytes_field(4, value) + int_field(20, _ATTR_STRING)
    values = list(value)
    if values and all(isinstance(v, (float, np.floating)) for v in values):
        return head + packed_floats(7, values) + int_field(20, _ATTR_FLOATS)
    if values and all(isinstance(v, (str, bytes)) for v in values):      # (not packed: bytes each)
        return head + b"".join(bytes_field(9, v) for v in values) + int_field(20, _ATTR_STRINGS)
    return head + packed_ints(8, values) + int_field(20, _ATTR_INTS)


def node(op_type, inputs, outputs, name, **attributes):
    """A NodeProto of the default domain: ``op_type`` reading ``inputs``, writing ``outputs``."""
    return (b"".join(bytes_field(1, i) for i in inputs) + b"".join(bytes_field(2, o) for o in outputs)
            + bytes_field(3, name) + bytes_field(4, op_type)
            + b"".join(bytes_field(5, attribute(k, v)) for k, v in attributes.items()))


def value_info(name, elem_type, shape):
    """A ValueInfoProto of a tensor: ``shape`` a sequence of ints, strings (a string is a
    symbolic dimension, such as the batch's) and None (an axis of any size, as an Input's
    ``(None, 8)``: a Dimension with neither a value nor a name); ``shape`` None: a tensor of any
    shape (a Loop's carried value, which the body's nodes give their shapes)."""
    if shape is None:
        return bytes_field(1, name) + bytes_field(2, bytes_field(1, int_field(1, elem_type)))
    dims = b"".join(bytes_field(1, b"" if d is None else bytes_field(2, d) if isinstance(d, str) else int_field(1, d))
                    for d in shape)
    tensor_type = int_field(1, elem_type) + bytes_field(2, dims)
    return bytes_field(1, name) + bytes_field(2, bytes_field(1, tensor_type))


def graph(name, nodes, initializers, inputs, outputs):
    """A GraphProto from the bytes of its nodes, initializer tensors and input/output value infos."""
    return (b"".join(bytes_field(1, n) for n in nodes) + bytes_field(2, name)
            + b"".join(bytes_field(5, t) for t in initializers) + b"".join(bytes_field(11, i) for i in inputs)
            + b"".join(bytes_field(12, o) for o in outputs))


def model(graph_bytes, opset, ir_version, producer_version):
    """A ModelProto holding one graph and one opset import (the default domain's)."""
    opset_import = bytes_field(1, "") + int_field(2, opset)
    return (int_field(1, ir_version) + bytes_field(2, "glassnet") + bytes_field(3, producer_version)
            + bytes_field(7, graph_bytes) + bytes_field(8, opset_import))
