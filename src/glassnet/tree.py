"""Keras 3.15's ``keras.tree``: nested lists, tuples (namedtuples too) and dicts of leaves.

Dicts are walked by their sorted keys, as Keras' (an OrderedDict by its own order); a rebuilt
dict keeps the order of the dict it copies. None is a leaf. The walk is glassnet._tree's.

>>> from glassnet import tree
>>> tree.flatten({"b": [1, (2, None)], "a": 3})
[3, 1, 2, None]
>>> tree.map_structure(lambda x: x * 10, {"b": [1, 2], "a": 3})
{'b': [10, 20], 'a': 30}
"""
from . import _tree

__all__ = ["MAP_TO_NONE", "assert_same_paths", "assert_same_structure", "flatten", "flatten_with_path", "is_nested",
           "lists_to_tuples", "map_shape_structure", "map_structure", "map_structure_up_to", "pack_sequence_as",
           "traverse"]


class _MapToNone:
    """``traverse``'s marker: a function returning it replaces the node with None."""

    def __repr__(self):
        return "MAP_TO_NONE"


MAP_TO_NONE = _MapToNone()


def is_nested(structure):
    """True for a list, tuple or dict (even empty); False for a leaf (None, a number, an array)."""
    return _tree.is_nested(structure)


def flatten(structure):
    """The leaves of ``structure``, dicts by their sorted keys: ``[leaf, ...]``."""
    return _tree.flatten(structure, sort_keys=True)


def flatten_with_path(structure):
    """``[(path, leaf), ...]`` in ``flatten``'s order; a path is the tuple of keys and indices
    leading to the leaf (``()`` for a leaf at the top)."""
    out = []

    def walk(node, path):
        if not _tree.is_nested(node):
            out.append((path, node))
        for key, child in _tree.children(node, sort_keys=True):
            walk(child, path + (key,))
    walk(structure, ())
    return out


def _check_same(a, b, check_types, where=""):
    if _tree.is_nested(a) != _tree.is_nested(b):
        raise ValueError(f"Structures don't have the same nested structure: {a!r:.60} and {b!r:.60}{where}")
    if not _tree.is_nested(a):
        return
    if check_types and type(a) is not type(b) and not (isinstance(a, dict) and isinstance(b, dict)):
        raise ValueError(f"Structures don't have the same sequence type: {type(a).__name__} and "
                         f"{type(b).__name__}{where}")
    if isinstance(a, dict) != isinstance(b, dict) or isinstance(a, dict) and set(a) != set(b):
        raise ValueError(f"Structures don't have the same keys: {a!r:.60} and {b!r:.60}{where}")
    if len(a) != len(b):
        raise ValueError(f"Structures don't have the same length: {len(a)} and {len(b)}{where}")
    for (key, x), (_, y) in zip(_tree.children(a, True), sorted(_tree.children(b, True), key=_order(a, b))):
        _check_same(x, y, check_types, where)


def _order(a, b):
    # b's pairs in a's key order (an OrderedDict beside a dict), positions as they are
    keys = [key for key, _ in _tree.children(a, True)]
    return lambda pair: keys.index(pair[0]) if isinstance(b, dict) else pair[0]


def assert_same_structure(a, b, check_types=None):
    """ValueError unless ``a`` and ``b`` nest the same way: the same kinds of node (a list is not a
    tuple; any dicts match), keys and lengths. ``check_types`` (deprecated in Keras) is ignored:
    Keras 3.15 always compares the kinds."""
    _check_same(a, b, True)


def assert_same_paths(a, b):
    """ValueError naming the paths one of ``a``, ``b`` has and the other lacks (kinds of node not
    compared: ``[1]`` and ``(1,)`` have the same paths)."""
    pa = {path for path, _ in flatten_with_path(a)}
    pb = {path for path, _ in flatten_with_path(b)}
    if pa != pb:
        raise ValueError(f"`a` and `b` don't have the same paths.\nPaths in `a` missing in `b`:\n{pa - pb}\n"
                         f"Paths in `b` missing in `a`:\n{pb - pa}")


