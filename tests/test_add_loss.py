"""Keras' ``add_loss`` in a drawn ``call`` (glassnet.added_losses) against Keras 3.15: a subclass
model's own terms and a custom layer's (a glassnet.Model subclass, Keras' Layer subclass) in a
functional model; loss values, fit histories, evaluate, train_on_batch, weights after two epochs of
SGD, ``model.losses``, compile(loss=None); the terms' gradients against float64 finite differences."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


def _subclass(base, L, o):
    class Net(base):
        def __init__(self):
            super().__init__()
            self.hidden = L.Dense(4, activation="tanh")
            self.out = L.Dense(1)

        def call(self, x):
            h = self.hidden(x)
            self.add_loss(0.1 * o.mean(o.square(h)))
            self.add_loss(o.sum(h) * 0.01 - o.mean(h) / 4.0)        # a sum: its value grows with the batch
            return self.out(h)
    return Net()


def _functional(layer_base, L, o, Input, Model):
    class Penalized(layer_base):
        def __init__(self, rate, **kwargs):
            super().__init__(**kwargs)
            self.rate = rate

        def call(self, x):
            y = o.tanh(x)
            self.add_loss(self.rate * o.mean(o.square(y)))
            self.add_loss(o.sum(o.square(x), axis=-1) * 0.001)     # a tensor (None,): summed whole
            return y
    inputs = Input((3,))
    h = Penalized(0.5)(L.Dense(4)(inputs))
    return Model(inputs, L.Dense(2)(h))


def _pair(keras, kind):
    keras.utils.set_random_seed(0)
    if kind == "subclass":
        theirs, ours = _subclass(keras.Model, keras.layers, keras.ops), _subclass(gn.Model, gn.layers, ops)
        return theirs, ours, 1
    theirs = _functional(keras.layers.Layer, keras.layers, keras.ops, keras.Input, keras.Model)
    ours = _functional(gn.Model, gn.layers, ops, gn.Input, gn.Model)
    return theirs, ours, 2


def _data(rng, units):
    x = rng.normal(size=(10, 3)).astype(np.float32)
    return x, rng.normal(size=(10, units)).astype(np.float32), rng.uniform(0.5, 2.0, size=10).astype(np.float32)


@pytest.mark.parametrize("kind", ["subclass", "functional"])
def test_losses_after_a_call_as_keras(keras, rng, kind):
    theirs, ours, units = _pair(keras, kind)
    x, _, _ = _data(rng, units)
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    theirs(x)
    ours(x)
    k, g = [np.asarray(v) for v in theirs.losses], ours.losses
    assert len(g) == len(k) == 2
    for a, b in zip(g, k):
        assert a.shape == b.shape and a.dtype == np.float32
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", ["subclass", "functional"])
@pytest.mark.parametrize("weighted", [False, True])
def test_fit_evaluate_train_on_batch_as_keras(keras, rng, kind, weighted):
    theirs, ours, units = _pair(keras, kind)
    x, y, w = _data(rng, units)
    w = w if weighted else None
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    ours.compile(optimizer=gn.optimizers.SGD(learning_rate=0.1), loss="mse")
    np.testing.assert_allclose(ours.evaluate(x, y, sample_weight=w, verbose=0),
                               theirs.evaluate(x, y, sample_weight=w, verbose=0), rtol=1e-5)
    k = theirs.fit(x, y, sample_weight=w, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    g = ours.fit(x, y, sample_weight=w, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(g, k, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    np.testing.assert_allclose(ours.train_on_batch(x, y, sample_weight=w),
                               theirs.train_on_batch(x, y, sample_weight=w), rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("kind", ["subclass", "functional"])
def test_loss_none_trains_on_the_terms_alone_as_keras(keras, rng, kind):
    theirs, ours, units = _pair(keras, kind)
    x, y, _ = _data(rng, units)
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss=None)
    ours.compile(optimizer=gn.optimizers.SGD(learning_rate=0.1), loss=None)
    with pytest.warns(UserWarning):         # Keras: the output layer gets no gradient
        k = theirs.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    g = ours.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(g, k, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("kind", ["subclass", "functional"])
def test_gradients_match_float64_finite_differences(rng, kind):
    if kind == "subclass":
        model = _subclass(gn.Model, gn.layers, ops)
        units = 1
    else:
        model = _functional(gn.Model, gn.layers, ops, gn.Input, gn.Model)
        units = 2
    x, y, _ = _data(rng, units)
    model(x.astype(np.float64))
    model.compile(optimizer=gn.optimizers.SGD(learning_rate=0.0), loss="mse")
    weights = model.get_weights()
    # the same network in float64: a subclass made again with that dtype
    model64 = _subclass(gn.Model, gn.layers, ops) if kind == "subclass" else None
    if model64 is None:
        model64 = _functional(gn.Model, gn.layers, ops, gn.Input, lambda i, o: gn.Model(i, o, dtype="float64"))
    else:
        model64 = type(model64).__new__(type(model64))
        gn.Model.__init__(model64, dtype="float64")
        model64.hidden, model64.out = gn.layers.Dense(4, activation="tanh"), gn.layers.Dense(1)
    x64, y64 = x.astype(np.float64), y.astype(np.float64)
    model64(x64)
    model64.set_weights([w.astype(np.float64) for w in weights])
    model64.compile(optimizer=gn.optimizers.SGD(learning_rate=0.0), loss="mse")
    model64._loss_and_gradients(x64, y64)
    analytic = [g.copy() for layer in model64.layers for g in layer.grads.values()]
    params = [p for layer in model64.layers for p in layer.params.values()]
    assert params and len(analytic) == len(params)
    eps = 1e-6
    for p, g in zip(params, analytic):
        numeric = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            keep = p[i]
            p[i] = keep + eps
            up = model64._loss_from_output(model64._forward(x64, training=True), y64)
            p[i] = keep - eps
            down = model64._loss_from_output(model64._forward(x64, training=True), y64)
            p[i] = keep
            numeric[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-8)


def test_term_arithmetic_gradient_finite_differences(rng):
    """Products and quotients of batch terms: the chain rule through them, in float64."""
    class Net(gn.Model):
        def __init__(self):
            super().__init__(dtype="float64")
            self.hidden = gn.layers.Dense(3, activation="tanh")
            self.out = gn.layers.Dense(1)

        def call(self, x):
            h = self.hidden(x)
            m, s = ops.mean(ops.square(h)), ops.sum(h)
            self.add_loss(m * s / (1.0 + m) - 2.0 * m)
            return self.out(h)
    model = Net()
    x, y = rng.normal(size=(6, 2)), rng.normal(size=(6, 1))
    model(x)
    model.compile(optimizer="sgd", loss="mse")
    model._loss_and_gradients(x, y)
    kernel, grad = model.hidden.params["kernel"], model.hidden.grads["kernel"].copy()
    eps, numeric = 1e-6, np.zeros_like(kernel)
    for i in np.ndindex(kernel.shape):
        keep = kernel[i]
        kernel[i] = keep + eps
        up = model._loss_from_output(model._forward(x, training=True), y)
        kernel[i] = keep - eps
        down = model._loss_from_output(model._forward(x, training=True), y)
        kernel[i] = keep
        numeric[i] = (up - down) / (2 * eps)
    np.testing.assert_allclose(grad, numeric, rtol=1e-6, atol=1e-9)


def test_refusals_by_name(rng):
    layer = gn.layers.Dense(2)
    with pytest.raises(NotImplementedError, match="add_loss is taken inside a call that glassnet draws"):
        layer.add_loss(ops.mean(gn.Input((3,)) * 1.0))
    with pytest.raises(NotImplementedError, match="add_loss.*activity_regularizer"):
        layer.add_loss(0.5)

    class Constant(gn.Model):
        def __init__(self):
            super().__init__()
            self.out = gn.layers.Dense(1)

        def call(self, x):
            self.add_loss(0.5)
            return self.out(x)
    with pytest.raises(TypeError, match="add_loss takes what a drawn call computes.*got float 0.5"):
        Constant()(rng.normal(size=(4, 3)).astype(np.float32))
    inputs = gn.Input((3,))
    term = ops.mean(gn.layers.Dense(2)(inputs))
    with pytest.raises(TypeError, match="axis=None on a tensor reduces the batch axis"):
        gn.layers.Dense(2)(term)
    with pytest.raises(TypeError, match="axis=None on a tensor reduces the batch axis"):
        ops.exp(term)
    with pytest.raises(TypeError, match="axis=None on a tensor reduces the batch axis"):
        term * inputs

    class OnOutput(gn.Model):
        def __init__(self):
            super().__init__()
            self.out = gn.layers.Dense(1)

        def call(self, x):
            y = self.out(x)
            self.add_loss(ops.mean(y))
            return y
    with pytest.raises(NotImplementedError, match="a term reads a model output"):
        OnOutput()(rng.normal(size=(4, 3)).astype(np.float32))

    class Plain(gn.Model):
        def __init__(self):
            super().__init__()
            self.out = gn.layers.Dense(1)

        def call(self, x):
            return self.out(x)
    plain = Plain()
    plain(rng.normal(size=(4, 3)).astype(np.float32))
    with pytest.raises(ValueError, match="no add_loss terms"):
        plain.compile(loss=None)
    assert plain.losses == []
