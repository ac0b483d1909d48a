"""Building a model nested in another before it was built, once that other model built its layers.

Keras builds a Sequential when it is called on a symbolic tensor (``enc(inputs)`` while a
functional Model is drawn, or in a subclass' ``call``, ``self.ffn(x)``) or nested in a Sequential
that knows its input shape: afterwards ``enc.get_weights()``, ``set_weights``, ``summary()``,
``count_params()`` and ``predict`` work, on the weights the outer model trains.

In glassnet the outer model builds the nested model's layers itself, with its own seed (that is
what fixes their initial weights, and what models made before this existed drew), so the nested
model cannot build when it is called: it would draw other weights. It waits instead. It is
recorded here (``wait_for_layers``), with the sample shape it was called on, and at the end of
every model's build (``build_waiting``) each waiting model whose layers are now all built is
built *on* them: ``Sequential._build_samples`` only checks a built layer's input shape, so
nothing is drawn again, its layers stay the same objects and its arrays hold the same values.

A model built so lays its layers' parameters out in a flat buffer of its own, as any model
sharing layers does (``ParametersMixin._flatten_parameters``); the builder then points the layers
back at its own buffer (``_sync_views``), so that the outer model keeps computing with the
very arrays it had, and each model takes up the other's changes before its next optimizer step
(``_sync_views`` again): training either one trains both.
"""
import weakref

# model -> the sample shape it was called on (None: nested in a Sequential, whose first layer's
# input shape says it once built). Weak keys: a model dropped leaves nothing here, and nothing
# here is part of any model's state (pickles, deep copies, configs and files are unchanged).
_WAITING = weakref.WeakKeyDictionary()


def wait_for_layers(model, shape=None):
    """Record ``model`` (a Sequential not built yet, nested in another model) to be built on its
    layers once a build elsewhere has built all of them. ``shape``: one input sample's shape
    (None: its first layer's input shape, read then). Returns whether it was recorded now (it
    was not waiting already): what ``stop_waiting`` undoes when the nesting is refused."""
    if model.built or model in _WAITING:
        return False
    _WAITING[model] = None if shape is None else tuple(shape)
    return True


def stop_waiting(model):
    """``model`` is no longer nested where it waited (the nesting was refused), or built itself."""
    _WAITING.pop(model, None)


def build_waiting(builder):
    """At the end of ``builder``'s build: build each waiting model whose layers are all built now,
    then point the builder's layers back at its own parameter arrays. Returns the models built."""
    _WAITING.pop(builder, None)         # it built itself (fit, build, or a Sequential nesting it)
    if not _WAITING:
        return []
    built = []
    for model, shape in list(_WAITING.items()):
        if model not in _WAITING:       # built meanwhile, as a model nested in one built here
            continue
        if model.built:
            _WAITING.pop(model, None)
            continue
        if not model.layers or not all(layer.built for layer in model.layers):
            continue                    # its layers are not all someone's yet: it keeps waiting
        _WAITING.pop(model, None)
        if model._build_on_layers(shape):
            built.append(model)
    if built:
        # the models built laid the shared parameters out in buffers of their own: the builder
        # points them back at its arrays (the same values) and marks again which of its layers
        # pass a gradient on (a nested model's build marks its own first layer as making none)
        builder._sync_views()
        builder._mark_first_layer()
    return built
