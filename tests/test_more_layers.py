"""Keras' activation layers with settings (ReLU, ELU, Softmax, PReLU), the pixel-moving layers
(ZeroPadding, Cropping, UpSampling) and SpatialDropout: against PyTorch autograd (values and every
gradient, float64), Keras 3.15's outputs (float32), and their errors. The layer contract and finite
differences for each are in test_layer_contract.py."""
import numpy as np
import pytest

import glassnet as gn
from glassnet.gradcheck import check_layer
from glassnet import initializers
from glassnet.layers import (ELU, Cropping1D, Cropping2D, PReLU, ReLU, Softmax, SpatialDropout1D,
                             SpatialDropout2D, UpSampling1D, UpSampling2D, ZeroPadding1D, ZeroPadding2D)


def _ours(layer, x, upstream):
    """Output, input gradient and parameter gradients of a float64 layer."""
    layer.dtype = "float64"
    layer.build(x.shape[1:])
    out = layer.forward(x, training=False)
    dx = layer.backward(upstream)
    return out, dx, {k: g.copy() for k, g in layer.grads.items()}


def _theirs(torch, fn, x, upstream, *params):
    tx = torch.tensor(x, requires_grad=True)
    tparams = [torch.tensor(p, requires_grad=True) for p in params]
    out = fn(tx, *tparams)
    out.backward(torch.tensor(upstream))
    return out.detach().numpy(), tx.grad.numpy(), [p.grad.numpy() for p in tparams]


def _keras_relu(torch, x, max_value, slope, threshold):
    """Keras 3's ReLU, its branches (keras.src.activations.ReLU.static_call) in torch: the leaky
    relu, relu6 and the composition have torch's gradients at their kinks, as TensorFlow's."""
    F = torch.nn.functional
    if slope and max_value is None and threshold == 0:
        return F.leaky_relu(x, slope)
    negative = torch.relu(threshold - x) if slope else None
    if threshold != 0:
        x = x * (x > threshold).to(x.dtype)
    elif max_value == 6:
        x, max_value = F.relu6(x), None
    else:
        x = torch.relu(x)
    if max_value is not None:
        x = torch.clamp(x, 0, max_value)       # the gradient passes at the bounds, as tf.clip_by_value's
    return x - slope * negative if slope else x


RELUS = [dict(), dict(max_value=6.0), dict(negative_slope=0.2), dict(threshold=0.5),
         dict(max_value=1.0, negative_slope=0.1, threshold=0.3), dict(threshold=1.5, negative_slope=0.3),
         dict(max_value=0.5, threshold=1.0), dict(max_value=6.0, negative_slope=0.2), dict(max_value=2.0)]


def _relu_inputs(rng, settings):
    """Random values and every kink exactly: 0, the threshold, the ceiling, 6."""
    x = rng.standard_normal((6, 7)) * 3
    x.flat[:5] = [0.0, settings.get("threshold", 0.0), settings.get("max_value") or 1.0, 6.0, -0.0]
    return x


@pytest.mark.parametrize("settings", RELUS, ids=repr)
def test_relu_matches_torch(settings, rng, torch):
    x, up = _relu_inputs(rng, settings), rng.standard_normal((6, 7))
    out, dx, _ = _ours(ReLU(**settings), x, up)
    t_out, t_dx, _ = _theirs(torch, lambda t: _keras_relu(torch, t, settings.get("max_value"),
                                                         settings.get("negative_slope", 0.0),
                                                         settings.get("threshold", 0.0)), x, up)
    np.testing.assert_allclose(out, t_out, rtol=1e-15, atol=1e-15)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-15, atol=1e-15)


def test_relu_keeps_nan_as_keras_and_torch_do():
    for settings in RELUS:
        out = ReLU(**settings)(np.array([[np.nan, -1.0, 2.0]]))
        assert np.isnan(out[0, 0]) and np.isfinite(out[0, 1:]).all(), settings


