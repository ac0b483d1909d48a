"""Which models an optimizer instance trains (``compile(optimizer=opt)``): one, or several sharing
layers.

An optimizer's state (moments, step count) describes the weights it steps. Compiled into a model
sharing no weight with the models it trains, the instance starts afresh and trains that model
alone from then on (a loop building a model per setting and reusing one optimizer works); the
models it left refuse to train with it. Compiled into a model sharing a layer with one it trains
(a feature extractor beside its base, a GAN's combined model beside its discriminator), the
instance trains both, as Keras' one optimizer steps both models' variables: each model's flat
buffer is stepped under a key of its own (``"params"`` for the first, ``"params#1"``... for the
others), and a shared weight keeps one state (glassnet.optimizers._shared). A model file stores
the model's own state under ``"params"``, whatever its key.
"""
import weakref

# optimizer -> [(weak reference to a model it trains, the key of that model's flat buffer)]
OWNERS = weakref.WeakKeyDictionary()


def _weights(model):
    """ids of the layers holding the model's trained weights (each wrapped weight's wrapper's)."""
    from ._tape_weights import _root
    views = getattr(model, "_views", None) if getattr(model, "built", False) else None
    if views:
        return {id(_root(layer, key)[0]) for layer, key, _, _ in views}
    return {id(layer) for layer in model._layout_layers() if getattr(layer, "params", None)}


def claim(model, optimizer):
    """``model`` compiled with ``optimizer``: joins the models it trains where it shares a trained
    layer with one of them, else takes it over afresh (its state reset). Sets the key the
    model's flat buffer is stepped under. Returns ``optimizer``."""
    given = OWNERS.get(optimizer)
    members = [(ref, key) for ref, key in given or () if ref() is not None]
    mine = next((key for ref, key in members if ref() is model), None)
    if mine is not None:                    # compiled again: as it was
        key = mine
    elif members and any(_weights(model) & _weights(ref()) for ref, _ in members):
        used = {k for _, k in members}
        key = next(k for k in ("params", *(f"params#{n}" for n in range(1, len(used) + 2))) if k not in used)
        members.append((weakref.ref(model), key))
    else:
        if given is not None:
            optimizer.reset()
        key, members = "params", [(weakref.ref(model), "params")]
    OWNERS[optimizer] = members
    model._optimizer_key = key
    if getattr(model, "_triples", None):
        _, flat, grads = model._triples[0]
        model._triples = [(key, flat, grads)]
    from ._state_weights import place_for
    place_for(model, optimizer)     # (a state set_state gave before this compile: per weight on its buffer)
    return optimizer


def trains(model):
    """Whether ``model``'s compiled optimizer still trains it (not compiled since into a model
    sharing nothing with it)."""
    given = OWNERS.get(model.optimizer)
    return given is None or any(ref() is model for ref, _ in given)


def others(model):
    """The other live models ``model``'s compiled optimizer trains (models sharing its layers, still
    compiled with it)."""
    optimizer = getattr(model, "optimizer", None)
    held = [ref() for ref, _ in OWNERS.get(optimizer, ())] if optimizer is not None else []
    return [m for m in held if m is not None and m is not model and getattr(m, "optimizer", None) is optimizer]
