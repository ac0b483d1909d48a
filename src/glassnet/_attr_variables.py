"""A ``gn.Variable`` set as an attribute of a block drawn from ``call``, tracked as Keras 3 tracks one.

Keras 3's ``Layer.__setattr__`` tracks every ``keras.Variable`` assigned to the layer::

    class Linear(keras.layers.Layer):
        def build(self, input_shape):
            self.w = keras.Variable(np.ones((input_shape[-1], 3), "float32"), name="w")
            self.b = keras.Variable(np.zeros(3, "float32"), trainable=False, name="b")
        def call(self, x):
            return ops.matmul(x, self.w) + self.b

so ``w`` is in ``weights``, trained by ``fit`` and saved. glassnet's ``Layer`` has no
``__setattr__`` (it would put a Python call on every attribute a layer sets, during ``fit`` too);
instead, just before a block's ``call`` is drawn (and when its weights are read before that), the
plain ``gn.Variable``s among its attributes become weights of its own, as ``add_weight`` makes them
(glassnet._call_weights): a weight of the block's ``CallWeights``, of the variable's value (cast to
the block's dtype), trainable by the variable's flag, named by it (``name_1`` for a name taken).
The attribute becomes the weight's handle (what ``add_weight`` returns in a block), and the variable
itself a view onto that weight (``numpy()``, ``assign`` read and write the trained value).

Order, as Keras': the weights held as attributes in the order the attributes were first set (a
block's ``__dict__`` order, which is assignment order), add_weight's not held by one where they
were made; trainable ones first, then the others (``CallWeights.build``).

A layer of the user's with ``forward`` (no drawn call) does the same at the end of its ``build``
(``adopt_in_layer``, from ``Layer``'s build wrapper, for the user's classes only): the variable
becomes a weight made by ``add_weight`` and a view of it.

Variables in lists, tuples and dicts (nested too: ``self.ws = [gn.Variable(...) for ...]``,
``self.d = {"a": v}``) are adopted as Keras 3.15's Tracker tracks them (since session 48): in the
order of the attributes, each container's in its own order (a dict's, insertion), the list's item
becoming the handle (a tuple rebuilt with it). A layer of the user's with ``forward`` and no
``build`` of its own adopts at its (base) build too (Layer's ``__init_subclass__``).

Left untracked: one of an integer or boolean dtype (glassnet's weights are floats of the layer's
dtype; Keras 3.15 lists one as trainable, though no gradient moves it), a layer's weight view
(``dense.kernel``: its layer's already), and a variable set after the block was drawn (after the
layer's build), which Keras 3.15 refuses ("You cannot add new elements of state ... to a layer that
is already built"). ``save_model`` and ``save_weights`` warn of each such variable, naming it
(``warn_untracked``): no file keeps it.
"""
import numpy as np

from .variables import Variable


class HeldVariable(Variable):
    """A ``gn.Variable`` a block adopted (see the module docstring): a view onto the block's weight
    through its handle ``_handle``, under the variable's own name."""

    def _live(self):
        return self._handle.read(np)

    @property
    def trainable(self):
        return self._handle.trainable

    @trainable.setter
    def trainable(self, value):
        raise TypeError(f"{self.path}: trainable: the block {self._handle.owner_name!r} holds this variable as a weight "
                        f"now, its flag fixed when it was adopted; freeze the block (block.trainable = False)")


def _adoptable(value):
    return type(value) is Variable and np.dtype(value.dtype).kind == "f"


def _leaves(value, within=()):
    """The items of an attribute's ``value`` in Keras' tracking order: the value itself, or those
    of a list, tuple or dict (nested ones too; a dict's in insertion order), depth first; a
    container holding itself is read once (``within``: the containers being read)."""
    if isinstance(value, (list, tuple, dict)):
        if id(value) in within:
            return []
        within = (*within, id(value))
        items = value.values() if isinstance(value, dict) else value
        return [leaf for item in items for leaf in _leaves(item, within)]
    return [value]


def _found(owner):
    """``owner``'s plain float ``gn.Variable``s (``_adoptable``), in Keras' tracking order: its
    attributes' (``__dict__``, assignment order), a container's items in theirs (``_leaves``)."""
    found, seen = [], set()
    for value in vars(owner).values():
        for leaf in _leaves(value):
            if _adoptable(leaf) and id(leaf) not in seen:
                seen.add(id(leaf))
                found.append(leaf)
    return found


