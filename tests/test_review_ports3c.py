"""Keras' example programs ported to glassnet, another round (keras.io: text classification with a
transformer, weather forecasting, structured data from scratch, PointNet): what the ports met.

PointNet's T-Net starts its last Dense at the identity, ``bias_initializer=Constant(np.eye(n).flatten())``:
an array value, which Keras 3.15 broadcasts to the weight's shape and glassnet refused. Keras'
positional ``compile(optimizer, loss)`` with an optimizer object is refused saying so, as a name is."""
import numpy as np
import pytest

import glassnet as gn

L = gn.layers


def test_constant_takes_an_array_as_keras(keras, tmp_path):
    # glassnet refused it: "Constant: value must be a finite number, got array([1., 0., ...])"
    value = np.eye(3).flatten()
    ours, theirs = gn.initializers.Constant(value), keras.initializers.Constant(value)
    np.testing.assert_array_equal(ours((9,), np.random.default_rng(0), np.float32),
                                  np.asarray(theirs(shape=(9,), dtype="float32")))
    row = [[1.0, 2.0]]          # broadcast along the rows, as Keras' value * ones(shape)
    np.testing.assert_array_equal(gn.initializers.Constant(row)((3, 2), np.random.default_rng(0), np.float32),
                                  np.asarray(keras.initializers.Constant(row)(shape=(3, 2), dtype="float32")))
    # Keras' config entry of the array is read; glassnet's config is JSON, and a model file keeps it
    entry = keras.saving.serialize_keras_object(theirs)
    assert gn.initializers.get(entry) == ours
    assert ours.get_config() == {"value": value.tolist()}
    model = gn.Sequential([L.Dense(9, bias_initializer=ours, input_shape=(4,))], seed=0)
    np.testing.assert_array_equal(model.layers[0].params["bias"], value)
    model.save(tmp_path / "m.npz")
    assert gn.load_model(tmp_path / "m.npz").layers[0].bias_initializer == ours
    # one that does not broadcast is refused naming the layer and the weight; scalars are as before
    with pytest.raises(ValueError, match=r"Dense 'd': bias: initializer: Constant: a value of shape \(9,\) does "
                                         r"not broadcast to the weight's shape \(4,\)"):
        gn.Sequential([L.Dense(4, bias_initializer=ours, input_shape=(2,), name="d")])
    with pytest.raises(ValueError, match="Constant: value must be a finite number or an array of finite numbers"):
        gn.initializers.Constant([1.0, np.nan])
    assert gn.initializers.Constant(0.25).get_config() == {"value": 0.25}


class OrthogonalRegularizer(gn.Regularizer):
    """PointNet's penalty on the T-Net's (batch, n * n) output, its tensordot across the batch kept."""

    def __init__(self, num_features, l2reg=0.001):
        self.num_features, self.l2reg = num_features, l2reg

    def _matrices(self, a):
        n = self.num_features
        x = a.reshape(-1, n, n)
        return x, np.tensordot(x, x, axes=(2, 2)).reshape(-1, n, n) - np.eye(n)

    def __call__(self, a):
        return float(self.l2reg * np.square(self._matrices(a)[1]).sum())

    def add_gradient(self, a, grad):
        x, diff = self._matrices(a)
        g = (2 * self.l2reg * diff).reshape(len(x), self.num_features, len(x), self.num_features)
        gx = np.tensordot(g, x, axes=([2, 3], [0, 1])) + np.tensordot(g, x, axes=([0, 1], [0, 1]))
        grad += gx.reshape(grad.shape).astype(grad.dtype)

    def get_config(self):
        return {"num_features": self.num_features, "l2reg": self.l2reg}


def _pointnet(lib, regularizer):
    """keras.io's PointNet, narrowed: a T-Net (Conv1D kernel 1 + BatchNormalization blocks,
    GlobalMaxPooling1D, a Dense started at the identity with an activity regularizer, Reshape,
    Dot axes=(2, 1)), then a classifier. Returns the model and its weighted layers in order."""
    made = []

    def block(layer, x):
        norm = lib.layers.BatchNormalization(momentum=0.0)
        made.extend([layer, norm])
        return lib.layers.Activation("relu")(norm(layer(x)))

    inputs = lib.layers.Input(shape=(16, 3))
    x = block(lib.layers.Conv1D(8, kernel_size=1, padding="valid"), inputs)
    x = lib.layers.GlobalMaxPooling1D()(x)
    x = block(lib.layers.Dense(16), x)
    last = lib.layers.Dense(9, kernel_initializer="zeros", activity_regularizer=regularizer(3),
                            bias_initializer=lib.initializers.Constant(np.eye(3).flatten()))
    made.append(last)
    x = lib.layers.Dot(axes=(2, 1))([inputs, lib.layers.Reshape((3, 3))(last(x))])
    x = lib.layers.GlobalMaxPooling1D()(block(lib.layers.Conv1D(8, kernel_size=1), x))
    head = lib.layers.Dense(4, activation="softmax")
    made.append(head)
    kwargs = {"seed": 0} if lib is gn else {}
    return lib.Model(inputs=inputs, outputs=head(x), name="pointnet", **kwargs), made


def test_pointnets_tnet_trains_as_keras(keras):
    ops = keras.ops

    class KerasOrthogonalRegularizer(keras.regularizers.Regularizer):
        def __init__(self, num_features, l2reg=0.001):
            self.num_features, self.l2reg = num_features, l2reg
            self.eye = ops.eye(num_features)

        def __call__(self, x):
            x = ops.reshape(x, (-1, self.num_features, self.num_features))
            xxt = ops.reshape(ops.tensordot(x, x, axes=(2, 2)), (-1, self.num_features, self.num_features))
            return ops.sum(self.l2reg * ops.square(xxt - self.eye))

    keras.utils.set_random_seed(0)
    theirs, their_layers = _pointnet(keras, KerasOrthogonalRegularizer)
    ours, our_layers = _pointnet(gn, OrthogonalRegularizer)
    for mine, keras_layer in zip(our_layers, their_layers):
        mine.set_weights(keras_layer.get_weights())
    rng = np.random.default_rng(0)
    y = rng.integers(0, 4, 32)
    x = (rng.normal(size=(32, 16, 3)) + 0.5 * y[:, None, None]).astype("float32")
    theirs.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.05))
    ours.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.SGD(0.05))
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=1e-5)
    expected = theirs.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0).history["loss"]
    got = ours.fit(x, y, batch_size=32, epochs=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(got, expected, rtol=1e-4)
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-4)


def test_keras_positional_compile_with_an_optimizer_object_is_taken():
    # glassnet listed its 35 loss names: "loss: expected one of [...] ..., got <SGD learning_rate=0.05>";
    # then refused Keras' order by name; now takes it (glassnet._compile_order, tests/test_smalls43.py)
    model = gn.Sequential([gn.Input((3,)), L.Dense(1, activation="sigmoid")], seed=0)
    sgd = gn.optimizers.SGD(0.05)
    model.compile(sgd, "binary_crossentropy")
    assert model.optimizer is sgd and model.loss.name == "binary_crossentropy"
    inputs = gn.Input((3,))
    functional = gn.Model(inputs, L.Dense(1)(inputs))
    functional.compile(gn.optimizers.Adam(), "mse")
    assert type(functional.optimizer) is gn.optimizers.Adam
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.SGD(0.05))     # by keyword, as ever
