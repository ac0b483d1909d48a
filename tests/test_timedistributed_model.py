"""TimeDistributed(model): a Sequential, functional Model or call-block run on every step, with one
set of weights, compared with Keras 3.15 (same weights, predictions, two epochs of SGD and Adam,
evaluate, final weights), its gradients with float64 finite differences, its file round trip."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer

L = gn.layers


# -- the three kinds of inner model, built the same way in glassnet and in Keras -------------------
def cnn(lib, dtype="float32"):
    kl = lib.layers
    layers = [kl.Conv2D(3, 3, activation="relu"), kl.MaxPooling2D(2), kl.Flatten(), kl.Dense(5, activation="tanh")]
    return lib.Sequential(layers, dtype=dtype) if lib is gn else lib.Sequential(layers)


def mlp(lib, dtype="float32"):
    kl = lib.layers
    inp = lib.Input((6,))
    h = kl.Dense(8, activation="tanh")(inp)
    out = kl.Dense(4, activation="relu")(kl.Concatenate()([h, inp]))
    return gn.Model(inp, out, dtype=dtype) if lib is gn else lib.Model(inp, out)


def make_block(lib):
    class Block(lib.layers.Layer):
        """x -> dense2(tanh(dense1(x))) + x: a residual call-block."""
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense1 = lib.layers.Dense(7, activation="tanh")
            self.dense2 = lib.layers.Dense(6)

        def call(self, x):
            return self.dense2(self.dense1(x)) + x
    return Block()


CASES = {
    # inner model, step shape, head builder
    "cnn_lstm": (cnn, (4, 7, 7, 2), lambda lib: [lib.layers.LSTM(3), lib.layers.Dense(2, activation="softmax")]),
    "cnn_gru": (cnn, (4, 7, 7, 2), lambda lib: [lib.layers.GRU(3), lib.layers.Dense(2, activation="softmax")]),
    "mlp": (mlp, (5, 6), lambda lib: [lib.layers.Flatten(), lib.layers.Dense(2, activation="softmax")]),
    "block": (lambda lib, dtype="float32": make_block(lib), (5, 6),
              lambda lib: [lib.layers.LSTM(3), lib.layers.Dense(2, activation="softmax")]),
}


@pytest.fixture
def keras64(keras):
    """Keras computing in float64, as the glassnet models compared with it: two epochs of Adam in
    float32 move weights by its rounding (1e-4) on both sides, which would hide nothing but noise."""
    # (Keras caches its global dtype policy from floatx when first read: both are set and restored,
    # or the Keras layers of later test files would be made float64)
    previous, policy = keras.config.floatx(), keras.config.dtype_policy()
    keras.config.set_floatx("float64")
    keras.config.set_dtype_policy("float64")
    yield keras
    keras.config.set_floatx(previous)
    keras.config.set_dtype_policy(policy)


def pair(keras, case):
    inner, shape, head = CASES[case]
    ours = gn.Sequential([gn.Input(shape), L.TimeDistributed(inner(gn, "float64")), *head(gn)], seed=0,
                         dtype="float64")
    theirs = keras.Sequential([keras.Input(shape), keras.layers.TimeDistributed(inner(keras)), *head(keras)])
    theirs(np.zeros((1, *shape)))       # a Keras block's layers are built at its first call
    return ours, theirs


def data(shape, n=12):
    rng = np.random.default_rng(5)
    x = rng.normal(size=(n, *shape))
    y = np.eye(2)[rng.integers(0, 2, n)]
    return x, y


@pytest.mark.parametrize("case", sorted(CASES))
def test_weights_predictions_fit_evaluate_match_keras(keras64, case):
    keras = keras64
    ours, theirs = pair(keras, case)
    weights = theirs.get_weights()
    assert [w.shape for w in ours.get_weights()] == [w.shape for w in weights]      # Keras' order
    ours.set_weights(weights)
    x, y = data(CASES[case][1])
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), atol=1e-5)
    for name in ("sgd", "adam"):
        ours.set_weights(weights)
        theirs.set_weights(weights)
        # Adam's epsilon is 1e-12 on both sides: Keras adds it to sqrt(v) before the bias correction,
        # glassnet after it (PyTorch's form, optimizers/rules.py), so at 1e-7 the weights whose
        # gradients are near it (a GRU's, some draws) step differently, by up to 7e-3 in two epochs
        make = {"sgd": lambda lib: lib.optimizers.SGD(0.1),
                "adam": lambda lib: lib.optimizers.Adam(0.01, epsilon=1e-12)}[name]
        ours.compile(loss="categorical_crossentropy", optimizer=make(gn))
        theirs.compile(loss="categorical_crossentropy", optimizer=make(keras))
        a = ours.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
        b = theirs.fit(x, y, epochs=2, batch_size=4, shuffle=False, verbose=0).history["loss"]
        np.testing.assert_allclose(a, b, atol=1e-5)
        np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), atol=1e-5)
        for w, k in zip(ours.get_weights(), theirs.get_weights()):
            np.testing.assert_allclose(w, k, atol=1e-5)


@pytest.mark.parametrize("case", sorted(CASES))
def test_gradients_float64_finite_differences(case):
    inner, shape, _ = CASES[case]
    model = inner(gn, "float64") if case != "block" else make_block(gn)
    layer = L.TimeDistributed(model, seed=1, dtype="float64")
    x = np.random.default_rng(2).normal(size=(2, *shape[:1], *shape[1:]))
    if case == "cnn_lstm" or case == "cnn_gru":
        x = x[:, :2, :5, :5]            # small: two steps of 5 x 5 frames
    errors = check_layer(layer, x)
    # the input gradient and every weight of the inner model's layers
    assert "input" in errors["errors"] and all(key in errors["errors"] for key in layer.params)


def test_model_gradient_through_wrapper_not_first():
    """The wrapper after a layer that learns: its model makes its input gradient."""
    model = gn.Sequential([gn.Input((3, 6)), L.TimeDistributed(L.Dense(6)), L.TimeDistributed(mlp(gn, "float64")),
                           L.Flatten(), L.Dense(1)], seed=0, dtype="float64")
    x = np.random.default_rng(0).normal(size=(4, 3, 6))
    y = np.random.default_rng(1).normal(size=(4, 1))
    model.compile(loss="mse", optimizer="sgd")
    result = gn.gradcheck.check_model(model, x, y)
    assert result["max_error"] < 1e-5


def test_save_load_round_trip_exact(tmp_path):
    for case in ("cnn_lstm", "mlp", "block"):
        inner, shape, head = CASES[case]
        ours = gn.Sequential([gn.Input(shape), L.TimeDistributed(inner(gn)), *head(gn)], seed=3)
        x, y = data(shape, 6)
        x, y = x.astype("float32"), y.astype("float32")
        ours.compile(loss="categorical_crossentropy", optimizer="adam")
        ours.fit(x, y, epochs=1, batch_size=3, verbose=0)
        path = tmp_path / f"{case}.npz"
        ours.save(path)
        back = gn.load_model(path)
        for a, b in zip(ours.get_weights(), back.get_weights()):
            np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(ours.predict(x), back.predict(x))
        # training goes on the same (the optimizer's state came back too)
        ours.fit(x, y, epochs=1, batch_size=3, verbose=0, shuffle=False)
        back.fit(x, y, epochs=1, batch_size=3, verbose=0, shuffle=False)
        for a, b in zip(ours.get_weights(), back.get_weights()):
            np.testing.assert_array_equal(a, b)


def test_inner_model_computes_with_the_trained_weights():
    inner = cnn(gn)
    ours = gn.Sequential([gn.Input((3, 7, 7, 2)), L.TimeDistributed(inner), L.Flatten(), L.Dense(1)], seed=0)
    x = np.random.default_rng(0).normal(size=(4, 3, 7, 7, 2)).astype("float32")
    ours.compile(loss="mse", optimizer="sgd")
    ours.fit(x, np.ones((4, 1)), epochs=2, verbose=0)
    assert ours.layers[0].layer is inner
    np.testing.assert_allclose(inner.predict(x[:, 1]), ours.layers[0](x)[:, 1], atol=1e-6)
    assert sorted(ours.layers[0].params) == ["conv2d/bias", "conv2d/kernel", "dense/bias", "dense/kernel"]


def test_same_seed_same_weights():
    def make():
        return gn.Sequential([gn.Input((3, 7, 7, 2)), L.TimeDistributed(cnn(gn)), L.Flatten(), L.Dense(1)], seed=7)
    for a, b in zip(make().get_weights(), make().get_weights()):
        np.testing.assert_array_equal(a, b)


def test_steps_mask_passes_on(keras):
    """Masking before the wrapper: the steps' mask reaches the LSTM after it, as in Keras."""
    def build(lib):
        return lib.Sequential([lib.Input((4, 6)), lib.layers.Masking(0.0), lib.layers.TimeDistributed(mlp(lib)),
                               lib.layers.LSTM(3)], **({"seed": 0} if lib is gn else {}))
    ours, theirs = build(gn), build(keras)
    ours.set_weights(theirs.get_weights())
    x = np.random.default_rng(0).normal(size=(3, 4, 6)).astype("float32")
    x[0, 2:] = 0
    x[1, 3:] = 0
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), atol=1e-5)


