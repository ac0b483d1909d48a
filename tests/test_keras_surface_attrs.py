"""Keras 3.15's state, dtype and build attributes of layers, models and optimizers
(glassnet.layers.keras_state, glassnet._model_state, glassnet.optimizers.keras_variables): beside
Keras 3.15 on the same small models (names, paths, order, shapes, values), and their refusals."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import layers as L


@pytest.fixture(autouse=True)
def _fresh_names():
    yield
    gn.utils.clear_session()


def _flat(tree, prefix=""):
    out = {}
    for key, value in tree.items():
        path = f"{prefix}/{key}" if prefix else key
        out.update(_flat(value, path) if isinstance(value, dict) else {path: np.asarray(value)})
    return out


def _pair(keras, optimizer="adam"):
    """The same Sequential in Keras and glassnet (Keras' initial weights copied), compiled."""
    keras.utils.clear_session()
    k = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, "relu", kernel_regularizer=keras.regularizers.L2(0.01),
                                                                name="d1"),
                          keras.layers.BatchNormalization(name="bn"), keras.layers.Dense(2, name="d2")], name="seq")
    g = gn.Sequential([L.Input((3,)), L.Dense(4, "relu", kernel_regularizer=gn.regularizers.L2(0.01), name="d1"),
                       L.BatchNormalization(name="bn"), L.Dense(2, name="d2")], name="seq")
    g.set_weights(k.get_weights())
    if optimizer == "adam":
        k.compile(optimizer=keras.optimizers.Adam(0.01), loss="mse")
        g.compile(optimizer=gn.optimizers.Adam(0.01, rule="keras"), loss="mse")
    else:
        k.compile(optimizer=keras.optimizers.SGD(0.05, momentum=0.9), loss="mse")
        g.compile(optimizer=gn.optimizers.SGD(0.05, momentum=0.9), loss="mse")
    return k, g


def _data():
    rng = np.random.default_rng(0)
    return rng.normal(size=(16, 3)).astype("float32"), rng.normal(size=(16, 2)).astype("float32")


# -- layers against Keras ---------------------------------------------------------------------

def test_layer_attributes_as_keras(keras):
    k, g = _pair(keras)
    x, y = _data()
    k.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    g.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    for kl, gl in zip(k.layers, g.layers):
        assert gl.path == kl.path
        assert [v.shape for v in gl.variables] == [tuple(v.shape) for v in kl.variables]
        assert len(gl.trainable_variables) == len(kl.trainable_variables)
        assert len(gl.non_trainable_variables) == len(kl.non_trainable_variables)
        for a, b in zip(gl.variables, kl.variables):
            np.testing.assert_allclose(a, b.numpy(), atol=2e-5)
        assert (gl.compute_dtype, gl.variable_dtype, gl.input_dtype) == (kl.compute_dtype, kl.variable_dtype,
                                                                         kl.input_dtype)
        assert gl.get_build_config() == kl.get_build_config()
        ks, gs = {}, {}
        kl.save_own_variables(ks)
        gl.save_own_variables(gs)
        assert sorted(gs) == sorted(ks)
        for key in ks:
            np.testing.assert_allclose(gs[key], np.asarray(ks[key]), atol=2e-5)
    # the weight penalty of d1's kernel: Keras' layer.losses (no activity regularizer here)
    k(x)
    np.testing.assert_allclose([float(v) for v in g.layers[0].losses], [float(v) for v in k.layers[0].losses],
                               rtol=1e-5)
    assert g.layers[1].losses == [] and list(k.layers[1].losses) == []


