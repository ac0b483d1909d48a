"""Three gaps of blocks written with call (Keras' custom layers), each against Keras 3.15:

1. sub-layers called on a branch that reaches no output keep their weights (glassnet._dead_calls),
   listed, counted, saved and set from Keras' get_weights; a sub-layer never called has none, as in Keras;
2. weights made with add_weight in __init__ are readable before the block is built (glassnet._call_weights);
3. Sequential.pop() takes a block out whole, its add_loss terms with it (glassnet._block_pop).
Gradients against float64 central finite differences."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops


def _probe_block(base, L, o):
    """keras.io-style block: ``unused`` never called, ``probe`` called on a branch going nowhere."""
    class Probe(base):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.a = L.Dense(3, activation="tanh")
            self.unused = L.Dense(5)
            self.b = L.Dense(2)
            self.probe = L.Dense(7)

        def call(self, x):
            h = self.a(x)
            _ = o.relu(self.probe(h))        # computed, never returned
            return self.b(h) + h[:, :2]
    return Probe


def _data(rng, n=12):
    return rng.normal(size=(n, 4)).astype(np.float32), rng.normal(size=(n, 1)).astype(np.float32)


def _fit_pair(keras, theirs, ours, x, y, optimizer="sgd"):
    ours.set_weights(theirs.get_weights())
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    make = {"sgd": (keras.optimizers.SGD(0.1), gn.optimizers.SGD(learning_rate=0.1)),
            "adam": (keras.optimizers.Adam(0.01), gn.optimizers.Adam(learning_rate=0.01))}[optimizer]
    theirs.compile(optimizer=make[0], loss="mse")
    ours.compile(optimizer=make[1], loss="mse")
    k = theirs.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    g = ours.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(g, k, rtol=1e-5)
    assert len(ours.get_weights()) == len(theirs.get_weights())
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def _gradients_match_finite_differences(model, x, y, eps=1e-6):
    model._loss_and_gradients(x, y)
    params = [p for layer in model.layers for p in layer.params.values()]
    analytic = [g.copy() for layer in model.layers for g in layer.grads.values()]
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


# -- 1. sub-layers reaching no output ----------------------------------------------------------------

@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_a_dead_branch_keeps_its_weights_in_a_functional_model_as_keras(keras, rng, optimizer):
    x, y = _data(rng)
    keras.utils.set_random_seed(0)
    Theirs, Ours = _probe_block(keras.layers.Layer, keras.layers, keras.ops), _probe_block(gn.Layer, gn.layers, ops)
    ki = keras.Input((4,))
    kb = Theirs()
    theirs = keras.Model(ki, keras.layers.Dense(1)(kb(ki)))
    gi = gn.Input((4,))
    gb = Ours()
    ours = gn.Model(gi, gn.layers.Dense(1)(gb(gi)))
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    assert [tuple(w.shape) for w in gb.weights] == [tuple(w.shape) for w in kb.weights]
    assert ours.count_params() == theirs.count_params() and gb.count_params() == kb.count_params()
    assert not gb.unused.built and not kb.unused.built
    probe_before = gb.probe.get_weights()
    _fit_pair(keras, theirs, ours, x, y, optimizer)
    # no gradient reaches the branch: its weights stay (Keras': None gradients, no update)
    np.testing.assert_array_equal(gb.probe.get_weights()[0], theirs.get_weights()[4])
    assert not np.array_equal(probe_before[0], gb.probe.get_weights()[0])      # (set from Keras above)


def test_a_dead_branch_in_a_lazily_drawn_sequential_and_a_subclass_model(keras, rng):
    x, y = _data(rng)
    keras.utils.set_random_seed(1)
    Theirs, Ours = _probe_block(keras.layers.Layer, keras.layers, keras.ops), _probe_block(gn.Layer, gn.layers, ops)
    theirs = keras.Sequential([keras.Input((4,)), Theirs(), keras.layers.Dense(1)])
    ours = gn.Sequential([Ours(), gn.layers.Dense(1)], seed=0)
    ours.build((None, 4))
    _fit_pair(keras, theirs, ours, x, y)

    def model(base, L, block):
        class Net(base):
            def __init__(self):
                super().__init__()
                self.block, self.head, self.extra = block(), L.Dense(1), L.Dense(9)

            def call(self, x):
                return self.head(self.block(x))
        return Net()
    theirs, ours = model(keras.Model, keras.layers, Theirs), model(gn.Model, gn.layers, Ours)
    theirs(x[:2])
    ours.build((None, 4))
    assert not ours.extra.built and not theirs.extra.built         # never called: no weights in either
    _fit_pair(keras, theirs, ours, x, y)


def test_a_dead_branch_is_counted_in_summary_and_survives_save_and_load(keras, rng, tmp_path, capsys):
    x, y = _data(rng)
    Ours = _probe_block(gn.Layer, gn.layers, ops)
    gi = gn.Input((4,))
    ours = gn.Model(gi, gn.layers.Dense(1)(Ours()(gi)), seed=0)
    keras.utils.set_random_seed(0)
    Theirs = _probe_block(keras.layers.Layer, keras.layers, keras.ops)
    ki = keras.Input((4,))
    theirs = keras.Model(ki, keras.layers.Dense(1)(Theirs()(ki)))
    ours.summary()
    row = next(line for line in capsys.readouterr().out.splitlines() if "(Probe)" in line)
    assert str(theirs.layers[1].count_params()) in row.split()
    ours.compile(optimizer="adam", loss="mse")
    ours.fit(x, y, epochs=1, batch_size=4, verbose=0)
    ours.save(tmp_path / "probe.npz")
    back = gn.load_model(tmp_path / "probe.npz")
    assert len(back.get_weights()) == len(theirs.get_weights())
    for a, b in zip(back.get_weights(), ours.get_weights()):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(back.predict(x, verbose=0), ours.predict(x, verbose=0))
    a = ours.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0).history["loss"]
    b = back.fit(x, y, epochs=1, batch_size=4, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(a, b, rtol=1e-6)


def test_a_sequential_keeps_its_blocks_dead_calls_in_its_file_and_refuses_them_crafted(rng, tmp_path,
                                                                                         edit_model_file):
    x, _ = _data(rng)
    model = gn.Sequential([_probe_block(gn.Layer, gn.layers, ops)(), gn.layers.Dense(1)], seed=0)
    model.build((None, 4))
    model.save(tmp_path / "seq.npz")
    back = gn.load_model(tmp_path / "seq.npz")
    assert [w.shape for w in back.get_weights()] == [w.shape for w in model.get_weights()]
    np.testing.assert_array_equal(back.predict(x, verbose=0), model.predict(x, verbose=0))

    def drop(config):           # the list of calls reaching no output taken away: such a call is refused
        config["model"]["graph"].pop("dead_calls")
    edit_model_file(tmp_path / "seq.npz", drop, tmp_path / "crafted.npz")
    with pytest.raises(gn.errors.ModelFileError, match="dead_calls"):
        gn.load_model(tmp_path / "crafted.npz")

    def wrong(config):
        config["model"]["graph"]["dead_calls"] = ["a"]
    edit_model_file(tmp_path / "seq.npz", wrong, tmp_path / "crafted2.npz")
    with pytest.raises(gn.errors.ModelFileError, match="'dead_calls' must list calls"):
        gn.load_model(tmp_path / "crafted2.npz")


def test_a_dead_branch_gradients_match_float64_finite_differences(rng):
    Ours = _probe_block(gn.Layer, gn.layers, ops)
    gi = gn.Input((4,))
    model = gn.Model(gi, gn.layers.Dense(1)(Ours()(gi)), seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    x, y = rng.normal(size=(5, 4)), rng.normal(size=(5, 1))
    _gradients_match_finite_differences(model, x, y)


def test_a_dead_call_reading_the_output_is_left_out(keras, rng):
    """Documented difference: a call on the block's own output that goes nowhere cannot come
    before the output's call, so its layer is not listed (Keras lists its weights)."""
    def block(base, L):
        class Tail(base):
            def __init__(self):
                super().__init__()
                self.a, self.after = L.Dense(3), L.Dense(6)

            def call(self, x):
                out = self.a(x)
                _ = self.after(out)
                return out
        return Tail()
    gi, ki = gn.Input((4,)), keras.Input((4,))
    ours = gn.Model(gi, block(gn.Layer, gn.layers)(gi))
    theirs = keras.Model(ki, block(keras.layers.Layer, keras.layers)(ki))
    assert ours.count_params() == theirs.count_params() - (3 * 6 + 6)
    x, _ = _data(rng)
    ours.set_weights(theirs.get_weights()[:2])
    np.testing.assert_allclose(ours.predict(x, verbose=0), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)


