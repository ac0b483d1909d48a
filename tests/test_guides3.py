"""Keras guide idioms glassnet refused or ignored (session 47, guides3): a ``gn.Variable`` set as an
attribute of a block (tracked as Keras 3 tracks it), a user's ``get_compile_config`` /
``compile_from_config`` honoured by save and load, and functional models with nested output lists.
Each compared with Keras 3.15 where Keras is installed."""
import warnings

import numpy as np
import pytest

import glassnet as gn
from glassnet import ops

from test_review_guides2 import _custom_compile_class     # the saving guide's ModelWithCustomCompile


# -- a Variable set as an attribute: tracked -----------------------------------------------------

def _variable_block(lib, lib_ops):
    """A block mixing ``lib.Variable`` attributes (in ``__init__`` and ``build``, trainable and not)
    with ``add_weight`` ones, so that the order of its weights is Keras' tracking order."""
    class Mixed(lib.layers.Layer):
        def __init__(self, units=3, **kwargs):
            super().__init__(**kwargs)
            self.units = units
            self.c = lib.Variable(np.full((units,), 0.5, "float32"), name="c")

        def build(self, input_shape):
            self.a = self.add_weight(shape=(input_shape[-1], self.units), name="a")
            self.w = lib.Variable(np.ones((input_shape[-1], self.units), "float32"), name="w")
            self.b = lib.Variable(np.full((self.units,), 0.25, "float32"), trainable=False, name="b")
            self.z = self.add_weight(shape=(self.units,), name="z", initializer="ones", trainable=False)
            self.d = self.add_weight(shape=(self.units,), name="d", initializer="zeros")

        def call(self, x):
            h = lib_ops.matmul(x, self.w) + self.b + self.c
            return lib_ops.tanh(h + lib_ops.matmul(x, self.a) + self.d) * self.z
    return Mixed


def _variable_model(lib, lib_ops, block_class=None, name="mixed"):
    """``Input((4,))``, a block of ``block_class`` (``_variable_block``'s by default), ``Dense(2)``."""
    block = (block_class or _variable_block(lib, lib_ops))(name=name)
    model = lib.Sequential([lib.Input((4,)), block, lib.layers.Dense(2)])
    model.block = block
    return model


def _data():
    r = np.random.default_rng(0)
    return r.normal(size=(16, 4)).astype("float32"), r.normal(size=(16, 2)).astype("float32")


def test_variables_set_as_attributes_are_weights_in_keras_order(keras):
    """Keras' ``weights``: the trainable variables in the order they were tracked (c in __init__,
    then a, w, d in build), then the others (b, z); glassnet listed the add_weight ones only."""
    kmodel, model = _variable_model(keras, keras.ops), _variable_model(gn, ops)
    kinds = [(tuple(w.shape), bool(w.trainable)) for w in kmodel.weights]
    trained = {id(a) for a in model.trainable_weights}
    assert [(w.shape, id(w) in trained) for w in model.weights] == kinds
    assert [w.shape for w in model.trainable_weights] == [tuple(w.shape) for w in kmodel.trainable_weights]
    assert [w.shape for w in model.non_trainable_weights] == [tuple(w.shape) for w in kmodel.non_trainable_weights]
    assert model.count_params() == kmodel.count_params()


def test_variables_set_as_attributes_train_as_keras(keras):
    """The same weights, 3 epochs of SGD with momentum: losses and weights as Keras 3.15's; the
    non-trainable variable never moves; the variable objects follow the trained values."""
    x, y = _data()
    kmodel, model = _variable_model(keras, keras.ops), _variable_model(gn, ops)
    start = [np.asarray(w) for w in kmodel.get_weights()]
    model.set_weights(start)
    histories = []
    for m in (kmodel, model):
        m.compile(optimizer=m.__module__.startswith("keras") and keras.optimizers.SGD(0.05, momentum=0.9)
                  or gn.optimizers.SGD(0.05, momentum=0.9), loss="mse")
        histories.append(m.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0).history["loss"])
    np.testing.assert_allclose(histories[1], histories[0], rtol=1e-5)
    for ours, theirs in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=1e-6)
    block = model.block
    np.testing.assert_array_equal(block.b.numpy(), start[4])        # b: not trained
    assert not np.allclose(block.w.numpy(), 1.0)                    # w: trained
    np.testing.assert_allclose(block.w.numpy(), np.asarray(kmodel.block.w), rtol=1e-5, atol=1e-6)