@pytest.mark.parametrize("name, args, kwargs, shape", [
    ("Dense", (3,), {}, (None, 5)), ("Conv2D", (2, 3), {}, (None, 8, 8, 3)), ("LSTM", (3,), {}, (None, 4, 5)),
    ("Embedding", (10, 3), {}, (None, 4)), ("Flatten", (), {}, (None, 4, 5)), ("Dropout", (0.5,), {}, (None, 5)),
    ("ReLU", (), {}, (None, 5)), ("Concatenate", (), {}, [(None, 4), (None, 2)]),
    ("BatchNormalization", (), {}, (None, 5)),
])
def test_standalone_build_config_path_spec(keras, name, args, kwargs, shape):
    keras.utils.clear_session()
    kl = getattr(keras.layers, name)(*args, name="lay", **kwargs)
    gl = getattr(L, name)(*args, name="lay", **kwargs)
    assert gl.path == kl.path and gl.get_build_config() == kl.get_build_config()     # before build
    kl.build(shape)
    gl.build_from_config({"input_shape": shape})
    if gl.built_when_made:
        # built when made (Keras' too): None, as Keras' inside a model; Keras' explicit build() records
        # the shape and path, which glassnet's does not tell from a model's build
        assert gl.get_build_config() is None and gl.path is None
    else:
        assert gl.get_build_config() == kl.get_build_config()
        assert gl.path == kl.path
    # (Dropout's and LSTM's seed state too, since kattr2)
    assert [v.shape for v in gl.variables] == [tuple(v.shape) for v in kl.variables]
    several = isinstance(shape, list)
    if several:
        spec_k = kl.compute_output_spec([keras.KerasTensor(s) for s in shape])
        spec_g = gl.compute_output_spec([gn.KerasTensor(s) for s in shape])
    else:
        spec_k, spec_g = kl.compute_output_spec(keras.KerasTensor(shape)), gl.compute_output_spec(gn.KerasTensor(shape))
    assert tuple(spec_g.shape) == tuple(spec_k.shape) and spec_g.dtype == spec_k.dtype
    mask = np.array([[True, False]])
    x = np.zeros((1, 2), "float32")
    if name in ("Dense", "Dropout", "ReLU"):     # Keras' default compute_mask: the mask given, unchanged
        assert gl.compute_mask(x, mask) is mask and np.array_equal(np.asarray(kl.compute_mask(x, mask)), mask)


def test_load_own_variables_from_keras(keras):
    keras.utils.clear_session()
    kl = keras.layers.BatchNormalization()
    kl.build((None, 3))
    for v, k in zip(kl.variables, range(4)):
        v.assign(np.arange(3, dtype="float32") + k)
    store = {}
    kl.save_own_variables(store)
    gl = L.BatchNormalization()
    gl.build_from_config(kl.get_build_config())
    gl.load_own_variables({key: np.asarray(value) for key, value in store.items()})
    for a, b in zip(gl.weights, kl.weights):
        np.testing.assert_array_equal(a, b.numpy())


def test_frozen_lists_as_keras(keras):
    k, g = _pair(keras)
    k.layers[1].trainable = False
    g.layers[1].trainable = False
    g.compile(optimizer="adam", loss="mse")         # (a model takes changed flags up at compile, as Keras' fit)
    for kl, gl in zip(k.layers, g.layers):
        assert len(gl.trainable_variables) == len(kl.trainable_variables)
        assert len(gl.non_trainable_variables) == len(kl.non_trainable_variables)
    assert len(g.trainable_variables) == len(k.trainable_variables) == 4
    assert len(g.non_trainable_variables) == len(k.non_trainable_variables) == 4
    assert [v.shape for v in g.non_trainable_variables] == [tuple(v.shape) for v in k.non_trainable_variables]
    assert g.layers[0].losses and g.layers[0].trainable
    g.layers[0].trainable = False
    k.layers[0].trainable = False
    assert g.layers[0].losses == [] and list(k.layers[0].losses) == []


# -- models against Keras ---------------------------------------------------------------------

