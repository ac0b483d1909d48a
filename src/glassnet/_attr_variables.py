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

Left untracked, as before: a variable in a list or dict attribute, one of an integer or boolean
dtype (a block's weights are floats), a layer's weight view (``dense.kernel``: its layer's already),
and a variable set after the block was drawn.
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


def adopt(model):
    """Make each plain float ``gn.Variable`` that ``model`` (a subclass drawn from ``call``) holds as
    an attribute a weight of its ``CallWeights`` (see the module docstring). Nothing to do, the
    common case, costs one pass over its attributes."""
    found = [(key, value) for key, value in vars(model).items() if _adoptable(value)]
    if not found:
        return
    from ._call_weights import add_weight
    for key, variable in found:
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
        model.__dict__[key] = handle        # (the same key: its place in the attributes' order kept)
    _order(model, model._call_weights, {variable._handle.name for _, variable in found})


def _order(model, owner, adopted):
    """``owner.specs`` in Keras' tracking order: the weights held as attributes in the attributes'
    order, each add_weight weight not held by one kept where it was made (before the next one
    that is). ``adopted``: the names of the weights adopted now (add_weight made the others)."""
    from ._call_weights import CallWeight
    by_name = {spec["name"]: spec for spec in owner.specs}
    earlier = [spec["name"] for spec in owner.specs if spec["name"] not in adopted]
    order = []
    for value in vars(model).values():
        if not (isinstance(value, CallWeight) and value.owner is owner and value.index is None
                and not value.reshaped) or value.name in order:
            continue
        if value.name not in adopted:
            while earlier:       # add_weight's, up to this one, in the order they were made
                name = earlier.pop(0)
                if name not in order:
                    order.append(name)
                if name == value.name:
                    break
        else:
            order.append(value.name)
    order += [name for name in earlier if name not in order]
    order += [name for name in by_name if name not in order]
    owner.specs[:] = [by_name[name] for name in order]
    if owner.built:
        # made already (its weights read before the block was drawn: make_now), in no model yet (the
        # block is not drawn): its arrays put in that order too, as the model will list them
        for table in ("params", "grads", "state"):
            arrays = getattr(owner, table, None)
            if arrays:
                setattr(owner, table, {name: arrays[name] for name in order if name in arrays})
