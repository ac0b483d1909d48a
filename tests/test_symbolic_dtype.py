"""``SymbolicTensor.dtype`` (Keras' ``KerasTensor.dtype``): the name of the dtype ``predict`` gives
for a drawn output. Held to what ``predict`` returns over the whole layer catalogue (float32 and
float64 models, the dtype given to the layer or to the model), to Keras 3.15's value for the same
layers, and the differences from Keras (integer outputs) pinned."""
import types

import numpy as np
import pytest

import glassnet as gn
import test_layer_contract as contract
from glassnet import layers as L
from test_layer_contract import BATCH, TABLE

TEXT_INPUT = ("StringLookup", "TextVectorization", "Hashing")      # drawn on an Input of texts
# layers Keras 3.15 has as functions only (keras.ops): a Lambda layer of the function stands in
KERAS_FUNCTIONS = {"DepthToSpace": "depth_to_space", "SpaceToDepth": "space_to_depth"}


def _drawn(name, factory, **kw):
    """``(Input, layer, output tensor, data)`` for the catalogue row ``name``."""
    _, shape, _ = TABLE[name]
    layer = factory(**kw)
    rng = np.random.default_rng(0)
    if name in TEXT_INPUT:
        inp, x = L.Input((1,), dtype="string"), np.array([["a b"], ["c"], ["b"], ["z"]])
    else:
        inp, x = L.Input(shape), rng.standard_normal((BATCH, *shape))
        if getattr(layer, "discrete_input", False) or name == "IntegerLookup":
            x = rng.integers(0, 5, (BATCH, *shape))
    return inp, layer, layer(inp), x


@pytest.mark.parametrize("name", sorted(TABLE))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_what_predict_returns_for_every_layer(name, dtype):
    factory = TABLE[name][0]
    # the dtype given to the layer: known as soon as it is drawn
    inp, _, out, x = _drawn(name, factory, dtype=dtype)
    assert out.dtype == dtype
    assert gn.Model(inp, out, dtype=dtype).predict(x).dtype.name == out.dtype
    # given to the model only: the default float32 while drawn, the model's once it is built
    inp, _, out, x = _drawn(name, factory)
    assert out.dtype == "float32"
    model = gn.Model(inp, out, dtype=dtype)
    assert out.dtype == dtype == model.predict(x).dtype.name


# Keras' Pipeline takes no dtype (its layers have their own): test_pipeline_dtype_against_keras
@pytest.mark.parametrize("name", sorted(set(TABLE) - {"Pipeline"}))
def test_dtype_is_keras_value_for_the_same_layer(keras, name, monkeypatch):
    factory = TABLE[name][0]
    ours = _drawn(name, factory)[2].dtype
    ours64 = _drawn(name, factory, dtype="float64")[2].dtype
    # the same row made with Keras' classes: the table's factories read the module global `layers`
    keras_layers = keras.layers
    if name in KERAS_FUNCTIONS:
        function = getattr(keras.ops, KERAS_FUNCTIONS[name])

        def stand_in(block_size, dtype=None):
            return keras.layers.Lambda(lambda x: function(x, block_size), dtype=dtype)
        keras_layers = types.SimpleNamespace(**{name: stand_in})
    if name == "TensorOp":
        # Keras' x * c is an operation, not a layer: a Lambda of it (with the row's dtype) stands in
        def operation(op, constant, dtype=None):
            return keras.layers.Lambda(lambda x: getattr(keras.ops, op)(x, np.asarray(constant, "float32")),
                                       dtype=dtype)
        keras_layers = types.SimpleNamespace(TensorOp=operation)
    if name == "TensorFunction":
        # keras.ops' function is an operation too: a Lambda of it stands in
        def function_of(op, arguments, dtype=None):
            return keras.layers.Lambda(lambda x: getattr(keras.ops, op)(x, **arguments), dtype=dtype)
        keras_layers = types.SimpleNamespace(TensorFunction=function_of)
    if name == "RandomDraw":
        # keras.random.dropout is a function too: a Lambda of it stands in
        def draw(distribution, shape, arguments, draw_seed=None, dtype=None):
            return keras.layers.Lambda(lambda x: keras.random.dropout(x, **arguments, seed=draw_seed), dtype=dtype)
        keras_layers = types.SimpleNamespace(RandomDraw=draw)
    if name in ("LayerScale", "StochasticDepth"):
        # Keras 3.15 defines these in its ConvNeXt module, not in keras.layers
        from keras.src.applications import convnext
        keras_layers = types.SimpleNamespace(**{name: getattr(convnext, name)})
    monkeypatch.setattr(contract, "layers", keras_layers)
    shape = TABLE[name][1]
    source = keras.Input((1,) if name in TEXT_INPUT else shape, dtype="string" if name in TEXT_INPUT else None)
    theirs, theirs64 = factory()(source).dtype, factory(dtype="float64")(source).dtype
    if name == "TextVectorization":
        # Keras' ids are int64; glassnet's travel as floats of the model's dtype (its predict's)
        assert (theirs, theirs64, ours, ours64) == ("int64", "int64", "float32", "float64")
    elif name in ("IntegerLookup", "StringLookup"):
        # output_mode="count": Keras computes the counts in float32 whatever the layer's dtype
        assert (theirs, theirs64, ours, ours64) == ("float32", "float32", "float32", "float64")
    else:
        assert (ours, ours64) == (theirs, theirs64)


