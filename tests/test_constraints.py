"""Weight constraints: the formulas by hand and against Keras 3's, applied after each update (and
only then) in fit, train_on_batch and trace, never to a frozen layer; configs and model files; and
the errors for what they cannot take."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet import constraints
from glassnet.layers import Conv2D, Dense, Flatten


def test_the_formulas_by_hand():
    w = np.array([[3.0, 0.1], [4.0, -0.2]])          # column norms 5 and sqrt(0.05)
    eps = 1e-7
    out = constraints.MaxNorm(2.0)(w)
    np.testing.assert_allclose(out[:, 0], w[:, 0] * 2 / (eps + 5), rtol=1e-15)
    # a column within the bound is scaled by |w| / (eps + |w|), Keras' formula
    n1 = np.sqrt(0.05)
    np.testing.assert_allclose(out[:, 1], w[:, 1] * n1 / (eps + n1), rtol=1e-15)
    np.testing.assert_allclose(constraints.UnitNorm()(w), w / (eps + np.array([5.0, n1])), rtol=1e-15)
    np.testing.assert_array_equal(constraints.NonNeg()(w), [[3.0, 0.1], [4.0, 0.0]])
    # rate 0.5: halfway from the norm to its clipped value
    out = constraints.MinMaxNorm(min_value=1.0, max_value=3.0, rate=0.5)(w)
    np.testing.assert_allclose(out, w * (np.array([4.0, 0.5 + n1 / 2]) / (eps + np.array([5.0, n1]))),
                               rtol=1e-15)
    # axis=1: one norm per row
    np.testing.assert_allclose(np.linalg.norm(constraints.MaxNorm(1.0, axis=1)(w), axis=1), [1.0, 1.0],
                               rtol=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_weight_keeps_its_dtype(dtype, rng):
    w = rng.standard_normal((4, 3)).astype(dtype)
    for c in (constraints.MaxNorm(0.5), constraints.MinMaxNorm(), constraints.UnitNorm(), constraints.NonNeg()):
        assert c(w).dtype == dtype


@pytest.mark.parametrize("name,settings", [("MaxNorm", {}), ("MaxNorm", {"max_value": 0.7, "axis": [0, 1]}),
                                           ("UnitNorm", {"axis": 1}), ("NonNeg", {}),
                                           ("MinMaxNorm", {"min_value": 0.5, "max_value": 0.9, "rate": 0.3})])
def test_against_keras_constraints(name, settings, rng):
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    w = rng.standard_normal((3, 4, 5)).astype(np.float32) * 0.5
    ours = getattr(constraints, name)(**settings)(w)
    theirs = np.asarray(getattr(keras.constraints, name)(**settings)(w))
    np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-7)


def test_training_matches_keras(rng):
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    X = rng.standard_normal((32, 5)).astype(np.float32)
    y = (rng.random((32, 1)) < 0.5).astype(np.float32)
    ours = gn.Sequential([Dense(4, activation="tanh", input_dim=5, kernel_constraint=constraints.MaxNorm(0.5),
                                bias_constraint="non_neg"),
                          Dense(1, activation="sigmoid", kernel_constraint=constraints.UnitNorm())], seed=0)
    ours.compile("binary_crossentropy", gn.optimizers.SGD(0.5))
    theirs = keras.Sequential([keras.Input((5,)),
                               keras.layers.Dense(4, activation="tanh", kernel_constraint=keras.constraints.MaxNorm(0.5),
                                                  bias_constraint="non_neg"),
                               keras.layers.Dense(1, activation="sigmoid", kernel_constraint=keras.constraints.UnitNorm())])
    theirs.compile(loss="binary_crossentropy", optimizer=keras.optimizers.SGD(0.5))
    theirs.set_weights(ours.get_weights())
    ours.fit(X, y, epochs=5, batch_size=8, shuffle=False, verbose=0)
    theirs.fit(X, y, epochs=5, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-6)
    assert np.linalg.norm(ours.get_weights()[0], axis=0).max() <= 0.5


def _xy(rng, n=40):
    X = rng.standard_normal((n, 3)).astype(np.float32)
    return X, (X @ np.array([[3.0], [-2.0], [1.0]], dtype=np.float32))


def test_applied_after_each_update_not_to_the_initial_weights(rng):
    X, y = _xy(rng)
    model = gn.Sequential([Dense(1, input_dim=3, kernel_initializer="ones", kernel_constraint=constraints.MaxNorm(0.1))],
                          seed=0)
    model.compile("mse", gn.optimizers.SGD(0.01))
    assert np.linalg.norm(model.get_weights()[0]) == pytest.approx(np.sqrt(3))     # as initialised
    before = model.get_weights()[0].copy()
    model.train_on_batch(X, y)
    kernel = model.get_weights()[0]
    assert np.linalg.norm(kernel) == pytest.approx(0.1, rel=1e-5)
    # the projection of the SGD step's result, not of anything else
    plain = gn.Sequential([Dense(1, input_dim=3, kernel_initializer="ones")], seed=0)
    plain.compile("mse", gn.optimizers.SGD(0.01))
    plain.train_on_batch(X, y)
    np.testing.assert_allclose(kernel, constraints.MaxNorm(0.1)(plain.get_weights()[0]), rtol=1e-6)
    assert not np.allclose(before, kernel)


def test_trace_reports_the_projected_update(rng):
    X, y = _xy(rng)
    model = gn.Sequential([Dense(2, input_dim=3, kernel_constraint=constraints.UnitNorm()), Dense(1)], seed=0)
    model.compile("mse", gn.optimizers.Adam(0.1))
    before = [w.copy() for w in model.get_weights()]
    update = model.trace(X, y)[0]["update"]["kernel"]
    model.train_on_batch(X, y)
    np.testing.assert_allclose(before[0] + update, model.get_weights()[0], rtol=1e-6, atol=1e-7)


def test_a_frozen_layer_is_not_projected(rng):
    X, y = _xy(rng)
    model = gn.Sequential([Dense(4, input_dim=3, kernel_constraint=constraints.MaxNorm(0.01)), Dense(1)], seed=0)
    model.layers[0].trainable = False
    model.compile("mse", gn.optimizers.SGD(0.01))
    frozen = model.get_weights()[0].copy()
    model.fit(X, y, epochs=2, verbose=0)
    np.testing.assert_array_equal(model.get_weights()[0], frozen)


def test_conv_filters_with_axis_0_1_2(rng):
    X = rng.standard_normal((16, 6, 6, 2)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 16)]
    model = gn.Sequential([Conv2D(4, 3, activation="relu", input_shape=(6, 6, 2),
                                  kernel_constraint=constraints.MaxNorm(0.4, axis=[0, 1, 2])),
                           Flatten(), Dense(3, activation="softmax")], seed=0)
    model.compile("categorical_crossentropy", gn.optimizers.Adam(0.05))
    model.fit(X, y, epochs=3, batch_size=8, verbose=0)
    norms = np.sqrt((model.get_weights()[0] ** 2).sum(axis=(0, 1, 2)))
    assert norms.shape == (4,) and norms.max() <= 0.4 * (1 + 1e-6)


def test_a_custom_layer_takes_a_constraint_through_add_weight(rng):
    class NonNegativeScale(gn.layers.Layer):
        def build(self, input_shape):
            self.add_weight("scale", input_shape, "ones", constraint="non_neg")
            super().build(input_shape)

        def forward(self, x, training=False):
            self.x = x
            return x * self.params["scale"]

        def backward(self, grad):
            self.grads["scale"][...] = (grad * self.x).sum(axis=0)
            return grad * self.params["scale"]

    X, _ = _xy(rng)
    model = gn.Sequential([NonNegativeScale(input_shape=(3,))], seed=0)
    model.compile("mse", gn.optimizers.SGD(0.5))
    model.fit(X, -X, epochs=3, verbose=0)              # the best scale is -1: projected to 0
    np.testing.assert_array_equal(model.layers[0].params["scale"], [0.0, 0.0, 0.0])
    assert model.layers[0].constraints == {"scale": constraints.NonNeg()}


def test_settings_survive_configs_and_model_files(tmp_path, rng):
    X, y = _xy(rng)
    model = gn.Sequential([Dense(4, input_dim=3, kernel_constraint=constraints.MinMaxNorm(0.1, 0.8, 0.5, axis=[0]),
                                 bias_constraint="unit_norm"), Dense(1)], seed=0)
    model.compile("mse", "adam")
    model.fit(X, y, epochs=2, verbose=0)
    config = model.layers[0].get_config()
    assert config["kernel_constraint"] == {"class_name": "MinMaxNorm", "config": {
        "min_value": 0.1, "max_value": 0.8, "rate": 0.5, "axis": [0]}}
    assert config["bias_constraint"] == {"class_name": "UnitNorm", "config": {"axis": 0}}
    assert "kernel_constraint" not in model.layers[1].get_config()     # only when set
    model.save(tmp_path / "m.npz")
    for copy in (gn.load_model(tmp_path / "m.npz"), gn.Sequential.from_config(model.get_config())):
        assert copy.layers[0].kernel_constraint == model.layers[0].kernel_constraint
        assert copy.layers[0].bias_constraint == constraints.UnitNorm()
    loaded = gn.load_model(tmp_path / "m.npz")
    model.fit(X, y, epochs=1, verbose=0, shuffle=False)
    loaded.fit(X, y, epochs=1, verbose=0, shuffle=False)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_constraint_of_ones_own_trains_but_is_not_saved(tmp_path, rng):
    class Clip(constraints.Constraint):
        def __call__(self, w):
            return np.clip(w, -0.1, 0.1)

    X, y = _xy(rng)
    model = gn.Sequential([Dense(2, input_dim=3, kernel_constraint=Clip()), Dense(1)], seed=0)
    model.compile("mse", "sgd")
    model.fit(X, y, epochs=1, verbose=0)
    assert np.abs(model.get_weights()[0]).max() <= 0.1
    with pytest.raises(ValueError, match="not a built-in one"):
        model.save(tmp_path / "m.npz")


def test_a_constraint_returning_another_shape_is_refused(rng):
    class Norms(constraints.Constraint):
        def __call__(self, w):
            return np.linalg.norm(w, axis=0, keepdims=True)       # (1, units): would broadcast

    # tried on the initial weight when the model is built: refused before any step
    with pytest.raises(ValueError, match=r"dense.*/kernel: constraint Norms\(\) returned \(1, 2\) for a "
                                         r"weight of shape \(3, 2\)"):
        gn.Sequential([Dense(2, input_dim=3, kernel_constraint=Norms())], seed=0)


def test_names_and_identifiers():
    assert constraints.get("max_norm") == constraints.MaxNorm(2.0)
    assert constraints.get("NonNeg") == constraints.NonNeg()
    assert constraints.get(None) is None
    assert repr(constraints.MinMaxNorm()) == "MinMaxNorm(min_value=0.0, max_value=1.0, rate=1.0, axis=0)"
    assert gn.constraints is constraints


@pytest.mark.parametrize("make,match", [
    (lambda: constraints.MaxNorm(-1), "MaxNorm: max_value must be a finite number >= 0"),
    (lambda: constraints.MaxNorm(axis=True), "MaxNorm: axis: expected an integer or a list"),
    (lambda: constraints.UnitNorm(axis=[0, 0]), "UnitNorm: axis: expected an integer or a list of distinct"),
    (lambda: constraints.UnitNorm(axis=[]), "UnitNorm: axis"),
    (lambda: constraints.MinMaxNorm(min_value=2, max_value=1), "min_value must be at most max_value"),
    (lambda: constraints.MinMaxNorm(rate=1.5), r"rate must be a number in \[0, 1\]"),
    (lambda: Dense(2, kernel_constraint="l2"), "Dense: kernel_constraint: expected None, a Constraint"),
    (lambda: Conv2D(2, 3, bias_constraint=3.0), "Conv2D: bias_constraint"),
    (lambda: constraints.get({"class_name": "MaxNorm", "config": {"bogus": 1}}), "bad config"),
    (lambda: constraints.get({"class_name": "Popen", "config": {}}), "expected None"),
    (lambda: gn.Sequential([Dense(2, input_dim=3, kernel_constraint=constraints.MaxNorm(axis=2))]),
     r"Dense 'dense.*': kernel: MaxNorm\(max_value=2.0, axis=2\) takes norms over axis 2, but the "
     r"weight has shape \(3, 2\)"),
])
def test_bad_settings_are_refused_by_name(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_an_axis_named_twice_is_refused_when_the_weight_is_made():
    with pytest.raises(ValueError, match=r"MaxNorm\(max_value=2.0, axis=\[0, -2\]\) names one axis twice"):
        gn.Sequential([Dense(2, input_dim=3, kernel_constraint=constraints.MaxNorm(axis=[0, -2]))])


def test_conv1d_filters_with_axis_0_1(rng):
    X = rng.standard_normal((16, 10, 2)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 16)]
    model = gn.Sequential([gn.layers.Conv1D(4, 3, activation="relu", input_shape=(10, 2),
                                            kernel_constraint=constraints.MaxNorm(0.4, axis=[0, 1])),
                           Flatten(), Dense(3, activation="softmax")], seed=0)
    model.compile("categorical_crossentropy", gn.optimizers.Adam(0.05))
    model.fit(X, y, epochs=3, batch_size=8, verbose=0)
    norms = np.sqrt((model.get_weights()[0] ** 2).sum(axis=(0, 1)))
    assert norms.shape == (4,) and norms.max() <= 0.4 * (1 + 1e-6) and norms.min() > 0.3


def test_a_constraint_class_is_made_and_add_weight_names_the_weight():
    assert Dense(2, kernel_constraint=constraints.NonNeg).kernel_constraint == constraints.NonNeg()

    class Bad(gn.layers.Layer):
        def build(self, input_shape):
            self.add_weight("w", input_shape, "ones", constraint="l2")
            super().build(input_shape)

    with pytest.raises(ValueError, match=r"Bad 'bad.*': w: constraint: expected None, a Constraint"):
        gn.Sequential([Bad(input_shape=(3,))])


def test_a_bad_setting_in_a_file_entry_names_the_argument():
    with pytest.raises(ValueError, match=r"Dense: kernel_constraint: MaxNorm: max_value must be"):
        constraints.get({"class_name": "MaxNorm", "config": {"max_value": "3"}}, "Dense: kernel_constraint")


def test_a_nan_from_a_constraint_is_named_as_a_possible_cause(rng):
    class Root(constraints.Constraint):            # a slip: the square root of negative weights
        def __call__(self, w):
            return np.sqrt(w)

    X, y = _xy(rng)
    with np.errstate(invalid="ignore"):
        model = gn.Sequential([Dense(2, input_dim=3, kernel_constraint=Root()), Dense(1)], seed=0)
        model.compile("mse", gn.optimizers.SGD(0.01))
        with pytest.raises(gn.NonFiniteError, match=r"or a constraint's projection \(.*Root"):
            model.fit(X, y, epochs=1, batch_size=40, verbose=0)
