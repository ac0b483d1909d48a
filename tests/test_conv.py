"""Conv2D / Conv1D: shapes, finite differences, PyTorch parity (float64), errors, config."""
import numpy as np
import pytest

from glassnet.gradcheck import check_layer
from glassnet.layers import Conv1D, Conv2D
from glassnet.layers.conv import conv_backward, conv_forward, conv_output_length


def tf_same_pads(size, k, s):
    """TensorFlow's "same" padding, worked out independently of the code under test."""
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


# (input sample shape, filters, kernel_size, strides, padding): odd sizes, both paddings, strides
CASES_2D = [
    ((7, 6, 3), 4, 3, 1, "valid"),
    ((7, 6, 3), 4, 3, 1, "same"),
    ((8, 7, 2), 3, (3, 2), (2, 3), "valid"),
    ((8, 7, 2), 3, (3, 2), (2, 3), "same"),
    ((6, 6, 1), 2, 4, 2, "same"),      # even kernel, stride 2: the odd padding pixel goes bottom/right
    ((5, 9, 1), 3, (1, 3), 1, "valid"),
    ((5, 5, 3), 2, 5, 2, "same"),
]
CASES_1D = [((11, 3), 4, 3, 1, "valid"), ((11, 3), 4, 4, 2, "same"), ((10, 1), 2, 5, 3, "same"),
            ((9, 2), 3, 2, 2, "valid")]


def build(cls, sample_shape, filters, k, s, padding, seed=0, **kw):
    layer = cls(filters, k, strides=s, padding=padding, dtype="float64", seed=seed,
                bias_initializer="random_normal", **kw)     # a non-zero bias exercises its gradient
    layer.build(sample_shape)
    return layer


@pytest.mark.parametrize("case", CASES_2D)
def test_conv2d_gradcheck(case, rng):
    shape, f, k, s, padding = case
    layer = build(Conv2D, shape, f, k, s, padding, activation="tanh")
    report = check_layer(layer, rng.standard_normal((2, *shape)))
    assert set(report["errors"]) == {"input", "kernel", "bias"}


@pytest.mark.parametrize("case", CASES_1D)
def test_conv1d_gradcheck(case, rng):
    shape, f, k, s, padding = case
    check_layer(build(Conv1D, shape, f, k, s, padding), rng.standard_normal((3, *shape)))


def test_conv_without_bias_gradcheck(rng):
    layer = Conv2D(3, 2, use_bias=False, dtype="float64", seed=1)
    assert set(check_layer(layer, rng.standard_normal((2, 4, 5, 2)))["errors"]) == {"input", "kernel"}


def torch_conv(torch, x, kernel, bias, strides, padding, upstream):
    """PyTorch's conv on the same data: channels-first, kernel (O, C, *k), "same" padded like TF."""
    F = torch.nn.functional
    rank = kernel.ndim - 2
    xt = torch.tensor(np.moveaxis(x, -1, 1), requires_grad=True)
    wt = torch.tensor(np.transpose(kernel, (rank + 1, rank, *range(rank))).copy(), requires_grad=True)
    bt = torch.tensor(bias, requires_grad=True)
    xin = xt
    if padding == "same":
        pads = []
        for axis in reversed(range(rank)):      # F.pad lists the last axis first
            pads += tf_same_pads(x.shape[1 + axis], kernel.shape[axis], strides[axis])
        xin = F.pad(xt, pads)
    conv = F.conv2d if rank == 2 else F.conv1d
    out = conv(xin, wt, bt, stride=tuple(strides))
    out.backward(torch.tensor(np.moveaxis(upstream, -1, 1)))
    return (np.moveaxis(out.detach().numpy(), 1, -1), np.moveaxis(xt.grad.numpy(), 1, -1),
            np.transpose(wt.grad.numpy(), (*range(2, 2 + rank), 1, 0)), bt.grad.numpy())


@pytest.mark.parametrize("cls,case", [(Conv2D, c) for c in CASES_2D] + [(Conv1D, c) for c in CASES_1D])
def test_conv_matches_torch(cls, case, rng, torch):
    shape, f, k, s, padding = case
    layer = build(cls, shape, f, k, s, padding)
    x = rng.standard_normal((3, *shape))
    out = layer.forward(x)
    upstream = rng.standard_normal(out.shape)
    dx = layer.backward(upstream)
    ref = torch_conv(torch, x, layer.params["kernel"], layer.params["bias"], layer.strides, padding,
                     upstream)
    for mine, theirs in zip((out, dx, layer.grads["kernel"], layer.grads["bias"]), ref):
        assert mine.shape == theirs.shape
        np.testing.assert_allclose(mine, theirs, rtol=0, atol=1e-10)


