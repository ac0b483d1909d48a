"""TensorBoard's event files, written with the standard library and NumPy alone.

An event file is a sequence of TFRecords, each holding one serialised ``Event`` protocol buffer
(TensorFlow's ``tensorflow/core/util/event.proto``). Only the few messages and fields TensorBoard's
scalar, histogram and graph dashboards read are encoded here, by hand, so that no protobuf or
TensorFlow package is needed:

* a TFRecord is ``length`` (uint64, little-endian), ``masked_crc32c(length)`` (uint32),
  ``data``, ``masked_crc32c(data)`` (uint32);
* a protocol buffer field (glassnet._protobuf) is a key ``(field_number << 3) | wire_type`` (a varint), then a varint
  (wire type 0), 8 little-endian bytes (wire type 1) or a varint length and that many bytes (wire
  type 2: strings, bytes and nested messages).

The values are written as TensorFlow 2's ``tf.summary`` writes them (what Keras' TensorBoard
callback writes): a scalar is a float32 tensor of shape () tagged for the "scalars" plugin; a
histogram a float64 tensor of shape (buckets, 3), rows ``[left edge, right edge, count]``, for
the "histograms" plugin.

>>> record(b"")[:12].hex()           # length 0, then its masked CRC-32C
'000000000000000029039807'
"""
import functools
import struct

import numpy as np

from ._protobuf import bytes_field, double_field, int_field

FILE_VERSION = "brain.Event:2"
DEFAULT_BUCKET_COUNT = 30            # tf.summary.histogram's

# TensorFlow's DataType and TensorBoard's DataClass numbers (types.proto, summary.proto)
_DT_FLOAT, _DT_DOUBLE, _DT_STRING = 1, 2, 7
_SCALAR_CLASS, _TENSOR_CLASS, _BLOB_SEQUENCE_CLASS = 1, 2, 3


@functools.lru_cache(maxsize=None)
def _crc32c_table():
    # CRC-32C (Castagnoli): the reflected polynomial 0x82F63B78, one table entry per byte value
    # (made on first use: not a cost of importing glassnet)
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x82F63B78 if crc & 1 else crc >> 1
        table.append(crc)
    return table


def crc32c(data):
    """The CRC-32C of ``data`` (bytes), TFRecord's checksum (not zlib's CRC-32: another polynomial).

    >>> hex(crc32c(b"123456789"))    # the standard check value
    '0xe3069283'
    """
    crc = 0xFFFFFFFF
    table = _crc32c_table()
    for byte in data:
        crc = table[(crc ^ byte) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def masked_crc32c(data):
    """TFRecord's masked checksum: the CRC rotated right by 15 bits plus a constant, so that the
    CRC of bytes that hold CRCs is not itself a CRC."""
    crc = crc32c(data)
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def record(data):
    """``data`` (bytes) framed as one TFRecord."""
    length = struct.pack("<Q", len(data))
    return (length + struct.pack("<I", masked_crc32c(length)) + data
            + struct.pack("<I", masked_crc32c(data)))


# -- messages -----------------------------------------------------------------------------------
def event(wall_time, step=0, summary_values=(), file_version=None):
    """A serialised ``Event``: its time, step and either a file version or a ``Summary`` of the
    serialised ``Summary.Value`` messages given (the defaults 0 and empty are left out, as
    protobuf does)."""
    out = double_field(1, wall_time)
    if step:
        out += int_field(2, step)
    if file_version is not None:
        out += bytes_field(3, file_version)
    else:
        out += bytes_field(5, b"".join(bytes_field(1, value) for value in summary_values))
    return out


def _metadata(plugin_name, data_class, content=b""):
    plugin = bytes_field(1, plugin_name) + (bytes_field(2, content) if content else b"")
    return bytes_field(1, plugin) + int_field(4, data_class)


def _tensor(dtype, shape, content=None, strings=()):
    dims = b"".join(bytes_field(2, int_field(1, size) if size else b"") for size in shape)
    out = int_field(1, dtype) + bytes_field(2, dims)
    if content is not None:
        out += bytes_field(4, content)
    for string in strings:
        out += bytes_field(8, string)
    return out


def _value(tag, tensor, metadata):
    return bytes_field(1, tag) + bytes_field(8, tensor) + bytes_field(9, metadata)


def scalar_value(tag, value):
    """A ``Summary.Value`` for TensorBoard's scalars: ``value`` as a float32 tensor of shape ()."""
    return _value(tag, _tensor(_DT_FLOAT, (), np.float32(value).tobytes()),
                  _metadata("scalars", _SCALAR_CLASS))


def histogram_buckets(data, bucket_count=DEFAULT_BUCKET_COUNT):
    """``data`` (any shape) counted in ``bucket_count`` equal buckets from its minimum to its
    maximum: (bucket_count, 3) float64 rows ``[left, right, count]``, TensorBoard's rule (the last
    bucket includes the maximum; a single value: every edge at it, every count in the last
    bucket; no data: zeros). NaN and infinite values are left out: a weight gone infinite in one
    entry still shows the others (TensorBoard's own ``histogram_pb`` counts nothing then).

    >>> histogram_buckets(np.array([0.0, 1.0, 1.0, 3.0]), 3).tolist()
    [[0.0, 1.0, 1.0], [1.0, 2.0, 2.0], [2.0, 3.0, 1.0]]
    """
    data = np.asarray(data, dtype=np.float64).reshape(-1)
    data = data[np.isfinite(data)]
    if data.size == 0:
        return np.zeros((bucket_count, 3))
    low, high = data.min(), data.max()
    if low == high:
        out = np.zeros((bucket_count, 3))
        out[:, :2] = high
        out[-1, 2] = data.size
        return out
    width = (high - low) / bucket_count
    indices = np.minimum(np.floor((data - low) / width).astype(np.int64), bucket_count - 1)
    edges = np.linspace(low, high, bucket_count + 1)
    edges[-1] = high
    return np.stack([edges[:-1], edges[1:], np.bincount(indices, minlength=bucket_count)], axis=1)


def histogram_value(tag, data, bucket_count=DEFAULT_BUCKET_COUNT):
    """A ``Summary.Value`` for TensorBoard's histograms of the values of ``data``."""
    buckets = histogram_buckets(data, bucket_count)
    return _value(tag, _tensor(_DT_DOUBLE, buckets.shape, buckets.astype("<f8").tobytes()),
                  _metadata("histograms", _TENSOR_CLASS))


def graph_value(tag, model_json):
    """A ``Summary.Value`` holding a model's description as Keras' JSON, which TensorBoard's graph
    dashboard draws (Keras' ``keras_model_summary``: plugin "graph_keras_model", version b"1")."""
    return _value(tag, _tensor(_DT_STRING, (1,), strings=[model_json]),
                  _metadata("graph_keras_model", _BLOB_SEQUENCE_CLASS, b"1"))