# -- 2. weights made in __init__ -----------------------------------------------------------------------

def _linear(base, L, o):
    class Linear(base):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.w = self.add_weight(shape=(4, 3), initializer="random_normal", name="w")
            self.b = self.add_weight(shape=(3,), initializer="zeros", trainable=False)
            self.d = L.Dense(2)

        def call(self, x):
            return self.d(o.matmul(x, self.w) + self.b)
    return Linear


def test_weights_made_in_init_are_readable_and_settable_before_the_build(keras, rng):
    Theirs, Ours = _linear(keras.layers.Layer, keras.layers, keras.ops), _linear(gn.Layer, gn.layers, ops)
    theirs, ours = Theirs(), Ours()
    assert ours.w.numpy().shape == tuple(theirs.w.numpy().shape) == (4, 3)
    assert ours.w.numpy().dtype == theirs.w.numpy().dtype == np.float32
    assert [w.shape for w in ours.weights] == [tuple(w.shape) for w in theirs.weights]
    assert len(ours.trainable_weights) == len(theirs.trainable_weights) == 1
    assert len(ours.non_trainable_weights) == len(theirs.non_trainable_weights) == 1
    assert ours.built is theirs.built is False
    for model in (ours, theirs):
        with pytest.raises(ValueError):
            model.count_params()          # (Keras: the layer isn't built)
    # the value read now is the one the built block computes with (Keras made it in __init__)
    w0 = ours.w.numpy()
    np.testing.assert_array_equal(ours.get_weights()[0], w0)
    new = [0.3 * rng.normal(size=(4, 3)).astype(np.float32), 0.1 * rng.normal(size=(3,)).astype(np.float32)]
    ours.set_weights(new)
    theirs.set_weights(new)
    with pytest.raises(ValueError, match="set_weights"):
        ours.set_weights(new[:1])
    x, y = _data(rng)
    gi, ki = gn.Input((4,)), keras.Input((4,))
    g = gn.Model(gi, gn.layers.Dense(1)(ours(gi)), seed=0)
    k = keras.Model(ki, keras.layers.Dense(1)(theirs(ki)))
    np.testing.assert_array_equal(ours.w.numpy(), new[0])
    np.testing.assert_array_equal(g.get_weights()[1], new[1])
    _fit_pair(keras, k, g, x, y)
    np.testing.assert_allclose(ours.w.numpy(), theirs.w.numpy(), atol=1e-5)


