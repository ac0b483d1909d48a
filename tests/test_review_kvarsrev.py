"""Review of Keras' weight attributes, gn.Variable, build shapes and top-level names against
Keras 3.15: Variable arithmetic's dtypes, a view's path inside gn.name_scope, gn.Function on
nested structures and a list of one output."""
import numpy as np
import pytest

import glassnet as gn


def _dtype(x):
    return np.dtype(getattr(getattr(x, "dtype", None), "name", None) or np.asarray(x).dtype).name


@pytest.mark.parametrize("expression", ["vi * 2.5", "vi / 2", "2 / vi", "vi // 2", "v + i64",
                                        "vi + f32", "v * 2.5", "v + f64", "v ** 2", "vi % 3"])
def test_variable_arithmetic_promotes_dtypes_as_keras(keras, expression):
    values = {"i64": np.arange(1, 4, dtype="int64"), "f32": np.ones(3, "float32"), "f64": np.ones(3)}
    ours = eval(expression, {**values, "v": gn.Variable(np.ones(3, "float32")),
                             "vi": gn.Variable(np.arange(1, 4, dtype="int32"))})
    theirs = eval(expression, {**values, "v": keras.Variable(np.ones(3, "float32")),
                               "vi": keras.Variable(np.arange(1, 4, dtype="int32"))})
    assert _dtype(ours) == _dtype(theirs)
    np.testing.assert_allclose(np.asarray(ours), keras.ops.convert_to_numpy(theirs), rtol=1e-6)


def test_weight_view_path_keeps_the_name_scope(keras):
    def paths(lib):
        with lib.name_scope("outer"):
            with lib.name_scope("block"):
                dense = lib.layers.Dense(3, name="dense")      # (named: Keras' default names count on
                dense.build((None, 5))                          # over the tests run before this one)
                norm = lib.layers.BatchNormalization(name="batch_normalization")
                norm.build((None, 4))
        return dense.kernel.path, dense.bias.path, norm.moving_mean.path
    assert paths(gn) == paths(keras)


def test_weight_view_path_in_name_scope_matches_the_models_weight_paths():
    with gn.name_scope("block"):
        model = gn.Sequential([gn.Input((5,)), gn.layers.Dense(3, name="dd")], name="seq")
    # the model's own Keras paths (a MultiOptimizer's patterns) and the view agree on the scope
    assert model._weight_paths()[0] == "block/seq/dd/kernel"
    assert model.layers[0].kernel.path.startswith("block/")


def _structure(x):
    if isinstance(x, dict):
        return {k: _structure(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x).__name__, [_structure(v) for v in x]
    return tuple(np.shape(x))


@pytest.mark.parametrize("case", ["list_of_one", "tuple", "nested_out", "repeated_out", "nested_in"])
def test_function_keeps_keras_structures(keras, case):
    def run(lib):
        a, b = lib.Input((3,), name="a"), lib.Input((2,), name="b")
        x, y = lib.layers.Dense(2)(a), lib.layers.Dense(4)(b)
        arrays = [np.ones((5, 3), "float32"), np.full((5, 2), 2.0, "float32")]
        inputs, outputs, given = {
            "list_of_one": (a, [x], arrays[0]),
            "tuple": ([a, b], (x, y), arrays),
            "nested_out": ([a, b], {"p": [x, y], "q": x * 2.0}, arrays),
            "repeated_out": ([a, b], {"p": [x, y], "q": x}, arrays),
            "nested_in": ([[a], {"b": b}], [y, x], [[arrays[0]], {"b": arrays[1]}]),
        }[case]
        return lib.Function(inputs, outputs)(given)
    assert _structure(run(gn)) == _structure(run(keras))


def test_function_list_of_one_output_is_a_list():
    x = gn.Input((3,))
    out = gn.Function(x, [gn.ops.relu(x)])(np.array([[-1.0, 0.5, 2.0]], "float32"))
    # a bare array here made out[0] the first row, not the first output
    assert isinstance(out, list) and len(out) == 1
    np.testing.assert_array_equal(out[0], [[0.0, 0.5, 2.0]])


@pytest.mark.parametrize("keywords", [False, True])
def test_multi_head_attention_build_takes_keras_signature(keras, keywords):
    """Keras' MultiHeadAttention.build(query_shape, value_shape, key_shape=None), as a block's build
    calls it (keras_hub's TransformerEncoder); was a bare TypeError (one positional argument)."""
    shapes = {"query_shape": (None, None, 16), "value_shape": (None, 5, 12), "key_shape": (None, 5, 10)}

    def built(lib):
        layer = lib.layers.MultiHeadAttention(num_heads=2, key_dim=4)
        layer.build(**shapes) if keywords else layer.build(*shapes.values())
        return layer
    ours, theirs = built(gn), built(keras)
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    rng = np.random.default_rng(0)
    q, v, k = (rng.normal(size=(2, *s[1:])).astype("float32") for s in
               [(None, 7, 16), shapes["value_shape"], shapes["key_shape"]])
    np.testing.assert_allclose(ours(q, v, k), keras.ops.convert_to_numpy(theirs(q, v, k)), rtol=1e-4, atol=1e-5)


class _KerasSubclassDense(gn.layers.Dense):
    """Keras code's subclass of a built-in layer whose build adds to the built-in one's."""

    def build(self, input_shape):
        super().build(input_shape)
        self.built_for = input_shape


class _KerasSubclassConv(gn.layers.Conv2D):
    def build(self, input_shape):
        super().build(input_shape)


def test_subclass_build_over_a_built_in_takes_keras_shape(keras):
    """A subclass' build over a built-in layer's, called with Keras' shape by code of yours, builds as
    the built-in layer does (its super().build was handed Keras' shape as a sample's: a 4-axis
    image sample for Conv2D, a refusal of the data)."""
    rng = np.random.default_rng(1)
    x = rng.normal(size=(2, 8, 8, 2)).astype("float32")
    ours, theirs = _KerasSubclassConv(3, 3), keras.layers.Conv2D(3, 3)
    ours.build((None, 8, 8, 2))
    theirs.build((None, 8, 8, 2))
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours(x), keras.ops.convert_to_numpy(theirs(x)), rtol=1e-5, atol=1e-5)


def test_subclass_build_in_a_block_build_and_in_a_model():
    class Block(gn.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = _KerasSubclassDense(3)

        def build(self, input_shape):           # Keras' (None, 5)
            self.dense.build(input_shape)

        def call(self, x):
            return self.dense(x)
    x = np.ones((4, 5), "float32")
    assert gn.Sequential([gn.Input((5,)), Block()]).predict(x, verbose=0).shape == (4, 3)
    # a model hands the subclass one sample's shape, as before
    model = gn.Sequential([gn.Input((5,)), _KerasSubclassDense(3)])
    assert model.layers[0].built_for == (5,) and model.predict(x, verbose=0).shape == (4, 3)


def test_an_ambiguous_keras_build_shape_is_named_when_the_first_call_refuses():
    # Keras' build((None, None, 8)) of a sequence layer is glassnet's one sample of any height and
    # width; the refusal of the first (batch, steps, 8) call says how the shape was read
    norm = gn.layers.LayerNormalization()
    norm.build((None, None, 8))
    with pytest.raises(ValueError, match=r"read as one sample's shape.*build\(\(None, 8\)\)"):
        norm(np.ones((7, 5, 8), "float32"))
