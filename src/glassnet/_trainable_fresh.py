"""A model's ``trainable_weights`` as its layers' ``trainable`` flags are now.

A model trains its weights through one flat buffer laid out at ``compile``, ``fit`` and
``train_on_batch`` from the flags then (``ParametersMixin._flatten_parameters``); fit's per-batch
loop reads nothing else, so that a feature that is off costs the hot path nothing. Keras 3.15's
``trainable_weights`` is ``[v for v in self.weights if v.trainable]``, read at once:
``layer.trainable = False`` drops the layer's weights from the model's list the moment it is set
(with or without ``compile``), and ``trainable = True`` puts them back. So the lists are checked
where they are read: when a flag changed since the buffer was laid out, the list is made again
from the flags (these functions); the buffer itself waits for the next ``compile``, ``fit`` or
``train_on_batch``: laying it out anew replaces the weight arrays (a list read before then names
the old ones: ``retire`` below) and cuts the optimizer's state per weight (glassnet._state_carry),
work and a change a property read must not make (a GAN reads ``D.trainable_weights`` while D is
frozen for the combined model).

What Keras 3.15 (TensorFlow) does when training without a new ``compile`` is another matter: its
train function reads ``trainable_weights`` when tf.function traces it, so a layer frozen after a
``fit`` still trains in the next ``fit`` with batches of the same shapes, but not after a
``train_on_batch``, or with another batch size (both trace anew). glassnet reads the flags at every
``fit`` and ``train_on_batch`` (see docs/guide/training.md, "Freezing layers").
"""
import weakref


def flags_changed(model):
    """Whether a layer of ``model`` (built) was frozen or unfrozen since its flat buffer of trained
    weights was laid out: the layout the flags give now differs from the one it has."""
    return model._trainable_layout() != getattr(model, "_layout", None)


def fresh_trainable_weights(model):
    """Every parameter of the layers of ``model`` trainable now, live, in the order of its layers
    (Keras' list). A layer frozen since keeps its view into the buffer (its values, as it computes
    with them); one unfrozen since has its own arrays until training lays the buffer out again."""
    return [layer.params[key] for layer in model.layers if layer.trainable for key in layer.params]


def unfrozen_since(model):
    """``[(layer, key)]``: the weights of the layers of ``model`` trainable now that its buffer does
    not hold (unfrozen since it was laid out). A ``GradientTape`` gives them their gradients, as TF
    gives an unfrozen layer's variables theirs, in a training loop of one's own that calls no
    ``fit`` to lay the buffer out again. ``[]`` in the usual case, after one pass over the views."""
    laid = {id(layer) for layer, _, _, _ in getattr(model, "_views", ())}
    return [(layer, key) for layer in model.layers
            if layer.trainable and layer.params and id(layer) not in laid for key in layer.params]


# id(array) -> (weak reference to it, "layer/weight", the model's name): the arrays a model's weights
# were before training laid its flat buffer out anew (glassnet.parameters), which it no longer
# computes with. Looked at only where a tape or apply_gradients is given weights, never in fit.
RETIRED = {}


def retire(model, views):
    """Record the arrays of ``views`` (a model's ``_views`` before a new layout) that are no longer
    their layer's weight: a list of ``model.trainable_variables`` read before names them."""
    for layer, key, param, _ in views:
        if layer.params.get(key) is not param:
            ident = id(param)
            ref = weakref.ref(param, lambda _, ident=ident: RETIRED.pop(ident, None))
            RETIRED[ident] = (ref, f"{layer.name}/{key}", model.name)


def refuse_retired(arrays, caller):
    """ValueError when one of ``arrays`` is a weight array a model laid out anew since (``retire``):
    its gradient would be None and no step would reach the model (Keras' variables stay the same
    objects; glassnet's weights are views into a flat buffer, which a changed trainable flag,
    ``pop`` or ``add`` lays out anew at the next ``compile``, ``fit`` or ``train_on_batch``)."""
    if not RETIRED:
        return
    for k, array in enumerate(arrays):
        entry = RETIRED.get(id(array))
        if entry is not None and entry[0]() is array:
            raise ValueError(
                f"{caller}: weight {k} ({entry[1]}, shape {tuple(array.shape)}) is an array model {entry[2]!r} "
                f"no longer computes with: a list of model.trainable_variables (or trainable_weights) read "
                f"before a compile, fit or train_on_batch that took up a changed trainable flag (or a pop or "
                f"add) names the arrays of the old layout, whose gradients would be None and whose steps "
                f"would reach nothing. Read model.trainable_variables again after that call (e.g. at each "
                f"step of the loop)")