def _swapped(value, swap, within=()):
    """``value`` with each item for which ``swap`` returns something else replaced by that: a list
    or dict changed in place (whoever holds it sees the change), a tuple rebuilt (a namedtuple of
    its class); the same object when nothing changed."""
    if isinstance(value, (list, tuple, dict)):
        if id(value) in within:
            return value
        within = (*within, id(value))
    if isinstance(value, list):
        for i, item in enumerate(value):
            new = _swapped(item, swap, within)
            if new is not item:
                value[i] = new
        return value
    if isinstance(value, dict):
        for key, item in list(value.items()):
            new = _swapped(item, swap, within)
            if new is not item:
                value[key] = new
        return value
    if isinstance(value, tuple):
        items = [_swapped(item, swap, within) for item in value]
        if all(new is old for new, old in zip(items, value)):
            return value
        return type(value)(*items) if hasattr(value, "_fields") else type(value)(items)
    return swap(value)


def adopt(model):
    """Make each plain float ``gn.Variable`` that ``model`` (a subclass drawn from ``call``) holds as
    an attribute a weight of its ``CallWeights`` (see the module docstring). Nothing to do, the
    common case, costs one pass over its attributes."""
    found = _found(model)
    if not found:
        return
    from ._call_weights import add_weight
    for variable in found:
        owner = vars(model).get("_call_weights")
        taken = set(owner.names()) if owner is not None else set()
        name, k = variable.name, 0
        while name in taken:
            k += 1
            name = f"{variable.name}_{k}"
        value = np.array(variable._live())
        handle = add_weight(model, value.shape, "zeros", None, variable.trainable, None, None, name)
        owner = model._call_weights
        if owner.built:         # made at once (add): its value now
            target = owner.params if name in owner.params else owner.state
            target[name][...] = value
        else:
            owner.__dict__.setdefault("_values", {})[name] = value
        handle.variable = variable
        variable._handle = handle
        variable.__class__ = HeldVariable
        # (a weights file of a glassnet before session 47 holds no such weight: load_weights keeps its value)
        owner.__dict__.setdefault("_adopted_weights", set()).add(name)
    # each attribute (or its list's, dict's item) now the weight's handle, what add_weight returns
    # in a block: the same keys, their places in the attributes' order kept
    handles = {id(variable): variable._handle for variable in found}
    for key, value in list(vars(model).items()):
        new = _swapped(value, lambda item: handles.get(id(item), item))
        if new is not value:
            model.__dict__[key] = new
    _order(model, model._call_weights, {variable._handle.name for variable in found})


def keras_order(names, held, adopted):
    """Keras' tracking order of a layer's weights: ``held``, the names of the weights its
    attributes hold, in the attributes' order; each weight ``add_weight`` made and no attribute
    holds kept where it was made among ``names`` (the weights in the order made), before the next
    one that is held. ``adopted``: the names of the variables adopted now (add_weight made the
    others)."""
    earlier = [name for name in names if name not in adopted]
    order = []
    for name in held:
        if name in order:
            continue
        if name not in adopted:
            while earlier:       # add_weight's, up to this one, in the order they were made
                made = earlier.pop(0)
                if made not in order:
                    order.append(made)
                if made == name:
                    break
        else:
            order.append(name)
    order += [name for name in earlier if name not in order]
    return order + [name for name in names if name not in order]


def _order(model, owner, adopted):
    """``owner.specs`` (a block's CallWeights) in Keras' tracking order (``keras_order``)."""
    from ._call_weights import CallWeight
    by_name = {spec["name"]: spec for spec in owner.specs}
    held = [leaf.name for value in vars(model).values() for leaf in _leaves(value) if isinstance(leaf, CallWeight)
            and leaf.owner is owner and leaf.index is None and not leaf.reshaped and leaf.axes is None]
    order = keras_order(list(by_name), held, adopted)
    owner.specs[:] = [by_name[name] for name in order]
    if owner.built:
        # made already (its weights read before the block was drawn: make_now), in no model yet (the
        # block is not drawn): its arrays put in that order too, as the model will list them
        _arrays_in(owner, order)


