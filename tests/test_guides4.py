"""Keras guide idioms glassnet refused (session 48, guides4): NaN and inf inputs taken by predict,
evaluate and ``model(x)``; LayerNormalization's and RMSNormalization's axis lists in Keras' weight
layout; ``gn.Variable``s in lists and dicts, of integer and boolean dtypes, and set after the
draw. Each compared with Keras 3.15 where Keras is installed."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from glassnet.layers import normalization

from test_guides3 import _variable_model, fit_alike      # (Input, a block of Variables, Dense; Keras' fit beside)


# -- NaN and inf inputs: predict, evaluate and model(x) take them, as Keras ------------------------

def _nan_model(lib):
    """A model that handles NaN itself (Keras' idiom): NaN -> 0, inf clipped, then a Dense."""
    x = lib.Input((3,))
    clean = lib.layers.Lambda(lambda t: lib.ops.nan_to_num(t, nan=0.0, posinf=5.0, neginf=-5.0))(x)
    return lib.Model(x, lib.layers.Dense(2)(clean))


def _nan_data():
    x = np.random.default_rng(1).normal(size=(6, 3)).astype("float32")
    x[0, 1], x[2, 0], x[4, 2] = np.nan, np.inf, -np.inf
    return x, np.ones((6, 2), "float32")


def test_predict_evaluate_and_call_take_non_finite_inputs_as_keras(keras):
    x, y = _nan_data()
    kmodel, model = _nan_model(keras), _nan_model(gn)
    model.set_weights([np.asarray(w) for w in kmodel.get_weights()])
    want = kmodel.predict(x, verbose=0)
    assert np.isfinite(want).all()
    for got in (model.predict(x, verbose=0), model(x), model.predict_on_batch(x)):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)
    kmodel.compile(loss="mse", optimizer="sgd")
    model.compile(loss="mse", optimizer="sgd")
    np.testing.assert_allclose(model.evaluate(x, y, verbose=0), kmodel.evaluate(x, y, verbose=0), rtol=1e-5)
    np.testing.assert_allclose(model.test_on_batch(x, y), kmodel.test_on_batch(x, y), rtol=1e-5)


def test_non_finite_inputs_pass_through_a_model_that_does_not_handle_them():
    """Keras' NaN out for NaN in (a Dense of NaN is NaN); nothing refused, nothing changed."""
    model = gn.Sequential([gn.Input((2,)), gn.layers.Dense(1, kernel_initializer="ones")])
    with np.errstate(invalid="ignore"):
        out = model.predict(np.array([[np.nan, 1.0], [1.0, 2.0]], "float32"), verbose=0)
    assert np.isnan(out[0, 0]) and out[1, 0] == pytest.approx(3.0)


def test_fit_still_refuses_non_finite_training_data():
    """fit's check is documented (guide/data.md): a NaN in the training data only makes the loss NaN."""
    x, y = _nan_data()
    model = _nan_model(gn)
    model.compile(loss="mse", optimizer="sgd")
    with pytest.raises(ValueError, match=r"^x: contains 3 NaN or infinite value\(s\), the first in sample 0$"):
        model.fit(x, y, verbose=0)
    with pytest.raises(ValueError, match=r"^x: contains 3 NaN or infinite value\(s\), the first in sample 0$"):
        model.train_on_batch(x, y)
    # the targets of evaluate stay checked (a NaN target has no handling in any model)
    with pytest.raises(ValueError, match=r"^y: contains 2 NaN or infinite value\(s\), the first in sample 3$"):
        model.evaluate(np.nan_to_num(x), np.where(np.arange(6)[:, None] == 3, np.nan, y), verbose=0)
    # a finite float64 value that float32 cannot hold is refused still (the cast would make it inf)
    big = np.nan_to_num(x).astype("float64")
    big[1, 1], big[3, 1] = 1e39, np.nan
    with pytest.raises(ValueError, match=r"^x: contains 1 value\(s\) beyond the range of float32"):
        model.predict(big, verbose=0)


def test_non_finite_inputs_of_a_model_of_several_inputs():
    a, b = gn.Input((2,), name="a"), gn.Input((2,), name="b")
    out = gn.layers.Add()([gn.layers.Lambda(lambda t: ops.nan_to_num(t))(a), b])
    model = gn.Model([a, b], out)
    got = model.predict([np.array([[np.nan, 1.0]], "float32"), np.ones((1, 2), "float32")], verbose=0)
    np.testing.assert_array_equal(got, [[1.0, 2.0]])