def test_refusals_name_what_is_wrong():
    with pytest.raises(ValueError, match="BatchNormalization.*keeps state.*step"):
        L.TimeDistributed(gn.Sequential([L.Dense(3), L.BatchNormalization()]))
    a, b = gn.Input((3,)), gn.Input((3,))
    with pytest.raises(ValueError, match="2 inputs"):
        L.TimeDistributed(gn.Model([a, b], L.Add()([a, b])))
    i = gn.Input((3,))
    with pytest.raises(ValueError, match="several outputs"):
        L.TimeDistributed(gn.Model(i, [L.Dense(2)(i), L.Dense(1)(i)]))
    with pytest.raises(ValueError, match="activity_regularizer"):
        L.TimeDistributed(gn.Sequential([L.Dense(3, activity_regularizer="l2")]))
    inner = gn.Sequential([gn.Input((3,)), L.Dense(2)])
    gn.Sequential([gn.Input((4, 3)), L.TimeDistributed(inner)])
    with pytest.raises(ValueError, match="already held by a wrapper"):
        L.TimeDistributed(inner)
    with pytest.raises(ValueError, match="takes frames of shape"):
        gn.Sequential([gn.Input((4, 5)), L.TimeDistributed(gn.Sequential([gn.Input((3,)), L.Dense(2)]))])
    with pytest.raises(ValueError, match="float64"):
        gn.Sequential([gn.Input((4, 3)), L.TimeDistributed(gn.Sequential([gn.Input((3,)), L.Dense(2)],
                                                                           dtype="float64"))])
