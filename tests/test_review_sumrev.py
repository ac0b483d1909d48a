"""Review of summary's nested-model records (glassnet._summary.Nested): rows against Keras 3.15,
and the records neither merging two models nor keeping popped layers alive."""
import gc
import os
import weakref

import numpy as np
import pytest

import glassnet as gn
from test_summary import _keras, _ours, _theirs

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def test_models_made_and_dropped_in_a_helper_keep_a_row_each():
    # Keras' block pattern: a model made in a function, called there, then dropped by the function
    # (the outer graph keeps it, as Keras' does: its record holds the model whose config a Keras file
    # writes nested). Its rows were once keyed by id(model), and a dropped model's id, reused by the
    # next one, merged two rows; each model now has a key of its own (key_of), so twelve blocks
    # give twelve rows whether or not an id comes back
    L = gn.layers

    def block(x, k):
        model = gn.Sequential([L.Dense(2, name=f"d{k}")], name=f"blk{k}")
        return model(x)
    inputs = gn.Input((2,))
    h = inputs
    for k in range(12):
        h = block(h, k)
        gc.collect()
    rows, _ = _ours(gn.Model(inputs, h))
    assert [r[1] for r in rows] == ["input_layer (InputLayer)", *(f"blk{k} (Sequential)" for k in range(12))]


def _several_outputs(lib):
    L = lib.layers
    bi = lib.Input((4,), name="bi")
    h = L.Dense(5, name="bh")(bi)
    base = lib.Model(bi, [L.Dense(2, name="o1")(h), L.Dense(3, name="o2")(h)], name="base")
    x = lib.Input((4,), name="x")
    a, b = base(x)
    return lib.Model(x, L.Concatenate(name="cat")([a, b]), name="m")


@pytest.mark.parametrize("options", [{}, dict(expand_nested=True)])
def test_a_nested_model_of_several_outputs_shows_each_shape_as_keras(options):
    keras = _keras()
    ours, theirs = _ours(_several_outputs(gn), **options), _theirs(_several_outputs(keras), **options)
    assert ours == theirs
    assert ours[0][0][1] == "x (InputLayer)" and ours[0][1][2] == "[(None, 2), (None, 3)]"


def test_a_layer_popped_off_a_nested_model_is_not_kept_alive_by_its_record():
    L = gn.layers
    inner = gn.Sequential([L.Dense(8, name="a"), L.Dense(500, name="big")], name="inner")
    outer = gn.Sequential([gn.Input((4,)), inner, L.Dense(1, name="h")], name="outer")
    outer.compile("mse", "adam")
    outer.fit(np.zeros((32, 4), "float32"), np.zeros((32, 1), "float32"), verbose=0)
    outer.pop()
    popped = weakref.ref(outer.pop())        # its weights and its last batch's caches
    del inner
    gc.collect()
    assert popped() is None
    rows, totals = _ours(outer, expand_nested=True)
    assert [r[1] for r in rows] == ["inner (Sequential)", "a (Dense)"] and totals[0] == 40


def test_numpy_numbers_are_taken_for_line_length_and_positions():
    model = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2, name="d")])
    out = []
    model.summary(print_fn=out.append, line_length=np.int64(60))
    model.summary(print_fn=out.append, positions=[np.float64(0.45), np.float64(0.8), np.int64(1)], line_length=60)
    model.summary(print_fn=out.append, positions=[np.float32(0.5), np.float32(0.75), np.float32(1)], line_length=60)
    assert out[0] == out[1] and max(len(line) for line in out[0].splitlines()) == 60
    assert out[2].splitlines()[2].index("Output Shape") == 30
    with pytest.raises(ValueError, match="positions must be a list of increasing positive numbers"):
        model.summary(print_fn=out.append, positions=[20, 40, float("inf")])