# -- LayerNormalization and RMSNormalization: Keras' layout for an axis list -----------------------

def _twins(keras, name, axis):
    """A batch (2, 3, 4, 5), and Keras' and glassnet's layer ``name`` of ``axis`` built for it, their
    weights' shapes checked equal."""
    x = np.random.default_rng(2).normal(size=(2, 3, 4, 5)).astype("float32")
    theirs, ours = getattr(keras.layers, name)(axis=axis), getattr(gn.layers, name)(axis=axis)
    theirs.build(x.shape)
    ours.build(x.shape[1:])
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.weights]
    return x, theirs, ours


@pytest.mark.parametrize("axis", [[1, -2], [-1, 1], [3, -3], [2, 3], -1])
def test_layer_normalization_weights_take_keras_layout(keras, axis):
    """Keras sorts the list as given ([1, -2] -> [-2, 1]) and shapes gamma by it: (4, 3) for
    samples (3, 4, 5); its weights set into glassnet's layer give Keras' outputs."""
    x, theirs, ours = _twins(keras, "LayerNormalization", axis)
    r = np.random.default_rng(3)
    weights = [r.normal(size=tuple(w.shape)).astype("float32") for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("axis", [[1, -2], [-1, 1], [-1, -2]])
def test_rms_normalization_weights_take_keras_shape(keras, axis):
    """Keras' scale shape for the list; its call (a plain product with the input, no reshape) works
    only where that shape is the input's trailing one ([-1, -2] -> [-2, -1]): outputs compared there."""
    x, theirs, ours = _twins(keras, "RMSNormalization", axis)
    if axis == [-1, -2]:
        scale = np.random.default_rng(3).normal(size=(4, 5)).astype("float32")
        theirs.set_weights([scale])
        ours.set_weights([scale])
        np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-5, atol=1e-5)


def test_reordered_layout_is_a_reshape_of_the_positive_one():
    """By hand: gamma of Keras' (4, 3) shape scales the input as its reshape to (3, 4) over axes 1, 2."""
    x = np.random.default_rng(4).normal(size=(2, 3, 4, 5))
    gamma = np.arange(12.0).reshape(4, 3) / 10
    for cls, key in ((gn.layers.LayerNormalization, "gamma"), (gn.layers.RMSNormalization, "scale")):
        layer = cls(axis=[1, -2], dtype="float64", **({"center": False} if key == "gamma" else {}))
        layer.build(x.shape[1:])
        layer.params[key][...] = gamma
        plain = cls(axis=[1, 2], dtype="float64", **({"center": False} if key == "gamma" else {}))
        plain.build(x.shape[1:])
        plain.params[key][...] = gamma.reshape(3, 4)
        np.testing.assert_allclose(layer(x), plain(x), rtol=1e-12)


@pytest.mark.parametrize("cls", [gn.layers.LayerNormalization, gn.layers.RMSNormalization])
def test_reordered_normalizations_pass_the_gradient_check(cls):
    layer = cls(axis=[-1, 1], dtype="float64")
    x = np.random.default_rng(5).normal(size=(3, 2, 3, 4))
    layer.build(x.shape[1:])
    for key in layer.params:
        layer.params[key][...] = np.random.default_rng(6).normal(size=layer.params[key].shape)
    report = gn.gradcheck.check_layer(layer, x)
    assert report["max_error"] < 1e-6, report


def _older_layout(monkeypatch):
    """glassnet before session 48: the weights shaped in the axes' positive order."""
    monkeypatch.setattr(normalization, "weight_shape",
                        lambda layer, shape, axes: tuple(shape[a - 1] for a in axes))


def _norm_model():
    return gn.Sequential([gn.Input((3, 4, 5)), gn.layers.LayerNormalization(axis=[1, -2]),
                          gn.layers.RMSNormalization(axis=[-1, 1]), gn.layers.Flatten(), gn.layers.Dense(2)], seed=0)


