"""Input's Keras 3.15 keywords batch_size and batch_shape: recorded (batch_shape as Keras' input
tensor's shape), each bad value refused by name, and a model on such an Input builds and runs."""

import pickle

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers.input import InputLayer


@pytest.mark.parametrize("kwargs", [dict(shape=(10,), batch_size=32), dict(batch_shape=(32, 10)),
                                    dict(batch_shape=(None, 4, 3)), dict(shape=(7,))])
def test_batch_shape_is_keras_input_shape(kwargs, keras):
    ours, theirs = gn.Input(**kwargs), keras.Input(**kwargs)
    assert ours.batch_shape == ours.shape == tuple(theirs.shape)
    assert ours.sample_shape == tuple(theirs.shape[1:]) and ours.batch_size == theirs.shape[0]


def test_a_model_on_an_input_with_a_batch_size_builds_and_runs():
    x = np.ones((5, 10), dtype=np.float32)
    inputs = gn.Input(batch_shape=(32, 10))
    model = gn.Model(inputs, gn.layers.Dense(3)(inputs))
    assert model.predict(x, verbose=0).shape == (5, 3)          # recorded, not enforced
    seq = gn.Sequential([gn.Input((10,), batch_size=4), gn.layers.Dense(2)])
    assert seq.built and seq.predict(x, verbose=0).shape == (5, 2)


def test_a_stateful_rnn_takes_its_rows_from_its_first_batch_with_or_without_batch_size():
    x = np.random.default_rng(0).normal(size=(4, 3, 2)).astype(np.float32)
    model = gn.Sequential([gn.Input(batch_shape=(4, 3, 2)), gn.layers.SimpleRNN(5, stateful=True)], seed=0)
    model.predict(x, batch_size=4, verbose=0)
    with pytest.raises(ValueError, match="stateful=True"):
        model.predict(x[:3], batch_size=3, verbose=0)


@pytest.mark.parametrize("kwargs, message", [
    (dict(shape=(3,), batch_shape=(2, 3)), r"^Input: give batch_shape=\(batch_size, \*shape\) or shape, not both"),
    (dict(batch_size=2, batch_shape=(2, 3)), r"^Input: give batch_shape=\(batch_size, \*shape\) or batch_size, not both"),
    (dict(batch_shape=(0, 3)), r"^Input: batch_shape\[0\] must be a whole number > 0 \(or None for any\), got 0"),
    (dict(shape=(3,), batch_size=2.5), r"^Input: batch_size must be a whole number > 0 .*got 2.5"),
    (dict(shape=(3,), batch_size=True), r"^Input: batch_size must be a whole number > 0 .*got True"),
    (dict(batch_shape=5), r"^Input: batch_shape must be a tuple \(batch_size, \*shape\).*got 5"),
])
def test_bad_values_are_refused_by_name(kwargs, message, keras):
    with pytest.raises(ValueError, match=message):
        gn.Input(**kwargs)
    if "batch_shape" in kwargs and len(kwargs) == 2:       # Keras refuses both together too
        with pytest.raises(ValueError):
            keras.Input(**kwargs)


def test_no_shape_at_all_is_refused_by_name():
    with pytest.raises(TypeError, match=r"^Input: missing the shape of one sample"):
        gn.Input()


@pytest.mark.parametrize("dtype", [None, "float32", "float64", "int32", "int64", "uint8", "bool", np.float64, "int"])
def test_input_dtype_reads_as_keras_input_tensor_dtype(dtype, keras):
    # glassnet's Input((3,)).dtype was None (Keras': "float32", its floatx) and a given one a NumPy
    # dtype; Keras' KerasTensor.dtype is always a name
    ours, theirs = gn.Input((3,), dtype=dtype), keras.Input((3,), dtype=dtype)
    assert ours.dtype == theirs.dtype and type(ours.dtype) is str
    assert gn.Input((1,), dtype="string").dtype == keras.Input((1,), dtype="string").dtype == "string"


def test_a_sequential_built_from_a_shape_draws_an_input_of_its_dtype_as_keras(keras):
    # Keras' Sequential built from a shape draws its Input in its layers' dtype; one given keeps its own
    theirs = keras.Sequential([keras.layers.Dense(2, dtype="float64")])
    theirs.build((None, 3))
    ours = gn.Sequential([gn.layers.Dense(2)], dtype="float64")
    ours.build((None, 3))
    assert ours.inputs[0].dtype == theirs.inputs[0].dtype == "float64"
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, dtype="float64")])
    ours = gn.Sequential([gn.Input((3,)), gn.layers.Dense(2)], dtype="float64")
    assert ours.inputs[0].dtype == theirs.inputs[0].dtype == "float32"


def test_input_dtype_leaves_model_configs_and_drawings_as_they_were():
    inputs = gn.Input((3,), name="x")
    model = gn.Model(inputs, gn.layers.Dense(1)(inputs), dtype="float64")
    # no dtype in the config of an Input of numbers, given or not: a model's inputs take its dtype
    assert model.get_config()["inputs"] == [{"name": "x", "shape": [3]}]
    assert gn.Model.from_config(model.get_config()).inputs[0].dtype == "float32"
    # an Input without a dtype of its own is drawn with the model's, which its data is cast to
    from glassnet._model_graph import graph_of
    boxes, _ = graph_of(model)
    assert [box.dtype for box in boxes if box.kind == "InputLayer"] == ["float64"]
    # an Input pickled when its dtype was None or a NumPy dtype reads as a name
    assert pickle.loads(pickle.dumps(inputs)).dtype == "float32"
    for old, name in ((None, "float32"), (np.dtype("int32"), "int32"), ("string", "string")):
        state = {key: value for key, value in inputs.__dict__.items() if key != "_given_dtype"}
        again = InputLayer.__new__(InputLayer)
        again.__setstate__({**state, "dtype": old})
        assert again.dtype == name and again._given_dtype == (None if old is None else name)
