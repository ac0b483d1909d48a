"""Review of MultiOptimizer's state over model files: paths, shared and late-added sub-optimizers."""
import numpy as np

import glassnet as gn
from glassnet import optimizers as O


def _data(n=32):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 5)).astype("float32"), rng.normal(size=(n, 1)).astype("float32")


def _glassnet_model():
    enc = gn.Sequential([gn.Input((5,)), gn.layers.Dense(8, activation="tanh"),
                         gn.layers.Dense(4, activation="tanh")], name="encoder")
    i = gn.Input((5,))
    return gn.Model(i, gn.layers.Dense(1, name="head")(enc(i)))


def _keras_model(keras):
    enc = keras.Sequential([keras.Input((5,)), keras.layers.Dense(8, activation="tanh"),
                            keras.layers.Dense(4, activation="tanh")], name="encoder")
    i = keras.Input((5,))
    return keras.Model(i, keras.layers.Dense(1, name="head")(enc(i)))


def _multi(module):
    return module.MultiOptimizer(module.OptimizerMap(module.SGD(0.0625, momentum=0.9),
                                                     {"encoder/.*": module.Adam(0.0078125, epsilon=1e-12)}))


def _fit(model, epochs):
    X, y = _data()
    model.fit(X, y, epochs=epochs, batch_size=8, shuffle=False, verbose=0)


def test_model_saved_before_training_keeps_its_patterns(keras, tmp_path):
    # the loaded model's encoder weights are "dense/kernel": the file must say they were "encoder/..."
    keras.backend.clear_session()
    km, gm = _keras_model(keras), _glassnet_model()
    gm.set_weights(km.get_weights())
    km.compile(optimizer=_multi(keras.optimizers), loss="mse")
    gm.compile(optimizer=_multi(O), loss="mse")
    gm.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    _fit(km, 2)
    _fit(loaded, 2)
    for a, b in zip(km.get_weights(), loaded.get_weights()):
        np.testing.assert_allclose(b, a, atol=1e-5, rtol=1e-5)
    assert [o.iterations for o in loaded.optimizer.optimizers] == [int(o.iterations) for o in km.optimizer.optimizers]


def test_loaded_model_with_a_layer_frozen_keeps_its_patterns(tmp_path):
    a = _glassnet_model()
    a.compile(optimizer=_multi(O), loss="mse")
    _fit(a, 1)
    a.save(tmp_path / "m.npz")
    b = gn.load_model(tmp_path / "m.npz")
    for model in (a, b):
        model.get_layer("head").trainable = False
        _fit(model, 1)
    # the freeze keeps each sub-optimizer's count (glassnet._state_carry, as Keras' per-variable slots):
    # Adam, the encoder's, 4 batches an epoch for 2 epochs; SGD, the head's, the first epoch's 4 only
    assert [o.iterations for o in b.optimizer.optimizers] == [o.iterations for o in a.optimizer.optimizers] == [8, 4]
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wb, wa)


def _resumes_exactly(make, tmp_path):
    a, b = _glassnet_model(), _glassnet_model()
    b.set_weights(a.get_weights())
    a.compile(optimizer=make(), loss="mse")
    b.compile(optimizer=make(), loss="mse")
    _fit(a, 4)
    _fit(b, 2)
    b.save(tmp_path / "m.npz")
    c = gn.load_model(tmp_path / "m.npz")
    assert [type(o) for o in c.optimizer.optimizers] == [type(o) for o in b.optimizer.optimizers]
    _fit(c, 2)
    assert [o.iterations for o in c.optimizer.optimizers] == [o.iterations for o in a.optimizer.optimizers]
    for wa, wc in zip(a.get_weights(), c.get_weights()):
        np.testing.assert_array_equal(wc, wa)


def test_one_optimizer_under_two_patterns_resumes_as_one(tmp_path):
    def make():
        adam = O.Adam(0.0078125)
        return O.MultiOptimizer(O.OptimizerMap(O.SGD(0.0625, momentum=0.9), {"encoder/.*": adam, "head/.*": adam}))
    _resumes_exactly(make, tmp_path)


def test_default_also_under_a_pattern_resumes_as_one(tmp_path):
    def make():
        adam = O.Adam(0.0078125)
        return O.MultiOptimizer(O.OptimizerMap(adam, {"head/.*": adam, "encoder/.*": O.SGD(0.0625, momentum=0.9)}))
    _resumes_exactly(make, tmp_path)


def test_pattern_added_after_the_multi_optimizer_resumes(tmp_path):
    def make():
        optimizer_map = O.OptimizerMap(O.SGD(0.0625, momentum=0.9), {"encoder/.*": O.Adam(0.0078125)})
        optimizer = O.MultiOptimizer(optimizer_map)
        optimizer_map["head/.*"] = O.RMSprop(0.001)     # (after the default among .optimizers)
        return optimizer
    _resumes_exactly(make, tmp_path)