def test_the_variable_object_is_a_view_of_the_weight():
    """A reference to the variable kept before it became a weight reads and writes that weight."""
    held = {}

    class Scale(gn.layers.Layer):
        def build(self, input_shape):
            held["v"] = self.v = gn.Variable(np.full(input_shape[-1:], 2.0, "float32"), name="v")

        def call(self, x):
            return x * self.v
    block = Scale()
    model = gn.Sequential([gn.Input((3,)), block])
    x = np.ones((2, 3), "float32")
    np.testing.assert_array_equal(model.predict(x, verbose=0), 2.0)
    # the attribute, the block's weight handle now, reads as its value outside a drawn call (a
    # train_step's arithmetic), as the variable did
    np.testing.assert_array_equal(block.v * 2.0, 4.0)
    np.testing.assert_array_equal(1.0 - np.asarray(block.v), -1.0)
    held["v"].assign(np.array([1.0, 3.0, 5.0], "float32"))
    np.testing.assert_array_equal(model.predict(x, verbose=0)[0], [1.0, 3.0, 5.0])
    assert isinstance(held["v"], gn.Variable) and held["v"].trainable
    with pytest.raises(TypeError, match="trainable: the block 'scale' holds this variable as a weight"):
        held["v"].trainable = False


def test_two_unnamed_variables_get_names_of_their_own():
    class Two(gn.layers.Layer):
        def build(self, input_shape):
            self.p = gn.Variable(np.ones(input_shape[-1:], "float32"))
            self.q = gn.Variable(np.zeros(input_shape[-1:], "float32"))

        def call(self, x):
            return x * self.p + self.q
    model = gn.Sequential([gn.Input((2,)), Two()])
    model.build((None, 2))
    assert model.layers[0].names() == ["variable", "variable_1"]


def test_a_float64_model_checks_the_variables_gradients():
    """Finite differences in float64 through the nodes reading the adopted variables."""
    model = gn.Sequential([gn.Input((4,)), _variable_block(gn, ops)(), gn.layers.Dense(2)], seed=0, dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    x, y = _data()
    report = gn.gradcheck.check_model(model, x.astype("float64"), y.astype("float64"))
    assert report["max_error"] < 1e-7 and not report["skipped"], report
    assert {"mixed/c", "mixed/w"} <= set(report["errors"]), report    # (the variables' gradients checked)


def test_variables_set_as_attributes_are_saved(tmp_path):
    """glassnet's file keeps the adopted weights (a block's call is refused by name in .keras files)."""
    x, y = _data()
    model = _variable_model(gn, ops)
    model.compile(loss="mse", optimizer="adam")
    model.fit(x, y, epochs=2, batch_size=8, verbose=0)
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = gn.load_model(path)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert [w.shape for w in loaded.get_weights()] == [w.shape for w in model.get_weights()]


# -- get_compile_config / compile_from_config of one's own: honoured by save and load -------------



def test_a_compile_config_of_ones_own_is_saved_and_compiles_the_loaded_model(keras, tmp_path):
    """glassnet's load_model compiled with glassnet's compile(loss=...), which this compile does not
    take (ModelFileError); Keras 3.15 saves get_compile_config()'s dict and hands it to
    compile_from_config. Now glassnet does: the same dict as Keras', the loaded model compiled by
    it, evaluating and training on as the saved one, as Keras' does."""
    r = np.random.default_rng(0)
    x, y = r.random((16, 8)).astype("float32"), r.random((16, 4)).astype("float32")
    received, results, start = {"keras": [], "gn": []}, {}, None
    for name, lib, suffix in (("keras", keras, ".keras"), ("gn", gn, ".npz")):
        cls, loss_fn = _custom_compile_class(lib, lib.ops, received[name])
        model = cls()
        model.compile(optimizer="SGD", loss_fn=loss_fn, metrics=["mae", "mse"])
        model(x[:1])
        if start is None:       # (Keras' first: glassnet starts from its weights)
            start = [np.asarray(w) for w in model.get_weights()]
        else:
            model.set_weights(start)
        model.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
        model.save(tmp_path / f"m{suffix}")
        loaded = lib.saving.load_model(tmp_path / f"m{suffix}")
        assert type(loaded) is cls and loaded.loss_fn is loss_fn and loaded.loss_metrics == ["mae", "mse"]
        assert int(np.asarray(loaded.optimizer.iterations)) == 2      # the optimizer's state came too
        before = model.evaluate(x, y, verbose=0)
        np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), before, rtol=1e-6)
        loaded.fit(x, y, epochs=1, batch_size=8, shuffle=False, verbose=0)
        results[name] = (before, loaded.evaluate(x, y, verbose=0))
    assert received["gn"] == received["keras"] and len(received["gn"]) == 1
    np.testing.assert_allclose(results["gn"], results["keras"], rtol=1e-5)