@pytest.mark.parametrize("settings", RELUS, ids=repr)
def test_relu_matches_keras(settings, rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    tf = pytest.importorskip("tensorflow")
    x = _relu_inputs(rng, settings).astype(np.float32)
    layer = keras.layers.ReLU(**settings)
    tx = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(tx)
        theirs = layer(tx)
    up = rng.standard_normal(x.shape).astype(np.float32)
    their_dx = tape.gradient(theirs, tx, output_gradients=tf.constant(up)).numpy()
    ours = ReLU(**settings)
    np.testing.assert_allclose(ours(x), np.asarray(theirs), rtol=1e-6, atol=1e-7)
    np.testing.assert_allclose(ours.backward(up), their_dx, rtol=1e-6, atol=1e-7)    # the kinks too


@pytest.mark.parametrize("alpha", [1.0, 0.3, 2.5])
def test_elu_matches_torch(alpha, rng, torch):
    x, up = rng.standard_normal((5, 6)) * 3, rng.standard_normal((5, 6))
    out, dx, _ = _ours(ELU(alpha), x, up)
    t_out, t_dx, _ = _theirs(torch, lambda t: torch.nn.functional.elu(t, alpha), x, up)
    np.testing.assert_allclose(out, t_out, rtol=1e-14)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-13, atol=1e-16)     # alpha e^x, rounded otherwise


@pytest.mark.parametrize("axis", [-1, 1, [1, 2], [-1, -3]])
def test_softmax_matches_torch(axis, rng, torch):
    x, up = rng.standard_normal((3, 4, 5, 2)) * 10, rng.standard_normal((3, 4, 5, 2))
    dims = sorted(a % 4 for a in (axis if isinstance(axis, list) else [axis]))

    def softmax(t):      # torch's softmax takes one dim: the named axes moved last and flattened
        rest = [d for d in range(4) if d not in dims]
        moved = t.permute(*rest, *dims)
        flat = moved.reshape(*moved.shape[:len(rest)], -1).softmax(-1).reshape(moved.shape)
        return flat.permute(*np.argsort(rest + dims).tolist())
    out, dx, _ = _ours(Softmax(axis=axis), x, up)
    t_out, t_dx, _ = _theirs(torch, softmax, x, up)
    np.testing.assert_allclose(out, t_out, rtol=1e-13, atol=1e-300)
    # dx = s (up - sum(s up)): the sum's rounding (~1e-16 of values near 1) is absolute, and PyTorch
    # sums in another order on some CPUs (AVX-512: 1.3e-15 apart on an entry of 8.8e-6)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-12, atol=1e-14)


def test_softmax_matches_keras_and_is_stable(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x = (rng.standard_normal((3, 4, 5)) * 5).astype(np.float32)
    for axis in (-1, 1, [1, 2]):
        np.testing.assert_allclose(Softmax(axis=axis)(x), np.asarray(keras.layers.Softmax(axis=axis)(x)), rtol=2e-6,
                                   atol=1e-7)
    assert np.isfinite(Softmax()(np.array([[1e4, -1e4, 0.0]]))).all()


def test_a_softmax_layer_last_fuses_and_trains_as_the_activation():
    x = np.random.default_rng(0).standard_normal((40, 4))
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0).astype(int)
    runs = []
    for last in ([gn.layers.Dense(3), gn.layers.Softmax()], [gn.layers.Dense(3, activation="softmax")]):
        model = gn.Sequential([gn.layers.Dense(5, activation="tanh", input_dim=4), *last], seed=1)
        model.compile(loss="sparse_categorical_crossentropy", optimizer="sgd")
        runs.append((model.fit(x, y, epochs=3, batch_size=8, verbose=0).history["loss"], model._fused))
    assert runs[0] == runs[1] and runs[0][1]
    # over another axis it is no output activation to fuse with
    model = gn.Sequential([gn.layers.Reshape((2, 2), input_shape=(4,)), gn.layers.Softmax(axis=1)])
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    assert not model._fused


@pytest.mark.parametrize("shape,shared", [((3, 4), None), ((3, 4), [1]), ((3, 3, 2), [1, 2]), ((5,), None)])
def test_prelu_matches_torch(shape, shared, rng, torch):
    x, up = rng.standard_normal((4, *shape)), rng.standard_normal((4, *shape))
    layer = PReLU(alpha_initializer=initializers.RandomNormal(0.2, 0.3), shared_axes=shared, seed=0)
    out, dx, grads = _ours(layer, x, up)
    alpha = layer.params["alpha"].copy()
    # Keras' composition: relu(x) - alpha * relu(-x)
    t_out, t_dx, (t_da,) = _theirs(torch, lambda t, a: torch.relu(t) - a * torch.relu(-t), x, up, alpha)
    np.testing.assert_allclose(out, t_out, rtol=1e-14)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-14)
    np.testing.assert_allclose(grads["alpha"], t_da, rtol=1e-12)
    if shared == [1, 2]:         # one slope per channel: PyTorch's nn.PReLU(channels) on NCHW
        prelu = torch.nn.functional.prelu(torch.tensor(x).permute(0, 3, 1, 2), torch.tensor(alpha.ravel()))
        np.testing.assert_allclose(out, prelu.permute(0, 2, 3, 1).numpy(), rtol=1e-15)