def test_files_of_the_older_layout_still_load(monkeypatch, tmp_path):
    x = np.random.default_rng(7).normal(size=(4, 3, 4, 5)).astype("float32")
    with monkeypatch.context() as patch:
        _older_layout(patch)
        old = _norm_model()
        for layer in old.layers[:2]:
            for a in layer.params.values():
                a[...] = np.random.default_rng(8).normal(size=a.shape)
        assert [w.shape for w in old.get_weights()[:3]] == [(3, 4), (3, 4), (3, 5)]
        want = old.predict(x, verbose=0)
        old.compile(loss="mse", optimizer="adam")
        old.fit(x, np.zeros((4, 2)), epochs=1, verbose=0)
        want = old.predict(x, verbose=0)
        old.save(tmp_path / "old.npz")
        old.save_weights(tmp_path / "old.weights.npz")
    loaded = gn.load_model(tmp_path / "old.npz")
    assert [w.shape for w in loaded.get_weights()[:3]] == [(4, 3), (4, 3), (5, 3)]
    np.testing.assert_allclose(loaded.predict(x, verbose=0), want, rtol=1e-6)
    loaded.fit(x, np.zeros((4, 2)), epochs=1, verbose=0)       # its optimizer state came too
    again = _norm_model()
    again.load_weights(tmp_path / "old.weights.npz")
    np.testing.assert_allclose(again.predict(x, verbose=0), want, rtol=1e-6)


def test_a_reordered_layer_normalization_file_reads_in_keras(keras, tmp_path):
    x = np.random.default_rng(9).normal(size=(4, 3, 4, 5)).astype("float32")
    model = gn.Sequential([gn.Input((3, 4, 5)), gn.layers.LayerNormalization(axis=[1, -2]), gn.layers.Flatten(),
                           gn.layers.Dense(2)], seed=0)
    model.layers[0].params["gamma"][...] = np.random.default_rng(10).normal(size=(4, 3))
    model.save(tmp_path / "m.keras", save_format="keras")
    model.save_weights(tmp_path / "m.weights.h5")
    theirs = keras.saving.load_model(tmp_path / "m.keras")
    np.testing.assert_allclose(np.asarray(theirs.predict(x, verbose=0)), model.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)
    twin = keras.Sequential([keras.Input((3, 4, 5)), keras.layers.LayerNormalization(axis=[1, -2]),
                             keras.layers.Flatten(), keras.layers.Dense(2)])
    twin.load_weights(tmp_path / "m.weights.h5")
    np.testing.assert_allclose(np.asarray(twin.predict(x, verbose=0)), model.predict(x, verbose=0), rtol=1e-5,
                               atol=1e-6)


# -- gn.Variables in lists, tuples and dicts: weights in Keras' tracking order ---------------------

def _container_block(lib, lib_ops):
    """Variables in a list, a tuple inside a dict, a dict (one not trainable) and alone, among
    add_weight ones: Keras 3.15's Tracker order (attributes, then each container's items)."""
    class Held(lib.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.first = lib.Variable(np.full((3,), 0.5, "float32"), name="first")

        def build(self, input_shape):
            self.ws = [lib.Variable(np.full((input_shape[-1], 3), 0.1 * (i + 1), "float32"), name=f"w{i}")
                       for i in range(2)]
            self.k = self.add_weight(shape=(3,), name="k", initializer="ones")
            self.d = {"b": lib.Variable(np.zeros(3, "float32"), name="b"),
                      "frozen": lib.Variable(np.full(3, 0.25, "float32"), name="frozen", trainable=False),
                      "pair": (lib.Variable(np.ones(3, "float32"), name="p0"),
                               lib.Variable(np.full(3, 2.0, "float32"), name="p1"))}

        def call(self, x):
            h = lib_ops.matmul(x, self.ws[0]) + lib_ops.tanh(lib_ops.matmul(x, self.ws[1]))
            h = (h * self.d["pair"][0] + self.d["pair"][1]) * self.first
            return h * self.k + self.d["b"] + self.d["frozen"]
    return Held


def _container_model(lib, lib_ops):
    return _variable_model(lib, lib_ops, _container_block(lib, lib_ops), name="held")


def _xy(n=16):
    r = np.random.default_rng(11)
    return r.normal(size=(n, 4)).astype("float32"), r.normal(size=(n, 2)).astype("float32")


def test_variables_in_containers_are_weights_in_keras_order(keras):
    kmodel, model = _container_model(keras, keras.ops), _container_model(gn, ops)
    trained = {id(a) for a in model.trainable_weights}
    assert [(w.shape, id(w) in trained) for w in model.weights] == \
        [(tuple(w.shape), bool(w.trainable)) for w in kmodel.weights]
    assert model.count_params() == kmodel.count_params()
    # the same values at the same places (each variable's own starting value)
    for ours, theirs in zip(model.get_weights()[:-2], kmodel.get_weights()[:-2]):
        np.testing.assert_array_equal(ours, theirs)
    block = model.block
    assert isinstance(block.ws, list) and len(block.ws) == 2 and isinstance(block.d["pair"], tuple)


def test_variables_in_containers_train_and_save_as_keras(keras, tmp_path):
    x, y = _xy()
    kmodel, model = _container_model(keras, keras.ops), _container_model(gn, ops)
    model.set_weights([np.asarray(w) for w in kmodel.get_weights()])
    losses = []
    for m, lib in ((kmodel, keras), (model, gn)):
        m.compile(loss="mse", optimizer=lib.optimizers.SGD(0.05, momentum=0.9))
        losses.append(m.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0).history["loss"])
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)
    for ours, theirs in zip(model.get_weights(), kmodel.get_weights()):
        np.testing.assert_allclose(ours, np.asarray(theirs), rtol=1e-5, atol=1e-6)
    # glassnet's own files (a block drawn from call is refused in .keras files, and its .weights.h5
    # lays out its drawn graph, which Keras does not read: as before session 48)
    model.save(tmp_path / "m.npz")
    loaded = gn.load_model(tmp_path / "m.npz")
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert [w.shape for w in loaded.get_weights()] == [w.shape for w in model.get_weights()]


