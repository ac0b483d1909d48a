"""The convolutions' memory bound (layers/conv_memory.py): over ``conv_memory_limit()`` bytes of
im2col patches a call runs over chunks of the batch. Checked: the chunked path equals the unchunked
one (outputs and input gradients per sample, weight gradients to summation order), its gradients
equal float64 central differences, its values PyTorch's and Keras 3.15's, its traced memory peak
stays under the bound (which the unchunked path exceeds), and the setting refuses bad values."""
import tracemalloc

import numpy as np
import pytest

import glassnet as gn
from glassnet import gradcheck
from glassnet.layers import conv_memory
from glassnet.layers.conv_memory import Chunked

L = gn.layers

CASES = {
    "conv2d_strided_same": (L.Conv2D, dict(filters=4, kernel_size=3, strides=2, padding="same"), (5, 9, 9, 3)),
    "conv2d_dilated": (L.Conv2D, dict(filters=4, kernel_size=3, dilation_rate=2, padding="same"), (5, 9, 9, 3)),
    "conv2d_one_channel_nobias": (L.Conv2D, dict(filters=4, kernel_size=(3, 2), use_bias=False), (5, 9, 9, 1)),
    "conv2d_grouped": (L.Conv2D, dict(filters=6, kernel_size=3, groups=3, padding="same"), (5, 8, 8, 6)),
    "conv2d_channels_first": (L.Conv2D, dict(filters=4, kernel_size=3, padding="same",
                                             data_format="channels_first"), (5, 3, 8, 8)),
    "conv1d_causal_dilated": (L.Conv1D, dict(filters=4, kernel_size=3, padding="causal", dilation_rate=2),
                              (5, 12, 3)),
    "conv1d_grouped_strided": (L.Conv1D, dict(filters=4, kernel_size=3, strides=2, groups=2), (5, 11, 4)),
    "conv3d_same": (L.Conv3D, dict(filters=4, kernel_size=2, strides=(1, 2, 2), padding="same"), (5, 4, 6, 6, 2)),
    "conv2d_transpose": (L.Conv2DTranspose, dict(filters=4, kernel_size=3, strides=2, padding="same"),
                         (5, 5, 5, 3)),
    "conv1d_transpose": (L.Conv1DTranspose, dict(filters=4, kernel_size=3, strides=2), (5, 7, 3)),
    "conv3d_transpose": (L.Conv3DTranspose, dict(filters=2, kernel_size=2, strides=2, padding="same"),
                         (5, 3, 3, 3, 2)),
    "conv2d_transpose_channels_first": (L.Conv2DTranspose, dict(filters=3, kernel_size=2, strides=2,
                                                                data_format="channels_first"), (5, 2, 4, 4)),
}


@pytest.fixture
def limit():
    """Sets the bound for one test and puts the default back, whatever the test did."""
    yield conv_memory.set_conv_memory_limit
    conv_memory.set_conv_memory_limit(conv_memory.CONV_MEMORY_LIMIT)


def _pass(layer, x, g):
    """z, dx and copies of the gradients of one forward/backward, and the cache's kind."""
    z = layer.forward(x, training=True).copy()
    dx = layer.backward(g).copy()
    return z, dx, {k: v.copy() for k, v in layer.grads.items()}, type(layer._cache)


@pytest.mark.parametrize("dtype, tol", [("float32", 1e-6), ("float64", 1e-12)])
@pytest.mark.parametrize("name", sorted(CASES))
def test_chunked_equals_unchunked(name, dtype, tol, limit):
    cls, kwargs, shape = CASES[name]
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape).astype(dtype)
    layer = cls(**kwargs, seed=0, dtype=dtype)
    g = rng.standard_normal(layer(x).shape).astype(dtype)
    whole = _pass(layer, x, g)
    limit(64)           # a few samples' patches at most: chunks of one sample
    chunked = _pass(layer, x, g)
    assert whole[3] is tuple and chunked[3] is Chunked      # each path taken where it should be
    # outputs: each sample's own products, to rounding (a product of fewer rows may be blocked
    # otherwise by BLAS: the review measured up to 9e-8 of the largest value in float32)
    np.testing.assert_allclose(chunked[0], whole[0], rtol=0, atol=tol * np.abs(whole[0]).max())
    # input gradients: the same products per sample (a transposed one's dx is a matmul of fewer rows,
    # which BLAS may block otherwise: to rounding)
    np.testing.assert_allclose(chunked[1], whole[1], rtol=0, atol=tol * np.abs(whole[1]).max())
    for key, value in whole[2].items():      # summed over the chunks: another order
        np.testing.assert_allclose(chunked[2][key], value, rtol=0, atol=tol * np.abs(value).max(), err_msg=key)
    assert chunked[2].keys() == whole[2].keys() and chunked[0].dtype == whole[0].dtype == np.dtype(dtype)


@pytest.mark.parametrize("name", ["conv2d_strided_same", "conv2d_grouped", "conv1d_causal_dilated",
                                  "conv3d_same", "conv2d_transpose", "conv2d_transpose_channels_first"])
def test_chunked_gradients_match_finite_differences(name, limit):
    cls, kwargs, shape = CASES[name]
    x = np.random.default_rng(1).standard_normal((3, *shape[1:]))
    layer = cls(**kwargs, seed=0, dtype="float64")
    layer(x)
    limit(1)
    layer.forward(x, training=True)
    assert isinstance(layer._cache, Chunked)
    result = gradcheck.check_layer(layer, x, rtol=1e-6, atol=1e-8)
    assert result["max_error"] < 1e-6