def test_compile_from_config_of_ones_own_alone_gets_glassnets_settings(tmp_path):
    """A class overriding compile_from_config only gets the model's get_compile_config() (Keras
    hands it its default compile config); load_model(compile=False) calls neither."""
    received = []

    class Recompiled(gn.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = gn.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

        def compile_from_config(self, config):
            received.append(config)
            super().compile_from_config(config)
    gn.saving.register_keras_serializable(package="guides3")(Recompiled)
    model = Recompiled()
    model.compile(loss="mae", optimizer=gn.optimizers.Adam(0.01), metrics=["mse"])
    model.build((None, 3))
    model.save(tmp_path / "m.npz")
    assert gn.load_model(tmp_path / "m.npz", compile=False).loss is None and not received
    loaded = gn.load_model(tmp_path / "m.npz")
    assert len(received) == 1 and received[0]["loss"] == model.get_compile_config()["loss"]
    assert loaded.get_compile_config() == model.get_compile_config()


def test_a_compile_config_of_ones_own_that_is_no_json_is_refused_by_name(tmp_path):
    class Opaque(gn.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.dense = gn.layers.Dense(2)

        def call(self, x):
            return self.dense(x)

        def get_compile_config(self):
            return {"thing": object()}
    model = Opaque()
    model.compile(loss="mse", optimizer="sgd")
    model.build((None, 3))
    with pytest.raises(TypeError, match=r"Opaque.get_compile_config\(\): a value does not serialize to JSON .*cannot serialize <object"):
        model.save(tmp_path / "m.npz")


# -- outputs as nested lists: Model(x, [a, [b, c], d]) ---------------------------------------------

def _nested_model(lib):
    x = lib.Input((4,), name="x")
    a = lib.layers.Dense(1, name="a")(x)
    h = lib.layers.Dense(5, activation="tanh", name="h")(x)
    b = lib.layers.Dense(2, name="b")(h)
    c = lib.layers.Dense(3, activation="softmax", name="c")(h)
    d = lib.layers.Dense(1, name="d")(x)
    return lib.Model(x, [a, [b, c], d])


def _nested_data(n=24):
    r = np.random.default_rng(3)
    x = r.normal(size=(n, 4)).astype("float32")
    y = [r.normal(size=(n, 1)).astype("float32"),
         [r.normal(size=(n, 2)).astype("float32"), np.eye(3, dtype="float32")[r.integers(0, 3, n)]],
         r.normal(size=(n, 1)).astype("float32")]
    return x, y


def _flat(value):
    return [a for part in value for a in _flat(part)] if isinstance(value, (list, tuple)) else [np.asarray(value)]


def test_nested_outputs_predict_nested_lists_as_keras(keras):
    kmodel, model = _nested_model(keras), _nested_model(gn)
    model.set_weights([np.asarray(w) for w in kmodel.get_weights()])
    x, _ = _nested_data()
    want, got = kmodel.predict(x, verbose=0), model.predict(x, verbose=0)
    assert isinstance(got, list) and len(got) == 3 and isinstance(got[1], list) and len(got[1]) == 2
    for ours, theirs in zip(_flat(got), _flat(want)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert model.output_names == list(kmodel.output_names) == ["a", "b", "c", "d"]
    assert len(model.outputs) == 4 and isinstance(model.output[1], list)
    assert isinstance(model(x)[1], list)
    inner = gn.Input((4,))
    assert isinstance(model(inner)[1], list)        # called on a tensor: nested too


@pytest.mark.parametrize("form", ["nested", "flat", "dict"])
def test_nested_outputs_train_and_log_as_keras(keras, form):
    """Losses nested as the outputs (or flat, or by name), metrics nested, targets nested: the logs
    (Keras' "1/b_loss" for an output inside a list) and their values as Keras 3.15's over 2 epochs."""
    x, y = _nested_data()
    loss = {"nested": ["mse", ["mae", "categorical_crossentropy"], "mse"],
            "flat": ["mse", "mae", "categorical_crossentropy", "mse"],
            "dict": {"a": "mse", "b": "mae", "c": "categorical_crossentropy", "d": "mse"}}[form]
    metrics = ["mae", [["mse"], ["accuracy"]], "mae"]
    histories = []
    kmodel = _nested_model(keras)
    start = [np.asarray(w) for w in kmodel.get_weights()]
    for lib, m in ((keras, kmodel), (gn, _nested_model(gn))):
        m.set_weights(start)
        m.compile(optimizer=lib.optimizers.SGD(0.05), loss=loss, metrics=metrics)
        histories.append(m.fit(x, y, epochs=2, batch_size=8, shuffle=False, validation_data=(x, y),
                               verbose=0).history)
    assert sorted(histories[1]) == sorted(histories[0])
    assert "1/b_loss" in histories[1] and "val_c_accuracy" in histories[1]
    for key in histories[0]:
        np.testing.assert_allclose(histories[1][key], histories[0][key], rtol=2e-5, atol=1e-6, err_msg=key)


def test_nested_outputs_take_flat_targets_and_nested_loss_weights(keras):
    x, y = _nested_data()
    flat_y = [y[0], y[1][0], y[1][1], y[2]]
    results = []
    kmodel = _nested_model(keras)
    start = [np.asarray(w) for w in kmodel.get_weights()]
    for lib, m in ((keras, kmodel), (gn, _nested_model(gn))):
        m.set_weights(start)
        if lib is gn:       # (Keras 3.15 takes the weights flat only: nested, it counts 1 loss and 4 weights)
            m.compile(optimizer="sgd", loss=["mse", ["mse", "mse"], "mse"], loss_weights=[1.0, [0.5, 2.0], 0.0])
        else:
            m.compile(optimizer="sgd", loss=["mse"] * 4, loss_weights=[1.0, 0.5, 2.0, 0.0])
        results.append(m.evaluate(x, flat_y, verbose=0, return_dict=True))
    assert results[1].keys() == results[0].keys()
    for key in results[0]:
        np.testing.assert_allclose(results[1][key], results[0][key], rtol=1e-5, err_msg=key)
    model = _nested_model(gn)
    model.set_weights(start)
    model.compile(optimizer="sgd", loss="mse", loss_weights=[1.0, [0.5, 2.0], 0.0])
    # one loss for all, weights nested: the same weighted loss as the per-output form above
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0)[0], results[0]["loss"], rtol=1e-5)
    assert np.isfinite(model.train_on_batch(x, y)).all()
    # sample weights per output nested as the outputs are (Keras' form), and one per sample for all
    w = np.linspace(0.5, 2.0, len(x))
    kmodel.compile(optimizer="sgd", loss=["mse"] * 4)
    model.compile(optimizer="sgd", loss="mse")
    model.set_weights(start)            # (train_on_batch moved them)
    for weights in ([w, [w[::-1], None], w], w):
        np.testing.assert_allclose(model.evaluate(x, y, sample_weight=weights, verbose=0),
                                   kmodel.evaluate(x, y, sample_weight=weights, verbose=0), rtol=1e-5)
    with pytest.raises(ValueError, match=r"loss: the model's outputs are nested as \[\*, \[\*, \*\], \*\]; "
                                         r"loss\[1\] must be a list of 2"):
        model.compile(optimizer="sgd", loss=["mse", "mse", "mse"])


def test_nested_outputs_kept_by_config_files_and_keras(keras, tmp_path):
    x, y = _nested_data()
    model = _nested_model(gn)
    model.compile(optimizer="adam", loss="mse", metrics=["mae", ["mae", "mse"], "mae"])
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    want = model.predict(x, verbose=0)
    again = gn.Model.from_config(model.get_config())
    again.set_weights(model.get_weights())
    clone = gn.models.clone_model(model)
    clone.set_weights(model.get_weights())
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    model.save(tmp_path / "m.keras", save_format="keras")
    model.save(tmp_path / "m.h5", save_format="h5")
    theirs = keras.saving.load_model(tmp_path / "m.keras")
    with warnings.catch_warnings():         # (Keras' legacy .h5 reader warns of its metrics)
        warnings.simplefilter("ignore")
        theirs_h5 = keras.saving.load_model(tmp_path / "m.h5")
    for other in (again, clone, loaded, gn.load_model(tmp_path / "m.keras"), theirs, theirs_h5):
        got = other.predict(x, verbose=0)
        assert isinstance(got[1], list) and len(got[1]) == 2
        for ours, expected in zip(_flat(got), _flat(want)):
            np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loaded.evaluate(x, y, verbose=0), model.evaluate(x, y, verbose=0), rtol=1e-6)