def test_variables_in_containers_pass_the_gradient_check():
    model = gn.Sequential([gn.Input((4,)), _container_block(gn, ops)(), gn.layers.Dense(2)], seed=0,
                          dtype="float64")
    model.compile(loss="mse", optimizer="sgd")
    x, y = _xy(8)
    report = gn.gradcheck.check_model(model, x.astype("float64"), y.astype("float64"))
    assert report["max_error"] < 1e-7 and not report["skipped"], report
    assert {"held/w1", "held/p0", "held/p1"} <= set(report["errors"]), report


def _forward_no_build(lib_variable):
    """A layer computing on arrays, with no build: its variables made in __init__ (a list)."""
    class Scale(gn.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.s = [lib_variable(np.full(3, 2.0, "float32"), name="s"),
                      lib_variable(np.full(3, 0.5, "float32"), name="t")]

        def forward(self, x, training=False):
            self.x = x
            return x * np.asarray(self.s[0]) + np.asarray(self.s[1])

        def backward(self, grad_output):
            self.grads["s"][...] = (grad_output * self.x).sum(axis=0)
            self.grads["t"][...] = grad_output.sum(axis=0)
            return grad_output * np.asarray(self.s[0])
    return Scale


def _keras_scale(keras):
    class Scale(keras.layers.Layer):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.s = [keras.Variable(np.full(3, 2.0, "float32"), name="s"),
                      keras.Variable(np.full(3, 0.5, "float32"), name="t")]

        def call(self, x):
            return x * self.s[0] + self.s[1]
    return Scale


def test_a_layer_with_forward_and_no_build_adopts_its_variables(keras, tmp_path):
    x = np.random.default_rng(12).random((16, 3)).astype("float32")
    y = x.sum(axis=1, keepdims=True)
    kmodel = keras.Sequential([keras.Input((3,)), _keras_scale(keras)(), keras.layers.Dense(1)])
    model = gn.Sequential([gn.Input((3,)), _forward_no_build(gn.Variable)(), gn.layers.Dense(1)])
    layer = model.layers[0]
    assert list(layer.params) == ["s", "t"]
    fit_alike(keras, kmodel, model, x, y)
    np.testing.assert_array_equal(layer.s[0].numpy(), layer.params["s"])      # a view of the trained weight
    model.save(tmp_path / "m.npz")
    np.testing.assert_allclose(gn.load_model(tmp_path / "m.npz").predict(x, verbose=0), model.predict(x, verbose=0))
    # Keras' .weights.h5 both ways
    kmodel.save_weights(tmp_path / "k.weights.h5")
    model.save_weights(tmp_path / "g.weights.h5")
    fresh = gn.Sequential([gn.Input((3,)), _forward_no_build(gn.Variable)(), gn.layers.Dense(1)])
    kfresh = keras.Sequential([keras.Input((3,)), _keras_scale(keras)(), keras.layers.Dense(1)])
    fresh.load_weights(tmp_path / "k.weights.h5")
    kfresh.load_weights(tmp_path / "g.weights.h5")
    want = kmodel.predict(x, verbose=0)
    for other in (fresh, kfresh):
        np.testing.assert_allclose(np.asarray(other.predict(x, verbose=0)), want, rtol=1e-5, atol=1e-6)
    checked = _compiled(gn.Sequential([gn.Input((3,)), _forward_no_build(gn.Variable)()], dtype="float64"))
    report = gn.gradcheck.check_model(checked, x.astype("float64"), y.repeat(3, axis=1).astype("float64"))
    assert report["max_error"] < 1e-7 and {k.split("/")[-1] for k in report["errors"]} >= {"s", "t"}, report


def _compiled(model):
    model.compile(loss="mse", optimizer="sgd")
    return model


def test_integer_variables_and_ones_set_after_the_build_stay_plain():
    """Left as they were (docs/guide/subclassing.md): an int variable is no weight (glassnet's are
    floats), and one set after the draw is not adopted (Keras 3.15 refuses it)."""
    class Counting(gn.layers.Layer):
        def build(self, input_shape):
            self.count = gn.Variable(np.int32(0), dtype="int32", name="count")
            self.w = gn.Variable(np.ones(input_shape[-1:], "float32"), name="w")

        def call(self, x):
            return x * self.w
    block = Counting()
    model = gn.Sequential([gn.Input((2,)), block])
    model.build((None, 2))
    assert [w.shape for w in model.weights] == [(2,)]
    assert type(block.count) is gn.Variable
    block.late = gn.Variable(np.ones(2, "float32"))
    assert [w.shape for w in model.weights] == [(2,)]


# -- a subclass' call returning nested lists, tuples or a dict -------------------------------------

def _nested_subclass(lib, form):
    class Heads(lib.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.hidden = lib.layers.Dense(5, activation="tanh")
            self.a, self.b, self.c = lib.layers.Dense(2), lib.layers.Dense(3), lib.layers.Dense(1)

        def call(self, x):
            h = self.hidden(x)
            if form == "dict":
                return {"score": self.a(h), "class": self.b(h)}
            return [self.a(h), (self.b(h), self.c(h))]
    return Heads()


def _flat(value):
    if isinstance(value, dict):
        return [np.asarray(value[key]) for key in sorted(value)]
    if isinstance(value, (list, tuple)):
        return [a for part in value for a in _flat(part)]
    return [np.asarray(value)]


@pytest.mark.parametrize("form", ["nested", "dict"])
def test_a_subclass_call_returning_nested_outputs_predicts_and_trains_as_keras(keras, form):
    r = np.random.default_rng(13)
    x = r.normal(size=(16, 4)).astype("float32")
    y = ({"score": r.normal(size=(16, 2)), "class": r.normal(size=(16, 3))} if form == "dict" else
         [r.normal(size=(16, 2)), [r.normal(size=(16, 3)), r.normal(size=(16, 1))]])
    kmodel, model = _nested_subclass(keras, form), _nested_subclass(gn, form)
    kmodel(x[:1])
    model.build((None, 4))
    model.set_weights([np.asarray(w) for w in kmodel.get_weights()])
    want, got = kmodel.predict(x, verbose=0), model.predict(x, verbose=0)
    if form == "dict":
        assert isinstance(got, dict) and list(got) == ["score", "class"]
    else:       # (Keras on TensorFlow gives the inner tuple as a list too)
        assert isinstance(got, list) and isinstance(got[1], list) and len(got[1]) == 2
    for ours, theirs in zip(_flat(got), _flat(want)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert [np.shape(a) for a in _flat(model(x))] == [a.shape for a in _flat(want)]
    shapes = model.compute_output_shape((None, 4))
    assert shapes == ({"score": (None, 2), "class": (None, 3)} if form == "dict" else
                      [(None, 2), [(None, 3), (None, 1)]])
    losses = []
    for m, lib in ((kmodel, keras), (model, gn)):
        m.compile(loss="mse", optimizer=lib.optimizers.SGD(0.05))
        losses.append(m.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0).history["loss"])
    np.testing.assert_allclose(losses[1], losses[0], rtol=1e-5)


def test_a_block_returning_nested_lists_inside_a_functional_model(keras):
    """A Layer subclass whose call returns [a, (b, c)], called on a tensor: nested tensors, as Keras'."""
    def block(lib):
        class Split(lib.layers.Layer):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.a, self.b, self.c = lib.layers.Dense(2), lib.layers.Dense(3), lib.layers.Dense(1)

            def call(self, x):
                return [self.a(x), (self.b(x), self.c(x))]
        return Split()
    models = []
    for lib in (keras, gn):
        inputs = lib.Input((4,))
        a, (b, c) = block(lib)(inputs)
        models.append(lib.Model(inputs, [a, [b, c]]))
    kmodel, model = models
    model.set_weights([np.asarray(w) for w in kmodel.get_weights()])
    x = np.random.default_rng(14).normal(size=(5, 4)).astype("float32")
    for ours, theirs in zip(_flat(model.predict(x, verbose=0)), _flat(kmodel.predict(x, verbose=0))):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)


def test_a_subclass_call_returning_a_dict_holding_a_list_is_refused_by_name():
    class Odd(gn.Model):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.a, self.b = gn.layers.Dense(2), gn.layers.Dense(3)

        def call(self, x):
            return {"a": self.a(x), "rest": [self.b(x)]}
    with pytest.raises(TypeError, match=r"Odd.call: returned a dict whose 'rest' holds a list; glassnet takes a dict "
                                        r"of tensors, or lists of them nested"):
        Odd().predict(np.ones((2, 3), "float32"), verbose=0)

    class Deep(Odd):
        def call(self, x):
            return [self.a(x), [{"b": self.b(x)}]]
    with pytest.raises(TypeError, match=r"Deep.call: returned nested lists: outputs nests a dict inside a list"):
        Deep().predict(np.ones((2, 3), "float32"), verbose=0)


def test_a_sequential_ending_in_a_nested_output_model_gives_them_nested(keras):
    def inner(lib):
        x = lib.Input((3,))
        return lib.Model(x, [lib.layers.Dense(2)(x), [lib.layers.Dense(1)(x), lib.layers.Dense(2)(x)]])
    kmodel = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3), inner(keras)])
    model = gn.Sequential([gn.Input((5,)), gn.layers.Dense(3), inner(gn)])
    model.set_weights([np.asarray(w) for w in kmodel.get_weights()])
    x = np.random.default_rng(15).normal(size=(6, 5)).astype("float32")
    want, got = kmodel.predict(x, verbose=0), model.predict(x, verbose=0)
    assert isinstance(got[1], list) and len(got[1]) == 2
    for ours, theirs in zip(_flat(got), _flat(want)):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert model.compute_output_shape((None, 5)) == [(None, 2), [(None, 1), (None, 2)]]
    y = [np.ones((6, 2)), [np.zeros((6, 1)), np.ones((6, 2))]]
    results = []
    for m in (kmodel, model):
        m.compile(loss="mse", optimizer="sgd")
        results.append(m.fit(x, y, epochs=2, shuffle=False, verbose=0).history["loss"])
    np.testing.assert_allclose(results[1], results[0], rtol=1e-5)


