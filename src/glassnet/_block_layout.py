"""Keras 3.15's ``.weights.h5`` layout of a block drawn from ``call`` (a subclass of Model).

Keras' saving_lib writes a subclassed model by walking its attributes (``_walk_saveable``): its
own variables (``add_weight``'s, the ``keras.Variable``s it holds) in ``vars``, then each
attribute in ``dir()`` order, private names (``_x``) last, a layer under the attribute's name and a
list, tuple or dict under it with each item named by its class in snake case (``dense``,
``dense_1``; a nested container ``container``); ``layers`` is an attribute too, the model's
direct layers in the order it assigned them (containers flattened). A layer met before is not
written again. So for::

    class Block(keras.Model):
        def __init__(self):
            super().__init__()
            self.seq = keras.Sequential([Dense(4), Dense(3)])
            self.head = Dense(2)
            self.w = keras.Variable(np.ones(2), name="w")

it writes ``vars/0`` (w), ``head/vars/0..1``, ``layers/sequential/layers/dense/vars/...`` (the
Sequential in its own layout), and nothing more (``head`` was met at ``head``; ``seq`` at
``layers``). glassnet's drawn graph (``layers/sequential``, ``layers/dense``, ``layers/tensor_op``,
...) is another layout, which Keras cannot read: ``block_groups`` gives this one, for
``save_weights("x.weights.h5")`` and ``load_weights`` (glassnet._keras_h5). The optimizer's group
(``optimizer/vars``, which Keras' ``save_weights`` adds for a compiled model) is not written, as
for glassnet's other models' ``.weights.h5``; Keras loads a file without it.
"""
from ._attr_variables import _leaves
from ._layer_order import glassnet_attribute_names

# glassnet's own attributes of a drawn block that hold its layers (set when it is drawn)
_GLASSNET_HOLDERS = frozenset({"_call_weights", "_views", "_weight_layout", "_glassnet_attributes"})


def is_drawn_block(model):
    """Whether ``model`` is a subclass of Model drawn from its ``call`` (and drawn already)."""
    return (getattr(model, "_functional", True) is False and callable(getattr(model, "_subclass", None))
            and model._subclass() and model.built)


def _name_key(name):
    """Keras' ``_name_key``: private attributes after the others."""
    return f"~{name}" if name.startswith("_") else name


def _snake(name):
    from ._keras_h5 import _snake as snake
    return snake(name)


def _is_layer(value):
    return getattr(value, "is_model", False) or (hasattr(value, "describe") and hasattr(value, "params"))


def _user_attributes(model):
    """``{name: value}`` of the attributes ``model``'s own code set (glassnet's left out)."""
    skip = glassnet_attribute_names(model) | _GLASSNET_HOLDERS
    return {name: value for name, value in vars(model).items() if name not in skip and not name.startswith("__")}


def _direct_layers(attributes):
    """Keras' ``Model.layers`` of a subclass: the layers (and models) its attributes hold, in the
    order assigned, containers flattened, each once."""
    found, seen = [], set()
    for value in attributes.values():
        for leaf in _leaves(value):
            if _is_layer(leaf) and id(leaf) not in seen:
                seen.add(id(leaf))
                found.append(leaf)
    return found


def block_groups(model, path=""):
    """``[(group path, layer or None, name attribute)]`` of the block ``model`` in Keras' layout (see
    the module docstring), as glassnet._keras_h5's ``layer_groups`` gives a graph's: the block's own
    weights first (its ``CallWeights`` at ``path`` itself, None when it has none)."""
    from ._keras_h5 import layer_groups
    attributes = _user_attributes(model)
    own = vars(model).get("_call_weights")
    groups = [(path.rstrip("/"), own, model.name)]
    visited = {id(model), id(own)}

    def save(value, where):
        if id(value) in visited:
            return
        visited.add(id(value))
        if getattr(value, "is_model", False):
            inner = block_groups(value, f"{where}/") if is_drawn_block(value) else \
                [(where, None, value.name), *layer_groups(value, f"{where}/")]
            visited.update(id(layer) for _, layer, _ in inner if layer is not None)
            groups.extend(inner)
        else:
            groups.append((where, value, value.name))

    def container(items, where, depth=0):
        used = {}
        for item in (items.values() if isinstance(items, dict) else items):
            if _is_layer(item):
                save(item, f"{where}/{_unique(_snake(type(item).__name__), used)}")
            elif isinstance(item, (list, tuple, dict)) and depth < 32:
                container(item, f"{where}/{_unique('container', used)}", depth + 1)

    for name in sorted([*attributes, "layers"], key=_name_key):
        value = _direct_layers(attributes) if name == "layers" else attributes[name]
        if _is_layer(value):
            save(value, f"{path}{name}")
        elif isinstance(value, (list, tuple, dict)):
            container(value, f"{path}{name}")
    return groups


def _unique(name, used):
    """Keras' ``_get_unique_name``: ``name``, then ``name_1``, ``name_2``, ..."""
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name