def test_weights_made_in_init_follow_the_blocks_seed_and_its_dtype(rng):
    Ours = _linear(gn.Layer, gn.layers, ops)
    np.testing.assert_array_equal(Ours(seed=3).w.numpy(), Ours(seed=3).w.numpy())
    assert not np.array_equal(Ours(seed=3).w.numpy(), Ours(seed=4).w.numpy())
    assert Ours(dtype="float64").w.numpy().dtype == np.float64
    # read before a seeded model is built: the model keeps them (it does not draw them again)
    block = Ours()
    w0 = block.w.numpy()
    model = gn.Sequential([gn.Input((4,)), block, gn.layers.Dense(1)], seed=0)
    np.testing.assert_array_equal(model.get_weights()[0], w0)
    # unread, the model's seed draws them, as before
    a = gn.Sequential([gn.Input((4,)), Ours(), gn.layers.Dense(1)], seed=0).get_weights()
    b = gn.Sequential([gn.Input((4,)), Ours(), gn.layers.Dense(1)], seed=0).get_weights()
    for p, q in zip(a, b):
        np.testing.assert_array_equal(p, q)


def test_init_weight_gradients_match_float64_finite_differences(rng):
    block = _linear(gn.Layer, gn.layers, ops)(dtype="float64")
    block.w.numpy()
    model = gn.Sequential([gn.Input((4,)), block, gn.layers.Dense(1)], dtype="float64", seed=0)
    model.compile(loss="mse", optimizer="sgd")
    _gradients_match_finite_differences(model, rng.normal(size=(5, 4)), rng.normal(size=(5, 1)))


