"""Keras 3's Layer surface on glassnet layers: ``weights`` / ``trainable_weights`` /
``non_trainable_weights`` (names, shapes, order and split as Keras 3.15 lists them, frozen layers
too; live arrays inside a model), ``add_weight`` in Keras' keyword style (its defaults, and
``trainable=False`` state that a model saves, counts, never trains, and gradcheck puts back; a
layer with such state trains as its Keras twin), and ``compute_output_shape`` against Keras'."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as G
from glassnet.gradcheck import check_layer

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


# (id, make(layers module) -> layer, sample shape): the same constructor call in both libraries
BUILT_IN = [
    ("Dense", lambda L: L.Dense(3), (5,)),
    ("Conv2D", lambda L: L.Conv2D(4, 3), (6, 6, 2)),
    ("BatchNormalization", lambda L: L.BatchNormalization(), (5,)),
    ("BatchNormalization_conv", lambda L: L.BatchNormalization(), (4, 4, 3)),
    ("LayerNormalization", lambda L: L.LayerNormalization(), (5,)),
    ("Embedding", lambda L: L.Embedding(10, 4), (7,)),
    ("LSTM", lambda L: L.LSTM(4), (6, 3)),
    ("GRU", lambda L: L.GRU(4), (6, 3)),
    ("SimpleRNN", lambda L: L.SimpleRNN(4), (6, 3)),
    ("TimeDistributed", lambda L: L.TimeDistributed(L.Dense(4)), (6, 3)),
    ("PReLU", lambda L: L.PReLU(), (5,)),
    ("SeparableConv2D", lambda L: L.SeparableConv2D(4, 3), (6, 6, 2)),
    ("Conv2DTranspose", lambda L: L.Conv2DTranspose(4, 3), (6, 6, 2)),
    ("GroupNormalization", lambda L: L.GroupNormalization(2), (6, 4)),
    ("ConvLSTM2D", lambda L: L.ConvLSTM2D(2, 3), (4, 6, 6, 2)),
    ("EinsumDense", lambda L: L.EinsumDense("ab,bc->ac", output_shape=4, bias_axes="c"), (5,)),
]


def _pair(keras, make, shape, trainable=True):
    ours, theirs = make(G), make(keras.layers)
    ours.build(shape)
    theirs.build((None, *shape))
    ours.trainable = theirs.trainable = trainable
    theirs.set_weights([np.random.default_rng(0).standard_normal(w.shape).astype("float32")
                        for w in theirs.get_weights()])
    ours.set_weights(theirs.get_weights())
    return ours, theirs


def _names(layer, arrays):
    """The keys ``layer`` keeps ``arrays`` under (params or state), in the arrays' order."""
    by_id = {id(a): name for name, a in layer._weight_items()}
    return [by_id[id(a)] for a in arrays]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")      # Keras' own, from NumPy 2
@pytest.mark.parametrize("trainable", [True, False], ids=["trainable", "frozen"])
@pytest.mark.parametrize("case,make,shape", BUILT_IN, ids=[c[0] for c in BUILT_IN])
def test_weights_and_their_split_are_keras(keras, case, make, shape, trainable):
    ours, theirs = _pair(keras, make, shape, trainable)
    for mine, their in ((ours.weights, theirs.weights), (ours.trainable_weights, theirs.trainable_weights),
                        (ours.non_trainable_weights, theirs.non_trainable_weights)):
        assert _names(ours, mine) == [w.name for w in their]
        assert len(mine) == len(their)
        for a, w in zip(mine, their):           # the same values in the same places: Keras' order
            np.testing.assert_array_equal(a, keras.ops.convert_to_numpy(w))
    # the live arrays, not copies (get_weights gives those)
    assert all(any(a is b for _, b in ours._weight_items()) for a in ours.weights)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_bidirectional_and_a_frozen_embedding_given_at_construction(keras):
    ours, theirs = _pair(keras, lambda L: L.Bidirectional(L.LSTM(4)), (6, 3))
    assert [a.shape for a in ours.trainable_weights] == [tuple(w.shape) for w in theirs.trainable_weights]
    for a, w in zip(ours.weights, theirs.weights, strict=True):
        np.testing.assert_array_equal(a, keras.ops.convert_to_numpy(w))
    ours, theirs = G.Embedding(10, 4, trainable=False), keras.layers.Embedding(10, 4, trainable=False)
    ours.build((7,))
    theirs.build((None, 7))
    assert (len(ours.trainable_weights), len(ours.non_trainable_weights)) == \
        (len(theirs.trainable_weights), len(theirs.non_trainable_weights)) == (0, 1)
    assert G.Dense(3).weights == [] and G.Dropout(0.5).weights == []      # not built / no weights


