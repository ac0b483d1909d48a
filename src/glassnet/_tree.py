"""Nested structures as Keras' ``keras.tree`` walks them: lists, tuples (namedtuples too) and
dicts, nested as deep as wanted, anything else a leaf (an array, None, a number). Keras' default
steps map the outputs a step returns leaf by leaf (glassnet.default_steps); the distillation
losses map one loss per output (glassnet.distillation); ``glassnet.tree`` is the public
``keras.tree``, which walks dicts by their sorted keys (``sort_keys=True`` here)."""
from collections import OrderedDict


def is_nested(x):
    """Whether ``x`` is a list, tuple or dict (a node of a structure), not a leaf."""
    return isinstance(x, (list, tuple, dict))


def children(x, sort_keys=False):
    """``x``'s (key, child) pairs: dicts by their keys' order, or sorted (Keras' order; an
    OrderedDict keeps its own, as Keras'), lists and tuples by position; () for a leaf."""
    if isinstance(x, dict):
        keys = sorted(x) if sort_keys and not isinstance(x, OrderedDict) else list(x)
        return [(key, x[key]) for key in keys]
    if isinstance(x, (list, tuple)):
        return list(enumerate(x))
    return []


def rebuild(x, pairs):
    """A node of ``x``'s kind holding ``pairs`` ((key, child) as ``children`` gives them); a dict
    keeps ``x``'s own key order, a namedtuple its fields."""
    if isinstance(x, dict):
        values = dict(pairs)
        return type(x)((key, values[key]) for key in x)
    items = [value for _, value in pairs]
    if isinstance(x, tuple) and hasattr(x, "_fields"):
        return type(x)(*items)
    return type(x)(items)


def map_structure(fn, *structures):
    """``fn`` applied to the leaves found at the same place in each of ``structures`` (the first
    gives the nesting): a structure of the same kinds, dicts by the first one's keys and order.

    >>> map_structure(lambda a, b: a + b, {"x": [1, 2]}, {"x": [10, 20]})
    {'x': [11, 22]}
    """
    first = structures[0]
    if not is_nested(first):
        return fn(*structures)
    return rebuild(first, [(key, map_structure(fn, *(s[key] for s in structures)))
                           for key, _ in children(first)])


def flatten(structure, sort_keys=False):
    """The leaves of ``structure`` in order (dicts by their keys' order, or sorted).

    >>> flatten({"a": [1, (2, 3)], "b": 4})
    [1, 2, 3, 4]
    """
    if not is_nested(structure):
        return [structure]
    return [leaf for _, item in children(structure, sort_keys) for leaf in flatten(item, sort_keys)]
