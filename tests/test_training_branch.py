"""A ``call`` branching on ``training`` (keras.io's stochastic depth, an ``if training: augment``
block) runs its pass's branch, as Keras 3.15 runs ``call`` with the pass's flag: glassnet draws
such a call twice and a TrainingSwitch gives the draw of the pass's mode (glassnet._training_branch).
Compared with Keras 3.15: predict, the training-mode distributions, histories with drop_prob=0 and
batch-norm statistics; gradients against float64 central differences with the random draw fixed."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from central_differences import numeric as _central      # float64 central differences


def _stochastic_depth(lib, seed=None):
    """keras.io's (ConvNeXt, CCT, Swin...), as written; ``seed`` an int fixes the draw (the same
    values at each pass), for finite differences."""
    class StochasticDepth(lib.layers.Layer):
        def __init__(self, drop_prop, **kwargs):
            super().__init__(**kwargs)
            self.drop_prob = drop_prop
            self.seed_generator = lib.random.SeedGenerator(1337) if seed is None else seed

        def call(self, x, training=None):
            if training:
                keep_prob = 1 - self.drop_prob
                shape = (lib.ops.shape(x)[0],) + (1,) * (len(lib.ops.shape(x)) - 1)
                random_tensor = keep_prob + lib.random.uniform(shape, 0, 1, seed=self.seed_generator)
                random_tensor = lib.ops.floor(random_tensor)
                return (x / keep_prob) * random_tensor
            return x
    return StochasticDepth


def _blocks(lib):
    StochasticDepth = _stochastic_depth(lib)

    class ConvNeXtBlock(lib.layers.Layer):
        """keras.io's ConvNeXt block, small: its DropPath called without training (Keras hands it down)."""
        def __init__(self, dim, drop, **kwargs):
            super().__init__(**kwargs)
            self.dw = lib.layers.DepthwiseConv2D(3, padding="same")
            self.ln = lib.layers.LayerNormalization(epsilon=1e-6)
            self.pw1 = lib.layers.Dense(2 * dim, activation="gelu")
            self.pw2 = lib.layers.Dense(dim)
            self.drop_path = StochasticDepth(drop)

        def call(self, x):
            return x + self.drop_path(self.pw2(self.pw1(self.ln(self.dw(x)))))

    class Augment(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.flip = lib.layers.RandomFlip("horizontal", seed=3)

        def call(self, x, training=None):
            if training:
                x = self.flip(x)
            return x
    return ConvNeXtBlock, Augment


def _convnext(lib, drop, augment=True):
    ConvNeXtBlock, Augment = _blocks(lib)
    inputs = lib.Input((8, 8, 3))
    x = Augment()(inputs) if augment else inputs
    x = lib.layers.Conv2D(8, 2, strides=2)(x)
    x = ConvNeXtBlock(8, drop)(x)
    x = ConvNeXtBlock(8, drop)(x)
    outputs = lib.layers.Dense(3, activation="softmax")(lib.layers.GlobalAveragePooling2D()(x))
    return lib.Model(inputs, outputs, **({"seed": 0} if lib is gn else {}))


def _same_weights(mine, theirs):
    theirs_w = theirs.get_weights()
    assert [w.shape for w in mine.get_weights()] == [w.shape for w in theirs_w]
    mine.set_weights(theirs_w)


def _images(n=32, seed=0):
    return np.random.default_rng(seed).normal(size=(n, 8, 8, 3)).astype("float32")


def test_convnext_like_model_predicts_as_keras_and_trains_its_branch(keras, tmp_path):
    x = _images()
    theirs = _convnext(keras, 0.3)
    with warnings.catch_warnings():
        warnings.simplefilter("error")          # no warning: the branch is drawn
        mine = _convnext(gn, 0.3)
    _same_weights(mine, theirs)
    expected = np.asarray(theirs.predict(x, verbose=0))
    np.testing.assert_allclose(mine.predict(x, verbose=0), expected, atol=1e-5)
    np.testing.assert_allclose(np.asarray(mine(x)), expected, atol=1e-5)
    # training mode: augmented and dropped, so not predict's (Keras' too)
    assert not np.allclose(np.asarray(mine(x, training=True)), expected, atol=1e-4)
    assert not np.allclose(np.asarray(theirs(x, training=True)), expected, atol=1e-4)
    # summary, save and load keep working; the file holds the graph of both draws, no code
    mine.summary(print_fn=lambda *a, **k: None)
    mine.save(tmp_path / "convnext.npz")
    loaded = gn.load_model(tmp_path / "convnext.npz")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), expected, atol=1e-5)
    assert not np.allclose(np.asarray(loaded(x, training=True)), expected, atol=1e-4)


