"""What a built-in metric's ``result()`` returns: a Python float that also answers Keras' tensor
calls, so that code written for Keras 3 (``m.result().numpy()``, ``float(m.result())``,
``ops.convert_to_numpy(m.result())``) runs unchanged.

It is a ``float`` (a subclass): logs, callbacks, History, JSON, ``f"{x:.4f}"`` and comparisons see
the float64 value the metric's totals give, as before. ``.numpy()`` gives Keras' value, a NumPy
``float32`` scalar (Keras' metrics keep float32 variables); ``.dtype`` and ``.shape`` are a 0-d
float32 tensor's. Arithmetic on it gives plain floats.

>>> v = MetricResult(2 / 3)
>>> v, f"{v:.4f}", v.numpy().dtype, v.shape
(0.6666666666666666, '0.6667', dtype('float32'), ())

A result of several values (``F1Score(average=None)``, one per class) is a ``MetricResultArray``:
the array of the values (Keras' result's shape) with the same ``.numpy()``, float32.
"""
import numpy as np


class MetricResult(float):
    """A metric's value: a Python float with Keras' ``.numpy()`` (float32), ``.dtype`` and ``.shape``."""

    __slots__ = ()
    shape = ()
    ndim = 0

    @property
    def dtype(self):
        """``"float32"``, Keras' dtype of a metric's result (the float itself is float64)."""
        return "float32"

    def numpy(self):
        """Keras' ``result().numpy()``: the value as a NumPy float32 scalar."""
        return np.float32(self)


class MetricResultArray(np.ndarray):
    """A metric's values, one per class (``F1Score(average=None)``): the array of its values (float64,
    as the float of a ``MetricResult``) with Keras' ``.numpy()``, a plain float32 array (Keras'
    result's dtype). Arithmetic on it, and a slice of it, give plain arrays; it prints as one."""

    def numpy(self):
        """Keras' ``result().numpy()``: the values as a plain NumPy float32 array."""
        return np.array(self, dtype=np.float32)

    def __array_wrap__(self, array, context=None, return_scalar=False):
        array = array.view(np.ndarray)
        return array[()] if return_scalar else array

    def __getitem__(self, key):
        return np.asarray(self)[key]

    def __repr__(self):
        return repr(np.asarray(self))


def metric_result(value):
    """``value`` (a number) as a ``MetricResult``; an array of several (F1Score per class) as a
    ``MetricResultArray``."""
    if isinstance(value, np.ndarray) and value.size != 1:
        return np.asarray(value).view(MetricResultArray)
    return MetricResult(value)