# -- save_own_variables / load_own_variables, save_assets / load_assets of a layer of yours --------

def _hooked_layers(lib, package):
    """Keras' saving guide's two layers, the variable one keeping a table that is no weight (the
    guide's keras.Variable there fails in Keras 3.15: its Dense saves 2 variables and loads 3)."""
    import os

    @lib.saving.register_keras_serializable(package=package)
    class LayerWithCustomVariable(lib.layers.Dense):
        def __init__(self, units, **kwargs):
            super().__init__(units, **kwargs)
            self.table = np.zeros(units, "float32")        # no weight: kept by the hooks alone

        def save_own_variables(self, store):
            super().save_own_variables(store)
            store["table"] = self.table

        def load_own_variables(self, store):
            super().load_own_variables({key: store[key] for key in store.keys() if key != "table"})
            self.table = np.array(store["table"])

    @lib.saving.register_keras_serializable(package=package)
    class LayerWithCustomAssets(lib.layers.Dense):
        def __init__(self, vocab=None, *args, **kwargs):
            super().__init__(*args, **kwargs)
            self.vocab = vocab

        def save_assets(self, inner_path):
            with open(os.path.join(inner_path, "vocabulary.txt"), "w") as f:
                f.write(self.vocab)

        def load_assets(self, inner_path):
            with open(os.path.join(inner_path, "vocabulary.txt")) as f:
                text = f.read()
            self.vocab = text.replace("<unk>", "little")

        def get_config(self):
            return {**super().get_config(), "vocab": self.vocab}
    return LayerWithCustomVariable, LayerWithCustomAssets