def test_with_drop_prob_zero_histories_equal_keras(keras):
    """drop_prob=0: the training draw is x / 1 * floor(1 + u) = x; fit (which runs it, its gradient
    through the random draw's product) gives Keras' history from the same weights."""
    x = _images(24)
    y = np.eye(3, dtype="float32")[np.arange(24) % 3]
    theirs, mine = _convnext(keras, 0.0, augment=False), _convnext(gn, 0.0, augment=False)
    _same_weights(mine, theirs)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy", metrics=["accuracy"])
    mine.compile(optimizer=gn.optimizers.SGD(0.1), loss="categorical_crossentropy", metrics=["accuracy"])
    kh = theirs.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    gh = mine.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0).history
    np.testing.assert_allclose(gh["loss"], kh["loss"], rtol=1e-5)
    np.testing.assert_allclose(gh["accuracy"], kh["accuracy"])
    for a, b in zip(mine.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=2e-5)


def _drop_only(lib, rate):
    inputs = lib.Input((3,))
    return lib.Model(inputs, _stochastic_depth(lib)(rate)(inputs), **({"seed": 0} if lib is gn else {}))


@pytest.mark.parametrize("rate", [0.25, 0.6])
def test_drop_path_drops_whole_samples_as_keras(keras, rate):
    """In training mode each sample is 0 or x / keep, as a whole, in the fraction ``rate`` (both
    libraries within 4.5 binomial standard deviations); predict is the identity."""
    n = 4000
    x = np.ones((n, 3), np.float32)
    for lib in (keras, gn):
        model = _drop_only(lib, rate)
        out = np.asarray(model(x, training=True))
        assert (out == out[:, :1]).all()
        assert (np.isclose(out, 0) | np.isclose(out, 1 / (1 - rate), rtol=1e-6)).all()
        dropped = (out[:, 0] == 0).mean()
        assert abs(dropped - rate) < 4.5 * np.sqrt(rate * (1 - rate) / n), (lib.__name__, dropped)
        second = np.asarray(model(x, training=True))
        assert not (second == out).all()            # a SeedGenerator: new draws at each pass
        np.testing.assert_array_equal(np.asarray(model.predict(x, verbose=0)), x)


def test_augment_block_flips_in_training_only_as_keras(keras):
    n = 2000
    x = np.tile(np.arange(8, dtype=np.float32).reshape(1, 1, 8, 1), (n, 2, 1, 3))
    for lib in (keras, gn):
        _, Augment = _blocks(lib)
        inputs = lib.Input((2, 8, 3))
        model = lib.Model(inputs, Augment()(inputs))
        np.testing.assert_array_equal(np.asarray(model.predict(x, verbose=0)), x)
        out = np.asarray(model(x, training=True))
        flipped = (out == x[:, :, ::-1]).all(axis=(1, 2, 3))
        assert ((out == x).all(axis=(1, 2, 3)) | flipped).all()
        assert abs(flipped.mean() - 0.5) < 4.5 * np.sqrt(0.25 / n), (lib.__name__, flipped.mean())


def _fixed_model(seed=5):
    """float64, the drop drawn with an int seed: the same mask at every pass."""
    inputs = gn.Input((3,))
    h = gn.layers.Dense(4, activation="tanh")(inputs)
    h = _stochastic_depth(gn, seed=seed)(0.5)(h)
    return gn.Model(inputs, gn.layers.Dense(2)(h), seed=1, dtype="float64")




def test_gradients_through_the_training_branch_match_central_differences():
    rng = np.random.default_rng(2)
    x, w = rng.normal(size=(8, 3)), rng.normal(size=(8, 2))
    model = _fixed_model()
    assert not np.allclose(np.asarray(model(x, training=True)), model.predict(x, verbose=0))   # some dropped

    def loss():
        return float(np.sum(np.asarray(model(x, training=True)) * w))

    xs = x.copy()
    with gn.GradientTape() as tape:
        tape.watch(xs)
        value = ops.sum(model(xs, training=True) * w)
    weights = model.trainable_weights
    grads = tape.gradient(value, weights + [xs])
    assert float(value) == pytest.approx(loss(), rel=1e-12)
    expected = _central(loss, weights + [x])
    for g, e in zip(grads, expected):
        np.testing.assert_allclose(np.asarray(g), e, rtol=1e-6, atol=1e-8)
    # fit's step runs the training draw too: one SGD step moves the weights by -lr * gradient
    y = rng.normal(size=(8, 2))
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(0.5))

    def mse():
        return float(np.mean((np.asarray(model(x, training=True)) - y) ** 2))

    expected = _central(mse, model.trainable_weights)
    before = [a.copy() for a in model.trainable_weights]
    model.train_on_batch(x, y)
    for b, a, e in zip(before, model.trainable_weights, expected):
        np.testing.assert_allclose((b - a) / 0.5, e, rtol=1e-6, atol=1e-8)


