"""Review of glassnet.config / glassnet.tree ported from Keras 3.15 scripts: each test compares with
Keras live and leaves both libraries' settings as it found them."""
import collections

import numpy as np
import pytest

from glassnet import backend, ops, tree
from glassnet.image_utils import img_to_array


@pytest.fixture
def kconfig(keras):
    yield keras.config
    for c in (keras.config, backend):
        c.set_floatx("float32"), c.set_image_data_format("channels_last")
    keras.backend.clear_session(), backend.clear_session()


def _kdtype(keras, x):
    return keras.backend.standardize_dtype(x.dtype)


def test_tree_dict_with_keys_of_mixed_types_walks_as_keras(keras):
    # optree's total order: keys that do not compare sort by their type's name first (int < str)
    s = {"b": [1, 5], 1: "x", "a": 3, 0: {2: "y", "k": "z"}}
    assert tree.flatten(s) == keras.tree.flatten(s)
    assert tree.flatten_with_path(s) == keras.tree.flatten_with_path(s)
    assert tree.pack_sequence_as(s, list(range(6))) == keras.tree.pack_sequence_as(s, list(range(6)))
    tree.assert_same_structure(s, s), tree.assert_same_paths(s, s)
    assert tree.map_structure_up_to(s, str, s) == keras.tree.map_structure_up_to(s, str, s)


def test_tree_defaultdict_is_rebuilt_with_its_factory_as_keras(keras):
    s = collections.defaultdict(list, {"b": 1, "a": [2]})
    for name, args in [("map_structure", (lambda x: x * 10, s)), ("lists_to_tuples", (s,)),
                       ("pack_sequence_as", (s, [7, 8])), ("traverse", (lambda x: None, s))]:
        got, want = getattr(tree, name)(*args), getattr(keras.tree, name)(*args)
        assert type(got) is type(want) and got == want and got.default_factory is want.default_factory, name


def test_tree_map_structure_none_is_leaf_false_as_keras(keras):
    s = {"a": None, "b": [1, None, (2, None)]}
    seen = []

    def f(x):
        seen.append(x)
        return ("m", x)
    assert tree.map_structure(f, s, none_is_leaf=False) == keras.tree.map_structure(
        lambda x: ("m", x), s, none_is_leaf=False)
    assert None not in seen
    assert tree.map_structure(f, None, none_is_leaf=False) is None


def test_tree_functions_call_func_in_keras_sorted_order(keras):
    s = {3: "c", 1: ["a", {"z": 1, "y": 2}], 2: "b"}
    for kwargs in ({}, {"top_down": False}):
        got, want = [], []
        tree.traverse(got.append, s, **kwargs), keras.tree.traverse(want.append, s, **kwargs)
        assert got == want, kwargs
    got, want = [], []
    tree.map_structure(got.append, s), keras.tree.map_structure(want.append, s)
    assert got == want
    got, want = [], []
    tree.map_shape_structure(got.append, s), keras.tree.map_shape_structure(want.append, s)
    assert got == want


def test_ops_float_results_of_integers_and_python_floats_follow_floatx(keras, kconfig):
    kconfig.set_floatx("float64"), backend.set_floatx("float64")
    ints = np.array([1, 2])
    cases = [("sqrt", (ints,)), ("exp", (ints,)), ("divide", (ints, 2)), ("add", (ints, 1.5)),
             ("cos", (1,)), ("var", (ints,)), ("std", (ints,)), ("linspace", (0, 1, 3)), ("arange", (3.0,)),
             ("arange", (0, 3, 0.5)), ("mean", (ints,)), ("add", (np.ones(2, "float32"), 1.5))]
    for name, args in cases:
        got, want = getattr(ops, name)(*args), getattr(keras.ops, name)(*args)
        assert np.dtype(got.dtype).name == _kdtype(keras, want), (name, args)
        np.testing.assert_allclose(got, np.asarray(want), rtol=1e-12)


def test_img_to_array_reads_floatx_and_image_data_format(keras, kconfig):
    pixels = np.arange(24, dtype=np.uint8).reshape(2, 4, 3)
    kconfig.set_floatx("float64"), backend.set_floatx("float64")
    kconfig.set_image_data_format("channels_first"), backend.set_image_data_format("channels_first")
    got, want = img_to_array(pixels), keras.utils.img_to_array(pixels)
    assert got.dtype == want.dtype and got.shape == want.shape == (3, 2, 4)
    np.testing.assert_array_equal(got, want)