def test_merges_readers_nested_models_and_sequential_outputs():
    a, b = L.Input((3,)), L.Input((3,))
    added = L.Add()([L.Dense(3)(a), L.Dense(3, dtype="float64")(b)])
    assert added.dtype == "float32"         # the Add has none of its own yet: its first input's
    model = gn.Model([a, b], added, dtype="float64")
    assert added.dtype == "float64"
    assert model.predict([np.ones((2, 3)), np.ones((2, 3))]).dtype == np.float64
    # a recurrent layer's states: tensors of readers, which inherit the recurrent layer's dtype
    seq = L.Input((4, 2))
    out, h, c = L.LSTM(3, return_state=True, dtype="float64")(seq)
    assert (out.dtype, h.dtype, c.dtype) == ("float64",) * 3
    predicted = gn.Model(seq, [out, h, c], dtype="float64").predict(np.ones((2, 4, 2)))
    assert [p.dtype.name for p in predicted] == ["float64"] * 3
    # a model called as a layer: its layers carry its dtype into the model drawn on it
    inner = gn.Model(a, L.Dense(2)(a), dtype="float64")
    c_in = L.Input((3,))
    assert inner(c_in).dtype == "float64"
    # a Sequential's layer outputs
    stack = gn.Sequential([L.Input((3,)), L.Dense(4), L.Dense(1)], dtype="float64")
    assert [layer.output.dtype for layer in stack.layers] == ["float64", "float64"]


def test_differences_from_keras_where_a_layer_is_not_a_float_computation(keras):
    # Keras: an integer Input passed through keeps its dtype, and a lookup's indices are int64;
    # glassnet's model casts its inputs to its float dtype, and predict gives that dtype
    ints, keras_ints = L.Input((3,), dtype="int32"), keras.Input((3,), dtype="int32")
    for ours, theirs in ((L.Identity(), keras.layers.Identity()), (L.Reshape((3, 1)), keras.layers.Reshape((3, 1)))):
        assert theirs(keras_ints).dtype == "int32"
        out = ours(ints)
        assert out.dtype == "float32"
        assert gn.Model(ints, out).predict(np.arange(6, dtype=np.int32).reshape(2, 3)).dtype == np.float32
    lookup = L.IntegerLookup(vocabulary=[3, 7, 1])
    assert keras.layers.IntegerLookup(vocabulary=[3, 7, 1])(keras.Input((2,), dtype="int64")).dtype == "int64"
    source = L.Input((2,), dtype="int64")
    out = lookup(source)
    predicted = gn.Model(source, out).predict(np.array([[3, 5], [1, 7]]))
    assert out.dtype == "float32" == predicted.dtype.name
    np.testing.assert_array_equal(predicted, [[1, 0], [3, 2]])     # the indices (0: unknown), in floats
    # an Input's own dtype stays as Keras reads it; only the layers' outputs are the model's
    assert (ints.dtype, L.Input((3,)).dtype, L.Input((1,), dtype="string").dtype) == ("int32", "float32", "string")
    # Keras gives float32 for a float layer on a float64 Input (its compute dtype), as glassnet
    assert keras.layers.Dense(2)(keras.Input((3,), dtype="float64")).dtype == "float32"
    assert L.Dense(2)(L.Input((3,), dtype="float64")).dtype == "float32"


def test_pipeline_dtype_against_keras(keras):
    ours = L.Pipeline([L.Rescaling(0.5), L.Dense(3)])(L.Input((4,)))
    theirs = keras.layers.Pipeline([keras.layers.Rescaling(0.5), keras.layers.Dense(3)])(keras.Input((4,)))
    assert ours.dtype == theirs.dtype == "float32"


def test_activation_functions_on_a_drawn_tensor_draw_their_op():
    # silu read x.dtype.char: with .dtype a name that was "'str' object has no attribute 'char'";
    # then refused by name; now (as keras.activations.silu(keras_tensor)) drawn as glassnet.ops' function
    inputs = L.Input((3,))
    x = L.Dense(3, kernel_initializer="ones")(inputs)
    data = np.array([[-1.0, 0.25, 2.0]], dtype=np.float32)
    for name in ("silu", "sigmoid", "tanh", "gelu"):
        model = gn.Model(inputs, getattr(gn.activations, name)(x))
        z = np.full((1, 3), data.sum(), dtype=np.float32)
        np.testing.assert_allclose(model.predict(data, verbose=0), getattr(gn.activations, name)(z), rtol=1e-6)


def test_activation_functions_on_a_drawn_tensor_keep_their_own_defaults():
    # gn.activations.gelu is exact and leaky_relu's slope is its own, where glassnet.ops' defaults are
    # the tanh form and 0.2: drawn on a model's tensor the function computed the op's defaults
    inputs = L.Input((3,))
    data = np.array([[-1.5, 0.25, 1.25]], dtype=np.float32)
    for name, kwargs in (("gelu", {}), ("gelu", {"approximate": True}), ("leaky_relu", {}),
                         ("leaky_relu", {"negative_slope": 0.3}), ("relu", {})):
        model = gn.Model(inputs, getattr(gn.activations, name)(inputs, **kwargs))
        np.testing.assert_allclose(model.predict(data, verbose=0), getattr(gn.activations, name)(data, **kwargs),
                                   rtol=1e-6, err_msg=f"{name} {kwargs}")
    with pytest.raises(TypeError, match="max_value"):
        gn.activations.relu(inputs, max_value=6.0)
