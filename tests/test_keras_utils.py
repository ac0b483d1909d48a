"""Keras' small helpers and top-level names: ``utils.normalize``, ``utils.split_dataset``,
``utils.pack_x_y_sample_weight`` / ``unpack_x_y_sample_weight``, ``utils.Sequence``,
``models.clone_model`` and ``gn.Layer`` & co. Checked against Keras 3.15 where Keras has the same."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L
from glassnet.utils import normalize, pack_x_y_sample_weight, split_dataset, unpack_x_y_sample_weight


# -- normalize ---------------------------------------------------------------------------------
@pytest.mark.parametrize("shape, axis", [((5, 4), -1), ((5, 4), 1), ((3, 4, 6), -1), ((3, 4, 6), 1), ((7,), -1)])
@pytest.mark.parametrize("order", [1, 2, np.inf])
def test_normalize_equals_keras(keras, rng, shape, axis, order):
    x = rng.standard_normal(shape)
    x[0] = 0                            # a zero vector stays zero in both
    expected = keras.utils.normalize(x, axis=axis, order=order)
    if x.ndim == 1:                     # Keras turns a vector into a row, (1, n); glassnet keeps x's shape
        expected = expected.reshape(x.shape)
    got = normalize(x, axis=axis, order=order)
    assert got.shape == x.shape
    np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)


def test_normalize_makes_unit_vectors_along_the_axis_given(rng):
    x = rng.standard_normal((4, 6)).astype(np.float32)
    columns = normalize(x, axis=0)      # Keras 3.15 would normalise the rows here (its `axis or -1`)
    assert columns.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(columns, axis=0), 1, rtol=1e-6)
    np.testing.assert_allclose(columns * np.linalg.norm(x, axis=0), x, rtol=1e-6)
    assert normalize(np.array([[3, 4]])).dtype == np.float32      # integers become glassnet's float


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(x=np.array(["a"])), TypeError, "normalize: x must hold numbers"),
    (dict(x=np.ones((2, 3)), axis=2), ValueError, r"normalize: axis=2 is out of range for x of shape \(2, 3\)"),
    (dict(x=np.ones((2, 3)), axis=1.0), TypeError, "normalize: axis must be an int"),
    (dict(x=np.ones((2, 3)), order="fro"), ValueError, "normalize: order must be a vector norm's order"),
])
def test_normalize_refuses_bad_input_by_name(kwargs, error, match):
    with pytest.raises(error, match=match):
        normalize(**kwargs)


# -- split_dataset -----------------------------------------------------------------------------
def _keras_split(keras, data, **kwargs):
    left, right = keras.utils.split_dataset(data, **kwargs)
    return [list(part.as_numpy_iterator()) for part in (left, right)]


@pytest.mark.parametrize("sizes", [dict(left_size=0.8), dict(right_size=0.25), dict(left_size=3),
                                   dict(right_size=4), dict(left_size=3, right_size=2), dict(left_size=0.45),
                                   dict(left_size=0.2, right_size=0.3)])
def test_split_dataset_splits_as_keras(keras, sizes):
    pytest.importorskip("tensorflow")
    x, y = np.arange(22.0).reshape(11, 2), np.arange(11)
    (x_left, y_left), (x_right, y_right) = split_dataset((x, y), **sizes)
    keras_left, keras_right = _keras_split(keras, (x, y), **sizes)
    np.testing.assert_array_equal(x_left, np.array([sample[0] for sample in keras_left]))
    np.testing.assert_array_equal(y_left, np.array([sample[1] for sample in keras_left]))
    np.testing.assert_array_equal(x_right, np.array([sample[0] for sample in keras_right]))
    np.testing.assert_array_equal(y_right, np.array([sample[1] for sample in keras_right]))


def test_split_dataset_keeps_the_form_of_the_data_and_shuffles_all_arrays_alike():
    x = np.arange(10)
    left, right = split_dataset(x, left_size=6)
    np.testing.assert_array_equal(left, x[:6])
    np.testing.assert_array_equal(right, x[6:])
    left, right = split_dataset({"a": x, "b": -x}, right_size=0.3, shuffle=True, seed=3)
    assert set(left) == {"a", "b"} and len(left["a"]) == 7 and len(right["b"]) == 3
    np.testing.assert_array_equal(left["b"], -left["a"])                  # the samples stay together
    assert sorted(np.concatenate([left["a"], right["a"]])) == list(range(10))
    assert not np.array_equal(left["a"], x[:7])                           # shuffled
    again, _ = split_dataset({"a": x, "b": -x}, right_size=0.3, shuffle=True, seed=3)
    np.testing.assert_array_equal(again["a"], left["a"])                  # seeded: repeatable
    left, right = split_dataset([x, x * 2], left_size=0.5)
    assert isinstance(left, list) and len(left) == 2


@pytest.mark.parametrize("data, kwargs, error, match", [
    (np.arange(10), {}, ValueError, "give left_size or right_size"),
    (np.arange(10), dict(left_size=1.5), ValueError, r"left_size must be a fraction in \(0, 1\)"),
    (np.arange(10), dict(left_size=10), ValueError, r"left_size must be a number of samples in \[1, 10\)"),
    (np.arange(10), dict(right_size="half"), TypeError, "right_size must be a fraction"),
    (np.arange(10), dict(left_size=6, right_size=6), ValueError, "ask for 6 \\+ 6 samples, the data holds 10"),
    (np.arange(10), dict(left_size=0.01), ValueError, "leave the left part empty"),
    ((np.arange(10), np.arange(9)), dict(left_size=2), ValueError, "one number of samples along axis 0"),
    (np.float64(3.0), dict(left_size=2), TypeError, "dataset must be an array or a tuple"),
    (np.arange(10), dict(left_size=2, shuffle="yes"), TypeError, "split_dataset: shuffle"),
])
def test_split_dataset_refuses_bad_input_by_name(data, kwargs, error, match):
    with pytest.raises(error, match=match):
        split_dataset(data, **kwargs)


# -- pack / unpack, Sequence -------------------------------------------------------------------
@pytest.mark.parametrize("args", [(1,), ((1, 2),), (1, 2), (1, 2, 3), ([1, 2], None, 3)])
def test_pack_x_y_sample_weight_equals_keras(keras, args):
    assert pack_x_y_sample_weight(*args) == keras.utils.pack_x_y_sample_weight(*args)


@pytest.mark.parametrize("data", [1, (1,), (1, 2), [1, 2, 3]])
def test_unpack_x_y_sample_weight_equals_keras(keras, data):
    assert unpack_x_y_sample_weight(data) == keras.utils.unpack_x_y_sample_weight(data)


def test_unpack_refuses_four_items():
    with pytest.raises(ValueError, match="unpack_x_y_sample_weight: expected x, .*got a tuple of 4 items"):
        unpack_x_y_sample_weight((1, 2, 3, 4))


def test_sequence_is_keras_old_name_of_pydataset():
    assert gn.utils.Sequence is gn.utils.PyDataset


# -- top-level base classes ----------------------------------------------------------------------
def test_base_classes_at_the_top_as_in_keras():
    assert gn.Layer is L.Layer and gn.Loss is gn.losses.Loss and gn.Metric is gn.metrics.Metric
    assert gn.Optimizer is gn.optimizers.Optimizer and gn.Initializer is gn.initializers.Initializer
    assert gn.Regularizer is gn.regularizers.Regularizer
    assert gn.models.Sequential is gn.Sequential and gn.models.Model is gn.Model
    assert gn.models.load_model is gn.load_model


# -- clone_model -------------------------------------------------------------------------------
def _trained(model, x, y):
    model.compile(loss="mse", optimizer=gn.optimizers.Adam(0.01))
    model.fit(x, y, epochs=3, batch_size=4, verbose=0)
    return model


def test_clone_model_rebuilds_the_architecture_with_new_weights_uncompiled(rng):
    x, y = rng.standard_normal((16, 3)), rng.standard_normal((16, 2))

    def make():
        return gn.Sequential([L.Dense(5, activation="tanh", input_shape=(3,)), L.BatchNormalization(),
                              L.Dense(2, kernel_regularizer="l2")], seed=4, dtype="float64")

    model = _trained(make(), x, y)
    model.layers[1].trainable = False
    clone = gn.models.clone_model(model)
    assert clone.loss is None and clone.optimizer is None           # uncompiled, as in Keras
    assert clone.dtype == model.dtype and clone.seed == model.seed
    assert [type(layer) for layer in clone.layers] == [type(layer) for layer in model.layers]
    assert all(a is not b for a, b in zip(clone.layers, model.layers))
    assert not clone.layers[1].trainable                              # a frozen layer stays frozen
    assert clone.get_config()["layers"] == model.get_config()["layers"]
    # new weights: those a new model of the same seed starts from, not the trained ones
    for got, fresh, trained in zip(clone.get_weights(), make().get_weights(), model.get_weights()):
        np.testing.assert_array_equal(got, fresh)
        assert not np.array_equal(got, trained) or got.ndim == 0
    # the two train apart
    before = [w.copy() for w in model.get_weights()]
    _trained(clone, x, y)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_clone_model_of_a_graph_keeps_shared_layers_shared(rng):
    inputs = gn.Input((4,))
    dense = L.Dense(4, activation="relu")
    outputs = L.Dense(1)(L.Add()([dense(inputs), dense(dense(inputs))]))
    model = gn.Model(inputs, outputs, seed=0)
    clone = gn.models.clone_model(model)
    assert isinstance(clone, gn.Model) and len(clone.layers) == len(model.layers)
    clone.set_weights(model.get_weights())
    x = rng.standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_array_equal(clone.predict(x, verbose=0), model.predict(x, verbose=0))


def test_clone_model_of_a_subclass_is_the_model_of_its_graph(rng):
    class Towers(gn.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.a, self.b = L.Dense(3, activation="tanh"), L.Dense(2)

        def call(self, inputs):
            return self.b(self.a(inputs))

    model = Towers(seed=1)
    x = rng.standard_normal((6, 5)).astype(np.float32)
    expected = model.predict(x, verbose=0)
    clone = gn.models.clone_model(model)
    assert type(clone) is gn.Model
    clone.set_weights(model.get_weights())
    np.testing.assert_array_equal(clone.predict(x, verbose=0), expected)


def test_clone_model_refuses_what_it_cannot_rebuild():
    model = gn.Sequential([L.Dense(2, input_shape=(3,))], seed=0)
    for kwargs, match in ((dict(call_function=lambda layer, *args: layer(*args)), "call_function is not supported"),
                          (dict(input_tensors=[gn.Input((3,))]), "input_tensors is not supported")):
        with pytest.raises(ValueError, match=f"clone_model: {match}"):
            gn.models.clone_model(model, **kwargs)
    # (clone_function and recursive are taken: tests/test_nested_configs.py; bad values refused by name)
    for kwargs, match in ((dict(clone_function="dense"), "clone_function must be a callable"),
                          (dict(recursive=1), "recursive must be True or False")):
        with pytest.raises(TypeError, match=f"clone_model: {match}"):
            gn.models.clone_model(model, **kwargs)
    with pytest.raises(TypeError, match="clone_model: model must be a glassnet Sequential or Model, got Dense"):
        gn.models.clone_model(L.Dense(2))

    class UnclonableScale(L.Layer):     # its config leaves out `factor`: no clone could rebuild it
        def __init__(self, factor, **kwargs):
            super().__init__(**kwargs)
            self.factor = factor

        def forward(self, x, training=False):
            return x * self.factor

        def backward(self, grad_output):
            return grad_output * self.factor

    with pytest.raises(TypeError, match="clone_model:"):
        gn.models.clone_model(gn.Sequential([L.Dense(2, input_shape=(3,)), UnclonableScale(2.0)], seed=0))