def test_model_attributes_as_keras(keras):
    k, g = _pair(keras)
    assert (g.compiled, g.run_eagerly, g.jit_compile) == (k.compiled, k.run_eagerly, bool(k.jit_compile))
    assert g.path == k.path and g.get_build_config() == k.get_build_config()
    assert (g.compute_dtype, g.variable_dtype, g.input_dtype, repr(g.dtype_policy)) == \
        (k.compute_dtype, k.variable_dtype, k.input_dtype, repr(k.dtype_policy))
    assert [v.shape for v in g.variables] == [tuple(v.shape) for v in k.variables]
    ks, gs = {}, {}
    k.save_own_variables(ks)
    g.save_own_variables(gs)
    assert gs == ks == {}


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_state_tree_and_optimizer_variables_as_keras(keras, optimizer):
    k, g = _pair(keras, optimizer)
    x, y = _data()
    k.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    g.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    kt, gt = k.get_state_tree("numpy_array"), g.get_state_tree("numpy_array")
    assert set(gt) == set(kt)          # (metrics_variables since stop 53: test_keras_surface_attrs3)
    for group in gt:
        kf, gf = _flat(kt[group]), _flat(gt[group])
        assert list(gf) == list(kf), group                  # paths, in Keras' order
        for path in kf:
            assert gf[path].shape == kf[path].shape and gf[path].dtype == kf[path].dtype, path
            np.testing.assert_allclose(gf[path], kf[path], rtol=1e-4, atol=2e-5, err_msg=path)
    # optimizer.variables: Keras' order, shapes, dtypes and values
    kv, gv = k.optimizer.variables, g.optimizer.variables
    assert [(v.shape, v.dtype) for v in gv] == [(tuple(v.shape), np.dtype(v.dtype.name if hasattr(v.dtype, "name")
                                                                           else v.dtype)) for v in kv]
    for a, b in zip(gv, kv):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-4, atol=2e-5)


