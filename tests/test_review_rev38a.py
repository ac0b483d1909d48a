"""Review of the conv ops and of add_loss model files (a seeded fuzz against Keras 3.15): a subclass
whose terms read a call made for them alone beside a nested block's term loads back; the same term
added twice counts twice, as in Keras; a Sequential's lazily drawn block lists a nested block's terms
after its own, as Keras; a hand-made table of terms that would be walked 2 ** n times is refused; a
1-D max_pool of integers keeps their dtype, as Keras'."""
import json
import time

import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from glassnet.errors import ModelFileError


def _nested(base, L, o):
    """A subclass holding a block with a term, and a term of its own on a call made for it alone."""
    class Inner(base):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(3)

        def call(self, x):
            h = self.d(x)
            self.add_loss(0.05 * o.mean(o.square(h)))
            return h

    class Net(base):
        def __init__(self):
            super().__init__()
            self.hidden, self.side, self.out = L.Dense(4, activation="tanh"), L.Dense(3), L.Dense(1)
            self.inner = Inner()

        def call(self, x):
            h = o.concatenate([self.hidden(x), self.inner(x)], axis=-1)
            self.add_loss(0.01 * o.sum(o.square(self.side(x))))
            return self.out(h)
    return Net()


def test_subclass_with_nested_block_term_and_a_term_alone_call_saves_and_resumes(rng, tmp_path):
    # the file listed the calls in the draw's order, the model read back walked its terms (in Keras'
    # order, its own first) to another order and refused its own file ("calls are not in the order")
    x, y = rng.normal(size=(16, 3)).astype(np.float32), rng.normal(size=(16, 1)).astype(np.float32)
    model = _nested(gn.Model, gn.layers, ops)
    model.compile(optimizer="adam", loss="mse")
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    model(x)
    loaded(x)
    assert len(loaded.losses) == len(model.losses) == 2
    for a, b in zip(loaded.losses, model.losses):
        np.testing.assert_array_equal(a, b)
    assert model.fit(x, y, epochs=1, batch_size=8, verbose=0).history == \
        loaded.fit(x, y, epochs=1, batch_size=8, verbose=0).history
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)
    for copy in (gn.models.clone_model(model), gn.Model.from_config(model.get_config()),
                 gn.models.model_from_json(model.to_json())):
        copy.set_weights(model.get_weights())
        np.testing.assert_array_equal(copy.predict(x, verbose=0), model.predict(x, verbose=0))


def test_nested_block_model_losses_match_keras(keras, rng):
    x = rng.normal(size=(10, 3)).astype(np.float32)
    keras.utils.set_random_seed(0)
    theirs, ours = _nested(keras.Model, keras.layers, keras.ops), _nested(gn.Model, gn.layers, ops)
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    copy = gn.models.model_from_json(ours.to_json())
    copy.set_weights(ours.get_weights())
    theirs(x)
    copy(x)
    assert len(copy.losses) == len(theirs.losses) == 2
    for a, b in zip(copy.losses, theirs.losses):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-7)


def _twice(base, L, o):
    class Net(base):
        def __init__(self):
            super().__init__()
            self.d, self.out = L.Dense(4, activation="tanh"), L.Dense(1)

        def call(self, x):
            h = self.d(x)
            term = o.mean(o.square(h))
            self.add_loss(term)
            self.add_loss(term)         # Keras lists it twice and sums both
            self.add_loss([0.5 * term, 0.5 * term])
            return self.out(h)
    return Net()


def test_same_term_added_twice_counts_twice_as_keras(keras, rng, tmp_path):
    x, y = rng.normal(size=(12, 3)).astype(np.float32), rng.normal(size=(12, 1)).astype(np.float32)
    keras.utils.set_random_seed(0)
    theirs, ours = _twice(keras.Model, keras.layers, keras.ops), _twice(gn.Model, gn.layers, ops)
    theirs(x)
    ours(x)
    ours.set_weights(theirs.get_weights())
    theirs(x)
    ours(x)
    assert len(ours.losses) == len(theirs.losses) == 4
    for a, b in zip(ours.losses, theirs.losses):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5)
    theirs.compile(optimizer=keras.optimizers.SGD(0.1), loss="mse")
    ours.compile(optimizer=gn.optimizers.SGD(learning_rate=0.1), loss="mse")
    np.testing.assert_allclose(ours.evaluate(x, y, verbose=0), theirs.evaluate(x, y, verbose=0), rtol=1e-5)
    k = theirs.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    g = ours.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(g, k, rtol=1e-5)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, atol=1e-5)
    ours.save(tmp_path / "m.npz")           # and so does the model read back
    loaded = gn.load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.evaluate(x, y, verbose=0), ours.evaluate(x, y, verbose=0))


