"""Keras guide idioms glassnet refused (session 48, guides4): NaN and inf inputs taken by predict,
evaluate and ``model(x)``; LayerNormalization's and RMSNormalization's axis lists in Keras' weight
layout; ``gn.Variable``s in lists and dicts, of integer and boolean dtypes, and set after the
draw. Each compared with Keras 3.15 where Keras is installed."""
import numpy as np
import pytest

import glassnet as gn
from glassnet import ops
from glassnet.layers import normalization


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

@pytest.mark.parametrize("axis", [[1, -2], [-1, 1], [3, -3], [2, 3], -1])
def test_layer_normalization_weights_take_keras_layout(keras, axis):
    """Keras sorts the list as given ([1, -2] -> [-2, 1]) and shapes gamma by it: (4, 3) for
    samples (3, 4, 5); its weights set into glassnet's layer give Keras' outputs."""
    x = np.random.default_rng(2).normal(size=(2, 3, 4, 5)).astype("float32")
    theirs = keras.layers.LayerNormalization(axis=axis)
    theirs.build(x.shape)
    ours = gn.layers.LayerNormalization(axis=axis)
    ours.build(x.shape[1:])
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.weights]
    r = np.random.default_rng(3)
    weights = [r.normal(size=tuple(w.shape)).astype("float32") for w in theirs.weights]
    theirs.set_weights(weights)
    ours.set_weights(weights)
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("axis", [[1, -2], [-1, 1], [-1, -2]])
def test_rms_normalization_weights_take_keras_shape(keras, axis):
    """Keras' scale shape for the list; its call (a plain product with the input, no reshape) works
    only where that shape is the input's trailing one ([-1, -2] -> [-2, -1]): outputs compared there."""
    x = np.random.default_rng(2).normal(size=(2, 3, 4, 5)).astype("float32")
    theirs = keras.layers.RMSNormalization(axis=axis)
    theirs.build(x.shape)
    ours = gn.layers.RMSNormalization(axis=axis)
    ours.build(x.shape[1:])
    assert [w.shape for w in ours.get_weights()] == [tuple(w.shape) for w in theirs.weights]
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
