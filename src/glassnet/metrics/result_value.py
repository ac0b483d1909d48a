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


def metric_result(value):
    """``value`` (a number) as a ``MetricResult``; an array (F1Score per class) as it is."""
    if isinstance(value, np.ndarray) and value.size != 1:
        return value
    return MetricResult(value)
