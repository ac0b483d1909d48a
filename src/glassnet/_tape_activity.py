"""Activity regularizers' penalties while a ``GradientTape`` records (glassnet.tape).

Keras adds ``activity_regularizer(output) / batch size`` of each regularized layer's output to
``model.losses`` at every call, and ``compute_loss`` sums them. A recorded model call keeps the
outputs its regularized layers gave (``_ModelCall.activity``); a penalty read from ``model.losses``
or ``compute_loss`` after it is a node of its own (``_ActivityNode``) whose gradient (a number: the
penalty is one) weighs the regularizer's gradient at that layer's output in the call's backward
pass (``ActivityMixin._with_activity_gradient``), so the layers below learn from it, as in TF.
"""
import numpy as np

from . import _tape_state
from ._tape_calls import _LATEST
from ._tape_values import Node, _wrap


class _ActivityNode(Node):
    """The activity penalty of ``layer`` in a recorded model call (its one parent)."""

    def __init__(self, call, layer):
        super().__init__([call], f"the activity penalty of {layer.describe()}")
        self.layer = layer

    def backward(self, g, zg, add_weight, wants):
        g = np.asarray(g)
        call = self.parents[0]
        call.activity_scales[self.layer] = call.activity_scales.get(self.layer, 0.0) + float(np.sum(g))
        # (the call's backward runs, for the penalties, without an output gradient: as for add_loss terms)
        return [np.zeros((), g.dtype)]


def recorded_activity(model, layers, values):
    """``values`` (each layer of ``layers``' penalty on the model's latest pass) recorded, when a
    recording tape made that pass (else constants, as TF's for a call outside the tape)."""
    call = _LATEST.get(id(model))
    if call is None or call.model is not model or not call.activity or \
            not any(t in _tape_state.recording() for t in call.tapes) or not _latest_pass(model, call):
        return list(values)
    return [_wrap(value, _ActivityNode(call, layer)) for layer, value in zip(layers, values)]


def _latest_pass(model, call):
    """Whether the model's latest forward pass is ``call``'s: its kept outputs are those (a
    ``predict`` or an unrecorded call since would have replaced them)."""
    kept = model._activity_cache[2]
    return bool(kept) and kept.keys() == call.activity.keys() and \
        all(kept[layer] is not None and np.array_equal(kept[layer], a) for layer, a in call.activity.items())
