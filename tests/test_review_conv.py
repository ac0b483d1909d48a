"""Review of the convolution, pooling and spatial layers: the bugs found, each pinned by a test
(compared with Keras 3.15 where it has the layer)."""
import os

import numpy as np
import pytest

from glassnet.layers import (Flatten, GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalAveragePooling3D,
                             GlobalMaxPooling1D, GlobalMaxPooling2D, GlobalMaxPooling3D, Reshape, Resizing,
                             UpSampling2D)


def _keras():
    os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return pytest.importorskip("keras", reason="Keras oracle not installed")


EMPTY_BATCH = [
    (lambda: GlobalMaxPooling1D(), (0, 9, 2), (0, 2)),
    (lambda: GlobalMaxPooling2D(), (0, 7, 9, 2), (0, 2)),
    (lambda: GlobalMaxPooling3D(keepdims=True), (0, 3, 4, 5, 2), (0, 1, 1, 1, 2)),
    (lambda: GlobalAveragePooling2D(keepdims=True), (0, 7, 9, 2), (0, 1, 1, 2)),
    (lambda: GlobalAveragePooling3D(), (0, 3, 4, 5, 2), (0, 2)),
    (lambda: UpSampling2D((2, 3), interpolation="bilinear"), (0, 7, 9, 2), (0, 14, 27, 2)),
    (lambda: Resizing(5, 4), (0, 7, 9, 2), (0, 5, 4, 2)),
    (lambda: Flatten(), (0, 7, 9, 2), (0, 126)),
    (lambda: Reshape((-1, 2)), (0, 7, 9, 2), (0, 63, 2)),
]


@pytest.mark.parametrize("make, shape, out", EMPTY_BATCH)
def test_an_empty_batch_passes_forward_and_backward(make, shape, out):
    # NumPy cannot infer a -1 axis of an array of no values: each of these reshaped with one and
    # raised "cannot reshape array of size 0" (Keras returns the empty batch; the convolutions,
    # windowed poolings, padding and cropping here already did)
    layer = make()
    y = layer(np.ones(shape, np.float32))
    assert y.shape == out and y.dtype == np.float32
    layer.needs_input_gradient = True
    if isinstance(layer, Resizing):
        return
    dx = layer.backward(np.ones(out, np.float32))
    assert dx.shape == shape


def test_empty_batch_matches_keras():
    keras = _keras()
    x = np.ones((0, 7, 9, 2), np.float32)
    # (Keras' GlobalMaxPooling2D refuses an empty batch itself: TensorFlow's max of an empty tensor)
    for ours, theirs in [(GlobalAveragePooling2D(keepdims=True), keras.layers.GlobalAveragePooling2D(keepdims=True)),
                         (Flatten(), keras.layers.Flatten()), (Reshape((-1, 2)), keras.layers.Reshape((-1, 2)))]:
        assert ours(x).shape == tuple(np.asarray(theirs(x)).shape)


@pytest.mark.parametrize("layer", [GlobalMaxPooling2D(), GlobalAveragePooling2D(), GlobalMaxPooling1D(),
                                   GlobalAveragePooling1D()], ids=lambda layer: type(layer).__name__)
def test_global_pooling_refuses_no_pixels_by_name(layer):
    # a max over no pixels raised NumPy's "attempt to get argmax of an empty sequence"; a mean over
    # none gave NaN with a RuntimeWarning; the adaptive poolings already refuse this by name
    shape = (2, 0, 3) if layer.rank == 1 else (2, 0, 9, 3)
    with pytest.raises(ValueError, match=r"GlobalM?a?x?A?v?e?r?a?g?e?Pooling[12]D.*at least one pixel.*\(2, 0"):
        layer(np.ones(shape, np.float32))
    if layer.rank == 1 and isinstance(layer, GlobalAveragePooling1D):
        with pytest.raises(ValueError, match="at least one pixel"):
            layer(np.ones(shape, np.float32), mask=np.ones((2, 0), bool))


