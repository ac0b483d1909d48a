"""Review (rev38d) of today's call-block gaps (dead calls, __init__ weights, pop of a block), each
against Keras 3.15: a dead branch's regularizer gradient summed over the steps, a Sequential holding
a block with add_weight weights could not run once read back, a weight made in build after an
__init__ weight was read was never made, and pop of a layer after a block with a dead branch was
refused."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


def _data(rng, n=12):
    return rng.normal(size=(n, 4)).astype(np.float32), rng.normal(size=(n, 1)).astype(np.float32)


def _probe_block(base, L, o, regularizer=None):
    class Probe(base):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.a = L.Dense(3, activation="tanh")
            self.b = L.Dense(2)
            self.probe = L.Dense(7, kernel_regularizer=regularizer)

        def call(self, x):
            h = self.a(x)
            _ = o.relu(self.probe(h))        # computed, never returned
            return self.b(h)
    return Probe


def _fit_pair(keras, theirs, ours, x, y, optimizer="sgd"):
    ours.set_weights(theirs.get_weights())
    make = {"sgd": (keras.optimizers.SGD(0.1), gn.optimizers.SGD(learning_rate=0.1)),
            "adam": (keras.optimizers.Adam(0.01, epsilon=1e-12), gn.optimizers.Adam(learning_rate=0.01,
                                                                                      epsilon=1e-12))}[optimizer]
    theirs.compile(optimizer=make[0], loss="mse")
    ours.compile(optimizer=make[1], loss="mse")
    k = theirs.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    g = ours.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(g, k, rtol=1e-5)
    assert len(ours.get_weights()) == len(theirs.get_weights())
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_dead_branchs_regularizer_moves_its_weights_as_keras(keras, rng, optimizer):
    """The penalty's gradient is the dead weights' only one (Keras' is not None): it was added at
    every step to grads no backward wrote again, so the step-k update was k times Keras'."""
    x, y = _data(rng)
    keras.utils.set_random_seed(0)
    ki, gi = keras.Input((4,)), gn.Input((4,))
    kb = _probe_block(keras.layers.Layer, keras.layers, keras.ops, "l2")()
    gb = _probe_block(gn.Layer, gn.layers, ops, "l2")()
    theirs = keras.Model(ki, keras.layers.Dense(1)(kb(ki)))
    ours = gn.Model(gi, gn.layers.Dense(1)(gb(gi)))
    before = kb.probe.get_weights()[0].copy()
    _fit_pair(keras, theirs, ours, x, y, optimizer)
    np.testing.assert_allclose(gb.probe.get_weights()[0], kb.probe.get_weights()[0], atol=1e-6)
    assert not np.allclose(kb.probe.get_weights()[0], before)        # (the penalty moved them, in both)
    np.testing.assert_array_equal(gb.probe.get_weights()[1], kb.probe.get_weights()[1])   # no penalty: left


def _linear(base, L, o, in_build=False):
    class Linear(base):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.w = self.add_weight(shape=(4, 3), initializer="random_normal", name="w")
            self.b = self.add_weight(shape=(3,), initializer="zeros", trainable=False)
            self.d = L.Dense(2)

        if in_build:
            def build(self, input_shape):
                self.v = self.add_weight(shape=(3,), initializer="ones", name="v")

        def call(self, x):
            h = o.matmul(x, self.w) + self.b
            return self.d(h * self.v if in_build else h)
    return Linear


@pytest.mark.parametrize("kind", ["sequential", "lazy"])
def test_a_sequential_holding_a_block_with_add_weight_runs_when_read_back(rng, tmp_path, kind):
    """Its nodes reading the block's weights were not linked to the CallWeights read back (only a
    functional Model's config linked them): load_model, clone_model, from_config failed at predict."""
    x, _ = _data(rng)
    block = _linear(gn.Layer, gn.layers, ops)()
    if kind == "lazy":
        model = gn.Sequential([block, gn.layers.Dense(1)], seed=0)
        model.build((None, 4))
    else:
        model = gn.Sequential([gn.Input((4,)), block, gn.layers.Dense(1)], seed=0)
    expected = model.predict(x, verbose=0)
    model.save(tmp_path / "m.npz")
    for back in (gn.load_model(tmp_path / "m.npz"), gn.models.clone_model(model),
                 gn.Sequential.from_config(model.get_config())):
        back.set_weights(model.get_weights())
        np.testing.assert_array_equal(back.predict(x, verbose=0), expected)
    back = gn.load_model(tmp_path / "m.npz")
    back.compile(optimizer="sgd", loss="mse")
    back.fit(x, x[:, :1], epochs=1, verbose=0)


@pytest.mark.parametrize("read", ["numpy", "set_weights"])
def test_a_weight_made_in_build_after_an_init_weight_was_read(keras, rng, read):
    """Reading an __init__ weight makes the block's weights at once; one its build adds later was
    recorded but never made (KeyError at the first pass, missing from get_weights)."""
    x, y = _data(rng)
    Theirs, Ours = _linear(keras.layers.Layer, keras.layers, keras.ops, True), _linear(gn.Layer, gn.layers, ops, True)
    kb, gb = Theirs(), Ours()
    if read == "numpy":
        gb.w.numpy()
    else:
        new = [0.3 * rng.normal(size=(4, 3)).astype(np.float32), 0.1 * rng.normal(size=(3,)).astype(np.float32)]
        gb.set_weights(new)
        kb.set_weights(new)
    ki, gi = keras.Input((4,)), gn.Input((4,))
    theirs = keras.Model(ki, keras.layers.Dense(1)(kb(ki)))
    ours = gn.Model(gi, gn.layers.Dense(1)(gb(gi)))
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    ws = theirs.get_weights()
    ws[1] = rng.normal(size=(3,)).astype(np.float32)        # (v: Keras' order, trainable ones first)
    theirs.set_weights(ws)
    np.testing.assert_array_equal(gb.v.numpy(), np.ones(3, np.float32))
    _fit_pair(keras, theirs, ours, x, y)


def test_pop_of_a_layer_after_a_block_with_a_dead_branch_as_keras(keras, rng):
    """The block's call reaching no output was taken for a call the pop would strand, and the pop
    of the Dense after the block refused."""
    x, y = _data(rng)
    keras.utils.set_random_seed(0)
    Theirs, Ours = _probe_block(keras.layers.Layer, keras.layers, keras.ops), _probe_block(gn.Layer, gn.layers, ops)
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), Theirs(), keras.layers.Dense(5)])
    ours = gn.Sequential([gn.Input((4,)), gn.layers.Dense(4), Ours(), gn.layers.Dense(5)], seed=0)
    assert isinstance(ours.pop(), gn.layers.Dense) and isinstance(theirs.pop(), keras.layers.Dense)
    assert ours.output_shape == tuple(theirs.output_shape)
    theirs.add(keras.layers.Dense(1))
    ours.add(gn.layers.Dense(1))
    _fit_pair(keras, theirs, ours, x, y)
    assert type(ours.pop()).__name__ == "Dense" and type(ours.pop()).__name__ == "Probe"


def test_pop_after_load_model_of_a_block_with_a_dead_branch(rng, tmp_path):
    x, _ = _data(rng)
    model = gn.Sequential([gn.Input((4,)), _probe_block(gn.Layer, gn.layers, ops)(), gn.layers.Dense(3)], seed=0)
    model.save(tmp_path / "m.npz")
    back = gn.load_model(tmp_path / "m.npz")
    assert isinstance(back.pop(), gn.layers.Dense)       # (read back: the drawn layers, no block to pop)
    back.add(gn.layers.Dense(1))
    back.compile(optimizer="sgd", loss="mse")
    back.fit(x, x[:, :1], epochs=1, verbose=0)