def test_nested_outputs_refuse_a_dict_inside_and_an_empty_list():
    x = gn.Input((4,))
    a, b = gn.layers.Dense(1)(x), gn.layers.Dense(2)(x)
    with pytest.raises(TypeError, match="outputs nests a dict inside a list"):
        gn.Model(x, [a, [b, {"b": b}]])
    with pytest.raises(ValueError, match="outputs nests an empty list"):
        gn.Model(x, [a, [b, []]])


def _forward_layer(lib_variable):
    """A layer of glassnet's own kind (forward and backward), holding two variables among its
    add_weight weights: the same attributes in the same order as ``_keras_twin``."""
    class ScaleShift(gn.layers.Layer):
        def build(self, input_shape):
            self.a = self.add_weight("a", input_shape, "ones")
            self.w = lib_variable(np.full(input_shape, 2.0, "float32"), name="w")
            self.c = lib_variable(np.full(input_shape, 0.5, "float32"), name="c", trainable=False)
            self.b = self.add_weight("b", input_shape, "zeros")

        def forward(self, x, training=False):
            self.x = x
            return x * self.w * self.a + self.b + self.c

        def backward(self, grad_output):
            w, a = np.asarray(self.w), np.asarray(self.a)
            self.grads["w"][...] = (grad_output * self.x * a).sum(axis=0)
            self.grads["a"][...] = (grad_output * self.x * w).sum(axis=0)
            self.grads["b"][...] = grad_output.sum(axis=0)
            return grad_output * w * a
    return ScaleShift