@pytest.mark.parametrize("rank, pool, strides, shape", [
    (1, 3, 1, (2, 4, 3)),
    (2, (3, 4), (1, 2), (2, 5, 7, 3)),
    (2, 4, 4, (1, 5, 6, 2)),          # strides == pool: the tiling path (CuPy's too)
    (3, 3, 2, (1, 4, 5, 3, 2)),
])
def test_max_pooling_never_gives_a_gradient_to_padding(rank, pool, strides, shape):
    # a window of -inf tied with the -inf "same" padding, and the tie rule (first offset) gave it
    # to a padded pixel when the window started in the top/left padding: that gradient was lost.
    # PyTorch starts each window at its first pixel inside the input; the module's docstring says
    # padded pixels never win a max
    torch = pytest.importorskip("torch")
    from glassnet.layers import MaxPooling1D, MaxPooling2D, MaxPooling3D
    from glassnet.layers.conv import conv_output_length
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(np.float32)
    x[rng.random(shape) < 0.7] = -np.inf
    x[0] = -np.inf                                  # a whole sample of -inf
    layer = {1: MaxPooling1D, 2: MaxPooling2D, 3: MaxPooling3D}[rank](pool, strides=strides, padding="same")
    y = layer(x)
    g = rng.normal(size=y.shape).astype(np.float32)
    layer.needs_input_gradient = True
    dx = layer.backward(g)
    pools = (pool,) * rank if isinstance(pool, int) else pool
    steps = (strides,) * rank if isinstance(strides, int) else strides
    pads = [conv_output_length(n, p, s, "same")[1] for n, p, s in zip(shape[1:-1], pools, steps)]
    xt = torch.tensor(np.moveaxis(x, -1, 1), requires_grad=True)
    padded = torch.nn.functional.pad(xt, [v for pair in reversed(pads) for v in pair], value=-np.inf)
    yt = getattr(torch.nn.functional, f"max_pool{rank}d")(padded, pools, steps)
    np.testing.assert_array_equal(y, np.moveaxis(yt.detach().numpy(), 1, -1))
    # the reference gradient: every window's gradient to its first maximum among the pixels inside
    ref = np.zeros_like(x)
    xp = np.pad(x, [(0, 0), *pads, (0, 0)], constant_values=np.nan)      # NaN: outside
    for index in np.ndindex(*y.shape[:-1]):
        n, *out = index
        box = tuple(slice(o * s, o * s + p) for o, s, p in zip(out, steps, pools))
        window = xp[(n, *box)]                                           # (*pool, C)
        for c in range(x.shape[-1]):
            values = window[..., c]
            flat = np.where(np.isnan(values), -np.inf, values).ravel()
            candidates = np.flatnonzero((flat == flat.max()) & ~np.isnan(values.ravel()))
            k = np.unravel_index(candidates[0], values.shape)
            at = tuple(o * s + i - before for o, s, i, (before, _) in zip(out, steps, k, pads))
            ref[(n, *at, c)] += g[(*index, c)]
    np.testing.assert_allclose(dx, ref, rtol=1e-6)


def test_max_pooling_all_minus_inf_gradient_matches_torch():
    # PyTorch's own (symmetric, implicit) padding: each window's search starts inside the input
    torch = pytest.importorskip("torch")
    from glassnet.layers import MaxPooling1D
    x = np.full((1, 4, 1), -np.inf, np.float32)
    layer = MaxPooling1D(3, strides=1, padding="same")     # pads (1, 1), as torch's padding=1
    y = layer(x)
    layer.needs_input_gradient = True
    dx = layer.backward(np.ones_like(y))
    xt = torch.tensor(x.transpose(0, 2, 1), requires_grad=True)
    torch.nn.functional.max_pool1d(xt, 3, 1, padding=1).sum().backward()
    np.testing.assert_array_equal(dx[:, :, 0], xt.grad.numpy()[:, 0])       # [2, 1, 1, 0]
