"""Keras' ``Dropout(rate, noise_shape=None, seed=None)``: ``noise_shape`` gives the mask's shape, one
draw shared along each axis of size 1 (``(None, 1, features)``: the same features dropped at every
step); before, glassnet had no ``noise_shape`` and refused Keras' positional ``Dropout(0.5, None, 42)``."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer


def test_the_mask_is_shared_along_the_axes_of_size_one():
    x = np.ones((8, 5, 3), "float32")
    layer = gn.layers.Dropout(0.5, (None, 1, 3), 7)
    y = layer(x, training=True)
    assert y.shape == x.shape and (y == y[:, :1, :]).all()
    assert set(np.unique(y).tolist()) == {0.0, 2.0}
    # the gradient goes through the same broadcast mask
    np.testing.assert_array_equal(layer.backward(np.ones_like(x)), y)
    # (None, None, 1): one draw per sample and step, shared by its features
    y = gn.layers.Dropout(0.5, noise_shape=(None, None, 1), seed=0)(x, training=True)
    assert (y == y[:, :, :1]).all()
    # inference: the identity
    np.testing.assert_array_equal(gn.layers.Dropout(0.5, (None, 1, 3))(x), x)


def test_gradient_and_alpha_dropout():
    layer = gn.layers.AlphaDropout(0.3, noise_shape=(None, 1), seed=0, dtype="float64")
    x = np.random.default_rng(0).standard_normal((6, 4))
    y = layer(x, training=True)
    # one draw per sample, shared by its 4 values: a dropped sample is one constant throughout
    dropped = np.isclose(y, y[:, :1]).all(axis=1)
    assert dropped.any() and not dropped.all()
    dropout = gn.layers.Dropout(0.4, (None, 1, 3), seed=1, dtype="float64")
    check_layer(dropout, np.random.default_rng(1).standard_normal((4, 5, 3)), training=True,
                before_forward=lambda: setattr(dropout, "rng", np.random.default_rng(0)))


@pytest.mark.parametrize("bad, message", [((None, 2, 3), "does not broadcast"), ((None, 1), "has 2 entries"),
                                          ("abc", "must be None or a tuple"), ((None, 0, 3), "must be None or a tuple")])
def test_bad_noise_shapes_are_refused_by_name(bad, message):
    with pytest.raises(ValueError, match=f"Dropout: noise_shape.*{message}"):
        gn.layers.Dropout(0.5, bad, 0)(np.ones((4, 5, 3), "float32"), training=True)


def test_spatial_dropout_takes_none():
    with pytest.raises(TypeError, match="SpatialDropout2D: takes no noise_shape"):
        gn.layers.SpatialDropout2D(0.5, noise_shape=(None, 1, 1, 3))


def test_configs_files_and_keras_dicts_keep_it(tmp_path):
    layer = gn.layers.Dropout(0.3, noise_shape=(None, 1, 3), seed=2)
    assert layer.get_config()["noise_shape"] == [None, 1, 3]
    assert "noise_shape" not in gn.layers.Dropout(0.3).get_config()     # files as they were
    model = gn.Sequential([gn.Input((5, 3)), layer, gn.layers.Dense(2)], seed=0)
    model.compile(loss="mse")
    model.save(tmp_path / "m.npz")
    assert gn.load_model(tmp_path / "m.npz").layers[0].noise_shape == (None, 1, 3)
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    read = gn.layers.deserialize(keras.layers.serialize(keras.layers.Dropout(0.3, noise_shape=(None, 1, 3))))
    assert read.noise_shape == (None, 1, 3) and read.rate == 0.3