def test_activation_and_backward_from_logits(rng):
    layer = build(Conv2D, (5, 5, 2), 3, 3, 1, "same", activation="relu")
    x = rng.standard_normal((2, 5, 5, 2))
    a = layer.forward(x)
    np.testing.assert_array_equal(a, np.maximum(layer.z, 0))
    assert layer.x is x and layer.a is a
    g = rng.standard_normal(a.shape)
    dx = layer.backward(g)
    dk = layer.grads["kernel"].copy()
    dx2 = layer.backward_from_logits(g * (layer.z > 0))
    np.testing.assert_allclose(dx2, dx)
    np.testing.assert_allclose(layer.grads["kernel"], dk)


def test_shapes_and_output_shape_keras_values():
    # values that Keras reports for the same layers
    assert Conv2D(8, 3).output_shape((28, 28, 1)) == (26, 26, 8)
    assert Conv2D(8, 3, padding="same").output_shape((28, 28, 1)) == (28, 28, 8)
    assert Conv2D(8, 3, strides=2, padding="same").output_shape((28, 28, 1)) == (14, 14, 8)
    assert Conv2D(8, 3, strides=2).output_shape((28, 28, 1)) == (13, 13, 8)
    assert Conv1D(4, 5, strides=2, padding="same").output_shape((40, 3)) == (20, 4)
    assert conv_output_length(5, 2, 2, "same") == (3, (0, 1))
    assert conv_output_length(6, 4, 2, "same") == (3, (1, 1))
    layer = Conv2D(8, 3, seed=0)
    y = layer(np.ones((2, 28, 28, 1)))
    assert y.shape == (2, 26, 26, 8) and y.dtype == np.float32
    assert layer.params["kernel"].shape == (3, 3, 1, 8) and layer.params["bias"].shape == (8,)
    assert Conv1D(4, 5, seed=0)(np.ones((1, 9, 3))).shape == (1, 5, 4)


def test_float32_stays_float32(rng):
    layer = Conv2D(4, 3, seed=0, padding="same")
    x = rng.standard_normal((2, 6, 6, 3)).astype(np.float32)
    y = layer(x)
    dx = layer.backward(np.ones_like(y))
    assert y.dtype == dx.dtype == layer.grads["kernel"].dtype == np.float32


def test_pure_functions_allocate_gradients(rng):
    x, k, b = rng.standard_normal((2, 5, 5, 2)), rng.standard_normal((3, 3, 2, 4)), rng.standard_normal(4)
    z, cache = conv_forward(x, k, b, (1, 1), "same")
    dx, dk, db = conv_backward(np.ones_like(z), cache, k)
    assert dx.shape == x.shape and dk.shape == k.shape and db.shape == b.shape
    np.testing.assert_allclose(db, np.full(4, 50.0))


def test_errors():
    with pytest.raises(ValueError, match=r"Conv2D.*expected input of shape \(batch, height, width, channels\).*\(batch, 5\)"):
        Conv2D(2, 3)(np.ones((4, 5)))
    with pytest.raises(ValueError, match=r"kernel_size \(5, 5\) does not fit.*\(3, 3, 1\)"):
        Conv2D(2, 5)(np.ones((1, 3, 3, 1)))
    Conv2D(2, 5, padding="same")(np.ones((1, 3, 3, 1)))          # fits once padded
    layer = Conv2D(2, 3, name="c1")
    layer(np.ones((1, 5, 5, 3)))
    with pytest.raises(ValueError, match=r"layer c1 \(Conv2D\).*\(5, 5, 3\).*got \(5, 5, 2\)"):
        layer(np.ones((1, 5, 5, 2)))
    with pytest.raises(ValueError, match=r"layer c1 \(Conv2D\).*got \(5, 5, 2\)"):
        layer.forward(np.ones((1, 5, 5, 2), dtype=np.float32))      # the model's path checks too
    with pytest.raises(ValueError, match=r"Conv1D.*\(batch, length, channels\)"):
        Conv1D(2, 3)(np.ones((1, 5, 5, 2)))
    with pytest.raises(ValueError, match="padding"):
        Conv2D(2, 3, padding="full")
    with pytest.raises(ValueError, match="filters"):
        Conv2D(0, 3)
    with pytest.raises(ValueError, match="kernel_size"):
        Conv2D(2, (3, 3, 3))
    with pytest.raises(ValueError, match="strides"):
        Conv1D(2, 3, strides=0)
    # not a sequence either: the same message, not "'float' object is not iterable"
    with pytest.raises(ValueError, match=r"Conv2D: kernel_size must be a positive integer or 2 of them, got 3\.0"):
        Conv2D(2, 3.0)
    with pytest.raises(ValueError, match=r"Conv2D: strides must be .* got None"):
        Conv2D(2, 3, strides=None)


