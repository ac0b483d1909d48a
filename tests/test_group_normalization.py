"""GroupNormalization against Keras 3.15 and PyTorch's nn.GroupNorm (outputs and gradients), in a
CNN, and its errors. The layer contract (finite differences included) is in test_layer_contract.py."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Conv2D, Dense, Flatten, GroupNormalization

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@pytest.mark.parametrize("groups, shape", [(2, (5, 4, 6)), (1, (7, 4)), (-1, (3, 3, 4)), (3, (6,))], ids=str)
def test_outputs_match_keras(groups, shape, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = (3 * rng.normal(size=(2, *shape)) + 1).astype(np.float32)
    ours = GroupNormalization(groups=groups, seed=0)
    ours.build(shape)
    ours.set_weights([rng.normal(size=w.shape).astype(np.float32) for w in ours.get_weights()])
    theirs = keras.layers.GroupNormalization(groups=groups)
    theirs.build((None, *shape))
    theirs.set_weights(ours.get_weights())
    np.testing.assert_allclose(ours(x), np.asarray(theirs(x)), rtol=1e-5, atol=2e-5)


def test_gradients_match_torch_group_norm(rng, torch):
    x = rng.normal(size=(3, 4, 5, 6))                      # channels last here, first in PyTorch
    layer = GroupNormalization(groups=3, epsilon=1e-5, dtype="float64", seed=0)
    layer.build(x.shape[1:])
    layer.set_weights([rng.normal(size=6), rng.normal(size=6)])
    out = layer(x)
    grad_out = rng.normal(size=out.shape)
    grad_x = layer.backward(grad_out)
    norm = torch.nn.GroupNorm(3, 6, eps=1e-5).double()
    with torch.no_grad():
        norm.weight.copy_(torch.tensor(layer.params["gamma"]))
        norm.bias.copy_(torch.tensor(layer.params["beta"]))
    tx = torch.tensor(x.transpose(0, 3, 1, 2).copy(), requires_grad=True)
    theirs = norm(tx)
    theirs.backward(torch.tensor(grad_out.transpose(0, 3, 1, 2).copy()))
    np.testing.assert_allclose(out, theirs.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(grad_x, tx.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["gamma"], norm.weight.grad.numpy(), rtol=1e-10)
    np.testing.assert_allclose(layer.grads["beta"], norm.bias.grad.numpy(), rtol=1e-10)


def test_a_cnn_with_group_norm_trains_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = rng.normal(size=(16, 6, 6, 1)).astype(np.float32)
    y = rng.integers(0, 3, 16)
    ours = gn.Sequential([Conv2D(4, 3, input_shape=(6, 6, 1)), GroupNormalization(groups=2), Flatten(),
                          Dense(3, activation="softmax")], seed=0)
    ours.compile("sparse_categorical_crossentropy", gn.optimizers.SGD(0.1))
    theirs = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(4, 3), keras.layers.GroupNormalization(groups=2),
                               keras.layers.Flatten(), keras.layers.Dense(3, activation="softmax")])
    theirs.compile(loss="sparse_categorical_crossentropy", optimizer=keras.optimizers.SGD(0.1))
    theirs.set_weights(ours.get_weights())
    ours.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=3, batch_size=4, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=2e-5)


def test_the_batch_does_not_matter(rng):
    x = rng.normal(size=(6, 4, 8))
    layer = GroupNormalization(groups=4, dtype="float64", seed=0)
    whole = layer(x)
    np.testing.assert_allclose(layer(x[:1]), whole[:1], rtol=1e-13)
    np.testing.assert_allclose(layer(x, training=True), whole, rtol=1e-13)


@pytest.mark.parametrize("make, message", [
    (lambda: GroupNormalization(groups=0), "groups must be a positive integer or -1"),
    (lambda: GroupNormalization(axis=-1.0), r"axis must be the channel axis"),
    # (another channel axis is taken since layerfuzz48, as Keras': tests/test_review_layerfuzz48.py)
    (lambda: gn.Sequential([GroupNormalization(groups=2, axis=3, input_shape=(3, 4))]), r"axis 3 is not a channel axis of samples of shape \(3, 4\): 1 to 2"),
    (lambda: GroupNormalization(axis=0), r"axis must be the channel axis, an integer other than 0"),
    (lambda: gn.Sequential([GroupNormalization(groups=-1, input_shape=(4,))]), "normalises each value alone"),
    (lambda: gn.Sequential([GroupNormalization(input_shape=(3, 16))]), r"groups=32 \(the default\) must divide"),
    (lambda: GroupNormalization(epsilon=0), "GroupNormalization: epsilon must be"),
    (lambda: gn.Sequential([GroupNormalization(groups=3, input_shape=(4, 8))]), "groups=3 must divide the 8 channels"),
])
def test_bad_settings_are_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_a_positive_channel_axis_an_empty_batch_and_the_unscaled_paths(rng):
    x = rng.normal(size=(3, 2, 2, 4))
    last = GroupNormalization(groups=2, dtype="float64", seed=0)
    assert np.array_equal(GroupNormalization(groups=2, axis=3, dtype="float64", seed=0)(x), last(x))
    assert last(np.empty((0, 2, 2, 4))).shape == (0, 2, 2, 4)
    from glassnet.gradcheck import check_layer
    for settings in ({"center": False}, {"scale": False}, {"center": False, "scale": False}):
        layer = GroupNormalization(groups=2, dtype="float64", **settings)
        assert check_layer(layer, x)["max_error"] < 1e-6
        out = layer(x)
        out[...] = 0                                   # an output of its own, not the cache
        assert np.abs(layer.xhat).sum() > 0


def test_an_overflowing_group_is_an_error_not_zeros():
    x = np.full((1, 2, 4), 3e19, dtype=np.float32)
    x[0, 0] = -3e19
    with pytest.raises(gn.errors.NonFiniteError, match="overflowed float32"):
        GroupNormalization(groups=2)(x)