def test_set_state_tree_from_keras(keras):
    """Keras' tree of a further-trained model, set into glassnet's: weights and optimizer state as
    Keras', and the next epoch on both agrees."""
    k, g = _pair(keras)
    x, y = _data()
    k.fit(x, y, epochs=3, batch_size=8, shuffle=False, verbose=0)
    tree = k.get_state_tree("numpy_array")
    tree.pop("metrics_variables")
    g.set_state_tree(tree)
    for a, b in zip(g.get_weights(), k.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert g.optimizer.iterations == int(k.optimizer.iterations.numpy())
    k.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    g.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(g.get_weights(), k.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)


def test_optimizer_build_and_set_weights_from_keras(keras):
    k, g = _pair(keras)
    k.optimizer.build(k.trainable_variables)
    g.optimizer.build(g.trainable_variables)
    assert g.optimizer.built and k.optimizer.built
    assert [v.shape for v in g.optimizer.variables] == [tuple(v.shape) for v in k.optimizer.variables]
    assert all(not np.any(v) for v in g.optimizer.variables[2:])          # zeros until the first step
    x, y = _data()
    k.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    g.optimizer.set_weights([np.asarray(v) for v in k.optimizer.variables])
    g.set_weights(k.get_weights())
    for a, b in zip(g.optimizer.variables, k.optimizer.variables):
        np.testing.assert_allclose(a, np.asarray(b), rtol=1e-6)
    k.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    g.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(g.get_weights(), k.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)


def test_functional_model_as_keras(keras):
    keras.utils.clear_session()
    ki = keras.Input((3,), name="x")
    km = keras.Model(ki, keras.layers.Dense(2, name="out")(keras.layers.Dense(4, name="h")(ki)), name="fun")
    gi = gn.Input((3,), name="x")
    gm = gn.Model(gi, L.Dense(2, name="out")(L.Dense(4, name="h")(gi)), name="fun")
    assert [layer.path for layer in gm.layers] == [layer.path for layer in km.layers[1:]] == ["h", "out"]
    assert gm.path == km.path and gm.get_build_config() == km.get_build_config()
    km.compile("adam", "mse")
    gm.compile(optimizer="adam", loss="mse")
    assert list(_flat(gm.get_state_tree()["trainable_variables"])) == \
        list(_flat(km.get_state_tree()["trainable_variables"]))


# -- without Keras --------------------------------------------------------------------------

class _Noisy(gn.Layer):
    """A layer holding a SeedGenerator (Keras' pattern for random layers of one's own)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = gn.random.SeedGenerator(7)

    def build(self, input_shape):
        self.add_weight("w", input_shape, "ones")

    def forward(self, x, training=False):
        return x * self.params["w"]

    def backward(self, grad_output):
        return grad_output


def test_seed_generator_state_is_a_variable():
    layer = _Noisy()
    layer.build((3,))
    assert len(layer.weights) == 1 and len(layer.variables) == 2
    assert layer.variables[1] is layer.seed_generator.state
    assert layer.non_trainable_variables[0] is layer.seed_generator.state
    model = gn.Sequential([L.Input((3,)), _Noisy(name="noisy")])
    tree = model.get_state_tree()
    assert "seed_generator_state" in next(iter(tree["non_trainable_variables"].values()))


def test_variables_are_the_live_weights():
    model = gn.Sequential([L.Input((3,)), L.Dense(2)], seed=0)
    model.compile(optimizer="sgd", loss="mse")
    layer = model.layers[0]
    assert all(a is b for a, b in zip(layer.variables, layer.weights))
    assert all(a is b for a, b in zip(model.trainable_variables, model.trainable_weights))
    tree = model.get_state_tree()
    leaf = _flat(tree["trainable_variables"])
    assert set(leaf) == {"sequential/dense/kernel", "sequential/dense/bias"}
    assert np.shares_memory(tree["trainable_variables"]["sequential"]["dense"]["kernel"], layer.params["kernel"])


def test_refusals():
    layer = L.Dense(2)
    with pytest.raises(ValueError, match="load_own_variables: expected 0 variables"):
        layer.load_own_variables({"0": np.zeros((3, 2))})
    layer.build_from_config({"input_shape": (None, 3)})
    with pytest.raises(ValueError, match="expected 2 variables"):
        layer.load_own_variables({"0": np.zeros((3, 2))})
    with pytest.raises(ValueError, match="shape"):
        layer.load_own_variables({"0": np.zeros((4, 2)), "1": np.zeros(2)})
    with pytest.raises(ValueError, match="batch axis first"):
        L.Dense(2).build_from_config({"input_shape": 3})
    with pytest.raises(TypeError, match="compute_output_spec"):
        layer.compute_output_spec(3)
    model = gn.Sequential([L.Input((3,)), L.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    with pytest.raises(ValueError, match="metrics_variables: no metric variable of this model has the path 'los/total'"):
        model.set_state_tree({"metrics_variables": {"los": {"total": np.zeros(())}}})
    with pytest.raises(ValueError, match="no variable of this model has the path"):
        model.set_state_tree({"trainable_variables": {"sequential": {"dense": {"kern": np.zeros((3, 2))}}}})
    with pytest.raises(ValueError, match="has shape"):
        model.set_state_tree({"trainable_variables": {"sequential": {"dense": {"kernel": np.zeros((2, 2))}}}})
    with pytest.raises(ValueError, match="value_format"):
        model.get_state_tree("torch")
    with pytest.raises(ValueError, match="trainable variables"):
        model.optimizer.build([np.zeros((3, 2))])
    with pytest.raises(ValueError, match="compile a model"):
        gn.optimizers.Adam().build([])
    with pytest.raises(ValueError, match="set_weights"):
        model.optimizer.set_weights([np.zeros(3)])
    with pytest.raises(ValueError, match="load_own_variables"):
        model.load_own_variables({"0": np.zeros(1)})
    with pytest.raises(TypeError, match="run_eagerly"):
        model.run_eagerly = "yes"
    model.run_eagerly, model.jit_compile = True, "auto"
    assert model.run_eagerly is True and model.jit_compile is False


def test_optimizer_variables_before_and_after_steps():
    model = gn.Sequential([L.Input((3,)), L.Dense(2)], seed=0)
    opt = gn.optimizers.SGD(0.1, momentum=0.9)
    model.compile(optimizer=opt, loss="mse")
    assert [v.shape for v in opt.variables] == [(), ()] and not opt.built
    x, y = np.ones((4, 3), "float32"), np.zeros((4, 2), "float32")
    model.train_on_batch(x, y)
    assert opt.built and opt.variables[0] == 1 and np.isclose(opt.variables[1], 0.1)
    kernel_velocity = opt.variables[2]
    # Keras' velocity after one step from zero: -lr * gradient (glassnet's buffer holds the gradient)
    np.testing.assert_allclose(kernel_velocity, -0.1 * model.layers[0].grads["kernel"], rtol=1e-6)
    saved = [v.copy() for v in opt.variables]
    model.train_on_batch(x, y)
    opt.set_weights(saved)
    for a, b in zip(opt.variables, saved):
        np.testing.assert_allclose(a, b, rtol=1e-6)
    opt.learning_rate = 0.2
    assert np.isclose(opt.variables[1], 0.2)
    opt.iterations = 5
    assert opt.variables[0] == 5


@pytest.mark.parametrize("name, kwargs", [
    ("RMSprop", {"momentum": 0.5, "centered": True}), ("Adagrad", {}), ("Adadelta", {}), ("Adamax", {}),
    ("Lion", {}), ("Ftrl", {}), ("Lamb", {}), ("Adam", {"amsgrad": True}), ("AdamW", {}),
])
def test_optimizer_variable_paths_as_keras(keras, name, kwargs):
    """Each optimizer's variables after a step: Keras 3.15's paths, order, shapes and dtypes (values
    follow each optimizer's own rule, compared above for Adam and SGD)."""
    keras.utils.clear_session()
    k = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")], name="s")
    g = gn.Sequential([L.Input((3,)), L.Dense(2, name="d")], name="s")
    k.compile(optimizer=getattr(keras.optimizers, name)(**kwargs), loss="mse")
    g.compile(optimizer=getattr(gn.optimizers, name)(**kwargs), loss="mse")
    x, y = _data()
    k.train_on_batch(x, y)
    g.train_on_batch(x, y)
    kf = _flat(k.get_state_tree("numpy_array")["optimizer_variables"])
    gf = _flat(g.get_state_tree("numpy_array")["optimizer_variables"])
    assert list(gf) == list(kf)
    assert [(v.shape, v.dtype) for v in gf.values()] == [(v.shape, v.dtype) for v in kf.values()]


def test_nested_model_paths_as_keras(keras):
    """A Sequential nested in a functional model: Keras' variable paths in the state tree."""
    keras.utils.clear_session()
    kin = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="d")], name="inner")
    ki = keras.Input((3,))
    km = keras.Model(ki, keras.layers.Dense(1, name="head")(kin(ki)), name="outer")
    gin = gn.Sequential([L.Input((3,)), L.Dense(4, name="d")], name="inner")
    gi = gn.Input((3,))
    gm = gn.Model(gi, L.Dense(1, name="head")(gin(gi)), name="outer")
    km.compile("sgd", "mse")        # (Keras' get_state_tree reads the optimizer)
    gm.compile(optimizer="sgd", loss="mse")
    for group in ("trainable_variables", "non_trainable_variables"):
        assert list(_flat(gm.get_state_tree()[group])) == list(_flat(km.get_state_tree()[group]))
    assert [layer.path for layer in gin.layers] == [layer.path for layer in kin.layers]


def test_float64_names():
    model = gn.Sequential([L.Input((3,)), L.Dense(2)], dtype="float64")
    layer = model.layers[0]
    assert (model.compute_dtype, model.variable_dtype, model.input_dtype) == ("float64",) * 3
    assert (layer.compute_dtype, layer.variable_dtype, layer.input_dtype) == ("float64",) * 3
    assert layer.compute_output_spec(gn.KerasTensor((None, 3))).dtype == "float64"
    assert all(v.dtype == np.float64 for v in model.variables)