def _arrays_in(layer, order):
    for table in ("params", "grads", "state"):
        arrays = getattr(layer, table, None)
        if arrays:
            setattr(layer, table, {name: arrays[name] for name in order if name in arrays})


def adopt_in_layer(layer):
    """A layer of the user's with ``forward`` (called at the end of its ``build``): each plain float
    ``gn.Variable`` among its attributes made a weight of its own, ``add_weight``'s (in ``params``
    if trainable, else ``state``), of the variable's value (cast to the layer's dtype) and named
    by it (``name_1`` for a name taken); the variable becomes a view of that weight (a
    ``WeightVariable``: what ``forward`` reads through it is the trained value, and ``backward``
    writes its gradient as any weight's, ``self.grads[name]``). Keras' order, as a block's."""
    found = _found(layer)
    if not found:
        return
    from .variables import WeightVariable
    for variable in found:
        taken = {*layer.params, *(getattr(layer, "state", None) or {})}
        name, k = variable.name, 0
        while name in taken:
            k += 1
            name = f"{variable.name}_{k}"
        value = np.array(variable._live())
        # the class's add_weight, not load_model's capped one: the variable's array exists already (its
        # constructor made it), and a model file of an older glassnet does not count it (load_model)
        made = type(layer).add_weight(layer, name, value.shape, "zeros", trainable=variable.trainable)
        made[...] = value
        variable.__class__ = WeightVariable
        variable._layer, variable._key = layer, name
    adopted = {variable._key for variable in found}
    # (a model file of a glassnet before session 47 holds no such weight: load_model keeps its value)
    layer.__dict__["_adopted_weights"] = adopted | layer.__dict__.get("_adopted_weights", set())
    arrays = {id(a): key for key, a in [*layer.params.items(), *(getattr(layer, "state", None) or {}).items()]}
    # (an array add_weight returned counts as held where it is an attribute itself; in a container,
    # a variable only: the layer's own params, grads and state dicts are containers too)
    held = [leaf._key if isinstance(leaf, WeightVariable) and leaf._layer is layer else
            arrays.get(id(leaf)) if leaf is value else None
            for value in vars(layer).values() for leaf in _leaves(value)]
    names = [*layer.params, *(getattr(layer, "state", None) or {})]
    _arrays_in(layer, keras_order(names, [name for name in held if name is not None], adopted))


def warn_untracked(model, where):
    """Warn, naming each, of the ``gn.Variable``s ``model`` (a block) or its layers hold that are no
    weights: set after the layer was built (Keras 3.15 refuses the assignment: "You cannot add new
    elements of state ... to a layer that is already built"; glassnet has no ``__setattr__`` to see
    it then, see the module docstring) or of an integer or boolean dtype (glassnet's weights are
    floats). A file leaves them out, so ``save_model`` and ``save_weights`` (``where``) say so;
    nothing to do, the common case, costs one pass over the attributes."""
    import warnings
    from ._block_layout import is_drawn_block
    for owner in (model, *getattr(model, "layers", ())):
        for attribute, value in list(vars(owner).items()):
            for leaf in _leaves(value):
                if type(leaf) is not Variable:
                    continue
                if not _adoptable(leaf):
                    why = (f"its dtype {np.dtype(leaf.dtype).name} is no float (glassnet's weights are floats; "
                           f"Keras 3.15 lists it in weights)")
                elif getattr(owner, "is_model", False) and not is_drawn_block(owner):
                    why = ("a model not drawn from call holds it (glassnet makes weights of the gn.Variables of a "
                           "block drawn from call and of a layer of yours)")
                else:
                    why = ("it was set after the layer was built (Keras 3.15 refuses that: 'You cannot add new "
                           "elements of state ... to a layer that is already built'): make it in build")
                warnings.warn(f"{where}: {getattr(owner, 'name', type(owner).__name__)!r} holds the gn.Variable "
                              f"{leaf.name!r} (attribute {attribute!r}) that is no weight of it: {why}; the file "
                              f"does not keep it (a layer of yours can keep it with the saving hooks "
                              f"save_own_variables/load_own_variables)", UserWarning, stacklevel=4)