def map_structure(func, *structures, none_is_leaf=True):
    """``func`` of the leaves at the same place in each of ``structures`` (all of the same
    structure, checked), in a structure like the first."""
    if not callable(func):
        raise TypeError(f"map_structure: func: expected a callable, got {type(func).__name__}")
    if not structures:
        raise ValueError("map_structure: structures: expected at least one structure, got none")
    for other in structures[1:]:
        _check_same(structures[0], other, True, " (map_structure)")
    return _tree.map_structure(func, *structures)


def map_structure_up_to(shallow_structure, func, *structures):
    """``func`` of the sub-structures of ``structures`` found at the leaves of
    ``shallow_structure`` (whose nesting they must start with)."""
    def walk(shallow, items):
        if not _tree.is_nested(shallow):
            return func(*items)
        for item in items:
            if not _tree.is_nested(item) or len(item) != len(shallow) or (
                    isinstance(shallow, dict) and (not isinstance(item, dict) or set(item) != set(shallow))):
                raise ValueError(f"map_structure_up_to: {item!r:.60} does not have the structure of "
                                 f"{shallow!r:.60}")
        return _tree.rebuild(shallow, [(key, walk(child, [item[key] for item in items]))
                                       for key, child in _tree.children(shallow, True)])
    return walk(shallow_structure, structures)


def pack_sequence_as(structure, flat_sequence, sequence_fn=None):
    """``flat_sequence``'s items put at ``structure``'s leaves, in ``flatten``'s order (dicts by
    sorted keys); ValueError unless there are exactly as many items as leaves."""
    flat = list(flat_sequence)
    count = len(flatten(structure))
    if len(flat) != count:
        raise ValueError(f"pack_sequence_as: flat_sequence: expected {count} items (the leaves of structure), "
                         f"got {len(flat)}")
    items = iter(flat)

    def walk(node):
        if not _tree.is_nested(node):
            return next(items)
        pairs = [(key, walk(child)) for key, child in _tree.children(node, sort_keys=True)]
        return sequence_fn(node, [value for _, value in pairs]) if sequence_fn else _tree.rebuild(node, pairs)
    return walk(structure)


def lists_to_tuples(structure):
    """``structure`` with every list made a tuple (dicts and tuples kept)."""
    if not _tree.is_nested(structure):
        return structure
    pairs = [(key, lists_to_tuples(child)) for key, child in _tree.children(structure)]
    return tuple(value for _, value in pairs) if isinstance(structure, list) else _tree.rebuild(structure, pairs)


def _is_shape(x):
    return isinstance(x, (list, tuple)) and all(d is None or isinstance(d, int) for d in x)


def map_shape_structure(func, structure):
    """``func`` of each shape in ``structure``: a list or tuple of ints and None is a shape (a
    leaf), not a node."""
    if _is_shape(structure) or not _tree.is_nested(structure):
        return func(structure)
    return _tree.rebuild(structure, [(key, map_shape_structure(func, child))
                                     for key, child in _tree.children(structure)])


def traverse(func, structure, top_down=True):
    """``func`` called on every node and leaf. Top down: a node ``func`` returns None for is
    walked into; anything else replaces it (``MAP_TO_NONE``: None). Bottom up: ``func`` sees
    each node rebuilt from its children's results, and its result replaces the node unless
    None."""
    def result(value, original):
        if value is MAP_TO_NONE:
            return None
        return original if value is None else value

    def walk(node):
        if top_down:
            value = func(node)
            if value is not None:
                return result(value, node)
        if _tree.is_nested(node):
            node = _tree.rebuild(node, [(key, walk(child)) for key, child in _tree.children(node)])
        return node if top_down else result(func(node), node)
    return walk(structure)