# -- 3. Sequential.pop() of a block ------------------------------------------------------------------

def _residual(base, L, o):
    class Residual(base):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.a, self.b = L.Dense(3), L.Dense(3)

        def call(self, x):
            return self.b(self.a(x)) + x[:, :3]
    return Residual


@pytest.mark.parametrize("lazy", [False, True])
def test_pop_removes_the_whole_block_as_keras(keras, rng, lazy):
    x, y = _data(rng)
    Theirs, Ours = _residual(keras.layers.Layer, keras.layers, keras.ops), _residual(gn.Layer, gn.layers, ops)
    keras.utils.set_random_seed(0)
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), Theirs(), Theirs()])
    blocks = [Ours(), Ours()]
    ours = gn.Sequential([gn.layers.Dense(4), *blocks] if lazy else [gn.Input((4,)), gn.layers.Dense(4), *blocks],
                         seed=0)
    if lazy:
        ours.build((None, 4))
    kept = blocks[1].get_weights()
    k_popped, g_popped = theirs.pop(), ours.pop()
    assert g_popped is blocks[1] and type(k_popped).__name__ == type(g_popped).__name__
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.get_weights()]
    assert ours.output_shape == tuple(theirs.output_shape)
    for a, b in zip(g_popped.get_weights(), kept):         # the popped block keeps its weights
        np.testing.assert_array_equal(a, b)
    theirs.add(keras.layers.Dense(1))
    ours.add(gn.layers.Dense(1))
    _fit_pair(keras, theirs, ours, x, y)
    assert isinstance(ours.pop(), gn.layers.Dense)
    popped = ours.pop()                 # now the first block
    assert popped is blocks[0] and [layer.name for layer in ours.layers] == [ours.layers[0].name]


def test_pop_takes_the_blocks_add_loss_terms_with_it(keras, rng):
    def block(base, L, o):
        class Penalized(base):
            def __init__(self):
                super().__init__()
                self.d = L.Dense(3)

            def call(self, x):
                h = self.d(x)
                self.add_loss(0.5 * o.mean(o.square(h)))
                return h
        return Penalized()
    x, y = _data(rng)
    keras.utils.set_random_seed(0)
    theirs = keras.Sequential([keras.Input((4,)), keras.layers.Dense(4), block(keras.layers.Layer, keras.layers,
                                                                                keras.ops)])
    ours = gn.Sequential([gn.Input((4,)), gn.layers.Dense(4), block(gn.Layer, gn.layers, ops)], seed=0)
    theirs.pop()
    ours.pop()
    theirs.add(keras.layers.Dense(1))
    ours.add(gn.layers.Dense(1))
    _fit_pair(keras, theirs, ours, x, y)         # the term is gone from the loss, as in Keras
    assert len(ours.losses) == len(theirs.losses) == 0


def test_pop_of_a_plain_layer_after_a_block_with_terms_is_still_refused(rng):
    def block():
        class Penalized(gn.Layer):
            def __init__(self):
                super().__init__()
                self.d = gn.layers.Dense(3)

            def call(self, x):
                h = self.d(x)
                self.add_loss(ops.mean(ops.square(h)))
                return h
        return Penalized()
    model = gn.Sequential([gn.Input((4,)), block(), gn.layers.Dense(1)])
    with pytest.raises(ValueError, match="pop: the model has add_loss terms"):
        model.pop()
