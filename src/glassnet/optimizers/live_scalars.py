"""The step count and the learning rate in ``optimizer.variables`` (Keras' ``iteration`` and
``learning_rate``): 0-d arrays whose writes reach the optimizer, as assigning Keras' variables
does. Setting the step count to 0 restarts Adam's bias correction; setting the rate changes the
next steps' size.

glassnet keeps both as Python numbers (``optimizer.iterations``, ``optimizer.learning_rate``),
which each step reads and counts at Python's speed, so no array can be a view of them. The
array listed holds the value read when ``variables`` was called (a later step does not move
it: read ``variables`` again), and each write to it, ``v[...] = 0``, ``v.assign(0)``,
``v.assign_add(1)`` or in-place arithmetic (``v += 1``), is checked and then sets the optimizer's
number. A copy of it, or a result computed from it, is a plain array.

>>> class Holder:
...     iterations = 5
>>> h = Holder()
>>> step = OptimizerScalar(h, "iterations", np.int64)
>>> _ = step.assign(0); step += 2; h.iterations
2
"""
import math

import numpy as np


class OptimizerScalar(np.ndarray):
    """``optimizer``'s ``attribute`` (``"iterations"`` or ``"learning_rate"``) as a 0-d array of
    ``dtype`` whose writes set the attribute (module docstring)."""

    def __new__(cls, optimizer, attribute, dtype):
        self = np.array(getattr(optimizer, attribute), dtype=dtype).view(cls)
        self._optimizer, self._attribute = optimizer, attribute
        return self

    def __array_finalize__(self, obj):
        self._optimizer = self._attribute = None        # a view or a copy of it: a plain array's writes

    def __setitem__(self, key, value):
        staged = np.array(self)             # the new value in this dtype (Keras' assign casts so too)
        if self._optimizer is not None and (value is None or isinstance(value, (str, bytes))
                                            or np.ndim(value) != 0 or np.asarray(value).dtype.kind not in "biuf"):
            # NumPy's own words ("invalid literal for int()", "could not broadcast", None read as nan)
            # named neither the variable nor what it takes
            raise TypeError(f"optimizer.variables: the {self._what()} takes one number (a 0-d array or a Python "
                            f"number), got {value!r:.60}")
        if self._optimizer is not None and self._attribute == "iterations" and not np.isfinite(value):
            raise ValueError(f"optimizer.variables: the step count (iteration) must be in [0, 2**63), got {value}")
        staged[key] = value
        if self._optimizer is not None:
            self._write(staged[()])
        super().__setitem__(key, value)

    def _what(self):
        return "step count (iteration)" if self._attribute == "iterations" else "learning rate"

    def _write(self, value):
        if self._attribute == "iterations":
            if not 0 <= int(value) < 2 ** 63:
                raise ValueError(f"optimizer.variables: the step count (iteration) must be in [0, 2**63), got {value}")
            self._optimizer.iterations = int(value)
        else:
            if not (math.isfinite(float(value)) and float(value) >= 0):
                raise ValueError(f"optimizer.variables: the learning rate must be a finite number >= 0, got {value}")
            self._optimizer.learning_rate = float(value)

    def assign(self, value):
        """Keras' ``variable.assign(value)``: the new value, here and in the optimizer."""
        self[...] = value
        return self

    def assign_add(self, value):
        """Keras' ``variable.assign_add(value)``."""
        self[...] = self.view(np.ndarray) + value
        return self

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        plain = tuple(x.view(np.ndarray) if isinstance(x, OptimizerScalar) else x for x in inputs)
        if out is None:
            return getattr(ufunc, method)(*plain, **kwargs)
        # in place (v += 1): computed aside, then written as v[...] = that, which the optimizer takes
        staged = tuple(np.array(o) if isinstance(o, OptimizerScalar) else o for o in out)
        getattr(ufunc, method)(*plain, out=staged, **kwargs)
        for target, value in zip(out, staged):
            if isinstance(target, OptimizerScalar):
                target[...] = value
        return out[0] if len(out) == 1 else out