def _keras_twin(keras):
    class ScaleShift(keras.layers.Layer):
        def build(self, input_shape):
            self.a = self.add_weight(shape=input_shape[1:], initializer="ones", name="a")
            self.w = keras.Variable(np.full(input_shape[1:], 2.0, "float32"), name="w")
            self.c = keras.Variable(np.full(input_shape[1:], 0.5, "float32"), name="c", trainable=False)
            self.b = self.add_weight(shape=input_shape[1:], initializer="zeros", name="b")

        def call(self, x):
            return x * self.w * self.a + self.b + self.c
    return ScaleShift


def fit_alike(keras, kmodel, model, x, y):
    """Keras' weights set into ``model``, both fitted 3 epochs of SGD (mse): the losses compared."""
    model.set_weights([np.asarray(w) for w in kmodel.get_weights()])
    losses = []
    for m, lib in ((kmodel, keras), (model, gn)):
        m.compile(loss="mse", optimizer=lib.optimizers.SGD(0.05))
        losses.append(m.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0).history["loss"])
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)


def test_variables_of_a_layer_with_forward_are_its_weights_and_train_as_keras(keras, tmp_path):
    """The same tracking in a layer computing on arrays (forward/backward): the variables become its
    weights (``self.grads["w"]``), listed, trained and saved as Keras' layer's, 3 epochs of SGD."""
    x = np.random.default_rng(5).random((16, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    kmodel = keras.Sequential([keras.Input((3,)), _keras_twin(keras)(), keras.layers.Dense(1)])
    model = gn.Sequential([gn.Input((3,)), _forward_layer(gn.Variable)(), gn.layers.Dense(1)])
    layer = model.layers[0]
    assert list(layer.params) == ["a", "w", "b"] and list(layer.state) == ["c"]
    assert [w.shape for w in model.get_weights()] == [tuple(w.shape) for w in kmodel.weights]
    fit_alike(keras, kmodel, model, x, y)
    for ours, theirs in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=1e-6)
    assert isinstance(layer.w, gn.Variable) and layer.w.trainable and not layer.c.trainable
    np.testing.assert_array_equal(layer.w.numpy(), layer.params["w"])       # a view of the trained weight
    model.save(tmp_path / "m.npz")
    np.testing.assert_allclose(gn.load_model(tmp_path / "m.npz").predict(x, verbose=0), model.predict(x, verbose=0))


def test_variables_of_a_layer_with_forward_pass_the_gradient_check():
    model = gn.Sequential([gn.Input((3,)), _forward_layer(gn.Variable)(), gn.layers.Dense(1)], seed=0,
                          dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    x = np.random.default_rng(6).random((8, 3))
    report = gn.gradcheck.check_model(model, x, x.sum(axis=1, keepdims=True))
    assert report["max_error"] < 1e-7 and any(key.endswith("/w") for key in report["errors"]), report
