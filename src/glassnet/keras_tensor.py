"""Keras 3's ``KerasTensor`` and ``Operation`` as names to test against: glassnet's symbolic tensors
are ``InputLayer`` (what ``gn.Input`` gives) and ``SymbolicTensor`` (what a layer called on one
gives, glassnet.layers.symbolic); ``isinstance(x, gn.KerasTensor)`` holds for both, as Keras'
``isinstance(keras.Input(...), keras.KerasTensor)`` does.

Keras' ``Operation`` is the base of its graph's nodes, layers included (``keras.Layer`` derives
from it). Every node of a glassnet graph is a ``Layer``, the operations on tensors too
(``x + 1`` calls a ``TensorOp`` layer): ``isinstance(node, gn.Operation)`` holds for them all, and
``gn.Operation`` itself is no class to subclass (write a ``gn.Layer``).

>>> import glassnet as gn
>>> x = gn.Input((3,))
>>> isinstance(x, gn.KerasTensor), isinstance(gn.layers.Dense(2)(x), gn.KerasTensor)
(True, True)
>>> isinstance(gn.layers.Dense(2), gn.Operation), isinstance(x + 1.0, gn.Operation)
(True, False)
"""
import numpy as np

__all__ = ["KerasTensor", "Operation"]


def _symbolic_classes():
    from .layers.input import InputLayer
    from .layers.symbolic import SymbolicTensor
    return InputLayer, SymbolicTensor


class _KerasTensorType(type):
    # isinstance checks glassnet's two classes of symbolic tensors: neither derives from this one,
    # which is a name only (as an ABC's register would make it, without the ABC machinery)
    def __instancecheck__(cls, instance):
        return isinstance(instance, _symbolic_classes())

    def __subclasscheck__(cls, subclass):
        return isinstance(subclass, type) and issubclass(subclass, _symbolic_classes())


class KerasTensor(metaclass=_KerasTensorType):
    """Keras' ``KerasTensor(shape, dtype="float32", sparse=False, ragged=False, record_history=True,
    name=None)``: made directly it is glassnet's ``Input(batch_shape=shape, dtype=dtype, name=name)``
    (an ``InputLayer``), which layers are called on and ``gn.Function``/``gn.Model`` take as inputs.

    shape : tuple, the batch axis first (None: any size); dtype : str; sparse, ragged : False only
    (glassnet has no sparse or ragged tensors); record_history : True only.
    """

    def __new__(cls, shape, dtype="float32", sparse=False, ragged=False, record_history=True, name=None, **kwargs):
        if kwargs:
            raise TypeError(f"KerasTensor: unexpected argument(s) {sorted(kwargs)}")
        if not isinstance(shape, (tuple, list)) or not shape:
            raise ValueError(f"KerasTensor: shape: expected a tuple with the batch axis first, such as (None, 3), "
                             f"got {shape!r:.60}")
        for flag, value, wanted in (("sparse", sparse, False), ("ragged", ragged, False),
                                    ("record_history", record_history, True)):
            if not isinstance(value, (bool, np.bool_)) or bool(value) != wanted:
                raise ValueError(f"KerasTensor: {flag}: glassnet takes {wanted} only (no sparse or ragged tensors, "
                                 f"and its tensors always record the calls that make them), got {value!r:.40}")
        from .layers.input import Input
        return Input(batch_shape=tuple(shape), dtype=dtype, name=name)


class _OperationType(type):
    def __instancecheck__(cls, instance):
        from .layers.base import Layer
        return isinstance(instance, Layer)

    def __subclasscheck__(cls, subclass):
        from .layers.base import Layer
        return isinstance(subclass, type) and issubclass(subclass, Layer)


class Operation(metaclass=_OperationType):
    """Keras' ``Operation``, the base of its graph's nodes: in glassnet every node is a ``Layer``
    (see the module docstring), so this is a name for ``isinstance`` checks. Subclass ``gn.Layer``
    to write a node of your own (Keras' custom ``Operation`` with ``call`` and
    ``compute_output_spec`` has no glassnet form)."""

    def __new__(cls, *args, **kwargs):
        raise TypeError("Operation: glassnet's graph nodes are Layers; subclass glassnet.Layer (forward and "
                        "backward, or call) to write one of your own, instead of making an Operation")

    def __init_subclass__(cls, **kwargs):
        raise TypeError(f"{cls.__name__}: glassnet's graph nodes are Layers; derive {cls.__name__} from "
                        f"glassnet.Layer instead of glassnet.Operation")