def test_weights_are_the_live_arrays_inside_a_model_across_freezing(rng):
    x, y = rng.standard_normal((32, 4)).astype("f"), rng.standard_normal((32, 1)).astype("f")
    dense = G.Dense(3, activation="tanh")
    bn = G.BatchNormalization()
    model = gn.Sequential([G.Input((4,)), dense, bn, G.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    kernel = dense.weights[0]
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert dense.weights[0] is kernel           # the model's buffer, trained in place
    assert any(np.shares_memory(kernel, w) for w in model.trainable_weights)
    np.testing.assert_array_equal(dense.get_weights()[0], kernel)
    dense.weights[1][...] = 5.0                 # writing into it changes what the model computes
    assert np.all(model.layers[0].params["bias"] == 5.0)
    dense.trainable = False                     # the model lays its buffer out anew at fit
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    live = {id(a) for _, a in model._weight_items()}
    assert all(id(a) in live for layer in model.layers for a in layer.weights)
    assert dense.trainable_weights == [] and len(dense.non_trainable_weights) == 2
    assert len(bn.trainable_weights) == 2 and len(bn.non_trainable_weights) == 2
    assert model.non_trainable_weights[:2][0] is dense.weights[0]


# -- add_weight in Keras' style ------------------------------------------------------------------

class CenteredState(G.Layer):
    """y = (x - moving_mean) * gamma; training moves moving_mean towards each batch's mean, as a
    BatchNormalization moves its statistics: made with Keras' keywords, state by trainable=False."""

    def build(self, input_shape):
        self.add_weight(shape=input_shape, initializer="ones", name="gamma")
        self.add_weight(shape=input_shape, initializer="zeros", name="moving_mean", trainable=False)
        super().build(input_shape)

    def forward(self, x, training=False):
        self.centered = x - self.state["moving_mean"]
        if training:
            self.state["moving_mean"][...] = 0.9 * self.state["moving_mean"] + 0.1 * x.mean(axis=0)
        return self.centered * self.params["gamma"]

    def backward(self, grad_output):
        self.grads["gamma"][...] = (grad_output * self.centered).sum(axis=0)
        return grad_output * self.params["gamma"]


def _keras_centered(keras):
    class KerasCentered(keras.layers.Layer):
        def build(self, input_shape):
            self.gamma = self.add_weight(shape=input_shape[1:], initializer="ones", name="gamma")
            self.moving_mean = self.add_weight(shape=input_shape[1:], initializer="zeros", name="moving_mean",
                                               trainable=False)

        def call(self, x, training=False):
            out = (x - self.moving_mean) * self.gamma
            if training:
                self.moving_mean.assign(0.9 * self.moving_mean + 0.1 * keras.ops.mean(x, axis=0))
            return out
    return KerasCentered


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_a_layer_with_state_from_add_weight_trains_as_its_keras_twin(keras, rng):
    x = (rng.standard_normal((64, 4)) + 3.0).astype("float32")
    y = (x @ rng.standard_normal((4, 1))).astype("float32")
    ours = gn.Sequential([G.Input((4,)), CenteredState(), G.Dense(1)], seed=0)
    theirs = keras.Sequential([keras.Input((4,)), _keras_centered(keras)(), keras.layers.Dense(1)])
    theirs.set_weights(ours.get_weights())
    # Keras' split and order: gamma trainable, moving_mean not
    assert [w.name for w in theirs.layers[0].weights] == _names(ours.layers[0], ours.layers[0].weights)
    assert [len(theirs.layers[0].trainable_weights), len(theirs.layers[0].non_trainable_weights)] == \
        [len(ours.layers[0].trainable_weights), len(ours.layers[0].non_trainable_weights)] == [1, 1]
    ours.compile(loss="mse", optimizer=gn.optimizers.SGD(0.01))
    theirs.compile(loss="mse", optimizer=keras.optimizers.SGD(0.01))
    mine = ours.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history["loss"]
    their = theirs.fit(x, y, epochs=3, batch_size=16, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(mine, their, rtol=1e-4)
    for a, b in zip(ours.get_weights(), theirs.get_weights(), strict=True):   # moving_mean moved alike
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    assert not np.allclose(ours.layers[0].state["moving_mean"], 0)
    # counted as Keras counts it; the optimizer's buffer holds the trained weights only
    assert ours.count_params() == theirs.count_params()
    lines = []
    ours.summary(print_fn=lines.append)
    assert "Non-trainable params: 4" in lines[0] and "Trainable params: 9" in lines[0]
    assert ours.layers[0].state["moving_mean"] in ours.non_trainable_weights
    assert sum(a.size for a in ours.trainable_weights) == 4 + 4 + 1


def test_state_from_add_weight_saves_loads_and_gradcheck_puts_it_back(tmp_path, rng):
    x = (rng.standard_normal((32, 4)) + 1.0).astype("float32")
    model = gn.Sequential([G.Input((4,)), CenteredState(), G.Dense(1)], seed=0)
    model.compile(loss="mse", optimizer="sgd")
    model.fit(x, x[:, :1], epochs=2, batch_size=8, verbose=0)
    model.save(tmp_path / "m.npz")
    same = gn.load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(same.layers[0].state["moving_mean"], model.layers[0].state["moving_mean"])
    np.testing.assert_array_equal(same.predict(x, verbose=0), model.predict(x, verbose=0))
    same.fit(x, x[:, :1], epochs=1, batch_size=8, verbose=0)        # and trains on, state moving
    assert not np.array_equal(same.layers[0].state["moving_mean"], model.layers[0].state["moving_mean"])
    layer = CenteredState(dtype="float64")
    layer.build((4,))
    layer.state["moving_mean"][...] = 0.5
    check_layer(layer, x.astype("float64"), training=True)          # many training passes...
    np.testing.assert_array_equal(layer.state["moving_mean"], 0.5)  # ...and the state as it was
    assert set(layer.grads) == {"gamma"}                           # no gradient for state


def test_keras_defaults_and_names(keras):
    class Defaults(G.Layer):
        def build(self, input_shape):
            self.add_weight(shape=(60, 40))                         # Keras' glorot_uniform
            self.add_weight()                                       # a scalar
            self.add_weight(shape=(3,), trainable=False)
            self.add_weight("bias", (3,), "zeros")                  # glassnet's positional order
            super().build(input_shape)
    layer = Defaults(seed=0)
    layer.build((2,))
    # Keras' "variable", "variable_1", ..., counted in the layer (a rebuilt model names them alike)
    assert list(layer.params) == ["variable", "variable_1", "bias"] and list(layer.state) == ["variable_2"]
    assert layer.params["variable_1"].shape == () and layer.params["variable"].dtype == np.float32

    class KerasDefaults(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(60, 40))
    theirs = KerasDefaults()
    theirs.build((None, 2))
    w, k = layer.params["variable"], keras.ops.convert_to_numpy(theirs.w)
    limit = max(np.abs(w).max(), np.abs(k).max())
    assert abs(limit - np.sqrt(6 / 100)) < 0.01                    # U(-l, l), l = sqrt(6 / (60 + 40))
    assert abs(w.std() - k.std()) < 0.1 * k.std()


def test_add_weight_refusals():
    class Bad(G.Layer):
        def __init__(self, make, **kwargs):
            super().__init__(**kwargs)
            self.make = make

        def build(self, input_shape):
            self.make(self)
            super().build(input_shape)

    cases = [
        (lambda s: s.add_weight((3,), "zeros"), TypeError, "name must be a string"),   # Keras' positional order
        (lambda s: (s.add_weight(shape=(3,), name="w"), s.add_weight(shape=(3,), name="w", trainable=False)),
         ValueError, "named 'w' exists already"),
        (lambda s: s.add_weight(shape=(3,), trainable=False, regularizer="l2"), ValueError,
         "a regularizer applies to a trainable weight"),
        (lambda s: s.add_weight(shape=(3,), trainable=False, constraint="non_neg"), ValueError, "a constraint"),
        (lambda s: s.add_weight(shape=(3,), dtype="float64"), ValueError, "dtype must be the layer's own, float32"),
        (lambda s: s.add_weight(shape=(3,), trainable="no"), TypeError, "trainable"),
    ]
    for make, error, message in cases:
        with pytest.raises(error, match=message):
            Bad(make).build((3,))
    layer = Bad(lambda s: s.add_weight(shape=(3,), dtype="float64"), dtype="float64")
    layer.build((3,))
    assert layer.params["variable"].dtype == np.float64


def test_a_wrapped_layer_makes_keyword_weights_but_no_state():
    class Keyworded(G.Layer):
        trainable_state = True

        def build(self, input_shape):
            self.add_weight(shape=input_shape, initializer="ones")
            self.add_weight(shape=input_shape, initializer="zeros", trainable=self.trainable_state)
            super().build(input_shape)

        def forward(self, x, training=False):
            return x * self.params["variable"] + self.params["variable_1"]

    wrapped = G.TimeDistributed(Keyworded())
    wrapped.build((5, 3))
    assert list(wrapped.params) == ["variable", "variable_1"] and len(wrapped.trainable_weights) == 2
    np.testing.assert_array_equal(wrapped(np.ones((2, 5, 3)))[0, 0], np.ones(3))
    inner = Keyworded()
    inner.trainable_state = False
    with pytest.raises(ValueError, match="trainable=False \\(state\\), which TimeDistributed does not carry"):
        G.TimeDistributed(inner).build((5, 3))


# -- compute_output_shape --------------------------------------------------------------------------

SHAPES = [
    (lambda L: L.Dense(3), (None, 5)),
    (lambda L: L.Dense(3), (32, 7, 5)),
    (lambda L: L.Conv2D(4, 3, strides=2, padding="same"), (None, 9, 9, 2)),
    (lambda L: L.Conv2D(4, (3, 2), dilation_rate=2), (None, 9, 9, 2)),
    (lambda L: L.Conv1D(4, 3, padding="causal"), (None, 10, 2)),
    (lambda L: L.Conv2DTranspose(4, 3, strides=2), (None, 5, 5, 2)),
    (lambda L: L.Conv3D(2, 2), (None, 4, 5, 6, 1)),
    (lambda L: L.DepthwiseConv2D(3, depth_multiplier=2), (None, 7, 7, 3)),
    (lambda L: L.MaxPooling2D(), (None, 9, 9, 2)),
    (lambda L: L.AveragePooling1D(3, strides=2, padding="same"), (None, 10, 2)),
    (lambda L: L.GlobalAveragePooling2D(), (None, 9, 9, 2)),
    (lambda L: L.Flatten(), (None, 4, 5)),
    (lambda L: L.Reshape((5, -1)), (None, 4, 5)),
    (lambda L: L.Permute((2, 1)), (None, 4, 5)),
    (lambda L: L.RepeatVector(3), (None, 5)),
    (lambda L: L.UpSampling2D(2), (None, 3, 4, 2)),
    (lambda L: L.ZeroPadding2D(((1, 2), (0, 1))), (None, 3, 4, 2)),
    (lambda L: L.Cropping1D((1, 2)), (None, 8, 2)),
    (lambda L: L.Embedding(10, 4), (None, 7)),
    (lambda L: L.LSTM(4), (None, 6, 3)),
    (lambda L: L.GRU(4, return_sequences=True), (None, 6, 3)),
    (lambda L: L.LSTM(4, return_state=True), (None, 6, 3)),
    (lambda L: L.GRU(4, return_state=True, return_sequences=True), (None, 6, 3)),
    (lambda L: L.Bidirectional(L.LSTM(4, return_sequences=True)), (None, 6, 3)),
    (lambda L: L.Bidirectional(L.LSTM(4, return_state=True)), (None, 6, 3)),
    (lambda L: L.ConvLSTM2D(2, 3, return_state=True), (None, 4, 6, 6, 2)),
    (lambda L: L.TimeDistributed(L.Dense(4)), (None, 6, 3)),
    (lambda L: L.BatchNormalization(), (None, 4, 4, 3)),
    (lambda L: L.Dropout(0.5), (None, 5)),
    (lambda L: L.Concatenate(), [(None, 5, 8), (None, 5, 2)]),
    (lambda L: L.Add(), [(None, 5, 8), (None, 5, 8)]),
    (lambda L: L.Attention(), [(None, 5, 8), (None, 6, 8)]),
]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("make,shape", SHAPES, ids=[str(i) for i in range(len(SHAPES))])
def test_compute_output_shape_is_keras(keras, make, shape):
    expected = make(keras.layers).compute_output_shape(shape)
    layer = make(G)
    got = layer.compute_output_shape(shape)
    assert got == tuple(tuple(s) if isinstance(s, tuple) else s for s in expected)
    assert not layer.built                      # nothing built, nothing noted


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
def test_compute_output_shape_takes_keras_multi_head_arguments(keras):
    for shapes in [((None, 5, 8), (None, 6, 8)), ((None, 5, 8), (None, 6, 8), (None, 6, 3))]:
        expected = keras.layers.MultiHeadAttention(2, 4).compute_output_shape(*shapes)
        assert G.MultiHeadAttention(2, 4).compute_output_shape(*shapes) == tuple(expected)


def test_compute_output_shape_changes_nothing_and_refuses_by_name():
    layer = G.ConvLSTM2D(2, 3, return_state=True)
    before = dict(vars(layer))
    layer.compute_output_shape((None, 4, 6, 6, 2))
    assert vars(layer).keys() == before.keys() and layer._drawn_shape is None
    with pytest.raises(ValueError, match=r"compute_output_shape: expected a shape with the batch axis first"):
        G.Dense(3).compute_output_shape((5,))
    with pytest.raises(ValueError, match=r"batch axis \(first\) must be None or a positive integer"):
        G.Dense(3).compute_output_shape((0, 5))
    with pytest.raises(ValueError, match=r"takes a list of its inputs' shapes"):
        G.Add().compute_output_shape((None, 5))
    with pytest.raises(ValueError, match=r"takes one input's shape, got 2"):
        G.Dense(3).compute_output_shape([(None, 5), (None, 5)])
    dense = G.Dense(3)
    dense.build((5,))
    with pytest.raises(ValueError, match="expected input"):
        dense.compute_output_shape((None, 4))
    assert dense.compute_output_shape((None, 5)) == (None, 3) == (None, *dense.output_shape((5,)))
