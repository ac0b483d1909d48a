"""Activity regularizers inside a model: the penalties on layers' outputs (``activity_regularizer=``,
Keras' argument on every layer), which join the loss and the gradients.

Which layers have one is cached per model: every forward pass asks, and asking every layer every
step cost a tiny network a few microseconds. A layer's setter moves ``ACTIVITY_GENERATION``, so a
regularizer set after compile still counts from the next batch.
"""
import numpy as np

from . import _tape_state, backend
from .layers import base as layers_base


class ActivityMixin:
    """The activity-penalty part of ``Sequential`` (see ``TrainingMixin._forward``)."""
    _activity_cache = (-1, 0, None)      # (ACTIVITY_GENERATION, number of layers, what _activity gives)

    # a drawn model's add_loss terms (glassnet.added_losses.Terms), None without: set by graph.Model
    _loss_terms = None
    # {layer: weight} of each activity penalty's gradient while a GradientTape's backward pass runs
    # (how the recorded loss used it: glassnet._tape_activity); None: each weighs 1, as in fit
    _activity_scales = None
    # [(layer, penalty)] of the latest pass, kept when its outputs are let go (_release_data)
    _activity_latest = ()

    def add_loss(self, loss):
        """Keras' ``add_loss``: inside a subclass' ``call``, a term of the training loss
        (see glassnet.added_losses); refused by name anywhere else."""
        from .added_losses import add_loss
        add_loss(type(self).__name__, loss, by=self)

    @property
    def losses(self):
        """Keras' ``model.losses``: the value of each ``add_loss`` term on the latest forward pass
        (fit's last batch, predict's, ``model(x)``'s) in the model's dtype, 0-d arrays (a tensor
        given whole: its values), then each weight regularizer's penalty; no terms before any pass.
        While a GradientTape records, recorded values (glassnet.tape.record_losses)."""
        terms = [] if self._loss_terms is None else self._loss_terms.listed()
        activity = self._activity_terms()
        entries = getattr(self, "_penalties", ())
        penalties = [regularizer(param) for regularizer, param, _ in entries]
        values = [np.asarray(v, dtype=self.dtype) for v in terms + [v for _, v in activity] + penalties]
        if _tape_state.recording():         # in a GradientTape: values it records (loss += sum(model.losses))
            from .tape import record_losses
            return record_losses(self, values, list(entries), [layer for layer, _ in activity])
        return values

    def _added_loss(self):
        """The sum of the add_loss terms on the latest forward pass (0.0 without)."""
        return 0.0 if self._loss_terms is None else self._loss_terms.total()

    @property
    def _activity(self):
        """{layer: its latest output} to fill, when a layer has an ``activity_regularizer``; else None.
        Cached (every step asks) until a layer's regularizer is set or the layers change."""
        cache = self._activity_cache
        if cache[0] != layers_base.ACTIVITY_GENERATION or cache[1] != len(self.layers):
            # a regularizer set on the output layer turns the fused gradient off (or back on)
            self._update_fusion()
            regularized = any(layer.activity_regularizer is not None for layer in self.layers)
            cache = self._activity_cache = (layers_base.ACTIVITY_GENERATION, len(self.layers),
                                            {} if regularized else None)
        return cache[2]

    def _forward_keeping_activity(self, x, training):
        """``_forward``, keeping the output of every layer with an activity regularizer."""
        kept = self._activity
        kept.clear()
        for layer, _, x in self._walk(x, training):
            if layer.activity_regularizer is not None:
                kept[layer] = x
        return x

    def _activity_penalty(self):
        """The sum of ``regularizer(output) / batch size`` over the outputs the latest forward kept
        (Keras 3's scaling); 0 without activity regularizers."""
        kept = self._activity_cache[2]
        shared = getattr(self, "_shared", ()) if kept else ()
        for layer in kept or ():
            if id(layer) in shared:     # kept: its last call's output alone (training refuses it too)
                raise NotImplementedError(f"{layer.describe()}: is called more than once and has an "
                                          f"activity_regularizer, whose penalty per call is not supported yet")
        return sum(layer.activity_regularizer(a) / a.shape[0] for layer, a in kept.items()) if kept else 0.0

    def _activity_terms(self):
        """``[(layer, regularizer(output) / batch size)]`` of the latest forward pass's kept outputs,
        in the forward pass's order: Keras' activity losses, which ``model.losses`` lists after the
        ``add_loss`` terms and before the weights' penalties."""
        kept = self._activity_cache[2]
        if not kept:        # the outputs let go after a call or predict: the penalties they gave
            if isinstance(self._activity_latest, NotImplementedError):
                raise self._activity_latest
            return list(self._activity_latest) if kept is not None else []
        self._activity_penalty()        # (refuses a shared layer's, whose penalty per call is not kept)
        return [(layer, layer.activity_regularizer(a) / a.shape[0]) for layer, a in kept.items()]

    def _with_activity_gradient(self, layer, grad):
        """``grad`` (dL/d(layer's output), None where nothing else reached it) plus the gradient of
        the layer's activity penalty, as a new array (a layer's backward must not see its
        grad_output change)."""
        a = self._activity_cache[2][layer]
        extra = backend.get_array_module(a).zeros_like(a)
        layer.activity_regularizer.add_gradient(a, extra)
        scale = 1.0 if self._activity_scales is None else self._activity_scales.get(layer, 0.0)
        extra *= scale / a.shape[0]
        return extra if grad is None else grad + extra