def test_saving_hooks_of_ones_own_are_honoured_by_model_files_as_keras(keras, tmp_path):
    """Keras 3.15 saves and loads the guide's layers through their hooks (.keras); glassnet's
    model file does the same: the variable's value back, the vocabulary read through load_assets."""
    x = np.random.default_rng(17).random((3, 4)).astype("float32")
    results = {}
    for name, lib, path in (("keras", keras, "m.keras"), ("gn", gn, "m.npz")):
        variable_layer, asset_layer = _hooked_layers(lib, f"guides4_{name}")
        model = lib.Sequential([lib.Input((4,)), variable_layer(3), asset_layer(vocab="Mary had a <unk> lamb.",
                                                                                  units=2)])
        model.layers[0].table = np.array([1.0, 2.0, 3.0], "float32")
        model.save(tmp_path / path)
        loaded = lib.saving.load_model(tmp_path / path)
        results[name] = (loaded.layers[0].table, loaded.layers[1].vocab,
                         np.asarray(loaded.predict(x, verbose=0)), np.asarray(model.predict(x, verbose=0)))
    assert results["gn"][1] == results["keras"][1] == "Mary had a little lamb."
    np.testing.assert_array_equal(results["gn"][0], results["keras"][0])
    np.testing.assert_array_equal(results["gn"][0], [1.0, 2.0, 3.0])
    for name in results:
        np.testing.assert_allclose(results[name][2], results[name][3], rtol=1e-6)


