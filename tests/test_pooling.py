"""Pooling layers: finite differences, PyTorch parity (float64, TF "same" padding), ties, errors."""
import json
import os

import numpy as np
import pytest

from glassnet.gradcheck import check_layer
from glassnet.layers import (AveragePooling1D, AveragePooling2D, GlobalAveragePooling1D, GlobalAveragePooling2D,
                             GlobalMaxPooling1D, GlobalMaxPooling2D, MaxPooling1D, MaxPooling2D)

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


def tf_same_pads(size, k, s):
    out = -(-size // s)
    total = max((out - 1) * s + k - size, 0)
    return total // 2, total - total // 2


def distinct(rng, shape):
    """Values at least 1e-3 apart (a shuffled grid plus small noise): no ties, so max pooling is
    differentiable at the point and finite differences (eps 1e-6) never swap a winner."""
    n = int(np.prod(shape))
    return (rng.permutation(n) * 1e-2 + rng.uniform(-1e-3, 1e-3, n)).reshape(shape) - n * 5e-3


# (input sample shape, pool_size, strides, padding): odd sizes, overlap, both paddings
CASES_2D = [((6, 6, 2), 2, None, "valid"), ((7, 5, 3), 2, None, "valid"), ((7, 5, 3), 2, None, "same"),
            ((7, 7, 2), 3, 2, "valid"), ((7, 7, 2), 3, 2, "same"), ((6, 5, 1), (2, 3), (1, 2), "same"),
            ((5, 6, 2), (3, 2), 1, "valid")]
CASES_1D = [((9, 2), 2, None, "valid"), ((9, 2), 3, 2, "same"), ((8, 3), 4, 3, "same")]


@pytest.mark.parametrize("cls", [MaxPooling2D, AveragePooling2D])
@pytest.mark.parametrize("case", CASES_2D)
def test_pool2d_gradcheck(cls, case, rng):
    shape, p, s, padding = case
    check_layer(cls(p, s, padding, dtype="float64"), distinct(rng, (2, *shape)))


@pytest.mark.parametrize("cls", [MaxPooling1D, AveragePooling1D])
@pytest.mark.parametrize("case", CASES_1D)
def test_pool1d_gradcheck(cls, case, rng):
    shape, p, s, padding = case
    check_layer(cls(p, s, padding, dtype="float64"), distinct(rng, (2, *shape)))


def test_global_average_gradcheck(rng):
    check_layer(GlobalAveragePooling2D(dtype="float64"), rng.standard_normal((2, 3, 5, 4)))


def torch_pool(torch, kind, x, pool, strides, padding, upstream):
    """PyTorch's pooling on the same data, channels-first, "same" padded explicitly like TF:
    with -inf for max (padding never wins); for average, the sum over zero padding divided by the
    number of real pixels (TF excludes the padding from the count)."""
    F = torch.nn.functional
    rank = x.ndim - 2
    xt = torch.tensor(np.moveaxis(x, -1, 1), requires_grad=True)
    pads = []
    if padding == "same":
        for axis in reversed(range(rank)):
            pads += tf_same_pads(x.shape[1 + axis], pool[axis], strides[axis])
    if kind == "max":
        fn = F.max_pool2d if rank == 2 else F.max_pool1d
        out = fn(F.pad(xt, pads, value=-np.inf) if pads else xt, pool, strides)
    else:
        fn = F.avg_pool2d if rank == 2 else F.avg_pool1d
        ones = torch.ones((1, 1, *x.shape[1:-1]))
        count = fn(F.pad(ones, pads) if pads else ones, pool, strides)
        out = fn(F.pad(xt, pads) if pads else xt, pool, strides) / count
    out.backward(torch.tensor(np.moveaxis(upstream, -1, 1)))
    return np.moveaxis(out.detach().numpy(), 1, -1), np.moveaxis(xt.grad.numpy(), 1, -1)


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", [(c, 2) for c in CASES_2D] + [(c, 1) for c in CASES_1D])
def test_pool_matches_torch(kind, case, rng, torch):
    (shape, p, s, padding), rank = case
    cls = {("max", 2): MaxPooling2D, ("avg", 2): AveragePooling2D, ("max", 1): MaxPooling1D,
           ("avg", 1): AveragePooling1D}[kind, rank]
    layer = cls(p, s, padding, dtype="float64")
    x = rng.standard_normal((3, *shape))
    x[0] = np.round(x[0])            # ties in the first sample: the winner must match PyTorch's
    out = layer.forward(x)
    upstream = rng.standard_normal(out.shape)
    dx = layer.backward(upstream)
    ref_out, ref_dx = torch_pool(torch, kind, x, layer.pool_size, layer.strides, padding, upstream)
    assert out.shape == ref_out.shape
    np.testing.assert_allclose(out, ref_out, rtol=0, atol=1e-10)
    np.testing.assert_allclose(dx, ref_dx, rtol=0, atol=1e-10)


def test_max_pool_ties_route_to_first_winner_only():
    layer = MaxPooling2D(2, dtype="float64")
    x = np.ones((1, 2, 2, 1))
    layer.forward(x)
    dx = layer.backward(np.full((1, 1, 1, 1), 5.0))
    np.testing.assert_array_equal(dx[0, :, :, 0], [[5.0, 0.0], [0.0, 0.0]])


@pytest.mark.parametrize("kind", ["max", "avg"])
@pytest.mark.parametrize("case", CASES_2D)
def test_pool_gradient_buffer_never_leaks_uninitialised_memory(kind, case, rng, monkeypatch):
    """The backward allocates without zero-filling where windows tile the input; poison every
    fresh buffer with NaN to prove that each pixel is written or zeroed (fresh memory is often zero
    by luck, which would hide a missed pixel)."""
    from glassnet.layers import pooling
    forward_fn, backward_fn = {"max": (pooling.max_pool_forward, pooling.max_pool_backward),
                               "avg": (pooling.avg_pool_forward, pooling.avg_pool_backward)}[kind]
    shape, p, s, padding = case
    x = distinct(rng, (2, *shape))
    layer = MaxPooling2D(p, s, padding)
    grad = rng.standard_normal((2, *layer.output_shape(shape)))
    _, cache = forward_fn(x, layer.pool_size, layer.strides, padding)
    expected = backward_fn(grad, cache)

    def poisoned_empty(shape, dtype):
        return np.full(shape, np.nan, dtype=dtype)
    shim = type("Shim", (), {"empty": staticmethod(poisoned_empty), "zeros": staticmethod(np.zeros)})
    monkeypatch.setattr(pooling.backend, "get_array_module", lambda _: shim)
    dx = backward_fn(grad, cache)
    assert np.isfinite(dx).all()
    np.testing.assert_array_equal(dx, expected)
    assert dx.sum() == pytest.approx(grad.sum())     # every window routes its gradient somewhere


def test_average_same_excludes_padding_by_hand():
    x = np.arange(1.0, 10.0).reshape(1, 3, 3, 1)
    out = AveragePooling2D(2, padding="same", dtype="float64").forward(x)
    # windows [1,2,4,5], [3,6], [7,8], [9]: padding is not counted (TensorFlow)
    np.testing.assert_allclose(out[0, :, :, 0], [[3.0, 4.5], [7.5, 9.0]])


def test_global_average_values_and_shape(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    layer = GlobalAveragePooling2D()
    np.testing.assert_allclose(layer(x), x.mean(axis=(1, 2)).astype(np.float32), rtol=1e-6)
    assert layer.output_shape((3, 4, 5)) == (5,)


def test_output_shapes_keras_values():
    assert MaxPooling2D().output_shape((26, 26, 8)) == (13, 13, 8)
    assert MaxPooling2D().output_shape((27, 27, 8)) == (13, 13, 8)
    assert MaxPooling2D(padding="same").output_shape((27, 27, 8)) == (14, 14, 8)
    assert MaxPooling2D(3, strides=2).output_shape((7, 7, 1)) == (3, 3, 1)
    assert MaxPooling1D(3, strides=2).output_shape((10, 4)) == (4, 4)
    assert MaxPooling2D(2)(np.ones((2, 11, 11, 16))).shape == (2, 5, 5, 16)
    assert MaxPooling1D(2)(np.ones((2, 11, 4))).shape == (2, 5, 4)


def test_float32_stays_float32(rng):
    for layer in (MaxPooling2D(), AveragePooling2D(padding="same"), GlobalAveragePooling2D()):
        y = layer(rng.standard_normal((2, 5, 5, 3)).astype(np.float32))
        assert y.dtype == layer.backward(np.ones_like(y)).dtype == np.float32


def test_errors():
    with pytest.raises(ValueError, match=r"MaxPooling2D.*\(batch, height, width, channels\).*\(batch, 4\)"):
        MaxPooling2D()(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"pool_size \(3, 3\) does not fit.*\(2, 2, 1\)"):
        MaxPooling2D(3)(np.ones((1, 2, 2, 1)))
    with pytest.raises(ValueError, match=r"layer p \(AveragePooling2D\).*does not fit"):
        AveragePooling2D(3, name="p").forward(np.ones((1, 2, 2, 1)))
    with pytest.raises(ValueError, match=r"MaxPooling1D.*\(batch, length, channels\)"):
        MaxPooling1D()(np.ones((1, 4, 4, 1)))
    with pytest.raises(ValueError, match=r"GlobalAveragePooling2D.*\(batch, 7\)"):
        GlobalAveragePooling2D()(np.ones((1, 7)))
    with pytest.raises(ValueError, match="padding"):
        MaxPooling2D(padding="causal")
    with pytest.raises(ValueError, match="pool_size"):
        AveragePooling2D(0)
    with pytest.raises(ValueError, match=r"MaxPooling2D: pool_size must be a positive integer or 2 of them, got 2\.0"):
        MaxPooling2D(2.0)
    with pytest.raises(ValueError, match=r"MaxPooling1D: pool_size must be .* got None"):
        MaxPooling1D(pool_size=None)


def test_config_round_trip():
    for layer in (MaxPooling2D((2, 3), strides=1, padding="same", name="m"), AveragePooling2D(),
                  MaxPooling1D(3), AveragePooling1D(2, 1), GlobalAveragePooling2D()):
        config = json.loads(json.dumps(layer.get_config()))
        assert type(layer).from_config(config).get_config() == config
    assert MaxPooling2D().get_config()["strides"] == [2, 2]      # Keras: strides default to pool_size


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_max_pool_of_a_channel_strided_view_equals_that_of_its_copy(rng, dtype):
    """Windows are copied as whole pixels when the channel axis is contiguous (the usual case) and
    value by value when it is not (here every other channel of a wider map): same results."""
    from glassnet.layers import pooling
    wide = distinct(rng, (2, 7, 6, 6)).astype(dtype)
    strided = wide[..., ::2]
    assert strided.strides[-1] != strided.itemsize
    grad = rng.standard_normal((2, 3, 3, 3)).astype(dtype)
    out_view, cache_view = pooling.max_pool_forward(strided, (2, 2), (2, 2))
    out_copy, cache_copy = pooling.max_pool_forward(strided.copy(), (2, 2), (2, 2))
    np.testing.assert_array_equal(out_view, out_copy)
    np.testing.assert_array_equal(pooling.max_pool_backward(grad, cache_view),
                                  pooling.max_pool_backward(grad, cache_copy))
    # and by hand on one window: the maximum of x[0, 0:2, 0:2, 1]
    assert out_copy[0, 0, 0, 1] == strided[0, :2, :2, 1].max()


GLOBAL = [(GlobalAveragePooling2D, (2, 3, 5, 4)), (GlobalMaxPooling2D, (2, 3, 5, 4)),
          (GlobalAveragePooling1D, (2, 6, 3)), (GlobalMaxPooling1D, (2, 6, 3))]


@pytest.mark.parametrize("cls, shape", GLOBAL)
def test_global_pooling_gradcheck_and_torch(cls, shape, rng, torch):
    x = distinct(rng, shape)
    report = check_layer(cls(dtype="float64"), x)
    assert report["max_error"] < 1e-6
    layer = cls(dtype="float64")
    out = layer(x)
    upstream = rng.standard_normal(out.shape)
    dx = layer.backward(upstream)
    F, rank = torch.nn.functional, x.ndim - 2
    xt = torch.tensor(np.moveaxis(x, -1, 1), requires_grad=True)          # channels first
    if "Max" in cls.__name__:
        pooled = (F.adaptive_max_pool2d if rank == 2 else F.adaptive_max_pool1d)(xt, 1)
    else:
        pooled = (F.adaptive_avg_pool2d if rank == 2 else F.adaptive_avg_pool1d)(xt, 1)
    pooled = pooled.reshape(x.shape[0], x.shape[-1])
    pooled.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out, pooled.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(dx, np.moveaxis(xt.grad.numpy(), 1, -1), rtol=1e-12, atol=1e-15)
    assert layer.output_shape(shape[1:]) == (shape[-1],)


def test_global_max_gives_a_tie_to_the_first_maximum():
    x = np.array([[[1.0, 5.0], [3.0, 5.0], [3.0, 2.0]]])         # (1, 3 steps, 2 channels)
    layer = GlobalMaxPooling1D(dtype="float64")
    np.testing.assert_array_equal(layer(x), [[3.0, 5.0]])
    np.testing.assert_array_equal(layer.backward(np.array([[10.0, 20.0]])), [[[0, 20], [10, 0], [0, 0]]])


def test_global_pooling_refuses_the_wrong_rank():
    with pytest.raises(ValueError, match=r"GlobalMaxPooling1D.*\(batch, length, channels\), got shape \(batch, 3, 4, 2\)"):
        GlobalMaxPooling1D()(np.ones((1, 3, 4, 2)))
    with pytest.raises(ValueError, match=r"GlobalMaxPooling2D.*\(batch, height, width, channels\)"):
        GlobalMaxPooling2D()(np.ones((1, 3, 4)))


@pytest.mark.parametrize("name", ["GlobalAveragePooling2D", "GlobalMaxPooling2D", "GlobalAveragePooling1D",
                                  "GlobalMaxPooling1D"])
def test_keepdims_keeps_the_pooled_axes_as_keras(name, rng):
    import glassnet as gn
    shape = (2, 5, 4, 3) if name.endswith("2D") else (2, 6, 3)
    x = rng.standard_normal(shape).astype(np.float32)
    layer = getattr(gn.layers, name)(keepdims=True)
    out = layer(x)
    flat = getattr(gn.layers, name)()(x)
    assert out.shape == (2, *(1,) * (len(shape) - 2), 3) == (2, *layer.output_shape(shape[1:]))
    np.testing.assert_array_equal(out.reshape(2, 3), flat)
    grad = rng.standard_normal(out.shape).astype(np.float32)
    reference = getattr(gn.layers, name)()
    reference(x)
    np.testing.assert_array_equal(layer.backward(grad), reference.backward(grad.reshape(2, 3)))
    assert type(layer).from_config(layer.get_config()).keepdims is True
    keras = pytest.importorskip("keras", reason="Keras oracle not installed")
    np.testing.assert_allclose(out, np.asarray(getattr(keras.layers, name)(keepdims=True)(x)), rtol=1e-6)
