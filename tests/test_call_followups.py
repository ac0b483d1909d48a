"""Follow-ups on Keras-style blocks (glassnet._call_layers, glassnet._call_bases) and add_loss
(glassnet.added_losses), each against Keras 3.15: blocks on a base of one's own, ``built``, a block's
dtype taken from its layers, fit(x) with compile(loss=None), Keras' order of ``model.losses``, and a
batch term broadcast over a tensor in add_loss; gradients against float64 finite differences."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


def _chain(base, L, o):
    """Keras code's shape: helpers on a base of one's own, the block on it."""
    class MyBase(base):
        def activate(self, x):
            return o.tanh(x) * 2.0

    class Block(MyBase):
        def __init__(self, units, **kwargs):
            super().__init__(**kwargs)
            self.inner = L.Dense(units)

        def call(self, x):
            return self.activate(self.inner(x))
    return Block


def _assert_gradients_as_finite_differences(model, x, y, eps=1e-6):
    """The model's analytic gradients (add_loss terms included) against float64 central differences
    of its training loss, weight by weight."""
    model._loss_and_gradients(x, y)
    analytic = [g.copy() for layer in model.layers for g in layer.grads.values()]
    params = [p for layer in model.layers for p in layer.params.values()]
    assert params and len(analytic) == len(params)
    for p, g in zip(params, analytic):
        numeric = np.zeros_like(p)
        for i in np.ndindex(p.shape):
            keep = p[i]
            p[i] = keep + eps
            up = model._loss_from_output(model._forward(x, training=True), y)
            p[i] = keep - eps
            down = model._loss_from_output(model._forward(x, training=True), y)
            p[i] = keep
            numeric[i] = (up - down) / (2 * eps)
        np.testing.assert_allclose(g, numeric, rtol=1e-6, atol=1e-8)


def _fit_pair(keras, theirs, ours, x, y, loss="mse"):
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss=loss)
    ours.compile(optimizer=gn.optimizers.SGD(learning_rate=0.1), loss=loss)
    k = theirs.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    g = ours.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(g, k, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


# -- 1. blocks on a base of one's own ---------------------------------------------------------------

def test_a_block_on_a_base_of_its_own_is_drawn_and_trains_as_keras(keras, rng):
    Theirs, Ours = _chain(keras.layers.Layer, keras.layers, keras.ops), _chain(gn.Layer, gn.layers, ops)
    assert issubclass(Ours, gn.Model) and issubclass(Ours.__mro__[1], gn.Model)
    x, y = rng.normal(size=(12, 4)).astype(np.float32), rng.normal(size=(12, 1)).astype(np.float32)
    keras.utils.set_random_seed(0)
    ki = keras.Input((4,))
    theirs = keras.Model(ki, keras.layers.Dense(1)(Theirs(3)(ki)))
    gi = gn.Input((4,))
    ours = gn.Model(gi, gn.layers.Dense(1)(Ours(3)(gi)))
    _fit_pair(keras, theirs, ours, x, y)


def test_two_levels_of_bases_a_build_of_the_base_and_a_subclass_of_a_block(keras, rng):
    def make(base, L, o):
        class Base(base):
            def __init__(self, units, **kwargs):
                super().__init__(**kwargs)
                self.units = units

            def build(self, input_shape):          # makes the layers call uses (keras.io's way)
                self.inner = L.Dense(self.units)

        class Mid(Base):
            def scale(self, x):
                return x * 0.5

        class Block(Mid):
            def call(self, x):
                return self.scale(o.relu(self.inner(x)))

        class Twice(Block):                         # B(A), A a block already: drawn as A is
            def call(self, x):
                return super().call(x) + 1.0
        return Twice
    x, y = rng.normal(size=(12, 4)).astype(np.float32), rng.normal(size=(12, 1)).astype(np.float32)
    keras.utils.set_random_seed(1)
    ki = keras.Input((4,))
    theirs = keras.Model(ki, keras.layers.Dense(1)(make(keras.layers.Layer, keras.layers, keras.ops)(3)(ki)))
    gi = gn.Input((4,))
    Twice = make(gn.Layer, gn.layers, ops)
    assert "Base" not in gn.layers.base.LAYERS or gn.layers.base.LAYERS["Base"] is not Twice.__mro__[3]
    ours = gn.Model(gi, gn.layers.Dense(1)(Twice(3)(gi)))
    _fit_pair(keras, theirs, ours, x, y)


def test_a_base_shared_by_a_forward_layer_and_a_block_is_refused_by_name():
    class Shared(gn.Layer):
        pass

    class OnArrays(Shared):                 # a layer computing in forward: the base is a layer's
        def forward(self, x, training=False):
            return x * 2

        def backward(self, grad_output):
            return grad_output * 2
    np.testing.assert_allclose(OnArrays()(np.ones((2, 3), np.float32)), 2.0)     # untouched
    with pytest.raises(TypeError, match=r"Drawn: .*its base Shared is the base of OnArrays.*a base of their own"):
        class Drawn(Shared):
            def call(self, x):
                return x

    class Other(gn.Layer):
        pass

    class Block(Other):                     # the base is drawn with it
        def call(self, x):
            return x
    assert issubclass(Other, gn.Model)
    with pytest.raises(TypeError, match=r"Late: defines forward .* its base is drawn as a glassnet.Model"):
        class Late(Other):
            def forward(self, x, training=False):
                return x


def test_glassnet_layers_and_forward_subclasses_are_untouched():
    # a call on a subclass of a layer that computes in forward (a built-in's, or one of yours) would be
    # ignored, the inherited forward running instead (Keras runs the call): refused when the class is made
    with pytest.raises(TypeError, match=r"MyDense: defines call\(\), Keras' method, but inherits forward from Dense"):
        class MyDense(gn.layers.Dense):
            def call(self, x):
                return x

    class Base(gn.Layer):
        def forward(self, x, training=False):
            return x + 1

        def backward(self, grad_output):
            return grad_output

    class Sub(Base):                        # forward inherited, no call: still a layer on arrays
        pass
    assert issubclass(Sub, gn.Layer) and not issubclass(Sub, gn.Model)
    np.testing.assert_allclose(Sub()(np.zeros((1, 2), np.float32)), 1.0)
    with pytest.raises(TypeError, match=r"SubWithCall: defines call\(\), Keras' method, but inherits forward from Base"):
        class SubWithCall(Base):
            def call(self, x):
                return x


def test_gradients_through_a_block_on_a_base_match_finite_differences():
    Block = _chain(gn.Layer, gn.layers, ops)
    inputs = gn.Input((3,))
    model = gn.Model(inputs, gn.layers.Dense(2)(Block(4)(inputs)), dtype="float64", seed=0)
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    _assert_gradients_as_finite_differences(model, x, y)


# -- 2. built ------------------------------------------------------------------------------------------

def test_a_block_is_built_once_the_model_around_it_is_as_keras(keras):
    Theirs, Ours = _chain(keras.layers.Layer, keras.layers, keras.ops), _chain(gn.Layer, gn.layers, ops)
    for Block, Input, Model, Sequential in [(Theirs, keras.Input, keras.Model, keras.Sequential),
                                            (Ours, gn.Input, gn.Model, gn.Sequential)]:
        block = Block(3)
        assert block.built is False
        inputs = Input((4,))
        Model(inputs, block(inputs))
        assert block.built is True
        block = Block(3)
        Sequential([Input((4,)), block]).predict(np.ones((1, 4), np.float32), verbose=0)
        assert block.built is True
        block = Block(3)
        block(np.ones((2, 4), np.float32))
        assert block.built is True


# -- 3. a block's dtype from its layers ------------------------------------------------------------

def test_a_block_built_in_a_float64_model_computes_in_float64_when_called_alone(keras, rng):
    Ours = _chain(gn.Layer, gn.layers, ops)
    block = Ours(3)
    gn.Sequential([gn.Input((4,)), block], dtype="float64").predict(np.ones((1, 4)), verbose=0)
    x = rng.normal(size=(5, 4))
    out = block(x)
    assert out.dtype == np.float64 and block.dtype == np.float64
    kernel, bias = block.get_weights()
    assert kernel.dtype == np.float64
    # Keras' block of float64 computes in float64 too: the same values from the same weights
    Theirs = _chain(keras.layers.Layer, keras.layers, keras.ops)
    theirs = Theirs(3, dtype="float64")
    theirs.inner = keras.layers.Dense(3, dtype="float64")
    theirs(x)
    theirs.set_weights([kernel, bias])
    expected = np.asarray(theirs(x))
    assert expected.dtype == np.float64
    np.testing.assert_allclose(out, expected, rtol=1e-12)


def test_a_block_given_a_dtype_keeps_it():
    block = _chain(gn.Layer, gn.layers, ops)(3, dtype="float32")
    gn.Sequential([gn.Input((4,)), block], dtype="float64").predict(np.ones((1, 4)), verbose=0)
    with pytest.raises(ValueError, match="dtype float64, the model float32"):
        block(np.ones((2, 4)))


# -- 4. fit(x) with compile(loss=None) ------------------------------------------------------------

def _penalized(base, L, o):
    class Penalty(base):
        def call(self, x):
            self.add_loss(o.mean(o.square(x)) + 0.1 * o.sum(x))
            return x
    return Penalty


def _only_terms(module, L, o, base):
    inputs = module.Input((4,))
    h = _penalized(base, L, o)()(L.Dense(3)(inputs))
    return module.Model(inputs, L.Dense(1)(h))


def test_fit_without_targets_trains_on_add_loss_terms_as_keras(keras, rng):
    x = rng.normal(size=(10, 4)).astype(np.float32)
    keras.utils.set_random_seed(2)
    theirs = _only_terms(keras, keras.layers, keras.ops, keras.layers.Layer)
    ours = _only_terms(gn, gn.layers, ops, gn.Layer)
    ours.set_weights(theirs.get_weights())
    theirs.compile(optimizer=keras.optimizers.SGD(0.05), loss=None)
    ours.compile(optimizer=gn.optimizers.SGD(learning_rate=0.05), loss=None)
    np.testing.assert_allclose(ours.evaluate(x, verbose=0), theirs.evaluate(x, verbose=0), rtol=1e-5)
    np.testing.assert_allclose(ours.test_on_batch(x[:4]), theirs.test_on_batch(x[:4]), rtol=1e-5)
    np.testing.assert_allclose(ours.train_on_batch(x[:4]), theirs.train_on_batch(x[:4]), rtol=1e-5)
    k = theirs.fit(x, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    g = ours.fit(x, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(g, k, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def test_targets_are_still_required_with_a_loss():
    model = _only_terms(gn, gn.layers, ops, gn.Layer)
    model.compile(optimizer="sgd", loss="mse")
    with pytest.raises(ValueError, match=r"train_on_batch: y: expected the targets .*only compile\(loss=None\)"):
        model.train_on_batch(np.ones((2, 4), np.float32))
    with pytest.raises(TypeError, match="y: expected an array, got None"):
        model.fit(np.ones((2, 4), np.float32), verbose=0)


# -- 5. the order of model.losses -----------------------------------------------------------------

def _nested_terms(base, model_base, L, o):
    class Inner(base):
        def __init__(self, c):
            super().__init__()
            self.dense, self.c = L.Dense(2), c

        def call(self, x):
            h = self.dense(x)
            self.add_loss(o.mean(o.square(h)) * self.c)
            return h

    class Outer(model_base):
        def __init__(self):
            super().__init__()
            self.a, self.b, self.out = Inner(1.0), Inner(3.0), L.Dense(1)

        def call(self, x):
            h = self.a(x)
            self.add_loss(o.sum(h) * 0.01)
            h = self.b(h)
            self.add_loss(o.mean(h) * 0.5)
            return self.out(h)
    return Outer()


def test_model_losses_list_the_models_own_terms_first_as_keras(keras, rng):
    x = rng.normal(size=(6, 4)).astype(np.float32)
    keras.utils.set_random_seed(3)
    theirs = _nested_terms(keras.layers.Layer, keras.Model, keras.layers, keras.ops)
    ours = _nested_terms(gn.Layer, gn.Model, gn.layers, ops)
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    theirs(x)
    ours(x)
    k, g = [np.asarray(v) for v in theirs.losses], ours.losses
    assert len(g) == len(k) == 4
    for a, b in zip(g, k):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


# -- 6. a batch term broadcast over a tensor -------------------------------------------------------

@pytest.mark.parametrize("expr", ["mean - per_sample", "per_sample - mean", "mean * h", "h / mean",
                                  "h + mean"])
def test_a_batch_term_with_a_tensor_is_summed_as_keras(keras, rng, expr):
    def make(base, L, o, module):
        class Mix(base):
            def call(self, h):
                self.add_loss(eval(expr, {}, {"mean": o.mean(h), "per_sample": o.sum(h, axis=-1), "h": h}))
                return h
        inputs = module.Input((4,))
        return module.Model(inputs, L.Dense(1)(Mix()(L.Dense(3, activation="sigmoid")(inputs))))
    x, y = rng.normal(size=(8, 4)).astype(np.float32), rng.normal(size=(8, 1)).astype(np.float32)
    keras.utils.set_random_seed(4)
    theirs, ours = make(keras.layers.Layer, keras.layers, keras.ops, keras), make(gn.Layer, gn.layers, ops, gn)
    ours.set_weights(theirs.get_weights())
    theirs(x)
    ours(x)
    k, g = [np.asarray(v) for v in theirs.losses], ours.losses
    assert len(g) == len(k) == 1 and g[0].shape == k[0].shape
    np.testing.assert_allclose(g[0], k[0], rtol=1e-5, atol=1e-6)
    _fit_pair(keras, theirs, ours, x, y)


def test_a_broadcast_term_gradient_matches_finite_differences():
    class Mix(gn.Layer):
        def call(self, h):
            self.add_loss(ops.mean(h) * 2.0 - ops.sum(ops.square(h), axis=-1))
            return h
    inputs = gn.Input((3,))
    model = gn.Model(inputs, gn.layers.Dense(2)(Mix()(gn.layers.Dense(4, activation="tanh")(inputs))),
                     dtype="float64", seed=1)
    model.compile(optimizer="sgd", loss="mse")
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(5, 3)), rng.normal(size=(5, 2))
    _assert_gradients_as_finite_differences(model, x, y)


@pytest.mark.parametrize("expr, match", [
    ("ops.square(ops.mean(h) - h)", "given to add_loss as it is"),
    ("(ops.mean(h) - h) + 1.0", "given to add_loss as it is"),
    ("ops.mean(h) / h", "divide of a batch term by a tensor"),
])
def test_other_uses_of_a_batch_term_with_a_tensor_are_refused_for_add_loss(expr, match):
    class Mix(gn.Layer):
        def call(self, h):
            self.add_loss(eval(expr))
            return h
    inputs = gn.Input((3,))
    with pytest.raises(TypeError, match=match):
        gn.Model(inputs, gn.layers.Dense(1)(Mix()(gn.layers.Dense(2)(inputs))))
