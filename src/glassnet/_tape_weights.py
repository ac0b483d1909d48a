"""Which weight a weight array is, for a ``GradientTape`` and ``apply_gradients`` (glassnet.tape).

A model lays its layers' trained weights out as views of one flat buffer of its own
(glassnet.parameters). Two models sharing a layer (a feature extractor drawn from another model's
layers, a GAN's ``combined = Model(z, D(G(z)))``, a Sequential of another model's layers) each
hold a view of their own of that layer's kernel; the layer computes with the one attached last,
and ``_sync_views`` copies the values across when a model takes it back. In TF both models hold
the same variable. So the tape keys a weight's gradient by its layer and parameter name
(``WeightKeys``), not by the array: a recorded call of either model adds to the same gradient,
and either model's array, or the layer's own ``layer.trainable_weights``, given as a source gets
the sum over every call. ``apply_gradients`` steps a model's views through that model's flat
buffer after ``_sync_views`` made them the arrays its layers compute with, so that the step is
neither lost nor overwritten by another model's view.
"""
from . import _tape_state


def owner(param):
    """The model whose flat buffer ``param`` is a view of (None: a layer's own array, or a view
    of a buffer its model has laid out anew since)."""
    base = getattr(param, "base", None)
    model = _tape_state.OWNERS.get(id(base)) if base is not None else None
    if model is not None and getattr(model, "_triples", None) and model._triples[0][1] is base:
        return model
    return None


def _root(layer, key):
    """(layer, key) of the weight's home: a wrapped layer's ``params`` (``_Prefixed``) are its
    wrapper's entries under a prefix, which a model around the wrapper lays out."""
    from .layers.wrappers import _Prefixed
    params = layer.params
    while isinstance(params, _Prefixed) and params._attribute == "params":
        layer, key = params._owner, params._prefix + key
        params = layer.params
    return layer, key


class WeightKeys:
    """``keys(param)``: the key of the weight the array ``param`` holds, the same for every model's
    view of it: ``(id(layer), name)`` for a model's view, ``id(param)`` for any other array (a
    layer's own, not laid out by a model). One per gradient: the models' views are read once."""

    def __init__(self):
        self._views = {}        # id(model) -> {id(view): (layer, key)}
        self._held = []         # (the models and layers keyed, alive while their ids are keys)

    def __call__(self, param):
        model = owner(param)
        if model is not None:
            views = self._views.get(id(model))
            if views is None:
                views = self._views[id(model)] = {id(view): _root(layer, key) for layer, key, view, _ in model._views}
                self._held.append(model)
            found = views.get(id(param))
            if found is not None:
                return (id(found[0]), found[1])
        return id(param)
