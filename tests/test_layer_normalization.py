"""LayerNormalization against PyTorch's nn.LayerNorm (values and every gradient) and Keras 3's
layer (outputs with the same weights), its options, in a trained and saved model, and its errors."""
import os

import numpy as np
import pytest

import glassnet as gn
from glassnet.layers import Dense, LayerNormalization


@pytest.mark.parametrize("axis,shape", [(-1, (6,)), ([-2, -1], (3, 4)), ([1, 2, 3], (3, 2, 4))])
def test_matches_torch_layer_norm(axis, shape, rng, torch):
    x = rng.standard_normal((5, *shape)) * 3 + 1
    upstream = rng.standard_normal(x.shape)
    ours = LayerNormalization(axis=axis, epsilon=1e-3, dtype="float64")
    ours.build(shape)
    normalised = shape if axis != -1 else shape[-1:]
    gamma, beta = rng.standard_normal(normalised), rng.standard_normal(normalised)
    ours.set_weights([gamma, beta])
    theirs = torch.nn.LayerNorm(normalised, eps=1e-3, dtype=torch.float64)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(gamma))
        theirs.bias.copy_(torch.tensor(beta))
    tx = torch.tensor(x, requires_grad=True)
    out = theirs(tx)
    out.backward(torch.tensor(upstream))
    np.testing.assert_allclose(ours.forward(x), out.detach().numpy(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours.backward(upstream), tx.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.grads["gamma"], theirs.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(ours.grads["beta"], theirs.bias.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("settings,shape", [({}, (5,)), ({"axis": [1, 2], "center": False}, (3, 4)),
                                            ({"scale": False, "epsilon": 0.1}, (2, 6))])
def test_matches_keras(settings, shape, rng):
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    ours = LayerNormalization(**settings)
    ours.build(shape)
    ours.set_weights([rng.standard_normal(w.shape).astype(np.float32) for w in ours.get_weights()])
    theirs = keras.layers.LayerNormalization(**settings)
    theirs.build((None, *shape))
    theirs.set_weights(ours.get_weights())
    x = (rng.standard_normal((4, *shape)) * 2).astype(np.float32)
    np.testing.assert_allclose(ours(x), keras.ops.convert_to_numpy(theirs(x)), rtol=1e-5, atol=1e-5)


def test_each_sample_alone_and_no_state(rng):
    ln = LayerNormalization(epsilon=1e-9, dtype="float64")
    x = rng.standard_normal((3, 8)) * 5 + 2
    y = ln(x)
    np.testing.assert_allclose(y.mean(axis=1), 0, atol=1e-12)
    np.testing.assert_allclose(y.std(axis=1), 1, rtol=1e-8)
    np.testing.assert_array_equal(ln(x[1:2]), y[1:2])                   # the other samples do not matter
    np.testing.assert_array_equal(ln(x, training=True), y)              # nor the mode
    assert set(ln.params) == {"gamma", "beta"} and ln.params["gamma"].shape == (8,)
    assert set(LayerNormalization(center=False, scale=False).get_config()) >= {"center", "scale"}


def test_trains_and_saves_in_a_model(tmp_path):
    (X, y), (Xt, yt) = gn.datasets.moons()
    model = gn.Sequential([Dense(16, activation="relu", input_dim=2), LayerNormalization(),
                           Dense(1, activation="sigmoid")], seed=0)
    model.compile("binary_crossentropy", gn.optimizers.Adam(0.01), metrics=["accuracy"])
    model.fit(X, y, epochs=20, batch_size=32, verbose=0)
    assert model.evaluate(Xt, yt)[1] > 0.85
    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "m.npz").predict(Xt), model.predict(Xt))


@pytest.mark.parametrize("make,match", [
    (lambda: LayerNormalization(axis=0), "axis: expected distinct axes of the input other than the batch axis 0"),
    (lambda: LayerNormalization(axis=[1, 1]), "axis: expected distinct axes"),
    (lambda: LayerNormalization(epsilon=0), "epsilon must be a finite number > 0"),
    (lambda: gn.Sequential([LayerNormalization(axis=2, input_shape=(4,))]), r"axis 2 does not name distinct axes"),
    (lambda: gn.Sequential([LayerNormalization(axis=[1, -1], input_shape=(4,))]), "does not name distinct axes"),
    (lambda: gn.Sequential([LayerNormalization(axis=-3, input_shape=(4,))]), "does not name distinct axes"),
])
def test_bad_axes_and_settings_are_refused(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_flags_are_true_or_false():
    with pytest.raises(TypeError, match="LayerNormalization: center: expected True or False"):
        LayerNormalization(center=1)


def test_axis_types_are_type_errors():
    with pytest.raises(TypeError, match="LayerNormalization: axis: expected an integer or a list of integers"):
        LayerNormalization(axis=[1, "2"])


def test_a_variance_that_overflows_float32_is_named():
    ln = LayerNormalization()
    with np.errstate(all="ignore"), pytest.raises(gn.NonFiniteError, match="variance of a sample overflowed float32"):
        ln(np.array([[1, 2, 3, 4]], dtype=np.float32) * 1e19)
    wide = LayerNormalization(dtype="float64")                     # fine in float64
    np.testing.assert_allclose(wide(np.array([[1.0, 2, 3, 4]]) * 1e19), [[-1.3416, -0.4472, 0.4472, 1.3416]],
                               atol=1e-4)


# -- RMSNormalization ----------------------------------------------------------------------------
@pytest.mark.parametrize("axis, shape", [(-1, (4, 5)), ([1, 2], (3, 4, 2)), (-2, (2, 3, 5))])
def test_rms_normalization_matches_torch_autograd(axis, shape, rng, torch):
    from glassnet.layers import RMSNormalization
    x = rng.standard_normal(shape)
    layer = RMSNormalization(axis=axis, epsilon=1e-3, dtype="float64")
    layer.build(shape[1:])
    layer.params["scale"][...] = rng.standard_normal(layer.params["scale"].shape)
    out = layer(x)
    upstream = rng.standard_normal(shape)
    dx = layer.backward(upstream)
    dims = tuple(sorted(a % len(shape) for a in (axis if isinstance(axis, list) else [axis])))
    t = torch.tensor(x, requires_grad=True)
    scale = torch.tensor(layer.params["scale"].copy(), requires_grad=True)
    view = [shape[d] if d in dims else 1 for d in range(len(shape))]
    ref = t * torch.rsqrt(t.pow(2).mean(dim=dims, keepdim=True) + 1e-3) * scale.reshape(view)
    ref.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, t.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(layer.grads["scale"], scale.grad.numpy(), rtol=1e-10, atol=1e-12)
    if dims == tuple(range(len(shape) - len(dims), len(shape))):      # trailing axes: PyTorch's own nn.RMSNorm
        norm = torch.nn.RMSNorm(tuple(shape[d] for d in dims), eps=1e-3, dtype=torch.float64)
        with torch.no_grad():
            norm.weight.copy_(scale.detach())
        np.testing.assert_allclose(out, norm(torch.tensor(x)).detach().numpy(), rtol=1e-12, atol=1e-14)


def test_rms_normalization_matches_keras_and_trains_in_a_model(rng):
    from glassnet.layers import RMSNormalization
    x = rng.standard_normal((6, 4, 5)).astype(np.float32) * 3
    ours = RMSNormalization()
    out = ours(x)
    np.testing.assert_allclose(np.sqrt((out ** 2).mean(axis=-1)), 1.0, rtol=1e-4)   # unit root mean square
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    theirs = keras.layers.RMSNormalization()
    np.testing.assert_allclose(out, np.asarray(theirs(x)), rtol=1e-6, atol=1e-6)
    assert [w.shape for w in theirs.get_weights()] == [p.shape for p in ours.params.values()]
    y = rng.standard_normal((6, 4, 3)).astype(np.float32)
    model = gn.Sequential([gn.Input((4, 5)), gn.layers.Dense(8), RMSNormalization(), gn.layers.Dense(3)], seed=0)
    twin = keras.Sequential([keras.Input((4, 5)), keras.layers.Dense(8), keras.layers.RMSNormalization(),
                             keras.layers.Dense(3)])
    twin.set_weights(model.get_weights())
    model.compile(loss="mse", optimizer=gn.optimizers.SGD(0.1))
    twin.compile(loss="mse", optimizer=keras.optimizers.SGD(0.1))
    mine = model.fit(x, y, epochs=3, batch_size=3, shuffle=False, verbose=0).history["loss"]
    their = twin.fit(x, y, epochs=3, batch_size=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(mine, their, rtol=1e-5)
    with pytest.raises(ValueError, match="RMSNormalization: epsilon"):
        RMSNormalization(epsilon=0)
    with pytest.raises(gn.errors.NonFiniteError, match="the mean square of a sample overflowed float32"):
        RMSNormalization()(np.full((1, 3), 1e30, dtype=np.float32))       # (Keras gives zeros, silently)
    np.testing.assert_allclose(RMSNormalization(dtype="float64")(np.full((1, 3), 1e30)), 1.0)
    with pytest.raises(ValueError, match="does not name distinct axes of its input"):
        RMSNormalization(axis=3)(x)


# -- UnitNormalization ---------------------------------------------------------------------------
@pytest.mark.parametrize("axis, shape", [(-1, (4, 5)), (1, (3, 4, 2)), ([1, 2], (3, 4, 2)), (-2, (2, 3, 5))])
def test_unit_normalization_matches_torch_normalize(axis, shape, rng, torch):
    from glassnet.layers import UnitNormalization
    x = rng.standard_normal(shape)
    x[0] = 0.0                                   # a zero vector: divided by the floor 1e-12, as in PyTorch
    layer = UnitNormalization(axis=axis, dtype="float64")
    out = layer(x)
    upstream = rng.standard_normal(shape)
    dx = layer.backward(upstream)
    dims = tuple(a % len(shape) for a in (axis if isinstance(axis, list) else [axis]))
    t = torch.tensor(x, requires_grad=True)
    ref = t / torch.linalg.vector_norm(t, dim=dims, keepdim=True).clamp_min(1e-12)
    ref.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, ref.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dx, t.grad.numpy(), rtol=1e-10, atol=1e-10)
    if len(dims) == 1:          # PyTorch's own F.normalize, one axis
        np.testing.assert_allclose(out, torch.nn.functional.normalize(torch.tensor(x), dim=dims[0]).numpy(),
                                   rtol=1e-12, atol=1e-14)


def test_unit_normalization_matches_keras_and_refuses_bad_axes(rng):
    from glassnet.layers import UnitNormalization
    x = rng.standard_normal((3, 4, 5)).astype(np.float32)
    out = UnitNormalization(axis=[1, 2])(x)
    np.testing.assert_allclose(np.sqrt((out ** 2).sum(axis=(1, 2))), 1.0, rtol=1e-6)
    with pytest.raises(ValueError, match=r"axis 3 does not name distinct axes of its input"):
        UnitNormalization(axis=3)(x)
    with pytest.raises(ValueError, match="UnitNormalization: axis: expected distinct axes"):
        UnitNormalization(axis=0)
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    np.testing.assert_allclose(out, np.asarray(keras.layers.UnitNormalization(axis=[1, 2])(x)), rtol=1e-6, atol=1e-7)


def test_unit_normalization_passes_a_mask_on(rng):
    from glassnet.layers import Embedding, GlobalAveragePooling1D, UnitNormalization
    model = gn.Sequential([Embedding(10, 4, mask_zero=True, input_length=5), UnitNormalization(),
                           GlobalAveragePooling1D()], seed=0)
    ids = np.array([[3, 7, 0, 0, 0]])
    table = model.layers[0].params["embeddings"]
    rows = table[[3, 7]] / np.linalg.norm(table[[3, 7]], axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict(ids, verbose=0), rows.mean(axis=0, keepdims=True), rtol=1e-6)