def test_prelu_trains_saves_and_matches_keras(rng, tmp_path):
    x = rng.standard_normal((32, 4))
    y = (x.sum(axis=1) > 0).astype(int)
    model = gn.Sequential([gn.layers.Dense(6, input_dim=4),
                           PReLU(alpha_regularizer=gn.regularizers.L2(0.01),
                                 alpha_constraint=gn.constraints.NonNeg()),
                           gn.layers.Dense(1, activation="sigmoid")], seed=0)
    assert (model.layers[1].params["alpha"] == 0).all()          # Keras' zeros: a relu at first
    model.compile(loss="binary_crossentropy", optimizer=gn.optimizers.Adam(0.05))
    model.fit(x, y, epochs=5, batch_size=8, verbose=0)
    alpha = model.layers[1].params["alpha"]
    assert alpha.any() and (alpha >= 0).all()                      # trained, and kept by its constraint
    model.save(tmp_path / "p.npz")
    loaded = gn.load_model(tmp_path / "p.npz")
    assert loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    theirs = keras.layers.PReLU(shared_axes=[1])
    x3 = rng.standard_normal((2, 3, 4)).astype(np.float32)
    theirs.build(x3.shape)
    ours = PReLU(shared_axes=[1], alpha_initializer=initializers.RandomNormal(0.3, 0.2), seed=1)
    ours.build(x3.shape[1:])
    theirs.set_weights(ours.get_weights())                          # the same shape: (1, 4)
    np.testing.assert_allclose(ours(x3), np.asarray(theirs(x3)), rtol=1e-6)


@pytest.mark.parametrize("padding,expected", [(1, ((1, 1), (1, 1))), ((2, 0), ((2, 2), (0, 0))),
                                              (((1, 0), (0, 3)), ((1, 0), (0, 3)))])
def test_zero_padding_and_cropping_2d_match_torch(padding, expected, rng, torch):
    x, (t, b), (l, r) = rng.standard_normal((2, 4, 5, 3)), *expected
    padded = ZeroPadding2D(padding)
    up = rng.standard_normal((2, 4 + t + b, 5 + l + r, 3))
    out, dx, _ = _ours(padded, x, up)
    t_out, t_dx, _ = _theirs(torch, lambda u: torch.nn.functional.pad(u, (0, 0, l, r, t, b)), x, up)
    np.testing.assert_array_equal(out, t_out)
    np.testing.assert_array_equal(dx, t_dx)
    cropped = Cropping2D(padding)                   # the same formats; cropping undoes padding
    np.testing.assert_array_equal(cropped(out.astype(np.float32)), x.astype(np.float32))
    up2 = rng.standard_normal(x.shape)
    c_out, c_dx, _ = _ours(Cropping2D(padding), out, up2)
    t_out, t_dx, _ = _theirs(torch, lambda u: u[:, t:u.shape[1] - b, l:u.shape[2] - r], out, up2)
    np.testing.assert_array_equal(c_out, t_out)
    np.testing.assert_array_equal(c_dx, t_dx)
    assert c_out.flags.c_contiguous


def test_one_dimensional_padding_cropping_and_upsampling_match_torch(rng, torch):
    x = rng.standard_normal((2, 5, 3))
    for layer, fn, out_len in [
            (ZeroPadding1D((2, 1)), lambda u: torch.nn.functional.pad(u, (0, 0, 2, 1)), 8),
            (Cropping1D((1, 2)), lambda u: u[:, 1:3], 2),
            (UpSampling1D(3), lambda u: torch.repeat_interleave(u, 3, dim=1), 15)]:
        up = rng.standard_normal((2, out_len, 3))
        out, dx, _ = _ours(layer, x, up)
        t_out, t_dx, _ = _theirs(torch, fn, x, up)
        np.testing.assert_allclose(out, t_out, rtol=1e-15)
        np.testing.assert_allclose(dx, t_dx, rtol=1e-14)
        assert layer.output_shape((5, 3)) == (out_len, 3)