def test_config_round_trip():
    import json
    layer = Conv2D(6, (3, 2), strides=(2, 1), padding="same", activation="relu", name="c",
                   kernel_initializer="he_normal", input_shape=(9, 9, 1))
    config = json.loads(json.dumps(layer.get_config()))
    assert config == {"name": "c", "input_shape": [9, 9, 1], "filters": 6, "kernel_size": [3, 2],
                      "strides": [2, 1], "dilation_rate": [1, 1], "padding": "same", "activation": "relu", "use_bias": True,
                      "kernel_initializer": "he_normal", "bias_initializer": "zeros"}
    clone = Conv2D.from_config(config)
    assert clone.get_config() == config
    assert Conv1D.from_config(Conv1D(3, 4).get_config()).kernel_size == (4,)


def test_first_layer_skips_input_gradient(rng):
    layer = build(Conv2D, (6, 6, 1), 3, 3, 2, "same")
    x = rng.standard_normal((2, 6, 6, 1))
    layer.forward(x)
    g = rng.standard_normal((2, 3, 3, 3))
    layer.backward(g)
    dk, db = layer.grads["kernel"].copy(), layer.grads["bias"].copy()
    layer.needs_input_gradient = False            # what Sequential sets on its first layer
    layer.forward(x)
    assert layer.backward(g) is None
    np.testing.assert_array_equal(layer.grads["kernel"], dk)
    np.testing.assert_array_equal(layer.grads["bias"], db)


def test_im2col_rows_are_receptive_fields(rng):
    from glassnet.layers.conv import im2col
    for c in (1, 3):                                   # both copy paths
        xp = rng.standard_normal((2, 5, 6, c))
        cols = im2col(xp, (2, 3), (2, 1), (2, 4), ones_column=True)
        assert cols.shape == (2 * 2 * 4, 2 * 3 * c + 1)
        np.testing.assert_array_equal(cols[:, -1], 1)
        row = cols.reshape(2, 2, 4, -1)[1, 1, 2, :-1]  # sample 1, output (1, 2): rows 2-3, cols 2-4
        np.testing.assert_array_equal(row, xp[1, 2:4, 2:5, :].ravel())


def test_forward_names_the_layer_when_the_kernel_does_not_fit():
    layer = Conv2D(2, 3, name="c2", dtype="float64")
    layer.build((8, 8, 1))
    with pytest.raises(ValueError, match=r"layer c2 \(Conv2D\): kernel_size \(3, 3\) does not fit.*\(2, 8, 1\)"):
        layer.forward(np.ones((1, 2, 8, 1)))


# -- dilation and causal padding ---------------------------------------------------------------------
# (class, input sample shape, filters, kernel_size, padding, dilation_rate)
DILATED = [(Conv2D, (9, 8, 2), 3, 3, "valid", 2), (Conv2D, (9, 8, 2), 3, (3, 2), "same", (2, 3)),
           (Conv2D, (7, 7, 1), 2, 2, "same", 3), (Conv1D, (12, 3), 4, 3, "valid", 3),
           (Conv1D, (12, 3), 4, 2, "same", 2), (Conv1D, (10, 2), 3, 3, "causal", 2),
           (Conv1D, (10, 1), 2, 4, "causal", 1)]


def _dilated(cls, shape, f, k, padding, d):
    layer = cls(f, k, padding=padding, dilation_rate=d, dtype="float64", seed=0, bias_initializer="random_normal")
    layer.build(shape)
    return layer