def test_default_limit_keeps_the_old_path_for_small_calls():
    assert gn.config.conv_memory_limit() == conv_memory.CONV_MEMORY_LIMIT == 64 * 2 ** 20
    layer = L.Conv2D(16, 3, seed=0)     # the mnist_cnn benchmark's second convolution, batch 64
    layer(np.ones((64, 13, 13, 8), np.float32), training=True)
    assert type(layer._cache) is tuple


def test_limit_none_never_chunks_and_chunk_sizes(limit):
    limit(None)
    assert gn.config.conv_memory_limit() is None
    assert conv_memory.batch_step(10 ** 6, 10 ** 6) is None
    limit(1000)
    assert conv_memory.batch_step(10, 100) is None          # exactly the limit: whole
    assert conv_memory.batch_step(11, 100) == 10
    assert conv_memory.batch_step(3, 5000) == 1             # one sample larger than the limit: one at a time
    assert [(s.start, s.stop) for s in conv_memory.chunks(7, 3)] == [(0, 3), (3, 6), (6, 7)]


@pytest.mark.parametrize("bad, error", [("64MB", TypeError), (1.5, TypeError), (True, TypeError),
                                        (0, ValueError), (-1, ValueError)])
def test_bad_limits_are_refused_by_name(bad, error, limit):
    with pytest.raises(error, match=r"set_conv_memory_limit: limit: expected a positive integer number of bytes"):
        gn.config.set_conv_memory_limit(bad)
    assert gn.config.conv_memory_limit() == conv_memory.CONV_MEMORY_LIMIT       # unchanged


def _peak(layer, x, g):
    """Traced peak (bytes) of one forward and backward, beyond what was allocated before it."""
    tracemalloc.start()
    try:
        layer.forward(x, training=True)
        layer.backward(g)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("cls, kwargs", [(L.Conv2D, {}), (L.Conv2D, {"groups": 4})])
def test_peak_memory_stays_under_the_bound(cls, kwargs, limit):
    bound = 4 * 2 ** 20
    x = np.random.default_rng(0).standard_normal((16, 32, 32, 32)).astype(np.float32)    # 2 MiB
    layer = cls(32, 3, padding="same", seed=0, **kwargs)
    g = np.ones(layer(x).shape, np.float32)
    patches = 16 * 32 * 32 * (9 * 32 + 1) * 4                        # the whole batch's: 18.9 MB
    assert patches > 4 * bound
    layer.needs_input_gradient = True
    # besides the patches, one pass keeps arrays of about x's size: the padded input, z, the
    # activation's output, dx, a chunk's padded dx; the chunk's patches and their gradients <= 2 bounds
    allowed = 2 * bound + 6 * x.nbytes + 2 ** 20
    limit(bound)
    _peak(layer, x, g)                                # warm: buffers made once
    chunked = _peak(layer, x, g)
    limit(None)
    _peak(layer, x, g)
    whole = _peak(layer, x, g)
    assert chunked < allowed < whole, (chunked, allowed, whole)


def test_a_chunked_cnn_trains_as_the_unchunked_one(limit):
    """Two SGD steps of a small CNN (convolutions, grouped, transposed) in float64: the same losses
    and weights with every call chunked as with none."""
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((8, 10, 10, 2)), rng.integers(0, 3, 8)
    runs = []
    for bound in (None, 256):
        limit(bound)
        model = gn.Sequential([L.Input((10, 10, 2)), L.Conv2D(4, 3, padding="same", activation="relu"),
                               L.Conv2D(4, 3, strides=2, groups=2, activation="tanh"),
                               L.Conv2DTranspose(3, 2, strides=2), L.Flatten(), L.Dense(3, activation="softmax")],
                              seed=0, dtype="float64")
        model.compile(loss="sparse_categorical_crossentropy", optimizer=gn.optimizers.SGD(0.1))
        losses = [model.train_on_batch(x, y) for _ in range(2)]
        runs.append((losses, model.get_weights(), model.predict(x, verbose=0)))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-12)
    for a, b in zip(runs[1][1], runs[0][1]):
        np.testing.assert_allclose(a, b, rtol=1e-11, atol=1e-13)
    np.testing.assert_allclose(runs[1][2], runs[0][2], rtol=1e-11)


def test_chunked_conv_matches_torch(torch, limit):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((6, 9, 9, 4))
    layer = L.Conv2D(6, 3, strides=2, padding="valid", groups=2, seed=0, dtype="float64")
    layer(x)
    limit(1)
    z = layer.forward(x, training=True)
    g = rng.standard_normal(z.shape)
    dx = layer.backward(g)
    xt = torch.tensor(x.transpose(0, 3, 1, 2), requires_grad=True)
    w = torch.tensor(layer.params["kernel"].transpose(3, 2, 0, 1), requires_grad=True)
    zt = torch.nn.functional.conv2d(xt, w, torch.tensor(layer.params["bias"]), stride=2, groups=2)
    zt.backward(torch.tensor(g.transpose(0, 3, 1, 2)))
    np.testing.assert_allclose(z, zt.detach().numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dx, xt.grad.numpy().transpose(0, 2, 3, 1), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(layer.grads["kernel"], w.grad.numpy().transpose(2, 3, 1, 0), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", ["conv2d_strided_same", "conv1d_causal_dilated", "conv3d_same", "conv2d_transpose"])
def test_chunked_outputs_match_keras(name, keras, limit):
    cls, kwargs, shape = CASES[name]
    x = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    layer = cls(**kwargs, seed=0)
    layer(x)
    limit(1)
    z = layer.forward(x)
    assert isinstance(layer._cache, Chunked)
    theirs = getattr(keras.layers, cls.__name__)(**kwargs)
    theirs.build((None, *shape[1:]))
    theirs.set_weights(layer.get_weights())
    np.testing.assert_allclose(z, np.asarray(theirs(x)), rtol=1e-5, atol=1e-5)