def _bn_block(lib):
    class NormBlock(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = lib.layers.Dense(3)
            self.bn = lib.layers.BatchNormalization(momentum=0.5)

        def call(self, x, training=None):
            h = self.bn(self.dense(x), training=training)
            if training:
                h = h * 0.5 + 1.0
            return h
    return NormBlock


def test_batch_norm_in_a_branching_block_updates_once_per_step_as_keras(keras):
    """The inference draw's calls run in inference mode in fit (no second update of the moving
    statistics), and predict updates none: losses and statistics equal Keras'."""
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(16, 4)).astype("float32"), rng.normal(size=(16, 3)).astype("float32")
    made = []
    for lib in (keras, gn):
        inputs = lib.Input((4,))
        model = lib.Model(inputs, lib.layers.Dense(3)(_bn_block(lib)()(inputs)))
        model.compile(loss="mse", optimizer=lib.optimizers.SGD(0.1))
        made.append(model)
    theirs, mine = made
    _same_weights(mine, theirs)
    for step in range(3):
        np.testing.assert_allclose(mine.train_on_batch(x, y), theirs.train_on_batch(x, y), rtol=1e-5)
        np.testing.assert_allclose(mine.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    for a, b in zip(mine.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)


def _subclass(lib):
    StochasticDepth = _stochastic_depth(lib)

    class Net(lib.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.d1 = lib.layers.Dense(6, activation="relu")
            self.sd = StochasticDepth(0.5)
            self.d2 = lib.layers.Dense(2)

        def call(self, x, training=None):
            h = self.d1(x)
            if training:
                h = self.sd(h, training=training) + 0.25
            return self.d2(h)
    return Net


def test_subclass_model_branching_on_training_as_keras(keras, tmp_path):
    x = np.random.default_rng(4).normal(size=(64, 5)).astype("float32")
    theirs, mine = _subclass(keras)(), _subclass(gn)(seed=0)
    theirs(x[:2])
    mine.predict(x[:2], verbose=0)
    _same_weights(mine, theirs)
    expected = np.asarray(theirs.predict(x, verbose=0))
    np.testing.assert_allclose(mine.predict(x, verbose=0), expected, atol=1e-5)
    trained = np.asarray(mine(x, training=True))
    # each sample: d2(h / keep + 0.25) or d2(0.25), h = d1(x)
    d1, d2 = mine.d1, mine.d2
    kept = np.asarray(d2(np.asarray(d1(x)) * 2 + 0.25))
    dropped = np.asarray(d2(np.zeros((64, 6), np.float32) + 0.25))
    is_kept = np.isclose(trained, kept, atol=1e-5).all(axis=1)
    assert (is_kept | np.isclose(trained, dropped, atol=1e-5).all(axis=1)).all()
    assert 0 < is_kept.sum() < 64
    mine.save(tmp_path / "net.npz")
    np.testing.assert_allclose(gn.load_model(tmp_path / "net.npz").predict(x, verbose=0), expected, atol=1e-5)


def test_sequential_holding_a_drop_path_block(keras):
    x = np.random.default_rng(5).normal(size=(400, 3)).astype("float32")
    made = []
    for lib in (keras, gn):
        model = lib.Sequential([lib.Input((3,)), lib.layers.Dense(4), _stochastic_depth(lib)(0.5),
                                lib.layers.Dense(2)])
        made.append(model)
    theirs, mine = made
    _same_weights(mine, theirs)
    np.testing.assert_allclose(mine.predict(x, verbose=0), theirs.predict(x, verbose=0), atol=1e-5)
    bias = mine.layers[-1].params["bias"]
    trained = np.asarray(mine(x, training=True))
    dropped = np.isclose(trained, bias, atol=1e-6).all(axis=1)
    assert abs(dropped.mean() - 0.5) < 4.5 * np.sqrt(0.25 / len(x))


def test_branches_of_different_shapes_are_refused_by_name():
    class Bad(gn.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = gn.layers.Dense(2)

        def call(self, x, training=None):
            return self.dense(x) if training else x

    inputs = gn.Input((3,))
    with pytest.raises(ValueError, match=r"call: output 0 has shape .*training=True.*training=False"):
        Bad()(inputs)


def test_add_loss_in_a_branching_call_is_refused_by_name():
    class Penalised(gn.layers.Layer):
        def call(self, x, training=None):
            if training:
                self.add_loss(ops.sum(x))
            return x

    inputs = gn.Input((3,))
    with pytest.raises(NotImplementedError, match=r"Penalised\.call: branches on training and calls add_loss"):
        gn.Model(inputs, gn.layers.Dense(2)(Penalised()(inputs)))


def test_a_call_whose_source_cannot_be_read_warns_that_it_is_drawn_once():
    namespace = {"gn": gn}
    exec("class Hidden(gn.layers.Layer):\n    def call(self, x, training=None):\n"
         "        return x * 2.0 if training else x\n", namespace)
    inputs = gn.Input((3,))
    with pytest.warns(UserWarning, match=r"Hidden\.call takes a training argument, but its source cannot be read"):
        model = gn.Model(inputs, namespace["Hidden"]()(inputs))
    np.testing.assert_array_equal(model(np.ones((2, 3), np.float32), training=True), np.ones((2, 3)))