def _outer_block(base, L, o):
    class Inner(base):
        def __init__(self):
            super().__init__()
            self.d = L.Dense(3)

        def call(self, x):
            h = self.d(x)
            self.add_loss(0.05 * o.mean(o.square(h)))
            return h

    class Block(base):
        def __init__(self):
            super().__init__()
            self.inner, self.d, self.aux = Inner(), L.Dense(4, activation="tanh"), L.Dense(2)

        def call(self, x):
            h = self.d(self.inner(x))
            self.add_loss(0.01 * o.sum(h))
            self.add_loss(o.mean(o.square(self.aux(x))))
            return h
    return Block()


def test_lazy_sequential_block_lists_its_terms_in_keras_order(keras, rng):
    # Keras' model.losses: the block's own terms, then its sub-block's (glassnet listed the
    # sub-block's first, in the order they were drawn)
    x = rng.normal(size=(10, 3)).astype(np.float32)
    keras.utils.set_random_seed(0)
    theirs = keras.Sequential([keras.Input((3,)), keras.layers.Dense(3), _outer_block(keras.Model, keras.layers,
                                                                                     keras.ops), keras.layers.Dense(1)])
    ours = gn.Sequential([gn.layers.Dense(3), _outer_block(gn.Model, gn.layers, ops), gn.layers.Dense(1)])
    ours(x)
    ours.set_weights(theirs.get_weights())
    theirs(x)
    ours(x)
    assert len(ours.losses) == len(theirs.losses) == 3
    for a, b in zip(ours.losses, theirs.losses):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-5, atol=1e-7)


def test_crafted_terms_walked_exponentially_refused_at_once(rng):
    # each node adds the one before to itself: 18 nodes, 2 ** 17 leaves walked per batch (40 nodes
    # would never finish loading)
    model = _twice(gn.Model, gn.layers, ops)
    model(rng.normal(size=(4, 3)).astype(np.float32))
    spec = json.loads(model.to_json())
    call = spec["config"]["added_losses"]["nodes"][0]["call"]
    nodes = [{"op": "mean", "call": call}] + [{"op": "add", "operands": [k, k]} for k in range(17)]
    spec["config"]["added_losses"] = {"nodes": nodes, "terms": [17]}
    start = time.perf_counter()
    with pytest.raises(ModelFileError, match="added_losses' node 16 is a term of 131071 operations"):
        gn.models.model_from_json(json.dumps(spec))
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("dtype", ["int8", "uint8", "int16", "int32", "int64"])
def test_max_pool_1d_of_integers_keeps_their_dtype_as_keras(dtype, rng, keras):
    x = rng.integers(0, 100, (2, 9, 3)).astype(dtype)
    for args in ((2,), (3, 1, "same"), (2, 2, "valid", "channels_first")):
        ours, theirs = ops.max_pool(x, *args), np.asarray(keras.ops.max_pool(x, *args))
        assert ours.dtype == theirs.dtype
        np.testing.assert_array_equal(ours, theirs)
    # 2-D: TensorFlow gives float32, as before
    x2 = rng.integers(0, 100, (2, 6, 5, 3)).astype(dtype)
    assert ops.max_pool(x2, 2).dtype == np.asarray(keras.ops.max_pool(x2, 2)).dtype == np.float32


def test_3d_pools_same_with_pool_below_strides_are_the_windows(rng, torch):
    # TensorFlow's (Keras 3.15's) MaxPool3D/AvgPool3D give other values here; torch's pools agree
    x = rng.standard_normal((2, 5, 6, 7, 2))
    t = torch.tensor(np.moveaxis(x, -1, 1))
    ours = ops.max_pool(x, (1, 2, 1), (2, 3, 2), "same")
    theirs = torch.nn.functional.max_pool3d(t, (1, 2, 1), (2, 3, 2), ceil_mode=True)
    np.testing.assert_allclose(ours, np.moveaxis(theirs.numpy(), 1, -1), rtol=1e-12)
    ours = ops.average_pool(x, 1, 2, "same")
    np.testing.assert_allclose(ours, x[:, ::2, ::2, ::2], rtol=1e-12)