@pytest.mark.parametrize("size", [2, (2, 3), (1, 4)])
def test_upsampling_2d_matches_torch_nearest(size, rng, torch):
    sh, sw = (size, size) if isinstance(size, int) else size
    x, up = rng.standard_normal((2, 3, 4, 2)), rng.standard_normal((2, 3 * sh, 4 * sw, 2))

    def nearest(u):
        nchw = u.permute(0, 3, 1, 2)
        return torch.nn.functional.interpolate(nchw, scale_factor=(sh, sw), mode="nearest").permute(0, 2, 3, 1)
    out, dx, _ = _ours(UpSampling2D(size), x, up)
    t_out, t_dx, _ = _theirs(torch, nearest, x, up)
    np.testing.assert_array_equal(out, t_out)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-14)


@pytest.mark.parametrize("size", [2, (3, 1), (1, 4), (3, 2)])
def test_bilinear_upsampling_matches_torch_keras_and_finite_differences(size, rng, torch):
    sh, sw = (size, size) if isinstance(size, int) else size
    x, up = rng.standard_normal((2, 3, 5, 2)), rng.standard_normal((2, 3 * sh, 5 * sw, 2))

    def bilinear(u):     # TensorFlow's half-pixel centres are PyTorch's align_corners=False
        nchw = u.permute(0, 3, 1, 2)
        return torch.nn.functional.interpolate(nchw, scale_factor=(sh, sw), mode="bilinear",
                                               align_corners=False).permute(0, 2, 3, 1)
    out, dx, _ = _ours(UpSampling2D(size, interpolation="bilinear"), x, up)
    t_out, t_dx, _ = _theirs(torch, bilinear, x, up)
    np.testing.assert_allclose(out, t_out, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(dx, t_dx, rtol=1e-13, atol=1e-14)
    report = check_layer(UpSampling2D(size, interpolation="bilinear", dtype="float64"), x)
    assert report["max_error"] < 1e-6
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x32 = x.astype(np.float32)
    np.testing.assert_allclose(UpSampling2D(size, interpolation="bilinear")(x32),
                               np.asarray(keras.layers.UpSampling2D(size, interpolation="bilinear")(x32)), atol=1e-6)


def test_pixel_layers_match_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    x2, x1 = rng.standard_normal((2, 5, 6, 3)).astype(np.float32), rng.standard_normal((2, 5, 3)).astype(np.float32)
    for ours, theirs, x in [
            (ZeroPadding2D(((1, 2), (0, 1))), keras.layers.ZeroPadding2D(((1, 2), (0, 1))), x2),
            (ZeroPadding2D(), keras.layers.ZeroPadding2D(), x2),
            (Cropping2D((1, 2)), keras.layers.Cropping2D((1, 2)), x2),
            (UpSampling2D((2, 1)), keras.layers.UpSampling2D((2, 1)), x2),
            (ZeroPadding1D(), keras.layers.ZeroPadding1D(), x1),
            (Cropping1D(), keras.layers.Cropping1D(), x1),
            (UpSampling1D(), keras.layers.UpSampling1D(), x1)]:
        np.testing.assert_array_equal(ours(x), np.asarray(theirs(x)))


@pytest.mark.parametrize("layer,shape", [(SpatialDropout2D(0.4, seed=0), (200, 3, 3, 50)),
                                         (SpatialDropout1D(0.4, seed=0), (200, 7, 50))])
def test_spatial_dropout_drops_whole_channels(layer, shape):
    x = np.ones(shape, dtype=np.float32)
    y = layer(x, training=True)
    per_channel = y.reshape(shape[0], -1, shape[-1])
    assert (per_channel == per_channel[:, :1]).all()           # one value per (sample, channel)
    assert set(np.unique(y).tolist()) == {0.0, np.float32(1 / 0.6)}
    assert abs((per_channel[:, 0] == 0).mean() - 0.4) < 0.03
    np.testing.assert_array_equal(layer.backward(np.ones_like(y)), y)     # the same mask, scaled
    np.testing.assert_array_equal(layer(x, training=False), x)


@pytest.mark.parametrize("make,message", [
    (lambda: ZeroPadding2D((1, 2, 3)), r"ZeroPadding2D: padding must be a non-negative integer, 2 of them, "
                                       r"or 2 pairs \(before, after\), got \(1, 2, 3\)"),
    (lambda: ZeroPadding1D(-1), r"ZeroPadding1D: padding must be a non-negative integer or a pair"),
    (lambda: Cropping2D(((1, 0), (True, 0))), r"Cropping2D: cropping must be"),
    (lambda: gn.Sequential([Cropping2D(2, input_shape=(4, 6, 1))]),
     r"layer cropping2d \(Cropping2D\): cropping \(\(2, 2\), \(2, 2\)\) leaves nothing of input samples of spatial shape \(4, 6\)"),
    (lambda: UpSampling2D(0), r"UpSampling2D: size must be a positive integer or 2 of them, got 0"),
    (lambda: UpSampling2D(interpolation="gaussian"), r"UpSampling2D: interpolation must be one of \['nearest', 'bilinear', 'bicubic', 'area', 'lanczos3', 'lanczos5'\], got 'gaussian'"),
    (lambda: gn.Sequential([UpSampling2D(input_shape=(4, 3))]),
     r"layer up_sampling2d \(UpSampling2D\): expected input of shape \(batch, height, width, channels\)"),
    (lambda: Softmax(axis=0), r"Softmax: axis: expected distinct axes of the input other than the batch axis 0"),
    (lambda: gn.Sequential([Softmax(axis=3, input_shape=(4,))]), r"layer softmax \(Softmax\): axis 3 does not name"),
    (lambda: PReLU(shared_axes=[0]), r"PReLU: shared_axes: expected None, or distinct axes"),
    (lambda: gn.Sequential([PReLU(shared_axes=[2], input_shape=(4,))]), r"layer p_re_lu \(PReLU\): shared_axes \[2\] name an axis"),
    (lambda: ReLU(max_value=-1), r"ReLU: max_value must be a finite number >= 0, got -1"),
    (lambda: ReLU(threshold=-0.5), r"ReLU: threshold must be a finite number >= 0, got -0.5"),   # Keras' rule
    (lambda: ReLU(negative_slope=float("nan")), r"ReLU: negative_slope must be"),
    (lambda: ELU(alpha="1"), r"ELU: alpha must be a finite number, got '1'"),
    (lambda: gn.Sequential([SpatialDropout2D(0.5, input_shape=(4, 3))]),
     r"layer spatial_dropout2d \(SpatialDropout2D\): expected input of shape \(batch, height, width, channels\)"),
    (lambda: SpatialDropout1D(1.0), r"SpatialDropout1D: rate must be a number in \[0, 1\), got 1.0"),
], ids=lambda v: "" if callable(v) else v[:30])
def test_bad_arguments_are_refused_by_name(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_keras_formats_and_sizes_the_layers_also_take(rng):
    with pytest.raises(TypeError, match=r"UpSampling1D: unexpected keyword argument 'interpolation'"):
        UpSampling1D(2, interpolation="bilinear")          # Keras' UpSampling1D has none
    # Keras' mix of a pair and a count
    assert ZeroPadding2D(((1, 0), 2)).padding == ((1, 0), (2, 2)) == Cropping2D([[1, 0], 2]).cropping
    # a Softmax over the last axis, named by its index, fuses too
    model = gn.Sequential([gn.layers.Dense(3, input_dim=2), Softmax(axis=1)])
    model.compile(loss="categorical_crossentropy", optimizer="sgd")
    assert model._fused and Softmax(axis=[-1]).activation is not None
    # PReLU with shared axes takes other sizes along them
    layer = PReLU(shared_axes=[1, 2], alpha_initializer="random_normal")
    layer.build((4, 4, 3))
    layer.check_input_shape((6, 6, 3))
    assert layer(rng.standard_normal((2, 6, 6, 3))).shape == (2, 6, 6, 3)
    with pytest.raises(ValueError, match=r"any size on the shared axes \[1, 2\]\), got \(6, 6, 2\)"):
        layer.check_input_shape((6, 6, 2))


def test_elu_gradient_far_below_zero_in_float32(torch):
    x = np.array([[-20.0, -17.0, -5.0]], dtype=np.float32)
    layer = ELU(1.0)
    layer(x)
    t = torch.tensor(x, requires_grad=True)
    torch.nn.functional.elu(t).backward(torch.ones_like(t))
    np.testing.assert_allclose(layer.backward(np.ones_like(x)), t.grad.numpy(), rtol=1e-6)


def test_identity_rescaling_and_activity_regularization(rng, tmp_path):
    from glassnet.layers import ActivityRegularization, Identity, Rescaling
    x = rng.uniform(0, 255, (4, 3)).astype(np.float32)
    layer = Rescaling(1 / 127.5, offset=-1.0)
    out = layer(x)
    assert out.dtype == np.float32 and out.min() >= -1 and out.max() <= 1
    np.testing.assert_allclose(out, x / 127.5 - 1, rtol=1e-6)
    np.testing.assert_allclose(layer.backward(np.ones_like(x)), np.full_like(x, 1 / 127.5), rtol=1e-7)
    assert Identity()(x) is x
    # ActivityRegularization is the penalty of an activity_regularizer, as a layer of its own
    y = rng.integers(0, 2, 4)
    with_layer = gn.Sequential([gn.layers.Dense(3, input_dim=3), ActivityRegularization(l1=0.1, l2=0.2),
                                gn.layers.Dense(1, activation="sigmoid")], seed=0)
    with_argument = gn.Sequential([gn.layers.Dense(3, input_dim=3,
                                                   activity_regularizer=gn.regularizers.L1L2(0.1, 0.2)),
                                   gn.layers.Dense(1, activation="sigmoid")], seed=0)
    for model in (with_layer, with_argument):
        model.compile(loss="binary_crossentropy", optimizer="sgd")
    with_layer.set_weights(with_argument.get_weights())     # the same weights (it has none of its own)
    assert with_layer.evaluate(x, y) == pytest.approx(with_argument.evaluate(x, y), rel=1e-6)
    assert ActivityRegularization(0.1).get_config() == {"name": None, "l1": 0.1, "l2": 0.0}
    with pytest.raises(ValueError, match=r"ActivityRegularization: l1 must be a finite number >= 0"):
        ActivityRegularization(-1)
    with pytest.raises(ValueError, match=r"Rescaling: scale must be a finite number"):
        Rescaling("1/255")
    # a penalty set on the layer afterwards is what its config (and a file) records
    layer = with_layer.layers[1]
    layer.activity_regularizer = gn.regularizers.L2(1.0)
    assert layer.get_config()["l1"] == 0.0 and layer.get_config()["l2"] == 1.0
    layer.activity_regularizer = None
    assert ActivityRegularization.from_config(layer.get_config()).activity_regularizer == gn.regularizers.L1L2(0, 0)
    assert Rescaling(1 / 255).forward(np.array([[255]], np.uint8)).tolist() == [[1.0]]
    # Keras' other names are the same classes
    assert gn.layers.MaxPool2D is gn.layers.MaxPooling2D and gn.layers.Convolution2D is gn.layers.Conv2D
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    np.testing.assert_allclose(out, np.asarray(keras.layers.Rescaling(1 / 127.5, offset=-1.0)(x)), rtol=1e-6)


def test_rescaling_per_channel_matches_keras_and_torch(rng, tmp_path):
    # Keras takes one scale and offset per channel (ImageNet's mean/std); glassnet refused them
    from glassnet.layers import Rescaling
    mean, std = np.array([0.485, 0.456, 0.406]), np.array([0.229, 0.224, 0.225])
    scale, offset = 1 / (255 * std), -mean / std
    x = rng.uniform(0, 255, (2, 4, 5, 3)).astype(np.float32)
    layer = Rescaling(scale, offset=offset.tolist())
    out = layer(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, (x / 255 - mean) / std, rtol=1e-5, atol=1e-5)
    torch = pytest.importorskip("torch", reason="PyTorch oracle not installed")
    t = torch.tensor(x.astype(np.float64), requires_grad=True)
    g = rng.normal(size=x.shape)
    (t * torch.tensor(scale) + torch.tensor(offset)).backward(torch.tensor(g))
    np.testing.assert_allclose(layer.backward(g.astype(np.float32)), t.grad.numpy(), rtol=1e-5)
    check_layer(Rescaling([0.5, -2.0, 3.0], offset=[1.0, 0.0, -1.0]), rng.normal(size=(2, 3, 3)))
    # its config holds lists: a model file keeps it, and a mismatched shape is refused by name
    model = gn.Sequential([gn.layers.Input((4, 5, 3)), Rescaling(scale, offset=offset),
                           gn.layers.Flatten(), gn.layers.Dense(2)], seed=0)
    model.save(tmp_path / "m.npz")
    np.testing.assert_array_equal(gn.load_model(tmp_path / "m.npz").predict(x), model.predict(x))
    for bad in ([1.0, 2.0], [[1.0], [2.0]]):
        with pytest.raises(ValueError, match=r"Rescaling: scale of shape .* must broadcast onto a sample"):
            Rescaling(bad)(x)
    with pytest.raises(ValueError, match="offset must be a finite number or finite numbers"):
        Rescaling(1.0, offset=[0.0, np.nan, 1.0])
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    np.testing.assert_allclose(out, np.asarray(keras.layers.Rescaling(scale, offset=offset)(x)), rtol=1e-5, atol=1e-6)
