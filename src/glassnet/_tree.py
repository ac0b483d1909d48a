"""Nested structures as Keras' ``keras.tree`` walks them: lists, tuples and dicts, nested as deep
as wanted, anything else a leaf (an array, None, a number). Keras' default steps map the outputs a
step returns leaf by leaf (glassnet.default_steps); the distillation losses map one loss per
output (glassnet.distillation)."""


def map_structure(fn, *structures):
    """``fn`` applied to the leaves found at the same place in each of ``structures`` (the first
    gives the nesting): a structure of the same kinds, dicts by the first one's keys and order.

    >>> map_structure(lambda a, b: a + b, {"x": [1, 2]}, {"x": [10, 20]})
    {'x': [11, 22]}
    """
    first = structures[0]
    if isinstance(first, dict):
        return {key: map_structure(fn, *(s[key] for s in structures)) for key in first}
    if isinstance(first, (list, tuple)):
        return type(first)(map_structure(fn, *items) for items in zip(*structures))
    return fn(*structures)


def flatten(structure):
    """The leaves of ``structure`` in order (dicts by their keys' order).

    >>> flatten({"a": [1, (2, 3)], "b": 4})
    [1, 2, 3, 4]
    """
    if isinstance(structure, dict):
        return [leaf for key in structure for leaf in flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]