def test_saving_hooks_refuse_what_a_file_cannot_hold_safely(tmp_path):
    class Texts(gn.layers.Dense):
        def save_own_variables(self, store):
            store["words"] = np.array(["a", "b"])

        def load_own_variables(self, store):
            pass
    model = gn.Sequential([gn.Input((2,)), Texts(1)])
    with pytest.raises(TypeError, match=r"layer 'texts' \(Texts\): save_own_variables: store\['words'\] has dtype "
                                        r"<U1; a glassnet file holds arrays of numbers or booleans only"):
        model.save(tmp_path / "m.npz")

    class Escapes(gn.layers.Dense):
        def save_assets(self, inner_path):
            import os
            os.makedirs(os.path.join(inner_path, "a b"))
            open(os.path.join(inner_path, "a b", "x.txt"), "w").close()

        def load_assets(self, inner_path):
            pass
    model = gn.Sequential([gn.Input((2,)), Escapes(1)])
    with pytest.raises(ValueError, match=r"save_assets wrote 'a b/x.txt': a file name of letters, digits"):
        model.save(tmp_path / "m.npz")


def test_a_crafted_own_saving_entry_is_refused(tmp_path):
    """A file naming a layer without hooks, or an asset path climbing out, never reaches a hook."""
    import json
    import zipfile
    from glassnet import ModelFileError
    _, asset_layer = _hooked_layers(gn, "guides4_crafted")
    model = gn.Sequential([gn.Input((4,)), gn.layers.Dense(3), asset_layer(vocab="v", units=2)])
    model.save(tmp_path / "m.npz")
    with zipfile.ZipFile(tmp_path / "m.npz") as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    meta = json.loads(np.load(tmp_path / "m.npz")["config"].tobytes())
    assert meta["model"]["own_saving"] == [{"layer": 1, "variables": [], "assets": ["vocabulary.txt"]}]
    for entry, message in (([{"layer": 0, "variables": [], "assets": ["vocabulary.txt"]}],
                            "defines no hook to read what the file keeps"),
                           ([{"layer": 1, "variables": [], "assets": ["../vocabulary.txt"]}],
                            "assets must be distinct relative paths of plain names")):
        meta["model"]["own_saving"] = entry
        config = np.frombuffer(json.dumps(meta).encode(), np.uint8)
        import io
        buffer = io.BytesIO()
        np.save(buffer, config)
        with zipfile.ZipFile(tmp_path / "bad.npz", "w") as archive:
            for name, data in members.items():
                archive.writestr(name, buffer.getvalue() if name == "config.npy" else data)
        with pytest.raises(ModelFileError, match=message):
            gn.load_model(tmp_path / "bad.npz")
