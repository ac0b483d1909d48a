"""The step count and the learning rate in ``optimizer.variables`` (Keras' ``iteration`` and
``learning_rate``): 0-d arrays that read the optimizer's numbers now and whose writes reach it, as
Keras' variables do. Setting the step count to 0 restarts Adam's bias correction (and, under a
learning-rate schedule, the rate: the schedule's at step 0, as Keras' reads its schedule at the
count); setting the rate changes the next steps' size.

glassnet keeps both as Python numbers (``optimizer.iterations``, ``optimizer.learning_rate``),
which each step reads and counts at Python's speed, so no array can be a view of them, and a step
must not pay for updating one. So the array listed is refreshed from the optimizer whenever it is
read through Python: indexing (``v[()]``), ``float(v)``, ``int(v)``, ``v.numpy()``, ``v.item()``,
``repr``, arithmetic and comparisons (``v + 1``, ``v == 3``), NumPy functions
(``np.allclose(v, 3)``). Only ``np.array(v)`` and ``np.asarray(v)``, which copy or view the
array's memory without asking it, read the value of its last refresh. Each write, ``v[...] = 0``,
``v.assign(0)``, ``v.assign_add(1)``, ``v.assign_sub(1)`` or in-place arithmetic (``v += 1``), is
checked and then sets the optimizer's number. A copy of it, or a result computed from it, is a plain
array.

>>> class Holder:
...     iterations, schedule = 5, None
>>> h = Holder()
>>> step = OptimizerScalar(h, "iterations", np.int64)
>>> _ = step.assign(0); step += 2; h.iterations
2
>>> h.iterations = 7; int(step), float(step + 1)
(7, 8.0)
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

    def _refresh(self):
        """This array's value set to the optimizer's number now (a read: see the module docstring)."""
        if self._optimizer is not None:
            np.ndarray.__setitem__(self, (), getattr(self._optimizer, self._attribute))
        return self

    def _now(self):
        """The optimizer's number now, as a plain 0-d array of this dtype."""
        return np.array(self._refresh().view(np.ndarray))

    def __getitem__(self, key):
        return self._now()[key]

    def __float__(self):
        return float(self._now())

    def __int__(self):
        return int(self._now())

    def __index__(self):
        return self._now().__index__()

    def __bool__(self):
        return bool(self._now())

    def __repr__(self):
        return super(OptimizerScalar, self._refresh()).__repr__()

    def __str__(self):
        return super(OptimizerScalar, self._refresh()).__str__()

    def __format__(self, spec):
        return format(self._now()[()], spec)

    def item(self, *args):
        return self._now().item(*args)

    def tolist(self):
        return self._now().tolist()

    def copy(self, order="C"):
        return self._now().copy(order)

    def astype(self, *args, **kwargs):
        return self._now().astype(*args, **kwargs)

    def numpy(self):
        """Keras' ``variable.numpy()``: the value now, as a plain 0-d array."""
        return self._now()

    @property
    def value(self):
        """Keras' ``variable.value``: the value now."""
        return self._now()

    def __array_function__(self, func, types, args, kwargs):
        # a NumPy function given this array (np.allclose(v, 3)) reads the number now
        plain = tuple(x._now() if isinstance(x, OptimizerScalar) else x for x in args)
        return func(*plain, **kwargs)

    def __setitem__(self, key, value):
        staged = self._now()                # the new value in this dtype (Keras' assign casts so too)
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
            written = getattr(self._optimizer, "_write_count", None)    # (Nadam: its momentum product kept)
            if written is not None:
                written(int(value))
            else:
                self._optimizer.iterations = int(value)
            if getattr(self._optimizer, "schedule", None) is not None:
                # the rate of the count now, as Keras' schedule reads its count: after iteration.assign(0)
                # the next step takes schedule(0), not the rate of the count before
                self._optimizer._follow_schedule()
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
        self[...] = self._now() + value
        return self

    def assign_sub(self, value):
        """Keras' ``variable.assign_sub(value)``."""
        self[...] = self._now() - value
        return self

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        plain = tuple(x._now() if isinstance(x, OptimizerScalar) else x for x in inputs)
        if out is None:
            return getattr(ufunc, method)(*plain, **kwargs)
        # in place (v += 1): computed aside, then written as v[...] = that, which the optimizer takes
        staged = tuple(o._now() if isinstance(o, OptimizerScalar) else o for o in out)
        getattr(ufunc, method)(*plain, out=staged, **kwargs)
        for target, value in zip(out, staged):
            if isinstance(target, OptimizerScalar):
                target[...] = value
        return out[0] if len(out) == 1 else out