@pytest.mark.parametrize("case", DILATED, ids=str)
def test_dilated_and_causal_convolutions_match_torch(case, rng, torch):
    cls, shape, f, k, padding, d = case
    layer = _dilated(*case)
    x = rng.standard_normal((3, *shape))
    out = layer.forward(x)
    upstream = rng.standard_normal(out.shape)
    dx = layer.backward(upstream)
    F, rank = torch.nn.functional, len(shape) - 1
    kernel, dilation = layer.params["kernel"], layer.dilation_rate
    xt = torch.tensor(np.moveaxis(x, -1, 1), requires_grad=True)
    wt = torch.tensor(np.transpose(kernel, (rank + 1, rank, *range(rank))).copy(), requires_grad=True)
    pads = []
    for axis in reversed(range(rank)):          # F.pad lists the last axis first
        span = (kernel.shape[axis] - 1) * dilation[axis] + 1
        pads += {"valid": (0, 0), "causal": (span - 1, 0),
                 "same": tf_same_pads(shape[axis], span, 1)}[padding]
    conv = F.conv2d if rank == 2 else F.conv1d
    ref = conv(F.pad(xt, pads), wt, torch.tensor(layer.params["bias"]), dilation=tuple(dilation))
    ref.backward(torch.tensor(np.moveaxis(upstream, -1, 1)))
    np.testing.assert_allclose(out, np.moveaxis(ref.detach().numpy(), 1, -1), atol=1e-10)
    np.testing.assert_allclose(dx, np.moveaxis(xt.grad.numpy(), 1, -1), atol=1e-10)
    np.testing.assert_allclose(layer.grads["kernel"], np.transpose(wt.grad.numpy(), (*range(2, 2 + rank), 1, 0)),
                               atol=1e-10)


@pytest.mark.parametrize("case", DILATED, ids=str)
def test_dilated_and_causal_gradcheck(case, rng):
    layer = _dilated(*case)
    assert set(check_layer(layer, rng.standard_normal((2, *case[1])))["errors"]) == {"input", "kernel", "bias"}


def test_causal_output_t_sees_inputs_up_to_t_only(rng):
    layer = Conv1D(2, 3, padding="causal", dilation_rate=2, seed=0)
    x = rng.standard_normal((1, 10, 1)).astype(np.float32)
    changed = x.copy()
    changed[:, 6:] += 1.0                      # the future from step 6 on
    a, b = layer(x), layer(changed)
    assert a.shape == (1, 10, 2)
    np.testing.assert_array_equal(a[:, :6], b[:, :6])
    assert not np.allclose(a[:, 6:], b[:, 6:])


def test_causal_dilated_conv1d_trains_as_keras(rng):
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    import glassnet as gn
    x = rng.standard_normal((32, 16, 2)).astype(np.float32)
    y = rng.standard_normal((32, 16, 1)).astype(np.float32)
    ours = gn.Sequential([Conv1D(4, 2, padding="causal", dilation_rate=1, activation="relu", input_shape=(16, 2)),
                          Conv1D(4, 2, padding="causal", dilation_rate=2, activation="relu"),
                          Conv1D(1, 2, padding="causal", dilation_rate=4)], seed=0)
    theirs = keras.Sequential([keras.Input((16, 2)),
                               keras.layers.Conv1D(4, 2, padding="causal", dilation_rate=1, activation="relu"),
                               keras.layers.Conv1D(4, 2, padding="causal", dilation_rate=2, activation="relu"),
                               keras.layers.Conv1D(1, 2, padding="causal", dilation_rate=4)])
    theirs.set_weights(ours.get_weights())
    for model in (ours, theirs):
        model.compile(loss="mse", optimizer="sgd")
    np.testing.assert_allclose(ours.predict(x), theirs.predict(x, verbose=0), rtol=1e-5, atol=1e-6)
    ours.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    theirs.fit(x, y, epochs=2, batch_size=8, shuffle=False, verbose=0)
    for a, b in zip(ours.get_weights(), theirs.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_dilation_refusals():
    with pytest.raises(ValueError, match=r"strides > 1 do not go with dilation_rate > 1 .Keras' rule., got strides=.2, 2."):
        Conv2D(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match=r"padding must be one of \['valid', 'same'\], got 'causal'"):
        Conv2D(2, 3, padding="causal")
    with pytest.raises(ValueError, match="dilation_rate must be a positive integer or 2 of them"):
        Conv2D(2, 3, dilation_rate=0)
    from glassnet.layers import Conv1DTranspose
    with pytest.raises(ValueError, match="dilation_rate > 1 is not implemented for transposed convolutions"):
        Conv1DTranspose(2, 3, dilation_rate=2)
    with pytest.raises(ValueError, match="dilation_rate > 1 is not implemented for transposed convolutions"):
        Conv1DTranspose(2, 3, strides=2, dilation_rate=2)
    with pytest.raises(ValueError, match="padding must be one of"):
        Conv1DTranspose(2, 3, padding="causal")
    with pytest.raises(ValueError, match=r"kernel_size \(3,\) dilated by \(2,\) does not fit input samples of shape \(4, 1\)"):
        Conv1D(1, 3, dilation_rate=2)(np.ones((1, 4, 1)))          # a span of 5 in 4 steps
