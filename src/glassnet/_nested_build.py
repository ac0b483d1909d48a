"""Building a model nested in another before it was built, once that other model built its layers.

Keras builds a Sequential when it is called on a symbolic tensor (``enc(inputs)`` while a
functional Model is drawn, or in a subclass' ``call``, ``self.ffn(x)``) or nested in a Sequential
that knows its input shape: afterwards ``enc.get_weights()``, ``set_weights``, ``summary()``,
``count_params()`` and ``predict`` work, on the weights the outer model trains.

In glassnet the outer model builds the nested model's layers itself, with its own seed (that is
what fixes their initial weights, and what models made before this existed drew), so the nested
model cannot build when it is called: it would draw other weights. It waits instead: it is
recorded here (``wait_for_layers``), and at the end of every model's build (``build_waiting``)
each waiting model whose layers are now all built, and all the builder's, is built *on* them
(``Sequential._build_on_layers``): a build only checks a built layer's input shape, so nothing
is drawn again, its layers stay the same objects and their arrays keep their values.

A model built so lays its layers' parameters out in a flat buffer of its own, as any model
sharing layers does (``ParametersMixin._flatten_parameters``); the builder then points the layers
back at its own buffer (``_sync_views``), so that the outer model keeps computing with the
very arrays it had, and each model takes up the other's changes before its next optimizer step
(``_sync_views`` again): training either one trains both.
"""
import weakref

# the models waiting: id(model) -> a weak reference to it. Weak: a model dropped leaves nothing
# here, and nothing here is part of any model's state (its pickle, deep copies, config and file are
# as they were). Keyed by id, as glassnet._serial keys its locks: a subclass defining __eq__ has
# no hash, and two models that compare equal are two models.
_WAITING = {}


def _waiting(model):
    ref = _WAITING.get(id(model))
    return ref is not None and ref() is model


def wait_for_layers(model):
    """Record ``model`` (a Sequential not built yet, nested in another model) to be built on its
    layers once a build elsewhere has built all of them. Returns whether it was recorded now (it
    was not waiting already): what ``stop_waiting`` undoes when the nesting is refused."""
    if model.built or _waiting(model):
        return False
    key = id(model)

    def gone(ref):          # the model was dropped: its id may be another's next
        if _WAITING.get(key) is ref:
            del _WAITING[key]
    _WAITING[key] = weakref.ref(model, gone)
    return True


def stop_waiting(model):
    """``model`` is no longer nested where it waited: the nesting was refused; or it is built."""
    if _waiting(model):
        _WAITING.pop(id(model), None)       # (another thread's build may have taken it out meanwhile)


def build_waiting(builder):
    """At the end of ``builder``'s build: build each waiting model whose layers are all built now
    and all among ``builder``'s (it nests them), then point the builder's layers back at its own
    parameter arrays. Returns the models built."""
    stop_waiting(builder)           # it built itself (fit, build, or a Sequential nesting it)
    # only the models nested in the builder: a model built in another thread meanwhile must not build
    # one whose outer model is still building there (midway: its layers built, its own draw of them
    # not made yet, which the nested model's draw would then take as their first calls)
    held = {id(layer) for layer in builder.layers}
    built = []
    for ref in list(_WAITING.values()):
        model = ref()
        if model is None or not _waiting(model):     # dropped, or built meanwhile (nested in one built here)
            continue
        if model.built:
            stop_waiting(model)
        elif (model.layers and all(id(layer) in held for layer in model.layers)
              and all(layer.built for layer in model.layers)):
            stop_waiting(model)
            model._build_on_layers()
            built.append(model)
        # (otherwise its layers are not all built yet: it keeps waiting)
    if built:
        # the models built laid the shared parameters out in buffers of their own: the builder
        # points them back at its arrays (the same values) and marks again which of its layers
        # pass a gradient on (a nested model's build marks its own first layer as making none)
        builder._sync_views()
        builder._mark_first_layer()
    return built
